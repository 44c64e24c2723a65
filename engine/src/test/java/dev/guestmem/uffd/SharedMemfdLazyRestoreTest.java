package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.ram.RamBlock;
import dev.guestmem.share.RamShareServer;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A lazy restore into a memfd that another mapping also maps (a share peer, a vhost-user backend).
 * Only the restoring process's mapping is registered with the userfaultfd: an access through
 * another mapping to a page not yet restored fills the hole in the memfd (with zeros), the guest
 * then reads that page with no fault, and the page server's copy of it later answers EEXIST. A
 * second mapping of the memfd in this process, not registered, behaves for the kernel exactly as
 * another process's would, so no child process is needed.
 *
 * <p>The legitimate ways a copy meets a page already there (two faults on one page, a fault racing
 * the prefetch of its page, zero pages, a page discarded and faulted again) must still complete.
 */
class SharedMemfdLazyRestoreTest {
    private static final long PAGE = 4096;
    private static final long MIB = 1L << 20;

    // ------------------------------------------------------------------------------------------
    // Was: the page server took EEXIST on a page it had never served as "installed" and marked it
    // present: the restore reached COMPLETE, awaitComplete returned true, and the page held the
    // zeros the other mapping's read had put there instead of the snapshot's bytes, silently.
    // Now: the restore breaks, and the failure names the block and the page.
    // ------------------------------------------------------------------------------------------
    @Test
    void aPagePopulatedThroughAnotherMappingBeforeItWasRestoredBreaksTheRestore(@TempDir Path dir) throws Exception {
        long size = 4 * MIB;
        long last = size - PAGE; // page 1023: the prefetch, in address order, reaches it last
        RamBlock block = RamBlock.builder("ram0", size).memfd().build();
        RamBlock other = RamBlock.builder("ram0", size).fd(block.fd(), 0).build(); // not registered
        try {
            for (long o = 0; o < size; o += PAGE) {
                block.stqHe(o, 0x1122_3344_0000_0000L + o);
            }
            Path file = dir.resolve("full.gms");
            SnapshotWriter.write(file, List.of(SnapshotBlock.of(block)), ProgressListener.NONE);
            Path release = dir.resolve("release-prefetch");
            try (PageServerProcess server = PageServerProcess.start(List.of("-Dguestmem.uffd.test.holdPrefetch=" + release));
                 SnapshotFile f = SnapshotFile.open(file);
                 LazyRestore r = LazyRestore.start(server, SnapshotChain.of(f), List.of(SnapshotBlock.of(block)),
                         LazyRestore.Options.DEFAULT)) {
                long otherSaw = other.ldqHe(last); // fills the hole in the memfd, unseen by the userfaultfd
                long guestSaw = block.ldqHe(last); // no fault: the page is there
                assertEquals(0, otherSaw, "the other mapping reads a hole");
                assertEquals(0, guestSaw, "the kernel gives the guest the other mapping's page, with no fault");
                Files.createFile(release); // now the prefetch comes to page 1023
                LazyRestoreException e = assertThrows(LazyRestoreException.class,
                        () -> r.awaitComplete(Duration.ofSeconds(60)),
                        () -> "the page never got the snapshot's bytes (reads 0x" + Long.toHexString(block.ldqHe(last))
                                + "), yet the restore did not fail: " + r);
                assertEquals(LazyRestore.State.BROKEN, r.state());
                assertTrue(e.getMessage().contains("page 1023") && e.getMessage().contains("'ram0'")
                        && e.getMessage().contains("0x3ff000"), e.getMessage());
                assertTrue(r.failure().contains("populated outside the restore"), r.failure());
            }
        } finally {
            other.close();
            block.close();
        }
    }

