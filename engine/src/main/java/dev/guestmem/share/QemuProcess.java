package dev.guestmem.share;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A QEMU that never runs guest code ({@code -accel tcg -S}): a {@code -machine pc} that shares its
 * RAM ({@link #startPc}: {@code memory-backend-file,share=on} at a path, or
 * {@code memory-backend-memfd,share=on} reachable as {@code /proc/PID/fd/N}), or any machine and
 * devices a caller names ({@link #start}, e.g. to compare flat views with QEMU's). It listens for qtest
 * and QMP on Unix sockets in a private directory; {@link #close()} kills it and removes the
 * directory (and nothing else: the caller owns the RAM file).
 *
 * <p><b>Thread safety.</b> Start and close on one thread; the accessors may be read from any.
 */
public final class QemuProcess implements AutoCloseable {
    /** The default QEMU binary. */
    public static final Path DEFAULT_BINARY = Path.of("/usr/bin/qemu-system-x86_64");
    /** The memory backend's id, which is also its RAM region's name in {@code info mtree}. */
    public static final String BACKEND_ID = "mem";
    /**
     * The name QEMU 7.2 gives every {@code memory-backend-memfd}'s memfd (its QOM type name, not
     * the backend's id), as {@code /proc/PID/fd} shows it: {@code /memfd:memory-backend-memfd}.
     */
    public static final String MEMFD_NAME = "memory-backend-memfd";

    private final Process process;
    private final Path dir;
    private final Path log;

    private QemuProcess(Process process, Path dir, Path log) {
        this.process = process;
        this.dir = dir;
        this.log = log;
    }

    /**
     * Starts QEMU and waits until its qtest and QMP sockets exist.
     *
     * @param binary the QEMU binary
     * @param megabytes RAM size, as {@code -m} and the backend's size
     * @param memPath the {@code mem-path} file for a file backend, or null for a memfd backend
     * @param timeout how long to wait for the sockets (beyond a century: no limit)
     * @return the running QEMU
     * @throws ShareException if it exits or does not listen in time (the message has its output)
     * @throws IOException if the private directory cannot be made
     */
    public static QemuProcess startPc(Path binary, long megabytes, Path memPath, Duration timeout) throws IOException {
        String backend = memPath != null
                ? "memory-backend-file,id=" + BACKEND_ID + ",size=" + megabytes + "M,mem-path=" + memPath + ",share=on"
                : "memory-backend-memfd,id=" + BACKEND_ID + ",size=" + megabytes + "M,share=on";
        return start(binary, List.of("-machine", "pc,memory-backend=" + BACKEND_ID, "-object", backend,
                "-m", megabytes + "M"), timeout);
    }

    /**
     * Starts QEMU with a caller's machine and devices, paused before the first instruction and
     * without default devices or a display ({@code -accel tcg -display none -nodefaults -S}), and
     * waits until its qtest and QMP sockets exist.
     *
     * @param binary the QEMU binary
     * @param machineArgs the machine's own arguments ({@code -machine}, {@code -m}, {@code -device}...)
     * @param timeout how long to wait for the sockets (beyond a century: no limit)
     * @return the running QEMU
     * @throws ShareException if it exits or does not listen in time (the message has its output)
     * @throws IOException if the private directory cannot be made
     */
    public static QemuProcess start(Path binary, List<String> machineArgs, Duration timeout) throws IOException {
        Path dir = Files.createTempDirectory("gm-qemu-");
        Path log = dir.resolve("qemu.log");
        List<String> cmd = new ArrayList<>();
        cmd.add(binary.toString());
        cmd.addAll(machineArgs);
        cmd.addAll(List.of("-accel", "tcg", "-display", "none", "-nodefaults", "-S",
                "-qtest", "unix:" + dir.resolve("qtest.sock") + ",server=on,wait=off", "-qtest-log", "none",
                "-qmp", "unix:" + dir.resolve("qmp.sock") + ",server=on,wait=off"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        QemuProcess q = new QemuProcess(p, dir, log);
        long deadline = System.nanoTime() + Timeouts.nanos(timeout);
        try {
            while (!(Files.exists(q.qtestSocket()) && Files.exists(q.qmpSocket()))) {
                if (!p.isAlive() || System.nanoTime() - deadline > 0) {
                    throw new ShareException("QEMU " + (p.isAlive() ? "did not listen within " + timeout : "exited with "
                            + p.exitValue()) + ": " + String.join(" ", cmd) + "\n" + q.output());
                }
                Thread.sleep(10);
            }
            return q;
        } catch (InterruptedException | RuntimeException e) {
            q.close();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
                throw new ShareException("interrupted while starting QEMU", e);
            }
            throw (RuntimeException) e;
        }
    }

    /** @return the qtest socket */
    public Path qtestSocket() {
        return dir.resolve("qtest.sock");
    }

    /** @return the QMP socket */
    public Path qmpSocket() {
        return dir.resolve("qmp.sock");
    }

    /** @return QEMU's process id */
    public long pid() {
        return process.pid();
    }

    /** @return what QEMU printed so far */
    public String output() {
        try {
            return Files.exists(log) ? Files.readString(log) : "";
        } catch (IOException e) {
            return "(log unreadable: " + e.getMessage() + ")";
        }
    }

    /**
     * Finds the memfd behind a {@code memory-backend-memfd} among the process's descriptors: the
     * {@code /proc/PID/fd/N} whose link reads {@code /memfd:NAME (deleted)}.
     *
     * @param pid the process
     * @param name the memfd's name ({@link #MEMFD_NAME} for QEMU 7.2)
     * @return the {@code /proc/PID/fd/N} path, which opens the same memory
     * @throws ShareException if there is none or several
     */
    public static Path memfdPath(long pid, String name) {
        Path fdDir = Path.of("/proc", Long.toString(pid), "fd");
        List<Path> found = new ArrayList<>();
        try (Stream<Path> s = Files.list(fdDir)) {
            for (Path fd : s.toList()) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.equals("/memfd:" + name + " (deleted)") || target.equals("/memfd:" + name)) {
                        found.add(fd);
                    }
                } catch (IOException e) {
                    // closed while listing
                }
            }
        } catch (IOException e) {
            throw new ShareException("cannot list " + fdDir + ": " + e.getMessage(), e);
        }
        if (found.size() != 1) {
            throw new ShareException(found.size() + " descriptors of process " + pid + " are memfd '" + name + "': " + found);
        }
        return found.getFirst();
    }

    /** Kills QEMU (waiting at most 10 s) and removes its private directory. */
    @Override
    public void close() {
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try (Stream<Path> s = Files.list(dir)) {
            for (Path f : s.toList()) {
                Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
        } catch (IOException e) {
            // a leftover temp directory is harmless
        }
    }
}
