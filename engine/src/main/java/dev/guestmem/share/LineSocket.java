package dev.guestmem.share;

import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A connected Unix stream socket spoken one text line at a time, every read bounded by a timeout
 * (beyond a century: no limit).
 *
 * <p><b>Thread safety.</b> One thread at a time.
 */
final class LineSocket implements AutoCloseable {
    private final int fd;
    private final String path;
    private final Duration timeout;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment buf = arena.allocate(64 * 1024);
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private boolean closed;

    LineSocket(String path, Duration timeout) {
        this.path = path;
        this.timeout = timeout;
        try {
            this.fd = connect(path, timeout);
        } catch (NativeCallException e) {
            arena.close();
            throw new ShareException("cannot connect to " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * Connects, retrying while the server has bound its socket but not yet called listen (QEMU creates
     * the socket file first, so ECONNREFUSED right after start-up is normal), up to the timeout.
     */
    private static int connect(String path, Duration timeout) {
        long deadline = System.nanoTime() + Timeouts.nanos(timeout);
        for (;;) {
            try {
                return LinuxCalls.unixConnect(path);
            } catch (NativeCallException e) {
                if (e.errno() != ECONNREFUSED || System.nanoTime() - deadline > 0) {
                    throw e;
                }
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                throw new ShareException("interrupted while connecting to " + path, ie);
            }
        }
    }

    private static final int ECONNREFUSED = dev.guestmem.linux.Linux.ECONNREFUSED();

    void writeLine(String line) {
        byte[] b = (line + "\n").getBytes(StandardCharsets.UTF_8);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocate(b.length);
            MemorySegment.copy(b, 0, s, ValueLayout.JAVA_BYTE, 0, b.length);
            long done = 0;
            while (done < b.length) {
                done += LinuxCalls.write(fd, s.asSlice(done), b.length - done);
            }
        } catch (NativeCallException e) {
            throw new ShareException("writing to " + path + ": " + e.getMessage(), e);
        }
    }

    /** @return the next line without its end, or throws on timeout or end of stream */
    String readLine() {
        long deadline = System.nanoTime() + Timeouts.nanos(timeout);
        while (true) {
            byte[] have = pending.toByteArray();
            for (int i = 0; i < have.length; i++) {
                if (have[i] == '\n') {
                    pending.reset();
                    pending.write(have, i + 1, have.length - i - 1);
                    int end = i > 0 && have[i - 1] == '\r' ? i - 1 : i;
                    return new String(have, 0, end, StandardCharsets.UTF_8);
                }
            }
            Fds.awaitReadable(fd, deadline, "a line from " + path + " (" + Timeouts.describe(timeout) + ")");
            long n;
            try {
                n = LinuxCalls.read(fd, buf, buf.byteSize());
            } catch (NativeCallException e) {
                throw new ShareException("reading " + path + ": " + e.getMessage(), e);
            }
            if (n == 0) {
                throw new ShareException(path + " closed the connection");
            }
            pending.writeBytes(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            LinuxCalls.close(fd);
            arena.close();
        }
    }
}
