package dev.guestmem.share;

import dev.guestmem.linux.LinuxCalls;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A following peer's side of the push: a daemon thread that reads each change from the server and
 * applies it to the peer's {@link SharedMachine}, then tells the listeners.
 *
 * <p>It stops when the server hangs up (closed, or disconnected this peer), sends something this
 * side cannot apply, or the machine is closed; the machine keeps the layout of the last change
 * applied, and {@link #stoppedBecause()} says why.
 *
 * <p><b>Thread safety.</b> The counters and the reason are published under this object's monitor;
 * listeners are called on the follow thread, one change at a time, after the change is made; one
 * that throws (an exception or an error) is reported to the thread's uncaught-exception handler and
 * following goes on.
 */
final class LayoutSubscription {
    /** Longest wait for a line before the thread looks whether it should stop. */
    private static final long SLICE_NANOS = 100_000_000L;
    /** Longest wait in {@link #stop(boolean)} for a listener still running. */
    private static final Duration STOP_WAIT = Duration.ofSeconds(5);

    /** What the thread applies a change to: the machine, which closes {@code fd} in every case. */
    interface Target {
        /**
         * Applies one change.
         *
         * @param change the change
         * @param fd the plugged block's descriptor (the target owns it), or -1 for an unplug
         * @return the listeners to tell, as registered when the change was made ({@link #listeners()}
         *     taken under the same lock as the change); null if the machine is closed (nothing applied)
         * @throws RuntimeException if the change cannot be applied (nothing applied)
         */
        List<Consumer<LayoutChange>> apply(LayoutChange change, int fd);

        /** @return the layout now, against which an unplug is read */
        List<SharedRamRegion> layout();
    }

    private final ShareStream stream;
    private final Target target;
    private final List<Consumer<LayoutChange>> listeners = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private volatile boolean stopping;
    /** Guarded by this. */
    private long applied;
    /** Guarded by this; null while following. */
    private String stoppedBecause;

    LayoutSubscription(ShareStream stream, Target target) {
        this.stream = stream;
        this.target = target;
        this.thread = Thread.ofPlatform().daemon().name("share-follow " + stream.path()).unstarted(this::run);
    }

    /** Starts the follow thread, which owns the stream from now on. */
    void start() {
        thread.start();
    }

    void addListener(Consumer<LayoutChange> l) {
        listeners.add(l);
    }

    /** @return the listeners now */
    List<Consumer<LayoutChange>> listeners() {
        return List.copyOf(listeners);
    }

    synchronized long applied() {
        return applied;
    }

    synchronized String stoppedBecause() {
        return stoppedBecause;
    }

    /** @return true once at least {@code count} changes are applied; false on timeout or if following stopped first */
    synchronized boolean await(long count, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + Timeouts.nanos(timeout);
        while (applied < count && stoppedBecause == null) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000L));
        }
        return applied >= count;
    }

    /**
     * Stops the thread and, if {@code wait}, waits for it (not if called from a listener, on the
     * thread itself); it closes the stream as it ends.
     *
     * @param wait false if the caller holds a lock the thread may be waiting for (the memory
     *     system's): it then ends by itself, once the lock is free
     */
    void stop(boolean wait) {
        stopping = true;
        if (!wait || Thread.currentThread() == thread) {
            return;
        }
        try {
            thread.join(STOP_WAIT); // a listener that blocks longer finds the machine closed: nothing applied after
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * A plug carries one descriptor and an unplug none. Once this change's descriptor is taken, the
     * ones waiting must be those of the plugs received after it (and perhaps of a line not received
     * whole): one more came with a change too many, one fewer left a plug without its own, and which
     * line's is which cannot be told, so the next plug could map another block's. Stops following
     * (the stream closes what waits) before the change is applied.
     */
    private void refuseUnmatchedDescriptors(String line, int fd) {
        int waiting = stream.fdsWaiting();
        int plugs = stream.plugLinesWaiting();
        if (waiting >= plugs && waiting <= plugs + (stream.partLineWaiting() ? 1 : 0)) {
            return;
        }
        if (fd >= 0) {
            LinuxCalls.close(fd);
        }
        throw new ShareException(stream.path() + " sent " + waiting + " descriptor(s) with its change '" + line
                + "' and the " + plugs + " plug(s) received after it (a plug carries one, an unplug none): not applied");
    }

    private void run() {
        String why = "the machine was closed";
        try {
            while (!stopping) {
                String line = stream.nextLine(System.nanoTime() + SLICE_NANOS);
                if (line == null) {
                    continue;
                }
                LayoutChange c = ShareProtocol.decodeChange(line, target.layout());
                int fd = c.kind() == LayoutChange.Kind.PLUGGED ? stream.takeFd("plugged region '" + c.region().name() + "'") : -1;
                refuseUnmatchedDescriptors(line, fd);
                List<Consumer<LayoutChange>> toTell = target.apply(c, fd);
                if (toTell == null) {
                    break;
                }
                for (Consumer<LayoutChange> l : toTell) {
                    try {
                        l.accept(c);
                    } catch (RuntimeException | Error e) { // an Error too: a failed assertion in a listener
                        // the layout must go on following the server's: report, as an uncaught exception, and go on
                        thread.getUncaughtExceptionHandler().uncaughtException(thread, e);
                    }
                }
                synchronized (this) { // counted once told: an awaiter sees what the listeners saw
                    applied++;
                    notifyAll();
                }
            }
        } catch (RuntimeException | Error e) {
            why = e.getMessage() == null ? e.toString() : e.getMessage();
            if (e instanceof Error err) {
                throw err; // reported as uncaught; the reason is kept all the same, not "closed"
            }
        } finally {
            stream.close();
            synchronized (this) {
                stoppedBecause = why;
                notifyAll();
            }
        }
    }
}
