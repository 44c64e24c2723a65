package dev.guestmem.uffd;

import dev.guestmem.linux.LinuxCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * Byte and line I/O on a connected Unix stream socket, for the control and page protocols.
 *
 * <p>Thread safety: one reader and one writer at a time per instance.
 */
final class Wire implements AutoCloseable {
    final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment in = arena.allocate(4096);
    private final MemorySegment out = arena.allocate(4096);
    private final StringBuilder pending = new StringBuilder();

    Wire(int fd) {
        this.fd = fd;
    }

    /** Reads exactly {@code len} bytes into {@code buf}; returns false at end of stream before any byte. */
    static boolean readFully(int fd, MemorySegment buf, long len) {
        long done = 0;
        while (done < len) {
            long n = LinuxCalls.read(fd, buf.asSlice(done), len - done);
            if (n == 0) {
                if (done == 0) {
                    return false;
                }
                throw new PageSourceException("stream ended after " + done + " of " + len + " bytes");
            }
            done += n;
        }
        return true;
    }

    /** Writes exactly {@code len} bytes from {@code buf}. */
    static void writeFully(int fd, MemorySegment buf, long len) {
        long done = 0;
        while (done < len) {
            done += LinuxCalls.write(fd, buf.asSlice(done), len - done);
        }
    }

    /** Sends one line (a newline is added). */
    synchronized void sendLine(String line) {
        byte[] b = (line + "\n").getBytes(StandardCharsets.UTF_8);
        MemorySegment buf = b.length <= out.byteSize() ? out : Arena.ofAuto().allocate(b.length);
        MemorySegment.copy(b, 0, buf, ValueLayout.JAVA_BYTE, 0, b.length);
        writeFully(fd, buf, b.length);
    }

    /** Reads one line without its newline; null at end of stream. */
    String readLine() {
        while (true) {
            int nl = pending.indexOf("\n");
            if (nl >= 0) {
                String line = pending.substring(0, nl);
                pending.delete(0, nl + 1);
                return line;
            }
            long n = LinuxCalls.read(fd, in, in.byteSize());
            if (n == 0) {
                return null;
            }
            pending.append(new String(in.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8));
        }
    }

    /** Adds bytes already received (with descriptors) to the line buffer. */
    void push(byte[] data) {
        pending.append(new String(data, StandardCharsets.UTF_8));
    }

    @Override
    public void close() {
        LinuxCalls.close(fd);
        arena.close();
    }
}
