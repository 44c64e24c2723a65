package dev.guestmem.uffd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import dev.guestmem.ram.FaultProneHold;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotRestorer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Lazy restore of RAM blocks with userfaultfd: the blocks' pages are dropped and their ranges
 * registered in MISSING mode, and a {@link PageServerProcess} in another process serves each first
 * touch from the page source (a snapshot chain, or a remote process), prefetching the rest when idle.
 * Guest threads simply access the memory; a missing page makes the access wait in the kernel until
 * the other process has copied it in.
 *
 * <h2>Why another process (ARCHITECTURE.md hazard 1)</h2>
 * A thread waiting on a missing page is "in Java" for the JVM, so a safepoint (any GC) waits for it.
 * If the handler were a Java thread of this JVM it would block at that safepoint and never serve
 * the fault. The page server's JVM has its own safepoints, which this JVM's threads never join.
 *
 * <h2>Failure: the page source or the server dies</h2>
 * Closing the last reference to a userfaultfd makes the kernel unregister its ranges and retry the
 * waiting faults as ordinary ones: missing anonymous pages come back as zeros, silently. So this
 * object keeps its own reference to the userfaultfd for as long as the restore is open. If the
 * page source fails, the server poisons every missing page (UFFDIO_POISON, Linux 6.6+): waiting and
 * later accesses get SIGBUS, reported by the JVM as an {@code InternalError} at the access, and
 * {@link #awaitComplete} throws with the reason. Targets made with
 * {@link SnapshotBlock#of(RamBlock)} are held {@linkplain RamBlock#holdFaultProne fault-prone}
 * from before their pages are dropped until the restore is known complete, so the engine's address
 * spaces fence them and such an access answers {@code MEMTX_ERROR} there, even from compiled code
 * (where HotSpot may otherwise deliver the SIGBUS after the access, outside its {@code catch}).
 *
 * <p>If the server process itself dies (SIGKILL, crash, OOM kill), the first line is the
 * <em>guardian</em> process ({@link GuardianMain}) started with the server: it holds a duplicate of
 * the userfaultfd and one end of a socket pair whose other end only the server holds, so the
 * server's death is an EOF there, whatever killed it; it then poisons every missing page and stays
 * the userfaultfd's reader until the restore is closed, poisoning any later fault (a page served and
 * discarded since) and reading every other event, so no thread and no discard waits for ever.
 * Once the watchdog (below) has poisoned too, the ranges are unregistered: the poison stays on the
 * pages that were missing, and a page the guest discards from then on reads zeros, as discarded RAM
 * does. (A page discarded before the death, while missing, is poisoned with the others: only the
 * dead server knew it was discarded.)
 * No Java thread of this JVM takes part, so a safepoint that waits for a thread stuck on a fault
 * cannot stop it: the poison wakes that thread with SIGBUS, the safepoint completes. The second
 * line is a watchdog thread here that sees the server's socket close, poisons too (EEXIST on what
 * the guardian already did), unregisters the ranges, and only then marks the restore
 * {@link State#BROKEN} and records the reason. If the
 * guardian dies first, {@link #guardianLost()} says so (also on stderr) and only the watchdog is
 * left, which a pending safepoint can hold (the hazard again): a restore that has lost its
 * guardian should be finished or closed, not left to run.
 *
 * <h2>What the machine must allow</h2>
 * {@code userfaultfd(2)} for this process: {@code CAP_SYS_PTRACE} (root has it), or
 * {@code vm.unprivileged_userfaultfd=1}, and no seccomp profile refusing the call (container
 * runtimes' defaults often do). Without it {@code start} throws {@link LazyRestoreException} and
 * changes nothing. Missing pages are poisoned on failure only where the kernel has
 * {@code UFFD_FEATURE_POISON} (Linux 6.6+).
 *
 * <h2>Shared (memfd) targets</h2>
 * Only this process's mapping of a target is registered. Another mapping of the same memfd (a
 * peer given the RAM with {@code RamShareServer}, a vhost-user backend, QEMU) is not: its access to
 * a page not yet restored fills the hole (with zeros, or what it writes), which the guest then
 * reads too, with no fault (the snapshot's page can no longer be installed). Keep every other
 * mapping from touching a memfd target until {@link #awaitComplete} has returned true, or restore
 * it eagerly. What the engine does about it:
 * <ul>
 * <li><b>Refused where it knows.</b> A target whose {@link RamBlock} another process may map
 *     ({@link RamBlock#mappedElsewhere}: {@code RamShareServer} served it to a peer, or it was
 *     mapped by {@code SharedMachine.attach}) is refused at {@code start}, nothing changed, unless
 *     {@link Options#peersQuiescent}. Descriptors passed on by other means, and bare segments,
 *     are not seen.
 * <li><b>Detected when the page server reaches the page.</b> A page the server never installed
 *     that it finds already there (its copy answers EEXIST) breaks the restore: the missing pages
 *     are poisoned as after a source failure, {@link #state()} is {@link State#BROKEN}, and
 *     {@link #awaitComplete} throws with a reason naming the block and the page ("snapshot data
 *     lost: page N of block 'B' ... populated outside the restore"). The guest may already have
 *     read that page. With prefetch on, the server reaches every page, so a restore either installs
 *     every page itself or breaks; it is never {@link State#COMPLETE} with a page lost.
 * <li><b>Not detected with prefetch off.</b> The server then only reaches pages the guest faults
 *     on, and a page populated elsewhere takes no fault: it is never installed, never reported, and
 *     the restore stays {@link State#RESTORING} ({@link #awaitComplete} returns false).
 * </ul>
 *
 * <h2>Dirty logging</h2>
 * A target made with {@link SnapshotBlock#of(RamBlock)} is marked dirty over its whole range for
 * every client ({@link RamBlock#markWritten}: MIGRATION and VGA logged, CODE translations
 * invalidated) when the server is serving and before {@code start} returns, as an eager restore
 * marks each block after writing it; the bytes installed later are the ones a reader after the
 * mark already gets. A bare segment's owner must do this itself.
 *
 * <h2>Discarded pages</h2>
 * A page the guest discards ({@link RamBlock#discard}, {@code MADV_DONTNEED}/{@code MADV_REMOVE})
 * reads as zeros afterwards, as without a restore. While the restore runs, the discard waits until
 * the page server has read the kernel's REMOVE event (a few microseconds; after a server death the
 * guardian reads it): a page wholly discarded before it
 * was served is never copied afterwards, and a fault on a page already served gets a zero page.
 * Once the restore is {@link State#COMPLETE} the ranges are unregistered and discards are plain
 * memory operations. (QEMU's postcopy forbids discards on the destination while it runs; here
 * they are allowed and defined.)
 *
 * <p>Thread safety: any thread may access the restored memory at any time; the methods of this
 * class may be called from any thread. Every change of {@link #state()} is made under a private
 * lock, never this object's monitor, so a caller that synchronises on the restore cannot hold back
 * the watchdog's verdict (nor its poisoning of the missing pages). {@link #state()} and
 * {@link #failure()} are volatile reads; {@link #awaitComplete} returns after the watchdog's
 * verdict, failure reason included, has been published (the {@code finished} latch).
 */
public final class LazyRestore implements AutoCloseable {
    /** Where a restore stands. */
    public enum State {
        /** Pages are still being served. */
        RESTORING,
        /** Every page is present; the ranges are unregistered (ordinary memory again). */
        COMPLETE,
        /**
         * The page source or server failed, or a page was found populated outside the restore;
         * missing pages were poisoned.
         */
        BROKEN,
        /** Closed. */
        CLOSED
    }

    /**
     * Restore options.
     *
     * @param prefetch install the pages nobody touched in the background
     * @param verify check each snapshot page's checksum before installing it
     * @param peersQuiescent the caller vouches that no other process touches a target until
     *     {@link #awaitComplete} has returned true, so a target another process may map
     *     ({@link RamBlock#mappedElsewhere}) is restored instead of refused
     */
    public record Options(boolean prefetch, boolean verify, boolean peersQuiescent) {
        /** Prefetch and verify; targets other processes may map are refused. */
        public static final Options DEFAULT = new Options(true, true, false);

        /**
         * Options that refuse targets other processes may map.
         *
         * @param prefetch install the pages nobody touched in the background
         * @param verify check each snapshot page's checksum before installing it
         */
        public Options(boolean prefetch, boolean verify) {
            this(prefetch, verify, false);
        }

        /** @return these options, with the caller vouching that other processes keep off the targets until complete */
        public Options withPeersQuiescent() {
            return new Options(prefetch, verify, true);
        }
    }

    private final PageServerProcess server;
    private final boolean ownsServer;
    private final Uffd uffd;
    private final List<SnapshotBlock> targets;
    private final Wire ctl;
    /** The server opened and checked its source (nothing touched yet), or refused, or died. */
    private final CountDownLatch configured = new CountDownLatch(1);
    private final CountDownLatch ready = new CountDownLatch(1);
    private final CountDownLatch finished = new CountDownLatch(1);
    private final LinkedBlockingQueue<String> replies = new LinkedBlockingQueue<>();
    private volatile State state = State.RESTORING;
    private volatile String failure;
    private volatile FaultMetrics lastMetrics = FaultMetrics.NONE;
    private volatile boolean closing;
    /**
     * The targets' pages were dropped and their ranges registered (so pages may be poisoned from
     * then on); false for a start refused before; guarded by {@link #lock}.
     */
    private boolean registered;
    /** The targets were unregistered ({@link #unregisterAll}); guarded by {@link #lock}. */
    private boolean unregistered;
    private final Thread watchdog;
    private final Wire guard;
    /** Counted down when the guardian reported (after a server death) or ended. */
    private final CountDownLatch guardianEnded = new CountDownLatch(1);
    private volatile String guardianReport;
    private volatile String guardianLost;
    private final Thread guardianWatcher;
    /** Guards every change of {@link #state} and the poisoning that goes with it; private so no caller can hold it. */
    private final Object lock = new Object();
    /**
     * Test hook: while set, the watchdog waits for this latch before it records a server death
     * ({@link #holdVerdictUntil}); null in production.
     */
    private volatile CountDownLatch verdictHold;
    /**
     * One {@link FaultProneHold} per target that names its {@link RamBlock}: its pages can be
     * poisoned until every one is present, so address spaces must fence them until then. Released
     * once the restore is known complete ({@link #awaitComplete} returning true, or {@link #close}
     * after completion); kept for ever by a restore that broke or was closed early, whose missing
     * pages stay poisoned.
     */
    private final List<FaultProneHold> faultHolds;

    private LazyRestore(PageServerProcess server, boolean ownsServer, List<SnapshotBlock> targets, String sourceLine, Options options) {
        this.server = server;
        this.ownsServer = ownsServer;
        this.targets = List.copyOf(targets);
        checkUsable(this.targets, options); // every target before any is touched
        // Before any page is dropped: from then on an access may meet a poisoned page.
        this.faultHolds = holdFaultProne(this.targets, "lazy restore by page server " + server.pid());
        long[] features = new long[1];
        try {
            this.uffd = Uffd.open(features);
        } catch (RuntimeException e) {
            faultHolds.forEach(FaultProneHold::close);
            if (e instanceof NativeCallException n) { // typed, and saying what failed
                throw new LazyRestoreException(UffdOpenFailure.explain(n), n);
            }
            throw e;
        }
        if ((features[0] & Uffd.FEATURE_POISON) == 0) {
            System.err.println("guestmem: kernel lacks UFFD_FEATURE_POISON; a failed page source will leave faulting threads waiting");
        }
        StringBuilder cfg = new StringBuilder(sourceLine).append('\n');
        for (SnapshotBlock t : this.targets) {
            cfg.append(Wire.line("block", t.name(), Long.toString(t.segment().address()), Long.toString(t.usedLength()),
                    Long.toString(t.pageSize()))).append('\n');
        }
        cfg.append("prefetch\t").append(options.prefetch() ? 1 : 0).append('\n');
        cfg.append("verify\t").append(options.verify() ? 1 : 0).append('\n');
        cfg.append("layout\n");
        StringBuilder arm = new StringBuilder();
        for (SnapshotBlock t : this.targets) {
            arm.append(Wire.line("range", Long.toString(t.segment().address()), Long.toString(t.usedLength()),
                    Long.toString(t.pageSize()))).append('\n');
        }
        arm.append("arm\n");
        try {
            // The liveness pair: one end to the server, one to the guardian, none kept here, so the
            // guardian's end reads EOF exactly when the server process is gone (any death, SIGKILL
            // included). The guardian's message goes first, so it is queued before any fault can be served.
            int[] liveness = LinuxCalls.socketpair();
            try {
                LinuxCalls.sendWithFds(server.guardianSocket(), arm.toString().getBytes(StandardCharsets.UTF_8), uffd.fd, liveness[1]);
                LinuxCalls.sendWithFds(server.socket(), cfg.toString().getBytes(StandardCharsets.UTF_8), uffd.fd, liveness[0]);
            } finally {
                LinuxCalls.close(liveness[0]);
                LinuxCalls.close(liveness[1]);
            }
        } catch (RuntimeException e) {
            uffd.close(); // nothing registered, no page dropped
            faultHolds.forEach(FaultProneHold::close);
            throw e;
        }
        this.ctl = new Wire(server.socket());
        this.guard = new Wire(server.guardianSocket());
        this.watchdog = Thread.ofPlatform().daemon().name("guestmem-uffd-watchdog-" + server.pid()).start(this::watch);
        this.guardianWatcher = Thread.ofPlatform().daemon().name("guestmem-uffd-guardian-" + server.guardian().pid())
                .start(this::watchGuardian);
        // The server opens and checks its source first; until it answers, no target has been
        // touched, so a refusal (or no answer) changes nothing: close() then only tears down.
        awaitStartStep(configured, "accept the layout", false);
        StringBuilder zeropage = new StringBuilder("zeropage");
        try {
            synchronized (lock) { // the watchdog's verdict on a server death sees the targets registered or not, never half
                if (state == State.RESTORING) {
                    for (SnapshotBlock t : this.targets) {
                        dropPages(t);
                        long ioctls = uffd.registerMissing(t.segment().address(), t.usedLength());
                        zeropage.append('\t').append((ioctls & (1L << Linux._UFFDIO_ZEROPAGE())) != 0 ? 1 : 0);
                    }
                    registered = true;
                }
            }
        } catch (RuntimeException e) {
            synchronized (lock) {
                registered = false; // unregistered below: dropped pages read as zeros, none is poisoned
                unregisterAll();
            }
            close();
            markTargetsWritten(); // pages may have been dropped: the memory changed
            throw e;
        }
        if (!registered) { // the server died after its answer, before anything was touched
            awaitStartStep(configured, "accept the layout", false);
        }
        try {
            ctl.sendLine(zeropage.toString());
            ctl.sendLine("go");
        } catch (NativeCallException e) {
            // the server is gone: the watchdog poisons and records it, the wait below sees BROKEN
        }
        // From here the pages are dropped: a failure poisons what is missing (close()).
        awaitStartStep(ready, "start serving", true);
        // No wait for the guardian's "armed": the userfaultfd and its end of the liveness pair
        // are already queued on its socket, so a server death before it reads them is seen the
        // moment it does (the pair reads EOF then). Only the guardian's own death can lose it,
        // and that is reported (guardianLost).
        // The restore replaces every byte of each target: from here (the server serving) a reader
        // of the range gets the restored bytes, so the dirty log (MIGRATION, VGA) and the CODE
        // client must hear of the whole range now, before the caller runs the guest, as after an
        // eager restore. Pages the server installs later need no mark of their own: what they
        // hold is what a reader after this mark already gets.
        markTargetsWritten();
    }

    /**
     * Waits for one step of the start; if it does not come (60 s), is interrupted, or the restore
     * broke meanwhile, closes the restore and throws.
     *
     * @param dropped whether the targets' pages were dropped (then they are marked written)
     */
    private void awaitStartStep(CountDownLatch step, String what, boolean dropped) {
        String why = null;
        Throwable cause = null;
        try {
            if (!step.await(60, TimeUnit.SECONDS)) {
                why = "page server " + server.pid() + " did not " + what + " within 60 s";
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            why = "interrupted while starting";
            cause = e;
        }
        if (why == null && state == State.BROKEN) {
            why = "lazy restore failed to start: " + failure;
        }
        if (why == null) {
            return;
        }
        close(); // dropped pages: poisoned, not left to read as zeros; threads stopped
        if (dropped) {
            markTargetsWritten();
        }
        throw new LazyRestoreException(why, cause);
    }

    private static void checkUsable(List<SnapshotBlock> targets, Options options) {
        for (SnapshotBlock t : targets) {
            String other = t.ramBlock() != null ? t.ramBlock().mappedElsewhere() : null;
            if (other != null && !options.peersQuiescent()) {
                throw new LazyRestoreException("block '" + t.name() + "' may be mapped by another process (" + other
                        + "), whose touch of a page not yet restored would stand in for the snapshot's bytes; nothing was "
                        + "changed. Keep that process off the block until awaitComplete returns true and pass "
                        + "Options.withPeersQuiescent(), or restore eagerly (SnapshotRestorer.restore)");
            }
            if (t.segment().isReadOnly()) { // startRemote has no snapshot chain to check targets against
                throw new LazyRestoreException("block '" + t.name() + "' is mapped read-only: it cannot be restored");
            }
            long addr = t.segment().address();
            if (addr % t.pageSize() != 0) {
                throw new LazyRestoreException("block '" + t.name() + "' at 0x" + Long.toHexString(addr)
                        + " is not aligned to its page size " + t.pageSize() + " (map it with mmap)");
            }
        }
    }

    /**
     * Marks every target named by its RAM block written over its used length ({@link
     * RamBlock#markWritten}): on success, and on every failed start after pages were dropped (the
     * memory changed then too, as an eager restore that fails part-way marks its targets).
     */
    private void markTargetsWritten() {
        for (SnapshotBlock t : this.targets) {
            if (t.ramBlock() != null) {
                t.ramBlock().markWritten(0, t.usedLength());
            }
        }
    }

    /**
     * Starts restoring blocks from a snapshot chain.
     *
     * @param server a started page server, used by this restore only
     * @param chain the snapshots (the server maps the same files itself, by path, and refuses to
     *     start if one is not the file opened here: replaced, or rewritten, since)
     * @param targets the blocks to restore, page-aligned mappings (anonymous or memfd); their
     *     current contents are discarded; those naming their {@link RamBlock} are marked dirty for
     *     every client before this returns. Memory the caller owns (a bare segment, a host-pointer
     *     block) must stay mapped until the restore is closed: freed and reused meanwhile, it would
     *     receive snapshot pages
     * @param options prefetch and verification
     * @return the running restore; the targets can be accessed at once
     * @throws dev.guestmem.snapshot.SnapshotException if a target does not match the snapshot
     * @throws LazyRestoreException if this process may not open a userfaultfd (see the class
     *     comment), a target is not aligned to its page size, a target's block may be mapped by another
     *     process ({@link RamBlock#mappedElsewhere}) and {@link Options#peersQuiescent} is false, the server refuses
     *     the source (a file missing or not the one opened here) or does not answer: then nothing was
     *     changed, the targets keep their bytes and are not fault-prone; if registration or the
     *     server's start fails after the pages were dropped, the targets are marked written, and
     *     either read zeros (registration failed) or have their missing pages poisoned and stay
     *     fault-prone (the server failed)
     * @throws IllegalStateException if a target's block is released, or its system has a transaction
     *     open on this thread ({@link dev.guestmem.ram.RamBlock#holdFaultProne})
     */
    public static LazyRestore start(PageServerProcess server, SnapshotChain chain, List<SnapshotBlock> targets, Options options) {
        SnapshotRestorer.checkTargets(chain, targets);
        return new LazyRestore(server, false, targets, sourceLine(chain), options);
    }

    /**
     * Starts restoring blocks from a remote page source ({@link PageSourceServer}), postcopy style.
     *
     * @param server a started page server, used by this restore only
     * @param sourceSocket the page source's Unix socket
     * @param targets the blocks to restore, page-aligned mappings (anonymous or memfd)
     * @param options prefetch (verification applies to snapshot sources only)
     * @return the running restore
     * @throws LazyRestoreException if registration, the connection to the source or the server's start
     *     fails (a source the server cannot reach is refused before any target is touched), or a target's
     *     block may be mapped by another process and {@link Options#peersQuiescent} is false (nothing changed)
     */
    public static LazyRestore startRemote(PageServerProcess server, String sourceSocket, List<SnapshotBlock> targets, Options options) {
        return new LazyRestore(server, false, targets, Wire.line("source", "remote", sourceSocket), options);
    }

    /**
     * Starts a page server process and a restore from a snapshot chain; the server is stopped on close.
     *
     * @param chain the snapshots
     * @param targets the blocks to restore
     * @param options prefetch and verification
     * @return the running restore
     */
    public static LazyRestore start(SnapshotChain chain, List<SnapshotBlock> targets, Options options) {
        SnapshotRestorer.checkTargets(chain, targets);
        PageServerProcess server = PageServerProcess.start(List.of());
        String source = sourceLine(chain);
        try {
            return new LazyRestore(server, true, targets, source, options);
        } catch (RuntimeException e) {
            try {
                server.close(); // idempotent: the constructor may have closed it already
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed); // the reason the restore failed stays the exception
            }
            throw e;
        }
    }

    /**
     * The layout's source lines for a snapshot chain: its files' absolute paths, full one first,
     * then the header of each file as the caller opened it (hex). The server opens the files by
     * path and refuses any whose header differs: a file replaced at its path since the caller
     * opened it (a newer snapshot renamed over it) is not restored in its place. The header holds
     * the file's random id, its base's id, its length and the checksum of its table, which covers
     * every page's location and checksum.
     */
    private static String sourceLine(SnapshotChain chain) {
        List<String> paths = new java.util.ArrayList<>(List.of("source", "snapshot"));
        List<String> headers = new java.util.ArrayList<>(List.of("headers"));
        for (SnapshotFile f : chain.files()) {
            paths.add(f.path().toAbsolutePath().toString());
            headers.add(java.util.HexFormat.of().formatHex(SnapshotPageSource.header(f)));
        }
        return Wire.line(paths.toArray(String[]::new)) + "\n" + Wire.line(headers.toArray(String[]::new));
    }

    /** A hold on each target that names its RAM block; all or none (a released block throws). */
    private static List<FaultProneHold> holdFaultProne(List<SnapshotBlock> targets, String why) {
        List<FaultProneHold> holds = new java.util.ArrayList<>();
        try {
            for (SnapshotBlock t : targets) {
                RamBlock b = t.ramBlock();
                if (b != null) {
                    holds.add(b.holdFaultProne(why));
                }
            }
        } catch (RuntimeException e) {
            holds.forEach(FaultProneHold::close);
            throw e;
        }
        return List.copyOf(holds);
    }

    private static void dropPages(SnapshotBlock t) {
        try {
            LinuxCalls.madvise(t.segment(), t.usedLength(), Linux.MADV_REMOVE()); // shared memory: free the pages
        } catch (NativeCallException e) {
            LinuxCalls.madvise(t.segment(), t.usedLength(), Linux.MADV_DONTNEED()); // private anonymous memory
        }
    }

    private void watch() {
        String exit = "closed its socket";
        try {
            for (String line = ctl.readLine(); line != null; line = ctl.readLine()) {
                if (Boolean.getBoolean("guestmem.uffd.debug")) {
                    System.err.println("uffd watchdog <- " + line + " at " + System.currentTimeMillis());
                }
                if (line.equals("configured")) {
                    configured.countDown();
                } else if (line.equals("ready")) {
                    ready.countDown();
                } else if (line.startsWith("done ")) {
                    lastMetrics = FaultMetrics.fromWire(line);
                    synchronized (lock) {
                        if (state == State.RESTORING) {
                            state = State.COMPLETE;
                            unregisterAll();
                        }
                    }
                    finished.countDown();
                } else if (line.startsWith("broken\t") || line.startsWith("error\t") || line.startsWith("lost\t")) {
                    List<String> f = Wire.fields(line);
                    String what = f.getFirst().equals("lost") ? "snapshot data lost: " : "page source failed: ";
                    synchronized (lock) {
                        if (state == State.RESTORING) {
                            failure = what + (f.size() > 1 ? f.get(1) : "");
                            state = State.BROKEN;
                        }
                    }
                    configured.countDown();
                    ready.countDown();
                    finished.countDown();
                } else if (line.startsWith("stats ")) {
                    lastMetrics = FaultMetrics.fromWire(line);
                    replies.offer(line);
                }
            }
        } catch (RuntimeException e) {
            exit = "failed: " + e.getMessage();
        }
        if (closing || state == State.COMPLETE || state == State.BROKEN) {
            configured.countDown();
            replies.offer("eof");
            return;
        }
        awaitVerdictHold();
        // The server died with pages missing. Poison them through our own reference so the waiting
        // threads get an error; without it they would wait for ever (or, had we closed the fd, read zeros).
        long poisoned = 0;
        boolean recorded = false;
        synchronized (lock) {
            if (state == State.RESTORING) {
                failure = "page server process " + server.pid() + " " + exit + " while pages were missing";
                recorded = true;
                if (registered) { // else nothing was dropped: the start sees BROKEN and changes nothing
                    for (SnapshotBlock t : targets) {
                        poisoned += uffd.poisonMissing(t.segment().address(), t.usedLength(), t.pageSize());
                    }
                    // Every missing page holds poison now, which stays: unregistered, a page the
                    // guest discards from here on reads zeros through the kernel alone, as discarded
                    // RAM does, instead of faulting to the guardian, which can only poison it.
                    unregisterAll();
                }
                // Last: whoever reads BROKEN (state() takes no lock) finds the ranges unregistered.
                // Set first, a discard and read right after it could still fault to the guardian
                // (LazyRestoreRegressionTest's after-server-death case, under CPU load).
                state = State.BROKEN;
            }
        }
        if (!recorded) { // closed meanwhile: close() poisoned what was missing, and there is no failure to report
            configured.countDown();
            ready.countDown();
            finished.countDown();
            replies.offer("eof");
            return;
        }
        String code;
        try {
            code = server.process().waitFor(2, TimeUnit.SECONDS) ? "exit code " + server.process().exitValue() : "still running";
        } catch (InterruptedException e) {
            code = "unknown";
        }
        try {
            guardianEnded.await(2, TimeUnit.SECONDS); // its report, if it acted first
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        String g = guardianReport != null ? "guardian " + guardianReport
                : guardianLost != null ? "no guardian (" + guardianLost + ")" : "guardian: no report";
        failure = failure + " (" + code + "); " + g + "; watchdog poisoned " + poisoned + " more";
        configured.countDown();
        ready.countDown();
        finished.countDown();
        replies.offer("eof");
    }

    /**
     * Unregisters the targets, once (under {@link #lock}). Done as soon as every page is present
     * (COMPLETE), or after a server death once every missing page is poisoned: from then on the memory is ordinary memory again, and a page discarded later
     * (balloon, virtio-mem: {@code RamBlock.discard}) reads as zeros through the kernel alone,
     * needing neither the page server nor the guardian (whose poison, after a server death, would
     * otherwise land on such a page). A range unmapped meanwhile has nothing left to unregister.
     */
    private void unregisterAll() {
        if (unregistered) {
            return;
        }
        unregistered = true;
        for (SnapshotBlock t : targets) {
            try {
                uffd.unregister(t.segment().address(), t.usedLength());
            } catch (NativeCallException e) {
                // ENOMEM: the block was unmapped; nothing registered is left there
            }
        }
    }

    /**
     * Test hook: makes the watchdog wait for {@code release} before it records a server death, so a
     * test can read the state in the window between the guardian's poison (which fails the waiting
     * access) and the watchdog's verdict, which load can open in production. Set it before the
     * server can die; {@link #close} releases it.
     *
     * @param release counted down by the test when the watchdog may go on
     */
    void holdVerdictUntil(CountDownLatch release) {
        verdictHold = release;
    }

    private void awaitVerdictHold() {
        CountDownLatch hold = verdictHold;
        if (hold == null) {
            return;
        }
        try {
            hold.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt(); // record the verdict anyway
        }
    }

    private void watchGuardian() {
        try {
            for (String line = guard.readLine(); line != null; line = guard.readLine()) {
                if (Boolean.getBoolean("guestmem.uffd.debug")) {
                    System.err.println("uffd guardian watcher <- " + line + " at " + System.currentTimeMillis());
                }
                List<String> f = Wire.fields(line);
                if (f.getFirst().equals("armed")) {
                    continue;
                } else if (f.getFirst().equals("poisoned") && f.size() > 1) {
                    guardianReport = "poisoned " + f.get(1) + " missing pages" + (f.size() > 2 ? " (" + f.get(2) + ")" : "");
                    guardianEnded.countDown(); // its report is in: it stays, answering late faults, until close
                } else if (f.getFirst().equals("error") && f.size() > 1) {
                    guardianLost = "guardian refused the restore: " + f.get(1);
                }
            }
        } catch (RuntimeException e) {
            // its socket failed: the same as its end
        }
        if (!closing && guardianReport == null && state == State.RESTORING) {
            // Still restoring and no guardian: a server death from now on is caught only by the
            // watchdog thread of this JVM, which a pending safepoint can hold (hazard 1).
            String code;
            try {
                Process g = server.guardian();
                code = g.waitFor(2, TimeUnit.SECONDS) ? "exit code " + g.exitValue() : "still running";
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                code = "unknown";
            }
            guardianLost = "guardian process " + server.guardian().pid() + " ended (" + code
                    + ") while the restore was running; only this JVM's watchdog now covers a page-server death";
            System.err.println("guestmem: " + guardianLost);
        }
        guardianEnded.countDown();
    }

    /**
     * Tells whether the guardian process still covers a page-server death.
     *
     * @return null while it does (or after it acted), else why not
     */
    public String guardianLost() {
        return guardianLost;
    }

    /**
     * Where the restore stands. After a page-server death this becomes {@link State#BROKEN} once
     * this JVM's watchdog has recorded the death, poisoned what was missing and unregistered the
     * ranges (so a page discarded from then on reads zeros), which may be after an access has
     * already failed: the guardian poisons the missing pages first, and the kernel wakes the
     * waiting access then.
     * {@link #awaitComplete} waits for the watchdog's verdict.
     *
     * @return where the restore stands
     */
    public State state() {
        return state;
    }

    /**
     * Why the restore broke. Once {@link #state()} reads {@link State#BROKEN}, waits (at most a few
     * seconds) until the watchdog has completed the report with the server's exit status and the
     * guardian's account, so the answer is whole.
     *
     * @return why the restore broke, or null
     */
    public String failure() {
        if (state == State.BROKEN) {
            try {
                finished.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return failure;
    }

    /** @return the page server's pid */
    public long serverPid() {
        return server.pid();
    }

    /**
     * Waits until every page is present. When it is, blocks named by their {@link RamBlock} stop
     * being {@linkplain RamBlock#canFault() fault-prone} before this returns true: the owning
     * systems re-render, and accesses to the blocks take the direct path again. (A restore that
     * completes while nobody waits keeps them fenced until this is called or the restore closed.)
     *
     * @param timeout how long to wait
     * @return true if complete, false on timeout or once the restore is closed before it completed
     * @throws LazyRestoreException if the restore broke (with the reason)
     * @throws InterruptedException if interrupted
     */
    public boolean awaitComplete(Duration timeout) throws InterruptedException {
        // TimeUnit.convert saturates where Duration.toNanos throws (past 292 years)
        boolean done = finished.await(TimeUnit.NANOSECONDS.convert(timeout), TimeUnit.NANOSECONDS);
        State s = state; // one read: BROKEN and COMPLETE are final, but close() can still follow either
        if (s == State.BROKEN) {
            throw new LazyRestoreException(failure);
        }
        if (done && s == State.COMPLETE) {
            faultHolds.forEach(FaultProneHold::close); // every page present: nothing left to poison
            return true;
        }
        return false;
    }

    /**
     * Asks the server for its metrics (faults served, bytes, latency percentiles).
     *
     * @return the server's current metrics, or the last ones received if it has gone
     */
    public FaultMetrics metrics() {
        if (state == State.RESTORING || state == State.COMPLETE) {
            try {
                replies.clear();
                ctl.sendLine("stats");
                String line = replies.poll(10, TimeUnit.SECONDS);
                if (line != null && line.startsWith("stats ")) {
                    return FaultMetrics.fromWire(line);
                }
            } catch (NativeCallException e) {
                // gone: fall through
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return lastMetrics;
    }

    /**
     * Ends the restore: pages still missing are poisoned (never silently zero), the ranges are
     * unregistered, the userfaultfd closed and the server told to quit (and stopped if owned).
     */
    @Override
    public void close() {
        CountDownLatch hold = verdictHold;
        if (hold != null) {
            hold.countDown(); // the watchdog must not keep close() waiting in join below
        }
        boolean completed;
        synchronized (lock) {
            if (state == State.CLOSED) {
                return;
            }
            closing = true;
            if (state != State.COMPLETE && registered && !unregistered) {
                for (SnapshotBlock t : targets) {
                    uffd.poisonMissing(t.segment().address(), t.usedLength(), t.pageSize());
                }
            }
            unregisterAll();
            try {
                guard.sendLine("disarm"); // before the server quits, so the guardian reads it first
            } catch (NativeCallException e) {
                // already gone
            }
            try {
                ctl.sendLine("quit");
            } catch (NativeCallException e) {
                // already gone
            }
            // complete, or never registered (a refused start): no page can be poisoned, the fence goes
            completed = state == State.COMPLETE || !registered;
            state = State.CLOSED;
            finished.countDown(); // a waiting awaitComplete returns false now, not at its timeout
        }
        if (completed) {
            faultHolds.forEach(FaultProneHold::close); // outside the lock: a re-render takes the system's
        }
        try {
            watchdog.join(5000);
            guardianWatcher.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        uffd.close();
        server.closeSocket(); // once, also if the server's own close() follows
        ctl.closeBuffers();
        if (ownsServer) {
            server.close();
        } else {
            try {
                server.process().waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public String toString() {
        return "LazyRestore[" + targets.stream().map(SnapshotBlock::name).toList() + " " + state
                + (failure != null ? ": " + failure : "") + "]";
    }

}
