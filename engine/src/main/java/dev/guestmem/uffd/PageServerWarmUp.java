package dev.guestmem.uffd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotWriter;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The page server's warm-up of its fault path, before it connects: the real serve loop
 * ({@link FaultServer}) serves real faults on a scratch region from a real snapshot source.
 *
 * <p>Why the real path and not only its system calls: the methods of the serve loop above the
 * system calls (queue reading, bookkeeping, the snapshot lookup) would otherwise be interpreted,
 * then compiled by C1 and C2 during the guest's first thousands of faults, the compiler threads
 * taking CPU from the guest on a small machine; and code compiled for plain native segments only
 * is thrown away (deoptimized) when the snapshot's file mapping, another segment class, first
 * shows up.
 */
final class PageServerWarmUp {
    private static final boolean DEBUG = Boolean.getBoolean("guestmem.uffd.debug");
    /** Scratch pages faulted per round. */
    private static final int PAGES = 256;
    /**
     * Rounds: about 12,000 faults, past C2's compile thresholds for the per-fault methods, unless
     * {@link #MAX_ROUNDS_NANOS} runs out first (a loaded machine) after {@link #MIN_ROUNDS}.
     */
    static final int ROUNDS = 48;
    static final long MAX_ROUNDS_NANOS = 1_500_000_000;
    /** Rounds served even past {@link #MAX_ROUNDS_NANOS}. */
    static final int MIN_ROUNDS = 24;
    /** The environment variable that lowers {@link #ROUNDS}; inherited by the server from its guest's process. */
    static final String ROUNDS_VARIABLE = "GUESTMEM_UFFD_WARMUP_ROUNDS";
    /** The longest the rounds may take. */
    static final long HARD_CAP_NANOS = 6_000_000_000L;
    /**
     * Threads faulting at once: the serve loop finds that many faults per wake-up, so a round
     * costs a few thread round trips rather than one per page.
     */
    private static final int TOUCHERS = 16;
    /** How long the compiler threads must stay idle for the warm-up's compilations to count as done. */
    private static final long QUIET_NANOS = 30_000_000;
    /** The longest wait for them. */
    private static final long MAX_WAIT_NANOS = 1_000_000_000;

    private PageServerWarmUp() {
    }

