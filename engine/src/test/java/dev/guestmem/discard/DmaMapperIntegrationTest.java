package dev.guestmem.discard;

import static dev.guestmem.discard.DiscardMachine.BLK;
import static dev.guestmem.discard.DiscardMachine.SIZE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The VFIO pattern ({@code hw/vfio/listener.c}) on guestmem's memory listeners: in {@code regionAdd} a
 * RAM section whose region has a manager gets a {@link RamDiscardListener} (registration replays the
 * populated parts, mapped for DMA in granularity-sized pieces aligned within the region); in
 * {@code regionDel} it is unregistered (one unmap for the whole section: double discard). Moves,
 * aliases and the top of the address space go through the flat view.
 */
class DmaMapperIntegrationTest {

    /** A VFIO-like container: an IOVA map, at most {@code maxMappings} entries. */
    private static final class DmaMapper implements MemoryListener {
        final TreeMap<Long, Long> iova = new TreeMap<>(Long::compareUnsigned);
        final Map<String, Registration> registrations = new HashMap<>();
        int maxMappings = Integer.MAX_VALUE;

        record Registration(RamDiscardManager rdm, RamDiscardListener listener) {
        }

        private static String key(MemoryRegionSection s) {
            return s.region().name() + "@" + Long.toHexString(s.offsetWithinAddressSpace());
        }

        @Override
        public void regionAdd(MemoryRegionSection s) {
            if (!s.region().isRam()) {
                return;
            }
            RamDiscardManager rdm = s.region().ramDiscardManager();
            if (rdm == null) {
                iova.put(s.offsetWithinAddressSpace(), s.size());
                return;
            }
            long gran = rdm.minGranularity(s.region());
            RamDiscardListener l = RamDiscardListener.ramDiscardListener(p -> populate(p, gran), this::unmap, true);
            rdm.registerListener(l, s);
            registrations.put(key(s), new Registration(rdm, l));
        }

        @Override
        public void regionDel(MemoryRegionSection s) {
            Registration r = registrations.remove(key(s));
            if (r != null) {
                r.rdm().unregisterListener(r.listener());
            } else {
                unmap(s);
            }
        }

        /** vfio_ram_discard_notify_populate: map in granules aligned within the region; roll back on failure. */
        private void populate(MemoryRegionSection s, long gran) {
            long end = s.offsetWithinRegion() + s.size();
            for (long start = s.offsetWithinRegion(), next; start < end; start = next) {
                next = Math.min((start + gran) & -gran, end);
                if (iova.size() >= maxMappings) {
                    unmap(s);
                    throw new PopulateRefusedException(s, "out of DMA mappings");
                }
                iova.put(start - s.offsetWithinRegion() + s.offsetWithinAddressSpace(), next - start);
            }
        }

        /** vfio_ram_discard_notify_discard: one unmap over the whole section (parts may be unmapped). */
        private void unmap(MemoryRegionSection s) {
            long from = s.offsetWithinAddressSpace();
            long last = from + s.size() - 1;
            iova.keySet().removeIf(a -> Long.compareUnsigned(a, from) >= 0 && Long.compareUnsigned(a, last) <= 0);
        }

        String map() {
            StringBuilder b = new StringBuilder();
            iova.forEach((a, sz) -> b.append(Long.toHexString(a)).append('+').append(Long.toHexString(sz)).append(' '));
            return b.toString().trim();
        }
    }

    @Test
    void onlyPopulatedPartsAreMappedAndTheMapFollowsPlugAndUnplug() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(BLK, 2 * BLK);
            DmaMapper dma = new DmaMapper();
            m.sys.registerListener(dma, m.as);
            assertEquals("100010000+10000 100020000+10000", dma.map(), "replayed at registration, per granule");
            m.vmem.plug(5 * BLK, BLK);
            m.vmem.unplug(BLK, BLK);
            assertEquals("100020000+10000 100050000+10000", dma.map());
            m.sys.unregisterListener(dma);
            assertEquals("", dma.map(), "region_del: unregistered, everything unmapped");
            assertEquals(0, dma.registrations.size());
        }
    }

    @Test
    void aListenerOutOfMappingsMakesThePlugFailAndNothingChanges() {
        try (DiscardMachine m = new DiscardMachine()) {
            DmaMapper dma = new DmaMapper();
            m.sys.registerListener(dma, m.as);
            dma.maxMappings = 2;
            m.vmem.plug(0, BLK);
            assertThrows(PopulateRefusedException.class, () -> m.vmem.plug(4 * BLK, 3 * BLK));
            assertEquals("100000000+10000", dma.map(), "the partial mapping was rolled back");
            assertEquals(BLK, m.vmem.pluggedSize());
            assertTrue(m.zero(4 * BLK, 3 * BLK));
        }
    }

    @Test
    void movesAliasesAndTheTopOfTheAddressSpaceGoThroughTheFlatView() {
        try (DiscardMachine m = new DiscardMachine()) {
            m.vmem.plug(0, BLK);
            m.vmem.plug(SIZE - BLK, BLK);
            DmaMapper dma = new DmaMapper();
            m.sys.registerListener(dma, m.as);
            // moved so it ends at 2^64: region_del at the old address, region_add at the new one
            m.mem.setAddress(-SIZE);
            assertEquals("fffffffffff00000+10000 ffffffffffff0000+10000", dma.map());
            // a second window onto the last 2 blocks through an alias: its own section and listener
            AliasRegion window = new AliasRegion(m.sys, null, "window", m.mem, SIZE - 2 * BLK, 2 * BLK);
            m.root.addSubregion(0x4000_0000L, window);
            assertEquals("40010000+10000 fffffffffff00000+10000 ffffffffffff0000+10000", dma.map());
            assertEquals(2, dma.registrations.size());
            m.vmem.plug(SIZE - 2 * BLK, BLK);
            assertEquals("40000000+10000 40010000+10000 fffffffffff00000+10000 fffffffffffe0000+10000 "
                    + "ffffffffffff0000+10000", dma.map());
            m.root.delSubregion(window);
            m.vmem.unplug(SIZE - 2 * BLK, 2 * BLK);
            assertEquals("fffffffffff00000+10000", dma.map());
            m.mem.setAddress(m.gpa); // DiscardMachine.close removes it from there
            assertEquals("100000000+10000", dma.map());
            assertEquals(MemoryRegion.SIZE_2_64, m.root.size());
        }
    }

    /**
     * {@code memory_region_del_subregion} clears the container before the commit, so the region is
     * unmapped when a listener's {@code regionDel} runs; the manager must still be found there (QEMU
     * 8.1 dropped the is-mapped test from {@code memory_region_get_ram_discard_manager}, else VFIO's
     * {@code region_del} would keep its registration).
     */
    @Test
    void regionDelOfARegionBeingRemovedStillSeesTheManager() {
        DiscardMachine m = new DiscardMachine();
        java.util.List<Boolean> seen = new java.util.ArrayList<>();
        MemoryListener probe = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add(s.region().hasRamDiscardManager());
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                seen.add(s.region().hasRamDiscardManager());
            }
        };
        m.sys.registerListener(probe, m.as);
        m.mem.setAddress(0x2_0000_0000L);
        m.root.delSubregion(m.mem);
        assertEquals(java.util.List.of(true, true, true, true), seen, "add, del+add on the move, del on removal");
        DiscardMachine.detachAndDestroy(m.mem);
    }
}
