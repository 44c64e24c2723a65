package dev.guestmem.uffd;

import java.lang.foreign.MemorySegment;

/**
 * The page server's background prefetch: when no fault waits, installs the pages nobody touched,
 * in address order, in runs.
 *
 * <p>Thread safety: the page server's single thread.
 */
final class Prefetcher {
    private static final int PREFETCH_PAGES = 64;

    private final ServerLayout layout;
    private final ServedPages served;
    private final PageSource source;
    private final PageInstaller installer;
    private final QueueReader queue;
    private final FaultStats stats;
    private int cursorBlock;
    private long cursorPage;
    /** EAGAIN answers to prefetch copies in a row, for {@link QueueReader#retryWait}'s back-off. */
    private int prefetchAgain;

    Prefetcher(ServerLayout layout, ServedPages served, PageSource source, PageInstaller installer, QueueReader queue,
            FaultStats stats) {
        this.layout = layout;
        this.served = served;
        this.source = source;
        this.installer = installer;
        this.queue = queue;
        this.stats = stats;
    }

    /**
     * Installs the next run of missing pages from the cursor: up to {@value #PREFETCH_PAGES}
     * pages whose source bytes lie side by side (a stable source), or one page partly discarded
     * (with the discarded part zeroed, never as part of a run).
     */
    void prefetchBatch() {
        int b = cursorBlock;
        long p = cursorPage;
        while (b < served.blocks()) {
            long pages = layout.length[b] / layout.pageSize[b];
            while (p < pages && served.isPresent(b, p)) {
                p++;
            }
            if (p < pages) {
                break;
            }
            b++;
            p = 0;
        }
        cursorBlock = b;
        cursorPage = p;
        if (b >= served.blocks()) {
            return;
        }
        long ps = layout.pageSize[b];
        long pages = layout.length[b] / ps;
        if (served.hasCuts(b, p)) {
            // partly discarded: copied with the discarded part zeroed, never as part of a run
            if (installer.fillPage(b, p) >= 0) {
                stats.prefetched++;
            }
            return;
        }
        MemorySegment first;
        try {
            first = source.page(b, p);
        } catch (RuntimeException e) {
            installer.fail(e.getMessage());
            return;
        }
        long count = 1;
        if (source.stablePages()) {
            long maxRun = PREFETCH_PAGES;
            while (count < maxRun && p + count < pages && !served.isPresent(b, p + count) && !served.hasCuts(b, p + count)) {
                MemorySegment next;
                try {
                    next = source.page(b, p + count);
                } catch (RuntimeException e) {
                    break; // served (and failed) when it is reached on its own
                }
                boolean contiguous = first == null ? next == null
                        : next != null && next.address() == first.address() + count * ps;
                if (!contiguous) {
                    break;
                }
                count++;
            }
        }
        long r = installer.install(b, layout.start[b] + p * ps, first, count * ps);
        if (r == PageInstaller.AGAIN) {
            queue.retryWait(prefetchAgain++); // the event may discard pages of this run: look again next time
            return;
        }
        prefetchAgain = 0;
        long done = r / ps;
        served.markPresent(b, p, done);
        stats.prefetched += done;
        cursorPage = p + done;
        int stop = installer.lastStop;
        if (done < count && (stop == PageInstaller.STOP_EEXIST || (stop == PageInstaller.STOP_AGAIN && r % ps != 0))) {
            // the run stopped inside page p + done (a copy cut short inside a large page, or a
            // part there already from such a copy): finish that page now, its missing part too
            if (installer.fillPage(b, p + done, r % ps) >= 0) { // its first r % ps bytes are this run's
                stats.prefetched++;
            }
        } else if (stop == PageInstaller.STOP_AGAIN) {
            queue.retryWait(0); // read the event before the next run
        }
    }
}
