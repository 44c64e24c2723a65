package dev.guestmem.share;

import java.time.Duration;
import java.util.HexFormat;

/**
 * A client of QEMU's qtest text protocol ({@code -qtest unix:PATH}): one command line each way,
 * replies {@code OK [VALUE]} or {@code FAIL ...}. Reads and writes go through the first CPU's
 * address space, as guest accesses would ({@code address_space_read/write}); QEMU ignores the
 * transaction result, so a write to ROM is dropped and an unassigned read gives 0.
 *
 * <p><b>Thread safety.</b> One thread at a time (the protocol is strictly request/reply).
 */
public final class QtestClient implements AutoCloseable {
    private final LineSocket socket;

    /**
     * Connects.
     *
     * @param path QEMU's qtest socket
     * @param timeout bound on connecting and on each reply (beyond a century: no limit)
     * @throws ShareException if it cannot connect
     */
    public QtestClient(String path, Duration timeout) {
        this.socket = new LineSocket(path, timeout);
    }

    private String call(String command) {
        socket.writeLine(command);
        String reply;
        do {
            reply = socket.readLine();
        } while (reply.startsWith("IRQ")); // asynchronous interrupt notifications, not replies
        if (!reply.startsWith("OK")) {
            throw new ShareException("qtest '" + command + "' answered '" + reply + "'");
        }
        return reply.length() > 3 ? reply.substring(3).strip() : "";
    }

    private static String hex(long v) {
        return "0x" + Long.toHexString(v);
    }

    /**
     * {@code writeb|writew|writel|writeq ADDR VALUE}.
     *
     * @param size 1, 2, 4 or 8
     * @param addr guest-physical address
     * @param value the value (low {@code size} bytes), stored in the target's byte order
     */
    public void write(int size, long addr, long value) {
        call("write" + suffix(size) + " " + hex(addr) + " " + hex(value));
    }

    /**
     * {@code readb|readw|readl|readq ADDR}.
     *
     * @param size 1, 2, 4 or 8
     * @param addr guest-physical address
     * @return the value, zero-extended
     */
    public long read(int size, long addr) {
        return Long.parseUnsignedLong(stripHex(call("read" + suffix(size) + " " + hex(addr))), 16);
    }

    /**
     * {@code write ADDR LEN 0xHEX}: bytes in order.
     *
     * @param addr guest-physical address
     * @param data the bytes, at least one
     */
    public void writeBytes(long addr, byte[] data) {
        call("write " + hex(addr) + " " + data.length + " 0x" + HexFormat.of().formatHex(data));
    }

    /**
     * {@code read ADDR LEN}: bytes in order.
     *
     * @param addr guest-physical address
     * @param len how many, at least one
     * @return the bytes
     */
    public byte[] readBytes(long addr, int len) {
        return HexFormat.of().parseHex(stripHex(call("read " + hex(addr) + " " + len)));
    }

    /**
     * {@code outb|outw|outl PORT VALUE}: a write to the I/O address space (x86 port I/O).
     *
     * @param size 1, 2 or 4
     * @param port the port
     * @param value the value (low {@code size} bytes)
     */
    public void out(int size, int port, long value) {
        call("out" + portSuffix(size) + " " + hex(port & 0xFFFF) + " " + hex(value));
    }

    /**
     * {@code inb|inw|inl PORT}: a read of the I/O address space (x86 port I/O).
     *
     * @param size 1, 2 or 4
     * @param port the port
     * @return the value, zero-extended
     */
    public long in(int size, int port) {
        return Long.parseUnsignedLong(stripHex(call("in" + portSuffix(size) + " " + hex(port & 0xFFFF))), 16);
    }

    private static String portSuffix(int size) {
        if (size == 8) {
            throw new IllegalArgumentException("port I/O is 1, 2 or 4 bytes, not 8");
        }
        return suffix(size);
    }

    private static String stripHex(String s) {
        return s.startsWith("0x") ? s.substring(2) : s;
    }

    private static String suffix(int size) {
        return switch (size) {
            case 1 -> "b";
            case 2 -> "w";
            case 4 -> "l";
            case 8 -> "q";
            default -> throw new IllegalArgumentException("size " + size + " is not 1, 2, 4 or 8");
        };
    }

    @Override
    public void close() {
        socket.close();
    }
}
