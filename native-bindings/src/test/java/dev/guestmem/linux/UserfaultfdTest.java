package dev.guestmem.linux;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * userfaultfd round trip through the bindings: handshake, register an anonymous region in MISSING
 * mode, resolve one fault with UFFDIO_COPY and one with UFFDIO_ZEROPAGE from a handler thread, then
 * unregister.
 *
 * <p>The handler is a Java thread, which is safe only because this test is isolated and allocates
 * nothing while a fault is outstanding: a safepoint requested while the faulting thread sleeps in
 * the kernel would deadlock the JVM (ARCHITECTURE.md, hazard 1). Real fault handling must run
 * outside the JVM's safepoint protocol. If the handler fails or times out it closes the uffd, which
 * wakes the faulting thread (the kernel then fills the page normally) so the test ends with a failed
 * assertion instead of hanging.
 */
class UserfaultfdTest {
    static final long PAGE = LinuxCalls.pageSize();

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void missingFaultsResolvedByCopyAndZeropage() throws Exception {
        int uffd = openUserfaultfd();
        try (Arena arena = Arena.ofShared()) { // shared: the handler thread uses its structs too
            // UFFDIO_API handshake
            MemorySegment api = uffdio_api.allocate(arena);
            uffdio_api.api(api, Linux.UFFD_API());
            uffdio_api.features(api, 0);
            LinuxCalls.ioctl(uffd, Linux.UFFDIO_API(), api);
            assertEquals(Linux.UFFD_API(), uffdio_api.api(api));
            long apiIoctls = uffdio_api.ioctls(api);
            assertTrue((apiIoctls & (1L << Linux._UFFDIO_REGISTER())) != 0, "UFFDIO_REGISTER offered");
            assertTrue((apiIoctls & (1L << Linux._UFFDIO_UNREGISTER())) != 0, "UFFDIO_UNREGISTER offered");

            // a second UFFDIO_API on the same fd is refused
            NativeCallException again = org.junit.jupiter.api.Assertions.assertThrows(NativeCallException.class,
                    () -> LinuxCalls.ioctl(uffd, Linux.UFFDIO_API(), api));
            assertEquals("ioctl", again.call());
            assertEquals(Linux.EINVAL(), again.errno());

            int rw = Linux.PROT_READ() | Linux.PROT_WRITE();
            MemorySegment region = LinuxCalls.mmap(MemorySegment.NULL, 2 * PAGE, rw,
                    Linux.MAP_PRIVATE() | Linux.MAP_ANONYMOUS(), -1, 0);
            MemorySegment source = LinuxCalls.mmap(MemorySegment.NULL, PAGE, rw,
                    Linux.MAP_PRIVATE() | Linux.MAP_ANONYMOUS(), -1, 0);
            for (long i = 0; i < PAGE; i += 8) {
                source.set(ValueLayout.JAVA_LONG, i, 0x5A5A_0000_0000_0000L | i);
            }

            MemorySegment reg = uffdio_register.allocate(arena);
            uffdio_range.start(uffdio_register.range(reg), region.address());
            uffdio_range.len(uffdio_register.range(reg), 2 * PAGE);
            uffdio_register.mode(reg, Linux.UFFDIO_REGISTER_MODE_MISSING());
            LinuxCalls.ioctl(uffd, Linux.UFFDIO_REGISTER(), reg);
            long rangeIoctls = uffdio_register.ioctls(reg);
            assertTrue((rangeIoctls & (1L << Linux._UFFDIO_COPY())) != 0, "UFFDIO_COPY allowed on the range");
            assertTrue((rangeIoctls & (1L << Linux._UFFDIO_ZEROPAGE())) != 0, "UFFDIO_ZEROPAGE allowed");

            // everything the handler needs is allocated before the first fault
            Handler handler = new Handler(uffd, region.address(), source.address(), arena);
            Thread thread = Thread.ofPlatform().name("uffd-handler").daemon().start(handler);
            assertTrue(handler.ready.await(20, TimeUnit.SECONDS), "handler ready");

            long first = region.get(ValueLayout.JAVA_LONG, 8); // faults: page 0 missing -> UFFDIO_COPY
            int second = region.get(ValueLayout.JAVA_INT, PAGE + 100); // page 1 missing -> UFFDIO_ZEROPAGE

            thread.join(TimeUnit.SECONDS.toMillis(20));
            assertNull(handler.failure.get(), () -> "handler failed: " + handler.failure.get());
            assertEquals(0x5A5A_0000_0000_0008L, first, "bytes copied by UFFDIO_COPY");
            assertEquals(0x5A5A_0000_0000_0FF8L, region.get(ValueLayout.JAVA_LONG, PAGE - 8));
            assertEquals(0, second, "UFFDIO_ZEROPAGE maps zeros");
            assertEquals(2, handler.faults);
            assertEquals(Linux.UFFD_EVENT_PAGEFAULT(), handler.events[0]);
            assertEquals(region.address(), handler.addresses[0] & -PAGE);
            assertEquals(region.address() + PAGE, handler.addresses[1] & -PAGE);
            assertEquals(0, handler.flags[0] & Linux.UFFD_PAGEFAULT_FLAG_WRITE(), "a read fault");
            assertEquals(PAGE, handler.copied);
            assertEquals(PAGE, handler.zeroed);

            // copying onto a page that is now present fails with EEXIST
            MemorySegment copy = uffdio_copy.allocate(arena);
            uffdio_copy.dst(copy, region.address());
            uffdio_copy.src(copy, source.address());
            uffdio_copy.len(copy, PAGE);
            NativeCallException exists = org.junit.jupiter.api.Assertions.assertThrows(NativeCallException.class,
                    () -> LinuxCalls.ioctl(uffd, Linux.UFFDIO_COPY(), copy));
            assertEquals(Linux.EEXIST(), exists.errno());
            assertEquals(-Linux.EEXIST(), uffdio_copy.copy(copy), "the struct reports the negated errno");

            MemorySegment range = uffdio_range.allocate(arena);
            uffdio_range.start(range, region.address());
            uffdio_range.len(range, 2 * PAGE);
            LinuxCalls.ioctl(uffd, Linux.UFFDIO_UNREGISTER(), range);
            // no longer registered: dropping and touching a page is an ordinary zero-fill fault
            LinuxCalls.madvise(region, PAGE, Linux.MADV_DONTNEED());
            assertEquals(0, region.get(ValueLayout.JAVA_LONG, 8));
            uffdio_range.start(range, region.address() + 1);
            NativeCallException unaligned = org.junit.jupiter.api.Assertions.assertThrows(NativeCallException.class,
                    () -> LinuxCalls.ioctl(uffd, Linux.UFFDIO_UNREGISTER(), range));
            assertEquals(Linux.EINVAL(), unaligned.errno());

            LinuxCalls.munmap(region, 2 * PAGE);
            LinuxCalls.munmap(source, PAGE);
        } finally {
            Linux.close(uffd); // may already be closed by a failed handler
        }
    }

