package dev.guestmem.uffd;

import dev.guestmem.internal.SigbusFence;
import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.pollfd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Puts pages into the page server's blocks: from the source with the parts discarded before they
 * were served zeroed ({@link #fillPage}), runs of pages ({@link #install}), zeros after a discard
 * ({@link #zeroFill}); and, once the source fails ({@link #fail}), poison on every page never
 * served. Every fill goes on through EAGAIN (an event unread) by reading the queue
 * ({@link QueueReader#retryWait}) and finishes a page a copy cut short.
 *
 * <p>Thread safety: the page server's single thread.
 */
final class PageInstaller {
    /** {@link #install}'s answer when nothing was installed because an event is unread. */
    static final long AGAIN = -1;
    /** Why {@link #install} stopped early: nothing, EAGAIN (an event unread), EEXIST, another failure ({@link #fail} called). */
    static final int STOP_NONE = 0;
    static final int STOP_AGAIN = 1;
    static final int STOP_EEXIST = 2;
    static final int STOP_FAILED = 3;
    /** {@link #fillPage}: the page was wholly discarded meanwhile, nothing more to copy. */
    static final long DISCARDED = -2;
    /** {@link #fillPage}: the source failed or a copy was refused; broken now. */
    static final long FAILED = -3;
    /**
     * Test hook: a file created when the source fails, before the poisoning, which then waits (at
     * most 10 s) until an event is queued, so a test can discard a page at that moment; from
     * {@code guestmem.uffd.test.holdFailure}.
     */
    private static final String HOLD_FAILURE = System.getProperty("guestmem.uffd.test.holdFailure");

    private final Uffd uffd;
    private final Wire ctl;
    private final ServerLayout layout;
    private final ServedPages served;
    private final PageSource source;
    private final QueueReader queue;
    private final FaultStats stats;
    private final MemorySegment zeroPage;
    /** A page's bytes with its discarded parts zeroed ({@link #fillPage}; never nested). */
    private final MemorySegment scratch;
    private boolean broken;
    /** Why the last {@link #install} stopped early: one of the {@code STOP_} values. */
    int lastStop;
    /** {@link #fillPage}'s last source page was all zeros (no bytes in the source). */
    boolean lastFillZero;

    PageInstaller(Uffd uffd, Wire ctl, ServerLayout layout, ServedPages served, PageSource source, QueueReader queue,
            FaultStats stats, Arena arena) {
        this.uffd = uffd;
        this.ctl = ctl;
        this.layout = layout;
        this.served = served;
        this.source = source;
        this.queue = queue;
        this.stats = stats;
        this.zeroPage = arena.allocate(Math.max(layout.maxPage(), 4096), 4096);
        this.scratch = arena.allocate(Math.max(layout.maxPage(), 4096), 4096);
    }

    /** @return whether the source failed (every page never served is poisoned) */
    boolean broken() {
        return broken;
    }

    /**
     * Poisons page {@code p} of block {@code b}, never served, after the source failed.
     *
     * @return {@link #AGAIN} if an event must be read first, else 0 (a refusal only wakes)
     */
    long poison(int b, long p) {
        long ps = layout.pageSize[b];
        long dst = layout.start[b] + p * ps;
        long r = uffd.poison(dst, ps);
        if (r == -Linux.EAGAIN()) {
            return AGAIN;
        }
        if (r < 0) {
            uffd.wake(dst, ps);
        }
        return 0;
    }

    /** {@link #fillPage(int, long, long)} of a page no copy has put any part of yet. */
    long fillPage(int b, long p) {
        return fillPage(b, p, 0);
    }

    /**
     * Installs page {@code p} of block {@code b} from the source, with the parts discarded before
     * it was served ({@link ServedPages#cutsOf}) zeroed, and marks it present. A copy cut short (EAGAIN after
     * part of the page: an event is unread) reads the queue and goes on from where it stopped,
     * with the cuts as they are then: no part of a page larger than the base page is left
     * missing. Stops early if the page is wholly discarded meanwhile (present then, by
     * {@link QueueReader}) or the source fails.
     *
     * <p>A part of the page already there (EEXIST) that this server did not copy means the page
     * was populated outside the restore: the range is registered in MISSING mode, so neither the
     * guest (whose first touch faults) nor a discard (which makes holes) puts a page there; another
     * mapping of the same memfd or shared file does, which the userfaultfd does not cover. The
     * guest already reads that page instead of the snapshot's, and it can no longer be replaced:
     * the restore breaks ({@link #lost}). Every legitimate EEXIST is answered elsewhere: a page
     * served, prefetched or wholly discarded is present in {@link ServedPages} and never filled
     * again (a second fault on it is a {@link #zeroFill}), and the part a run cut short inside
     * this page copied is {@code from}.
     *
     * @param from bytes at the start of the page that this server's copy has already put there (a
     *     prefetch run cut short inside the page), 0 if none
     * @return bytes copied, {@link #DISCARDED} if the page was wholly discarded meanwhile, or
     *         {@link #FAILED} if the server is broken now
     */
    long fillPage(int b, long p, long from) {
        long ps = layout.pageSize[b];
        long dst = layout.start[b] + p * ps;
        long off = from;
        long copied = 0;
        int attempt = 0;
        while (off < ps) {
            if (broken) {
                return FAILED;
            }
            if (served.isPresent(b, p)) {
                return DISCARDED;
            }
            MemorySegment src;
            try {
                src = source.page(b, p);
            } catch (RuntimeException e) {
                fail(e.getMessage());
                return FAILED;
            }
            lastFillZero = src == null;
            long[] c = served.cutsOf(b, p);
            if (c != null) {
                MemorySegment buf = scratch.asSlice(0, ps);
                if (src == null) {
                    buf.fill((byte) 0);
                } else {
                    try {
                        SigbusFence.copy(src, 0, buf, 0, ps); // a real call: a SIGBUS surfaces in this try
                    } catch (InternalError sigbus) { // the snapshot file truncated under its mapping
                        fail("reading the snapshot's page " + p + " of block " + b + " faulted (SIGBUS: the file was"
                                + " truncated, or a hole in it cannot be read)");
                        return FAILED;
                    }
                }
                for (int i = 0; i < c.length; i += 2) {
                    buf.asSlice(c[i], c[i + 1] - c[i]).fill((byte) 0);
                }
                src = buf;
            }
            long r = install(b, dst + off, src == null ? null : src.asSlice(off), ps - off);
            if (r == AGAIN) {
                queue.retryWait(attempt++);
                continue;
            }
            off += r;
            copied += r;
            switch (lastStop) {
                case STOP_AGAIN -> {
                    attempt = 0;
                    queue.retryWait(attempt++); // part landed: read the event, then the rest
                }
                case STOP_EEXIST -> { // there already, and not from this server: see above
                    lost(b, p, off);
                    return FAILED;
                }
                case STOP_FAILED -> {
                    return FAILED;
                }
                default -> { }
            }
        }
        served.markPresent(b, p, 1);
        return copied;
    }

    /**
     * A fault on a page already served (or discarded before it was): the guest discarded it since,
     * and a discarded page reads as zeros. Fills the faulting base page with zeros (the block's
     * page if UFFDIO_ZEROPAGE is not allowed there, hugetlbfs); EEXIST (a second fault on a page
     * present meanwhile) or any other refusal (the range unregistered at completion) only wakes.
     *
     * @return {@link #AGAIN} if an event must be read first, else 0
     */
    long zeroFill(int b, long addr) {
        long r;
        long at;
        long len;
        if (layout.zeropageOk[b]) {
            at = addr & ~(Uffd.BASE_PAGE - 1);
            len = Uffd.BASE_PAGE;
            r = uffd.zeropage(at, len);
        } else {
            at = layout.start[b] + (addr - layout.start[b]) / layout.pageSize[b] * layout.pageSize[b];
            len = layout.pageSize[b];
            r = uffd.copy(at, zeroPage.address(), len);
        }
        if (r == -Linux.EAGAIN()) {
            return AGAIN;
        }
        if (r == len) {
            stats.zeroFaults++;
            stats.refilled++;
        } else {
            uffd.wake(at, len);
        }
        return 0;
    }

    /**
     * Installs one run of pages; returns bytes installed (continuing after a partial copy), or
     * {@link #AGAIN} if nothing was installed because an event is unread (read the queue and call
     * again). Why it stopped early is in {@link #lastStop}: EAGAIN after part of the run (the
     * count may end inside a page larger than the base page), EEXIST at the returned offset (the
     * grain there woken), or another failure ({@link #fail} called).
     */
    long install(int b, long dst, MemorySegment src, long len) {
        long done = 0;
        lastStop = STOP_NONE;
        while (done < len) {
            long r;
            if (src != null) {
                r = uffd.copy(dst + done, src.address() + done, len - done);
            } else if (layout.zeropageOk[b]) {
                r = uffd.zeropage(dst + done, len - done);
            } else {
                long n = Math.min(len - done, zeroPage.byteSize() / layout.pageSize[b] * layout.pageSize[b]);
                r = uffd.copy(dst + done, zeroPage.address(), n);
            }
            if (r > 0) {
                done += r;
                continue;
            }
            if (r == -Linux.EAGAIN()) {
                lastStop = STOP_AGAIN;
                return done > 0 ? done : AGAIN; // the caller keeps what landed and comes back for the rest
            }
            if (r == -Linux.EEXIST()) {
                lastStop = STOP_EEXIST;
                uffd.wake(dst + done, layout.grain(b));
                return done;
            }
            lastStop = STOP_FAILED;
            fail("UFFDIO_COPY at 0x" + Long.toHexString(dst + done) + " failed: " + LinuxCalls.strerror((int) -r));
            return done;
        }
        return done;
    }

    /**
     * The source failed (or a copy was refused): poisons every page never served, once, and tells
     * the guest {@code broken REASON}.
     */
    void fail(String reason) {
        breakWith("broken", reason);
    }

    /**
     * Page {@code p} of block {@code b} was found populated at offset {@code off} in the page
     * before this server installed it ({@link #fillPage}): the snapshot's bytes cannot go there
     * any more. Breaks the restore as a failed source does (every page never served poisoned) and
     * tells the guest {@code lost REASON}, naming the block and the page.
     */
    void lost(int b, long p, long off) {
        long ps = layout.pageSize[b];
        breakWith("lost", "page " + p + " of block '" + layout.names.get(b) + "' (offset 0x"
                + Long.toHexString(p * ps + off) + " in the block) was populated outside the restore before the page "
                + "server installed it: another mapping of the same memory (a process sharing the memfd or file, "
                + "a vhost-user backend) touched it, so the guest reads that mapping's bytes there, not the snapshot's");
    }

    /** Poisons every page never served, once, and tells the guest {@code KIND REASON}. */
    private void breakWith(String kind, String reason) {
        if (broken) {
            return;
        }
        broken = true;
        if (HOLD_FAILURE != null) {
            holdFailure();
        }
        long poisoned = 0;
        String err = null;
        for (int b = 0; b < layout.blocks(); b++) {
            try {
                poisoned += poisonUnserved(b);
            } catch (IllegalStateException e) {
                err = e.getMessage();
            }
        }
        ctl.sendLine(Wire.line(kind, reason + " (" + poisoned + " missing pages poisoned" + (err != null ? "; " + err : "") + ")"));
    }

    private void holdFailure() {
        try (Arena a = Arena.ofConfined()) {
            java.nio.file.Files.createFile(java.nio.file.Path.of(HOLD_FAILURE));
            MemorySegment pfd = pollfd.allocate(a);
            pollfd.fd(pfd, uffd.fd);
            pollfd.events(pfd, (short) Linux.POLLIN());
            LinuxCalls.poll(pfd, 1, 10_000);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /**
     * Poisons the pages of block {@code b} never served: not those recorded present (served, or
     * wholly discarded by the guest, which read zeros as discarded eager RAM does), even where the
     * kernel holds nothing (a served page discarded since). An EAGAIN (an event unread) reads the
     * queue through {@link QueueReader#pump}, so a REMOVE read meanwhile is recorded before the poison goes
     * on, and faults read meanwhile wait in {@link QueueReader#queued}; EEXIST (part of a page there: from a
     * copy the failure cut short, or populated outside the restore, {@link #lost}) steps over the grain.
     *
     * @return pages poisoned (whole pages of the block's size)
     * @throws IllegalStateException if the kernel refuses the poison (no UFFDIO_POISON, or unregistered)
     */
    private long poisonUnserved(int b) {
        long ps = layout.pageSize[b];
        long pages = layout.length[b] / ps;
        long poisoned = 0;
        long at = 0;
        int attempt = 0;
        while (at < layout.length[b]) {
            long p = at / ps;
            if (served.isPresent(b, p)) {
                at = (p + 1) * ps;
                continue;
            }
            long end = p + 1;
            while (end < pages && !served.isPresent(b, end)) {
                end++;
            }
            long r = uffd.poison(layout.start[b] + at, end * ps - at);
            if (r > 0) {
                poisoned += r;
                at += r;
                attempt = 0;
            } else if (r == -Linux.EAGAIN()) {
                queue.retryWait(attempt++); // a REMOVE read now marks its pages present: looked at again
            } else if (r == -Linux.EEXIST()) {
                at += layout.grain(b);
            } else {
                throw new IllegalStateException("UFFDIO_POISON at 0x" + Long.toHexString(layout.start[b] + at) + " failed: "
                        + LinuxCalls.strerror((int) -r));
            }
        }
        return poisoned / ps;
    }
}
