package dev.guestmem.scenario;

import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotRestorer;
import dev.guestmem.snapshot.SnapshotWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Every way a page with translations can be written must reach the CodeInvalidator. */
class CodeInvalidationProbesTest {
    static final long PAGE = 0x20_0000L;

    static final class Rig {
        final ToyMachine m = new ToyMachine(true);
        final DirtyMemory dirty = m.sys.dirtyMemory();
        final List<Long> hits = new ArrayList<>();
        final long ramAddr = m.ram.ramBlock().offset() + PAGE;

        Rig() {
            dirty.setCodeInvalidator((a, len) -> {
                hits.add(a);
                dirty.setDirtyRange(a & ~0xfffL, 4096, DirtyMemory.MASK_CODE);
            });
            dirty.resetDirty(ramAddr, 4096, DirtyMemory.DIRTY_MEMORY_CODE);   // translated
        }
    }

    @Test
    void dmaMapUnmapInvalidatesCode() {
        Rig r = new Rig();
        DmaMapping dm = r.m.as.map(PAGE, 64, true, MemTxAttrs.UNSPECIFIED);
        dm.segment().set(ValueLayout.JAVA_INT_UNALIGNED, 8, 1);
        dm.unmap(64);
        assertEquals(List.of(r.ramAddr), r.hits);
    }

    @Test
    void bufferWriteInvalidatesCode() {
        Rig r = new Rig();
        r.m.as.write(PAGE + 16, MemTxAttrs.UNSPECIFIED, new byte[] {1, 2, 3}, 0, 3);
        assertEquals(List.of(r.ramAddr + 16), r.hits);
    }

    @Test
    void regionCacheInvalidateInvalidatesCode() {
        Rig r = new Rig();
        MemoryRegionCache c = new MemoryRegionCache();
        c.init(r.m.as, PAGE, 256, true);
        c.stlLe(0x40, 7);
        assertEquals(List.of(), r.hits, "the cached fast path does not log (as QEMU)");
        c.invalidate(0x40, 4);
        assertEquals(List.of(r.ramAddr + 0x40), r.hits);
        c.destroy();
    }

    @Test
    void eagerRestoreInvalidatesCode(@TempDir Path dir) {
        Rig r = new Rig();
        ToyMachine src = new ToyMachine(false);
        src.as.stlLe(PAGE, 0x99);
        SnapshotWriter.write(dir.resolve("s.gms"), List.of(SnapshotBlock.of(src.ram.ramBlock())), ProgressListener.NONE);
        try (SnapshotFile f = SnapshotFile.open(dir.resolve("s.gms"))) {
            SnapshotRestorer.restore(SnapshotChain.of(f), List.of(SnapshotBlock.of(r.m.ram.ramBlock())), false,
                    ProgressListener.NONE);
        }
        assertEquals(0x99, r.m.as.ldlLe(PAGE));
        assertFalse(r.hits.isEmpty(), "restore over translated code drops the translations");
    }
}
