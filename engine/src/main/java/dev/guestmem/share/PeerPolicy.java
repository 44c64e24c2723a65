package dev.guestmem.share;

import dev.guestmem.linux.LinuxCalls;

/**
 * Which peers a {@link RamShareServer} hands its RAM to, decided from the credentials the kernel
 * recorded when the peer connected. A peer that is refused receives a refusal line and no
 * descriptor.
 *
 * <p>The default, {@link #sameUserOrRoot()}, is ssh-agent's rule: the server's own user and root.
 * Root can read and write any process's memory anyway ({@code /proc/PID/mem}, ptrace), so refusing
 * it would protect nothing; every other user is refused, which matters most for an abstract
 * {@code @NAME} socket, which has no file permissions. A lambda is a policy too, for instance
 * {@code peer -> peer.gid() == sharedGid} to serve a group.
 *
 * <p><b>Thread safety.</b> {@link RamShareServer#serveOne} calls {@link #allows} from its serving
 * thread; the policies made here are immutable.
 */
@FunctionalInterface
public interface PeerPolicy {
    /**
     * Decides whether a peer gets the RAM.
     *
     * @param peer who connected
     * @return true to serve it, false to refuse it
     */
    boolean allows(SharePeer peer);

    /**
     * Describes the rule, for the messages of a refusal.
     *
     * @return a phrase such as {@code "only uid 1000 and root"}
     */
    default String describe() {
        return "a caller-supplied peer policy";
    }

    /**
     * Serves peers whose effective uid is this process's effective uid (read now), or 0 (root).
     *
     * @return the policy {@link RamShareServer#listen(String, SharedMachine)} uses
     */
    static PeerPolicy sameUserOrRoot() {
        int self = LinuxCalls.geteuid();
        return uidIn(self, 0);
    }

    /**
     * Serves only peers whose effective uid is this process's effective uid (read now); root is
     * refused unless this process runs as root.
     *
     * @return the policy
     */
    static PeerPolicy sameUser() {
        int self = LinuxCalls.geteuid();
        return uidIn(self, self);
    }

    /** Serves uid {@code a} or {@code b}. */
    private static PeerPolicy uidIn(int a, int b) {
        String what = a == b ? "only uid " + Integer.toUnsignedString(a)
                : "only uid " + Integer.toUnsignedString(a) + " and uid " + Integer.toUnsignedString(b);
        return new PeerPolicy() {
            @Override
            public boolean allows(SharePeer peer) {
                return peer.uid() == a || peer.uid() == b;
            }

            @Override
            public String describe() {
                return what;
            }
        };
    }
}
