package dev.guestmem.ioeventfd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import dev.guestmem.linux.pollfd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;

/**
 * QEMU's {@code EventNotifier}: a Linux eventfd that a guest write can signal
 * ({@link dev.guestmem.region.MemoryRegion#addEventfd}). The descriptor can be handed to another
 * process (a vhost-user backend's kick fd) or waited on in this one ({@link #await},
 * {@link #testAndClear}).
 *
 * <p>The descriptor is non-blocking and close-on-exec. {@link #close()} waits for nothing: a
 * {@link #set()} racing with it either completes on the still-open descriptor or does nothing, and
 * the descriptor number is never written after it was closed (a closed number can be reused by an
 * unrelated file). A thread blocked in {@link #await} is woken by the close (which signals the
 * eventfd once for that, so a process sharing the descriptor may see one last kick) and returns
 * false; the descriptor is closed when the last such call leaves. A notifier whose eventfd was
 * deleted ({@link dev.guestmem.region.MemoryRegion#delEventfd}, which waits for writes already
 * signalling) receives no more guest writes, so closing it after the deletion loses no kick.
 *
 * <p><b>Identity.</b> Notifiers are ordered by creation ({@link #id()}), the role the pointer
 * compare plays in QEMU's ioeventfd ordering; two registrations with the same notifier are the same
 * notifier.
 *
 * <p><b>Thread safety.</b> Every method may be called from any thread.
 */
public final class EventNotifier implements AutoCloseable {
    private static final AtomicLong IDS = new AtomicLong();
    /** Set in {@link #state} once closed; the low bits count calls using the descriptor. */
    private static final long CLOSED = 1L << 62;
    private static final ValueLayout.OfLong COUNTER = ValueLayout.JAVA_LONG;
    /** The 8-byte 1 every {@link #set()} writes: read-only, shared, so signalling allocates nothing. */
    private static final MemorySegment ONE = Arena.global().allocate(COUNTER);

    static {
        ONE.set(COUNTER, 0, 1L);
    }

    private final int fd;
    private final long id = IDS.incrementAndGet();
    private final AtomicLong state = new AtomicLong();

    private EventNotifier(int fd) {
        this.fd = fd;
    }

    /**
     * {@code event_notifier_init(e, false)}: a new eventfd with its counter at 0.
     *
     * @return the notifier
     * @throws NativeCallException if the kernel refuses (out of descriptors)
     */
    public static EventNotifier create() {
        return new EventNotifier(LinuxCalls.eventfd(0, Linux.EFD_CLOEXEC() | Linux.EFD_NONBLOCK()));
    }

    /**
     * {@code event_notifier_get_fd}.
     *
     * @return the eventfd descriptor (owned by this notifier: do not close it), or -1 once
     *     {@link #close()} was called (as QEMU's cleanup leaves it: the number may already name an
     *     unrelated file)
     */
    public int fd() {
        return isClosed() ? -1 : fd;
    }

    /** @return the creation-order identity */
    public long id() {
        return id;
    }

    /** @return whether {@link #close()} was called */
    public boolean isClosed() {
        return (state.get() & CLOSED) != 0;
    }

    /**
     * {@code event_notifier_set}: adds 1 to the counter, waking a waiter. One write(2), which does
     * not block while the descriptor is non-blocking; a full counter (EAGAIN) already holds a signal
     * and is left as it is. Limit, as in QEMU: a process sharing the descriptor can clear its
     * {@code O_NONBLOCK} (a flag of the shared open file description) and fill the counter; the
     * write then blocks until the counter is read (not guarded: checking for room with poll(2)
     * first doubled the cost of every kick and still left a window).
     *
     * @return false if the notifier is closed (nothing was written)
     */
    public boolean set() {
        if (!enter()) {
            return false;
        }
        try {
            long n = writeOne();
            // EAGAIN: the counter is at its maximum, so a waiter wakes anyway (QEMU ignores it too)
            if (n == -1 && Linux.errno() != Linux.EAGAIN()) {
                throw new NativeCallException("write", Linux.errno(), LinuxCalls.strerror(Linux.errno()));
            }
            return true;
        } finally {
            exit();
        }
    }

    /** Adds 1 to the counter (caller holds a use); returns write(2)'s result. */
    private long writeOne() {
        long n;
        do {
            n = Linux.write(fd, ONE, 8);
        } while (n == -1 && Linux.errno() == Linux.EINTR());
        return n;
    }

    /**
     * {@code event_notifier_test_and_clear}: reads and zeroes the counter.
     *
     * @return whether it was signalled since the last clear (false if closed)
     */
    public boolean testAndClear() {
        if (!enter()) {
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(COUNTER);
            long n = Linux.read(fd, buf, 8);
            if (isClosed()) {
                // The read may have taken the wake-up close() wrote (it sets CLOSED first, so this
                // check sees it): give it back, or a thread still in await sleeps out its timeout.
                writeOne();
            }
            return n == 8 && buf.get(COUNTER, 0) != 0;
        } finally {
            exit();
        }
    }

