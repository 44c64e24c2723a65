package dev.guestmem.bench.restore;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.uffdio_api;
import dev.guestmem.linux.uffdio_range;
import dev.guestmem.linux.uffdio_register;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotRestorer;
import dev.guestmem.snapshot.SnapshotWriter;
import dev.guestmem.uffd.LazyRestore;
import dev.guestmem.uffd.PageServerProcess;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * P10: lazy restore of a RAM snapshot with userfaultfd against an eager copy, in one run. Each
 * invocation is one restore into fresh anonymous memory ({@code SingleShotTime}); the snapshot is
 * written once per trial ({@code snapshotMiB}, 1024 by default as in TARGETS.md, 128 under
 * {@code --quick}).
 * <ul>
 *   <li>{@link #eagerFullCopy}: {@link SnapshotRestorer#restore} of every page into the fresh
 *       (known-zero) target: runs of stored pages copied from the read-only mapping (P10a and
 *       P10c's baseline).</li>
 *   <li>{@link #lazyFirstAccess}: {@link LazyRestore#start} with a page server (and its guardian)
 *       started and the snapshot preloaded at setup (the warm start), then one guest read of a
 *       random page: the time until the guest runs (P10a). Counted: sending the layout to guardian
 *       and server, the guardian's arming, the server's source set-up from the open files and its
 *       {@code ready}, the registration, and one fault served. Not counted: the two JVMs' start
 *       and the snapshot's open and check ({@link PageServerProcess#preload}).
 *       {@link #lazyFirstAccessNoPreload} counts the open and check too.</li>
 *   <li>{@link #javaRandomFaults} / {@link #cRandomFaults}: {@value #FAULTS} reads of distinct
 *       random pages (the same pages for both), each a MISSING fault served by the Java page server
 *       process or by the minimal gcc-built C handler process ({@link CPageHandler}), no prefetch
 *       (P10b: faults per second is {@value #FAULTS} over the time).</li>
 *   <li>{@link #lazySequentialPrefetch}: start, then read one word of every page in order while the
 *       server prefetches: whole-RAM bandwidth against the eager copy's (P10c).</li>
 * </ul>
 * Page verification is off for both restores: the two arms do the same integrity work.
 *
 * <p><b>Thread safety.</b> JMH runs each benchmark on one thread.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(1)
public class RestoreBench {
    /** Random pages touched by the fault-rate benchmarks. */
    public static final int FAULTS = 16384;
    static final long PAGE = 4096;
    static final String BLOCK = "pc.ram";
    static final LazyRestore.Options NO_PREFETCH = new LazyRestore.Options(false, false);
    static final LazyRestore.Options PREFETCH = new LazyRestore.Options(true, false);

    /** Creates the benchmark. */
    public RestoreBench() {
    }

    /** The snapshot, its raw image for the C handler, and the handler, made once per trial. */
    @State(Scope.Benchmark)
    public static class Snapshot {
        /** Snapshot size in MiB. */
        @Param("1024")
        public long snapshotMiB;

        long size;
        Path dir;
        Path image;
        SnapshotFile file;
        SnapshotChain chain;
        CPageHandler handler;
        long[] randomPages;
        long firstPage;

        /** Creates the state. */
        public Snapshot() {
        }

        /**
         * Writes the snapshot (every page non-zero, so both handlers copy every page) and builds
         * the C handler.
         *
         * @throws Exception if the files or gcc fail
         */
        @Setup(Level.Trial)
        public void setUp() throws Exception {
            size = snapshotMiB << 20;
            System.out.println("restore: snapshot of " + snapshotMiB + " MiB"
                    + (snapshotMiB < 1024 ? " (smaller than TARGETS' 1 GiB: a --quick or -p run)" : ""));
            dir = Files.createTempDirectory("gm-restore-bench");
            MemorySegment src = mapAnonymous(size);
            long x = 0x9e3779b97f4a7c15L;
            for (long o = 0; o < size; o += 8) {
                x ^= x << 13;
                x ^= x >>> 7;
                x ^= x << 17;
                src.set(ValueLayout.JAVA_LONG, o, x | 1);
            }
            Path snap = dir.resolve("ram.gms");
            SnapshotWriter.write(snap, List.of(new SnapshotBlock(BLOCK, src, PAGE)), ProgressListener.NONE);
            image = dir.resolve("ram.raw");
            int fd = LinuxCalls.open(image.toString(), Linux.O_RDWR() | Linux.O_CREAT() | Linux.O_TRUNC(), 0600);
            try {
                LinuxCalls.ftruncate(fd, size);
                MemorySegment img = LinuxCalls.mmap(MemorySegment.NULL, size, Linux.PROT_READ() | Linux.PROT_WRITE(),
                        Linux.MAP_SHARED(), fd, 0);
                MemorySegment.copy(src, 0, img, 0, size);
                LinuxCalls.munmap(img, size);
            } finally {
                LinuxCalls.close(fd);
            }
            LinuxCalls.munmap(src, size);
            file = SnapshotFile.open(snap);
            chain = SnapshotChain.of(file);
            handler = CPageHandler.build(dir);
            long pages = size / PAGE;
            SplittableRandom r = new SplittableRandom(7);
            long[] order = new long[(int) pages];
            for (int i = 0; i < order.length; i++) {
                order[i] = i;
            }
            for (int i = order.length - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                long t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            randomPages = java.util.Arrays.copyOf(order, Math.min(FAULTS, order.length));
            firstPage = order[order.length - 1];
        }

        /**
         * Removes the files.
         *
         * @throws IOException if they cannot be removed
         */
        @TearDown(Level.Trial)
        public void tearDown() throws IOException {
            file.close();
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : s.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
    }

    /** Fresh anonymous target memory for one restore. */
    @State(Scope.Thread)
    public static class Target {
        MemorySegment ram;
        long size;

        /** Creates the state. */
        public Target() {
        }

        /**
         * Maps the target.
         *
         * @param s the snapshot
         */
        @Setup(Level.Invocation)
        public void map(Snapshot s) {
            size = s.size;
            ram = mapAnonymous(size);
        }

        /** Unmaps it. */
        @TearDown(Level.Invocation)
        public void unmap() {
            LinuxCalls.munmap(ram, size);
        }

        List<SnapshotBlock> blocks() {
            return List.of(new SnapshotBlock(BLOCK, ram, PAGE));
        }
    }

    /**
     * A page server process started before the timed part, fresh target memory, and the restore
     * the benchmark starts. The state owns the target so that teardown ends the restore before the
     * memory is unmapped.
     */
    @State(Scope.Thread)
    public static class Server {
        /** Whether the server opens the snapshot at setup ({@link PageServerProcess#preload}), the warm start. */
        boolean preload = true;
        PageServerProcess server;
        LazyRestore restore;
        MemorySegment ram;
        long size;

        /** Creates the state. */
        public Server() {
        }

        /**
         * Maps the target and starts the server (a JVM start is not part of a restore's latency:
         * it runs ahead, as Firecracker's does).
         *
         * @param s the snapshot
         */
        @Setup(Level.Invocation)
        public void start(Snapshot s) {
            size = s.size;
            ram = mapAnonymous(size);
            server = PageServerProcess.start(List.of());
            if (preload) {
                server.preload(s.chain);
            }
        }

        /**
         * Lets the restore finish, ends it and the server, unmaps the target.
         *
         * @throws InterruptedException if interrupted while waiting
         */
        @TearDown(Level.Invocation)
        public void stop() throws InterruptedException {
            if (restore != null) {
                restore.awaitComplete(java.time.Duration.ofSeconds(120));
                restore.close();
                restore = null;
            }
            server.close();
            LinuxCalls.munmap(ram, size);
        }

        List<SnapshotBlock> blocks() {
            return List.of(new SnapshotBlock(BLOCK, ram, PAGE));
        }
    }

    /** A restore already registered with the Java page server, prefetch off, for the fault rate. */
    @State(Scope.Thread)
    public static class JavaFaulting {
        PageServerProcess server;
        LazyRestore restore;
        MemorySegment ram;
        long size;

        /** Creates the state. */
        public JavaFaulting() {
        }

        /**
         * Starts server and restore.
         *
         * @param s the snapshot
         */
        @Setup(Level.Invocation)
        public void start(Snapshot s) {
            size = s.size;
            ram = mapAnonymous(size);
            server = PageServerProcess.start(List.of());
            restore = LazyRestore.start(server, s.chain, List.of(new SnapshotBlock(BLOCK, ram, PAGE)), NO_PREFETCH);
        }

        /** Ends them (the untouched pages are never served: no prefetch), then unmaps. */
        @TearDown(Level.Invocation)
        public void stop() {
            restore.close();
            server.close();
            LinuxCalls.munmap(ram, size);
        }
    }

    /** The target registered on a userfaultfd served by the C handler process. */
    @State(Scope.Thread)
    public static class CFaulting {
        int uffd = -1;
        int listen = -1;
        int conn = -1;
        Process handler;
        String socket;
        MemorySegment ram;
        long size;

        /** Creates the state. */
        public CFaulting() {
        }

        /**
         * Registers the target and hands the uffd to a new handler process.
         *
         * @param s the snapshot
         * @throws IOException if the handler cannot start
         */
        @Setup(Level.Invocation)
        public void start(Snapshot s) throws IOException {
            size = s.size;
            ram = mapAnonymous(size);
            uffd = LinuxCalls.userfaultfd(Linux.O_CLOEXEC() | Linux.O_NONBLOCK());
            try (Arena a = Arena.ofConfined()) {
                MemorySegment api = uffdio_api.allocate(a);
                uffdio_api.api(api, Linux.UFFD_API());
                uffdio_api.features(api, 0);
                LinuxCalls.ioctl(uffd, Linux.UFFDIO_API(), api);
                MemorySegment reg = uffdio_register.allocate(a);
                uffdio_range.start(uffdio_register.range(reg), ram.address());
                uffdio_range.len(uffdio_register.range(reg), size);
                uffdio_register.mode(reg, Linux.UFFDIO_REGISTER_MODE_MISSING());
                LinuxCalls.ioctl(uffd, Linux.UFFDIO_REGISTER(), reg);
            }
            socket = s.dir.resolve("c-" + System.nanoTime() + ".sock").toString();
            listen = LinuxCalls.unixListen(socket);
            handler = s.handler.start(socket, s.image);
            conn = LinuxCalls.unixAccept(listen);
            LinuxCalls.sendWithFds(conn, (ram.address() + " " + size + "\n").getBytes(StandardCharsets.US_ASCII), uffd);
            LinuxCalls.Received ready = LinuxCalls.recvWithFds(conn, 1, 0);
            if (ready.data().length != 1) {
                throw new IllegalStateException("C handler did not start");
            }
        }

        /**
         * Hangs up (the handler exits) and closes the uffd.
         *
         * @throws InterruptedException if interrupted while waiting for the handler
         */
        @TearDown(Level.Invocation)
        public void stop() throws InterruptedException {
            LinuxCalls.close(conn);
            LinuxCalls.close(listen);
            if (!handler.waitFor(10, TimeUnit.SECONDS)) {
                handler.destroyForcibly();
            }
            LinuxCalls.close(uffd);
            LinuxCalls.munmap(ram, size);
            try {
                Files.deleteIfExists(Path.of(socket));
            } catch (IOException e) {
                // a stale socket file in the trial's temp dir is removed with it
            }
        }
    }

    static MemorySegment mapAnonymous(long size) {
        return LinuxCalls.mmap(MemorySegment.NULL, size, Linux.PROT_READ() | Linux.PROT_WRITE(),
                Linux.MAP_PRIVATE() | Linux.MAP_ANONYMOUS() | Linux.MAP_NORESERVE(), -1, 0);
    }

    /**
     * Eager restore: every page copied before the guest may run.
     *
     * @param s the snapshot
     * @param t the target
     * @return a restored word, so the copy is observable
     */
    @Benchmark
    public long eagerFullCopy(Snapshot s, Target t) {
        SnapshotRestorer.restore(s.chain, t.blocks(), false, true, ProgressListener.NONE);
        return t.ram.get(ValueLayout.JAVA_LONG, s.firstPage * PAGE);
    }

    /**
     * Lazy restore up to the guest's first completed access.
     *
     * @param s the snapshot
     * @param srv the running page server and target
     * @return the word read
     */
    @Benchmark
    public long lazyFirstAccess(Snapshot s, Server srv) {
        srv.restore = LazyRestore.start(srv.server, s.chain, srv.blocks(), PREFETCH);
        return srv.ram.get(ValueLayout.JAVA_LONG, s.firstPage * PAGE);
    }

    /** {@link Server} without the preload: the server opens the snapshot inside {@code LazyRestore.start}. */
    @State(Scope.Thread)
    public static class ColdServer extends Server {
        /** Creates the state. */
        public ColdServer() {
            preload = false;
        }
    }

    /**
     * Lazy restore up to the guest's first completed access, the server not preloaded (for
     * comparison: the snapshot files are opened and checked inside the timed part).
     *
     * @param s the snapshot
     * @param srv the running page server and target
     * @return the word read
     */
    @Benchmark
    public long lazyFirstAccessNoPreload(Snapshot s, ColdServer srv) {
        srv.restore = LazyRestore.start(srv.server, s.chain, srv.blocks(), PREFETCH);
        return srv.ram.get(ValueLayout.JAVA_LONG, s.firstPage * PAGE);
    }

    /**
     * {@value #FAULTS} random page faults served by the Java page server process.
     *
     * @param s the snapshot
     * @param j the registered restore and its target
     * @return a sum of the words read
     */
    @Benchmark
    public long javaRandomFaults(Snapshot s, JavaFaulting j) {
        return touch(s.randomPages, j.ram);
    }

    /**
     * The same faults served by the minimal C handler process.
     *
     * @param s the snapshot
     * @param c the registered uffd, handler and target
     * @return a sum of the words read
     */
    @Benchmark
    public long cRandomFaults(Snapshot s, CFaulting c) {
        return touch(s.randomPages, c.ram);
    }

    /**
     * Lazy restore with prefetch while the guest reads every page in order.
     *
     * @param s the snapshot
     * @param srv the running page server and target
     * @return a sum of the words read
     */
    @Benchmark
    public long lazySequentialPrefetch(Snapshot s, Server srv) {
        srv.restore = LazyRestore.start(srv.server, s.chain, srv.blocks(), PREFETCH);
        long sum = 0;
        for (long o = 0; o < srv.size; o += PAGE) {
            sum += srv.ram.get(ValueLayout.JAVA_LONG, o);
        }
        return sum;
    }

    private static long touch(long[] pages, MemorySegment ram) {
        long sum = 0;
        for (long p : pages) {
            sum += ram.get(ValueLayout.JAVA_LONG, p * PAGE);
        }
        return sum;
    }
}