    // ------------------------------------------------------------------------------------------
    // Prevention where the engine knows: a block whose descriptor RamShareServer handed to a peer
    // (and the peer's own view of it, mapped by SharedMachine.attach) may be mapped by another
    // process for as long as it lives, so a lazy restore into it is refused before anything is
    // touched, unless the caller vouches that the peers keep off it until the restore completes.
    // ------------------------------------------------------------------------------------------
    @Test
    void aBlockServedToAPeerIsRefusedUnlessThePeersAreSaidToKeepOff(@TempDir Path dir) throws Exception {
        String sock = "@guestmem-uffdpeer-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, MIB)));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            RamBlock block = m.blocks().getFirst();
            block.stqHe(0x1000, 0x77);
            Path file = dir.resolve("full.gms");
            SnapshotWriter.write(file, List.of(SnapshotBlock.of(block)), ProgressListener.NONE);
            block.stqHe(0x1000, 0x99);
            assertNull(block.mappedElsewhere(), "no peer served yet");
            Thread serving = Thread.ofPlatform().daemon().start(() -> server.serveOne(Duration.ofSeconds(10)));
            try (SharedMachine peer = SharedMachine.attach(sock, Duration.ofSeconds(10));
                 SnapshotFile f = SnapshotFile.open(file)) {
                serving.join();
                assertNotNull(block.mappedElsewhere());
                assertNotNull(peer.blocks().getFirst().mappedElsewhere(), "the peer's view: the server's process maps it too");
                for (RamBlock target : List.of(block, peer.blocks().getFirst())) {
                    LazyRestoreException e = assertThrows(LazyRestoreException.class, () -> LazyRestore.start(
                            SnapshotChain.of(f), List.of(SnapshotBlock.of(target)), LazyRestore.Options.DEFAULT));
                    assertTrue(e.getMessage().contains("'ram0'") && e.getMessage().contains("withPeersQuiescent"), e.getMessage());
                    assertEquals(0x99, target.ldqHe(0x1000), "a refused start changes nothing");
                    assertFalse(target.canFault(), "a refused start leaves the block unfenced");
                }
                try (LazyRestore r = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(block)),
                        LazyRestore.Options.DEFAULT.withPeersQuiescent())) {
                    assertTrue(r.awaitComplete(Duration.ofSeconds(60)), r.toString());
                    assertEquals(0x77, block.ldqHe(0x1000));
                    assertEquals(0x77, peer.blocks().getFirst().ldqHe(0x1000), "the peer shares the restored page");
                }
            }
        }
    }

    // ------------------------------------------------------------------------------------------
    // The legitimate EEXIST answers (a page installed by a fault and then by the prefetch or a
    // second fault, a zero page, a page discarded and faulted again) on a memfd and on anonymous
    // memory (where zero pages go in with UFFDIO_ZEROPAGE): the restore completes, every page holds
    // the snapshot's bytes, or zeros where it was discarded.
    // ------------------------------------------------------------------------------------------
    @Test
    void racingFaultsPrefetchZeroPagesAndDiscardsStillCompleteOnAMemfd(@TempDir Path dir) throws Exception {
        restoreUnderRacingAccess(dir, RamBlock.builder("ram", 8 * MIB).memfd().build());
    }

    @Test
    void racingFaultsPrefetchZeroPagesAndDiscardsStillCompleteOnAnonymousMemory(@TempDir Path dir) throws Exception {
        restoreUnderRacingAccess(dir, RamBlock.anonymous("ram", 8 * MIB));
    }

    /** Every third page a zero page; the rest hold their offset. */
    private static long expected(long o) {
        return (o / PAGE) % 3 == 0 ? 0 : 0x5a00_0000_0000L + o;
    }

    private static void restoreUnderRacingAccess(Path dir, RamBlock block) throws Exception {
        long size = block.usedLength();
        long pages = size / PAGE;
        int rounds = Integer.getInteger("guestmem.test.sharedMemfdRounds", 1);
        try {
            for (int round = 0; round < rounds; round++) {
                for (long o = 0; o < size; o += PAGE) {
                    block.stqHe(o, expected(o));
                }
                Path file = dir.resolve("full" + round + ".gms");
                SnapshotWriter.write(file, List.of(SnapshotBlock.of(block)), ProgressListener.NONE);
                for (long o = 0; o < size; o += PAGE) {
                    block.stqHe(o, -1); // what the rollback must undo
                }
                boolean[] discarded = new boolean[(int) pages];
                for (long p = 5; p < pages; p += 97) {
                    discarded[(int) p] = true;
                }
                try (SnapshotFile f = SnapshotFile.open(file);
                     LazyRestore r = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(block)),
                             LazyRestore.Options.DEFAULT)) {
                    List<Thread> threads = new ArrayList<>();
                    for (int t = 0; t < 4; t++) { // the same pages from several threads, against the prefetch
                        threads.add(Thread.ofPlatform().start(() -> {
                            ThreadLocalRandom rnd = ThreadLocalRandom.current();
                            for (int i = 0; i < 2000; i++) {
                                block.ldqHe(rnd.nextLong(pages) * PAGE);
                            }
                        }));
                    }
                    threads.add(Thread.ofPlatform().start(() -> { // discard, then fault again
                        for (long p = 0; p < pages; p++) {
                            if (discarded[(int) p]) {
                                block.ldqHe(p * PAGE);
                                block.discard(p * PAGE, PAGE);
                                block.ldqHe(p * PAGE);
                            }
                        }
                    }));
                    for (Thread t : threads) {
                        t.join();
                    }
                    assertTrue(r.awaitComplete(Duration.ofSeconds(60)), r.toString());
                    for (long p = 0; p < pages; p++) {
                        long want = discarded[(int) p] ? 0 : expected(p * PAGE);
                        assertEquals(want, block.ldqHe(p * PAGE), "page " + p + " of round " + round);
                    }
                }
            }
        } finally {
            block.close();
        }
    }
}