    @Test
    void uffdMsgLayoutIsTheKernels() {
        assertEquals(32, uffd_msg.sizeof());
        assertEquals(8, uffd_msg.flags$offset());
        assertEquals(16, uffd_msg.address$offset());
        assertEquals(24, uffd_msg.ptid$offset());
        assertNotEquals(0, Linux.UFFDIO_COPY());
    }

    /** Opens a userfaultfd, or skips the test with the reason the kernel gave. */
    static int openUserfaultfd() throws Exception {
        int flags = Linux.O_CLOEXEC() | Linux.O_NONBLOCK();
        try {
            return LinuxCalls.userfaultfd(flags);
        } catch (NativeCallException e) {
            if (e.errno() == Linux.ENOSYS()) {
                Assumptions.abort("kernel lacks userfaultfd (ENOSYS): round trip not tested");
            }
            if (e.errno() != Linux.EPERM()) {
                throw e;
            }
            // Without CAP_SYS_PTRACE and with vm.unprivileged_userfaultfd = 0, user-mode-only
            // faults are still allowed; the Java read below is a user-mode fault.
            try {
                return LinuxCalls.userfaultfd(flags | Linux.UFFD_USER_MODE_ONLY());
            } catch (NativeCallException e2) {
                Path knob = Path.of("/proc/sys/vm/unprivileged_userfaultfd");
                String value = Files.isReadable(knob) ? Files.readString(knob).trim() : "unreadable";
                Assumptions.abort("userfaultfd refused with EPERM even with UFFD_USER_MODE_ONLY ("
                        + e2.errno() + "); /proc/sys/vm/unprivileged_userfaultfd = " + value);
                throw e2;
            }
        }
    }

