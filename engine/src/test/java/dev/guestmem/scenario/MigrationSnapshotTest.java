package dev.guestmem.scenario;

import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.snapshot.DirtyPages;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotFormat;
import dev.guestmem.snapshot.SnapshotRestorer;
import dev.guestmem.snapshot.SnapshotWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** Program 3: global dirty logging while the toy CPU runs, a full snapshot, two increments, restore. */
class MigrationSnapshotTest {
    static final long ENTRY = ToyMachineTest.ENTRY;
    static final long WRITER = ENTRY + 0x100;

    /** Writer: r1 = base, r2 = pages, r3 = seed; stores seed+k at base + k*4096 + 0x10. */
    static final int[] WRITER_CODE = {
        ToyCpu.li(5, 0x1000),
        ToyCpu.stw(3, 1, 0x10),
        ToyCpu.addi(3, 1),
        ToyCpu.add(1, 5),
        ToyCpu.addi(2, -1),
        ToyCpu.bnz(2, -4),
        ToyCpu.halt(),
    };

    static void runWriter(ToyCpu cpu, long base, int pages, int seed) {
        cpu.pc = WRITER;
        cpu.r[1] = (int) base;
        cpu.r[2] = pages;
        cpu.r[3] = seed;
        cpu.halted = false;
        cpu.run(1_000_000);
        assertTrue(cpu.halted);
    }

    static ToyMachine newMachine() {
        ToyMachine m = new ToyMachine(true);
        m.installBootRom("boot\n", ENTRY);
        m.loadRam(new int[] {ToyCpu.halt()}, ENTRY);
        m.loadRam(WRITER_CODE, WRITER);
        return m;
    }

    static List<Long> pagesOf(DirtyBitmapSnapshot s, long base) {
        List<Long> l = new ArrayList<>();
        s.forEachDirtyPage(a -> l.add((a - base) >>> 12));
        return l;
    }

    @Test
    void fullPlusTwoIncrementsRestoreIntoFreshMachine(@TempDir Path dir) {
        ToyMachine m = newMachine();
        ToyCpu cpu = new ToyCpu(m.sys, m.as);
        cpu.run(100_000);
        assertEquals("boot\n", m.uartOut.toString());
        runWriter(cpu, 0x20_0000, 16, 100);                 // round A: before migration starts

        RamBlock ram = m.ram.ramBlock();
        RamBlock rom = m.rom.ramBlock();
        List<SnapshotBlock> blocks = List.of(SnapshotBlock.of(ram), SnapshotBlock.of(rom));
        DirtyMemory dirty = m.sys.dirtyMemory();

        m.sys.globalDirtyLogStart();
        dirty.snapshotAndClearDirty(ram.offset(), ram.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        dirty.snapshotAndClearDirty(rom.offset(), rom.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        long fullId = SnapshotWriter.write(dir.resolve("full.gms"), blocks, ProgressListener.NONE);

        // round B: 16 pages, half of them over round A's
        runWriter(cpu, 0x20_8000, 16, 1000);
        DirtyBitmapSnapshot b = dirty.snapshotAndClearDirty(ram.offset(), ram.usedLength(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION);
        List<Long> expectB = new ArrayList<>();
        for (long p = 0x208; p < 0x218; p++) {
            expectB.add(p);
        }
        assertEquals(expectB, pagesOf(b, ram.offset()), "the soft TLB's logged stores were all seen");
        DirtyBitmapSnapshot romB = dirty.snapshotAndClearDirty(rom.offset(), rom.usedLength(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION);
        assertEquals(0, romB.dirtyPageCount());
        long inc1 = SnapshotWriter.writeIncremental(dir.resolve("inc1.gms"), fullId, blocks,
                Map.of("ram", DirtyPages.ofDirtyLog(b, ram.offset(), 4096, ram.usedLength() / 4096)),
                ProgressListener.NONE);

        // round C: the CPU far up in RAM, and a write behind the address spaces (another process)
        runWriter(cpu, 0x300_0000, 4, 5000);
        ram.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x7000, 0x77777777);
        ram.markWritten(0x7000, 4);
        DirtyBitmapSnapshot c = dirty.snapshotAndClearDirty(ram.offset(), ram.usedLength(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION);
        assertEquals(List.of(0x7L, 0x3000L, 0x3001L, 0x3002L, 0x3003L), pagesOf(c, ram.offset()));
        long inc2 = SnapshotWriter.writeIncremental(dir.resolve("inc2.gms"), inc1, blocks,
                Map.of("ram", DirtyPages.ofDirtyLog(c, ram.offset(), 4096, ram.usedLength() / 4096)),
                ProgressListener.NONE);
        m.sys.globalDirtyLogStop();

        ToyMachine fresh = newMachine();
        try (SnapshotFile f = SnapshotFile.open(dir.resolve("full.gms"));
             SnapshotFile i1 = SnapshotFile.open(dir.resolve("inc1.gms"));
             SnapshotFile i2 = SnapshotFile.open(dir.resolve("inc2.gms"))) {
            assertEquals(fullId, i1.baseId());
            assertEquals(inc1, i2.baseId());
            assertEquals(inc2, i2.id());
            SnapshotFile.BlockInfo ri = i1.block("ram");
            assertEquals(16, ri.storedPages());
            assertEquals(SnapshotFormat.ABSENT, i1.location(ri.index(), 0x207));
            SnapshotRestorer.restore(new SnapshotChain(List.of(f, i1, i2)),
                    List.of(SnapshotBlock.of(fresh.ram.ramBlock()), SnapshotBlock.of(fresh.rom.ramBlock())),
                    true, ProgressListener.NONE);
        }
        assertEquals(-1, ram.segment().mismatch(fresh.ram.ramBlock().segment()));
        assertEquals(-1, rom.segment().mismatch(fresh.rom.ramBlock().segment()));
        assertEquals(1000 + 15, fresh.as.ldlLe(0x21_7010));
        assertEquals(100 + 7, fresh.as.ldlLe(0x20_7010));
        assertEquals(0x77777777, fresh.ram.ramBlock().ldlHe(0x7000));   // under the ROM alias: read the block
        // the restored machine runs: same writer, same results
        ToyCpu cpu2 = new ToyCpu(fresh.sys, fresh.as);
        runWriter(cpu2, 0x100_0000, 1, 9);
        assertEquals(9, fresh.as.ldlLe(0x100_0010));
    }

    @Test
    void storesBetweenLogStartAndTlbFlushAreNotLost() {
        // architecture.md "LdSt" row: a store through a window published before globalDirtyLogStart
        // is not logged. Our TLB flushes on the generation (globalDirtyLogStart re-renders), so the
        // CPU's stores after the start are all logged.
        ToyMachine m = new ToyMachine(false);
        ToyCpu cpu = new ToyCpu(m.sys, m.as);
        cpu.enterBlock();
        cpu.stl(0x1_0000, 1);            // fills the TLB (no logging yet: direct window)
        cpu.stl(0x1_0000, 2);
        m.sys.globalDirtyLogStart();
        DirtyMemory dirty = m.sys.dirtyMemory();
        long base = m.ram.ramBlock().offset();
        dirty.snapshotAndClearDirty(base, m.ram.size(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        cpu.enterBlock();                // generation moved: flush
        cpu.stl(0x1_0000, 3);
        cpu.stl(0x1_0000, 4);
        DirtyBitmapSnapshot s = dirty.snapshotAndClearDirty(base, m.ram.size(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        assertEquals(List.of(0x10L), pagesOf(s, base));
        m.sys.globalDirtyLogStop();
    }
}
