package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Each address space's generations start at its own base, so a TLB shared by several spaces never
 * takes one space's entry for another's. The base was the creation number shifted left 44 bits: the
 * 2^20th space of a process started at 0, an unfilled {@code TlbEntry}'s generation.
 */
class GenerationBaseTest {
    @Test
    void noSpaceStartsAtZeroAndTheBasesCycleThroughDistinctValues() {
        Set<Long> seen = new HashSet<>();
        long cycle = (1L << 20) - 1;
        for (long n = 1; n <= cycle; n++) {
            long base = AddressSpace.generationBase(n);
            assertNotEquals(0L, base, "space " + n);
            assertEquals(0L, base & ((1L << 44) - 1), "the low 44 bits count the space's changes");
            seen.add(base);
        }
        assertEquals(cycle, seen.size(), "distinct for a whole cycle");
        assertNotEquals(0L, AddressSpace.generationBase(1L << 20), "the 2^20th space");
        assertEquals(AddressSpace.generationBase(1), AddressSpace.generationBase(cycle + 1), "then the cycle repeats");
    }
}
