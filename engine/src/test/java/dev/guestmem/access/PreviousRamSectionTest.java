package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The address space's previous RAM section ({@link AddressSpace#previousRam()}): an access that
 * misses the fast window and lies wholly in the RAM section the window held before is served from
 * it without a lookup or a refill, exactly as the full dispatch would serve it, and the section never
 * outlives its view.
 */
class PreviousRamSectionTest {
    private static final long A = 0x10000;
    private static final long B = 0x40000;
    private static final int SIZE = 0x2000;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    private final List<RamBlock> blocks = new ArrayList<>();

    @AfterEach
    void closeBlocks() {
        blocks.forEach(RamBlock::close);
    }

    /** A RAM region over a new block whose every 4-byte word holds {@code fill + offset}. */
    private RamRegion ram(String name, int fill, boolean rom) {
        RamBlock b = RamBlock.anonymous(name, SIZE);
        blocks.add(b);
        for (int o = 0; o < SIZE; o += 4) {
            b.segment().set(U32, o, fill + o);
        }
        return new RamRegion(sys, null, name, b, rom, false);
    }

    private static MemoryRegion fastRegion(AddressSpace as) {
        return as.fastWindow().section().region();
    }

    /** A machine with {@code atA} at {@link #A} and {@code atB} at {@link #B}. */
    private AddressSpace machine(MemoryRegion atA, MemoryRegion atB) {
        root.addSubregion(A, atA);
        root.addSubregion(B, atB);
        return sys.addressSpace(root, "memory");
    }

    /** Loads from A, then B: B's section is the fast window, A's the previous one. */
    private static void previousAFastB(AddressSpace as) {
        as.ldlLe(A);
        as.ldlLe(B);
    }

