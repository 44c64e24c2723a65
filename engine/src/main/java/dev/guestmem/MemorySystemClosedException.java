package dev.guestmem;

/**
 * Thrown by a setup call on a {@link MemorySystem} that was {@linkplain MemorySystem#close() closed}:
 * a new region, address space or listener for a machine that is gone, a transaction, a global
 * dirty-log start or stop, or any change to one of its regions. The message names the call.
 * Nothing changes.
 *
 * <p><b>Thread safety.</b> Immutable once thrown.
 */
public class MemorySystemClosedException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    /**
     * Creates an exception.
     *
     * @param what the refused call, for the message
     */
    public MemorySystemClosedException(String what) {
        super(what + ": the memory system is closed");
    }
}
