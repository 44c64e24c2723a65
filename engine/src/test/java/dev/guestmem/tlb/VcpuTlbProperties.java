package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import dev.guestmem.testing.PageSplit;
import dev.guestmem.testing.SizedAccess;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * {@link VcpuTlb} against the address space, differentially: two identical machines (RAM moved,
 * toggled, re-mapped and logged; ROM; RAM under a read-only alias; MMIO; a resizeable block resized;
 * a flash switched between ROMD and I/O mode; RAM at the top of 2^64) get the same topology changes; one is accessed through a TLB (entered after every change, as a CPU loop does),
 * the other through {@link AddressSpace} with TCG's differences ({@link PageSplit}: an access across
 * two pages is split by page into naturally aligned pieces; a store to a page the view makes
 * read-only RAM is dropped, of a store across two pages the bytes on such a page). Every load must
 * agree, and so must all RAM at the end.
 */
class VcpuTlbProperties {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final long TOP = -0x2000L;

    /** One of the twins. */
    private static final class Twin implements AutoCloseable {
        final MemorySystem sys = new MemorySystem();
        final ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        final RamRegion a = RamRegion.allocate(sys, null, "a", 0x8000);
        final RamBlock bBlock = RamBlock.anonymous("b", 0x4000);
        final RamRegion b = new RamRegion(sys, null, "b", bBlock, false, false);
        final RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 0x2000);
        final AliasRegion roAlias = new AliasRegion(sys, null, "a-ro", a, 0x1000, 0x3000);
        final RamRegion top = RamRegion.allocate(sys, null, "top", 0x2000);
        final RamBlock growBlock = RamBlock.builder("grow", 0x2000).resizeable(0x6000, null).build();
        final RamRegion grow = new RamRegion(sys, null, "grow", growBlock, false, false);
        final RamBlock flashBlock = RamBlock.anonymous("flash", 0x2000);
        final RomDeviceRegion flash;
        final byte[] regs = new byte[0x100];
        /** A big-endian device of two whole pages, aligned accesses of 1-4 bytes, 2-byte chunks: TLB io entries. */
        final byte[] regs2 = new byte[0x2000];
        final IoRegion dev2;
        final AddressSpace as;
        boolean logging;

        Twin() {
            for (int i = 0; i < 0x2000; i++) {
                rom.ramBlock().segment().set(ValueLayout.JAVA_BYTE, i, (byte) (i * 7));
            }
            IoRegion dev = new IoRegion(sys, null, MemoryRegionOps.builder()
                    .read((addr, size) -> {
                        long v = 0;
                        for (int k = size - 1; k >= 0; k--) {
                            v = v << 8 | Byte.toUnsignedLong(regs[(int) addr + k]);
                        }
                        return v;
                    })
                    .write((addr, v, size) -> {
                        for (int k = 0; k < size; k++) {
                            regs[(int) addr + k] = (byte) (v >>> (8 * k));
                        }
                    })
                    .valid(1, 8, true).impl(1, 8, true).build(), "dev", 0x100);
            root.addSubregion(0x10000, a);
            root.addSubregion(0x20000, b);
            root.addSubregion(0x30000, rom);
            roAlias.setReadonly(true);
            root.addSubregion(0x40000, roAlias);
            root.addSubregion(0x50000, dev);
            root.addSubregion(TOP, top);
            root.addSubregion(0x70000, grow);
            // a flash: reads the array directly in ROMD mode; in I/O mode reads and every write hit
            // the callbacks, which read and write the device's registers
            flash = new RomDeviceRegion(sys, null, MemoryRegionOps.builder()
                    .read((addr, size) -> regs[(int) (addr & 0xff)] & 0xffL)
                    .write((addr, v, size) -> regs[(int) (addr & 0xff)] = (byte) v)
                    .valid(1, 8, true).impl(1, 1, false).build(), "flash", flashBlock);
            root.addSubregion(0x80000, flash);
            dev2 = new IoRegion(sys, new Object(), MemoryRegionOps.builder()
                    .read((addr, size) -> (Byte.toUnsignedLong(regs2[(int) addr]) << 8)
                            | Byte.toUnsignedLong(regs2[(int) addr + 1 & 0x1fff]))
                    .write((addr, v, size) -> {
                        regs2[(int) addr] = (byte) (v >>> 8);
                        regs2[(int) addr + 1 & 0x1fff] = (byte) v;
                    })
                    .endianness(Endianness.BIG)
                    .valid(1, 4, false).impl(2, 2, false).build(), "dev2", 0x2000);
            root.addSubregion(0x90000, dev2);
            as = sys.addressSpace(root, "as");
        }

