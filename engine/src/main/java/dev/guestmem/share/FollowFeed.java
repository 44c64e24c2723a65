package dev.guestmem.share;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;

/**
 * One peer's connection to a {@link RamShareServer} after its layout was sent: pending until the
 * peer asks to follow ({@link ShareProtocol#FOLLOW}), hangs up or lets the handshake pass; then, if it
 * follows, the changes pushed to it.
 *
 * <p>Sends never wait: the socket is non-blocking, and a change that does not fit whole (the peer
 * stopped reading) or fails (the peer is gone) disconnects the peer; a cut line would corrupt its
 * stream, and a server that waited would stall {@link SharedMachine#plug} behind it. While pending, the
 * changes wait in a queue of at most {@link #MAX_QUEUED}; more disconnect the peer too.
 *
 * <p><b>Thread safety.</b> Guarded by the server's sending lock: every method is called with it held.
 */
final class FollowFeed {
    /** Most changes kept for a peer that has not yet asked to follow. */
    static final int MAX_QUEUED = 64;
    /** Longest request line read. */
    private static final int MAX_REQUEST = 256;
    /** Where a peer disconnected by the server is reported: an operator's only trace of it. */
    private static final System.Logger LOG = System.getLogger("dev.guestmem.share");
    /** The reason {@link RamShareServer#close()} gives: the usual end, not reported. */
    static final String SERVER_CLOSED = "the server closed";

    /** Where the peer is in the protocol. */
    private enum State { PENDING, FOLLOWING, CLOSED }

    /**
     * One change as sent: its line and, for a plug, the block and a descriptor of it.
     *
     * @param line the line's bytes
     * @param fd the block's descriptor, or -1
     * @param block the plugged block, noted as mapped by the peer before its descriptor leaves; or null
     */
    record Push(byte[] line, int fd, RamBlock block) {
        /** Closes the descriptor, if any. */
        void close() {
            if (fd >= 0) {
                closeQuietly(fd);
            }
        }
    }

    private final int conn;
    private final SharePeer peer;
    /** The server, for the note on a block pushed to the peer. */
    private final String servedBy;
    /** {@link System#nanoTime()} after which a pending peer is hung up on. */
    private final long handshakeDeadline;
    private final ArrayDeque<Push> queued = new ArrayDeque<>();
    private final StringBuilder request = new StringBuilder();
    private State state = State.PENDING;
    /** Why the server disconnected the peer, or null (not disconnected, or its usual end). */
    private String disconnectReason;

    /**
     * Takes over a connection whose layout was sent, making it non-blocking.
     *
     * @throws NativeCallException if the descriptor's flags cannot be set (the caller closes it)
     */
    FollowFeed(int conn, SharePeer peer, String servedBy) {
        LinuxCalls.fcntl(conn, Linux.F_SETFL(), LinuxCalls.fcntl(conn, Linux.F_GETFL(), 0) | Linux.O_NONBLOCK());
        this.conn = conn;
        this.peer = peer;
        this.servedBy = servedBy;
        this.handshakeDeadline = System.nanoTime() + ShareProtocol.HANDSHAKE_MILLIS * 1_000_000L;
    }

    /** @return the connection, for polling only: reads and writes go through this class */
    int conn() {
        return conn;
    }

    boolean isPending() {
        return state == State.PENDING;
    }

    boolean isFollowing() {
        return state == State.FOLLOWING;
    }

    boolean isClosed() {
        return state == State.CLOSED;
    }

    /** @return why the server disconnected the peer ("peer ...: why"), or null */
    String disconnectReason() {
        return disconnectReason;
    }

    /** @return whether the handshake time is over */
    boolean handshakeOver() {
        return System.nanoTime() - handshakeDeadline > 0;
    }

    /** @return milliseconds left for the handshake, at least 0 */
    long handshakeMillisLeft() {
        return Math.max(0, (handshakeDeadline - System.nanoTime()) / 1_000_000L);
    }

    /**
     * Hands the peer one change: sends it to a follower, queues it (with a descriptor of its own)
     * for a pending peer. Never throws; a failure disconnects the peer.
     *
     * @param p the change; its descriptor stays the caller's
     */
    void deliver(Push p) {
        switch (state) {
            case FOLLOWING -> send(p);
            case PENDING -> {
                if (queued.size() == MAX_QUEUED) {
                    refuse("more than " + MAX_QUEUED + " layout changes were made before its request to follow was read");
                    return;
                }
                int fd = -1;
                try {
                    fd = p.fd() < 0 ? -1 : LinuxCalls.fcntl(p.fd(), Linux.F_DUPFD_CLOEXEC(), 0);
                } catch (NativeCallException e) {
                    refuse("the server cannot keep a descriptor of a plugged region for it: " + e.getMessage());
                    return;
                }
                queued.add(new Push(p.line(), fd, p.block()));
            }
            case CLOSED -> { }
        }
    }

