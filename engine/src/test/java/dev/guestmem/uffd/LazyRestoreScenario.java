package dev.guestmem.uffd;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotWriter;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A guest JVM for {@link LazyRestoreTest}: runs one lazy-restore scenario and prints
 * {@code RESULT key=value...}. It runs in its own process so the test can bound it with a timeout
 * even if the whole JVM deadlocks at a safepoint (which a JUnit timeout could not do).
 * Modes: {@code storm MIB PREFETCH SECONDS}, {@code kill-server}, {@code kill-server-slow-watchdog},
 * {@code kill-server-monitor-held}, {@code kill-source}, {@code kill-server-gc},
 * {@code kill-guardian-then-server}, {@code close-then-await}, {@code engine},
 * {@code engine-kill-server}.
 */
public final class LazyRestoreScenario {
    static final long PAGE = 4096;

    private LazyRestoreScenario() {
    }

    /**
     * Runs a scenario.
     *
     * @param args mode and its arguments
     * @throws Exception on failure (exit code 1)
     */
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("guestmem-lazy");
        try {
            switch (args[0]) {
                case "storm" -> storm(dir, Long.parseLong(args[1]) << 20, args[2].equals("1"), Integer.parseInt(args[3]));
                case "kill-server" -> killServer(dir, Hold.NONE);
                case "kill-server-slow-watchdog" -> killServer(dir, Hold.VERDICT);
                case "kill-server-monitor-held" -> killServer(dir, Hold.MONITOR);
                case "kill-source" -> killSource(dir);
                case "kill-server-gc" -> killServerUnderGc(dir);
                case "kill-guardian-then-server" -> killGuardianThenServer(dir);
                case "close-then-await" -> closeThenAwait(dir);
                case "engine" -> throughTheEngine(dir, false);
                case "engine-kill-server" -> throughTheEngine(dir, true);
                default -> throw new IllegalArgumentException(args[0]);
            }
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(dir);
        }
        System.exit(0);
    }

    static MemorySegment mapAnonymous(long size) {
        return LinuxCalls.mmap(MemorySegment.NULL, size, Linux.PROT_READ() | Linux.PROT_WRITE(),
                Linux.MAP_PRIVATE() | Linux.MAP_ANONYMOUS() | Linux.MAP_NORESERVE(), -1, 0);
    }

    /** Source RAM: one page in four zero, the others a per-page pattern with random noise. */
    static MemorySegment makeSource(long size, long seed) {
        MemorySegment src = mapAnonymous(size);
        Random r = new Random(seed);
        for (long p = 0; p < size / PAGE; p++) {
            if (p % 4 == 3) {
                continue;
            }
            long base = p * PAGE;
            long x = r.nextLong();
            for (long o = 0; o < PAGE; o += 8) {
                x = x * 6364136223846793005L + 1442695040888963407L;
                src.set(ValueLayout.JAVA_LONG, base + o, x ^ p);
            }
        }
        return src;
    }

    static Path snapshot(Path dir, MemorySegment src) {
        Path file = dir.resolve("ram.gms");
        SnapshotWriter.write(file, List.of(new SnapshotBlock("pc.ram", src, PAGE)), ProgressListener.NONE);
        return file;
    }

    private static void storm(Path dir, long size, boolean prefetch, int seconds) throws Exception {
        MemorySegment src = makeSource(size, 42);
        Path file = snapshot(dir, src);
        MemorySegment target = mapAnonymous(size);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong gcs = new AtomicLong();
        try (SnapshotFile f = SnapshotFile.open(file);
                PageServerProcess server = PageServerProcess.start(List.of());
                LazyRestore restore = LazyRestore.start(server, SnapshotChain.of(f),
                        List.of(new SnapshotBlock("pc.ram", target, PAGE)), new LazyRestore.Options(prefetch, true))) {
            // the storm starts once the restore is registered: every fault below is served under it
            List<Thread> storm = new ArrayList<>();
            storm.add(Thread.ofPlatform().daemon().start(() -> {
                while (!stop.get()) {
                    System.gc();
                    gcs.incrementAndGet();
                }
            }));
            storm.add(Thread.ofPlatform().daemon().start(() -> {
                List<byte[]> keep = new ArrayList<>();
                Random r = new Random();
                while (!stop.get()) {
                    keep.add(new byte[1 + r.nextInt(64 << 10)]);
                    if (keep.size() > 200) {
                        keep.subList(0, 100).clear();
                    }
                }
            }));
            long pages = size / PAGE;
            AtomicLong mismatches = new AtomicLong();
            AtomicLong touched = new AtomicLong();
            // the storm runs at least this long, through and after the restore
            long stormUntil = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            List<Thread> readers = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                long seed = t;
                readers.add(Thread.ofPlatform().start(() -> {
                    Random r = new Random(seed);
                    // each reader walks a random permutation of the pages, checking every byte
                    long[] order = new long[(int) pages];
                    for (int i = 0; i < order.length; i++) {
                        order[i] = i;
                    }
                    for (int i = order.length - 1; i > 0; i--) {
                        int j = r.nextInt(i + 1);
                        long tmp = order[i];
                        order[i] = order[j];
                        order[j] = tmp;
                    }
                    for (long p : order) {
                        MemorySegment got = target.asSlice(p * PAGE, PAGE);
                        if (got.mismatch(src.asSlice(p * PAGE, PAGE)) != -1) {
                            mismatches.incrementAndGet();
                        }
                        touched.incrementAndGet();
                    }
                }));
            }
            for (Thread t : readers) {
                t.join();
            }
            boolean complete = restore.awaitComplete(java.time.Duration.ofSeconds(60));
            while (System.nanoTime() < stormUntil) {
                Thread.sleep(10);
            }
            long whole = target.mismatch(src);
            FaultMetrics m = restore.metrics();
            stop.set(true);
            System.out.println("RESULT mismatches=" + mismatches.get() + " whole=" + whole + " complete=" + complete
                    + " touched=" + touched.get() + " gcs=" + gcs.get() + " " + m.toWire());
            System.out.println("METRICS " + m);
        }
    }

    private static void signal(long pid, String sig) throws Exception {
        new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).inheritIO().start().waitFor();
    }

    /** Touches a page on a new thread; returns what happened within the time limit. */
    private static String touch(MemorySegment target, long page, long timeoutMillis) throws Exception {
        AtomicReference<String> result = new AtomicReference<>("hang");
        Thread t = Thread.ofPlatform().daemon().start(() -> {
            try {
                result.set("value=" + target.get(ValueLayout.JAVA_LONG, page * PAGE));
            } catch (InternalError e) {
                result.set("error=" + e.getClass().getSimpleName());
            }
        });
        t.join(timeoutMillis);
        return result.get();
    }

    /**
     * Waits until the restore has ended and its failure report is whole: the guardian can unblock a
     * waiting access before the guest's watchdog has recorded the server's death. A failed restore
     * is expected here; callers read it through {@code failure()}.
     *
     * @return how the wait ended: {@code broken} (awaitComplete threw), {@code complete}, or
     *     {@code timeout} (it returned false: the state read after it is not final, and the
     *     scenario says so rather than report that state as the restore's end)
     */
    private static String awaitEnd(LazyRestore restore) throws InterruptedException {
        try {
            return restore.awaitComplete(java.time.Duration.ofSeconds(20)) ? "complete" : "timeout";
        } catch (LazyRestoreException e) {
            return "broken"; // expected: reported through failure()
        }
    }

    /**
     * Starts a process that SIGKILLs {@code pid} after {@code millis}. Started before the access
     * that is to wait: once a thread waits on a fault, any safepoint or handshake of this JVM
     * (a GC, a deoptimisation after class loading) stops this JVM's other threads until the fault
     * is resolved, so a kill sent from here afterwards might never be sent (hazard 1).
     */
    private static Process killLater(long pid, long millis) throws Exception {
        return new ProcessBuilder("sh", "-c", "sleep " + (millis / 1000.0) + "; kill -KILL " + pid).inheritIO().start();
    }

    /** What {@link #killServer} holds while the server dies. */
    private enum Hold {
        /** Nothing. */
        NONE,
        /**
         * The watchdog's verdict ({@link LazyRestore#holdVerdictUntil}), from before the kill is
         * scheduled until after the failed accesses, so the guardian's poison (which fails them)
         * deterministically comes first, as it can under load. The state read right after the
         * failed access is then still RESTORING; only {@link LazyRestore#awaitComplete} says the
         * restore broke.
         */
        VERDICT,
        /**
         * The restore's monitor, as user code may, from before the kill until after
         * {@link LazyRestore#awaitComplete}: the watchdog must record the death all the same.
         */
        MONITOR
    }

    /**
     * A restore closed before it finished: a thread waiting in {@link LazyRestore#awaitComplete}
     * with a long timeout must be let go by {@link LazyRestore#close}, not left to run out its
     * timeout. Prints {@code waited=returned-false} when it was, {@code waited=hang} when it was
     * still waiting 20 s after the close.
     */
    private static void closeThenAwait(Path dir) throws Exception {
        long size = 16L << 20;
        MemorySegment src = makeSource(size, 5);
        Path file = snapshot(dir, src);
        MemorySegment target = mapAnonymous(size);
        AtomicReference<String> waited = new AtomicReference<>("hang");
        Thread waiter;
        String state;
        try (SnapshotFile f = SnapshotFile.open(file);
                PageServerProcess server = PageServerProcess.start(List.of())) {
            LazyRestore restore = LazyRestore.start(server, SnapshotChain.of(f),
                    List.of(new SnapshotBlock("pc.ram", target, PAGE)), new LazyRestore.Options(false, false));
            try {
                waiter = Thread.ofPlatform().daemon().start(() -> {
                    try {
                        waited.set("returned-" + restore.awaitComplete(java.time.Duration.ofMinutes(10)));
                    } catch (LazyRestoreException e) {
                        waited.set("threw");
                    } catch (InterruptedException e) {
                        waited.set("interrupted");
                    }
                });
            } finally {
                restore.close(); // no page touched, no prefetch: the restore was still running
            }
            state = restore.state().toString();
        }
        waiter.join(20_000);
        System.out.println("RESULT waited=" + waited.get() + " state=" + state);
    }

    /**
     * A restore of a RAM block mapped in an address space, named with {@link SnapshotBlock#of}: the
     * block is fault-prone (its sections fenced, no direct TLB entry) while the restore runs, and
     * direct again once {@link LazyRestore#awaitComplete} has returned true. With {@code kill}, the
     * server stalls after the first fault and is SIGKILLed while a guest access waits; a loop
     * compiled beforehand then reads and writes missing (poisoned) pages through the address space:
     * every access must answer ERROR and none throw. Prints {@code fencedDuring}, {@code
     * directAfter}, the values checked, and for kills {@code waiting}, {@code errors}, {@code
     * escaped} and {@code broken}.
     */
    private static void throughTheEngine(Path dir, boolean kill) throws Exception {
        long size = 16L << 20;
        MemorySegment src = makeSource(size, 13);
        Path file = snapshot(dir, src);
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        AddressSpace as = sys.addressSpace(root, "memory");
        RamBlock block = RamBlock.anonymous("pc.ram", size);
        root.addSubregion(0, new RamRegion(sys, null, "pc.ram", block, false, false));
        MemTxResultHolder res = new MemTxResultHolder();
        MemTxAttrs u = MemTxAttrs.UNSPECIFIED;
        boolean directBefore = direct(as, 0);
        List<String> serverArgs = kill ? List.of("-Dguestmem.uffd.stallAfterFaults=1") : List.of();
        StringBuilder out = new StringBuilder();
        try (SnapshotFile f = SnapshotFile.open(file);
                PageServerProcess server = PageServerProcess.start(serverArgs);
                LazyRestore restore = LazyRestore.start(server, SnapshotChain.of(f), List.of(SnapshotBlock.of(block)),
                        new LazyRestore.Options(!kill, true))) {
            out.append(" directBefore=").append(directBefore).append(" fencedDuring=")
                    .append(block.canFault() && !direct(as, 0));
            long page5 = as.ldqLe(5 * PAGE, u, res); // the one fault the stalling server serves
            out.append(" page5=").append(page5 == src.get(ValueLayout.JAVA_LONG, 5 * PAGE) && res.get() == 0 ? "ok" : "bad");
            if (!kill) {
                boolean complete = restore.awaitComplete(java.time.Duration.ofSeconds(60));
                long mismatches = 0;
                for (long p = 0; p < size / PAGE; p++) {
                    if (as.ldqLe(p * PAGE + 8, u, res) != src.get(ValueLayout.JAVA_LONG, p * PAGE + 8) || res.get() != 0) {
                        mismatches++;
                    }
                }
                out.append(" complete=").append(complete).append(" directAfter=").append(!block.canFault() && direct(as, 0))
                        .append(" mismatches=").append(mismatches);
            } else {
                long sum = 0;
                for (int i = 0; i < 200_000; i++) { // compile the access loop on the present page
                    sum += as.ldqLe(5 * PAGE + ((i * 8L) & 0xFF8), u, res);
                }
                out.append(" warm=").append(sum != 0);
                Process killer = killLater(server.pid(), 1000);
                AtomicReference<String> waiting = new AtomicReference<>("hang");
                Thread waiter = Thread.ofPlatform().daemon().start(() -> {
                    MemTxResultHolder r = new MemTxResultHolder();
                    try {
                        as.ldqLe(9 * PAGE, u, r); // missing: waits on the stalled server, then poisoned
                        waiting.set("result=" + r.get());
                    } catch (InternalError e) {
                        waiting.set("escaped");
                    }
                });
                waiter.join(20_000);
                killer.waitFor(10, TimeUnit.SECONDS);
                long errors = 0;
                long escaped = 0;
                for (int i = 0; i < 50_000; i++) {
                    long a = 100 * PAGE + ((i * 8L) % (64 * PAGE));
                    try {
                        as.ldqLe(a, u, res);
                        errors += res.get() == MemTxResult.ERROR ? 1 : 0;
                        errors += as.stqLe(a, i) == MemTxResult.ERROR ? 1 : 0;
                    } catch (InternalError e) {
                        escaped++;
                    }
                }
                out.append(" waiting=").append(waiting.get()).append(" errors=").append(errors).append(" escaped=")
                        .append(escaped).append(" broken=").append(block.isBroken()).append(" ended=").append(awaitEnd(restore))
                        .append(" stillFenced=").append(block.canFault() && !direct(as, 0));
            }
        } finally {
            block.close();
        }
        System.out.println("RESULT" + out);
    }

    /** Whether the address space's TLB fill for {@code addr} gives direct reads and writes. */
    private static boolean direct(AddressSpace as, long addr) {
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, addr, e);
        return e.readDirect() && e.writeDirect();
    }

    /** The server is SIGKILLed while a thread waits on a fault, with {@code hold} held meanwhile. */
    private static void killServer(Path dir, Hold hold) throws Exception {
        long size = 16L << 20;
        MemorySegment src = makeSource(size, 7);
        Path file = snapshot(dir, src);
        MemorySegment target = mapAnonymous(size);
        try (SnapshotFile f = SnapshotFile.open(file);
                PageServerProcess server = PageServerProcess.start(List.of("-Dguestmem.uffd.stallAfterFaults=1"));
                LazyRestore restore = LazyRestore.start(server, SnapshotChain.of(f),
                        List.of(new SnapshotBlock("pc.ram", target, PAGE)), new LazyRestore.Options(false, true))) {
            String before = touch(target, 5, 10_000);
            boolean beforeOk = before.equals("value=" + src.get(ValueLayout.JAVA_LONG, 5 * PAGE));
            AtomicReference<String> waiting = new AtomicReference<>("hang");
            String stateAtError;
            String after;
            String already;
            String ended;
            CountDownLatch verdict = new CountDownLatch(1);
            if (hold == Hold.VERDICT) {
                restore.holdVerdictUntil(verdict); // before the kill is scheduled, so it cannot come too late
            }
            Object userLock = hold == Hold.MONITOR ? restore : new Object();
            synchronized (userLock) {
                // the server stalls on the next fault, so the next access waits, and the server dies meanwhile
                Process killer = killLater(server.pid(), 1000);
                try {
                    Thread waiter = Thread.ofPlatform().daemon().start(() -> {
                        try {
                            waiting.set("value=" + target.get(ValueLayout.JAVA_LONG, 9 * PAGE));
                        } catch (InternalError e) {
                            waiting.set("error=" + e.getClass().getSimpleName());
                        }
                    });
                    waiter.join(20_000);
                    stateAtError = restore.state().toString();
                    after = touch(target, 100, 20_000);
                } finally {
                    verdict.countDown();
                }
                killer.waitFor(10, TimeUnit.SECONDS);
                already = touch(target, 5, 5_000); // a page restored before the death keeps its bytes
                ended = awaitEnd(restore);
            }
            System.out.println("RESULT before=" + (beforeOk ? "ok" : before) + " waiting=" + waiting.get() + " after=" + after
                    + " already=" + (already.equals(before) ? "ok" : already) + " stateAtError=" + stateAtError
                    + " ended=" + ended + " state=" + restore.state());
            System.out.println("FAILURE " + restore.failure());
        }
    }

    /**
     * Hazard 1 with a dead server: a thread waits on a fault, another runs System.gc() in a loop
     * (so a safepoint is pending and every other Java thread here, the watchdog included, stops at
     * it), and the server is SIGKILLed by a process started beforehand (this JVM's own threads
     * cannot be relied on to do it once the safepoint is pending).
     */
    private static void killServerUnderGc(Path dir) throws Exception {
        long size = 16L << 20;
        MemorySegment src = makeSource(size, 11);
        Path file = snapshot(dir, src);
        MemorySegment target = mapAnonymous(size);
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong gcs = new AtomicLong();
        try (SnapshotFile f = SnapshotFile.open(file);
                PageServerProcess server = PageServerProcess.start(List.of("-Dguestmem.uffd.stallAfterFaults=1"));
                LazyRestore restore = LazyRestore.start(server, SnapshotChain.of(f),
                        List.of(new SnapshotBlock("pc.ram", target, PAGE)), new LazyRestore.Options(false, true))) {
            String before = touch(target, 5, 10_000);
            boolean beforeOk = before.equals("value=" + src.get(ValueLayout.JAVA_LONG, 5 * PAGE));
            Thread gc = Thread.ofPlatform().daemon().start(() -> {
                while (!stop.get()) {
                    System.gc();
                    gcs.incrementAndGet();
                }
            });
            // the killer runs outside this JVM: started now, it fires while the fault below waits
            Process killer = new ProcessBuilder("sh", "-c", "sleep 1; kill -KILL " + server.pid()).inheritIO().start();
            AtomicReference<String> waiting = new AtomicReference<>("hang");
            AtomicLong waitedMillis = new AtomicLong(-1);
            Thread waiter = Thread.ofPlatform().daemon().start(() -> {
                long t0 = System.nanoTime();
                try {
                    waiting.set("value=" + target.get(ValueLayout.JAVA_LONG, 9 * PAGE));
                } catch (InternalError e) {
                    waiting.set("error=" + e.getClass().getSimpleName());
                }
                waitedMillis.set((System.nanoTime() - t0) / 1_000_000);
            });
            waiter.join(30_000);
            killer.waitFor(10, TimeUnit.SECONDS);
            long gcsDuring = gcs.get();
            String after = touch(target, 100, 20_000);
            stop.set(true);
            gc.join(10_000);
            String ended = awaitEnd(restore);
            System.out.println("RESULT before=" + (beforeOk ? "ok" : before) + " waiting=" + waiting.get() + " waitedMillis="
                    + waitedMillis.get() + " after=" + after + " gcs=" + gcsDuring + " ended=" + ended + " state=" + restore.state());
            System.out.println("FAILURE " + restore.failure());
        }
    }

    /** The guardian is killed first (the restore reports it), then the server: the watchdog alone acts. */
    private static void killGuardianThenServer(Path dir) throws Exception {
        long size = 16L << 20;
        MemorySegment src = makeSource(size, 13);
        Path file = snapshot(dir, src);
        MemorySegment target = mapAnonymous(size);
        try (SnapshotFile f = SnapshotFile.open(file);
                PageServerProcess server = PageServerProcess.start(List.of("-Dguestmem.uffd.stallAfterFaults=1"));
                LazyRestore restore = LazyRestore.start(server, SnapshotChain.of(f),
                        List.of(new SnapshotBlock("pc.ram", target, PAGE)), new LazyRestore.Options(false, true))) {
            String before = touch(target, 5, 10_000);
            boolean beforeOk = before.equals("value=" + src.get(ValueLayout.JAVA_LONG, 5 * PAGE));
            signal(server.guardian().pid(), "KILL");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (restore.guardianLost() == null && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            String lost = restore.guardianLost();
            String stateAfterGuardian = restore.state().toString();
            AtomicReference<String> waiting = new AtomicReference<>("hang");
            Process killer = killLater(server.pid(), 1000); // before the access waits: see killLater
            Thread waiter = Thread.ofPlatform().daemon().start(() -> {
                try {
                    waiting.set("value=" + target.get(ValueLayout.JAVA_LONG, 9 * PAGE));
                } catch (InternalError e) {
                    waiting.set("error=" + e.getClass().getSimpleName());
                }
            });
            waiter.join(20_000);
            killer.waitFor(10, TimeUnit.SECONDS);
            String after = touch(target, 100, 20_000);
            String ended = awaitEnd(restore);
            System.out.println("RESULT before=" + (beforeOk ? "ok" : before) + " lost=" + (lost != null) + " stateAfterGuardian="
                    + stateAfterGuardian + " waiting=" + waiting.get() + " after=" + after + " ended=" + ended
                    + " state=" + restore.state());
            System.out.println("LOST " + lost);
            System.out.println("FAILURE " + restore.failure());
        }
    }

    private static void killSource(Path dir) throws Exception {
        long size = 16L << 20;
        MemorySegment src = makeSource(size, 9);
        Path file = snapshot(dir, src);
        MemorySegment target = mapAnonymous(size);
        String sock = "@guestmem-test-source-" + ProcessHandle.current().pid();
        Process source = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Dguestmem.pagesource.stallAfter=2", "-cp", System.getProperty("java.class.path"),
                PageSourceServer.class.getName(), sock, file.toString()).redirectErrorStream(true).start();
        try {
            String hello = new java.io.BufferedReader(new java.io.InputStreamReader(source.getInputStream())).readLine();
            if (hello == null || !hello.startsWith("listening")) {
                throw new IllegalStateException("page source did not start: " + hello);
            }
            try (PageServerProcess server = PageServerProcess.start(List.of());
                    LazyRestore restore = LazyRestore.startRemote(server, sock,
                            List.of(new SnapshotBlock("pc.ram", target, PAGE)), new LazyRestore.Options(false, false))) {
                String before = touch(target, 5, 10_000);
                boolean beforeOk = before.equals("value=" + src.get(ValueLayout.JAVA_LONG, 5 * PAGE));
                String zero = touch(target, 3, 10_000); // page 3 is a zero page
                // the source answers no third request: the next access waits...
                AtomicReference<String> waiting = new AtomicReference<>("hang");
                Process killer = killLater(source.pid(), 1000); // before the access waits: see killLater
                Thread waiter = Thread.ofPlatform().daemon().start(() -> {
                    try {
                        waiting.set("value=" + target.get(ValueLayout.JAVA_LONG, 9 * PAGE));
                    } catch (InternalError e) {
                        waiting.set("error=" + e.getClass().getSimpleName());
                    }
                });
                waiter.join(20_000);
                killer.waitFor(10, TimeUnit.SECONDS);
                String after = touch(target, 100, 20_000);
                String await;
                try {
                    restore.awaitComplete(java.time.Duration.ofSeconds(20));
                    await = "no-error";
                } catch (LazyRestoreException e) {
                    await = "LazyRestoreException";
                    System.out.println("FAILURE " + e.getMessage());
                }
                System.out.println("RESULT before=" + (beforeOk ? "ok" : before) + " zero=" + zero + " waiting=" + waiting.get()
                        + " after=" + after + " await=" + await + " state=" + restore.state());
            }
        } finally {
            source.destroyForcibly();
        }
    }
}
