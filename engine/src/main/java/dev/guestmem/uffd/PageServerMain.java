package dev.guestmem.uffd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.pollfd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import dev.guestmem.snapshot.SnapshotFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The userfaultfd handler process (ARCHITECTURE.md hazard 1: faults must not be served by a Java
 * thread of the faulting JVM). Started by {@link PageServerProcess} with one argument, the guest's
 * Unix socket; it connects, receives the userfaultfd with SCM_RIGHTS and the layout as text, then
 * serves every fault with UFFDIO_COPY (UFFDIO_ZEROPAGE for zero pages) from its {@link PageSource},
 * prefetching the rest in the background when idle.
 *
 * <h2>Discarded pages</h2>
 * A page the guest discards ({@code MADV_DONTNEED}/{@code MADV_REMOVE}, e.g.
 * {@code RamBlock.discard}) while its range is registered is missing again. The userfaultfd is
 * opened with {@code UFFD_FEATURE_EVENT_REMOVE}, so the discard first queues a REMOVE event and
 * waits until this process has read it; only then does the kernel drop the pages. Pages wholly
 * discarded before they were served are never copied from the source afterwards (no old contents
 * come back over the zeros the guest asked for), and any fault on a page already served (or so
 * discarded) is answered with zeros (UFFDIO_ZEROPAGE), as an unrestored discarded page reads.
 * A page partly discarded before it was served is copied with the discarded part zeroed. Reading
 * the queue only records what an event says (no copy is ever made while reading it, so the reads
 * never nest). While an event is unread, the kernel answers every fill with EAGAIN: the fill loop
 * then reads the queue and tries again, the event possibly having changed the answer, backing off
 * (spin, yield, then a short sleep) while no new event comes. A copy cut short, even inside a page
 * larger than the base page, is finished before the page counts as present.
 *
 * <h2>Control protocol (lines, tab-separated fields)</h2>
 * Every field is escaped ({@link Wire#escape}: backslash, tab, newline, carriage return), so block
 * names, paths and reasons may hold any character. Guest to server, in the message carrying the
 * fd: {@code source snapshot PATH [PATH...]} followed by {@code headers HEX [HEX...]} (each
 * file's header as the guest opened it: a file found at PATH with another header is refused), or
 * {@code source remote SOCKET}, one
 * {@code block NAME ADDRESS LENGTH PAGESIZE} per block, {@code prefetch 0|1},
 * {@code verify 0|1}, {@code layout}. The server opens and checks its source and answers
 * {@code configured}, or {@code error REASON} if it refuses the layout; the guest has touched no
 * block until then. It then drops and registers the blocks and sends
 * {@code zeropage Z...} (per block, 1 if UFFDIO_ZEROPAGE is allowed there) and {@code go} (or
 * {@code quit}). Later: {@code stats}, {@code quit}. Server to guest:
 * {@code ready}, {@code done METRICS} once every page is present, {@code broken REASON} when the
 * page source fails, {@code stats METRICS} per request. Before the layout, {@code preload PATH [PATH...]} may come alone (answered
 * {@code preloaded} or {@code error REASON}).
 *
 * <h2>Failure</h2>
 * If the page source fails (remote source gone, checksum mismatch), the server poisons every page
 * never served (UFFDIO_POISON) and answers later faults on such pages with poison; a page the guest
 * discarded, served or not, before or after the failure, still reads zeros: each faulting thread gets
 * SIGBUS, which the JVM turns into an {@code InternalError} at the access, instead of waiting for
 * ever or reading invented bytes. The guest is told {@code broken}.
 *
 * <p>Thread safety: single-threaded.
 */
public final class PageServerMain {
    private static final int BATCH_MSGS = 64;
    private static final int PREFETCH_PAGES = 64;
    private static final int MAX_SAMPLES = 1 << 20;
    /** Test hook: stop serving after this many faults (a hung handler), from {@code guestmem.uffd.stallAfterFaults}. */
    private static final long STALL_AFTER = Long.getLong("guestmem.uffd.stallAfterFaults", Long.MAX_VALUE);
    private static final boolean DEBUG = Boolean.getBoolean("guestmem.uffd.debug");

    private static List<SnapshotFile> preloaded;
    private static List<Path> preloadedPaths;
    private final Uffd uffd;
    private final Wire ctl;
    private PageSource source;
    private final List<String> names = new ArrayList<>();
    private long[] start = new long[0];
    private long[] length = new long[0];
    private long[] pageSize = new long[0];
    private boolean[] zeropageOk = new boolean[0];
    private ServedPages served;
    private boolean prefetch;
    private boolean broken;
    private boolean doneSent;
    private int cursorBlock;
    private long cursorPage;
    private final MemorySegment zeroPage;
    /** A page's bytes with its discarded parts zeroed ({@link #fillPage}; never nested). */
    private final MemorySegment scratch;
    private final Arena arena = Arena.ofConfined();
    /** Messages read off the userfaultfd: {@link #pump} is never re-entered, so one buffer does. */
    private final MemorySegment msgs = arena.allocate(Uffd.MSG_SIZE * BATCH_MSGS, 8);
    /** The userfaultfd alone, for the back-off of {@link #retryWait}. */
    private final MemorySegment uffdPoll = pollfd.allocate(arena);
    private boolean pumping;
    /** Page faults read and not yet served, in order. */
    private final java.util.ArrayDeque<Long> queued = new java.util.ArrayDeque<>();
    /** {@link #install}'s answer when nothing was installed because an event is unread. */
    private static final long AGAIN = -1;
    /** Why {@link #install} stopped early: nothing, EAGAIN (an event unread), EEXIST, another failure ({@link #fail} called). */
    private static final int STOP_NONE = 0;
    private static final int STOP_AGAIN = 1;
    private static final int STOP_EEXIST = 2;
    private static final int STOP_FAILED = 3;
    private int lastStop;
    /** {@link #fillPage}'s last source page was all zeros (no bytes in the source). */
    private boolean lastFillZero;
    /** EAGAIN answers to prefetch copies in a row, for {@link #retryWait}'s back-off. */
    private int prefetchAgain;
    private long discardedPages;
    private long refilled;
    // metrics
    private long faults;
    private long faultBytes;
    private long zeroFaults;
    private long prefetched;
    private final long[] samples = new long[MAX_SAMPLES];
    private int sampleCount;

    private PageServerMain(Uffd uffd, Wire ctl, long maxPage) {
        this.uffd = uffd;
        this.ctl = ctl;
        this.zeroPage = arena.allocate(Math.max(maxPage, 4096), 4096);
        this.scratch = arena.allocate(Math.max(maxPage, 4096), 4096);
        pollfd.fd(uffdPoll, uffd.fd);
        pollfd.events(uffdPoll, (short) Linux.POLLIN());
    }

    /**
     * Runs the handler.
     *
     * @param args the guest's control socket path
     */
    public static void main(String[] args) {
        warmUp();
        int sock = LinuxCalls.unixConnect(args[0]);
        // the userfaultfd, and the server's end of the guardian's liveness pair: held, never used,
        // so that it closes (and the guardian acts) exactly when this process ends
        LinuxCalls.Received first = LinuxCalls.recvWithFds(sock, 65536, 2);
        // a preload ahead of the restore (PageServerProcess.preload): open and check the snapshot
        // files now, so the restore's start does not pay for it
        while (first.fds().length == 0 && first.data().length > 0) {
            String text = new String(first.data(), java.nio.charset.StandardCharsets.UTF_8);
            // only the line terminator, as Wire.readLine: a field (a path) may end in whitespace
            if (text.endsWith("\n")) {
                text = text.substring(0, text.length() - 1);
            }
            Wire w = new Wire(sock);
            if (text.startsWith("preload\t")) {
                try {
                    List<Path> paths = new ArrayList<>();
                    List<String> fields = Wire.fields(text);
                    for (String f : fields.subList(1, fields.size())) {
                        paths.add(Path.of(f));
                    }
                    if (preloaded != null) {
                        preloaded.forEach(SnapshotFile::close);
                    }
                    preloaded = null;
                    preloaded = SnapshotPageSource.openFiles(paths);
                    preloadedPaths = paths;
                    w.sendLine("preloaded");
                } catch (RuntimeException e) {
                    w.sendLine(Wire.line("error", String.valueOf(e.getMessage())));
                }
            } else {
                w.sendLine(Wire.line("error", "unexpected message before the userfaultfd: " + text));
            }
            first = LinuxCalls.recvWithFds(sock, 65536, 2);
        }
        if (first.fds().length < 1) {
            System.err.println("page server: no userfaultfd received");
            System.exit(2);
        }
        Wire ctl = new Wire(sock);
        ctl.push(first.data());
        List<String> lines = new ArrayList<>();
        for (String line = ctl.readLine(); line != null && !line.equals("layout"); line = ctl.readLine()) {
            lines.add(line);
        }
        PageServerMain server = null;
        try {
            List<List<String>> parsed = new ArrayList<>();
            long maxPage = 4096;
            for (String l : lines) {
                List<String> f = Wire.fields(l);
                parsed.add(f);
                if (f.getFirst().equals("block")) {
                    maxPage = Math.max(maxPage, Long.parseLong(f.get(4)));
                }
            }
            server = new PageServerMain(new Uffd(first.fds()[0]), ctl, maxPage);
            server.configure(parsed);
        } catch (RuntimeException e) {
            ctl.sendLine(Wire.line("error", String.valueOf(e.getMessage())));
            System.exit(3);
        }
        // the guest drops and registers its blocks only now: a refusal above changed nothing there
        ctl.sendLine("configured");
        for (String line = ctl.readLine(); line == null || !line.equals("go"); line = ctl.readLine()) {
            if (line == null || line.equals("quit")) {
                System.exit(0); // the guest gave up before the blocks were registered
            }
            server.registered(Wire.fields(line));
        }
        server.run();
        System.exit(0);
    }

    private void configure(List<List<String>> lines) {
        List<Path> snapshots = new ArrayList<>();
        List<byte[]> headers = null;
        String remote = null;
        boolean verify = false;
        for (List<String> f : lines) {
            switch (f.getFirst()) {
                case "source" -> {
                    if (f.get(1).equals("snapshot")) {
                        for (int i = 2; i < f.size(); i++) {
                            snapshots.add(Path.of(f.get(i)));
                        }
                    } else {
                        remote = f.get(2);
                    }
                }
                case "block" -> {
                    int n = names.size();
                    names.add(f.get(1));
                    start = Arrays.copyOf(start, n + 1);
                    length = Arrays.copyOf(length, n + 1);
                    pageSize = Arrays.copyOf(pageSize, n + 1);
                    zeropageOk = Arrays.copyOf(zeropageOk, n + 1);
                    start[n] = Long.parseLong(f.get(2));
                    length[n] = Long.parseLong(f.get(3));
                    pageSize[n] = Long.parseLong(f.get(4));
                }
                case "headers" -> {
                    headers = new ArrayList<>();
                    for (String h : f.subList(1, f.size())) {
                        headers.add(java.util.HexFormat.of().parseHex(h));
                    }
                }
                case "prefetch" -> prefetch = f.get(1).equals("1");
                case "verify" -> verify = f.get(1).equals("1");
                default -> throw new IllegalArgumentException("unknown layout line: " + f);
            }
        }
        long[] pages = new long[names.size()];
        long maxPage = 4096;
        for (int b = 0; b < names.size(); b++) {
            pages[b] = length[b] / pageSize[b];
            maxPage = Math.max(maxPage, pageSize[b]);
        }
        served = new ServedPages(pages);
        source = remote != null ? new RemotePageSource(remote, names, maxPage)
                : snapshots.equals(preloadedPaths) ? new SnapshotPageSource(preloaded, snapshots, names, verify, headers)
                : new SnapshotPageSource(SnapshotPageSource.openFiles(snapshots), snapshots, names, verify, headers);
    }

    /** {@code zeropage Z...}: per block, in layout order, whether its registration allows UFFDIO_ZEROPAGE. */
    private void registered(List<String> f) {
        if (!f.getFirst().equals("zeropage") || f.size() != names.size() + 1) {
            throw new IllegalArgumentException("expected zeropage and one flag per block: " + f);
        }
        for (int b = 0; b < names.size(); b++) {
            zeropageOk[b] = f.get(b + 1).equals("1");
        }
    }

    private void run() {
        MemorySegment pfds = pollfd.allocateArray(2, arena);
        pollfd.fd(pfds, uffd.fd);
        pollfd.events(pfds, (short) Linux.POLLIN());
        MemorySegment p1 = pfds.asSlice(pollfd.sizeof());
        pollfd.fd(p1, ctl.fd);
        pollfd.events(p1, (short) Linux.POLLIN());
        ctl.sendLine("ready");
        while (true) {
            boolean wantPrefetch = prefetch && !broken && !served.complete();
            boolean pending = !queued.isEmpty() || (!broken && served.anyCuts());
            int n = LinuxCalls.poll(pfds, 2, wantPrefetch || pending ? 0 : 1000);
            if ((pollfd.revents(pfds) & Linux.POLLIN()) != 0 || pending) {
                drainFaults();
            }
            if ((pollfd.revents(p1) & (Linux.POLLIN() | Linux.POLLHUP() | Linux.POLLERR())) != 0) {
                String line = ctl.readLine();
                if (line == null || line.equals("quit")) {
                    return;
                }
                if (line.equals("stats")) {
                    ctl.sendLine("stats " + metrics().toWire());
                }
            }
            if (n == 0 && wantPrefetch) {
                prefetchBatch();
            }
            if (!doneSent && !broken && served.complete()) {
                doneSent = true;
                if (DEBUG) {
                    System.err.println("page server: all " + served.total() + " pages present at " + System.currentTimeMillis()
                            + " (" + discardedPages + " discarded before they were served, " + refilled + " zero-filled after a discard)");
                }
                ctl.sendLine("done " + metrics().toWire());
            }
        }
    }

    /**
     * Reads the queue and serves what it holds: REMOVE events at once (so the discard they announce
     * is known before any later copy), page faults in order, each timed; then installs the pages
     * partly discarded before they were served ({@link ServedPages#cutsOf}), faults read meanwhile first.
     */
    private void drainFaults() {
        pump();
        while (true) {
            if (queued.isEmpty()) {
                if (broken || !served.anyCuts()) {
                    return;
                }
                long k = served.firstCut();
                fillPage(ServedPages.block(k), ServedPages.page(k)); // present after (its cuts gone), or broken
                continue;
            }
            long addr = queued.poll();
            long t0 = System.nanoTime();
            serveFault(addr);
            if (sampleCount < MAX_SAMPLES) {
                samples[sampleCount++] = System.nanoTime() - t0;
            }
        }
    }

    /**
     * Reads every queued message without waiting: REMOVE events are applied ({@link #discarded}:
     * bookkeeping only, no copy), page faults are queued for {@link #drainFaults}. Also called when
     * a fill answers EAGAIN, which means an event is unread: the kernel lets no page in until this
     * process has read it. Never re-entered: nothing it calls copies a page or reads the queue.
     *
     * @return whether an event other than a page fault was read
     */
    private boolean pump() {
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
    private void retryWait(int attempt) {
        if (pump()) {
            return; // an event read: the answer may have changed, try again at once
        }
        switch (EagainBackoff.after(attempt)) {
            case SPIN -> Thread.onSpinWait();
            case YIELD -> Thread.yield();
            default -> LinuxCalls.poll(uffdPoll, 1, 1);
        }
    }

    private int blockOf(long addr) {
        for (int b = 0; b < start.length; b++) {
            if (Long.compareUnsigned(addr, start[b]) >= 0 && Long.compareUnsigned(addr - start[b], length[b]) < 0) {
                return b;
            }
        }
        return -1;
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
        for (int b = 0; b < start.length; b++) {
            long lo = Math.max(from, start[b]);
            long hi = Math.min(to, start[b] + length[b]);
            if (Long.compareUnsigned(lo, hi) >= 0) {
                continue;
            }
            long ps = pageSize[b];
            long first = (lo - start[b]) / ps;
            long last = (hi - start[b] - 1) / ps;
            for (long p = first; p <= last; p++) {
                long pStart = start[b] + p * ps;
                if (served.isPresent(b, p)) {
                    continue; // served: the kernel drops it, a fault then gets zeros
                }
                if (served.cut(b, p, Math.max(lo, pStart) - pStart, Math.min(hi, pStart + ps) - pStart, ps)) {
                    discardedPages++;
                }
            }
        }
    }

    /**
     * Installs page {@code p} of block {@code b} from the source, with the parts discarded before
     * it was served ({@link ServedPages#cutsOf}) zeroed, and marks it present. A copy cut short (EAGAIN after
     * part of the page: an event is unread) reads the queue and goes on from where it stopped,
     * with the cuts as they are then; a part already there (EEXIST: a copy cut short earlier put
     * it there) is skipped by the mapping's grain, and the rest copied: no part of a page larger
     * than the base page is left missing. Stops early if the page is wholly discarded meanwhile
     * (present then, by {@link #discarded}) or the source fails.
     *
     * @return bytes copied, {@link #DISCARDED} if the page was wholly discarded meanwhile, or
     *         {@link #FAILED} if the server is broken now
     */
    private long fillPage(int b, long p) {
        long ps = pageSize[b];
        long dst = start[b] + p * ps;
        long grain = grain(b);
        long off = 0;
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
                    buf.copyFrom(src);
                }
                for (int i = 0; i < c.length; i += 2) {
                    buf.asSlice(c[i], c[i + 1] - c[i]).fill((byte) 0);
                }
                src = buf;
            }
            long r = install(b, dst + off, src == null ? null : src.asSlice(off), ps - off);
            if (r == AGAIN) {
                retryWait(attempt++);
                continue;
            }
            off += r;
            copied += r;
            switch (lastStop) {
                case STOP_AGAIN -> {
                    attempt = 0;
                    retryWait(attempt++); // part landed: read the event, then the rest
                }
                case STOP_EEXIST -> off += grain; // there already (install woke it)
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
     * The unit the kernel installs in block {@code b}: the base page, or on hugetlbfs (where
     * UFFDIO_ZEROPAGE is not allowed) the whole page.
     */
    private long grain(int b) {
        return zeropageOk[b] ? Math.min(pageSize[b], Uffd.BASE_PAGE) : pageSize[b];
    }

    /** {@link #fillPage}: the page was wholly discarded meanwhile, nothing more to copy. */
    private static final long DISCARDED = -2;
    /** {@link #fillPage}: the source failed or a copy was refused; broken now. */
    private static final long FAILED = -3;

    private void serveFault(long addr) {
        int b = blockOf(addr);
        if (b < 0) {
            uffd.wake(addr & ~(Uffd.BASE_PAGE - 1), Uffd.BASE_PAGE); // not ours: cannot happen, the uffd only covers our ranges
            return;
        }
        long page = (addr - start[b]) / pageSize[b];
        if (++faults > STALL_AFTER) {
            PageSourceServer.stall();
        }
        long dst = start[b] + page * pageSize[b];
        int attempt = 0;
        while (true) { // again after an EAGAIN: the event read meanwhile may have changed the answer
            if (served.isPresent(b, page)) {
                // served (or wholly discarded) before, also if the source failed since: the guest
                // discarded it, and a discarded page reads zeros
                if (zeroFill(b, addr) == AGAIN) {
                    retryWait(attempt++);
                    continue;
                }
                return;
            }
            if (broken) {
                long r = uffd.poison(dst, pageSize[b]);
                if (r == -Linux.EAGAIN()) {
                    retryWait(attempt++);
                    continue;
                }
                if (r < 0) {
                    uffd.wake(dst, pageSize[b]);
                }
                return;
            }
            long r = fillPage(b, page);
            if (r < 0) {
                continue; // wholly discarded meanwhile: zeros; or broken now: poison
            }
            if (lastFillZero) {
                zeroFaults++;
            }
            faultBytes += r;
            return;
        }
    }

    /**
     * A fault on a page already served (or discarded before it was): the guest discarded it since,
     * and a discarded page reads as zeros. Fills the faulting base page with zeros (the block's
     * page if UFFDIO_ZEROPAGE is not allowed there, hugetlbfs); EEXIST (a second fault on a page
     * present meanwhile) or any other refusal (the range unregistered at completion) only wakes.
     *
     * @return {@link #AGAIN} if an event must be read first, else 0
     */
    private long zeroFill(int b, long addr) {
        long r;
        long at;
        long len;
        if (zeropageOk[b]) {
            at = addr & ~(Uffd.BASE_PAGE - 1);
            len = Uffd.BASE_PAGE;
            r = uffd.zeropage(at, len);
        } else {
            at = start[b] + (addr - start[b]) / pageSize[b] * pageSize[b];
            len = pageSize[b];
            r = uffd.copy(at, zeroPage.address(), len);
        }
        if (r == -Linux.EAGAIN()) {
            return AGAIN;
        }
        if (r == len) {
            zeroFaults++;
            refilled++;
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
    private long install(int b, long dst, MemorySegment src, long len) {
        long done = 0;
        lastStop = STOP_NONE;
        while (done < len) {
            long r;
            if (src != null) {
                r = uffd.copy(dst + done, src.address() + done, len - done);
            } else if (zeropageOk[b]) {
                r = uffd.zeropage(dst + done, len - done);
            } else {
                long n = Math.min(len - done, zeroPage.byteSize() / pageSize[b] * pageSize[b]);
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
                uffd.wake(dst + done, grain(b));
                return done;
            }
            lastStop = STOP_FAILED;
            fail("UFFDIO_COPY at 0x" + Long.toHexString(dst + done) + " failed: " + LinuxCalls.strerror((int) -r));
            return done;
        }
        return done;
    }

    private void prefetchBatch() {
        int b = cursorBlock;
        long p = cursorPage;
        while (b < served.blocks()) {
            long pages = length[b] / pageSize[b];
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
        long ps = pageSize[b];
        long pages = length[b] / ps;
        if (served.hasCuts(b, p)) {
            // partly discarded: copied with the discarded part zeroed, never as part of a run
            if (fillPage(b, p) >= 0) {
                prefetched++;
            }
            return;
        }
        MemorySegment first;
        try {
            first = source.page(b, p);
        } catch (RuntimeException e) {
            fail(e.getMessage());
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
        long r = install(b, start[b] + p * ps, first, count * ps);
        if (r == AGAIN) {
            retryWait(prefetchAgain++); // the event may discard pages of this run: look again next time
            return;
        }
        prefetchAgain = 0;
        long done = r / ps;
        served.markPresent(b, p, done);
        prefetched += done;
        cursorPage = p + done;
        if (done < count && (lastStop == STOP_EEXIST || (lastStop == STOP_AGAIN && r % ps != 0))) {
            // the run stopped inside page p + done (a copy cut short inside a large page, or a
            // part there already from such a copy): finish that page now, its missing part too
            if (fillPage(b, p + done) >= 0) {
                prefetched++;
            }
        } else if (lastStop == STOP_AGAIN) {
            retryWait(0); // read the event before the next run
        }
    }

    private void fail(String reason) {
        if (broken) {
            return;
        }
        broken = true;
        long poisoned = 0;
        String err = null;
        for (int b = 0; b < start.length; b++) {
            try {
                poisoned += poisonUnserved(b);
            } catch (IllegalStateException e) {
                err = e.getMessage();
            }
        }
        ctl.sendLine(Wire.line("broken", reason + " (" + poisoned + " missing pages poisoned" + (err != null ? "; " + err : "") + ")"));
    }

    /**
     * Poisons the pages of block {@code b} never served: not those recorded present (served, or
     * wholly discarded by the guest, which read zeros as discarded eager RAM does), even where the
     * kernel holds nothing (a served page discarded since). An EAGAIN (an event unread) reads the
     * queue through {@link #pump}, so a REMOVE read meanwhile is recorded before the poison goes
     * on, and faults read meanwhile wait in {@link #queued}; EEXIST (part of a page there, from a
     * copy cut short) steps over the grain.
     *
     * @return pages poisoned (whole pages of the block's size)
     * @throws IllegalStateException if the kernel refuses the poison (no UFFDIO_POISON, or unregistered)
     */
    private long poisonUnserved(int b) {
        long ps = pageSize[b];
        long pages = length[b] / ps;
        long poisoned = 0;
        long at = 0;
        int attempt = 0;
        while (at < length[b]) {
            long p = at / ps;
            if (served.isPresent(b, p)) {
                at = (p + 1) * ps;
                continue;
            }
            long end = p + 1;
            while (end < pages && !served.isPresent(b, end)) {
                end++;
            }
            long r = uffd.poison(start[b] + at, end * ps - at);
            if (r > 0) {
                poisoned += r;
                at += r;
                attempt = 0;
            } else if (r == -Linux.EAGAIN()) {
                retryWait(attempt++); // a REMOVE read now marks its pages present: looked at again
            } else if (r == -Linux.EEXIST()) {
                at += grain(b);
            } else {
                throw new IllegalStateException("UFFDIO_POISON at 0x" + Long.toHexString(start[b] + at) + " failed: "
                        + LinuxCalls.strerror((int) -r));
            }
        }
        return poisoned / ps;
    }

    /**
     * Runs the fault path's system calls (poll, read of the message queue, UFFDIO_COPY into a
     * registered range, metrics clock) on a scratch region of this process, before the server
     * connects, so that the first faults of a restore are served by compiled code and linked
     * downcalls rather than by the interpreter (the server starts ahead of the restore, so this
     * time is not the guest's). Best effort: any failure just skips it.
     */
    private static void warmUp() {
        long len = 1L << 20;
        MemorySegment region = null;
        Uffd u = null;
        try (Arena a = Arena.ofConfined()) {
            u = Uffd.open(new long[1], false); // no REMOVE events: the madvise below would wait for this thread
            region = LinuxCalls.mmap(MemorySegment.NULL, len, Linux.PROT_READ() | Linux.PROT_WRITE(),
                    Linux.MAP_PRIVATE() | Linux.MAP_ANONYMOUS(), -1, 0);
            u.registerMissing(region.address(), len);
            MemorySegment src = a.allocate(4096, 4096);
            src.fill((byte) 1);
            MemorySegment msgs = a.allocate(Uffd.MSG_SIZE * BATCH_MSGS, 8);
            MemorySegment pfd = pollfd.allocate(a);
            pollfd.fd(pfd, u.fd);
            pollfd.events(pfd, (short) Linux.POLLIN());
            long sink = 0;
            for (int round = 0; round < 48; round++) {
                for (long off = 0; off < len; off += 4096) {
                    LinuxCalls.poll(pfd, 1, 0);
                    sink += Linux.read(u.fd, msgs, msgs.byteSize()); // EAGAIN: nothing queued
                    long t0 = System.nanoTime();
                    sink += u.copy(region.address() + off, src.address(), 4096);
                    sink += System.nanoTime() - t0;
                }
                LinuxCalls.madvise(region, len, Linux.MADV_DONTNEED());
            }
            if (DEBUG) {
                System.err.println("page server: warmed up (" + sink + ")");
            }
        } catch (RuntimeException e) {
            if (DEBUG) {
                System.err.println("page server: warm-up skipped: " + e);
            }
        } finally {
            if (region != null) {
                LinuxCalls.munmap(region, len);
            }
            if (u != null) {
                u.close();
            }
        }
    }

    private FaultMetrics metrics() {
        long[] s = Arrays.copyOf(samples, sampleCount);
        Arrays.sort(s);
        return new FaultMetrics(faults, faultBytes, zeroFaults, prefetched, served.populated(), served.total(), pct(s, 0.50),
                pct(s, 0.90),
                pct(s, 0.99), s.length == 0 ? 0 : s[s.length - 1]);
    }

    private static long pct(long[] sorted, double q) {
        return sorted.length == 0 ? 0 : sorted[(int) Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    }
}
