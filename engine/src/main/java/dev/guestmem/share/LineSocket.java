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
 * A connected Unix stream socket spoken one text line at a time, every read bounded by a timeout.
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
            this.fd = LinuxCalls.unixConnect(path);
        } catch (NativeCallException e) {
            arena.close();
            throw new ShareException("cannot connect to " + path + ": " + e.getMessage(), e);
        }
    }

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
        long deadline = System.nanoTime() + timeout.toNanos();
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
            Fds.awaitReadable(fd, deadline, "a line from " + path + " (" + timeout.toMillis() + " ms)");
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
