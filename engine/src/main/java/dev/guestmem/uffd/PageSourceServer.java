package dev.guestmem.uffd;

import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Serves pages of a snapshot chain to {@link RemotePageSource} clients over a Unix socket (the
 * "source host" of a postcopy-style restore), one connection at a time. Run it in its own process
 * with {@link #main(String[])}: {@code PageSourceServer SOCKET SNAPSHOT [INCREMENT...]}.
 *
 * <p>Thread safety: {@link #serve()} runs on one thread.
 */
public final class PageSourceServer implements AutoCloseable {
    /** Test hook: stop answering after this many requests (a hung source), from {@code guestmem.pagesource.stallAfter}. */
    private static final long STALL_AFTER = Long.getLong("guestmem.pagesource.stallAfter", Long.MAX_VALUE);
    private final int listenFd;
    private final List<SnapshotFile> files = new ArrayList<>();
    private final SnapshotChain chain;

    /**
     * Opens the snapshots and listens.
     *
     * @param socketPath where to listen ({@code @name}: abstract namespace)
     * @param snapshots the chain's files, full one first
     */
    public PageSourceServer(String socketPath, List<Path> snapshots) {
        for (Path p : snapshots) {
            files.add(SnapshotFile.open(p));
        }
        this.chain = new SnapshotChain(files);
        this.listenFd = LinuxCalls.unixListen(socketPath);
    }

    /** Accepts connections and answers page requests until the listening socket is closed. */
    public void serve() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment req = arena.allocate(16, 8);
            MemorySegment head = arena.allocate(16, 8);
            while (true) {
                int fd;
                try {
                    fd = LinuxCalls.unixAccept(listenFd);
                } catch (NativeCallException e) {
                    return; // closed
                }
                try (Wire wire = new Wire(fd)) {
                    String hello = wire.readLine();
                    List<String> fields = hello == null ? List.of("") : Wire.fields(hello);
                    if (!fields.getFirst().equals("blocks")) {
                        continue;
                    }
                    String[] names = fields.subList(1, fields.size()).toArray(String[]::new);
                    String missing = null;
                    for (String n : names) {
                        if (chain.files().getFirst().block(n) == null) {
                            missing = n;
                        }
                    }
                    if (missing != null) {
                        wire.sendLine(Wire.line("error", "no block '" + missing + "'"));
                        continue;
                    }
                    wire.sendLine("ok");
                    long served = 0;
                    while (Wire.readFully(fd, req, 16)) {
                        if (++served > STALL_AFTER) {
                            stall();
                        }
                        int block = req.get(ValueLayout.JAVA_INT, 0);
                        long page = req.get(ValueLayout.JAVA_LONG, 8);
                        MemorySegment data;
                        String error = null;
                        try {
                            data = chain.page(names[block], page);
                        } catch (RuntimeException e) {
                            data = null;
                            error = String.valueOf(e.getMessage());
                        }
                        if (error != null) {
                            byte[] msg = error.getBytes(StandardCharsets.UTF_8);
                            head.set(ValueLayout.JAVA_INT, 0, 2);
                            head.set(ValueLayout.JAVA_LONG, 8, msg.length);
                            Wire.writeFully(fd, head, 16);
                            Wire.writeFully(fd, arena.allocateFrom(ValueLayout.JAVA_BYTE, msg), msg.length);
                        } else if (data == null) {
                            head.set(ValueLayout.JAVA_INT, 0, 1);
                            head.set(ValueLayout.JAVA_LONG, 8, 0);
                            Wire.writeFully(fd, head, 16);
                        } else {
                            head.set(ValueLayout.JAVA_INT, 0, 0);
                            head.set(ValueLayout.JAVA_LONG, 8, data.byteSize());
                            Wire.writeFully(fd, head, 16);
                            Wire.writeFully(fd, data, data.byteSize());
                        }
                    }
                } catch (RuntimeException e) {
                    // the client went away mid-request: wait for the next one
                }
            }
        }
    }

    static void stall() {
        try {
            Thread.sleep(Long.MAX_VALUE);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops listening and unmaps the snapshots. */
    @Override
    public void close() {
        LinuxCalls.close(listenFd);
        files.forEach(SnapshotFile::close);
    }

    /**
     * Runs a server in this process until killed.
     *
     * @param args socket path, then the snapshot files (full one first)
     */
    public static void main(String[] args) {
        List<Path> paths = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            paths.add(Path.of(args[i]));
        }
        try (PageSourceServer s = new PageSourceServer(args[0], paths)) {
            System.out.println("listening " + args[0]);
            System.out.flush();
            s.serve();
        }
    }
}