    /**
     * Runs {@link #ROUNDS} rounds (see {@link #roundsAllowed}) of {@link #PAGES} faults, then waits (at most
     * {@link #MAX_WAIT_NANOS}) until the JIT compilers are idle, so that they do not compile the
     * warm-up's methods while the guest faults. The faults are real (only real faults give the
     * compiled code the branches a guest's faults take; code compiled without them is thrown away
     * at the first guest fault), made by helper threads through {@code write(2)} from the scratch
     * region into a socket: the kernel's read of the region faults, and the thread waits in native
     * code, where it never holds up a safepoint (ARCHITECTURE.md hazard 1 is a Java thread
     * touching a registered page). The server starts ahead of the restore, so this time is not the
     * guest's. Best effort: any failure just skips it.
     *
     * @return faults served (0 if the warm-up was skipped)
     */
    static long run() {
        int maxRounds = roundsAllowed(System.getenv(ROUNDS_VARIABLE));
        if (maxRounds == 0) {
            return 0;
        }
        long t0 = System.nanoTime();
        long len = PAGES * Uffd.BASE_PAGE;
        MemorySegment region = null;
        Uffd u = null;
        PageSource source = null;
        int[] ctl = null;
        int[] data = null;
        long served = 0;
        try (Arena a = Arena.ofConfined()) {
            Path snap = scratchSnapshot(a, len);
            u = Uffd.open(new long[1], false); // no REMOVE events: the madvise below would wait for this thread
            region = LinuxCalls.mmap(MemorySegment.NULL, len, Linux.PROT_READ() | Linux.PROT_WRITE(),
                    Linux.MAP_PRIVATE() | Linux.MAP_ANONYMOUS(), -1, 0);
            u.registerMissing(region.address(), len);
            ServerLayout layout = ServerLayout.parse(List.of(List.of("source", "snapshot", snap.toString()),
                    List.of("block", "warm-up", Long.toString(region.address()), Long.toString(len), Long.toString(Uffd.BASE_PAGE)),
                    List.of("prefetch", "0"), List.of("verify", "0")));
            try {
                source = layout.openSource(null, null);
            } finally {
                Files.deleteIfExists(snap); // the mapping stays
            }
            layout.registered(List.of("zeropage", "1"));
            ctl = LinuxCalls.socketpair();
            data = LinuxCalls.socketpair();
            passDescriptor(data);
            int rounds = 0;
            while (keepWarming(rounds, System.nanoTime() - t0, maxRounds)) {
                try (FaultServer server = new FaultServer(u, new Wire(ctl[0]), layout, source, Long.MAX_VALUE)) {
                    Thread toucher = touch(region, data, ctl[1]);
                    server.run();
                    toucher.join();
                }
                rounds++;
                served += PAGES;
                // the serve loops' ready and done lines (some 7 KiB in all) wait unread in ctl[1]
                LinuxCalls.madvise(region, len, Linux.MADV_DONTNEED());
            }
            long t1 = System.nanoTime();
            boolean quiet = CompilerThreads.awaitIdle(QUIET_NANOS, MAX_WAIT_NANOS);
            if (DEBUG) {
                System.err.printf("page server: warmed up (%d faults, %.0f ms; compilers %s after %.0f ms more)%n",
                        (long) rounds * PAGES, (t1 - t0) / 1e6, quiet ? "idle" : "still busy", (System.nanoTime() - t1) / 1e6);
            }
        } catch (RuntimeException | IOException | InterruptedException e) {
            if (DEBUG) {
                System.err.println("page server: warm-up skipped: " + e);
            }
        } finally {
            if (u != null) {
                u.close(); // a toucher still waiting on a page is woken (and reads a zero page)
            }
            if (source != null) {
                source.close();
            }
            for (int[] pair : new int[][] {ctl, data}) {
                if (pair != null) {
                    LinuxCalls.close(pair[0]);
                    LinuxCalls.close(pair[1]);
                }
            }
            if (region != null) {
                LinuxCalls.munmap(region, len);
            }
        }
        return served;
    }

    /**
     * Passes a descriptor over {@code pair} and back, as the server's connection does next
     * ({@link LinuxCalls#recvWithFds}), before the first fault: its struct classes hold the JVM's
     * first {@code IndirectVarHandle}, and loading that class later marks the rounds' compiled
     * segment accesses for deoptimization, so the fault path would be compiled again during the
     * guest's faults (measured: 300-480 ms of C2 per 16,384 faults).
     */
    private static void passDescriptor(int[] pair) {
        LinuxCalls.sendWithFds(pair[0], new byte[] {0}, pair[0]);
        for (int fd : LinuxCalls.recvWithFds(pair[1], 1, 1).fds()) {
            LinuxCalls.close(fd);
        }
    }

    /**
     * Whether to run another round after {@code rounds} rounds in {@code elapsedNanos}: up to
     * {@code maxRounds} ({@link #ROUNDS} unless lowered, see {@link #roundsAllowed}) within {@link #MAX_ROUNDS_NANOS}, but at least {@link #MIN_ROUNDS} unless
     * {@link #HARD_CAP_NANOS} runs out. The minimum is counted in faults, not time: on a machine
     * shared with another session's jobs (whose nice does not yield to this process under
     * autogroup scheduling) 1.5 s served as few as 256 faults, below C2's thresholds, and the
     * fault path was then compiled during the guest's faults.
     */
    static boolean keepWarming(int rounds, long elapsedNanos, int maxRounds) {
        if (rounds >= maxRounds) {
            return false;
        }
        if (rounds < Math.min(MIN_ROUNDS, maxRounds)) {
            return rounds == 0 || elapsedNanos < HARD_CAP_NANOS;
        }
        return elapsedNanos < MAX_ROUNDS_NANOS;
    }

