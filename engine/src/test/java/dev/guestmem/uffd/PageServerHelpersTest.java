package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The page server's helpers: partial-discard ranges ({@link CutRanges}), the EAGAIN back-off
 * ({@link EagainBackoff}), fault statistics ({@link FaultStats}) and the warm-up
 * ({@link PageServerWarmUp}, {@link CompilerThreads}).
 */
class PageServerHelpersTest {
    /**
     * Was: after the server read a REMOVE, every fill answered EAGAIN until the discarding thread
     * ran on, and the retry loops re-read the empty queue at full speed (a whole core of two the
     * discarding thread needed). Now a retry that read no event spins only a few rounds, then
     * yields, then sleeps on the queue.
     */
    @Test
    void anEagainRetryWithoutAnEventBacksOffFromSpinToYieldToSleep() {
        assertEquals(EagainBackoff.SPIN, EagainBackoff.after(0));
        assertEquals(EagainBackoff.SPIN, EagainBackoff.after(15));
        assertEquals(EagainBackoff.YIELD, EagainBackoff.after(16));
        assertEquals(EagainBackoff.YIELD, EagainBackoff.after(63));
        assertEquals(EagainBackoff.SLEEP, EagainBackoff.after(64));
        assertEquals(EagainBackoff.SLEEP, EagainBackoff.after(Integer.MAX_VALUE));
    }

    /** Partial cuts of a page merge: overlapping and adjacent ranges join, others stay apart, sorted. */
    @Test
    void cutsOfAPageMergeIntoSortedDisjointRanges() {
        long[] c = CutRanges.add(null, 4096, 8192);
        assertArrayEquals(new long[] {4096, 8192}, c);
        c = CutRanges.add(c, 12288, 16384);
        assertArrayEquals(new long[] {4096, 8192, 12288, 16384}, c);
        c = CutRanges.add(c, 0, 4096); // adjacent: joins
        assertArrayEquals(new long[] {0, 8192, 12288, 16384}, c);
        c = CutRanges.add(c, 8192, 12288); // fills the gap: one range, the whole 16 KiB page
        assertArrayEquals(new long[] {0, 16384}, c);
    }

    /** The service-time samples grow past their first array: every sample up to the cap counts in the percentiles. */
    @Test
    void faultStatsKeepEverySampleAsTheyGrow() {
        FaultStats stats = new FaultStats();
        for (long i = 3000; i >= 1; i--) {
            stats.sample(i);
        }
        FaultMetrics m = stats.metrics(new ServedPages(new long[] {1}));
        assertEquals(1501, m.p50Nanos());
        assertEquals(2701, m.p90Nanos());
        assertEquals(2971, m.p99Nanos());
        assertEquals(3000, m.maxNanos());
    }

    /**
     * The warm-up serves real faults with the real serve loop (at least one round of its scratch
     * pages), and leaves no descriptor, mapping of its snapshot, or file in /dev/shm behind.
     */
    @Test
    void warmUpServesRealFaultsAndLeavesNothingBehind() throws IOException {
        Files.deleteIfExists(Files.createTempFile("guestmem-helpers-", ".tmp")); // the JDK's random source, opened once for good
        java.util.Set<String> fds = openFiles();
        long files = count(Path.of("/dev/shm"), "guestmem-warm-up-");
        long served = PageServerWarmUp.run();
        assertTrue(served >= 256 && served % 256 == 0, "faults served: " + served);
        assertEquals(fds, openFiles(), "descriptors left open");
        assertEquals(files, count(Path.of("/dev/shm"), "guestmem-warm-up-"), "scratch snapshots left in /dev/shm");
        assertTrue(Files.readString(Path.of("/proc/self/maps")).lines().noneMatch(l -> l.contains("guestmem-warm-up-")),
                "the scratch snapshot is still mapped");
    }

