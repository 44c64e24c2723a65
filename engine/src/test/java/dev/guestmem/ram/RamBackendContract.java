package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxResult;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every RAM backend must have (STYLE.md: one abstract contract, one subclass per
 * backend, like JCTools' QueueSanityTest).
 */
abstract class RamBackendContract {
    static final long SIZE = 4L << 20;
    static final long PAGE = 4096;

    /** Creates a fresh block of the backend under test. */
    protected abstract RamBlock create(String idstr, long size);

    /** Whether the backend has a file descriptor. */
    protected abstract boolean hasFd();

    /** Whether the backend is shared (writes reach the fd's file). */
    protected abstract boolean isShared();

    @Test
    void lengthsSegmentAndFlags() {
        try (RamBlock b = create("contract.len", SIZE)) {
            assertEquals(SIZE, b.usedLength());
            assertEquals(SIZE, b.maxLength());
            assertEquals(SIZE, b.segment().byteSize());
            assertEquals(b.hostAddress(), b.segment().address());
            assertEquals(0, b.hostAddress() % b.pageSize());
            assertEquals(hasFd(), b.fd() >= 0);
            assertEquals(isShared(), b.isShared());
            assertFalse(b.isReleased());
            assertFalse(b.isBroken());
            assertEquals(0, b.offset(), "unlisted blocks sit at ram_addr 0");
        }
    }

    @Test
    void newMemoryReadsZero() {
        try (RamBlock b = create("contract.zero", SIZE)) {
            for (long off = 0; off < SIZE; off += 64 * 1024 + 8) {
                assertEquals(0L, b.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, off), "offset " + off);
            }
        }
    }

    @Test
    void writesAreSeenByRawAndCheckedAccess() {
        try (RamBlock b = create("contract.rw", SIZE); Arena a = Arena.ofConfined()) {
            MemorySegment s = b.segment();
            for (long off = 0; off < SIZE; off += PAGE) {
                s.set(ValueLayout.JAVA_LONG_UNALIGNED, off, off * 31 + 7);
            }
            for (long off = 0; off < SIZE; off += PAGE) {
                assertEquals(off * 31 + 7, b.ldqHe(off));
            }
            b.stqHe(SIZE - 8, 0x1122334455667788L);
            b.stlHe(12, 0xcafef00d);
            assertEquals(0x1122334455667788L, s.get(ValueLayout.JAVA_LONG_UNALIGNED, SIZE - 8));
            assertEquals(0xcafef00d, b.ldlHe(12));

            MemorySegment buf = a.allocate(3 * PAGE);
            buf.fill((byte) 0x5a);
            assertEquals(MemTxResult.OK, b.write(PAGE - 5, buf, 0, buf.byteSize()));
            MemorySegment back = a.allocate(3 * PAGE);
            assertEquals(MemTxResult.OK, b.read(PAGE - 5, back, 0, back.byteSize()));
            assertEquals(-1L, buf.mismatch(back));
            assertEquals((byte) 0x5a, s.get(ValueLayout.JAVA_BYTE, PAGE - 5));
        }
    }

    @Test
    void checkedAccessOutsideUsedLengthFails() {
        try (RamBlock b = create("contract.oob", SIZE); Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(16);
            assertEquals(MemTxResult.DECODE_ERROR, b.read(SIZE - 8, buf, 0, 16));
            assertEquals(MemTxResult.DECODE_ERROR, b.write(-1, buf, 0, 1));
            assertEquals(MemTxResult.DECODE_ERROR, b.read(Long.MAX_VALUE, buf, 0, 16));
            assertThrows(IndexOutOfBoundsException.class, () -> b.ldqHe(SIZE - 4));
            assertThrows(IndexOutOfBoundsException.class, () -> b.stlHe(SIZE, 1));
        }
    }

    @Test
    void discardDropsOnlyTheRange() {
        try (RamBlock b = create("contract.discard", SIZE)) {
            MemorySegment s = b.segment();
            s.asSlice(0, 3 * PAGE).fill((byte) 0x77);
            b.discard(PAGE, PAGE);
            assertEquals((byte) 0x77, s.get(ValueLayout.JAVA_BYTE, PAGE - 1));
            assertEquals(0L, s.get(ValueLayout.JAVA_LONG, PAGE));
            assertEquals(0L, s.get(ValueLayout.JAVA_LONG, 2 * PAGE - 8));
            assertEquals((byte) 0x77, s.get(ValueLayout.JAVA_BYTE, 2 * PAGE));
            assertThrows(InvalidRamBlockException.class, () -> b.discard(1, PAGE));
            assertThrows(InvalidRamBlockException.class, () -> b.discard(SIZE - PAGE, 2 * PAGE));
        }
    }

    @Test
    void msyncOfValidRangesSucceedsAndBadRangesAreRejected() {
        try (RamBlock b = create("contract.msync", SIZE)) {
            b.segment().fill((byte) 1);
            b.msync(3, 10_000);
            b.msync();
            assertThrows(InvalidRamBlockException.class, () -> b.msync(SIZE, 1));
            assertThrows(InvalidRamBlockException.class, () -> b.msync(-4096, 4096));
        }
    }

    @Test
    void closeReleasesOnceAndLaterAccessFailsCleanly() {
        RamBlock b = create("contract.close", SIZE);
        MemorySegment s = b.segment();
        s.set(ValueLayout.JAVA_INT, 0, 42);
        long host = b.hostAddress();
        int fd = b.fd();
        String fdWas = fd >= 0 ? ProcSelf.fdTarget(fd) : null;
        assertFalse(ProcSelf.mappingsAt(host).isEmpty());
        b.close();
        b.close(); // idempotent
        assertTrue(b.isReleased());
        assertThrows(IllegalStateException.class, () -> s.get(ValueLayout.JAVA_INT, 0));
        assertThrows(IllegalStateException.class, () -> b.ldlHe(0));
        assertThrows(IllegalStateException.class, b::ref);
        try (Arena a = Arena.ofConfined()) {
            assertEquals(MemTxResult.ERROR, b.read(0, a.allocate(4), 0, 4));
        }
        assertTrue(ProcSelf.mappingsAt(host).isEmpty(), () -> "still mapped: " + ProcSelf.mappingsAt(host));
        if (fd >= 0) {
            assertNotEquals(fdWas, ProcSelf.fdTarget(fd), "fd " + fd + " still open");
        }
    }

    @Test
    void refKeepsTheMemoryUntilTheLastUnref() {
        RamBlock b = create("contract.ref", SIZE);
        assertSame(b, b.ref());
        b.close();
        assertFalse(b.isReleased());
        b.segment().set(ValueLayout.JAVA_INT, 8, 9);
        assertEquals(9, b.ldlHe(8));
        assertEquals(1, b.refCount());
        b.unref();
        assertTrue(b.isReleased());
        assertThrows(IllegalStateException.class, b::unref);
    }

    @Test
    void closeWaitsOutConcurrentReaders() throws Exception {
        RamBlock b = create("contract.race", SIZE);
        MemorySegment s = b.segment();
        s.fill((byte) 3);
        int readers = 2;
        CountDownLatch running = new CountDownLatch(readers);
        AtomicReference<Throwable> unexpected = new AtomicReference<>();
        AtomicLong reads = new AtomicLong();
        Thread[] ts = new Thread[readers];
        for (int t = 0; t < readers; t++) {
            ts[t] = new Thread(() -> {
                running.countDown();
                long sum = 0;
                try {
                    for (;;) {
                        for (long off = 0; off < SIZE; off += PAGE) {
                            byte v = s.get(ValueLayout.JAVA_BYTE, off);
                            if (v != 3) {
                                throw new AssertionError("read " + v + " at " + off);
                            }
                            sum += v;
                        }
                        reads.incrementAndGet();
                    }
                } catch (IllegalStateException closed) {
                    // expected: the arena closed under us and the access failed cleanly
                } catch (Throwable e) {
                    unexpected.set(e);
                }
                assertTrue(sum >= 0);
            });
            ts[t].start();
        }
        running.await();
        while (reads.get() < 10) {
            Thread.onSpinWait();
        }
        b.close();
        for (Thread t : ts) {
            t.join(10_000);
            assertFalse(t.isAlive());
        }
        assertNull(unexpected.get());
        assertTrue(b.isReleased());
        assertTrue(ProcSelf.mappingsAt(b.hostAddress()).isEmpty());
    }

    @Test
    void listPlacesBlocksAndResolvesHostAddresses() {
        RamList list = new RamList();
        RamBlock c = create("contract.list.c", 3 * PAGE);
        try (RamBlock a = create("contract.list.a", SIZE)) {
            assertEquals(0, list.add(a));
            long second = list.add(c);
            assertEquals(SIZE, second, "SIZE is a multiple of 64 pages, so the next block starts right after");
            RamList.HostLocation loc = list.blockFromHost(c.hostAddress() + 5000, false);
            assertNotNull(loc);
            assertSame(c, loc.block());
            assertEquals(5000, loc.offset());
            assertEquals(second + 5000, loc.ramAddr());
            assertEquals(4096, list.blockFromHost(c.hostAddress() + 5000, true).offset());
            assertEquals(second + 5000, list.ramAddrFromHost(c.hostAddress() + 5000));
            assertSame(a, list.blockFromRamAddr(SIZE - 1));
            assertSame(c, list.blockFromRamAddr(SIZE));
            assertNull(list.blockFromRamAddr(SIZE + 3 * PAGE));
            assertSame(c, list.blockByName("contract.list.c"));
            c.close();
            assertNull(list.blockFromHost(c.hostAddress(), false), "a released block leaves its list");
            assertEquals(RamBlock.RAM_ADDR_INVALID, list.ramAddrFromHost(c.hostAddress()));
            assertEquals(1, list.blocks().size());
        }
        assertTrue(list.blocks().isEmpty());
    }
}
