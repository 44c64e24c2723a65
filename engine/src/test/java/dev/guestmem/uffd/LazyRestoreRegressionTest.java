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
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Lazy-restore defects found by the snapshot-semantics audit ({@code SnapshotSemanticsProbeTest}),
 * kept as regression tests once fixed, with the probes' failure messages.
 */
class LazyRestoreRegressionTest {
    private static final long PAGE = 4096;

    // ------------------------------------------------------------------------------------------
    // Was: when the page server refused the layout, LazyRestore's constructor closed the owned
    // server and LazyRestore.start closed it again, closing the guardian socket's fd number twice
    // (EBADF replaced the real reason; with fd reuse, another thread's descriptor was closed).
    // ------------------------------------------------------------------------------------------
    @Test
    void aServerThatCannotStartIsReportedWithItsReasonAndClosedOnce(@TempDir Path dir) throws Exception {
        RamBlock src = RamBlock.anonymous("ram", 64 * PAGE);
        RamBlock dst = RamBlock.anonymous("ram", 64 * PAGE);
        try {
            Path full = dir.resolve("full.gms");
            SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
            try (SnapshotFile f = SnapshotFile.open(full)) {
                Files.delete(full); // the caller's mapping stays valid; the server opens by path
                try (LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                        LazyRestore.Options.DEFAULT)) {
                    fail("started from a deleted file: " + restore);
                } catch (dev.guestmem.uffd.LazyRestoreException expected) {
                    assertTrue(expected.getMessage().contains("full.gms"), expected.getMessage());
                    assertEquals(0, expected.getSuppressed().length, "the server was closed once: " + List.of(expected.getSuppressed()));
                } catch (RuntimeException e) {
                    fail("expected a LazyRestoreException with the server's reason, got " + e, e);
                }
            }
        } finally {
            src.close();
            dst.close();
        }
    }

    /** A second close of a server closes nothing: a descriptor that reused a number stays open. */
    @Test
    void closingAServerTwiceLeavesADescriptorThatReusedItsNumbersAlone() {
        PageServerProcess server = PageServerProcess.start(List.of());
        int guardian = server.guardianSocket();
        int control = server.socket();
        server.close();
        // the kernel hands out the lowest free number: open descriptors until both numbers are reused
        List<Integer> fresh = new java.util.ArrayList<>();
        try {
            while (fresh.size() < 256 && !(fresh.contains(guardian) && fresh.contains(control))) {
                int[] pair = LinuxCalls.socketpair();
                fresh.add(pair[0]);
                fresh.add(pair[1]);
            }
            assertTrue(fresh.contains(guardian) && fresh.contains(control),
                    "the test needs the numbers reused: " + fresh + " vs " + guardian + ", " + control);
            server.close();
            for (int fd : fresh) {
                assertTrue(Linux.fcntl(fd, Linux.F_GETFD(), 0) >= 0, "descriptor " + fd + " was closed by the second close");
            }
        } finally {
            fresh.forEach(LinuxCalls::close);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Was: the layout went to the page server as tab-separated lines with the block name unescaped,
    // so a name with a tab (which the writer, the file and the eager restore take) made the server
    // misparse the line and the restore fail to start ("For input string ...").
    // ------------------------------------------------------------------------------------------
    @Test
    void lazyRestoreTakesEveryBlockNameEagerRestoreTakes(@TempDir Path dir) throws Exception {
        String name = "rom\tx";
        RamBlock src = RamBlock.anonymous("src", 64 * PAGE);
        RamBlock dst = RamBlock.anonymous("dst", 64 * PAGE);
        try {
            src.stlHe(0x2000, 0x5a5a);
            Path full = dir.resolve("full.gms");
            SnapshotWriter.write(full, List.of(new SnapshotBlock(name, src.segment(), PAGE)), ProgressListener.NONE);
            try (SnapshotFile f = SnapshotFile.open(full)) {
                try (LazyRestore restore = LazyRestore.start(SnapshotChain.of(f),
                        List.of(new SnapshotBlock(name, dst.segment(), PAGE, dst)), LazyRestore.Options.DEFAULT)) {
                    assertTrue(restore.awaitComplete(Duration.ofSeconds(30)));
                    assertEquals(0x5a5a, dst.ldlHe(0x2000));
                } catch (RuntimeException e) {
                    fail("lazy restore of block '" + name.replace("\t", "\\t") + "' (eager restore takes it): " + e, e);
                }
            }
        } finally {
            src.close();
            dst.close();
        }
    }

    /**
     * Names with every character the line protocol uses (tab, newline, carriage return, backslash,
     * an escape sequence spelled out), multi-byte UTF-8 up to the 255-byte limit, and a snapshot
     * directory whose path holds a tab and a newline: each block restored lazily, byte for byte,
     * from an increment chain (preloaded, so the preload message is escaped too).
     */
    @Test
    void lazyRestoreTakesAnyNameAndPathThroughPreloadAndAChain(@TempDir Path tmp) throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("snap\tdir\nwith \\ü"));
        List<String> names = List.of("a\tb", "line\nbreak", "cr\rx", "back\\slash", "\\t not a tab", "ü".repeat(127),
                "\t", "plain");
        List<RamBlock> src = new java.util.ArrayList<>();
        List<RamBlock> dst = new java.util.ArrayList<>();
        try {
            List<SnapshotBlock> blocks = new java.util.ArrayList<>();
            for (int i = 0; i < names.size(); i++) {
                RamBlock b = RamBlock.anonymous("src" + i, 16 * PAGE);
                src.add(b);
                dst.add(RamBlock.anonymous("dst" + i, 16 * PAGE));
                for (long o = 0; o < 16 * PAGE; o += 512) {
                    b.stqHe(o, (i + 1) * 0x0101010101L + o);
                }
                blocks.add(new SnapshotBlock(names.get(i), b.segment(), PAGE));
            }
            Path full = dir.resolve("full\t.gms");
            long id = SnapshotWriter.write(full, blocks, ProgressListener.NONE);
            src.get(2).stqHe(3 * PAGE, 0x77);
            java.util.Map<String, dev.guestmem.snapshot.DirtyPages> changed = java.util.Map.of("cr\rx",
                    dev.guestmem.snapshot.DirtyPages.ofBitmap(new long[] {1L << 3}, 16));
            Path inc = dir.resolve("inc\n1.gms");
            SnapshotWriter.writeIncremental(inc, id, blocks, changed, ProgressListener.NONE);
            List<SnapshotBlock> targets = new java.util.ArrayList<>();
            for (int i = 0; i < names.size(); i++) {
                targets.add(new SnapshotBlock(names.get(i), dst.get(i).segment(), PAGE, dst.get(i)));
            }
            try (SnapshotFile f0 = SnapshotFile.open(full); SnapshotFile f1 = SnapshotFile.open(inc);
                 PageServerProcess server = PageServerProcess.start(List.of())) {
                SnapshotChain chain = new SnapshotChain(List.of(f0, f1));
                server.preload(chain);
                try (LazyRestore restore = LazyRestore.start(server, chain, targets, LazyRestore.Options.DEFAULT)) {
                    assertTrue(restore.awaitComplete(Duration.ofSeconds(60)), restore.toString());
                    for (int i = 0; i < names.size(); i++) {
                        assertEquals(-1, src.get(i).segment().mismatch(dst.get(i).segment()),
                                "block " + Wire.escape(names.get(i)));
                    }
                }
            }
        } finally {
            src.forEach(RamBlock::close);
            dst.forEach(RamBlock::close);
        }
    }

    // ------------------------------------------------------------------------------------------
    // Was: LazyRestore.start checked the caller's SnapshotChain but the page server reopened the
    // files by path, so a snapshot rewritten under the same name (SnapshotWriter replaces a path by
    // rename) between opening the chain and starting the restore was served instead: the memory
    // was silently another snapshot's. Now the server compares each file's header with the one
    // the caller opened and refuses a mismatch.
    // ------------------------------------------------------------------------------------------
    @Test
    void lazyRestoreServesTheFilesOfTheChainItWasGiven(@TempDir Path dir) throws Exception {
        RamBlock src = RamBlock.anonymous("ram", 64 * PAGE);
        RamBlock dst = RamBlock.anonymous("ram", 64 * PAGE);
        try {
            Path latest = dir.resolve("latest.gms");
            src.stlHe(0x1000, 0x1111);
            SnapshotWriter.write(latest, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
            try (SnapshotFile f = SnapshotFile.open(latest)) {
                src.stlHe(0x1000, 0x2222);
                SnapshotWriter.write(latest, List.of(SnapshotBlock.of(src)), ProgressListener.NONE); // the next checkpoint
                int got;
                try (LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                        LazyRestore.Options.DEFAULT)) {
                    assertTrue(restore.awaitComplete(Duration.ofSeconds(30)));
                    got = dst.ldlHe(0x1000);
                } catch (LazyRestoreException refused) {
                    assertTrue(refused.getMessage().contains(latest.toString())
                            && refused.getMessage().contains(String.format("%016x", f.id())), refused.getMessage());
                    return; // refusing is the contract
                }
                assertEquals(String.format("%016x", f.id()) + " 0x1111", String.format("%016x", f.id()) + " 0x"
                        + Integer.toHexString(got), "the chain given (its file's id and contents) must be what is restored");
            }
        } finally {
            src.close();
            dst.close();
        }
    }

    /**
     * The identity check with a preloaded server: files replaced before the preload are refused
     * (the server holds the new ones); replaced after it, the server still holds the caller's
     * files and restores them; untouched, the chain restores as usual.
     */
    @Test
    void aPreloadedServerChecksTheFilesItHoldsAgainstTheChain(@TempDir Path dir) throws Exception {
        RamBlock src = RamBlock.anonymous("ram", 64 * PAGE);
        try {
            Path full = dir.resolve("full.gms");
            Path inc = dir.resolve("inc.gms");
            src.stlHe(0x1000, 0x1111);
            long id = SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
            src.stlHe(0x2000, 0x2222);
            SnapshotWriter.writeIncremental(inc, id, List.of(SnapshotBlock.of(src)),
                    java.util.Map.of("ram", dev.guestmem.snapshot.DirtyPages.ofBitmap(new long[] {1L << 2}, 64)),
                    ProgressListener.NONE);
            try (SnapshotFile f0 = SnapshotFile.open(full); SnapshotFile f1 = SnapshotFile.open(inc)) {
                SnapshotChain chain = new SnapshotChain(List.of(f0, f1));
                assertEquals(0x2222, restoreAndRead(chain, 0x2000, null, null), "untouched chain");
                // replaced after the preload: the server restores what it preloaded, the caller's files
                assertEquals(0x2222, restoreAndRead(chain, 0x2000, () -> { }, () -> rewriteIncrement(src, inc, id, 0x3333)));
                // replaced before the preload: refused, naming the file
                LazyRestoreException e = org.junit.jupiter.api.Assertions.assertThrows(LazyRestoreException.class,
                        () -> restoreAndRead(chain, 0x2000, () -> { }, null));
                assertTrue(e.getMessage().contains("inc.gms") && e.getMessage().contains("not the file the restore was given"),
                        e.getMessage());
            }
        } finally {
            src.close();
        }
    }

    private static void rewriteIncrement(RamBlock src, Path inc, long baseId, int value) {
        src.stlHe(0x2000, value);
        SnapshotWriter.writeIncremental(inc, baseId, List.of(SnapshotBlock.of(src)),
                java.util.Map.of("ram", dev.guestmem.snapshot.DirtyPages.ofBitmap(new long[] {1L << 2}, 64)), ProgressListener.NONE);
    }

    /** Restores {@code chain} into a fresh block and reads an int; preloads first if {@code preload} is given, then runs {@code between}. */
    private static int restoreAndRead(SnapshotChain chain, long at, Runnable preload, Runnable between) throws Exception {
        RamBlock dst = RamBlock.anonymous("ram", 64 * PAGE);
        try (PageServerProcess server = PageServerProcess.start(List.of())) {
            if (preload != null) {
                server.preload(chain);
            }
            if (between != null) {
                between.run();
            }
            try (LazyRestore restore = LazyRestore.start(server, chain, List.of(SnapshotBlock.of(dst)), LazyRestore.Options.DEFAULT)) {
                assertTrue(restore.awaitComplete(Duration.ofSeconds(30)));
                return dst.ldlHe(at);
            }
        } finally {
            dst.close();
        }
    }

    // ------------------------------------------------------------------------------------------
    // Was: the block stayed registered with the userfaultfd after COMPLETE; a page discarded then
    // (RamBlock.discard) was missing again, its next touch faulted to the page server, which found
    // it served and only woke the thread, which faulted again for ever (the JVM's next safepoint
    // hung). Now the ranges are unregistered at COMPLETE, and the server answers a fault on a page
    // it already served with zeros.
    // ------------------------------------------------------------------------------------------
    @Test
    void aPageDiscardedAfterALazyRestoreCompletedCanBeReadAgain() throws Exception {
        String text = child("after-complete");
        assertTrue(text.contains("RESULT read-after-discard ok"), "child output:\n" + text);
        assertTrue(text.contains("value=0x0 neighbour=0x5678 state=COMPLETE"), "a discarded page reads zeros:\n" + text);
    }

    /**
     * While the restore runs (no prefetch): a served page discarded reads zeros (the server's zero
     * page), a page discarded before it was served reads zeros too (the REMOVE event marked it, its
     * snapshot contents never come back), writes and every other page are as expected, and the
     * restore completes.
     */
    @Test
    void aPageDiscardedWhileRestoringReadsZerosWhetherOrNotItWasServed() throws Exception {
        String text = child("during");
        assertTrue(text.contains("RESULT served=0x1005 servedAfter=0x0 unserved=0x0 unserved2=0x0 written=0x77 others=0"
                + " complete=true state=COMPLETE"), text);
    }

    /** Part of a large (8 KiB) page discarded, before and after it was served: zeros there, the snapshot beside. */
    @Test
    void partOfALargePageDiscardedReadsZerosThereAndTheSnapshotBeside() throws Exception {
        String text = child("large-pages");
        assertTrue(text.contains("RESULT firstHalf=0x100006 secondHalf=0x0 before=0x100012 servedFirst=0x0"
                + " servedSecond=0x100013 complete=true"), text);
    }

    /**
     * Discards, writes and reads racing the server's prefetch, against a model: no read ever sees
     * a snapshot value on a page discarded before (no copy resurrects it), nor zeros where the
     * snapshot or a write should be.
     */
    @Test
    void discardsRacingPrefetchNeverResurrectOldContents() throws Exception {
        String text = child("race", LazyRestoreTest.STRESS ? "40" : "4");
        assertTrue(text.contains("RESULT bad=0 "), text);
        assertTrue(!text.contains("discards=0"), text);
    }

    /**
     * Was: after a page-server death the guardian poisoned the missing pages and exited, leaving the
     * userfaultfd without a reader: a served page discarded later (its discard waits for the REMOVE
     * event to be read) or faulted again hung its thread, and with it the JVM's next safepoint. Then
     * the guardian stayed and answered every later fault with poison, so a page the guest discarded
     * after the death (served or not) failed its next access instead of reading zeros as discarded
     * RAM does. Now, once the watchdog has poisoned what is missing, the ranges are unregistered:
     * poison stays where it was put, and a discard afterwards is the kernel's alone (zeros).
     */
    @Test
    void afterAServerDeathADiscardReturnsAndTheDiscardedPageReadsZeros() throws Exception {
        String text = child("after-server-death");
        assertTrue(text.contains("RESULT served=0x1005 discarded=true read=0x0 unserved=error=InternalError"
                + " unservedDiscarded=value=0x0 state=BROKEN"), text);
    }

    // ------------------------------------------------------------------------------------------
    // Was: PageServerMain is re-entrant where it must not be: pump -> discarded -> installPartlyDiscarded
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
    // Now: pump never nests copies: a REMOVE only records a partial cut (PageServerMain.cuts), every
    // copy of that page zeroes it, and the serve loop installs such pages outside pump.
    // ------------------------------------------------------------------------------------------
    @Test
    void partialDiscardsRacingPrefetchNeverInstallAnotherPagesBytes() throws Exception {
        String text = child("partial-race", "6");
        assertTrue(text.contains("RESULT bad=0 "), "partial discards of 8 KiB pages racing faults and prefetch:\n" + text);
    }

    // ------------------------------------------------------------------------------------------
    // Was: With pages larger than the base page (an 8 KiB SnapshotBlock on 4 KiB memory, supported:
    // LazyRestoreRegressionTest's large-pages case) and a source whose pages are not yet mapped in
    // the server (verify off: the CRC does not touch them first), UFFDIO_COPY takes its slow path
    // per base page, drops its locks, and rechecks mmap_changing: a REMOVE queued meanwhile ends
    // it with EAGAIN after copying part of the run, which may stop inside an 8 KiB page.
    // prefetchBatch keeps only whole pages (r / ps) but its next copy of the cut page meets EEXIST
    // on the first half and marks the whole page present (markPresent(p + done)); serveFault marks
    // a page present after any partial install. The missing half is then never copied: it faults
    // to a zero page, and after COMPLETE (unregistered) simply reads zeros. Every page not
    // discarded must read the snapshot.
    // Now: PageServerMain.fillPage finishes such a page grain by grain (EEXIST skips a grain there
    // already, a copy cut short goes on after the queue is read) before it is marked present.
    // ------------------------------------------------------------------------------------------
    @Test
    void aCopyCutByARemoveEventInsideALargePageLeavesNoHalfPageMissing() throws Exception {
        String text = child("large-page-cut", "6");
        assertTrue(text.contains("RESULT wrong=0 "), "8 KiB pages read against the snapshot after the restore:\n" + text);
    }

    // ------------------------------------------------------------------------------------------
    // Was: After the page source fails (here: a checksum mismatch on one page) the server is still
    // alive and reads REMOVE events, but serveFault checks `broken` before `isPresent`, so a page
    // that was served, then discarded by the guest (balloon), is answered with poison on its next
    // touch instead of the zero page every other discarded page gets (PageServerMain javadoc: "any
    // fault on a page already served ... is answered with zeros"). Good memory the guest gave
    // back becomes a SIGBUS (MEMTX_ERROR through the engine) for the rest of the run.
    // Now: serveFault answers a page served before with zeros whether or not the source failed
    // since; only pages never served are poisoned.
    // ------------------------------------------------------------------------------------------
    @Test
    void aServedPageDiscardedAfterTheSourceFailedReadsZeros() throws Exception {
        String text = child("discard-after-source-failure");
        assertTrue(text.contains("RESULT refault=value=0x0 "), "a served page discarded after the source failed:\n" + text);
    }

    // ------------------------------------------------------------------------------------------
    // Was: when the page source failed, the server poisoned every page missing in the kernel
    // (Uffd.poisonMissing over each block), also the pages the guest had discarded before: a page
    // served and discarded since, and a page never served but wholly discarded (recorded present
    // by its REMOVE event, never to be copied). Both read zeros until the failure and SIGBUS
    // (InternalError, MEMTX_ERROR through the engine) after it, unlike eager RAM where a discarded
    // page reads zeros. REMOVE events read while poisoning (EAGAIN) were dropped unrecorded too.
    // Now: the failure poisons only pages the server has not recorded present, and reads the queue
    // through its own bookkeeping while it does.
    // ------------------------------------------------------------------------------------------
    @Test
    void pagesDiscardedBeforeTheSourceFailedStillReadZeros() throws Exception {
        String text = child("discard-before-source-failure");
        assertTrue(text.contains("RESULT servedDiscarded=value=0x0 unservedDiscarded=value=0x0 poisonedDiscarded=value=0x0 missing=error=InternalError"
                + " served=value=0x1005 corrupt=error=InternalError verdict=broken"), "pages discarded before the source failed:\n" + text);
    }

    /**
     * Was: the poisoning after a source failure read the queue on EAGAIN without recording the
     * REMOVE events it found (Uffd.drainEvents), so a never-served page the guest discarded at that
     * moment was poisoned after the kernel dropped it. Now the poisoning reads the queue through the
     * server's own reader, which records the discard, and steps over the page.
     */
    @Test
    void aPageDiscardedWhileTheServerPoisonsAfterASourceFailureReadsZeros() throws Exception {
        String text = child("discard-during-source-failure");
        assertTrue(text.contains("RESULT discardedDuring=value=0x0 missing=error=InternalError corrupt=error=InternalError"
                + " held=true discarded=true verdict=broken"), "a page discarded while the server poisons:\n" + text);
    }

    // ------------------------------------------------------------------------------------------
    // Was: PageServerMain.main strips the preload message (String.strip) before splitting it into its
    // escaped fields, so a last path ending in whitespace (a space, or any Character.isWhitespace
    // code point, none of which Wire escapes) loses it: the server opens another path. The
    // protocol promises any path; a restore without preload takes this one.
    // Now: only the line terminator is stripped, as Wire.readLine does.
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

    /** Runs {@link DiscardScenario} in a child JVM (a livelocked fault would hang this one), bounded. */
    private static String child(String... args) throws Exception {
        ChildJvm.Result r = ChildJvm.run(DiscardScenario.class, "256m", 120, args);
        assertTrue(r.ended(), "child JVM hung (killed after 120 s):\n" + r.output());
        assertEquals(0, r.exitCode(), r.output());
        return r.output();
    }

    // ------------------------------------------------------------------------------------------
    // Was: a lazy restore's UFFDIO_COPY into a block the machine uses was seen by no dirty client:
    // neither the dirty log (MIGRATION, VGA) nor CODE (translations of the old bytes survived).
    // Now a restore into a target named by its RamBlock marks the whole block dirty for every
    // client (invalidateAndSetDirty, DIRTY_CLIENTS_ALL) once the server serves, before start returns.
    // ------------------------------------------------------------------------------------------
    @Test
    void aLazyRestoreIntoARamBlockIsSeenByEveryDirtyClient(@TempDir Path dir) throws Exception {
        dev.guestmem.MemorySystem sys = new dev.guestmem.MemorySystem();
        dev.guestmem.region.RamRegion.allocate(sys, null, "pad", 3 * PAGE);
        dev.guestmem.region.RamRegion ram = dev.guestmem.region.RamRegion.allocate(sys, null, "ram", 32 * PAGE);
        RamBlock blk = ram.ramBlock();
        dev.guestmem.dirty.DirtyMemory dm = sys.dirtyMemory();
        List<long[]> invalidated = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
        dm.setCodeInvalidator((addr, len) -> invalidated.add(new long[] {addr, len}));
        blk.stlHe(0x5000, 0x5555);
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(SnapshotBlock.of(blk)), ProgressListener.NONE);
        for (int client = 0; client < dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_NUM; client++) {
            dm.resetDirty(blk.offset(), blk.usedLength(), client); // CODE clean: translated
            assertTrue(!dm.getDirty(blk.offset(), blk.usedLength(), client), "client " + client + " clean before");
        }
        try (SnapshotFile f = SnapshotFile.open(full);
             LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(blk)), LazyRestore.Options.DEFAULT)) {
            assertTrue(dm.allDirty(blk.offset(), blk.usedLength(),
                            dev.guestmem.dirty.DirtyMemory.MASK_MIGRATION | dev.guestmem.dirty.DirtyMemory.MASK_VGA),
                    "MIGRATION and VGA see the whole block dirty when start returns");
            long covered = invalidated.stream().filter(r -> r[0] >= blk.offset() && r[0] + r[1] <= blk.offset() + blk.usedLength())
                    .mapToLong(r -> r[1]).sum();
            assertEquals(blk.usedLength(), covered, "translations over the whole block invalidated");
            assertTrue(restore.awaitComplete(Duration.ofSeconds(30)));
            assertEquals(0x5555, blk.ldlHe(0x5000));
        }
    }

    /**
     * The audit's dirty-log probe with the rollback done lazily: an increment taken from the
     * MIGRATION log after the rollback holds the pages the rollback changed, so the chain restores
     * the memory after the rollback.
     */
    @Test
    void anIncrementTakenAfterALazyRollbackRestoresTheMemoryAfterTheRollback(@TempDir Path dir) throws Exception {
        dev.guestmem.MemorySystem sys = new dev.guestmem.MemorySystem();
        dev.guestmem.region.ContainerRegion root = new dev.guestmem.region.ContainerRegion(sys, null, "system",
                dev.guestmem.region.MemoryRegion.SIZE_2_64);
        dev.guestmem.region.RamRegion ram = dev.guestmem.region.RamRegion.allocate(sys, null, "ram", 16 * PAGE);
        root.addSubregion(0, ram);
        dev.guestmem.access.AddressSpace as = sys.addressSpace(root, "memory");
        RamBlock blk = ram.ramBlock();
        dev.guestmem.dirty.DirtyMemory dm = sys.dirtyMemory();
        int migration = dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_MIGRATION;
        List<SnapshotBlock> blocks = List.of(SnapshotBlock.of(blk));
        as.stlLe(0x1000, 0x1111);
        sys.globalDirtyLogStart();
        dm.snapshotAndClearDirty(blk.offset(), blk.usedLength(), migration);
        Path s0 = dir.resolve("s0.gms");
        long id0 = SnapshotWriter.write(s0, blocks, ProgressListener.NONE); // page 1 = 0x1111
        as.stlLe(0x1000, 0x2222);
        var l1 = dm.snapshotAndClearDirty(blk.offset(), blk.usedLength(), migration);
        Path i1 = dir.resolve("i1.gms");
        long id1 = SnapshotWriter.writeIncremental(i1, id0, blocks,
                java.util.Map.of("ram", dev.guestmem.snapshot.DirtyPages.ofDirtyLog(l1, blk.offset(), PAGE, 16)), ProgressListener.NONE);
        try (SnapshotFile f0 = SnapshotFile.open(s0);
             LazyRestore rollback = LazyRestore.start(SnapshotChain.of(f0), blocks, LazyRestore.Options.DEFAULT)) {
            assertTrue(rollback.awaitComplete(Duration.ofSeconds(30)));
        }
        assertEquals(0x1111, as.ldlLe(0x1000));
        var l2 = dm.snapshotAndClearDirty(blk.offset(), blk.usedLength(), migration);
        Path i2 = dir.resolve("i2.gms");
        SnapshotWriter.writeIncremental(i2, id1, blocks,
                java.util.Map.of("ram", dev.guestmem.snapshot.DirtyPages.ofDirtyLog(l2, blk.offset(), PAGE, 16)), ProgressListener.NONE);
        sys.globalDirtyLogStop();
        RamBlock check = RamBlock.anonymous("ram", 16 * PAGE);
        try (SnapshotFile f0 = SnapshotFile.open(s0); SnapshotFile f1 = SnapshotFile.open(i1); SnapshotFile f2 = SnapshotFile.open(i2);
             LazyRestore restore = LazyRestore.start(new SnapshotChain(List.of(f0, f1, f2)), List.of(SnapshotBlock.of(check)),
                     LazyRestore.Options.DEFAULT)) {
            assertTrue(restore.awaitComplete(Duration.ofSeconds(30)));
            assertEquals(0x1111, check.ldlHe(0x1000),
                    "s0+i1+i2 must give the memory at i2's time (after the rollback): the restore's writes were not logged");
        } finally {
            check.close();
        }
    }
}