    /**
     * The rounds to run at most: {@link #ROUNDS}, or fewer as {@value #ROUNDS_VARIABLE} says (0:
     * none), where a server's start matters more than its first faults' latency (the test suite
     * starts some hundred servers). A value that is not a number from 0 to {@link #ROUNDS} is
     * ignored.
     *
     * @param value the variable's value, or null
     */
    static int roundsAllowed(String value) {
        if (value == null) {
            return ROUNDS;
        }
        try {
            int n = Integer.parseInt(value.strip());
            return n >= 0 && n <= ROUNDS ? n : ROUNDS;
        } catch (NumberFormatException e) {
            return ROUNDS;
        }
    }

    /** A snapshot of {@code len} bytes of non-zero pages, in /dev/shm if there is one. */
    private static Path scratchSnapshot(Arena a, long len) throws IOException {
        MemorySegment bytes = a.allocate(len, Uffd.BASE_PAGE);
        for (long o = 0; o < len; o += 8) {
            bytes.set(ValueLayout.JAVA_LONG, o, o | 1);
        }
        Path shm = Path.of("/dev/shm");
        Path dir = Files.isDirectory(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
        removeOrphans(dir);
        Path snap = scratchFile(dir);
        SnapshotWriter.write(snap, List.of(new SnapshotBlock("warm-up", bytes, Uffd.BASE_PAGE)), ProgressListener.NONE);
        return snap;
    }

    /** Name prefix of the scratch snapshots; the process id and a random part follow. */
    static final String SCRATCH_PREFIX = "guestmem-warm-up-";

    /** Creates an empty scratch file in {@code dir} named after this process (see {@link #removeOrphans}). */
    static Path scratchFile(Path dir) throws IOException {
        return Files.createTempFile(dir, SCRATCH_PREFIX + ProcessHandle.current().pid() + "-", ".gms");
    }

    /**
     * Deletes the scratch snapshots (and their writer's {@code .tmp} files) of processes that are gone:
     * a server killed between writing its scratch snapshot and deleting it once mapped left 1 MiB
     * behind in /dev/shm for good. Best effort: a file another process deletes first is skipped.
     *
     * @param dir the scratch directory
     * @return how many files were deleted
     */
    static int removeOrphans(Path dir) {
        int removed = 0;
        try (var files = Files.newDirectoryStream(dir, SCRATCH_PREFIX + "*")) {
            for (Path f : files) {
                String rest = f.getFileName().toString().substring(SCRATCH_PREFIX.length());
                int dash = rest.indexOf('-');
                long pid;
                try {
                    pid = dash > 0 ? Long.parseLong(rest.substring(0, dash)) : -1;
                } catch (NumberFormatException e) {
                    continue;
                }
                if (pid > 0 && ProcessHandle.of(pid).isEmpty() && Files.deleteIfExists(f)) {
                    removed++;
                }
            }
        } catch (IOException | RuntimeException e) {
            // best effort: the warm-up goes on without the clean-up
        }
        return removed;
    }

    /**
     * Starts the threads that fault every page of {@code region} once ({@link #TOUCHERS} at once,
     * each a byte of its pages written into {@code data[0]} and read back from {@code data[1]}),
     * and the one that tells the serve loop {@code quit} once they are done.
     */
    private static Thread touch(MemorySegment region, int[] data, int ctlPeer) {
        return Thread.ofPlatform().name("page-server-warm-up").daemon().start(() -> {
            Thread[] touchers = new Thread[TOUCHERS];
            for (int t = 0; t < TOUCHERS; t++) {
                long first = t * Uffd.BASE_PAGE;
                touchers[t] = Thread.ofPlatform().name("page-server-warm-up-" + t).daemon().start(() -> {
                    try (Arena a = Arena.ofConfined()) {
                        MemorySegment sink = a.allocate(1);
                        for (long off = first; off < region.byteSize(); off += TOUCHERS * Uffd.BASE_PAGE) {
                            if (Linux.write(data[0], region.asSlice(off, 1), 1) != 1 || Linux.read(data[1], sink, 1) != 1) {
                                return; // the warm-up failed: the serve loop is told to stop all the same
                            }
                        }
                    }
                });
            }
            for (Thread t : touchers) {
                try {
                    t.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            try (Arena a = Arena.ofConfined()) {
                MemorySegment quit = a.allocateFrom("quit\n");
                Linux.write(ctlPeer, quit, quit.byteSize() - 1);
            }
        });
    }
}