    /**
     * Was: the first {@code recvmsg} of the server's connection ({@code LinuxCalls.recvWithFds},
     * after the warm-up) initialised the jextract struct classes, whose field handles are the
     * JVM's first {@code IndirectVarHandle}; loading that subclass of {@code VarHandle} invalidated
     * the warm-up's C2 code for every segment access (PrintCompilation: "made not entrant: marked
     * for deoptimization" of {@code AbstractMemorySegmentImpl::get/set} and the
     * {@code VarHandleGuards}), and the fault path was compiled again during the guest's first
     * faults. Now the warm-up passes a descriptor over a socket pair first, so the class is loaded
     * before its first fault ({@link FaultServer} is loaded at its first round).
     */
    @Test
    void theServersConnectionLoadsNoVarHandleClassAfterTheWarmUpsFirstFault() throws IOException {
        Path dir = Files.createTempDirectory("gm-warm-up-classes");
        Path log = dir.resolve("classes.log");
        Path snap = dir.resolve("one.gms");
        try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
            java.lang.foreign.MemorySegment page = a.allocate(4096, 4096);
            page.fill((byte) 1);
            dev.guestmem.snapshot.SnapshotWriter.write(snap,
                    java.util.List.of(new dev.guestmem.snapshot.SnapshotBlock("ram", page, 4096)),
                    dev.guestmem.snapshot.ProgressListener.NONE);
            try (dev.guestmem.snapshot.SnapshotFile f = dev.guestmem.snapshot.SnapshotFile.open(snap);
                 PageServerProcess server = PageServerProcess.start(java.util.List.of("-Xlog:class+load=info:file=" + log))) {
                server.preload(dev.guestmem.snapshot.SnapshotChain.of(f)); // the server's first recvWithFds
            }
            java.util.List<String> loaded = Files.readAllLines(log);
            int firstFault = indexOf(loaded, " dev.guestmem.uffd.FaultServer ");
            int indirect = indexOf(loaded, " java.lang.invoke.IndirectVarHandle ");
            assertTrue(firstFault >= 0 && indirect >= 0, "both classes loaded: " + firstFault + ", " + indirect);
            assertTrue(indirect < firstFault, "IndirectVarHandle loaded at line " + indirect
                    + " of the class-load log, after the warm-up's first fault (FaultServer, line " + firstFault + ")");
        } finally {
            Files.deleteIfExists(log);
            Files.deleteIfExists(snap);
            Files.deleteIfExists(dir);
        }
    }

    private static int indexOf(java.util.List<String> lines, String part) {
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).contains(part)) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Was: the warm-up stopped after 1.5 s whatever it had served; on a machine shared with
     * another session's jobs (autogroup scheduling: their nice does not yield to this one) that
     * was 256-3,072 faults, below C2's thresholds, and the fault path was compiled during the
     * guest's faults (C2 at 30-48 % of a core then). Now it serves at least
     * {@code MIN_ROUNDS} rounds unless its hard cap runs out; past them the 1.5 s budget applies.
     */
    @Test
    void theWarmUpServesItsMinimumRoundsPastItsTimeBudgetUpToItsHardCap() {
        long budget = PageServerWarmUp.MAX_ROUNDS_NANOS;
        assertTrue(PageServerWarmUp.keepWarming(0, Long.MAX_VALUE, PageServerWarmUp.ROUNDS), "the first round always runs");
        assertTrue(PageServerWarmUp.keepWarming(PageServerWarmUp.MIN_ROUNDS - 1, budget + 1, PageServerWarmUp.ROUNDS), "short of the minimum, past the budget");
        assertEquals(false, PageServerWarmUp.keepWarming(PageServerWarmUp.MIN_ROUNDS - 1, PageServerWarmUp.HARD_CAP_NANOS, PageServerWarmUp.ROUNDS),
                "the hard cap ends it");
        assertEquals(false, PageServerWarmUp.keepWarming(PageServerWarmUp.MIN_ROUNDS, budget, PageServerWarmUp.ROUNDS), "the minimum done, the budget spent");
        assertTrue(PageServerWarmUp.keepWarming(PageServerWarmUp.MIN_ROUNDS, budget - 1, PageServerWarmUp.ROUNDS), "the minimum done, budget left");
        assertEquals(false, PageServerWarmUp.keepWarming(PageServerWarmUp.ROUNDS, 0, PageServerWarmUp.ROUNDS), "all rounds done");
        assertTrue(PageServerWarmUp.MIN_ROUNDS * 256 >= 6000, "the minimum reaches C2's thresholds (-XX:Tier4CompileThreshold=2000)");
    }

    /**
     * {@code GUESTMEM_UFFD_WARMUP_ROUNDS} lowers the rounds where a server's start matters more
     * than its first faults (the test suite starts some hundred servers): the minimum follows it
     * down, 0 runs none, and a value that is not a number from 0 to the default is ignored.
     */
    @Test
    void theWarmUpRoundsCanBeLoweredButNotRaised() {
        assertEquals(PageServerWarmUp.ROUNDS, PageServerWarmUp.roundsAllowed(null));
        assertEquals(PageServerWarmUp.ROUNDS, PageServerWarmUp.roundsAllowed(""));
        assertEquals(2, PageServerWarmUp.roundsAllowed(" 2 "));
        assertEquals(0, PageServerWarmUp.roundsAllowed("0"));
        assertEquals(PageServerWarmUp.ROUNDS, PageServerWarmUp.roundsAllowed("-1"));
        assertEquals(PageServerWarmUp.ROUNDS, PageServerWarmUp.roundsAllowed("many"));
        assertEquals(PageServerWarmUp.ROUNDS, PageServerWarmUp.roundsAllowed(Integer.toString(PageServerWarmUp.ROUNDS + 1)));
        assertTrue(PageServerWarmUp.keepWarming(1, PageServerWarmUp.MAX_ROUNDS_NANOS + 1, 2), "short of a lowered maximum, the minimum follows it");
        assertEquals(false, PageServerWarmUp.keepWarming(2, 0, 2), "a lowered maximum ends it");
        assertEquals(false, PageServerWarmUp.keepWarming(0, 0, 0), "0 runs no round");
    }

    /** The warm-up's wait for the JIT sees this JVM's compiler threads (they have compiled something by now). */
    @Test
    void compilerThreadsRunTimeIsReadable() {
        assertTrue(CompilerThreads.runNanos() > 0);
    }

    /** What this process's descriptors point to. */
    private static java.util.Set<String> openFiles() throws IOException {
        java.util.Set<String> out = new java.util.TreeSet<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                try {
                    out.add(p.getFileName() + " -> " + Files.readSymbolicLink(p));
                } catch (IOException e) {
                    // the listing's own descriptor, closed by now
                }
            }
        }
        return out;
    }

    private static long count(Path dir, String prefix) throws IOException {
        if (!Files.isDirectory(dir)) {
            return 0;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith(prefix)).count();
        }
    }
}