    @Test
    void alternatingLoadsAndStoresTakeThePreviousSectionWithoutARefill() {
        RamRegion a = ram("a", 0x1100_0000, false);
        RamRegion b = ram("b", 0x2200_0000, false);
        AddressSpace as = machine(a, b);
        assertEquals(0x1100_0010, as.ldlLe(A + 0x10)); // the fast window: a
        assertEquals(0x2200_0010, as.ldlLe(B + 0x10)); // now b, and a the previous section
        assertSame(a, as.previousRam().region());
        assertSame(b, fastRegion(as));

        assertEquals(0x1100_0020, as.ldlLe(A + 0x20));
        assertEquals(0x0011, as.lduwBe(A + 0x20 + 2), "the byte order of the access (bytes 00 11)");
        assertEquals(MemTxResult.OK, as.stlLe(A + 0x1ffc, 0xabcd)); // the section's last word
        assertEquals(0xabcd, a.ramBlock().segment().get(U32, 0x1ffc));
        assertEquals(MemTxResult.OK, as.stqLe(A + 0x100, 0x1234_5678_9abc_def0L));
        assertEquals(0x1234_5678_9abc_def0L, as.ldqLe(A + 0x100));
        assertSame(b, fastRegion(as), "no access to a refilled the fast window");
        assertSame(a, as.previousRam().region());

        // an access that does not lie wholly in a takes the full dispatch, as before
        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0, as.ldlLe(A + 0x1ffe, MemTxAttrs.UNSPECIFIED, r), "crosses a's end into nothing");
        assertEquals(MemTxResult.DECODE_ERROR, r.get());
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(A + SIZE - 2, 1));
        assertEquals(0xabcd, a.ramBlock().segment().get(U32, 0x1ffc));
    }

    /**
     * Code that moved for good to the previous section gets the fast window back after a period of
     * hits; code alternating between the two sections swaps the slots once a period, not each access.
     */
    @Test
    void aSectionUsedForGoodIsPromotedAndAlternationSwapsOncePerPeriod() {
        RamRegion a = ram("a", 0x1100_0000, false);
        RamRegion b = ram("b", 0x2200_0000, false);
        AddressSpace as = machine(a, b);
        previousAFastB(as);
        assertSame(a, as.previousRam().region());
        int hits = 0;
        while (fastRegion(as) != a) {
            assertEquals(0x1100_0000 + (hits * 4 & 0xffc), as.ldlLe(A + (hits * 4 & 0xffc)));
            hits++;
            assertTrue(hits <= PreviousHits.PERIOD, "promoted within a period: " + hits);
        }
        assertSame(b, as.previousRam().region(), "the two swapped");

        int swaps = 0;
        MemoryRegion fast = fastRegion(as);
        int accesses = 20 * PreviousHits.PERIOD;
        for (int i = 0; i < accesses; i++) {
            long base = (i & 1) == 0 ? A : B;
            assertEquals(MemTxResult.OK, as.stlLe(base + 0x40, i));
            assertEquals(i, as.ldlLe(base + 0x40));
            if (fastRegion(as) != fast) {
                swaps++;
                fast = fastRegion(as);
            }
        }
        // half the accesses go to the previous section: a swap per period of them, give or take one
        assertTrue(swaps <= accesses / PreviousHits.PERIOD + 1, swaps + " swaps in " + accesses + " pairs");
        assertTrue(swaps >= accesses / PreviousHits.PERIOD - 1, swaps + " swaps in " + accesses + " pairs");
    }

    /**
     * A section cut from the middle of its block: an access crossing its end must not read on into
     * the block (the full dispatch sends it whole to the section's region: a decode error).
     */
    @Test
    void anAccessCrossingThePreviousSectionsEndTakesTheFullDispatch() {
        RamRegion a = ram("a", 0x1100_0000, false);
        RamRegion b = ram("b", 0x2200_0000, false);
        AddressSpace as = machine(new AliasRegion(sys, null, "a-first-page", a, 0, 0x1000), b);
        MemTxResultHolder r = new MemTxResultHolder();
        long full = as.ldlLe(A + 0xffe, MemTxAttrs.UNSPECIFIED, r); // the full dispatch, nothing cached yet
        int fullResult = r.get();
        assertEquals(MemTxResult.DECODE_ERROR, fullResult);
        int fullStore = as.stlLe(A + 0xffe, 1);
        previousAFastB(as);
        assertSame(a, as.previousRam().region());
        assertEquals(full, as.ldlLe(A + 0xffe, MemTxAttrs.UNSPECIFIED, r));
        assertEquals(fullResult, r.get());
        assertEquals(fullStore, as.stlLe(A + 0xffe, 2));
        assertEquals(0x1100_0ffc, a.ramBlock().segment().get(U32, 0xffc));
        assertEquals(0x1100_1000, a.ramBlock().segment().get(U32, 0x1000));
    }

    @Test
    void aPreviousRomSectionRefusesStoresAsTheFullDispatch() {
        RamRegion rom = ram("rom", 0x3300_0000, true);
        RamRegion b = ram("b", 0x2200_0000, false);
        AddressSpace as = machine(rom, b);
        int full = as.stlLe(A + 0x40, 7); // the full dispatch: QEMU's unassigned ops refuse it
        assertEquals(MemTxResult.DECODE_ERROR, full);
        previousAFastB(as);
        assertSame(rom, as.previousRam().region());
        assertEquals(full, as.stlLe(A + 0x40, 7), "through the previous section as through the full dispatch");
        assertEquals(0x3300_0040, as.ldlLe(A + 0x40));
        assertEquals(0x3300_0040, rom.ramBlock().segment().get(U32, 0x40));
    }

    @Test
    void thePreviousSectionFollowsEveryPublication() {
        RamRegion a = ram("a", 0x1100_0000, false);
        RamRegion b = ram("b", 0x2200_0000, false);
        RamRegion c = ram("c", 0x4400_0000, false);
        AddressSpace as = machine(a, b);
        previousAFastB(as);
        assertSame(a, as.previousRam().region());

        root.delSubregion(a);
        root.addSubregion(A, c);
        assertFalse(as.previousRam().region() == a, "the publication emptied the slot");
        assertEquals(0x4400_0010, as.ldlLe(A + 0x10));
        assertEquals(MemTxResult.OK, as.stlLe(A + 0x14, 5));
        assertEquals(5, c.ramBlock().segment().get(U32, 0x14));
        assertEquals(0x1100_0014, a.ramBlock().segment().get(U32, 0x14), "the block a view no longer shows");

        as.ldlLe(B); // fast window: b, previous: c
        as.ldlLe(A);
        assertSame(c, as.previousRam().region());
        c.setEnabled(false);
        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0, as.ldlLe(A + 0x10, MemTxAttrs.UNSPECIFIED, r));
        assertEquals(MemTxResult.DECODE_ERROR, r.get());
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(A + 0x18, 1));
        assertEquals(0x4400_0018, c.ramBlock().segment().get(U32, 0x18));
    }

    /** A store through the previous section is logged with its region's mask, at its own ram_addr. */
    @Test
    void storesThroughThePreviousSectionAreLogged() {
        RamRegion a = ram("a", 0x1100_0000, false);
        RamRegion b = ram("b", 0x2200_0000, false);
        AddressSpace as = machine(a, b);
        sys.globalDirtyLogStart();
        DirtyMemory dirty = sys.dirtyMemory();
        as.ldlLe(B); // fast window: b
        as.stlLe(A + 0x10, 1); // fast window: a; previous: b
        as.ldlLe(A);
        assertSame(b, as.previousRam().region());
        dirty.clearDirtyRange(0, dirty.sizeBytes());
        assertEquals(MemTxResult.OK, as.stlLe(B + 0x1010, 9));
        assertSame(a, fastRegion(as), "through the previous section, not a refill");
        long page = DirtyMemory.TARGET_PAGE_SIZE;
        long written = b.ramBlock().offset() + 0x1000;
        assertTrue(b.ramBlock().offset() > 0, "b is not at ram_addr 0");
        for (long p = 0; p < dirty.sizeBytes(); p += page) {
            assertEquals(p == written, dirty.getDirty(p, page, DirtyMemory.DIRTY_MEMORY_MIGRATION),
                    "ram_addr page 0x" + Long.toHexString(p));
        }
    }
}
