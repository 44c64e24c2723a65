package dev.guestmem.uffd;

import dev.guestmem.linux.LinuxCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Byte and line I/O on a connected Unix stream socket, for the control and page protocols.
 *
 * <p>Lines are UTF-8, split on the newline byte (so a character is never cut where a read ends).
 * Fields of a line are separated by tabs; every field that can hold arbitrary text (a block name,
 * a path, a reason) is written with {@link #escape} and read back with {@link #fields}, so a tab,
 * newline or backslash in it cannot split the line or the field.
 *
 * <p>Thread safety: one reader and one writer at a time per instance.
 */
final class Wire implements AutoCloseable {
    final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment in = arena.allocate(4096);
    private final MemorySegment out = arena.allocate(4096);
    /** Bytes received and not yet returned: {@code buf[head, tail)}. */
    private byte[] buf = new byte[4096];
    private int head;
    private int tail;

    Wire(int fd) {
        this.fd = fd;
    }

    /**
     * Escapes a field: backslash, tab, newline and carriage return become {@code \\}, {@code \t},
     * {@code \n}, {@code \r}.
     *
     * @param field any text
     * @return the text without tabs or line ends
     */
    static String escape(String field) {
        StringBuilder b = new StringBuilder(field.length() + 8);
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            switch (c) {
                case '\\' -> b.append("\\\\");
                case '\t' -> b.append("\\t");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                default -> b.append(c);
            }
        }
        return b.toString();
    }

    /**
     * Undoes {@link #escape}.
     *
     * @param field an escaped field
     * @return the original text
     * @throws IllegalArgumentException on a bad escape
     */
    static String unescape(String field) {
        if (field.indexOf('\\') < 0) {
            return field;
        }
        StringBuilder b = new StringBuilder(field.length());
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c != '\\') {
                b.append(c);
                continue;
            }
            if (++i == field.length()) {
                throw new IllegalArgumentException("field ends in a lone backslash: " + field);
            }
            switch (field.charAt(i)) {
                case '\\' -> b.append('\\');
                case 't' -> b.append('\t');
                case 'n' -> b.append('\n');
                case 'r' -> b.append('\r');
                default -> throw new IllegalArgumentException("bad escape \\" + field.charAt(i) + " in " + field);
            }
        }
        return b.toString();
    }

    /**
     * Joins fields into one line, each {@linkplain #escape escaped}.
     *
     * @param fields the fields
     * @return the line, without a newline
     */
    static String line(String... fields) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < fields.length; i++) {
            if (i > 0) {
                b.append('\t');
            }
            b.append(escape(fields[i]));
        }
        return b.toString();
    }

    /**
     * Splits a line into its tab-separated fields, each {@linkplain #unescape unescaped}. Empty
     * fields are kept.
     *
     * @param line a line
     * @return its fields
     */
    static List<String> fields(String line) {
        List<String> f = new ArrayList<>();
        int from = 0;
        while (true) {
            int tab = line.indexOf('\t', from);
            if (tab < 0) {
                f.add(unescape(line.substring(from)));
                return f;
            }
            f.add(unescape(line.substring(from, tab)));
            from = tab + 1;
        }
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

    /** Sends one line (a newline is added); the caller escapes its fields. */
    synchronized void sendLine(String line) {
        byte[] b = (line + "\n").getBytes(StandardCharsets.UTF_8);
        MemorySegment buf = b.length <= out.byteSize() ? out : Arena.ofAuto().allocate(b.length);
        MemorySegment.copy(b, 0, buf, ValueLayout.JAVA_BYTE, 0, b.length);
        writeFully(fd, buf, b.length);
    }

    /** Reads one line without its newline; null at end of stream (a partial last line is dropped). */
    String readLine() {
        while (true) {
            String line = takeLine();
            if (line != null) {
                return line;
            }
            long n = LinuxCalls.read(fd, in, in.byteSize());
            if (n == 0) {
                return null;
            }
            append(in.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE));
        }
    }

    private String takeLine() {
        for (int i = head; i < tail; i++) {
            if (buf[i] == '\n') {
                String line = new String(buf, head, i - head, StandardCharsets.UTF_8);
                head = i + 1;
                return line;
            }
        }
        return null;
    }

    private void append(byte[] data) {
        if (head == tail) {
            head = 0;
            tail = 0;
        }
        if (tail + data.length > buf.length) {
            int live = tail - head;
            byte[] to = live + data.length > buf.length ? new byte[Math.max(2 * buf.length, live + data.length)] : buf;
            System.arraycopy(buf, head, to, 0, live);
            buf = to;
            head = 0;
            tail = live;
        }
        System.arraycopy(data, 0, buf, tail, data.length);
        tail += data.length;
    }

    /** Adds bytes already received (with descriptors) to the line buffer. */
    void push(byte[] data) {
        append(data);
    }

    /** Frees the buffers without closing the descriptor (owned by someone else). */
    void closeBuffers() {
        arena.close();
    }

    @Override
    public void close() {
        LinuxCalls.close(fd);
        arena.close();
    }
}
