package dev.guestmem.ram;

import dev.guestmem.linux.NativeCallException;

/**
 * Creating, resizing, syncing or discarding a {@link RamBlock} failed in the kernel, as QEMU's
 * {@code file_ram_alloc} / {@code qemu_ram_msync} fill {@code errp}: carries the block name, the
 * call that failed and its errno. When this is thrown from a factory nothing stays mapped or open.
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public final class RamBackendException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The block the operation was for. */
    private final String idstr;
    /** The failing call, such as {@code "mmap"}, or {@code null} when no syscall failed. */
    private final String call;
    /** The errno the call left, 0 when no syscall failed. */
    private final int errno;

    /**
     * Creates the exception for a failed syscall.
     *
     * @param idstr the block name
     * @param what what was being done, such as {@code "mapping 0x1000 bytes of /dev/shm/x"}
     * @param cause the failed call
     */
    public RamBackendException(String idstr, String what, NativeCallException cause) {
        super("RAM block '" + idstr + "': " + what + ": " + cause.getMessage(), cause);
        this.idstr = idstr;
        this.call = cause.call();
        this.errno = cause.errno();
    }

    /**
     * Creates the exception for a failure that is not one syscall's errno.
     *
     * @param idstr the block name
     * @param message what went wrong, with the values involved
     */
    public RamBackendException(String idstr, String message) {
        super("RAM block '" + idstr + "': " + message);
        this.idstr = idstr;
        this.call = null;
        this.errno = 0;
    }

    /** @return the block name */
    public String idstr() {
        return idstr;
    }

    /** @return the failed call ({@code "mmap"}, {@code "open"}...), or {@code null} if none */
    public String call() {
        return call;
    }

    /** @return the errno the call left, 0 if no syscall failed */
    public int errno() {
        return errno;
    }
}
