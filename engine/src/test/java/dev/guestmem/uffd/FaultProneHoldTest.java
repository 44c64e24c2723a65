package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.ram.FaultProneHold;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.Arena;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A {@link FaultProneHold} makes an anonymous block's sections take the fenced path (and lifts it
 * when the last hold closes), so poisoned pages, as a dead lazy-restore page server leaves them,
 * answer {@code MEMTX_ERROR} from compiled code instead of an {@code InternalError} thrown out of
 * the loop.
 */
class FaultProneHoldTest {
    private static final long BASE = 0x100000;
    private static final long SIZE = 0x10000;
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    private final RamBlock block = RamBlock.anonymous("ram", SIZE);
    private final AddressSpace as;

    FaultProneHoldTest() {
        as = sys.addressSpace(root, "memory");
        root.addSubregion(BASE, new RamRegion(sys, null, "ram", block, false, false));
    }

    @AfterEach
    void release() {
        block.close();
    }

    private TlbEntry fill(long addr) {
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, addr, e);
        return e;
    }

    @Test
    void aHoldFencesAnAnonymousBlockUntilItsLastHoldCloses() {
        assertFalse(block.canFault());
        assertTrue(fill(BASE).readDirect(), "anonymous RAM is direct");
        long g0 = as.generation();

        FaultProneHold first = block.holdFaultProne("test one");
        assertTrue(block.canFault());
        assertNotEquals(g0, as.generation(), "the hold re-renders: cached TLB entries go stale");
        TlbEntry held = fill(BASE);
        assertFalse(held.readDirect(), "fenced: no direct reads");
        assertFalse(held.writeDirect(), "fenced: no direct writes");
        assertEquals(GuestTlb.TLB_FAULT_PRONE, held.flags() & GuestTlb.TLB_FAULT_PRONE);

        FaultProneHold second = block.holdFaultProne("test two");
        assertEquals(2, block.faultProneHolds());
        first.close();
        first.close(); // idempotent: releases one hold only
        assertEquals(1, block.faultProneHolds());
        assertTrue(block.canFault(), "one hold is still open");
        assertFalse(fill(BASE).readDirect());

        long g1 = as.generation();
        second.close();
        assertFalse(block.canFault());
        assertNotEquals(g1, as.generation(), "the last close re-renders too");
        assertTrue(fill(BASE).readDirect(), "direct again");
        assertTrue(fill(BASE).writeDirect());
        // accesses work through both paths
        assertEquals(MemTxResult.OK, as.stqLe(BASE + 8, 0x1122334455667788L));
        assertEquals(0x1122334455667788L, as.ldqLe(BASE + 8));
    }

    /** Inside an open transaction the fence would reach the views only at its commit: refused, nothing changes. */
    @Test
    void aHoldInsideAnOpenTransactionIsRefused() {
        long g = as.generation();
        sys.transactionBegin();
        try {
            assertThrows(IllegalStateException.class, () -> block.holdFaultProne("too early"));
        } finally {
            sys.transactionCommit();
        }
        assertEquals(0, block.faultProneHolds());
        assertFalse(block.canFault());
        assertEquals(g, as.generation());
        try (FaultProneHold h = block.holdFaultProne("outside")) {
            assertTrue(h.block().canFault());
        }
    }

    @Test
    void aReleasedBlockRefusesAHold() {
        RamBlock gone = RamBlock.anonymous("gone", 0x1000);
        gone.close();
        assertThrows(IllegalStateException.class, () -> gone.holdFaultProne("late"));
        assertThrows(IllegalStateException.class, () -> SnapshotBlock.of(gone));
    }

    @Test
    void aSnapshotBlockNamesItsRamBlockAndRefusesAForeignSegment() {
        SnapshotBlock sb = SnapshotBlock.of(block);
        assertEquals(block, sb.ramBlock());
        assertEquals("ram", sb.name());
        assertEquals(SIZE, sb.usedLength());
        try (Arena a = Arena.ofConfined()) {
            assertThrows(IllegalArgumentException.class,
                    () -> new SnapshotBlock("ram", a.allocate(SIZE, 4096), 4096, block));
        }
        assertEquals(null, new SnapshotBlock("bare", block.segment(), 4096).ramBlock());
    }

    /**
     * Pages poisoned as a dead page server leaves them, read and written from a loop compiled while
     * the block was direct: every access answers ERROR, the block is broken with the hold's reason,
     * and no {@code InternalError} leaves the access.
     */
    @Test
    void poisonedPagesOfAHeldBlockAnswerErrorFromCompiledCode() {
        long[] features = new long[1];
        Uffd uffd = Uffd.open(features);
        try {
            assumeTrue((features[0] & Uffd.FEATURE_POISON) != 0, "kernel without UFFD_FEATURE_POISON (Linux < 6.6)");
            long sum = 0;
            for (int i = 0; i < 200_000; i++) { // pages 0 and 1 present; the loop compiled as direct
                long a = BASE + ((i * 8L) & 0x1FFF);
                as.stqLe(a, i);
                sum += as.ldqLe(a);
            }
            assertTrue(sum != 0);
            try (FaultProneHold hold = block.holdFaultProne("lazy restore by a test")) {
                long start = block.hostAddress();
                uffd.registerMissing(start, SIZE);
                assertEquals(SIZE / 4096 - 2, uffd.poisonMissing(start, SIZE, 4096), "pages 2.. were never touched");
                MemTxResultHolder res = new MemTxResultHolder();
                int errors = 0;
                int escaped = 0;
                for (int i = 0; i < 50_000; i++) {
                    long a = BASE + 0x2000 + ((i * 8L) & 0x7FFF);
                    try {
                        as.ldqLe(a, U, res);
                        errors += res.get() == MemTxResult.ERROR ? 1 : 0;
                        errors += as.stqLe(a, i) == MemTxResult.ERROR ? 1 : 0;
                    } catch (InternalError e) {
                        escaped++;
                    }
                }
                assertEquals(0, escaped, "no SIGBUS left an access");
                assertEquals(100_000, errors);
                assertTrue(block.isBroken());
                assertTrue(block.brokenReason().contains("lazy restore by a test"), block.brokenReason());
                assertEquals(MemTxResult.OK, as.stqLe(BASE + 0x1000, 7), "present pages still work");
                assertEquals(7, as.ldqLe(BASE + 0x1000));
                uffd.unregister(start, SIZE);
                assertTrue(hold.block() == block);
            }
        } finally {
            uffd.close();
        }
    }

    /**
     * A region cache (a virtio ring's) made while the block was direct, then used from a loop
     * compiled then, after a hold fenced the block and a dead page server poisoned its missing
     * pages: every access answers ERROR and no {@code InternalError} leaves it, as through the
     * address space.
     */
    @Test
    void aRegionCacheMadeBeforeTheHoldAnswersErrorOnPoisonedPages() {
        long[] features = new long[1];
        Uffd uffd = Uffd.open(features);
        MemoryRegionCache cache = new MemoryRegionCache();
        try {
            assumeTrue((features[0] & Uffd.FEATURE_POISON) != 0, "kernel without UFFD_FEATURE_POISON (Linux < 6.6)");
            assertEquals(SIZE, cache.init(as, BASE, SIZE, true));
            MemTxResultHolder res = new MemTxResultHolder();
            long sum = 0;
            for (int i = 0; i < 200_000; i++) { // pages 0 and 1 present; the loop compiled as direct
                long off = (i * 8L) & 0x1FFF;
                cache.stqLe(off, i);
                sum += cache.ldqLe(off, res);
            }
            assertTrue(sum != 0);
            try (FaultProneHold hold = block.holdFaultProne("lazy restore by a test")) {
                long start = block.hostAddress();
                uffd.registerMissing(start, SIZE);
                assertEquals(SIZE / 4096 - 2, uffd.poisonMissing(start, SIZE, 4096), "pages 2.. were never touched");
                int errors = 0;
                int escaped = 0;
                for (int i = 0; i < 50_000; i++) {
                    long off = 0x2000 + ((i * 8L) & 0x7FFF);
                    try {
                        cache.ldqLe(off, res);
                        errors += res.get() == MemTxResult.ERROR ? 1 : 0;
                        errors += cache.stqLe(off, i) == MemTxResult.ERROR ? 1 : 0;
                    } catch (InternalError e) {
                        escaped++;
                    }
                }
                assertEquals(0, escaped, "no SIGBUS left an access");
                assertEquals(100_000, errors);
                assertTrue(block.isBroken());
                uffd.unregister(start, SIZE);
                assertTrue(hold.block() == block);
            }
        } finally {
            cache.destroy();
            uffd.close();
        }
    }
}
