package dev.guestmem.share;

import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import dev.guestmem.ram.RamBlock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Serves a {@link SharedMachine}'s RAM on a Unix socket: to each peer that connects it sends the
 * {@link ShareProtocol} layout and the blocks' descriptors ({@code SCM_RIGHTS}), then hangs up.
 * The peer maps the descriptors itself; from then on both processes share the bytes and the server
 * is no longer involved (a vhost-user style hand-off).
 *
 * <p><b>Thread safety.</b> {@link #serveOne} may be called from one thread at a time (a serving
 * loop); {@link #served()} from any thread; {@link #close()} once, which makes a concurrent
 * {@code serveOne} fail or return.
 */
public final class RamShareServer implements AutoCloseable {
    private final String path;
    private final int listenFd;
    private final byte[] message;
    private final int[] fds;
    private final AtomicLong served = new AtomicLong();
    private volatile boolean closed;

    private RamShareServer(String path, int listenFd, byte[] message, int[] fds) {
        this.path = path;
        this.listenFd = listenFd;
        this.message = message;
        this.fds = fds;
    }

    /**
     * Binds a listening socket for a machine's RAM.
     *
     * @param socketPath where to listen (a stale socket file there is replaced)
     * @param machine the machine; its blocks must have descriptors (memfd or shared file)
     * @return the server
     * @throws IllegalArgumentException if a block has no descriptor or is not shared
     * @throws ShareException if the socket cannot be bound
     */
    public static RamShareServer listen(String socketPath, SharedMachine machine) {
        List<RamBlock> blocks = machine.blocks();
        int[] fds = new int[blocks.size()];
        for (int i = 0; i < fds.length; i++) {
            RamBlock b = blocks.get(i);
            if (b.fd() < 0 || !b.isShared() || b.fdOffset() != 0) {
                throw new IllegalArgumentException("block '" + b.idstr() + "' cannot be shared: fd " + b.fd() + ", shared "
                        + b.isShared() + ", fd offset 0x" + Long.toHexString(b.fdOffset()));
            }
            fds[i] = b.fd();
        }
        byte[] msg = ShareProtocol.encode(machine.layout());
        try {
            Path p = Path.of(socketPath);
            if (!socketPath.startsWith("@") && Files.exists(p) && !Files.isRegularFile(p) && !Files.isDirectory(p)) {
                Files.delete(p); // a socket left by an earlier run
            }
            return new RamShareServer(socketPath, LinuxCalls.unixListen(socketPath), msg, fds);
        } catch (NativeCallException e) {
            throw new ShareException("cannot listen on " + socketPath + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** @return the socket path */
    public String path() {
        return path;
    }

    /** @return how many peers were served */
    public long served() {
        return served.get();
    }

    /**
     * Waits for one peer and hands it the layout and descriptors.
     *
     * @param timeout how long to wait for a peer to connect
     * @return true if a peer was served, false on timeout or after {@link #close()}
     * @throws ShareException if sending to the peer fails (it went away)
     */
    public boolean serveOne(Duration timeout) {
        if (closed || !Fds.readable(listenFd, timeout.toMillis()) || closed) {
            return false;
        }
        int conn;
        try {
            conn = LinuxCalls.unixAccept(listenFd);
        } catch (NativeCallException e) {
            if (closed) {
                return false;
            }
            throw new ShareException("accept on " + path + ": " + e.getMessage(), e);
        }
        try {
            long sent = LinuxCalls.sendWithFds(conn, message, fds);
            while (sent < message.length) {
                byte[] rest = java.util.Arrays.copyOfRange(message, (int) sent, message.length);
                sent += LinuxCalls.sendWithFds(conn, rest);
            }
            served.incrementAndGet();
            return true;
        } catch (NativeCallException e) {
            throw new ShareException("sending the layout to a peer on " + path + ": " + e.getMessage(), e);
        } finally {
            LinuxCalls.close(conn);
        }
    }

    /** Stops listening and removes the socket file; the peers keep their mappings. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        LinuxCalls.close(listenFd);
        if (!path.startsWith("@")) {
            try {
                Files.deleteIfExists(Path.of(path));
            } catch (IOException e) {
                // nothing to undo: the socket is closed, a stale file is replaced by the next listen
            }
        }
    }
}
