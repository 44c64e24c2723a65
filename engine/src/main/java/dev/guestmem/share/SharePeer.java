package dev.guestmem.share;

import java.io.Serializable;

/**
 * Who connected to a {@link RamShareServer}, as the kernel recorded it when the peer called
 * {@code connect} ({@code SO_PEERCRED}): the peer cannot forge it, and a later {@code setuid} or
 * hand-over of its socket does not change it.
 *
 * @param pid the peer's process id, as this process's pid namespace sees it; 0 if it cannot see it
 * @param uid the peer's effective user id (unsigned in C), as this process's user namespace sees
 *     it: a uid unmapped there reads as the overflow uid, usually 65534
 * @param gid the peer's effective group id, likewise
 */
public record SharePeer(int pid, int uid, int gid) implements Serializable {
    /** @return {@code pid P (uid U, gid G)}, ids unsigned */
    @Override
    public String toString() {
        return "pid " + pid + " (uid " + Integer.toUnsignedString(uid) + ", gid " + Integer.toUnsignedString(gid) + ")";
    }
}
