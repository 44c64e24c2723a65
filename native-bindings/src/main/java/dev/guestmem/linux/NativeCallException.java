package dev.guestmem.linux;

/** A Linux call failed: carries the call's name, errno and the text {@code strerror} gives. */
public class NativeCallException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** The C function or syscall that failed. */
    private final String call;
    /** The errno it left. */
    private final int errno;

    /**
     * Creates the exception.
     *
     * @param call the C function or syscall that failed
     * @param errno the errno it left
     * @param text the text of that errno
     */
    public NativeCallException(String call, int errno, String text) {
        super(call + " failed: errno " + errno + " (" + text + ")");
        this.call = call;
        this.errno = errno;
    }

    /**
     * Returns the name of the call that failed.
     *
     * @return the C function or syscall that failed
     */
    public String call() {
        return call;
    }

    /**
     * Returns the errno the call left.
     *
     * @return the errno value it left
     */
    public int errno() {
        return errno;
    }
}