        void change(int what, int arg) {
            switch (what) {
                case 0 -> a.setAddress(new long[] {0x10000, 0x18000, 0x60000}[arg % 3]);
                case 1 -> b.setEnabled(!b.isEnabled());
                case 2 -> roAlias.setReadonly(!roAlias.isReadonly());
                case 3 -> {
                    logging = !logging;
                    a.setLog(logging, DirtyMemory.DIRTY_MEMORY_VGA);
                }
                case 4 -> {
                    if (b.container() != null) {
                        root.delSubregion(b);
                    } else {
                        root.addSubregionOverlap(new long[] {0x20000, 0x11000}[arg % 2], b, 1);
                    }
                }
                case 5 -> roAlias.setAliasOffset((arg % 4) * 0x800L);
                case 6 -> grow.ramResize(0x1000L * (1 + arg % 6));
                case 7 -> dev2.setAddress(new long[] {0x90000, 0xA0000, 0x19000}[arg % 3]);
                default -> flash.setRomd(!flash.isRomd());
            }
        }

        byte[] ram() {
            byte[] all = new byte[0x8000 + 0x4000 + 0x2000 + 0x2000 + 0x100 + 0x6000 + 0x2000 + 0x2000];
            MemorySegmentCopy.copy(a.ramBlock().segment(), all, 0, 0x8000);
            MemorySegmentCopy.copy(bBlock.segment(), all, 0x8000, 0x4000);
            MemorySegmentCopy.copy(rom.ramBlock().segment(), all, 0xc000, 0x2000);
            MemorySegmentCopy.copy(top.ramBlock().segment(), all, 0xe000, 0x2000);
            System.arraycopy(regs, 0, all, 0x10000, 0x100);
            MemorySegmentCopy.copy(growBlock.maxSegment(), all, 0x10100, 0x6000);
            MemorySegmentCopy.copy(flashBlock.segment(), all, 0x16100, 0x2000);
            System.arraycopy(regs2, 0, all, 0x18100, 0x2000);
            return all;
        }

        @Override
        public void close() {
            sys.close();
            bBlock.close();
            growBlock.close();
            flashBlock.close();
        }
    }

    /** Copies a segment's first bytes into an array. */
    private static final class MemorySegmentCopy {
        static void copy(java.lang.foreign.MemorySegment from, byte[] to, int at, int len) {
            java.lang.foreign.MemorySegment.copy(from, ValueLayout.JAVA_BYTE, 0, to, at, len);
        }
    }

    private static final long[] BASES = {0x10000, 0x18000, 0x20000, 0x11000, 0x30000, 0x40000, 0x50000, 0x60000,
        0x70000, 0x80000, 0x90000, 0xA0000, 0x19000, TOP, 0};

    @Property(tries = 200)
    void theTlbAgreesWithTheAddressSpace(@ForAll long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        try (Twin viaTlb = new Twin(); Twin viaSpace = new Twin()) {
            VcpuTlb tlb = new VcpuTlb(viaTlb.as, U, null);
            TlbEntry probe = new TlbEntry();
            for (int step = 0; step < 400; step++) {
                if (rnd.nextInt(12) == 0) {
                    int what = rnd.nextInt(9);
                    int arg = rnd.nextInt(16);
                    viaTlb.change(what, arg);
                    viaSpace.change(what, arg);
                    tlb.enterBlock();
                    continue;
                }
                long addr = BASES[rnd.nextInt(BASES.length)] + (rnd.nextBoolean()
                        ? rnd.nextLong(-8, 0x8008) : 0x1000L * rnd.nextInt(9) + rnd.nextInt(-8, 8));
                int size = 1 << rnd.nextInt(4);
                boolean big = rnd.nextBoolean();
                String at = "step " + step + " addr 0x" + Long.toHexString(addr) + " size " + size;
                if (rnd.nextBoolean()) {
                    assertEquals(PageSplit.load(viaSpace.as, addr, size, big, null),
                            SizedAccess.load(tlb, addr, size, big), at);
                } else {
                    long v = rnd.nextLong();
                    SizedAccess.store(tlb, addr, size, big, v);
                    PageSplit.store(viaSpace.as, addr, size, big, v, page -> drops(viaSpace.as, page, probe), null);
                }
            }
            tlb.close();
            assertArrayEquals(viaSpace.ram(), viaTlb.ram());
        }
    }

    /** Whether the view makes {@code addr}'s page RAM that CPU stores may not change. */
    private static boolean drops(AddressSpace as, long addr, TlbEntry probe) {
        GuestTlb.fill(as, addr, probe);
        return (probe.flags() & GuestTlb.TLB_DISCARD_WRITE) != 0;
    }
}
