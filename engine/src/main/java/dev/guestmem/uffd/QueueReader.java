package dev.guestmem.uffd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.pollfd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;

/**
 * The page server's reader of the userfaultfd queue: REMOVE events are recorded in
 * {@link ServedPages} at once ({@link #discarded}: bookkeeping only, no copy), page faults wait in
 * {@link #queued} for the serve loop. Also read when a fill answers EAGAIN ({@link #retryWait}),
 * which means an event is unread: the kernel lets no page in until this process has read it.
 *
 * <p>Thread safety: the page server's single thread.
 */
final class QueueReader {
    private static final int BATCH_MSGS = 64;

    private final Uffd uffd;
    private final ServerLayout layout;
    private final ServedPages served;
    /** Messages read off the userfaultfd: {@link #pump} is never re-entered, so one buffer does. */
    private final MemorySegment msgs;
    /** The userfaultfd alone, for the back-off of {@link #retryWait}. */
    private final MemorySegment uffdPoll;
    private boolean pumping;
    /** Page faults read and not yet served, in order. */
    final ArrayDeque<Long> queued = new ArrayDeque<>();
    private long discardedPages;

    QueueReader(Uffd uffd, ServerLayout layout, ServedPages served, Arena arena) {
        this.uffd = uffd;
        this.layout = layout;
        this.served = served;
        this.msgs = arena.allocate(Uffd.MSG_SIZE * BATCH_MSGS, 8);
        this.uffdPoll = pollfd.allocate(arena);
        pollfd.fd(uffdPoll, uffd.fd);
        pollfd.events(uffdPoll, (short) Linux.POLLIN());
    }

    /** @return pages wholly discarded before they were served */
    long discardedPages() {
        return discardedPages;
    }

    /**
     * Reads every queued message without waiting: REMOVE events are applied ({@link #discarded}:
     * bookkeeping only, no copy), page faults are queued for the serve loop. Never re-entered:
     * nothing it calls copies a page or reads the queue.
     *
     * @return whether an event other than a page fault was read
     */
    boolean pump() {
        if (pumping) {
            throw new IllegalStateException("page server: the userfaultfd queue read re-entrantly");
        }
        pumping = true;
        try {
            return uffd.readEvents(msgs, queued::add, this::discarded);
        } finally {
            pumping = false;
        }
    }

    /**
     * After a fill answered EAGAIN: reads the queue (faults read meanwhile wait in {@link #queued}).
     * If no event was read, the one that caused the EAGAIN was read before and the kernel still
     * refuses fills until the discarding thread has run on: then backs off (spins a few rounds,
     * then yields, then waits up to a millisecond for the queue) instead of spinning a core the
     * discarding thread may need.
     *
     * @param attempt EAGAIN answers in a row so far for this fill
     */
    void retryWait(int attempt) {
        if (pump()) {
            return; // an event read: the answer may have changed, try again at once
        }
        switch (EagainBackoff.after(attempt)) {
            case SPIN -> Thread.onSpinWait();
            case YIELD -> Thread.yield();
            default -> LinuxCalls.poll(uffdPoll, 1, 1);
        }
    }

    /**
     * The guest discarded {@code [from, to)} (MADV_DONTNEED/MADV_REMOVE on a registered range; the
     * kernel drops the pages only after this event was read, so every copy from now on sees the
     * mark). A page wholly inside is done: never copied from the source any more, its next fault
     * gets zeros, as a discarded page reads without a restore. A page only partly inside and not
     * yet served gets the part recorded ({@link ServedPages#cutsOf}): every copy of it from now on has the part
     * zeroed, so whether the copy lands before or after the kernel drops the part, the part reads
     * zeros and the rest the snapshot. Bookkeeping only: called from {@link #pump}, it copies
     * nothing (a copy could meet EAGAIN and read the queue again, re-entrantly).
     */
    private void discarded(long from, long to) {
        for (int b = 0; b < layout.blocks(); b++) {
            long lo = Math.max(from, layout.start[b]);
            long hi = Math.min(to, layout.start[b] + layout.length[b]);
            if (Long.compareUnsigned(lo, hi) >= 0) {
                continue;
            }
            long ps = layout.pageSize[b];
            long first = (lo - layout.start[b]) / ps;
            long last = (hi - layout.start[b] - 1) / ps;
            for (long p = first; p <= last; p++) {
                long pStart = layout.start[b] + p * ps;
                if (served.isPresent(b, p)) {
                    continue; // served: the kernel drops it, a fault then gets zeros
                }
                if (served.cut(b, p, Math.max(lo, pStart) - pStart, Math.min(hi, pStart + ps) - pStart, ps)) {
                    discardedPages++;
                }
            }
        }
    }
}