    /** Serves exactly two faults: page 0 by copy, anything else by zeropage. Allocation-free loop. */
    static final class Handler implements Runnable {
        final int uffd;
        final long base;
        final long source;
        final MemorySegment pfd;
        final MemorySegment msg;
        final MemorySegment copy;
        final MemorySegment zero;
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final int[] events = new int[2];
        final long[] addresses = new long[2];
        final long[] flags = new long[2];
        final CountDownLatch ready = new CountDownLatch(1);
        volatile int faults;
        volatile long copied;
        volatile long zeroed;

        Handler(int uffd, long base, long source, Arena arena) {
            this.uffd = uffd;
            this.base = base;
            this.source = source;
            this.pfd = pollfd.allocate(arena);
            this.msg = uffd_msg.allocate(arena);
            this.copy = uffdio_copy.allocate(arena);
            this.zero = uffdio_zeropage.allocate(arena);
            pollfd.fd(pfd, uffd);
            pollfd.events(pfd, (short) Linux.POLLIN());
        }

        @Override
        public void run() {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            try {
                // Warm up before any fault exists: the first call on this thread allocates its errno
                // capture segment and initialises the downcall holders; allocating while a fault is
                // outstanding could start a GC safepoint that never completes.
                LinuxCalls.poll(pfd, 1, 0);
                Linux.read(uffd, msg, 0);
                Linux.ioctl(-1, Linux.UFFDIO_COPY(), copy);
                ready.countDown();
                while (faults < 2) {
                    if (System.nanoTime() > deadline) {
                        throw new AssertionError("no fault arrived within 15 s");
                    }
                    if (LinuxCalls.poll(pfd, 1, 100) == 0) {
                        continue;
                    }
                    if (LinuxCalls.read(uffd, msg, uffd_msg.sizeof()) != uffd_msg.sizeof()) {
                        throw new AssertionError("short uffd_msg read");
                    }
                    int i = faults;
                    events[i] = Byte.toUnsignedInt(uffd_msg.event(msg));
                    addresses[i] = uffd_msg.address(msg);
                    flags[i] = uffd_msg.flags(msg);
                    long page = addresses[i] & -PAGE;
                    if (page == base) {
                        uffdio_copy.dst(copy, page);
                        uffdio_copy.src(copy, source);
                        uffdio_copy.len(copy, PAGE);
                        uffdio_copy.mode(copy, 0);
                        LinuxCalls.ioctl(uffd, Linux.UFFDIO_COPY(), copy);
                        copied = uffdio_copy.copy(copy);
                    } else {
                        MemorySegment r = uffdio_zeropage.range(zero);
                        uffdio_range.start(r, page);
                        uffdio_range.len(r, PAGE);
                        uffdio_zeropage.mode(zero, 0);
                        LinuxCalls.ioctl(uffd, Linux.UFFDIO_ZEROPAGE(), zero);
                        zeroed = uffdio_zeropage.zeropage(zero);
                    }
                    faults = i + 1;
                }
            } catch (Throwable t) {
                ready.countDown();
                failure.set(t);
                Linux.close(uffd); // wakes the faulting thread so the test fails instead of hanging
            }
        }
    }
}
