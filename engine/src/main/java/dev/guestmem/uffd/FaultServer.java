package dev.guestmem.uffd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.pollfd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The page server's serve loop: waits on the userfaultfd and the guest's control socket, serves
 * every fault in order (from the source, zeros on a page discarded since it was present, poison
 * once the source failed), installs pages partly discarded before they were served, prefetches
 * when idle, and tells the guest {@code done} once every page is present. See
 * {@link PageServerMain} for the protocol and the discard and failure rules.
 *
 * <p>Thread safety: single-threaded.
 */
final class FaultServer implements AutoCloseable {
    /** Test hook: stop serving after this many faults (a hung handler), from {@code guestmem.uffd.stallAfterFaults}. */
    static final long STALL_AFTER = Long.getLong("guestmem.uffd.stallAfterFaults", Long.MAX_VALUE);
    private static final boolean DEBUG = Boolean.getBoolean("guestmem.uffd.debug");
    /**
     * Test hook: no prefetch until this file exists, so a test can touch pages before the prefetch
     * reaches them; from {@code guestmem.uffd.test.holdPrefetch}.
     */
    private static final String HOLD_PREFETCH = System.getProperty("guestmem.uffd.test.holdPrefetch");

    private final Uffd uffd;
    private final Wire ctl;
    private final ServerLayout layout;
    private final ServedPages served;
    private final Arena arena = Arena.ofConfined();
    private final FaultStats stats = new FaultStats();
    private final QueueReader queue;
    private final PageInstaller installer;
    private final Prefetcher prefetcher;
    private boolean doneSent;
    /** The prefetch waits for {@link #HOLD_PREFETCH}'s file (a test); false in production. */
    private boolean prefetchHeld = HOLD_PREFETCH != null;
    /** Faults served before this one stalls: {@link #STALL_AFTER} for the guest's, none for the warm-up's. */
    private final long stallAfter;
    /** The userfaultfd's and the control socket's poll entries. */
    private final MemorySegment pfds;
    private final MemorySegment ctlPoll;

    /**
     * @param stallAfter {@link #STALL_AFTER} for the guest's serve loop, {@code Long.MAX_VALUE} for the warm-up's
     */
    FaultServer(Uffd uffd, Wire ctl, ServerLayout layout, PageSource source, long stallAfter) {
        this.stallAfter = stallAfter;
        this.uffd = uffd;
        this.ctl = ctl;
        this.layout = layout;
        long[] pages = new long[layout.blocks()];
        for (int b = 0; b < pages.length; b++) {
            pages[b] = layout.pages(b);
        }
        this.served = new ServedPages(pages);
        this.queue = new QueueReader(uffd, layout, served, arena);
        this.installer = new PageInstaller(uffd, ctl, layout, served, source, queue, stats, arena);
        this.prefetcher = new Prefetcher(layout, served, source, installer, queue, stats);
        this.pfds = pollfd.allocateArray(2, arena);
        pollfd.fd(pfds, uffd.fd);
        pollfd.events(pfds, (short) Linux.POLLIN());
        this.ctlPoll = pfds.asSlice(pollfd.sizeof());
        pollfd.fd(ctlPoll, ctl.fd);
        pollfd.events(ctlPoll, (short) Linux.POLLIN());
    }

    /** Says {@code ready}, then serves until the guest says {@code quit} or hangs up. */
    void run() {
        ctl.sendLine("ready");
        while (step()) {
            // each step a method of its own: compiled as a method, not only by on-stack replacement
        }
    }

    /** Frees the loop's buffers; call after {@link #run} (or the warm-up) returned. */
    @Override
    public void close() {
        arena.close();
    }

