package dev.guestmem.share;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import dev.guestmem.ram.RamBlock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Serves a {@link SharedMachine}'s RAM on a Unix socket: to each peer that connects it sends the
 * {@link ShareProtocol} layout and the blocks' descriptors ({@code SCM_RIGHTS}), then hangs up.
 * The peer maps the descriptors itself; from then on both processes share the bytes and the server
 * is no longer involved (a vhost-user style hand-off).
 *
 * <p><b>Who is served.</b> Before sending anything the server reads the peer's credentials
 * ({@code SO_PEERCRED}: pid, effective uid and gid when it connected) and asks its
 * {@link PeerPolicy}; by default only this process's user and root get the RAM. A refused peer
 * receives one {@code guestmem-share refused: ...} line and no descriptor ({@link SharedMachine#attach}
 * reports it as a {@link ShareException}); {@link #serveOne} throws {@link PeerRefusedException} and
 * the server goes on listening, so a serving loop catches {@link ShareException} (a refused peer, or
 * one that went away) and calls {@code serveOne} again.
 *
 * <p><b>Which layout.</b> The machine's current one: after {@link SharedMachine#plug} or
 * {@link SharedMachine#unplug} the next peer gets the new layout and descriptors (a peer being served
 * at that moment gets the old ones, whole). The server serves its own duplicates of the descriptors,
 * so it may outlive the machine: it then goes on serving the layout of the machine's last change
 * until it is closed.
 *
 * <p><b>Following peers.</b> A peer that asks to follow ({@link SharedMachine#attachFollowing},
 * {@link ShareProtocol#FOLLOW}) keeps its connection after the layout, and every later plug and
 * unplug is pushed to it as it is made, in order ({@link ShareProtocol}). The layout and the
 * registration happen in one hold of the lock that every change takes to publish itself, so each
 * change reaches the peer exactly once: in the layout, or pushed after it (a change made before the
 * peer's request was read waits in a queue of at most 64 changes; more disconnect the peer,
 * which is sent one refusal line saying why after its layout). A push never waits: a
 * follower whose socket is full (it stopped reading) or gone is disconnected, and plug and unplug go
 * on. A one-shot peer (one that does not ask within {@link ShareProtocol#HANDSHAKE_MILLIS} of its
 * layout) is hung up on as it always was; {@link SharedMachine#attach} closes its end at once, so
 * the server does too. {@link #following()} counts the followers; {@link #close()} disconnects them.
 * Each served peer's request is awaited on a short-lived daemon thread, so {@link #serveOne} does
 * not wait for it.
 *
 * <p><b>Thread safety.</b> {@link #serveOne} may be called from one thread at a time (a serving
 * loop); {@link #served()} from any thread; {@link #close()} once, which makes a concurrent
 * {@code serveOne} fail or return.
 */
public final class RamShareServer implements AutoCloseable {
    /** {@code S_IFMT} and {@code S_IFSOCK} of {@code stat(2)}'s {@code st_mode}. */
    private static final int S_IFMT = 0170000;
    private static final int S_IFSOCK = 0140000;
    /** How long the connection that checks for a live server waits for its layout before hanging up. */
    private static final long PROBE_WAIT_MILLIS = 1000;

    private final String path;
    private final int listenFd;
    private final PeerPolicy policy;
    private final SharedMachine machine;
    /**
     * The layout new peers get, with the server's own duplicates of the blocks' descriptors; replaced
     * (and the old one closed) when the machine plugs or unplugs, closed by {@link #close()}. Guarded
     * by {@link #fdLock}.
     */
    private ServedLayout current;
    /** Held while sending {@link #current} and while replacing or closing it, so that no closed number is sent. */
    private final Object fdLock = new Object();
    private final LayoutFollower follower = this::prepare;
    /**
     * Connections kept after their layout: peers in the handshake, and followers. Guarded by
     * {@link #fdLock}, so that a peer is handed either the layout with a change or the change, never
     * both or neither.
     */
    private final List<FollowFeed> feeds = new ArrayList<>();
    /** The latest reasons peers were disconnected for, oldest first, at most {@link #DISCONNECTS_KEPT}. Guarded by {@link #fdLock}. */
    private final ArrayDeque<String> disconnects = new ArrayDeque<>();
    /** How many disconnect reasons {@link #disconnects()} keeps. */
    public static final int DISCONNECTS_KEPT = 16;
    private final AtomicLong served = new AtomicLong();
    private volatile boolean closed;
    private final HandshakeStarter handshakes;

    /** Starts the thread that awaits a served peer's request; a test's makes it fail or wait. */
    @FunctionalInterface
    interface HandshakeStarter {
        /**
         * Starts {@code handshake} on a thread of its own.
         *
         * @param name the thread's name
         * @param handshake what it runs
         */
        void start(String name, Runnable handshake);
    }

    /** The usual starter: a daemon platform thread per served peer. */
    static final HandshakeStarter DAEMON_THREADS = (name, handshake) -> Thread.ofPlatform().daemon().name(name).start(handshake);

    private RamShareServer(String path, int listenFd, PeerPolicy policy, SharedMachine machine, ServedLayout first,
            HandshakeStarter handshakes) {
        this.handshakes = handshakes;
        this.path = path;
        this.listenFd = listenFd;
        this.policy = policy;
        this.machine = machine;
        this.current = first;
    }

    /**
     * Binds a listening socket for a machine's RAM that serves this process's user and root
     * ({@link PeerPolicy#sameUserOrRoot()}); see {@link #listen(String, SharedMachine, PeerPolicy)}.
     *
     * @param socketPath where to listen; {@code @NAME} for the abstract namespace
     * @param machine the machine
     * @return the server
     * @throws IllegalArgumentException if a block has no descriptor or is not shared, or the path is
     *     too long
     * @throws IllegalStateException if the machine is closed
     * @throws ShareException if a server answers on the path, something other than a stale socket
     *     is there, or the socket cannot be bound
     */
    public static RamShareServer listen(String socketPath, SharedMachine machine) {
        return listen(socketPath, machine, PeerPolicy.sameUserOrRoot());
    }

    /**
     * Binds a listening socket for a machine's RAM.
     *
     * <p>The path is first connected to: if a server answers there, the path is refused. A socket
     * file nobody answers on (left by a run that did not close its server) is replaced; any other
     * file there (regular file, directory, FIFO, device node, symbolic link) is refused and left alone.
     *
     * <p>Who may connect is up to the file system: a socket file is created with the process's
     * umask and connecting needs write permission on it (and search permission on its directories);
     * an abstract name has no permissions at all: any process in the same network namespace can
     * connect. Who of those gets the RAM read-write is up to {@code policy}, asked for each peer.
     *
     * @param socketPath where to listen; {@code @NAME} for the abstract namespace
     * @param machine the machine; its blocks must have descriptors (memfd or shared file). The server
     *     serves duplicates of them, so it may outlive the machine (the RAM then lives on in the
     *     descriptors until the server is closed); it follows the machine's plugs and unplugs until
     *     either is closed
     * @param policy which peers are served; {@link PeerPolicy#sameUserOrRoot()} is the default
     * @return the server
     * @throws IllegalArgumentException if a block has no descriptor or is not shared, or the path is
     *     too long
     * @throws IllegalStateException if the machine is closed
     * @throws ShareException if a server answers on the path, something other than a stale socket
     *     is there, or the socket cannot be bound
     */
    public static RamShareServer listen(String socketPath, SharedMachine machine, PeerPolicy policy) {
        return listen(socketPath, machine, policy, DAEMON_THREADS);
    }

    /** {@link #listen(String, SharedMachine, PeerPolicy)} with the handshake threads started by {@code handshakes}. */
    static RamShareServer listen(String socketPath, SharedMachine machine, PeerPolicy policy, HandshakeStarter handshakes) {
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(handshakes, "handshakes");
        // Under the machine's layout lock: no plug or unplug slips between reading the layout and following it.
        return machine.follow((layout, blocks) -> open(socketPath, machine, policy, ServedLayout.of(layout, blocks), handshakes),
                server -> server.follower);
    }

    private static RamShareServer open(String socketPath, SharedMachine machine, PeerPolicy policy, ServedLayout first,
            HandshakeStarter handshakes) {
        try {
            int connectErrno = refuseLiveServer(socketPath);
            if (!socketPath.startsWith("@")) {
                removeStaleSocket(socketPath, connectErrno);
            }
            return new RamShareServer(socketPath, LinuxCalls.unixListen(socketPath), policy, machine, first, handshakes);
        } catch (NativeCallException e) {
            first.close();
            throw new ShareException("cannot listen on " + socketPath + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            first.close();
            throw e;
        }
    }

    /**
     * Readies the machine's next layout for new peers; the switch happens at commit, under
     * {@link #fdLock}, so a peer being served gets the old layout whole and the next peer the new one.
     */
    private LayoutFollower.Pending prepare(List<SharedRamRegion> layout, List<RamBlock> blocks, LayoutChange change) {
        ServedLayout next = ServedLayout.of(layout, blocks);
        int at = layout.indexOf(change.region());
        RamBlock plugged = change.kind() == LayoutChange.Kind.PLUGGED ? blocks.get(at) : null;
        // a plug goes out with next's duplicate of the block's descriptor: next outlives the push
        FollowFeed.Push push = new FollowFeed.Push(ShareProtocol.encodeChange(change), plugged == null ? -1 : next.fds()[at], plugged);
        return new LayoutFollower.Pending() {
            @Override
            public void commit() {
                synchronized (fdLock) {
                    if (closed) {
                        next.close();
                        return;
                    }
                    push(push); // before next is closed: the plug's descriptor is next's
                    ServedLayout old = current;
                    current = next;
                    old.close(); // peers served it keep their own descriptors
                }
            }

            @Override
            public void abort() {
                next.close();
            }
        };
    }

    /** Hands a change to every kept connection; drops those it disconnected. Caller holds {@link #fdLock}. */
    private void push(FollowFeed.Push p) {
        for (FollowFeed f : feeds) {
            f.deliver(p);
        }
        dropClosedFeeds();
    }

    /**
     * Refuses a path a server answers on: binding there would take the path from it (its socket
     * file would be replaced; an abstract name is in use).
     *
     * @return the errno of the failed connection attempt (ENOENT: nothing there; ECONNREFUSED: a
     *     socket nobody listens on, or not a socket at all)
     */
    private static int refuseLiveServer(String socketPath) {
        int sock;
        try {
            sock = LinuxCalls.unixConnect(socketPath);
        } catch (NativeCallException e) {
            return e.errno();
        }
        try {
            // Let a guestmem server send its layout before hanging up, so that it does not log a
            // broken pipe; the descriptors it sent are dropped with the socket.
            Fds.readable(sock, PROBE_WAIT_MILLIS);
        } finally {
            LinuxCalls.close(sock);
        }
        throw new ShareException("a server is running on " + socketPath + " (it answered a connection); not taking its path");
    }

    /**
     * Removes a socket file nobody listens on (left by a run that did not close its server); refuses
     * and leaves alone anything else: a regular file, a directory, a FIFO, a device node, a symbolic
     * link, or a socket whose connection failed for another reason than a refusal (EACCES: it may be
     * another user's live server).
     */
    private static void removeStaleSocket(String socketPath, int connectErrno) {
        Path p = Path.of(socketPath);
        int mode;
        try {
            mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return; // nothing there
        } catch (IOException | UnsupportedOperationException e) {
            throw new ShareException("cannot listen on " + socketPath + ": cannot inspect what is there: " + e.getMessage(), e);
        }
        if ((mode & S_IFMT) != S_IFSOCK) {
            throw new ShareException("cannot listen on " + socketPath + ": it exists and is " + fileType(mode)
                    + ", not a socket (remove it or choose another path)");
        }
        if (connectErrno != Linux.ECONNREFUSED()) {
            throw new ShareException("cannot listen on " + socketPath + ": a socket is there and connecting to it failed with errno "
                    + connectErrno + " (" + LinuxCalls.strerror(connectErrno) + "), so it may be in use; not replacing it");
        }
        // A socket that refused the connection: nobody listens on it. (A server that binds it between
        // the connection attempt and here loses it, as with any stale-socket cleanup.)
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new ShareException("cannot remove the stale socket " + socketPath + ": " + e.getMessage(), e);
        }
    }

    private static String fileType(int mode) {
        return switch (mode & S_IFMT) {
            case 0100000 -> "a regular file";
            case 0040000 -> "a directory";
            case 0010000 -> "a FIFO";
            case 0020000 -> "a character device";
            case 0060000 -> "a block device";
            case 0120000 -> "a symbolic link";
            default -> "a file of type 0" + Integer.toOctalString(mode & S_IFMT);
        };
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
     * Counts the peers following the layout: those that asked to ({@link SharedMachine#attachFollowing})
     * and have not hung up or been disconnected (a follower that stopped reading, or one gone, is
     * disconnected at the next change; one that hung up is also noticed by the next {@link #serveOne}).
     *
     * @return how many peers are told of each plug and unplug now
     */
    public int following() {
        synchronized (fdLock) {
            return (int) feeds.stream().filter(FollowFeed::isFollowing).count();
        }
    }

    /**
     * Why peers were disconnected by the server (a follower that stopped reading, a bad request,
     * too many changes before it asked to follow...), also logged as warnings on the
     * {@code dev.guestmem.share} logger. A peer's own hang-up is its usual end and is not listed.
     *
     * @return the latest {@link #DISCONNECTS_KEPT} reasons, oldest first, each "peer ...: why"
     */
    public List<String> disconnects() {
        synchronized (fdLock) {
            return List.copyOf(disconnects);
        }
    }

    /** Forgets closed feeds, keeping why the server disconnected them; under {@link #fdLock}. */
    private void dropClosedFeeds() {
        feeds.removeIf(f -> {
            if (!f.isClosed()) {
                return false;
            }
            if (f.disconnectReason() != null) {
                if (disconnects.size() == DISCONNECTS_KEPT) {
                    disconnects.removeFirst();
                }
                disconnects.addLast(f.disconnectReason());
            }
            return true;
        });
    }

    /**
     * Waits for one peer and hands it the layout and descriptors.
     *
     * @param timeout how long to wait for a peer to connect (beyond a century: no limit)
     * @return true if a peer was served, false on timeout or after {@link #close()}
     * @throws PeerRefusedException if the {@link PeerPolicy} refused the peer (it was sent a
     *     refusal line and no descriptor); the server keeps listening
     * @throws ShareException if sending to the peer fails (it went away), its credentials
     *     cannot be read (it is not served), or the thread that awaits its request to follow cannot
     *     start (it was served its layout and hung up on, and told why); the server keeps listening
     * @throws IllegalArgumentException if the timeout is negative
     */
    public boolean serveOne(Duration timeout) {
        SharedMachine.checkTimeout(timeout);
        if (closed || !Fds.readable(listenFd, Timeouts.millis(timeout)) || closed) {
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
        FollowFeed feed = null;
        try {
            SharePeer peer = admit(conn);
            synchronized (fdLock) {
                if (closed) {
                    return false;
                }
                feeds.forEach(FollowFeed::checkGone);
                dropClosedFeeds();
                // before the descriptors leave: from then on the peer may map the RAM for good
                for (RamBlock b : current.blocks()) {
                    b.noteMappedElsewhere("peer " + peer + " served by RamShareServer on " + path);
                }
                send(conn);
                // in the same hold as the layout: every later change reaches this peer if it follows
                feed = new FollowFeed(conn, peer, "RamShareServer on " + path);
                feeds.add(feed);
            }
            served.incrementAndGet();
            startHandshake(feed, peer);
            return true;
        } catch (NativeCallException e) {
            throw new ShareException("sending the layout to a peer on " + path + ": " + e.getMessage(), e);
        } finally {
            if (feed == null) {
                LinuxCalls.close(conn);
            }
        }
    }

    /**
     * Starts the thread that awaits the peer's request; if it cannot start (no native thread left),
     * hangs up on the peer, telling it why: nothing else would ever end the handshake.
     *
     * @throws ShareException if the thread cannot start (the peer was served its layout and hung up on)
     */
    private void startHandshake(FollowFeed f, SharePeer peer) {
        try {
            handshakes.start("share-handshake " + peer, () -> handshake(f));
        } catch (RuntimeException | OutOfMemoryError e) { // OutOfMemoryError: "unable to create native thread"
            synchronized (fdLock) {
                f.refuse("the server cannot start a thread to wait for its request to follow (" + e + ")");
                dropClosedFeeds();
            }
            throw new ShareException("peer " + peer + " on " + path + " was served its layout but hung up on: "
                    + "cannot start its handshake thread: " + e, e);
        }
    }

    /**
     * Waits for a served peer to ask to follow, to hang up, or for the handshake to pass (then it is
     * hung up on, as a one-shot peer always was). Polls in slices: {@link #close()} may close the
     * connection meanwhile, and only reads under {@link #fdLock} check that it has not.
     */
    private void handshake(FollowFeed f) {
        while (true) {
            long left;
            synchronized (fdLock) {
                if (f.isClosed()) {
                    return;
                }
                left = f.handshakeMillisLeft();
            }
            boolean readable = Fds.readable(f.conn(), Math.min(left, HANDSHAKE_SLICE_MILLIS));
            synchronized (fdLock) {
                if (f.isClosed()) {
                    return;
                }
                if (readable) {
                    f.readRequest();
                } else if (f.handshakeOver()) {
                    f.close(null); // a one-shot peer that keeps its end open: hang up, as before following existed
                }
                if (!f.isPending()) {
                    dropClosedFeeds();
                    return;
                }
            }
        }
    }

    /** Longest poll of a handshake before it looks again whether the server closed. */
    private static final long HANDSHAKE_SLICE_MILLIS = 100;

    /**
     * Lets the peer on {@code conn} through if the policy allows it; else sends it the refusal
     * line and throws.
     *
     * @return the peer, admitted
     */
    private SharePeer admit(int conn) {
        LinuxCalls.PeerCredentials c;
        try {
            c = LinuxCalls.peerCredentials(conn);
        } catch (NativeCallException e) {
            throw new ShareException("cannot read the credentials of a peer on " + path + ", not serving it: " + e.getMessage(), e);
        }
        SharePeer peer = new SharePeer(c.pid(), c.uid(), c.gid());
        if (policy.allows(peer)) {
            return peer;
        }
        String reason = "uid " + Integer.toUnsignedString(peer.uid()) + " may not map this RAM (the server serves "
                + policy.describe() + ")";
        try {
            LinuxCalls.sendWithFds(conn, ShareProtocol.encodeRefusal(reason));
        } catch (NativeCallException e) {
            // it went away: the refusal stands all the same
        }
        throw new PeerRefusedException("refused peer " + peer + " on " + path + ": " + reason, peer);
    }

    /** Sends the layout, the descriptors on its first byte. Caller holds {@link #fdLock}. */
    private void send(int conn) {
        byte[] message = current.message();
        long sent = LinuxCalls.sendWithFds(conn, message, current.fds());
        while (sent < message.length) {
            byte[] rest = Arrays.copyOfRange(message, (int) sent, message.length);
            sent += LinuxCalls.sendWithFds(conn, rest);
        }
    }

    /**
     * Stops listening, closes the server's duplicates of the descriptors, disconnects the following
     * peers (they stop following and keep their layout) and removes the socket file; the peers keep
     * their mappings.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        LinuxCalls.close(listenFd);
        machine.unfollow(follower); // outside fdLock: a plug holds the machine's lock, then takes fdLock
        synchronized (fdLock) {
            current.close(); // a serveOne sending now finishes first; later ones see closed
            feeds.forEach(f -> f.close(FollowFeed.SERVER_CLOSED)); // followers see the end of their stream
            feeds.clear();
        }
        if (!path.startsWith("@")) {
            try {
                Files.deleteIfExists(Path.of(path));
            } catch (IOException e) {
                // nothing to undo: the socket is closed, a stale file is replaced by the next listen
            }
        }
    }
}
