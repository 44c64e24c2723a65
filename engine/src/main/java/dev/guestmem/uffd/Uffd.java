package dev.guestmem.uffd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import dev.guestmem.linux.uffdio_api;
import dev.guestmem.linux.uffdio_copy;
import dev.guestmem.linux.uffdio_range;
import dev.guestmem.linux.uffdio_register;
import dev.guestmem.linux.uffdio_zeropage;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The userfaultfd operations lazy restore needs, on one descriptor, with their argument structs
 * allocated once (the fault path does not allocate).
 *
 * <p>{@code UFFDIO_POISON} (Linux 6.6) and {@code UFFD_FEATURE_POISON} are not in the bindings'
 * headers (built against older uapi headers), so their values are here:
 * {@code _IOWR(0xAA, 0x08, struct uffdio_poison)} with the 32-byte struct
 * {@code {uffdio_range range; u64 mode; s64 updated}}.
 *
 * <p>Thread safety: one thread at a time per instance (the structs are reused).
 */
final class Uffd {
    /** {@code UFFD_FEATURE_POISON}, {@code 1 << 14}. */
    static final long FEATURE_POISON = 1L << 14;
    /** {@code UFFDIO_POISON}. */
    static final long UFFDIO_POISON = 0xC020_AA08L;

    final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment copy = uffdio_copy.allocate(arena);
    private final MemorySegment zero = uffdio_zeropage.allocate(arena);
    private final MemorySegment range = uffdio_range.allocate(arena);
    private final MemorySegment poison = arena.allocate(32, 8);

    Uffd(int fd) {
        this.fd = fd;
    }

    /**
     * Opens a userfaultfd and negotiates the API with the features lazy restore needs.
     *
     * @return the descriptor's wrapper and whether poison is available, as the features word
     */
    static Uffd open(long[] featuresOut) {
        return open(featuresOut, true);
    }

