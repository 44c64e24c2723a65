package dev.guestmem.uffd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.pollfd;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * A page-server process ({@link PageServerMain}) and its guardian process ({@link GuardianMain}),
 * started together from this JVM's own java binary and class or module path, each connected to
 * this process by a Unix socket. Start it before the restore (JVM start-up takes a few hundred
 * milliseconds; the two JVMs start in parallel) and hand it to {@link LazyRestore#start}: that is
 * the warm start, and the restore's latency then counts only the server's setup of the source.
 *
 * <p>Thread safety: start and close from one thread; the socket belongs to the restore it is given to.
 */
public final class PageServerProcess implements AutoCloseable {
    private static final AtomicLong COUNTER = new AtomicLong();
    private final Process process;
    private final int socket;
    private final Process guardian;
    private final int guardianSocket;
    /** Set once the descriptors are closed: {@link #close} closes each one exactly once. */
    private boolean closed;
    private boolean socketClosed;

    private PageServerProcess(Process process, int socket, Process guardian, int guardianSocket) {
        this.process = process;
        this.socket = socket;
        this.guardian = guardian;
        this.guardianSocket = guardianSocket;
    }

    /**
     * Starts a page server and its guardian ({@link GuardianMain}), both at once, and waits until
     * both have connected.
     *
     * @param extraJvmOptions options for the server's JVM (heap size, GC), may be empty
     * @return the running server
     * @throws LazyRestoreException if either cannot be started or does not connect within 60 seconds
     */
    public static PageServerProcess start(List<String> extraJvmOptions) {
        String base = "@guestmem-uffd-" + ProcessHandle.current().pid() + "-" + COUNTER.incrementAndGet() + "-" + System.nanoTime();
        int listen = LinuxCalls.unixListen(base);
        int guardListen = -1;
        Process p = null;
        Process g = null;
        int sock = -1;
        try {
            guardListen = LinuxCalls.unixListen(base + "-guardian");
            List<String> serverOpts = new ArrayList<>(List.of("-Xmx256m", "-XX:+UseSerialGC", "-Xshare:auto"));
            // C2 after about 1,000 calls instead of 5,000-15,000: the fault path is compiled within the
            // warm-up's faults (PageServerWarmUp), not during the guest's, when a compiler thread
            // would take a core from the guest or the server
            serverOpts.addAll(List.of("-XX:Tier3InvocationThreshold=100", "-XX:Tier4InvocationThreshold=1000",
                    "-XX:Tier4MinInvocationThreshold=200", "-XX:Tier4CompileThreshold=2000"));
            serverOpts.addAll(extraJvmOptions);
            p = launch(serverOpts, PageServerMain.class, base);
            // the guardian only waits and, once, poisons: a small heap and C1 start it fastest
            g = launch(List.of("-Xmx32m", "-XX:+UseSerialGC", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData"),
                    GuardianMain.class, base + "-guardian");
            sock = accept(listen, p, "page server");
            int guard = accept(guardListen, g, "guardian");
            return new PageServerProcess(p, sock, g, guard);
        } catch (IOException e) {
            destroy(p, g);
            throw new LazyRestoreException("cannot start the page server process: " + e, e);
        } catch (RuntimeException e) {
            destroy(p, g);
            if (sock >= 0) {
                LinuxCalls.close(sock);
            }
            throw e;
        } finally {
            LinuxCalls.close(listen);
            if (guardListen >= 0) {
                LinuxCalls.close(guardListen);
            }
        }
    }

    private static void destroy(Process... ps) {
        for (Process x : ps) {
            if (x != null) {
                x.destroyForcibly();
            }
        }
    }

    private static Process launch(List<String> jvmOptions, Class<?> main, String socketName) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        if (Boolean.getBoolean("guestmem.uffd.debug")) {
            cmd.add("-Dguestmem.uffd.debug=true");
        }
        if (Boolean.getBoolean("guestmem.uffd.test.inertGuardian")) {
            cmd.add("-Dguestmem.uffd.test.inertGuardian=true"); // a test's negative control
        }
        String modulePath = System.getProperty("jdk.module.path");
        if (main.getModule().isNamed() && modulePath != null) {
            cmd.add("--enable-native-access=dev.guestmem.linux,dev.guestmem.engine");
            cmd.add("-p");
            cmd.add(modulePath);
            cmd.add("-m");
            cmd.add("dev.guestmem.engine/" + main.getName());
        } else {
            cmd.add("--enable-native-access=ALL-UNNAMED");
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add(main.getName());
        }
        cmd.add(socketName);
        return new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.INHERIT)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    private static int accept(int listen, Process p, String what) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pfd = pollfd.allocate(arena);
            pollfd.fd(pfd, listen);
            pollfd.events(pfd, (short) Linux.POLLIN());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (LinuxCalls.poll(pfd, 1, 100) == 0) {
                if (!p.isAlive()) {
                    throw new LazyRestoreException(what + " process exited with code " + p.exitValue() + " before connecting");
                }
                if (System.nanoTime() > deadline) {
                    throw new LazyRestoreException(what + " process did not connect within 60 s");
                }
            }
        }
        return LinuxCalls.unixAccept(listen);
    }

    /**
     * Has the server open and check a snapshot chain's files now, ahead of the restore (the warm
     * start: a restore from the same files, in the same order, then finds them open). Call it at
     * snapshot-open time, before {@link LazyRestore#start}, at most once per restore.
     *
     * @param chain the snapshots the restore will use
     * @throws LazyRestoreException if the server refuses the files (the reason is in the message)
     */
    public void preload(SnapshotChain chain) {
        List<String> fields = new ArrayList<>(List.of("preload"));
        for (SnapshotFile f : chain.files()) {
            fields.add(f.path().toAbsolutePath().toString());
        }
        String paths = chain.files().stream().map(f -> f.path().toAbsolutePath().toString()).collect(Collectors.joining(", "));
        try (Arena arena = Arena.ofConfined()) {
            byte[] line = (Wire.line(fields.toArray(String[]::new)) + "\n").getBytes(StandardCharsets.UTF_8);
            MemorySegment out = arena.allocate(line.length);
            MemorySegment.copy(line, 0, out, ValueLayout.JAVA_BYTE, 0, line.length);
            Wire.writeFully(socket, out, line.length);
            // the reply, byte by byte: nothing may be read past its newline (the restore's Wire reads next)
            MemorySegment one = arena.allocate(1);
            java.io.ByteArrayOutputStream reply = new java.io.ByteArrayOutputStream();
            while (true) {
                if (LinuxCalls.read(socket, one, 1) == 0) {
                    throw new LazyRestoreException("page server " + pid() + " closed its socket during preload");
                }
                byte c = one.get(ValueLayout.JAVA_BYTE, 0);
                if (c == '\n') {
                    break;
                }
                reply.write(c);
            }
            List<String> answer = Wire.fields(reply.toString(StandardCharsets.UTF_8));
            if (!answer.getFirst().equals("preloaded")) {
                throw new LazyRestoreException("page server " + pid() + " could not preload " + paths + ": "
                        + String.join(": ", answer.subList(answer.getFirst().equals("error") ? 1 : 0, answer.size())));
            }
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

    /**
     * Closes the control socket, once: a second call does nothing, so the descriptor number (which
     * another thread may have been given since) is never closed twice.
     */
    synchronized void closeSocket() {
        if (!socketClosed) {
            socketClosed = true;
            LinuxCalls.close(socket);
        }
    }

    /** @return the guardian's process ({@link GuardianMain}) */
    public Process guardian() {
        return guardian;
    }

    int guardianSocket() {
        return guardianSocket;
    }

    /**
     * Stops the server and its guardian (if still running), closes both sockets and waits up to 5
     * seconds for each process to exit. The guardian is stopped first, by hanging up on it, so it does not take the server's
     * exit for a death; close the restore using this server before. Idempotent: a second call
     * does nothing (each descriptor is closed once).
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            LinuxCalls.close(guardianSocket);
        }
        closeSocket();
        stop(guardian);
        stop(process);
    }

    private static void stop(Process p) {
        p.destroy();
        try {
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
        }
    }
}
