package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * {@link VcpuTlb}: an access across two pages is split by page as TCG splits it ({@code do_ld_beN},
 * {@code do_st_leN}), not sent whole to the region of its first byte as the address space's ld/st
 * send it, and an unaligned access to a device is split into aligned pieces ({@code
 * do_ld_mmio_beN}). Expectations worked out by hand from QEMU's rule: each page's bytes from that
 * page, a non-RAM page's in naturally aligned pieces of {@code 1 << ctz(left | addr | 8)} bytes.
 */
class AccessSplitTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    /**
     * Two RAM regions side by side at 0x10000 and 0x11000, a logging device at 0x12000 (any size,
     * unaligned accepted), ROM at 0x13000, nothing at 0x14000, a device taking only aligned accesses
     * of 1 to 4 bytes at 0x15000, and at 0x16000 a page shared by two small devices, A (0x104 bytes,
     * aligned accesses of 1 to 4) and B (0x100 bytes, 1 to 8, unaligned allowed), and C (4 bytes at
     * 0x16400, nothing after it).
     */
    private static final class Machine implements AutoCloseable {
        final MemorySystem sys = new MemorySystem();
        final ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        final List<String> log = new ArrayList<>();
        final List<String> faults = new ArrayList<>();
        final RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 0x1000);
        final AddressSpace as;
        final VcpuTlb tlb;

        Machine() {
            root.addSubregion(0x10000, RamRegion.allocate(sys, null, "a", 0x1000));
            root.addSubregion(0x11000, RamRegion.allocate(sys, null, "b", 0x1000));
            // byte k of "dev" and "strict" reads 0x80 + 0x10 * k; A, B and C read their own letter
            root.addSubregion(0x12000, new IoRegion(sys, new Object(), logged("", a -> 0xF0E0D0C0B0A09080L >>> (8 * a))
                    .valid(1, 8, true).impl(1, 8, true).build(), "dev", 0x1000));
            root.addSubregion(0x13000, rom);
            root.addSubregion(0x15000, new IoRegion(sys, new Object(), logged("strict ", a -> 0xF0E0D0C0B0A09080L >>> (8 * a))
                    .valid(1, 4, false).build(), "strict", 0x1000)); // aligned accesses of 1 to 4 bytes only
            // one page shared by small devices (a subpage page)
            root.addSubregion(0x16000, new IoRegion(sys, new Object(), logged("A ", a -> 0xAAAAAAAAAAAAAAAAL)
                    .valid(1, 4, false).build(), "A", 0x104));
            root.addSubregion(0x16104, new IoRegion(sys, new Object(), logged("B ", a -> 0xBBBBBBBBBBBBBBBBL)
                    .valid(1, 8, true).build(), "B", 0x100));
            root.addSubregion(0x16400, new IoRegion(sys, new Object(), logged("C ", a -> 0xCCCCCCCCL)
                    .valid(1, 4, false).build(), "C", 0x4));
            as = sys.addressSpace(root, "as");
            tlb = new VcpuTlb(as, U, (addr, size, isWrite, result) -> faults.add(
                    (isWrite ? "st" : "ld") + size + "@" + Long.toHexString(addr) + " " + MemTxResult.toString(result)));
        }

        /** Ops whose calls are logged as "{@code tag}r offset/size" and "{@code tag}w offset=value/size". */
        private MemoryRegionOps.Builder logged(String tag, LongUnaryOperator valueAt) {
            return MemoryRegionOps.builder()
                    .read((addr, size) -> {
                        log.add(tag + "r " + addr + "/" + size);
                        return valueAt.applyAsLong(addr);
                    })
                    .write((addr, v, size) -> log.add(tag + "w " + addr + "=" + Long.toHexString(v) + "/" + size));
        }

        @Override
        public void close() {
            tlb.close();
            sys.close();
        }
    }

    @Test
    void aLoadAcrossTwoRamRegionsReadsBoth() {
        try (Machine m = new Machine()) {
            m.as.stqLe(0x10ff8, 0x1122334455667788L);
            m.as.stqLe(0x11000, 0x99AABBCCDDEEFF00L);
            assertEquals(0xDDEEFF0011223344L, m.tlb.ldqLe(0x10ffc));
            assertEquals(0x44332211_00FFEEDDL, m.tlb.ldqBe(0x10ffc));
            assertEquals(0x00_11, m.tlb.lduwLe(0x10fff));
            assertEquals(List.of(), m.faults);
            assertEquals(0, m.as.ldqLe(0x10ffc), "(the space's own ld sends it whole to the first region: refused)");
        }
    }

    @Test
    void aStoreAcrossTwoRamRegionsWritesBoth() {
        try (Machine m = new Machine()) {
            m.tlb.stqBe(0x10ffd, 0x0102030405060708L);
            assertEquals(0x0302010000000000L, m.as.ldqLe(0x10ff8));
            assertEquals(0x0000000807060504L, m.as.ldqLe(0x11000));
            m.tlb.stlLe(0x10ffe, 0xCAFEBABE);
            assertEquals(0xBABE, m.as.lduwLe(0x10ffe));
            assertEquals(0xCAFE, m.as.lduwLe(0x11000));
            assertEquals(List.of(), m.faults);
        }
    }

    @Test
    void aDevicePageGetsItsPartInAlignedPieces() {
        try (Machine m = new Machine()) {
            m.as.stqLe(0x11ff8, 0x1122334455667788L); // 0x11ffc.. reads 44 33 22 11
            // 4 bytes of RAM, then 4 of the device: one 4-byte read at offset 0
            assertEquals(0xB0A0908011223344L, m.tlb.ldqLe(0x11ffc));
            assertEquals(List.of("r 0/4"), m.log);
            m.log.clear();
            // 3 bytes of RAM, then 5 of the device: 5 is odd, so five 1-byte pieces (ctz(5 | addr | 8) = 0)
            assertEquals(0x3322118090A0B0C0L, m.tlb.ldqBe(0x11ffd));
            assertEquals(List.of("r 0/1", "r 1/1", "r 2/1", "r 3/1", "r 4/1"), m.log);
            m.log.clear();
            // a store: 2 bytes of RAM, then one 2-byte piece at offset 0
            m.tlb.stlBe(0x11ffe, 0xA1B2C3D4);
            assertEquals(0xB2A1, m.as.lduwLe(0x11ffe));
            assertEquals(List.of("w 0=d4c3/2"), m.log);
            m.log.clear();
            // 2 bytes of RAM, then 6 of the device: three 2-byte pieces
            m.tlb.stqLe(0x11ffe, 0x0807060504030201L);
            assertEquals(0x0201, m.as.lduwLe(0x11ffe));
            assertEquals(List.of("w 0=403/2", "w 2=605/2", "w 4=807/2"), m.log);
            assertEquals(List.of(), m.faults);
        }
    }

    @Test
    void aStoreAcrossRomAndRamDropsOnlyTheRomPart() {
        try (Machine m = new Machine()) {
            m.tlb.stlLe(0x12ffe, 0x11223344); // device, then ROM: the ROM's 2 bytes dropped, without a fault
            assertEquals(List.of("w 4094=3344/2"), m.log);
            assertEquals(0, m.as.lduwLe(0x13000));
            m.tlb.stlLe(0x11ffe, 0x55667788); // RAM, then the device: both parts written
            assertEquals(0x7788, m.as.lduwLe(0x11ffe));
            assertEquals(List.of("w 4094=3344/2", "w 0=5566/2"), m.log);
            assertEquals(List.of(), m.faults);
        }
    }

    @Test
    void aPartWithNothingMappedFailsPieceByPiece() {
        try (Machine m = new Machine()) {
            m.rom.ramBlock().segment().set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, 0xffe, (short) 0xA55A);
            // ROM's last 2 bytes, then nothing at 0x14000: three failed 2-byte pieces, each reported
            assertEquals(0xA55AL, m.tlb.ldqLe(0x13ffe));
            assertEquals(List.of("ld2@14000 DECODE_ERROR", "ld2@14002 DECODE_ERROR", "ld2@14004 DECODE_ERROR"),
                    m.faults);
        }
    }

    @Test
    void anUnalignedAccessToADeviceIsMadeInAlignedPieces() {
        try (Machine m = new Machine()) {
            // 4 bytes at offset 2: two 2-byte pieces (ctz(4 | 2) = 1), bytes A0 B0 C0 D0
            assertEquals(0xD0C0B0A0, m.tlb.ldlLe(0x15002));
            assertEquals(List.of("strict r 2/2", "strict r 4/2"), m.log);
            assertEquals(List.of(), m.faults);
            assertEquals(0, m.as.ldlLe(0x15002), "(the space's own ld hands the device the unaligned access: refused)");
            m.log.clear();
            // 8 bytes at offset 4: two 4-byte pieces
            assertEquals(0xB0A09080F0E0D0C0L, m.tlb.ldqLe(0x15004)); // (the device reads 80 90 A0 B0 at 8: its shift wraps)
            assertEquals(List.of("strict r 4/4", "strict r 8/4"), m.log);
            m.log.clear();
            // a store of 4 bytes at offset 1: four 1-byte pieces (ctz(4 | 1) = 0, then 3, 2, 1 left)
            m.tlb.stlLe(0x15001, 0x11223344);
            assertEquals(List.of("strict w 1=44/1", "strict w 2=33/1", "strict w 3=22/1", "strict w 4=11/1"), m.log);
            m.log.clear();
            // big-endian, 2 bytes at offset 3: two 1-byte pieces, in memory order
            m.tlb.stwBe(0x15003, 0xABCD);
            assertEquals(List.of("strict w 3=ab/1", "strict w 4=cd/1"), m.log);
            m.log.clear();
            // an aligned access is one piece, as before
            assertEquals(0xB0A09080, m.tlb.ldlLe(0x15000));
            assertEquals(List.of("strict r 0/4"), m.log);
            assertEquals(List.of(), m.faults);
        }
    }

    @Test
    void anUnalignedAccessToNothingFailsPieceByPiece() {
        try (Machine m = new Machine()) {
            assertEquals(0, m.tlb.ldlLe(0x14006));
            assertEquals(List.of("ld2@14006 DECODE_ERROR", "ld2@14008 DECODE_ERROR"), m.faults);
        }
    }

    /**
     * QEMU's TCG reaches a page shared by several sections through its subpage region: each piece
     * by the view's buffer rules ({@code flatview_read}/{@code flatview_write}), refused whole unless
     * the view accepts it ({@code subpage_accepts}); the space's own ld/st give the whole access to
     * the first byte's region.
     */
    @Test
    void aSubpagePageTakesTheBufferRules() {
        try (Machine m = new Machine()) {
            // an aligned 8-byte load across A's last 4 bytes and B's first 4: a 4-byte chunk each
            assertEquals(0xBBBBBBBB_AAAAAAAAL, m.tlb.ldqLe(0x16100));
            assertEquals(List.of("A r 256/4", "B r 0/4"), m.log);
            m.log.clear();
            // 8 bytes inside A, which takes at most 4: two chunks of 4 (the space's ldq refuses it)
            assertEquals(0xAAAAAAAA_AAAAAAAAL, m.tlb.ldqLe(0x16000));
            assertEquals(List.of("A r 0/4", "A r 4/4"), m.log);
            m.log.clear();
            assertEquals(0, m.as.ldqLe(0x16000));
            assertEquals(List.of(), m.log, "(the space's own ld: refused by A's size rules)");
            // a store across the two devices: each its own 4 bytes
            m.tlb.stqLe(0x16100, 0x0807060504030201L);
            assertEquals(List.of("A w 256=4030201/4", "B w 0=8070605/4"), m.log);
            m.log.clear();
            assertEquals(List.of(), m.faults);
            // C's 4 bytes, then nothing: the view refuses the piece whole
            // (subpage_accepts: the chunk after C is unassigned), so not even C is called
            assertEquals(0, m.tlb.ldqLe(0x16400));
            m.tlb.stqLe(0x16400, 1);
            assertEquals(List.of(), m.log);
            assertEquals(List.of("ld8@16400 DECODE_ERROR", "st8@16400 DECODE_ERROR"), m.faults);
            m.faults.clear();
            // B's last 4 bytes, then nothing: the view accepts it (its first chunk is sized by the guest
            // address, 8 bytes B takes unaligned: flatview_access_valid), the buffer read then makes B's
            // 4 bytes and fails on the rest: the piece gives 0 and its fault
            assertEquals(0, m.tlb.ldqLe(0x16200));
            assertEquals(List.of("B r 252/4"), m.log);
            assertEquals(List.of("ld8@16200 DECODE_ERROR"), m.faults);
        }
    }

    /**
     * A guest page an IOMMU maps onto a page several devices share is a subpage page too: TCG's fill
     * follows the IOMMU to the target's section ({@code address_space_translate_for_iotlb}), the
     * subpage region, so an access there takes the buffer rules as on a page of the space itself.
     * The CPU's page 0x20000 maps to the downstream page 0x7000, where A (0x104 bytes) and B share it.
     */
    @Test
    void aSubpagePageBehindAnIommuTakesTheBufferRulesToo() {
        try (Machine m = new Machine()) {
            ContainerRegion downstreamRoot = new ContainerRegion(m.sys, null, "downstream", MemoryRegion.SIZE_2_64);
            downstreamRoot.addSubregion(0x7000, new IoRegion(m.sys, new Object(), m.logged("A ", a -> 0xAAAAAAAAAAAAAAAAL)
                    .valid(1, 4, false).build(), "A", 0x104));
            downstreamRoot.addSubregion(0x7104, new IoRegion(m.sys, new Object(), m.logged("B ", a -> 0xBBBBBBBBBBBBBBBBL)
                    .valid(1, 8, true).build(), "B", 0x100));
            AddressSpace downstream = m.sys.addressSpace(downstreamRoot, "downstream");
            m.root.addSubregion(0x20000, new IommuRegion(m.sys, null, "remapper", 0x1000, new IommuOps() {
                @Override
                public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
                    out.iova = addr & ~0xFFFL;
                    out.translatedAddr = 0x7000;
                    out.addrMask = 0xFFF;
                    out.perm = IommuTlbEntry.RW;
                    out.targetAs = downstream;
                }
            }));
            m.tlb.enterBlock();
            assertEquals(0xBBBBBBBB_AAAAAAAAL, m.tlb.ldqLe(0x20100)); // a 4-byte chunk each
            assertEquals(List.of("A r 256/4", "B r 0/4"), m.log);
            m.log.clear();
            assertEquals(0xAAAAAAAA_AAAAAAAAL, m.tlb.ldqLe(0x20000)); // two chunks of A's at most 4
            assertEquals(List.of("A r 0/4", "A r 4/4"), m.log);
            m.log.clear();
            m.tlb.stqLe(0x20100, 0x0807060504030201L);
            assertEquals(List.of("A w 256=4030201/4", "B w 0=8070605/4"), m.log);
            assertEquals(List.of(), m.faults);
        }
    }

    /**
     * A closed TLB keeps no entry it would trust: each access takes its page's rule from the view
     * of that moment, loads as stores (a load once kept the first fill's decision until the next flush).
     */
    @Test
    void aClosedTlbTakesEachPagesRuleFromTheViewNow() {
        try (Machine m = new Machine()) {
            m.tlb.close();
            assertEquals(0, m.tlb.ldqLe(0x17000)); // nothing there yet
            m.root.addSubregion(0x17000, new IoRegion(m.sys, new Object(), m.logged("D ", a -> 0xDDDDDDDDL)
                    .valid(1, 4, false).build(), "D", 0x10)); // the page is now a subpage page
            assertEquals(0xDDDDDDDD_DDDDDDDDL, m.tlb.ldqLe(0x17000)); // its buffer rules: two 4-byte reads
            assertEquals(List.of("D r 0/4", "D r 4/4"), m.log);
            assertEquals(List.of("ld8@17000 DECODE_ERROR"), m.faults);
        }
    }

    @Test
    void anAccessWrappingPast2To64IsTheSpacesErrorWhole() {
        try (Machine m = new Machine()) {
            assertEquals(0, m.tlb.ldlLe(-2L));
            m.tlb.stlLe(-2L, 1);
            assertEquals(List.of("ld4@fffffffffffffffe DECODE_ERROR", "st4@fffffffffffffffe DECODE_ERROR"), m.faults);
        }
    }
}
