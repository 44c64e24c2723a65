package dev.guestmem.uffd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.pollfd;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A page-server process ({@link PageServerMain}) started from this JVM's own java binary and class
 * or module path, connected to this process by a Unix socket. Start it before the restore (JVM
 * start-up takes a few hundred milliseconds) and hand it to {@link LazyRestore#start}.
 *
 * <p>Thread safety: start and close from one thread; the socket belongs to the restore it is given to.
 */
public final class PageServerProcess implements AutoCloseable {
    private static final AtomicLong COUNTER = new AtomicLong();
    private final Process process;
    private final int socket;

    private PageServerProcess(Process process, int socket) {
        this.process = process;
        this.socket = socket;
    }

    /**
     * Starts a page server and waits until it has connected.
     *
     * @param extraJvmOptions options for the server's JVM (heap size, GC), may be empty
     * @return the running server
     * @throws LazyRestoreException if it cannot be started or does not connect within 60 seconds
     */
    public static PageServerProcess start(List<String> extraJvmOptions) {
        String name = "@guestmem-uffd-" + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet() + "-" + System.nanoTime();
        int listen = LinuxCalls.unixListen(name);
        Process p = null;
        try {
            List<String> cmd = new ArrayList<>();
            cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
            cmd.add("-Xmx256m");
            cmd.add("-XX:+UseSerialGC");
            cmd.addAll(extraJvmOptions);
            if (Boolean.getBoolean("guestmem.uffd.debug")) {
                cmd.add("-Dguestmem.uffd.debug=true");
            }
            String modulePath = System.getProperty("jdk.module.path");
            if (PageServerMain.class.getModule().isNamed() && modulePath != null) {
                cmd.add("--enable-native-access=dev.guestmem.linux,dev.guestmem.engine");
                cmd.add("-p");
                cmd.add(modulePath);
                cmd.add("-m");
                cmd.add("dev.guestmem.engine/" + PageServerMain.class.getName());
            } else {
                cmd.add("--enable-native-access=ALL-UNNAMED");
                cmd.add("-cp");
                cmd.add(System.getProperty("java.class.path"));
                cmd.add(PageServerMain.class.getName());
            }
            cmd.add(name);
            p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.INHERIT)
                    .redirectError(ProcessBuilder.Redirect.INHERIT).start();
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment pfd = pollfd.allocate(arena);
                pollfd.fd(pfd, listen);
                pollfd.events(pfd, (short) Linux.POLLIN());
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (LinuxCalls.poll(pfd, 1, 100) == 0) {
                    if (!p.isAlive()) {
                        throw new LazyRestoreException("page server process exited with code " + p.exitValue() + " before connecting");
                    }
                    if (System.nanoTime() > deadline) {
                        throw new LazyRestoreException("page server process did not connect within 60 s");
                    }
                }
            }
            return new PageServerProcess(p, LinuxCalls.unixAccept(listen));
        } catch (IOException e) {
            throw new LazyRestoreException("cannot start the page server process: " + e, e);
        } catch (RuntimeException e) {
            if (p != null) {
                p.destroyForcibly();
            }
            throw e;
        } finally {
            LinuxCalls.close(listen);
        }
    }

    /** @return the server's process */
    public Process process() {
        return process;
    }

    /** @return the server's pid */
    public long pid() {
        return process.pid();
    }

    int socket() {
        return socket;
    }

    /** Stops the server (if still running) and waits up to 5 seconds for it to exit. */
    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(5, TimeUnit.SECONDS)) {
                process.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            process.destroyForcibly();
        }
    }
}
