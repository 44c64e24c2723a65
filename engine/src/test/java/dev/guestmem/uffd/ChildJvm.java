package dev.guestmem.uffd;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs a class's {@code main} in a child JVM with this one's class path, bounded by a timeout: a
 * thread stuck in a userfaultfd fault (or in a discard waiting for its REMOVE event to be read)
 * stops every safepoint of its JVM, so scenarios that could regress that way must not run in the
 * test's own JVM. A child that does not end in time is killed, with its descendants.
 */
final class ChildJvm {
    /**
     * What the child did.
     *
     * @param ended whether it ended before the timeout
     * @param exitCode its exit code (meaningless if it did not end)
     * @param output standard output and error, merged
     */
    record Result(boolean ended, int exitCode, String output) {
    }

    private ChildJvm() {
    }

    static Result run(Class<?> main, String maxHeap, int timeoutSeconds, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx" + maxHeap, "-cp", System.getProperty("java.class.path"),
                main.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuilder out = new StringBuilder();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader br = new BufferedReader(new InputStreamReader(p.getInputStream()))) {
                for (String l = br.readLine(); l != null; l = br.readLine()) {
                    synchronized (out) {
                        out.append(l).append('\n');
                    }
                }
            } catch (IOException ignored) {
                // gone
            }
        });
        boolean ended = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!ended) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        reader.join(5000);
        synchronized (out) {
            return new Result(ended, ended ? p.exitValue() : -1, out.toString());
        }
    }
}
