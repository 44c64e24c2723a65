package dev.guestmem.share;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.pollfd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** Bounded waits on descriptors. Thread safety: stateless. */
final class Fds {
    private Fds() {
    }

    /**
     * Waits until {@code fd} is readable (or hung up) or the deadline passes.
     *
     * @param fd the descriptor
     * @param deadlineNanos a {@link System#nanoTime()} deadline
     * @param what what is awaited, for the message
     * @throws ShareException on timeout
     */
    static void awaitReadable(int fd, long deadlineNanos, String what) {
        if (!readable(fd, Math.max(0, (deadlineNanos - System.nanoTime()) / 1_000_000L))) {
            throw new ShareException("timed out waiting for " + what);
        }
    }

    /**
     * Waits until {@code fd} is readable (or hung up).
     *
     * @param fd the descriptor
     * @param millis the most milliseconds to wait
     * @return false on timeout
     */
    static boolean readable(int fd, long millis) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment p = pollfd.allocate(arena);
            pollfd.fd(p, fd);
            pollfd.events(p, (short) Linux.POLLIN());
            return LinuxCalls.poll(p, 1, (int) Math.min(Integer.MAX_VALUE, millis)) > 0;
        }
    }
}
