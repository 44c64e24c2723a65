package dev.guestmem.uffd;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * This JVM's JIT compiler threads, as Linux shows them ({@code /proc/self/task/TID/comm} starting
 * with {@code C1 Compi} or {@code C2 Compi}): lets the page server's warm-up wait until the
 * compilations it caused are done, so they do not take CPU from the guest's first faults.
 *
 * <p>Thread safety: stateless.
 */
final class CompilerThreads {
    private static final Path TASKS = Path.of("/proc/self/task");
    private static final long POLL_MILLIS = 5;

    private CompilerThreads() {
    }

    /**
     * Waits until the compiler threads have run for no time at all during {@code quietNanos}.
     *
     * @param quietNanos how long they must stay idle
     * @param maxNanos the longest wait
     * @return whether they went idle (false also if their run time cannot be read)
     */
    static boolean awaitIdle(long quietNanos, long maxNanos) {
        long start = System.nanoTime();
        long last = runNanos();
        long quietSince = System.nanoTime();
        while (last >= 0 && System.nanoTime() - start < maxNanos) {
            try {
                Thread.sleep(POLL_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
            long now = runNanos();
            if (now != last) {
                last = now;
                quietSince = System.nanoTime();
            } else if (System.nanoTime() - quietSince >= quietNanos) {
                return true;
            }
        }
        return false;
    }

    /** @return the compiler threads' total run time so far ({@code schedstat}'s first field), or -1 if unreadable */
    static long runNanos() {
        long sum = 0;
        List<Path> tasks;
        try (Stream<Path> s = Files.list(TASKS)) {
            tasks = s.toList();
        } catch (IOException | UncheckedIOException e) {
            return -1;
        }
        for (Path t : tasks) {
            try {
                String comm = Files.readString(t.resolve("comm"));
                if (comm.startsWith("C1 Compi") || comm.startsWith("C2 Compi")) {
                    String stat = Files.readString(t.resolve("schedstat"));
                    sum += Long.parseLong(stat.substring(0, stat.indexOf(' ')));
                }
            } catch (IOException | RuntimeException e) {
                // a thread gone meanwhile (the JVM ends idle compiler threads): not counted
            }
        }
        return sum;
    }
}
