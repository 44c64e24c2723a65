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
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Defects found by a review of the lazy-restore changes (REMOVE events, ZEROPAGE refaults, unregister
 * at COMPLETE, file identity, escaping, dirty marking); each test failed before its fix (the page
 * server's items moved to {@link LazyRestoreRegressionTest}). Scenarios that can leave a thread stuck in a fault or in a discard
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
public class LazyRestoreReviewRegressionTest {
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
    // Was: a lazy start refused by the server (here: the snapshot was deleted after it was opened,
    // so the server cannot open it by path) had already dropped every page of the target and
    // registered it; the refusal then closed the restore, which poisoned every page, and kept the
    // block fault-prone for ever: the block's contents were gone and every access failed (SIGBUS,
    // MEMTX_ERROR through the engine). (An earlier fix only marked the block written for every
    // dirty client, so the logs knew its contents had changed.)
    // Now: the server checks its source before the guest drops or registers anything, so a refused
    // start changes nothing: the block keeps its bytes, is not fault-prone, and its dirty log is
    // as it was; it can be restored again.
    // ------------------------------------------------------------------------------------------
    @Test
    void aRefusedStartLeavesTheBlockAsItWas(@TempDir Path dir) throws Exception {
        dev.guestmem.MemorySystem sys = new dev.guestmem.MemorySystem();
        dev.guestmem.region.RamRegion ram = dev.guestmem.region.RamRegion.allocate(sys, null, "ram", 32 * PAGE);
        RamBlock blk = ram.ramBlock();
        dev.guestmem.dirty.DirtyMemory dm = sys.dirtyMemory();
        blk.stlHe(0x5000, 0x5555);
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(SnapshotBlock.of(blk)), ProgressListener.NONE);
        Path kept = dir.resolve("kept.gms");
        Files.copy(full, kept);
        blk.stlHe(0x5000, 0x6666); // after the snapshot: what the block must still hold
        for (int client = 0; client < dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_NUM; client++) {
            dm.resetDirty(blk.offset(), blk.usedLength(), client);
        }
        try (SnapshotFile f = SnapshotFile.open(full)) {
            Files.delete(full);
            try (LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(blk)),
                    LazyRestore.Options.DEFAULT)) {
                fail("started from a deleted file: " + restore);
            } catch (LazyRestoreException expected) {
                assertTrue(expected.getMessage().contains("full.gms"), expected.getMessage());
            }
        }
        assertTrue(!blk.canFault(), "the block stayed fault-prone after a refused start");
        assertEquals("0x6666", "0x" + Integer.toHexString(blk.ldlHe(0x5000)), "the block's bytes after a refused start");
        assertTrue(!dm.getDirty(blk.offset(), blk.usedLength(), dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_MIGRATION),
                "nothing changed, nothing to migrate again");
        try (SnapshotFile f = SnapshotFile.open(kept);
             LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(blk)),
                     LazyRestore.Options.DEFAULT)) {
            assertTrue(restore.awaitComplete(Duration.ofSeconds(30)), restore.toString());
            assertEquals(0x5555, blk.ldlHe(0x5000));
        }
    }

    // ------------------------------------------------------------------------------------------
    // Was: the alignment of each target was checked in the loop that drops and registers them, so a
    // misaligned second target was refused after the first had lost its pages (read as zeros once
    // the refusal closed the userfaultfd). Now every target is checked before any is touched.
    // ------------------------------------------------------------------------------------------
    @Test
    void aMisalignedTargetIsRefusedBeforeAnyTargetIsTouched(@TempDir Path dir) throws Exception {
        RamBlock srcA = RamBlock.anonymous("a", 16 * PAGE);
        RamBlock srcB = RamBlock.anonymous("b", 16 * PAGE);
        RamBlock dstA = RamBlock.anonymous("a", 16 * PAGE);
        RamBlock dstB = RamBlock.anonymous("b", 17 * PAGE);
        try {
            Path full = dir.resolve("full.gms");
            SnapshotWriter.write(full, List.of(SnapshotBlock.of(srcA), SnapshotBlock.of(srcB)), ProgressListener.NONE);
            dstA.stlHe(0x2000, 0x2222);
            SnapshotBlock misaligned = new SnapshotBlock("b", dstB.segment().asSlice(2048, 16 * PAGE), PAGE);
            try (SnapshotFile f = SnapshotFile.open(full)) {
                try (LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dstA), misaligned),
                        LazyRestore.Options.DEFAULT)) {
                    fail("started with a misaligned target: " + restore);
                } catch (LazyRestoreException expected) {
                    assertTrue(expected.getMessage().contains("not aligned"), expected.getMessage());
                }
            }
            assertTrue(!dstA.canFault(), "the first target stayed fault-prone");
            assertEquals("0x2222", "0x" + Integer.toHexString(dstA.ldlHe(0x2000)), "the first target's bytes after the refusal");
        } finally {
            srcA.close();
            srcB.close();
            dstA.close();
            dstB.close();
        }
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

    /** Runs {@link #main} in a child JVM, bounded (a stuck fault or discard would hang this one). */
    private static String child(String... args) throws Exception {
        ChildJvm.Result r = ChildJvm.run(LazyRestoreReviewRegressionTest.class, "512m", 180, args);
        assertTrue(r.ended(), "child JVM hung (killed after 180 s):\n" + r.output());
        return r.output();
    }
}
