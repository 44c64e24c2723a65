package dev.guestmem.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import dev.guestmem.uffd.LazyRestore;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshot semantics from an audit, kept as permanent checks: every prefix of an incremental chain
 * fed by the MIGRATION log restores byte for byte, and a lazy restore with guest writes racing the
 * page server equals an eager restore with the same writes after it.
 */
class SnapshotSemanticsTest {
    private static final long PAGE = 4096;
    private static final long MIB = 1L << 20;

    // ------------------------------------------------------------------------------------------
    // HELD (model-based): random guest writes through an address space, including pages zeroed
    // again, two blocks, increments fed by the MIGRATION dirty log; restoring every prefix of the
    // chain (full + first k increments) eagerly gives exactly the memory at point k, and the TLB
    // stops writing directly once the log is on.
    // ------------------------------------------------------------------------------------------
    @Test
    void everyPrefixOfADirtyLogChainRestoresThatPointByteForByte(@TempDir Path dir) {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion.allocate(sys, null, "pad", 3 * PAGE);
        RamRegion a = RamRegion.allocate(sys, null, "a", 200 * PAGE);
        RamRegion b = RamRegion.allocate(sys, null, "b:/weird name ü", 70 * PAGE);
        root.addSubregion(0x100000, a);
        root.addSubregion(0x800000, b);
        AddressSpace as = sys.addressSpace(root, "memory");
        RamBlock ba = a.ramBlock();
        RamBlock bb = b.ramBlock();
        Random rnd = new Random(42);
        for (long o = 0; o < 200 * PAGE; o += 4096 * 3) {
            as.stqLe(0x100000 + o, rnd.nextLong());
        }
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, 0x100000, e);
        assertTrue(e.writeDirect(), "plain RAM is written directly before the log starts");
        sys.globalDirtyLogStart();
        assertTrue(e.generation() != as.generation() || !e.writeDirect(),
                "after globalDirtyLogStart a TLB entry filled before must not keep writing directly");
        DirtyMemory dm = sys.dirtyMemory();
        dm.snapshotAndClearDirty(ba.offset(), ba.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        dm.snapshotAndClearDirty(bb.offset(), bb.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        List<SnapshotBlock> blocks = List.of(SnapshotBlock.of(ba), SnapshotBlock.of(bb));
        List<Path> files = new ArrayList<>();
        List<byte[][]> model = new ArrayList<>();
        files.add(dir.resolve("full.gms"));
        long id = SnapshotWriter.write(files.getLast(), blocks, ProgressListener.NONE);
        model.add(new byte[][] {ba.segment().toArray(ValueLayout.JAVA_BYTE), bb.segment().toArray(ValueLayout.JAVA_BYTE)});
        for (int k = 1; k <= 6; k++) {
            int n = rnd.nextInt(60);
            for (int w = 0; w < n; w++) {
                boolean inA = rnd.nextBoolean();
                long base = inA ? 0x100000 : 0x800000;
                long len = inA ? 200 * PAGE : 70 * PAGE;
                long at = rnd.nextLong(len - 16) & ~7L;
                switch (rnd.nextInt(4)) {
                    case 0 -> as.write(base + (at & ~(PAGE - 1)), MemTxAttrs.UNSPECIFIED, new byte[(int) PAGE], 0, (int) PAGE);
                    case 1 -> {
                        byte[] buf = new byte[(int) Math.min(3 * PAGE, len - at)];
                        rnd.nextBytes(buf);
                        as.write(base + at, MemTxAttrs.UNSPECIFIED, buf, 0, buf.length);
                    }
                    default -> as.stqLe(base + at, rnd.nextLong());
                }
            }
            DirtyBitmapSnapshot la = dm.snapshotAndClearDirty(ba.offset(), ba.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
            DirtyBitmapSnapshot lb = dm.snapshotAndClearDirty(bb.offset(), bb.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
            files.add(dir.resolve("inc" + k + ".gms"));
            id = SnapshotWriter.writeIncremental(files.getLast(), id, blocks,
                    Map.of(ba.idstr(), DirtyPages.ofDirtyLog(la, ba.offset(), PAGE, 200),
                            bb.idstr(), DirtyPages.ofDirtyLog(lb, bb.offset(), PAGE, 70)), ProgressListener.NONE);
            model.add(new byte[][] {ba.segment().toArray(ValueLayout.JAVA_BYTE), bb.segment().toArray(ValueLayout.JAVA_BYTE)});
        }
        sys.globalDirtyLogStop();
        for (int k = 0; k < files.size(); k++) {
            List<SnapshotFile> open = new ArrayList<>();
            try (Arena arena = Arena.ofConfined()) {
                for (int i = 0; i <= k; i++) {
                    open.add(SnapshotFile.open(files.get(i)));
                }
                MemorySegment ta = arena.allocate(200 * PAGE, PAGE);
                MemorySegment tb = arena.allocate(70 * PAGE, PAGE);
                ta.fill((byte) 0x5a);
                tb.fill((byte) 0x5a);
                SnapshotRestorer.restore(new SnapshotChain(open), List.of(new SnapshotBlock(ba.idstr(), ta, PAGE),
                        new SnapshotBlock(bb.idstr(), tb, PAGE)), true, ProgressListener.NONE);
                assertEquals(-1, MemorySegment.ofArray(model.get(k)[0]).mismatch(ta), "block a at point " + k);
                assertEquals(-1, MemorySegment.ofArray(model.get(k)[1]).mismatch(tb), "block b at point " + k);
            } finally {
                open.forEach(SnapshotFile::close);
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // HELD: lazy restore with guest writes racing the page server (MISSING mode: a write to a page not
    // yet fetched waits for the copy, then lands; the fetched copy never overwrites it), and the
    // result equals an eager restore with the same writes applied after it.
    // ------------------------------------------------------------------------------------------
    @Test
    void lazyRestoreWithConcurrentWritesEqualsEagerRestorePlusTheWrites(@TempDir Path dir) throws Exception {
        long size = 8 * MIB;
        RamBlock src = RamBlock.anonymous("ram", size);
        RamBlock lazy = RamBlock.anonymous("ram", size);
        try {
            Random r = new Random(9);
            for (long o = 0; o < size; o += 8) {
                if ((o / PAGE) % 5 != 0) { // every 5th page zero
                    src.segment().set(ValueLayout.JAVA_LONG, o, r.nextLong());
                }
            }
            Path full = dir.resolve("full.gms");
            SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
            int threads = 4;
            long pages = size / PAGE;
            long[][] last = new long[threads][(int) pages];
            try (SnapshotFile f = SnapshotFile.open(full);
                 LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(lazy)),
                         LazyRestore.Options.DEFAULT)) {
                List<Thread> ts = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    int tt = t;
                    ts.add(Thread.ofPlatform().start(() -> {
                        Random wr = new Random(100 + tt);
                        for (int i = 0; i < 20000; i++) {
                            long pg = wr.nextLong(pages);
                            long v = wr.nextLong() | 1;
                            lazy.segment().set(ValueLayout.JAVA_LONG, pg * PAGE + tt * 8L, v);
                            last[tt][(int) pg] = v;
                        }
                    }));
                }
                for (Thread t : ts) {
                    t.join();
                }
                assertTrue(restore.awaitComplete(Duration.ofSeconds(60)), "restore completes");
                // eager: snapshot, then the same final writes
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment eager = arena.allocate(size, PAGE);
                    SnapshotRestorer.restore(SnapshotChain.of(f), List.of(new SnapshotBlock("ram", eager, PAGE)), true,
                            ProgressListener.NONE);
                    for (int t = 0; t < threads; t++) {
                        for (int pg = 0; pg < pages; pg++) {
                            if (last[t][pg] != 0) {
                                eager.set(ValueLayout.JAVA_LONG, pg * PAGE + t * 8L, last[t][pg]);
                            }
                        }
                    }
                    assertEquals(-1, eager.mismatch(lazy.segment()), "lazy (with racing writes) == eager + the writes");
                }
            }
        } finally {
            src.close();
            lazy.close();
        }
    }
}
