package dev.guestmem.scenario11;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.iommu.IommuTlbEntry;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a hostile or buggy guest can put in the IOMMU's tables, and what a device's DMA then gets:
 * each case a {@link MemTxResult} (QEMU's: an IOMMU refusal or a hole is the unassigned section,
 * {@code MEMTX_DECODE_ERROR}), nothing thrown, and no byte of RAM or of the peer BAR changed.
 */
class GuestBadInputTest {
    private static final long HOLE = 0x4000_0000L;
    private static final long TOP_PAGE = 0xFFFF_FFFF_FFFF_F000L;

    private IommuMachine m;
    private GuestTables tables;
    private final MemTxAttrs dev = MemTxAttrs.dma(PasidIommu.REQUESTERS[0], 0);
    private final MemTxResultHolder res = new MemTxResultHolder();
    private byte[] ramBefore;
    private byte[] barBefore;

    @BeforeEach
    void setUp() {
        m = new IommuMachine();
        tables = new GuestTables(m.memory);
        map(1, IommuMachine.DATA, 3);                 // good RW page
        map(2, HOLE, 3);                              // outside RAM
        map(3, IommuMachine.BAR, 3);                  // a peer's MMIO BAR (peer to peer)
        map(4, TOP_PAGE, 3);                          // the last page below 2^64
        map(5, IommuMachine.DATA + 0x1000, 1);        // read-only
        map(6, IommuMachine.DATA + 0x2000, 2);        // write-only
        m.memory.stqLe(IommuMachine.DATA + 0x1000, 0x1111);
        m.memory.stqLe(IommuMachine.DATA + 0x2000, 0x2222);
        tables.setRoot(1, HOLE | 1);                  // context 1's level-1 table lies outside RAM
        ramBefore = ram();
        barBefore = m.bar.clone();
    }

    private void map(long pfn, long target, long perm) {
        tables.setPte(0, pfn, target | perm);
        m.iommu.invalidate(0, pfn << 12, 1);
    }

    private byte[] ram() {
        return m.ram.ramBlock().segment().toArray(ValueLayout.JAVA_BYTE);
    }

    private void assertNothingChanged() {
        assertArrayEquals(ramBefore, ram(), "RAM");
        assertArrayEquals(barBefore, m.bar, "peer BAR");
    }

    /** Every DMA form at {@code iova} with {@code attrs} is refused with DECODE_ERROR and changes nothing. */
    private void assertRefusedWrite(long iova, MemTxAttrs attrs) {
        assertEquals(MemTxResult.DECODE_ERROR, m.dma.stqLe(iova, -1L, attrs));
        assertEquals(MemTxResult.DECODE_ERROR, m.dma.write(iova, attrs, new byte[16], 0, 16));
        assertFalse(m.dma.accessValid(iova, 8, true, attrs));
        DmaMapping map = m.dma.map(iova, 4096, true, attrs);
        assertNotNull(map, "QEMU maps a refused range as a bounce buffer too");
        assertTrue(map.isBounce());
        long n = Math.min(8, map.length()); // the bounce is cut at the IOMMU page's end
        map.segment().asSlice(0, n).fill((byte) -1);
        assertEquals(MemTxResult.DECODE_ERROR, map.unmap(n), "the write-back is refused");
        MemoryRegionCache c = new MemoryRegionCache();
        c.init(m.dma, iova, 8, true);
        assertEquals(MemTxResult.DECODE_ERROR, c.stqLe(0, -1L, attrs));
        c.destroy();
        IommuTlbEntry ats = m.dma.iotlbEntry(iova, true, attrs);
        assertNull(ats.targetAs, "no ATS translation for a write");
        assertNothingChanged();
    }