    /**
     * One round of the serve loop: waits (not if prefetch or pending work wants the loop), serves
     * what is queued, answers a control line, prefetches if idle, says {@code done} once.
     *
     * @return false once the guest said {@code quit} or hung up
     */
    private boolean step() {
        boolean broken = installer.broken();
        boolean wantPrefetch = layout.prefetch && !broken && !served.complete() && !prefetchHeld();
        boolean pending = !queue.queued.isEmpty() || (!broken && served.anyCuts());
        int n = LinuxCalls.poll(pfds, 2, wantPrefetch || pending ? 0 : prefetchHeld ? 10 : 1000);
        if ((pollfd.revents(pfds) & Linux.POLLIN()) != 0 || pending) {
            drainFaults();
        }
        if ((pollfd.revents(ctlPoll) & (Linux.POLLIN() | Linux.POLLHUP() | Linux.POLLERR())) != 0) {
            String line = ctl.readLine();
            if (line == null || line.equals("quit")) {
                return false;
            }
            if (line.equals("stats")) {
                ctl.sendLine("stats " + stats.metrics(served).toWire());
            }
        }
        if (n == 0 && wantPrefetch) {
            prefetcher.prefetchBatch();
        }
        if (!doneSent && !installer.broken() && served.complete()) {
            doneSent = true;
            if (DEBUG) {
                System.err.println("page server: all " + served.total() + " pages present at " + System.currentTimeMillis()
                        + " (" + queue.discardedPages() + " discarded before they were served, " + stats.refilled
                        + " zero-filled after a discard)");
            }
            ctl.sendLine("done " + stats.metrics(served).toWire());
        }
        return true;
    }

    /** @return whether the test hook still holds the prefetch back (checked until its file appears) */
    private boolean prefetchHeld() {
        if (prefetchHeld && java.nio.file.Files.exists(java.nio.file.Path.of(HOLD_PREFETCH))) {
            prefetchHeld = false;
        }
        return prefetchHeld;
    }

    /**
     * Reads the queue and serves what it holds: REMOVE events at once (so the discard they announce
     * is known before any later copy), page faults in order, each timed; then installs the pages
     * partly discarded before they were served ({@link ServedPages#cutsOf}), faults read meanwhile first.
     */
    private void drainFaults() {
        queue.pump();
        while (true) {
            if (queue.queued.isEmpty()) {
                if (installer.broken() || !served.anyCuts()) {
                    return;
                }
                long k = served.firstCut();
                installer.fillPage(ServedPages.block(k), ServedPages.page(k)); // present after (its cuts gone), or broken
                continue;
            }
            long addr = queue.queued.poll();
            long t0 = System.nanoTime();
            serveFault(addr);
            stats.sample(System.nanoTime() - t0);
        }
    }

    private void serveFault(long addr) {
        int b = layout.blockOf(addr);
        if (b < 0) {
            uffd.wake(addr & ~(Uffd.BASE_PAGE - 1), Uffd.BASE_PAGE); // not ours: cannot happen, the uffd only covers our ranges
            return;
        }
        long page = (addr - layout.start[b]) / layout.pageSize[b];
        if (++stats.faults > stallAfter) {
            PageSourceServer.stall();
        }
        int attempt = 0;
        while (true) { // again after an EAGAIN: the event read meanwhile may have changed the answer
            if (served.isPresent(b, page)) {
                // served (or wholly discarded) before, also if the source failed since: the guest
                // discarded it, and a discarded page reads zeros
                if (installer.zeroFill(b, addr) == PageInstaller.AGAIN) {
                    queue.retryWait(attempt++);
                    continue;
                }
                return;
            }
            if (installer.broken()) {
                if (installer.poison(b, page) == PageInstaller.AGAIN) {
                    queue.retryWait(attempt++);
                    continue;
                }
                return;
            }
            long r = installer.fillPage(b, page);
            if (r < 0) {
                continue; // wholly discarded meanwhile: zeros; or broken now: poison
            }
            if (installer.lastFillZero) {
                stats.zeroFaults++;
            }
            stats.faultBytes += r;
            return;
        }
    }
}
