package dev.guestmem.share;

import java.io.Serial;

/**
 * A {@link RamShareServer}'s {@link PeerPolicy} refused a peer: it was sent a refusal line and no
 * descriptor, and the server goes on listening.
 *
 * <p><b>Thread safety.</b> Immutable once thrown.
 */
public final class PeerRefusedException extends ShareException {
    @Serial
    private static final long serialVersionUID = 1L;

    /** Who was refused. */
    private final SharePeer peer;

    /**
     * Creates the exception.
     *
     * @param message what was refused and why
     * @param peer who was refused
     */
    public PeerRefusedException(String message, SharePeer peer) {
        super(message);
        this.peer = peer;
    }

    /** @return who was refused */
    public SharePeer peer() {
        return peer;
    }
}
