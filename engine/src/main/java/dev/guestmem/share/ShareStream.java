package dev.guestmem.share;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;

/**
 * A peer's end of a {@link RamShareServer} connection, read one line at a time with the descriptors
 * that came with them. Descriptors arrive with the first byte of their line, so they queue up in line
 * order: the layout's, then each plug's. A receive returns at most one message that carries
 * descriptors, and ends with it: the descriptors queued when a line is returned came with that line
 * or an earlier one, never a later one.
 *
 * <p><b>Thread safety.</b> One thread at a time (the attaching thread, then the follow thread).
 */
final class ShareStream implements AutoCloseable {
    /** Longest text kept unread: a layout is a few hundred bytes, a change one line. */
    private static final int MAX_PENDING = 1 << 20;

    private final int sock;
    private final String path;
    private final StringBuilder text = new StringBuilder();
    private final ArrayDeque<Integer> fds = new ArrayDeque<>();
    /** Bytes received so far, for messages. */
    private long received;
    /** Plug lines received whole and not yet handed out (each came with its descriptor). */
    private boolean closed;

    private ShareStream(String path) {
        this.path = path;
        try {
            this.sock = LinuxCalls.unixConnect(path);
        } catch (NativeCallException e) {
            throw new ShareException("cannot connect to " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * Connects, as a one-shot peer: the server sends the layout and hangs up.
     *
     * @param path the server's socket
     * @return the stream
     * @throws ShareException if the server cannot be reached
     */
    static ShareStream oneShot(String path) {
        return new ShareStream(path);
    }

    /**
     * Connects and asks to follow: the server sends the layout, answers, then pushes every change.
     *
     * @param path the server's socket
     * @return the stream
     * @throws ShareException if the server cannot be reached, or the request cannot be sent
     */
    static ShareStream following(String path) {
        ShareStream s = new ShareStream(path);
        s.requestFollowing();
        return s;
    }

    private void requestFollowing() {
        try {
            // at once, before reading: the server waits only so long after the layout
            byte[] req = (ShareProtocol.FOLLOW + "\n").getBytes(StandardCharsets.US_ASCII);
            if (LinuxCalls.sendWithFds(sock, req) != req.length) {
                throw new ShareException("could not send the follow request to " + path + " whole");
            }
        } catch (NativeCallException e) {
            if (e.errno() != Linux.EPIPE()) {
                close();
                throw new ShareException("asking " + path + " to follow: " + e.getMessage(), e);
            }
            // The server hung up already: what it sent first (a refusal, or an older server's layout)
            // is still to be read, and says why better than the broken pipe.
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** @return the socket path */
    String path() {
        return path;
    }

    /**
     * Returns the next line, waiting at most until the deadline.
     *
     * @param deadlineNanos a {@link System#nanoTime()} deadline
     * @return the line without its end, or null if none came in time
     * @throws ShareException if the server hung up, sent too much without a line end or too many
     *     descriptors, or reading failed
     */
    String nextLine(long deadlineNanos) {
        while (true) {
            int nl = text.indexOf("\n");
            if (nl >= 0) {
                String line = text.substring(0, nl);
                text.delete(0, nl + 1);
                return line;
            }
            if (!Fds.readable(sock, Math.max(0, (deadlineNanos - System.nanoTime()) / 1_000_000L))) {
                return null;
            }
            LinuxCalls.Received got;
            try {
                got = LinuxCalls.recvWithFds(sock, 64 * 1024, ShareProtocol.MAX_REGIONS);
            } catch (NativeCallException e) {
                throw new ShareException("reading " + path + ": " + e.getMessage(), e);
            }
            for (int fd : got.fds()) {
                fds.add(fd);
            }
            if (got.data().length == 0) {
                throw new ShareException(path + " closed the connection" + (text.isEmpty() ? "" : " in the middle of a line"));
            }
            received += got.data().length;
            if (got.controlTruncated()) {
                throw new ShareException(path + " sent more than " + ShareProtocol.MAX_REGIONS + " descriptors at once");
            }
            text.append(new String(got.data(), StandardCharsets.US_ASCII));
            if (text.length() > MAX_PENDING) {
                throw new ShareException(path + " sent more than " + MAX_PENDING + " bytes without a line end");
            }
        }
    }

    /**
     * Takes the oldest descriptor received; the caller owns it.
     *
     * @param forWhat what it is for, for the message
     * @throws ShareException if none is left
     */
    int takeFd(String forWhat) {
        Integer fd = fds.poll();
        if (fd == null) {
            throw new ShareException(path + " sent no descriptor for " + forWhat);
        }
        return fd;
    }

    /**
     * Takes every descriptor received and not yet taken; the caller owns them.
     *
     * @return them, oldest first
     */
    List<Integer> takeAllFds() {
        List<Integer> all = List.copyOf(fds);
        fds.clear();
        return all;
    }

    /**
     * The plug lines received whole and not yet handed out. A descriptor arrives with the first
     * byte of its line, and the kernel ends a receive with the message that carries it, so each of
     * these lines' descriptors is waiting, and every other descriptor waiting came with a line
     * handed out already, or with the part of a line after them ({@link #partLineWaiting()}).
     *
     * @return how many
     */
    int plugLinesWaiting() {
        int plugs = 0;
        for (int from = 0, nl = text.indexOf("\n"); nl >= 0; from = nl + 1, nl = text.indexOf("\n", from)) {
            if (ShareProtocol.isPlug(text, from)) {
                plugs++;
            }
        }
        return plugs;
    }

    /** @return whether part of a line is waiting (its end not received yet) */
    boolean partLineWaiting() {
        return text.lastIndexOf("\n") + 1 < text.length();
    }

    /** @return descriptors received and not yet taken */
    int fdsWaiting() {
        return fds.size();
    }

    /** @return bytes received so far */
    long received() {
        return received;
    }

    /** Closes the socket and the descriptors not taken. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        fds.forEach(LinuxCalls::close);
        fds.clear();
        LinuxCalls.close(sock);
    }
}
