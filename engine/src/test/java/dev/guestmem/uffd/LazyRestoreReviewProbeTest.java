package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotWriter;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review probes for the lazy-restore changes (REMOVE events, ZEROPAGE refaults, unregister at
 * COMPLETE, file identity, escaping, dirty marking). Each fails while its defect is there. Run with
 * {@code -Dguestmem.audit=true}. Scenarios that can leave a thread stuck in a fault or in a discard
 * run in a child JVM ({@link #main}) bounded by a timeout.
 *
 * <p>Kernel semantics relied on (Documentation/admin-guide/mm/userfaultfd.rst): with
 * {@code UFFD_FEATURE_EVENT_REMOVE}, {@code MADV_DONTNEED}/{@code MADV_REMOVE} on a registered
 * range queue a REMOVE event and the discarding thread waits until it is read; while such an event
 * is unread, UFFDIO_COPY/ZEROPAGE/POISON answer EAGAIN ("the faulting thread ... must retry"),
 * and a copy that had copied part of its range reports the bytes copied. A hole punched with
 * {@code fallocate(FALLOC_FL_PUNCH_HOLE)} raises no userfaultfd event at all (only madvise calls
 * {@code userfaultfd_remove}).
 */
@EnabledIfSystemProperty(named = "guestmem.audit", matches = "true")
public class LazyRestoreReviewProbeTest {
    private static final long PAGE = 4096;

    // ------------------------------------------------------------------------------------------
    // After a page-server death the guardian and the watchdog each poison the missing pages once
    // (reading the queue only if a poison answers EAGAIN) and then nobody reads the userfaultfd
    // again, while LazyRestore keeps it open with the ranges registered. A later discard
    // (RamBlock.discard: MADV_DONTNEED) queues a REMOVE event and, per userfaultfd.rst, waits until
    // the event is read: the discarding thread hangs until someone calls close(). The restore is
    // BROKEN but present pages are still good memory; a discard of one of them must complete (the
    // ranges could be unregistered once the missing pages are poisoned: poison markers stay).
    // ------------------------------------------------------------------------------------------
    @Test
    void aDiscardAfterTheServerDiedDoesNotWaitForClose() throws Exception {
        String text = child("discard-after-death");
        assertTrue(text.contains("RESULT discard=returned"), "a discard of a served page after the server died:\n" + text);
    }

    // ------------------------------------------------------------------------------------------
    // A memfd-backed (shared fd) block discards with fallocate(PUNCH_HOLE) then MADV_DONTNEED
    // (RamWriteback.discard). The punch raises no userfaultfd event, so the server does not know a
    // not-yet-served page was discarded until the madvise's REMOVE event; a prefetch copy landing
    // between the two calls puts the snapshot page back in the page cache, the REMOVE then finds
    // it "present" and skips it, and MADV_DONTNEED on shmem only zaps the PTE: the discarded page
    // reads the snapshot again. The probe widens the window (as a preemption of the discarding
    // thread would): punch a page the prefetch has not reached, let the prefetch finish, then
    // madvise. A discarded page must read zeros (LazyRestore javadoc, "Discarded pages").
    // ------------------------------------------------------------------------------------------
    @Test
    void aMemfdPageDiscardedBeforeItWasPrefetchedReadsZeros(@TempDir Path dir) throws Exception {
        long size = 64L << 20;
        RamBlock src = RamBlock.anonymous("ram", size);
        RamBlock dst = RamBlock.builder("ram", size).memfd().build();
        try {
            for (long o = 0; o < size; o += PAGE) {
                src.stqHe(o, 0x5100_0000_0000L + o);
            }
            Path full = dir.resolve("full.gms");
            SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
            long last = size - PAGE;
            try (SnapshotFile f = SnapshotFile.open(full);
                 LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                         LazyRestore.Options.DEFAULT)) {
                // RamBlock.discard(last, PAGE), its two steps apart (mapping first, then file): the
                // prefetch (in address order, the last page last) has not reached the page when the
                // mapping is dropped; the whole restore runs before the hole is punched
                LinuxCalls.madvise(dst.segment().asSlice(last, PAGE), PAGE, Linux.MADV_DONTNEED());
                assertTrue(restore.awaitComplete(Duration.ofSeconds(60)), restore.toString());
                LinuxCalls.fallocate(dst.fd(), Linux.FALLOC_FL_PUNCH_HOLE() | Linux.FALLOC_FL_KEEP_SIZE(), dst.fdOffset() + last, PAGE);
                assertEquals("0x0", "0x" + Long.toHexString(dst.ldqHe(last)),
                        "a discarded memfd page came back with its snapshot contents (the prefetch refilled the punched hole)");
                assertEquals(0x5100_0000_0000L + last - PAGE, dst.ldqHe(last - PAGE));
            }
        } finally {
            src.close();
            dst.close();
        }
    }

    // ------------------------------------------------------------------------------------------
    // With pages larger than the base page (an 8 KiB SnapshotBlock on 4 KiB memory, supported:
    // LazyRestoreRegressionTest's large-pages case) and a source whose pages are not yet mapped in
    // the server (verify off: the CRC does not touch them first), UFFDIO_COPY takes its slow path
    // per base page, drops its locks, and rechecks mmap_changing: a REMOVE queued meanwhile ends
    // it with EAGAIN after copying part of the run, which may stop inside an 8 KiB page.
    // prefetchBatch keeps only whole pages (r / ps) but its next copy of the cut page meets EEXIST
    // on the first half and marks the whole page present (markPresent(p + done)); serveFault marks
    // a page present after any partial install. The missing half is then never copied: it faults
    // to a zero page, and after COMPLETE (unregistered) simply reads zeros. Every page not
    // discarded must read the snapshot.
    // ------------------------------------------------------------------------------------------
    @Test
    void aCopyCutByARemoveEventInsideALargePageLeavesNoHalfPageMissing() throws Exception {
        String text = child("large-page-cut", "6");
        assertTrue(text.contains("RESULT wrong=0 "), "8 KiB pages read against the snapshot after the restore:\n" + text);
    }

    // ------------------------------------------------------------------------------------------
    // PageServerMain is re-entrant where it must not be: pump -> discarded -> installPartlyDiscarded
    // -> install answers EAGAIN (another REMOVE unread) -> pumpForRetry -> pump -> discarded ->
    // installPartlyDiscarded for another page. (1) Both levels fill the one `scratch` page: when
    // the inner call returns, the outer retries its install from a scratch that now holds the
    // other page's bytes (with the other page's cut zeroed), so a page receives another page's
    // contents. (2) Both levels can read into `retryMsgs`: when the outer pump is itself
    // pump(retryMsgs) (a retry from serveFault/zeroFill/prefetchBatch), the inner read overwrites
    // the batch the outer loop is walking, so messages already consumed from the kernel are lost
    // (a lost REMOVE lets a later copy resurrect a discarded page; a lost fault waits until a
    // later fill happens to wake it) and stale ones are replayed. Partial discards need pages
    // larger than the base page (8 KiB here). Every read must match the model (the snapshot's
    // bytes of that page until discarded, then zeros).
    // ------------------------------------------------------------------------------------------
    @Test
    void partialDiscardsRacingPrefetchNeverInstallAnotherPagesBytes() throws Exception {
        String text = child("partial-race", "6");
        assertTrue(text.contains("RESULT bad=0 "), "partial discards of 8 KiB pages racing faults and prefetch:\n" + text);
    }

    // ------------------------------------------------------------------------------------------
    // After the page source fails (here: a checksum mismatch on one page) the server is still
    // alive and reads REMOVE events, but serveFault checks `broken` before `isPresent`, so a page
    // that was served, then discarded by the guest (balloon), is answered with poison on its next
    // touch instead of the zero page every other discarded page gets (PageServerMain javadoc: "any
    // fault on a page already served ... is answered with zeros"). Good memory the guest gave
    // back becomes a SIGBUS (MEMTX_ERROR through the engine) for the rest of the run.
    // ------------------------------------------------------------------------------------------
    @Test
    void aServedPageDiscardedAfterTheSourceFailedReadsZeros() throws Exception {
        String text = child("discard-after-source-failure");
        assertTrue(text.contains("RESULT refault=value=0x0 "), "a served page discarded after the source failed:\n" + text);
    }

    // ------------------------------------------------------------------------------------------
    // Eager restore marks its targets written also when it fails (SnapshotRestorer.restore's
    // finally). A lazy start refused by the server (here: the snapshot was deleted after it was
    // opened) has already dropped every page of the target and poisoned them (close()), so the
    // block's contents changed behind the address spaces; but markWritten runs only on the success
    // path at the end of the constructor. MIGRATION/VGA keep a clean log over changed memory (a
    // later increment omits the pages) and CODE keeps translations of bytes that are gone.
    // ------------------------------------------------------------------------------------------
    @Test
    void aRefusedStartStillMarksTheDroppedBlockWritten(@TempDir Path dir) throws Exception {
        dev.guestmem.MemorySystem sys = new dev.guestmem.MemorySystem();
        dev.guestmem.region.RamRegion ram = dev.guestmem.region.RamRegion.allocate(sys, null, "ram", 32 * PAGE);
        RamBlock blk = ram.ramBlock();
        dev.guestmem.dirty.DirtyMemory dm = sys.dirtyMemory();
        List<long[]> invalidated = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        dm.setCodeInvalidator((addr, len) -> invalidated.add(new long[] {addr, len}));
        blk.stlHe(0x5000, 0x5555);
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(SnapshotBlock.of(blk)), ProgressListener.NONE);
        for (int client = 0; client < dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_NUM; client++) {
            dm.resetDirty(blk.offset(), blk.usedLength(), client);
        }
        try (SnapshotFile f = SnapshotFile.open(full)) {
            Files.delete(full);
            try (LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(blk)),
                    LazyRestore.Options.DEFAULT)) {
                fail("started from a deleted file: " + restore);
            } catch (LazyRestoreException expected) {
                // the block's pages are dropped and poisoned now
            }
        }
        boolean logged = dm.allDirty(blk.offset(), blk.usedLength(),
                dev.guestmem.dirty.DirtyMemory.MASK_MIGRATION | dev.guestmem.dirty.DirtyMemory.MASK_VGA);
        long covered = invalidated.stream().mapToLong(r -> r[1]).sum();
        assertTrue(logged && covered >= blk.usedLength(), "after a refused lazy start that dropped the block's pages:"
                + " MIGRATION|VGA all dirty=" + logged + ", CODE invalidated " + covered + " of " + blk.usedLength() + " bytes");
    }

    // ------------------------------------------------------------------------------------------
    // The identity check compares the header the server maps with SnapshotPageSource.header(f),
    // which reads the caller's *live* mapping, not the header as it was when the caller opened the
    // file. A snapshot rewritten in place (cp, or any writer that truncates and writes the same
    // inode: the javadoc of LazyRestore.start promises refusal of a file "replaced, or rewritten,
    // since") changes both alike, so the check compares the new file with itself and the server
    // restores the other snapshot while f.id() still names the one the caller opened. Expected:
    // refused naming the id, or the opened snapshot's bytes.
    // ------------------------------------------------------------------------------------------
    @Test
    void aSnapshotRewrittenInPlaceIsRefusedOrTheOpenedOneIsRestored(@TempDir Path dir) throws Exception {
        RamBlock src = RamBlock.anonymous("ram", 64 * PAGE);
        RamBlock dst = RamBlock.anonymous("ram", 64 * PAGE);
        try {
            Path latest = dir.resolve("latest.gms");
            Path other = dir.resolve("other.gms");
            src.stlHe(0x1000, 0x1111);
            SnapshotWriter.write(latest, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
            src.stlHe(0x1000, 0x2222);
            SnapshotWriter.write(other, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
            byte[] newer = Files.readAllBytes(other);
            assertEquals(Files.size(latest), newer.length, "same shape, same length");
            try (SnapshotFile f = SnapshotFile.open(latest)) {
                long openedId = f.id();
                Files.write(latest, newer); // in place: same inode, truncated and rewritten
                int got;
                try (LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                        LazyRestore.Options.DEFAULT)) {
                    assertTrue(restore.awaitComplete(Duration.ofSeconds(30)));
                    got = dst.ldlHe(0x1000);
                } catch (LazyRestoreException refused) {
                    return; // refusing is fine
                }
                assertEquals(String.format("%016x 0x1111", openedId), String.format("%016x 0x%x", openedId, got),
                        "the chain's file (its id) was rewritten in place; the restore served the other snapshot");
            }
        } finally {
            src.close();
            dst.close();
        }
    }

    // ------------------------------------------------------------------------------------------
    // PageServerMain.main strips the preload message (String.strip) before splitting it into its
    // escaped fields, so a last path ending in whitespace (a space, or any Character.isWhitespace
    // code point, none of which Wire escapes) loses it: the server opens another path. The
    // protocol promises any path; a restore without preload takes this one.
    // ------------------------------------------------------------------------------------------
    @Test
    void aPreloadTakesAPathEndingInASpace(@TempDir Path dir) throws Exception {
        RamBlock src = RamBlock.anonymous("ram", 16 * PAGE);
        try {
            src.stlHe(0x1000, 0x1234);
            Path full = dir.resolve("full.gms ");
            SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
            try (SnapshotFile f = SnapshotFile.open(full); PageServerProcess server = PageServerProcess.start(List.of())) {
                try {
                    server.preload(SnapshotChain.of(f));
                } catch (LazyRestoreException e) {
                    fail("preload of '" + full + "' (trailing space): " + e.getMessage(), e);
                }
            }
        } finally {
            src.close();
        }
    }

    // ------------------------------------------------------------------------------------------
    // Child JVM
    // ------------------------------------------------------------------------------------------

    /**
     * Child JVM entry point.
     *
     * @param args scenario and its arguments
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("guestmem-review");
        switch (args[0]) {
            case "discard-after-death" -> discardAfterDeath(dir);
            case "large-page-cut" -> largePageCut(dir, Integer.parseInt(args[1]), args.length > 2 ? Long.parseLong(args[2]) : 2 * PAGE,
                    args.length > 3 && args[3].equals("verify"));
            case "discard-after-source-failure" -> discardAfterSourceFailure(dir);
            case "partial-race" -> partialRace(dir, Integer.parseInt(args[1]), args.length > 2 ? args[2] : "");
            default -> throw new IllegalArgumentException(args[0]);
        }
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }

    private static void discardAfterDeath(Path dir) throws Exception {
        RamBlock src = RamBlock.anonymous("ram", 64 * PAGE);
        RamBlock dst = RamBlock.anonymous("ram", 64 * PAGE);
        for (long p = 0; p < 64; p++) {
            src.stlHe(p * PAGE, (int) (0x1000 + p));
        }
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
        SnapshotFile f = SnapshotFile.open(full);
        PageServerProcess server = PageServerProcess.start(List.of());
        LazyRestore restore = LazyRestore.start(server, SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                new LazyRestore.Options(false, true));
        int served = dst.ldlHe(5 * PAGE);
        server.process().destroyForcibly();
        server.process().waitFor();
        String verdict;
        try {
            verdict = "awaitComplete=" + restore.awaitComplete(Duration.ofSeconds(20));
        } catch (LazyRestoreException e) {
            verdict = "broken";
        }
        Thread.sleep(3000); // the guardian and the watchdog are done
        AtomicBoolean returned = new AtomicBoolean();
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            dst.discard(5 * PAGE, PAGE);
            returned.set(true);
        });
        t.join(10_000);
        System.out.println("RESULT discard=" + (returned.get() ? "returned" : "hung (10 s)") + " served=0x"
                + Integer.toHexString(served) + " verdict=" + verdict + " state=" + restore.state());
        System.out.flush();
    }

    private static String readInThread(MemorySegment m, long at) throws InterruptedException {
        String[] seen = {"hang"};
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            try {
                seen[0] = "value=0x" + Integer.toHexString(m.get(ValueLayout.JAVA_INT_UNALIGNED, at));
            } catch (InternalError e) {
                seen[0] = "error=" + e.getClass().getSimpleName();
            }
        });
        t.join(10_000);
        return seen[0];
    }

    private static void discardAfterSourceFailure(Path dir) throws Exception {
        RamBlock src = RamBlock.anonymous("ram", 64 * PAGE);
        RamBlock dst = RamBlock.anonymous("ram", 64 * PAGE);
        for (long p = 0; p < 64; p++) {
            src.stlHe(p * PAGE, (int) (0x1000 + p));
        }
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
        SnapshotFile f = SnapshotFile.open(full);
        long at40 = f.location(0, 40);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(full, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x55}), at40 + 100); // page 40's data only: header and table intact
        }
        LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)), new LazyRestore.Options(false, true));
        String served = readInThread(dst.segment(), 5 * PAGE);
        String corrupt = readInThread(dst.segment(), 40 * PAGE);
        String verdict;
        try {
            verdict = "awaitComplete=" + restore.awaitComplete(Duration.ofSeconds(20));
        } catch (LazyRestoreException e) {
            verdict = "broken";
        }
        dst.discard(5 * PAGE, PAGE);
        String refault = readInThread(dst.segment(), 5 * PAGE);
        System.out.println("RESULT refault=" + refault + " served=" + served + " corrupt=" + corrupt + " verdict=" + verdict);
        System.out.flush();
    }

    /**
     * Prefetch of large pages (8 KiB unless given; verify off unless "verify") while another thread
     * discards the first page over and over; the controls (4 KiB pages, or verify on) read clean.
     */
    private static void largePageCut(Path dir, int rounds, long ps, boolean verify) throws Exception {
        int pages = (int) (8192 * PAGE / ps);
        RamBlock src = RamBlock.anonymous("ram", pages * ps);
        for (long o = 0; o < pages * ps; o += PAGE) {
            src.stqHe(o + 8, 0x7700_0000_0000L + o / PAGE);
        }
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(new SnapshotBlock("ram", src.segment(), ps)), ProgressListener.NONE);
        long wrong = 0;
        long discards = 0;
        String firstWrong = "";
        try (SnapshotFile f = SnapshotFile.open(full)) {
            for (int round = 0; round < rounds; round++) {
                RamBlock dst = RamBlock.anonymous("ram", (pages + 1) * ps);
                MemorySegment m = dst.segment().asSlice(-dst.segment().address() & (ps - 1), pages * ps); // 8 KiB aligned
                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong count = new AtomicLong();
                try (LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(new SnapshotBlock("ram", m, ps)),
                        new LazyRestore.Options(true, verify))) {
                    Thread discarder = Thread.ofPlatform().daemon().start(() -> {
                        while (!stop.get()) {
                            LinuxCalls.madvise(m, ps, Linux.MADV_DONTNEED()); // page 0 only
                            count.incrementAndGet();
                        }
                    });
                    boolean complete = restore.awaitComplete(Duration.ofSeconds(60));
                    stop.set(true);
                    discarder.join(10_000);
                    if (!complete) {
                        System.out.println("RESULT incomplete round=" + round + " " + restore);
                        return;
                    }
                    for (long o = ps; o < pages * ps; o += PAGE) {
                        long v = m.get(ValueLayout.JAVA_LONG, o + 8);
                        if (v != 0x7700_0000_0000L + o / PAGE) {
                            if (wrong++ == 0) {
                                firstWrong = " first: round " + round + " base page " + (o / PAGE) + " (8 KiB page " + (o / ps)
                                        + ", half " + ((o / PAGE) & 1) + ") reads 0x" + Long.toHexString(v);
                            }
                        }
                    }
                    discards += count.get();
                } finally {
                    dst.close();
                }
            }
        }
        System.out.println("RESULT wrong=" + wrong + " discards=" + discards + firstWrong);
    }

    /** Two threads, disjoint 8 KiB pages, random half-page discards and reads against a model. */
    private static void partialRace(Path dir, int rounds, String variant) throws Exception {
        long ps = 2 * PAGE;
        int pages = 4096;
        int base = pages * 2;
        RamBlock src = RamBlock.anonymous("ram", pages * ps);
        for (long q = 0; q < base; q++) {
            src.stqHe(q * PAGE, 0x6600_0000_0000L + q);
        }
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(new SnapshotBlock("ram", src.segment(), ps)), ProgressListener.NONE);
        long bad = 0;
        long foreign = 0;
        long discards = 0;
        String first = "";
        try (SnapshotFile f = SnapshotFile.open(full)) {
            for (int round = 0; round < rounds; round++) {
                RamBlock dst = RamBlock.anonymous("ram", (pages + 1) * ps);
                MemorySegment m = dst.segment().asSlice(-dst.segment().address() & (ps - 1), pages * ps);
                try (LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(new SnapshotBlock("ram", m, ps)),
                        new LazyRestore.Options(!variant.contains("noprefetch"), !variant.contains("noverify")))) {
                    long[] badBy = new long[2];
                    long[] foreignBy = new long[2];
                    long[] discBy = new long[2];
                    String[] firstBy = {"", ""};
                    List<Thread> ts = new java.util.ArrayList<>();
                    for (int t = 0; t < 2; t++) {
                        int tt = t;
                        long seed = round * 2L + t;
                        ts.add(Thread.ofPlatform().daemon().start(() -> {
                            java.util.Random r = new java.util.Random(seed);
                            boolean[] gone = new boolean[base];
                            for (int i = 0; i < 4000; i++) {
                                int p = r.nextInt(pages / 2) * 2 + tt;
                                int q = 2 * p + r.nextInt(2); // a base page of it
                                if (r.nextInt(3) == 0) {
                                    LinuxCalls.madvise(m.asSlice(q * PAGE, PAGE), PAGE, Linux.MADV_DONTNEED());
                                    gone[q] = true;
                                    discBy[tt]++;
                                } else {
                                    long v = m.get(ValueLayout.JAVA_LONG, q * PAGE);
                                    if (v != 0 && v != 0x6600_0000_0000L + q) {
                                        foreignBy[tt]++; // another page's bytes
                                    }
                                    if (v != (gone[q] ? 0 : 0x6600_0000_0000L + q) && badBy[tt]++ == 0) {
                                        firstBy[tt] = " first: base page " + q + " reads 0x" + Long.toHexString(v) + " gone=" + gone[q];
                                    }
                                }
                            }
                        }));
                    }
                    for (Thread t : ts) {
                        t.join(60_000);
                        if (t.isAlive()) {
                            System.out.println("RESULT hung round=" + round + " (a thread waits on a fault) " + restore);
                            System.out.flush();
                            Runtime.getRuntime().halt(0);
                        }
                    }
                    if (!restore.awaitComplete(Duration.ofSeconds(60))) {
                        System.out.println("RESULT incomplete round=" + round + " " + restore);
                        return;
                    }
                    bad += badBy[0] + badBy[1];
                    foreign += foreignBy[0] + foreignBy[1];
                    discards += discBy[0] + discBy[1];
                    if (first.isEmpty()) {
                        first = firstBy[0].isEmpty() ? firstBy[1] : firstBy[0];
                    }
                } finally {
                    dst.close();
                }
            }
        }
        System.out.println("RESULT bad=" + bad + " (another page's bytes: " + foreign + ") discards=" + discards + first);
    }

    /** Runs {@link #main} in a child JVM, bounded (a stuck fault or discard would hang this one). */
    private static String child(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx512m", "-cp", System.getProperty("java.class.path"),
                LazyRestoreReviewProbeTest.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuilder out = new StringBuilder();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try (java.io.BufferedReader br = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()))) {
                for (String l = br.readLine(); l != null; l = br.readLine()) {
                    synchronized (out) {
                        out.append(l).append('\n');
                    }
                }
            } catch (java.io.IOException ignored) {
                // gone
            }
        });
        boolean ended = p.waitFor(180, java.util.concurrent.TimeUnit.SECONDS);
        if (!ended) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
        }
        reader.join(5000);
        String text;
        synchronized (out) {
            text = out.toString();
        }
        assertTrue(ended, "child JVM hung (killed after 180 s):\n" + text);
        return text;
    }
}