    /**
     * Opens a userfaultfd, optionally with {@code UFFD_FEATURE_EVENT_REMOVE}: then a
     * {@code MADV_DONTNEED}/{@code MADV_REMOVE} on a registered range queues a REMOVE event and
     * waits until the handler has read it, and UFFDIO_COPY/ZEROPAGE/POISON answer EAGAIN while an
     * event is unread (so whoever fills pages must also read the queue, see {@link #drainEvents}).
     */
    static Uffd open(long[] featuresOut, boolean eventRemove) {
        int fd = LinuxCalls.userfaultfd(Linux.O_CLOEXEC() | Linux.O_NONBLOCK());
        long base = Linux.UFFD_FEATURE_MISSING_SHMEM() | (eventRemove ? Linux.UFFD_FEATURE_EVENT_REMOVE() : 0);
        long wanted = base | FEATURE_POISON;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment api = uffdio_api.allocate(a);
            uffdio_api.api(api, Linux.UFFD_API());
            uffdio_api.features(api, wanted);
            try {
                LinuxCalls.ioctl(fd, Linux.UFFDIO_API(), api);
            } catch (NativeCallException e) {
                // an older kernel without poison: a fresh fd, the API without it
                LinuxCalls.close(fd);
                fd = LinuxCalls.userfaultfd(Linux.O_CLOEXEC() | Linux.O_NONBLOCK());
                uffdio_api.api(api, Linux.UFFD_API());
                uffdio_api.features(api, base);
                LinuxCalls.ioctl(fd, Linux.UFFDIO_API(), api);
            }
            featuresOut[0] = uffdio_api.features(api);
        }
        return new Uffd(fd);
    }

    /** Registers a range in MISSING mode; returns the ioctls allowed on it. */
    long registerMissing(long start, long len) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment reg = uffdio_register.allocate(a);
            uffdio_range.start(uffdio_register.range(reg), start);
            uffdio_range.len(uffdio_register.range(reg), len);
            uffdio_register.mode(reg, Linux.UFFDIO_REGISTER_MODE_MISSING());
            LinuxCalls.ioctl(fd, Linux.UFFDIO_REGISTER(), reg);
            return uffdio_register.ioctls(reg);
        }
    }

    /** Unregisters a range (wakes anything still waiting in it). */
    void unregister(long start, long len) {
        uffdio_range.start(range, start);
        uffdio_range.len(range, len);
        LinuxCalls.ioctl(fd, Linux.UFFDIO_UNREGISTER(), range);
    }

    /**
     * UFFDIO_COPY; returns bytes copied (len on success), or {@code -errno} if it stopped early
     * (EEXIST: a page was already there; EAGAIN: the mm was changing).
     */
    long copy(long dst, long src, long len) {
        uffdio_copy.dst(copy, dst);
        uffdio_copy.src(copy, src);
        uffdio_copy.len(copy, len);
        uffdio_copy.mode(copy, 0);
        uffdio_copy.copy(copy, 0);
        int rc = Linux.ioctl(fd, Linux.UFFDIO_COPY(), copy);
        if (rc == 0) {
            return len;
        }
        int errno = Linux.errno();
        long done = uffdio_copy.copy(copy);
        return done > 0 ? done : -errno;
    }

    /** UFFDIO_ZEROPAGE; same result convention as {@link #copy}. */
    long zeropage(long dst, long len) {
        MemorySegment r = uffdio_zeropage.range(zero);
        uffdio_range.start(r, dst);
        uffdio_range.len(r, len);
        uffdio_zeropage.mode(zero, 0);
        uffdio_zeropage.zeropage(zero, 0);
        int rc = Linux.ioctl(fd, Linux.UFFDIO_ZEROPAGE(), zero);
        if (rc == 0) {
            return len;
        }
        int errno = Linux.errno();
        long done = uffdio_zeropage.zeropage(zero);
        return done > 0 ? done : -errno;
    }

    /** UFFDIO_POISON; same result convention as {@link #copy}. */
    long poison(long dst, long len) {
        poison.set(ValueLayout.JAVA_LONG, 0, dst);
        poison.set(ValueLayout.JAVA_LONG, 8, len);
        poison.set(ValueLayout.JAVA_LONG, 16, 0);
        poison.set(ValueLayout.JAVA_LONG, 24, 0);
        int rc = Linux.ioctl(fd, UFFDIO_POISON, poison);
        if (rc == 0) {
            return len;
        }
        int errno = Linux.errno();
        long done = poison.get(ValueLayout.JAVA_LONG, 24);
        return done > 0 ? done : -errno;
    }

    /** UFFDIO_WAKE on a range. */
    void wake(long start, long len) {
        uffdio_range.start(range, start);
        uffdio_range.len(range, len);
        Linux.ioctl(fd, Linux.UFFDIO_WAKE(), range);
    }

    /**
     * Poisons every page of a range that is not present yet, so that threads waiting on those
     * pages, and any later access to them, get SIGBUS instead of waiting or seeing invented bytes.
     * EAGAIN (an event such as a REMOVE is unread) makes it read the queue ({@link #drainEvents}):
     * nobody else may be left to read it. Faults read that way are answered here, with poison
     * where the page is missing, else a wake.
     *
     * @return pages poisoned
     */
    long poisonMissing(long start, long len, long pageSize) {
        long off = 0;
        long poisoned = 0;
        java.util.List<Long> faults = new java.util.ArrayList<>();
        while (off < len) {
            long r = poison(start + off, len - off);
            if (r > 0) {
                poisoned += r / pageSize;
                off += r;
                continue;
            }
            if (r == 0 || -r == Linux.EEXIST()) {
                off += pageSize; // present: keep it
            } else if (-r == Linux.EAGAIN()) {
                drainEvents(faults::add);
            } else {
                throw new NativeCallException("ioctl(UFFDIO_POISON)", (int) -r, LinuxCalls.strerror((int) -r));
            }
        }
        return poisoned + poisonFaults(faults);
    }

    /**
     * Answers page faults read off the queue with poison where the page is missing, else a wake;
     * faults read meanwhile (an EAGAIN makes it read the queue) are answered too. What a guardian
     * does for every fault once no page server is left.
     *
     * @param faults fault addresses, added to while it runs
     * @return pages poisoned
     */
    long poisonFaults(java.util.List<Long> faults) {
        long poisoned = 0;
        for (int i = 0; i < faults.size(); i++) {
            long page = faults.get(i) & ~(BASE_PAGE - 1);
            long r;
            do {
                r = poison(page, BASE_PAGE);
                if (r == -Linux.EAGAIN()) {
                    drainEvents(faults::add);
                }
            } while (r == -Linux.EAGAIN());
            if (r < 0) {
                wake(page, BASE_PAGE); // present (or not ours, or a huge page): let it retry
            } else {
                poisoned++;
            }
        }
        return poisoned;
    }

    /** The kernel's base page size, the granule of a fault address outside hugetlbfs. */
    static final long BASE_PAGE = 4096;
    /** {@code sizeof(struct uffd_msg)}. */
    static final int MSG_SIZE = 32;
    private final MemorySegment drainBuf = arena.allocate(MSG_SIZE * 16L, 8);

    /** Told of a REMOVE event: the guest discards {@code [start, end)}. */
    @FunctionalInterface
    interface RemoveListener {
        /**
         * @param start first address discarded
         * @param end the address after the last
         */
        void removed(long start, long end);
    }

    /**
     * Reads every queued message without waiting: REMOVE (and any other) events are thereby
     * completed, page faults are handed to {@code onFault} by address (the caller must answer
     * each: a read fault message is no longer in the queue, its thread waits for a wake).
     *
     * @param onFault receives each page fault's address
     */
    void drainEvents(java.util.function.LongConsumer onFault) {
        readEvents(drainBuf, onFault, (start, end) -> { });
    }

    /**
     * Reads every queued message without waiting, into {@code buf} (a multiple of
     * {@link #MSG_SIZE}): page faults go to {@code onFault} by address, REMOVE events to
     * {@code onRemove}; every other event is only completed by the read. A batch shorter than
     * {@code buf} means the queue is empty, so no further read is made.
     *
     * @return whether an event other than a page fault was read
     */
    boolean readEvents(MemorySegment buf, java.util.function.LongConsumer onFault, RemoveListener onRemove) {
        boolean events = false;
        while (true) {
            long n = Linux.read(fd, buf, buf.byteSize());
            if (n <= 0) {
                return events; // EAGAIN: empty
            }
            for (long off = 0; off + MSG_SIZE <= n; off += MSG_SIZE) {
                int event = Byte.toUnsignedInt(buf.get(ValueLayout.JAVA_BYTE, off));
                if (event == Linux.UFFD_EVENT_PAGEFAULT()) {
                    onFault.accept(buf.get(ValueLayout.JAVA_LONG, off + 16)); // arg.pagefault.address
                } else {
                    events = true;
                    if (event == Linux.UFFD_EVENT_REMOVE()) {
                        // struct uffd_msg.arg.remove: u64 start, u64 end
                        onRemove.removed(buf.get(ValueLayout.JAVA_LONG, off + 8), buf.get(ValueLayout.JAVA_LONG, off + 16));
                    }
                }
            }
            if (n < buf.byteSize()) {
                return events; // a short batch: the queue was empty
            }
        }
    }

    /** Frees the argument structs without closing the descriptor (for a wrapper of a borrowed or invalid one). */
    void arenaClose() {
        arena.close();
    }

    /** Closes the descriptor. */
    void close() {
        Linux.close(fd);
        arena.close();
    }
}
