package dev.guestmem.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The guide's two soft TLBs must drop CPU stores to RAM that the view makes read-only (a PAM segment
 * in "read RAM, write nothing" mode: a read-only alias), as TCG does with {@code TLB_DISCARD_WRITE}:
 * the address space they fall back to writes such RAM, as QEMU's {@code address_space_st*} do.
 */
class GuideTlbReadOnlyRamTest {
    private static final long SHADOW = 0xe0000;

    private MemorySystem sys;
    private RamRegion ram;
    private AliasRegion shadow;
    private AddressSpace as;

    @BeforeEach
    void build() {
        sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        ram = RamRegion.allocate(sys, null, "ram", 1024 * 1024);
        system.addSubregion(0, ram);
        shadow = new AliasRegion(sys, null, "pam-rom", ram, SHADOW, 0x4000); // the BIOS shadow, read-only
        shadow.setReadonly(true);
        system.addSubregionOverlap(SHADOW, shadow, 1);
        as = sys.addressSpace(system, "memory");
        ram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, SHADOW + 0x10, 0x5eed);
    }

    @AfterEach
    void destroy() {
        sys.destroyAddressSpace(as);
    }

    private int shadowRam() {
        return ram.ramBlock().segment().get(ValueLayout.JAVA_INT_UNALIGNED, SHADOW + 0x10);
    }

    @Test
    void theEntryFormDropsStoresToReadOnlyShadowRam() {
        GuideSoftTlb tlb = new GuideSoftTlb(as);
        assertEquals(0x5eed, tlb.ldl(SHADOW + 0x10));
        tlb.stl(SHADOW + 0x10, 42);
        assertEquals(0x5eed, shadowRam(), "a CPU store to read-only shadow RAM is dropped");
        shadow.setReadonly(false);                     // the chipset makes the shadow writable
        tlb.stl(SHADOW + 0x10, 43);
        assertEquals(43, shadowRam());
    }

    @Test
    void theWindowFormDropsStoresToReadOnlyShadowRam() {
        GuideWindowTlb tlb = new GuideWindowTlb(as);
        tlb.enterBlock();
        assertEquals(0x5eed, tlb.ldl(SHADOW + 0x10));
        tlb.stl(SHADOW + 0x10, 42);
        tlb.stl(SHADOW + 0x10, 42);                    // a second time, with the window cached
        assertEquals(0x5eed, shadowRam(), "a CPU store to read-only shadow RAM is dropped");
        shadow.setReadonly(false);
        tlb.enterBlock();
        tlb.stl(SHADOW + 0x10, 43);
        assertEquals(43, shadowRam());
    }
}