    /**
     * Reads what a pending peer sent, without waiting: its complete request makes it a follower
     * (answered, and sent the changes queued since its layout); the end of the stream, another
     * request or too long a line closes it. Never throws.
     */
    void readRequest() {
        if (state != State.PENDING) {
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(MAX_REQUEST);
            long n;
            try {
                n = LinuxCalls.read(conn, buf, MAX_REQUEST);
            } catch (NativeCallException e) {
                if (e.errno() != Linux.EAGAIN()) {
                    close("reading its request: " + e.getMessage());
                }
                return;
            }
            if (n == 0) {
                close(null); // a one-shot peer done with its layout: the usual end
                return;
            }
            request.append(new String(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII));
        }
        int nl = request.indexOf("\n");
        if (nl < 0) {
            if (request.length() > MAX_REQUEST) {
                close("a request line longer than " + MAX_REQUEST + " bytes");
            }
            return;
        }
        if (!request.substring(0, nl).equals(ShareProtocol.FOLLOW)) {
            close("an unknown request '" + request.substring(0, nl) + "'");
            return;
        }
        state = State.FOLLOWING;
        send(new Push((ShareProtocol.FOLLOWING + "\n").getBytes(StandardCharsets.US_ASCII), -1, null));
        while (!queued.isEmpty()) {
            Push p = queued.poll();
            send(p);
            p.close();
        }
    }

    /**
     * Whether a follower hung up; it sends nothing after its request, so anything readable is the
     * end of its stream (or bytes it should not send: it is disconnected either way). Never throws.
     */
    void checkGone() {
        if (state == State.FOLLOWING && Fds.readable(conn, 0)) {
            close(null); // its usual end (bytes after the request would end it the same way)
        }
    }

    private void send(Push p) {
        if (state != State.FOLLOWING) {
            return;
        }
        if (p.block() != null) {
            // before the descriptor leaves: from then on the peer may map the block for good
            p.block().noteMappedElsewhere("peer " + peer + " following " + servedBy);
        }
        long sent;
        try {
            sent = p.fd() < 0 ? LinuxCalls.sendWithFds(conn, p.line()) : LinuxCalls.sendWithFds(conn, p.line(), p.fd());
        } catch (NativeCallException e) {
            if (e.errno() == Linux.EPIPE()) {
                close(null); // it hung up since the last change: its usual end
            } else {
                close(e.errno() == Linux.EAGAIN() ? "it stopped reading (its socket is full)" : "sending failed: " + e.getMessage());
            }
            return;
        }
        if (sent < p.line().length) {
            close("it stopped reading (its socket is full)");
        }
    }

    /**
     * Hangs up on a pending peer, telling it why first: one {@link ShareProtocol#REFUSED} line after
     * its layout, where a follower reads the answer to its request (a one-shot peer has stopped
     * reading by then). Sent only if it fits at once: the server never waits for a peer. A peer no
     * longer pending is just closed.
     *
     * @param why why, for the peer and the {@code dev.guestmem.share} logger, worded for a user
     */
    void refuse(String why) {
        if (state == State.PENDING) {
            try {
                LinuxCalls.sendWithFds(conn, ShareProtocol.encodeRefusal(why));
            } catch (NativeCallException e) {
                // gone or full: it sees the end of the stream without the reason
            }
        }
        close(why);
    }

    /**
     * Hangs up on the peer and drops what was queued for it; later calls do nothing.
     *
     * @param why why, reported as a warning on the {@code dev.guestmem.share} logger unless it is
     *     {@link #SERVER_CLOSED}; or null for a peer that ended the connection itself
     */
    void close(String why) {
        if (state == State.CLOSED) {
            return;
        }
        if (why != null && !why.equals(SERVER_CLOSED)) {
            disconnectReason = "peer " + peer + ": " + why;
            LOG.log(System.Logger.Level.WARNING, "share server {0}: disconnected {1}", servedBy, disconnectReason);
        }
        state = State.CLOSED;
        queued.forEach(Push::close);
        queued.clear();
        closeQuietly(conn);
    }

    private static void closeQuietly(int fd) {
        try {
            LinuxCalls.close(fd);
        } catch (NativeCallException ignored) {
            // our own descriptor: nothing else to undo
        }
    }
}