    private void assertRefusedRead(long iova, MemTxAttrs attrs) {
        assertEquals(0, m.dma.ldqLe(iova, attrs, res));
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        DmaMapping map = m.dma.map(iova, 4096, false, attrs);
        assertEquals(MemTxResult.DECODE_ERROR, map.prefillResult());
        assertEquals(0, map.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0), "a refused read fills zeros");
        assertEquals(MemTxResult.OK, map.unmap(0));
        assertNothingChanged();
    }

    @Test
    void aGoodPageWorksSoTheRestIsMeaningful() {
        assertEquals(MemTxResult.OK, m.dma.stqLe(0x1008, 42, dev));
        assertEquals(42, m.memory.ldqLe(IommuMachine.DATA + 8));
    }

    @Test
    void aPteOutsideRamIsADecodeError() {
        assertRefusedWrite(0x2000, dev);
        assertRefusedRead(0x2000, dev);
    }

    @Test
    void aPteAtTheLastPageBelow2To64IsADecodeErrorAndNeverWraps() {
        assertRefusedWrite(0x4000, dev);
        assertRefusedWrite(0x4FFC, dev);               // 8 bytes from 4 before 2^64: no wrap to 0
        assertRefusedRead(0x4FF8, dev);
        assertEquals(MemTxResult.DECODE_ERROR, m.dma.stqLe(-4L, -1L, dev), "an IOVA access past 2^64");
        assertNothingChanged();
    }

    @Test
    void aTableOutsideRamTranslatesNothing() {
        MemTxAttrs ctx1 = MemTxAttrs.dma(PasidIommu.REQUESTERS[0], 1);
        assertRefusedWrite(0x1000, ctx1);
        assertRefusedRead(0x1000, ctx1);
    }

    @Test
    void unknownRequestersPasidsAndUnspecifiedAttrsAreBlocked() {
        assertRefusedWrite(0x1000, MemTxAttrs.dma(0x0200, 0));
        assertRefusedWrite(0x1000, MemTxAttrs.dma(PasidIommu.REQUESTERS[0], PasidIommu.PASIDS));
        assertRefusedWrite(0x1000, MemTxAttrs.UNSPECIFIED);
        assertRefusedRead(0x1000, MemTxAttrs.UNSPECIFIED);
    }

    @Test
    void aReadOnlyMappingRefusesEveryDmaWrite() {
        assertRefusedWrite(0x5000, dev);
        assertEquals(0x1111, m.dma.ldqLe(0x5000, dev, res));
        assertEquals(MemTxResult.OK, res.get());
        // ATS for a read: QEMU's address_space_get_iotlb_entry answers IOMMU_RW whatever the IOMMU
        // granted, so a device IOTLB must key its entries by access type
        IommuTlbEntry forRead = m.dma.iotlbEntry(0x5000, false, dev);
        assertEquals(IommuTlbEntry.RW, forRead.perm);
        assertEquals(IommuMachine.DATA + 0x1000, forRead.translatedAddr);
    }

    @Test
    void aWriteOnlyMappingRefusesDmaReads() {
        assertRefusedRead(0x6000, dev);
        assertEquals(MemTxResult.OK, m.dma.stqLe(0x6000, 0x3333, dev));
        assertEquals(0x3333, m.memory.ldqLe(IommuMachine.DATA + 0x2000));
    }

    @Test
    void aBufferAcrossARwAndAReadOnlyPageWritesOnlyTheRwPart() {
        // QEMU's flatview_write_continue: chunk by chunk; the refused chunk is the result
        byte[] ones = new byte[16];
        java.util.Arrays.fill(ones, (byte) 0x11);
        tables.setPte(0, 4, IommuMachine.DATA + 0x3000 | 3); // pfn 4 RW now, pfn 5 stays read-only
        m.iommu.invalidate(0, 0x4000, 1);
        assertEquals(MemTxResult.DECODE_ERROR, m.dma.write(0x4FF8, dev, ones, 0, 16));
        assertEquals(0x1111_1111_1111_1111L, m.memory.ldqLe(IommuMachine.DATA + 0x3FF8));
        assertEquals(0x1111, m.memory.ldqLe(IommuMachine.DATA + 0x1000), "the read-only page is untouched");
        assertEquals(MemTxResult.DECODE_ERROR, m.dma.stqLe(0x4FFC, -1L, dev), "one store across both: refused whole");
        assertEquals(0x1111_1111_1111_1111L, m.memory.ldqLe(IommuMachine.DATA + 0x3FF8));
    }

    @Test
    void aPeerBarBehindTheIommuIsReachedThroughABounceBuffer() {
        assertEquals(MemTxResult.OK, m.dma.stqLe(0x3010, 0x0123_4567_89AB_CDEFL, dev));
        assertEquals(0x0123_4567_89AB_CDEFL, m.barLong(0x10));
        DmaMapping w = m.dma.map(0x3000, 4096, true, dev);
        assertTrue(w.isBounce(), "MMIO behind the IOMMU: bounce");
        w.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, 0x20, 77);
        assertEquals(MemTxResult.OK, w.unmap(0x28));
        assertEquals(77, m.barLong(0x20));
        assertEquals(0, m.barLong(0x10), "a write bounce writes back its zero-filled bytes too (unmap(0x28))");
        DmaMapping r = m.dma.map(0x3000, 4096, false, dev);
        assertEquals(MemTxResult.OK, r.prefillResult());
        assertEquals(77, r.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0x20), "a read bounce is filled from the BAR");
        r.unmap(0);
        // ATS answers for MMIO too, as QEMU's get_iotlb_entry: the device's translated stores then
        // reach the BAR through the memory space, not RAM
        IommuTlbEntry ats = m.dma.iotlbEntry(0x3000, true, dev);
        assertEquals(IommuMachine.BAR, ats.translatedAddr);
        assertEquals(MemTxResult.OK, ats.targetAs.stqLe(ats.translatedAddr + 0x30, 5, MemTxAttrs.NONE));
        assertEquals(5, m.barLong(0x30));
    }
}