    /**
     * Waits until the notifier is signalled, without clearing it.
     *
     * @param timeout how long to wait at most (rounded up to milliseconds; poll(2) caps it at
     *     {@code Integer.MAX_VALUE} ms, about 24 days)
     * @return whether it is signalled (false on timeout, or if closed before or during the wait)
     */
    public boolean await(Duration timeout) {
        return awaitAny(timeout, this) == 0;
    }

    /**
     * Waits until one of several notifiers is signalled, without clearing any: one thread serving
     * several queues' doorbells (what QEMU's AioContext does with its event notifiers). Closed
     * notifiers are left out; the caller clears the one it serves ({@link #testAndClear}) and waits
     * again.
     *
     * @param timeout how long to wait at most (rounded up to milliseconds; poll(2) caps it at
     *     {@code Integer.MAX_VALUE} ms, about 24 days)
     * @param notifiers the notifiers, at most 1,024
     * @return the index of the first signalled notifier in {@code notifiers}, or -1 on timeout, when
     *     all are closed, or when one closed during the wait and none was signalled
     * @throws IllegalArgumentException if {@code notifiers} is empty or longer than 1,024
     */
    public static int awaitAny(Duration timeout, EventNotifier... notifiers) {
        if (notifiers.length == 0 || notifiers.length > 1024) {
            throw new IllegalArgumentException("awaitAny takes 1 to 1024 notifiers, not " + notifiers.length);
        }
        boolean[] entered = new boolean[notifiers.length];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(pollfd.layout(), notifiers.length);
            boolean any = false;
            for (int i = 0; i < notifiers.length; i++) {
                MemorySegment p = pollfd.asSlice(fds, i);
                entered[i] = notifiers[i].enter();
                pollfd.fd(p, entered[i] ? notifiers[i].fd : -1); // poll(2) skips a negative fd
                pollfd.events(p, (short) Linux.POLLIN());
                any |= entered[i];
            }
            if (!any) {
                return -1;
            }
            if (LinuxCalls.poll(fds, notifiers.length, pollMillis(timeout)) > 0) {
                for (int i = 0; i < notifiers.length; i++) {
                    // close() wakes waiters with a signal of its own: a closed one is not signalled
                    if (entered[i] && (pollfd.revents(pollfd.asSlice(fds, i)) & Linux.POLLIN()) != 0
                            && !notifiers[i].isClosed()) {
                        return i;
                    }
                }
            }
            return -1;
        } finally {
            for (int i = 0; i < notifiers.length; i++) {
                if (entered[i]) {
                    notifiers[i].exit();
                }
            }
        }
    }

    /**
     * @return {@code timeout} rounded up to milliseconds, in {@code [0, Integer.MAX_VALUE]} (without
     *     {@link Duration#toNanos()}, which overflows past 292 years)
     */
    private static int pollMillis(Duration timeout) {
        if (timeout.isNegative() || timeout.isZero()) {
            return 0;
        }
        if (timeout.compareTo(Duration.ofMillis(Integer.MAX_VALUE)) >= 0) {
            return Integer.MAX_VALUE;
        }
        long ms = timeout.toMillis();
        return (int) (Duration.ofMillis(ms).equals(timeout) ? ms : ms + 1);
    }

    /**
     * {@code event_notifier_cleanup}: closes the descriptor once no call is using it, waking threads
     * blocked in {@link #await} first. Idempotent.
     */
    @Override
    public void close() {
        // Close as one more user, so the descriptor stays open while waiters are woken; the last user
        // out (this call or one still running) closes it.
        long s;
        do {
            s = state.get();
            if ((s & CLOSED) != 0) {
                return;
            }
        } while (!state.compareAndSet(s, (s + 1) | CLOSED));
        try {
            if (s != 0) {
                writeOne(); // a waiter in poll(2) would otherwise sleep out its timeout, holding the fd
            }
        } finally {
            exit();
        }
    }

    private boolean enter() {
        long s;
        do {
            s = state.get();
            if ((s & CLOSED) != 0) {
                return false;
            }
        } while (!state.compareAndSet(s, s + 1));
        return true;
    }

    private void exit() {
        // The last user out after a close closes the descriptor (close() saw users and left it open).
        if (state.decrementAndGet() == CLOSED) {
            LinuxCalls.close(fd);
        }
    }

    @Override
    public String toString() {
        return "EventNotifier[fd=" + fd + ", id=" + id + (isClosed() ? ", closed" : "") + "]";
    }
}
