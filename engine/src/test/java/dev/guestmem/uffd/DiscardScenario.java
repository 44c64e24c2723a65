package dev.guestmem.uffd;

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
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Child JVM of {@link LazyRestoreRegressionTest}'s discard tests (a regression would livelock a
 * faulting thread, which hangs the JVM at its next safepoint). Prints {@code RESULT ...} lines.
 */
public final class DiscardScenario {
    static final long PAGE = 4096;

    private DiscardScenario() {
    }

    /**
     * Runs one scenario.
     *
     * @param args the scenario's name
     * @throws Exception on failure
     */
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("guestmem-discard");
        switch (args[0]) {
            case "after-complete" -> afterComplete(dir);
            case "during" -> during(dir);
            case "large-pages" -> largePages(dir);
            case "race" -> race(dir, Integer.parseInt(args[1]));
            case "after-server-death" -> afterServerDeath(dir);
            case "large-page-cut" -> {
                largePageCut(dir, Integer.parseInt(args[1]), args.length > 2 ? Long.parseLong(args[2]) : 2 * PAGE,
                        args.length > 3 && args[3].equals("verify"));
                halt();
            }
            case "discard-after-source-failure" -> {
                discardAfterSourceFailure(dir);
                halt();
            }
            case "discard-during-source-failure" -> {
                discardDuringSourceFailure(dir);
                halt();
            }
            case "discard-before-source-failure" -> {
                discardBeforeSourceFailure(dir);
                halt();
            }
            case "partial-race" -> {
                partialRace(dir, Integer.parseInt(args[1]), args.length > 2 ? args[2] : "");
                halt();
            }
            default -> throw new IllegalArgumentException(args[0]);
        }
        System.out.flush();
        System.exit(0);
    }

    private static int read(MemorySegment m, long at) {
        int[] seen = {-1};
        Thread t = Thread.ofPlatform().daemon().start(() -> seen[0] = m.get(ValueLayout.JAVA_INT_UNALIGNED, at));
        try {
            t.join(10_000);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
        if (t.isAlive()) {
            System.out.println("RESULT hung=0x" + Long.toHexString(at));
            System.out.flush();
            Runtime.getRuntime().halt(0); // close() and GC would wait for the stuck thread
        }
        return seen[0];
    }

    /**
     * The page server dies with the restore running; the guardian poisons what is missing. Then a
     * served page is discarded and read: the discard must return (its REMOVE event read by someone)
     * and the read must give zeros (a discarded page), not wait for ever; a page never served still
     * faults (poison), and reads zeros once the guest discards it.
     */
    private static void afterServerDeath(Path dir) throws Exception {
        RamBlock src = RamBlock.anonymous("ram", 64 * PAGE);
        RamBlock dst = RamBlock.anonymous("ram", 64 * PAGE);
        for (long p = 0; p < 64; p++) {
            src.stlHe(p * PAGE + 8, (int) (0x1000 + p));
        }
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
        try (SnapshotFile f = SnapshotFile.open(full);
             LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                     new LazyRestore.Options(false, true))) {
            int served = read(dst.segment(), 5 * PAGE + 8);
            ProcessHandle.of(restore.serverPid()).ifPresent(ProcessHandle::destroyForcibly);
            long until = System.nanoTime() + 20_000_000_000L;
            while (restore.state() != LazyRestore.State.BROKEN && System.nanoTime() < until) {
                Thread.sleep(20);
            }
            boolean[] discarded = {false};
            Thread d = Thread.ofPlatform().daemon().start(() -> {
                dst.discard(5 * PAGE, PAGE);
                discarded[0] = true;
            });
            d.join(10_000);
            if (d.isAlive()) {
                System.out.println("RESULT discard-hung state=" + restore.state());
                System.out.flush();
                Runtime.getRuntime().halt(0);
            }
            int[] seen = {-1};
            Throwable[] fault = {null};
            Thread t = Thread.ofPlatform().daemon().start(() -> {
                try {
                    seen[0] = dst.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 5 * PAGE + 8);
                } catch (Throwable e) {
                    fault[0] = e;
                }
            });
            t.join(10_000);
            if (t.isAlive()) {
                System.out.println("RESULT read-hung state=" + restore.state());
                System.out.flush();
                Runtime.getRuntime().halt(0);
            }
            dst.discard(31 * PAGE, PAGE); // never served, poisoned at the death, then discarded
            System.out.println("RESULT served=0x" + Integer.toHexString(served) + " discarded=" + discarded[0]
                    + " read=" + (fault[0] != null ? "fault" : "0x" + Integer.toHexString(seen[0]))
                    + " unserved=" + readInThread(dst.segment(), 30 * PAGE + 8)
                    + " unservedDiscarded=" + readInThread(dst.segment(), 31 * PAGE + 8)
                    + " state=" + restore.state());
        }
    }

    /** The audit's probe: restore, wait for completion, discard one page, read it from a thread. */
    private static void afterComplete(Path dir) throws Exception {
        RamBlock src = RamBlock.anonymous("ram", 64 * PAGE);
        RamBlock dst = RamBlock.anonymous("ram", 64 * PAGE);
        src.stlHe(0x3000, 0x1234);
        src.stlHe(0x4000, 0x5678);
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
        try (SnapshotFile f = SnapshotFile.open(full);
             LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                     LazyRestore.Options.DEFAULT)) {
            System.out.println("complete=" + restore.awaitComplete(Duration.ofSeconds(30)) + " value=0x"
                    + Integer.toHexString(dst.ldlHe(0x3000)));
            dst.discard(0x3000, PAGE);
            int v = read(dst.segment(), 0x3000);
            System.out.println("RESULT read-after-discard ok value=0x" + Integer.toHexString(v) + " neighbour=0x"
                    + Integer.toHexString(read(dst.segment(), 0x4000)) + " state=" + restore.state());
        }
    }

    /**
     * Without prefetch, so the restore is still running: a served page discarded reads zeros; a page
     * discarded before it was ever served reads zeros too (its snapshot contents never come back);
     * every other page is the snapshot's; then the restore completes.
     */
    private static void during(Path dir) throws Exception {
        RamBlock src = RamBlock.anonymous("ram", 64 * PAGE);
        RamBlock dst = RamBlock.anonymous("ram", 64 * PAGE);
        for (long p = 0; p < 64; p++) {
            src.stlHe(p * PAGE + 8, (int) (0x1000 + p));
        }
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
        try (SnapshotFile f = SnapshotFile.open(full);
             LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                     new LazyRestore.Options(false, true))) {
            int served = read(dst.segment(), 5 * PAGE + 8);
            dst.discard(5 * PAGE, PAGE);
            int servedAfter = read(dst.segment(), 5 * PAGE + 8);
            dst.discard(7 * PAGE, 2 * PAGE); // never served
            int unserved = read(dst.segment(), 7 * PAGE + 8);
            int unserved2 = read(dst.segment(), 8 * PAGE + 8);
            dst.stlHe(7 * PAGE + 8, 0x77);
            int written = read(dst.segment(), 7 * PAGE + 8);
            int others = 0;
            for (long p = 0; p < 64; p++) {
                if (p != 5 && p != 7 && p != 8 && read(dst.segment(), p * PAGE + 8) != 0x1000 + p) {
                    others++;
                }
            }
            boolean complete = restore.awaitComplete(Duration.ofSeconds(30));
            System.out.println("RESULT served=0x" + Integer.toHexString(served) + " servedAfter=0x" + Integer.toHexString(servedAfter)
                    + " unserved=0x" + Integer.toHexString(unserved) + " unserved2=0x" + Integer.toHexString(unserved2)
                    + " written=0x" + Integer.toHexString(written) + " others=" + others + " complete=" + complete
                    + " state=" + restore.state());
        }
    }

    /**
     * A block restored with 8 KiB pages on 4 KiB memory: half of an unserved page discarded reads
     * zeros there and the snapshot in the other half; half of a served page likewise.
     */
    private static void largePages(Path dir) throws Exception {
        long ps = 2 * PAGE;
        RamBlock src = RamBlock.anonymous("ram", 32 * ps);
        RamBlock dst = RamBlock.anonymous("ram", 33 * ps);
        for (long o = 0; o < 32 * ps; o += PAGE) {
            src.stlHe(o + 16, (int) (0x100000 + o / PAGE));
        }
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(new SnapshotBlock("ram", src.segment(), ps)), ProgressListener.NONE);
        MemorySegment m = dst.segment().asSlice(-dst.segment().address() & (ps - 1), 32 * ps); // aligned to 8 KiB
        try (SnapshotFile f = SnapshotFile.open(full);
             LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(new SnapshotBlock("ram", m, ps)),
                     new LazyRestore.Options(false, true))) {
            LinuxCalls.madvise(m.asSlice(3 * ps + PAGE, PAGE), PAGE, Linux.MADV_DONTNEED()); // second half of unserved page 3
            int firstHalf = read(m, 3 * ps + 16);
            int secondHalf = read(m, 3 * ps + PAGE + 16);
            int before = read(m, 9 * ps + 16); // serve page 9
            LinuxCalls.madvise(m.asSlice(9 * ps, PAGE), PAGE, Linux.MADV_DONTNEED()); // its first half
            int servedFirst = read(m, 9 * ps + 16);
            int servedSecond = read(m, 9 * ps + PAGE + 16);
            for (long p = 0; p < 32; p++) {
                read(m, p * ps); // touch everything so the restore completes without prefetch
            }
            boolean complete = restore.awaitComplete(Duration.ofSeconds(30));
            System.out.println("RESULT firstHalf=0x" + Integer.toHexString(firstHalf) + " secondHalf=0x" + Integer.toHexString(secondHalf)
                    + " before=0x" + Integer.toHexString(before) + " servedFirst=0x" + Integer.toHexString(servedFirst)
                    + " servedSecond=0x" + Integer.toHexString(servedSecond) + " complete=" + complete);
        }
    }

    /**
     * Discards, writes and reads at random while prefetch races them, two threads on disjoint
     * pages; each read is checked against a model (snapshot value until discarded, then zero, or
     * the last value written). A copy landing after a discard would show as a snapshot value
     * where the model says zero.
     */
    private static void race(Path dir, int rounds) throws Exception {
        int pages = 2048;
        RamBlock src = RamBlock.anonymous("ram", pages * PAGE);
        for (long p = 0; p < pages; p++) {
            src.stlHe(p * PAGE, (int) (0x40000000 + p));
        }
        Path full = dir.resolve("full.gms");
        SnapshotWriter.write(full, List.of(SnapshotBlock.of(src)), ProgressListener.NONE);
        long bad = 0;
        long discards = 0;
        try (SnapshotFile f = SnapshotFile.open(full)) {
            for (int round = 0; round < rounds; round++) {
                RamBlock dst = RamBlock.anonymous("ram", pages * PAGE);
                try (LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                        LazyRestore.Options.DEFAULT)) {
                    long[] badBy = new long[2];
                    long[] discBy = new long[2];
                    List<Thread> ts = new ArrayList<>();
                    for (int t = 0; t < 2; t++) {
                        int tt = t;
                        int seed = round * 2 + t;
                        ts.add(Thread.ofPlatform().start(() -> {
                            Random r = new Random(seed);
                            int[] model = new int[pages];
                            for (int p = tt; p < pages; p += 2) {
                                model[p] = 0x40000000 + p;
                            }
                            for (int i = 0; i < 3000; i++) {
                                int p = r.nextInt(pages / 2) * 2 + tt;
                                switch (r.nextInt(3)) {
                                    case 0 -> {
                                        dst.discard(p * PAGE, PAGE);
                                        model[p] = 0;
                                        discBy[tt]++;
                                    }
                                    case 1 -> {
                                        int v = r.nextInt() | 1;
                                        dst.stlHe(p * PAGE, v);
                                        model[p] = v;
                                    }
                                    default -> {
                                        if (dst.ldlHe(p * PAGE) != model[p]) {
                                            badBy[tt]++;
                                        }
                                    }
                                }
                            }
                            for (int p = tt; p < pages; p += 2) {
                                if (dst.ldlHe(p * PAGE) != model[p]) {
                                    badBy[tt]++;
                                }
                            }
                        }));
                    }
                    for (Thread t : ts) {
                        t.join();
                    }
                    if (!restore.awaitComplete(Duration.ofSeconds(60))) {
                        System.out.println("RESULT incomplete round=" + round);
                        return;
                    }
                    bad += badBy[0] + badBy[1];
                    discards += discBy[0] + discBy[1];
                } finally {
                    dst.close();
                }
            }
        }
        System.out.println("RESULT bad=" + bad + " discards=" + discards);
    }

    /** Ends the child without shutdown hooks (a restore left open, or a thread stuck in a fault, must not hold it). */
    private static void halt() {
        System.out.flush();
        Runtime.getRuntime().halt(0);
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
     * Pages the guest discarded before the page source failed (one served, one never served): the
     * failure's poisoning of the missing pages must leave them alone, they read zeros; so does a
     * page poisoned by the failure and discarded after it.
     */
    private static void discardBeforeSourceFailure(Path dir) throws Exception {
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
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x55}), at40 + 100); // page 40's data only
        }
        LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)), new LazyRestore.Options(false, true));
        String served = readInThread(dst.segment(), 5 * PAGE);
        dst.discard(5 * PAGE, PAGE); // served, then discarded: missing in the kernel, zeros on the next touch
        dst.discard(20 * PAGE, PAGE); // never served, wholly discarded: never copied, zeros on the next touch
        String corrupt = readInThread(dst.segment(), 40 * PAGE);
        String verdict;
        try {
            verdict = "awaitComplete=" + restore.awaitComplete(Duration.ofSeconds(20));
        } catch (LazyRestoreException e) {
            verdict = "broken";
        }
        String servedDiscarded = readInThread(dst.segment(), 5 * PAGE);
        String unservedDiscarded = readInThread(dst.segment(), 20 * PAGE);
        String missing = readInThread(dst.segment(), 30 * PAGE);
        dst.discard(25 * PAGE, PAGE); // never served, poisoned by the failure, then discarded: zeros too
        String poisonedDiscarded = readInThread(dst.segment(), 25 * PAGE);
        System.out.println("RESULT servedDiscarded=" + servedDiscarded + " unservedDiscarded=" + unservedDiscarded
                + " poisonedDiscarded=" + poisonedDiscarded + " missing=" + missing + " served=" + served + " corrupt=" + corrupt + " verdict=" + verdict);
        System.out.flush();
    }

    /**
     * A page never served, wholly discarded while the server poisons after the source failed (the
     * server held there by a test hook until the discard's REMOVE event is queued): it reads zeros.
     */
    private static void discardDuringSourceFailure(Path dir) throws Exception {
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
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x55}), at40 + 100); // page 40's data only
        }
        Path flag = dir.resolve("failing");
        PageServerProcess server = PageServerProcess.start(List.of("-Dguestmem.uffd.test.holdFailure=" + flag));
        LazyRestore restore = LazyRestore.start(server, SnapshotChain.of(f), List.of(SnapshotBlock.of(dst)),
                new LazyRestore.Options(false, true));
        String[] corrupt = {"hang"};
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try {
                corrupt[0] = readInThread(dst.segment(), 40 * PAGE);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        long until = System.nanoTime() + 20_000_000_000L;
        while (!Files.exists(flag) && System.nanoTime() < until) {
            Thread.sleep(5);
        }
        boolean held = Files.exists(flag);
        boolean[] discarded = {false};
        Thread d = Thread.ofPlatform().daemon().start(() -> {
            dst.discard(20 * PAGE, PAGE); // never served: its REMOVE is read by the poisoning
            discarded[0] = true;
        });
        d.join(10_000);
        reader.join(15_000);
        String verdict;
        try {
            verdict = "awaitComplete=" + restore.awaitComplete(Duration.ofSeconds(20));
        } catch (LazyRestoreException e) {
            verdict = "broken";
        }
        System.out.println("RESULT discardedDuring=" + readInThread(dst.segment(), 20 * PAGE) + " missing="
                + readInThread(dst.segment(), 30 * PAGE) + " corrupt=" + corrupt[0] + " held=" + held + " discarded="
                + discarded[0] + " verdict=" + verdict);
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
                java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
                java.util.concurrent.atomic.AtomicLong count = new java.util.concurrent.atomic.AtomicLong();
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
}
