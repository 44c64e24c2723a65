package dev.guestmem.access;

/**
 * Result of a memory transaction, as QEMU's {@code MemTxResult}: bit flags that are ORed when an
 * access is split into several device calls.
 *
 * <p>Access paths return these as plain {@code int}s so that nothing is allocated.
 */
public final class MemTxResult {
    /** The access succeeded. */
    public static final int OK = 0;
    /** The device reported an error ({@code MEMTX_ERROR}). */
    public static final int ERROR = 1;
    /** Nothing decodes the address ({@code MEMTX_DECODE_ERROR}). */
    public static final int DECODE_ERROR = 1 << 1;
    /** The access was denied: permissions, re-entrancy, attrs ({@code MEMTX_ACCESS_ERROR}). */
    public static final int ACCESS_ERROR = 1 << 2;

    private MemTxResult() {
    }

    /**
     * Names a result for messages.
     *
     * @param result an ORed combination of the flags
     * @return e.g. {@code "OK"} or {@code "DECODE_ERROR|ACCESS_ERROR"}
     */
    public static String toString(int result) {
        if (result == OK) {
            return "OK";
        }
        StringBuilder sb = new StringBuilder();
        if ((result & ERROR) != 0) {
            sb.append("ERROR");
        }
        if ((result & DECODE_ERROR) != 0) {
            sb.append(sb.isEmpty() ? "" : "|").append("DECODE_ERROR");
        }
        if ((result & ACCESS_ERROR) != 0) {
            sb.append(sb.isEmpty() ? "" : "|").append("ACCESS_ERROR");
        }
        int unknown = result & ~(ERROR | DECODE_ERROR | ACCESS_ERROR);
        if (unknown != 0) {
            sb.append(sb.isEmpty() ? "" : "|").append("0x").append(Integer.toHexString(unknown));
        }
        return sb.toString();
    }
}
