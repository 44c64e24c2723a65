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
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Audit probes for the semantics of snapshots (chains, restore, lazy restore, dirty-log interplay).
 * Run with {@code -Dguestmem.audit=true}. Each probe that targets a defect fails while the defect is
 * there; the others are checks that held and are kept as evidence.
 */
@EnabledIfSystemProperty(named = "guestmem.audit", matches = "true")
class SnapshotSemanticsProbeTest {
    private static final long PAGE = 4096;
    private static final long MIB = 1L << 20;

    // ------------------------------------------------------------------------------------------
    // DEFECT: SnapshotWriter's javadoc promises that without a pause "the snapshot holds a mix of
    // old and new pages (each page's checksum still matches the bytes stored)". The writer computes
    // each page's CRC when it reaches the page but writes the page's bytes later, from guest memory
    // again, as part of a run of up to 1 MiB (writeRun). A page changed in between is stored with a
    // checksum of bytes it no longer holds: SnapshotRestorer.restore(verify=true) then throws
    // "fails its checksum" and a LazyRestore with verify poisons the memory (BROKEN). Expected: the
    // checksum is taken of exactly the bytes written (copy the page to a buffer, CRC it, write it).
    // ------------------------------------------------------------------------------------------
    @Test
    void everyStoredPageMatchesItsChecksumWhenTheGuestWritesDuringTheSave(@TempDir Path dir) throws Exception {
        try (Arena arena = Arena.ofShared()) {
            long size = 8 * MIB;
            MemorySegment ram = arena.allocate(size, PAGE);
            Random init = new Random(1);
            for (long o = 0; o < size; o += 8) {
                ram.set(ValueLayout.JAVA_LONG, o, init.nextLong() | 1);
            }
            AtomicBoolean stop = new AtomicBoolean();
            Thread vcpu = Thread.ofPlatform().start(() -> {
                Random r = new Random(2);
                while (!stop.get()) {
                    ram.set(ValueLayout.JAVA_LONG, (r.nextLong(size) & ~7L), r.nextLong() | 1); // never a zero page
                }
            });
            int bad = 0;
            String first = null;
            try {
                for (int round = 0; round < 5 && bad == 0; round++) {
                    Path p = dir.resolve("live" + round + ".gms");
                    SnapshotWriter.write(p, List.of(new SnapshotBlock("ram", ram, PAGE)), ProgressListener.NONE);
                    try (SnapshotFile f = SnapshotFile.open(p)) {
                        for (long pg = 0; pg < size / PAGE; pg++) {
                            if (!f.verify(0, pg)) {
                                bad++;
                                if (first == null) {
                                    first = "page " + pg + " of " + p.getFileName();
                                }
                            }
                        }
                    }
                }
            } finally {
                stop.set(true);
                vcpu.join();
            }
            assertEquals(0, bad, "pages whose stored checksum does not match their stored bytes (first: " + first
                    + "); the writer's javadoc promises each page's checksum matches the bytes stored");
        }
    }

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
    // DEFECT (dirty-log interplay): an eager restore into a live block writes the memory behind the
    // dirty log. With the MIGRATION log on, a rollback (restore of an older snapshot) followed by the
    // next increment from the log gives a chain that no longer matches memory: pages the restore
    // changed are not in the log, so the increment leaves them absent and the chain keeps their
    // pre-rollback state. (The same holds for the CODE client: stale translations are never
    // invalidated.) Expected: restoring into a target named by its RamBlock marks the restored range
    // dirty for every client (invalidateAndSetDirty, as a DMA write would), or the javadoc says the
    // caller must.
    // ------------------------------------------------------------------------------------------
    @Test
    void anIncrementTakenAfterARollbackRestoresTheMemoryAfterTheRollback(@TempDir Path dir) {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 16 * PAGE);
        root.addSubregion(0, ram);
        AddressSpace as = sys.addressSpace(root, "memory");
        RamBlock blk = ram.ramBlock();
        DirtyMemory dm = sys.dirtyMemory();
        List<SnapshotBlock> blocks = List.of(SnapshotBlock.of(blk));
        as.stlLe(0x1000, 0x1111);
        sys.globalDirtyLogStart();
        dm.snapshotAndClearDirty(blk.offset(), blk.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        Path s0 = dir.resolve("s0.gms");
        long id0 = SnapshotWriter.write(s0, blocks, ProgressListener.NONE);       // page 1 = 0x1111
        as.stlLe(0x1000, 0x2222);
        DirtyBitmapSnapshot l1 = dm.snapshotAndClearDirty(blk.offset(), blk.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        Path i1 = dir.resolve("i1.gms");
        long id1 = SnapshotWriter.writeIncremental(i1, id0, blocks,
                Map.of("ram", DirtyPages.ofDirtyLog(l1, blk.offset(), PAGE, 16)), ProgressListener.NONE); // page 1 = 0x2222
        try (SnapshotFile f0 = SnapshotFile.open(s0)) {
            SnapshotRestorer.restore(SnapshotChain.of(f0), blocks, false, ProgressListener.NONE); // rollback: page 1 = 0x1111
        }
        assertEquals(0x1111, as.ldlLe(0x1000));
        DirtyBitmapSnapshot l2 = dm.snapshotAndClearDirty(blk.offset(), blk.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
        Path i2 = dir.resolve("i2.gms");
        SnapshotWriter.writeIncremental(i2, id1, blocks, Map.of("ram", DirtyPages.ofDirtyLog(l2, blk.offset(), PAGE, 16)),
                ProgressListener.NONE);
        sys.globalDirtyLogStop();
        try (Arena arena = Arena.ofConfined(); SnapshotFile f0 = SnapshotFile.open(s0); SnapshotFile f1 = SnapshotFile.open(i1);
             SnapshotFile f2 = SnapshotFile.open(i2)) {
            MemorySegment t = arena.allocate(16 * PAGE, PAGE);
            SnapshotRestorer.restore(new SnapshotChain(List.of(f0, f1, f2)), List.of(new SnapshotBlock("ram", t, PAGE)), true,
                    ProgressListener.NONE);
            assertEquals(0x1111, t.get(ValueLayout.JAVA_INT_UNALIGNED, 0x1000),
                    "s0+i1+i2 must give the memory at i2's time (after the rollback): the restore's writes were not logged");
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
