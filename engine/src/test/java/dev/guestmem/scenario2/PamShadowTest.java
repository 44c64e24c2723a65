package dev.guestmem.scenario2;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A PC chipset's PAM registers, built as QEMU's {@code init_pam}: four aliases over the BIOS segment
 * at priority 1 (to PCI/ROM, RAM read-write, RAM read-only), one enabled at a time. Firmware shadows
 * itself: reads the ROM, copies it to RAM, then makes the RAM read-only.
 */
class PamShadowTest {
    static final long SEG = 0xf0000;
    static final long SIZE = 0x10000;

    @Test
    void firmwareShadowsItselfIntoReadOnlyRam() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "pc.ram", 1 << 20);
        ContainerRegion pci = new ContainerRegion(sys, null, "pci", MemoryRegion.SIZE_2_64);
        RamRegion bios = RamRegion.allocateRom(sys, null, "pc.bios", SIZE);
        pci.addSubregion(SEG, bios);
        system.addSubregion(0, ram);
        AliasRegion pamPci = new AliasRegion(sys, null, "pam-pci", pci, SEG, SIZE);
        AliasRegion pamRam = new AliasRegion(sys, null, "pam-ram", ram, SEG, SIZE);
        AliasRegion pamRom = new AliasRegion(sys, null, "pam-rom", ram, SEG, SIZE);
        pamRom.setReadonly(true);
        for (AliasRegion a : new AliasRegion[] {pamPci, pamRam, pamRom}) {
            a.setEnabled(false);
            system.addSubregionOverlap(SEG, a, 1);
        }
        pamPci.setEnabled(true);
        AddressSpace as = sys.addressSpace(system, "memory");
        as.writeRom(SEG, MemTxAttrs.UNSPECIFIED, new byte[] {(byte) 0xea, 0x5b, (byte) 0xe0}, 0, 3);
        assertEquals(0xea, as.ldub(SEG), "reset vector segment reads the ROM");

        // the firmware: PAM to RAM read-write, copy itself, then RAM read-only
        byte[] image = new byte[(int) SIZE];
        as.read(SEG, MemTxAttrs.UNSPECIFIED, image, 0, image.length);
        switchTo(sys, pamPci, pamRam);
        assertEquals(MemTxResult.OK, as.write(SEG, MemTxAttrs.UNSPECIFIED, image, 0, image.length));
        switchTo(sys, pamRam, pamRom);
        assertEquals(0xea, as.ldub(SEG), "now served from RAM");
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, SEG, e);
        assertTrue(e.readDirect());
        assertFalse(e.writeDirect(), "read-only through the alias: " + e);
        assertNotEquals(0, e.flags() & GuestTlb.TLB_READONLY);
        assertNotEquals(0, e.flags() & GuestTlb.TLB_DISCARD_WRITE, "TCG would discard CPU stores here: " + e);
        // QEMU's TCG discards a CPU store to such a page (TLB_DISCARD_WRITE); a JIT does the same
        // by dropping stores whose entry is TLB_READONLY (the guide's "Read-only pages")
        cpuStore(as, e, SEG, 0x90);
        assertEquals(0xea, as.ldub(SEG), "a CPU store to shadowed BIOS is discarded");
        // the address space itself, like QEMU's address_space_st* and DMA, only honours the RAM
        // region's own read-only flag: the inherited one does not stop it (QEMU-SEMANTICS §1)
        assertEquals(MemTxResult.OK, as.stb(SEG, 0x90));
        assertEquals(0x90, as.ldub(SEG));
        // the RAM itself stays writable at its own address range outside the window
        assertEquals(MemTxResult.OK, as.stb(SEG - 1, 0x42));
        assertEquals(0x42, as.ldub(SEG - 1));
    }

    /** A JIT's store: direct, discarded (TCG's TLB_DISCARD_WRITE), or through the address space. */
    private static void cpuStore(AddressSpace as, TlbEntry e, long addr, int v) {
        if (e.pageAddr() != (addr & ~0xfffL) || e.generation() != as.generation()) {
            GuestTlb.fill(as, addr, e);
        }
        if (e.writeDirect()) {
            e.segment().set(java.lang.foreign.ValueLayout.JAVA_BYTE, e.hostOffset() + (addr & 0xfff), (byte) v);
        } else if ((e.flags() & GuestTlb.TLB_DISCARD_WRITE) != 0) {
            return;                                          // ROM or read-only as rendered: dropped
        } else {
            as.stb(addr, v);
        }
    }

    private static void switchTo(MemorySystem sys, AliasRegion from, AliasRegion to) {
        sys.transactionBegin();
        try {
            from.setEnabled(false);
            to.setEnabled(true);
        } finally {
            sys.transactionCommit();
        }
    }

    /** Which pages a JIT must drop stores to (TCG's TLB_DISCARD_WRITE), and which it must not. */
    @Test
    void discardWriteMarksReadOnlyRamButNotRomDevicesOrPlainRam() {
        MemorySystem sys = new MemorySystem(true);
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 1 << 20);
        system.addSubregion(0, ram);
        system.addSubregion(0xfffe_0000L, RamRegion.allocateRom(sys, null, "rom", SIZE));
        system.addSubregion(0xfff0_0000L, dev.guestmem.region.RomDeviceRegion.allocate(sys, null,
                dev.guestmem.region.MemoryRegionOps.builder().read((a, sz) -> 0).write((a, d, sz) -> { }).build(),
                "flash", SIZE));
        AliasRegion ro = new AliasRegion(sys, null, "ro-window", ram, 0, SIZE);
        ro.setReadonly(true);
        system.addSubregion(0x8000_0000L, ro);
        AddressSpace as = sys.addressSpace(system, "memory");
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, 0xfffe_0000L, e);
        assertNotEquals(0, e.flags() & GuestTlb.TLB_DISCARD_WRITE, "ROM: " + e);
        GuestTlb.fill(as, 0x8000_0000L, e);
        assertNotEquals(0, e.flags() & GuestTlb.TLB_DISCARD_WRITE, "read-only alias of RAM: " + e);
        GuestTlb.fill(as, 0xfff0_0000L, e);
        assertTrue(e.readDirect());
        assertEquals(0, e.flags() & GuestTlb.TLB_DISCARD_WRITE, "ROMD: stores go to the device: " + e);
        GuestTlb.fill(as, 0x1000, e);
        assertEquals(0, e.flags() & GuestTlb.TLB_DISCARD_WRITE, "plain (logged) RAM: " + e);
    }
}
