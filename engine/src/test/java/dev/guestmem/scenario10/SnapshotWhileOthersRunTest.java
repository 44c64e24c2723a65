package dev.guestmem.scenario10;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotRestorer;
import dev.guestmem.snapshot.SnapshotWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One machine saves and restores its RAM (blocks of the same name as every other machine's) while
 * the others run: the restore's "written behind the engine" marking and its data stay in the
 * restored machine.
 */
class SnapshotWhileOthersRunTest {
    private static final int OTHERS = 4;
    private static final int ROUNDS = Integer.getInteger("guestmem.scenario10.iterations", 200) / 20 + 1;

    @Test
    void restoringOneMachineTouchesNoOther(@TempDir Path dir) throws Exception {
        Object owner = new Object();
        Machine saved = new Machine(owner);
        List<Machine> others = new ArrayList<>();
        for (int i = 0; i < OTHERS; i++) {
            Machine m = new Machine(owner);
            m.sys.dirtyMemory().resetDirty(m.ram.ramBlock().offset(), Machine.RAM_SIZE,
                    DirtyMemory.DIRTY_MEMORY_MIGRATION);
            m.sys.dirtyMemory().resetDirty(m.ram.ramBlock().offset(), Machine.RAM_SIZE,
                    DirtyMemory.DIRTY_MEMORY_VGA);
            m.ram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
            others.add(m);
        }
        Queue<String> failures = new ConcurrentLinkedQueue<>();
        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < OTHERS; i++) {
            Machine m = others.get(i);
            int id = i;
            threads.add(Thread.ofPlatform().name("other-" + i).start(() -> {
                // Writes page 0 only, and reads back pages the restore would fill if it leaked.
                for (int n = 0; !stop.get(); n++) {
                    m.as.stlLe(0, n);
                    if (m.as.ldlLe(0x5000) != 0) {
                        failures.add("machine " + id + " sees the restored data");
                        return;
                    }
                }
            }));
        }
        try {
            for (int round = 0; round < ROUNDS; round++) {
                saved.as.stlLe(0x5000, 0xabc0 + round);
                Path file = dir.resolve("ram-" + round + ".gms");
                SnapshotWriter.write(file, List.of(SnapshotBlock.of(saved.ram.ramBlock())), ProgressListener.NONE);
                saved.as.stlLe(0x5000, 0);
                try (SnapshotFile f = SnapshotFile.open(file)) {
                    SnapshotRestorer.restore(SnapshotChain.of(f), List.of(SnapshotBlock.of(saved.ram.ramBlock())),
                            true, ProgressListener.NONE);
                }
                assertEquals(0xabc0 + round, saved.as.ldlLe(0x5000));
            }
        } finally {
            stop.set(true);
            for (Thread t : threads) {
                t.join();
            }
        }
        assertEquals(List.of(), List.copyOf(failures));
        for (int i = 0; i < OTHERS; i++) {
            Machine m = others.get(i);
            long base = m.ram.ramBlock().offset();
            assertFalse(m.sys.dirtyMemory().getDirty(base + 0x1000, Machine.RAM_SIZE - 0x1000,
                    DirtyMemory.DIRTY_MEMORY_VGA), "machine " + i + " got the restore's dirty marks");
            assertTrue(m.sys.dirtyMemory().getDirty(base, 4, DirtyMemory.DIRTY_MEMORY_VGA), "its own write");
            assertEquals(0, m.listener.foreign.size());
        }
    }
}
