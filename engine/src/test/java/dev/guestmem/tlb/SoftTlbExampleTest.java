package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Runs the documented soft-TLB pattern against the address space while the topology changes. */
class SoftTlbExampleTest {
    @Test
    void softTlbAgreesWithTheAddressSpaceAcrossTopologyChanges() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        AddressSpace as = sys.addressSpace(root, "memory");
        RamRegion ram = new RamRegion(sys, null, "ram", RamBlock.anonymous("ram", 1 << 20), false, false);
        RamRegion rom = new RamRegion(sys, null, "rom", RamBlock.anonymous("rom", 1 << 16), true, false);
        IoRegion dev = new IoRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0xD0 + a)
                .write((a, d, s) -> { }).build(), "dev", 0x1000);
        root.addSubregion(0, ram);
        root.addSubregion(0x200000, rom);
        root.addSubregion(0x300000, dev);
        SoftTlbExample tlb = new SoftTlbExample(as);
        Random rnd = new Random(7);
        for (int round = 0; round < 6; round++) {
            for (int i = 0; i < 5000; i++) {
                long addr = switch (rnd.nextInt(4)) {
                    case 0 -> 0x200000 + (rnd.nextInt(1 << 16) & ~3);
                    case 1 -> 0x300000 + (rnd.nextInt(0x1000) & ~3);
                    default -> rnd.nextInt(1 << 20) & ~3;
                };
                if (rnd.nextBoolean()) {
                    int v = rnd.nextInt();
                    tlb.stl(addr, v);
                }
                assertEquals(as.ldl(addr), tlb.ldl(addr), () -> "0x" + Long.toHexString(addr));
            }
            long fills = tlb.fills;
            // move RAM and the ROM: every cached entry is stale now
            ram.setAddress(ram.addr() == 0 ? 0x100000 : 0);
            rom.setReadonly(!rom.isReadonly());
            long base = ram.addr();
            as.stl(base + 0x40, 0x1234);
            assertEquals(0x1234, tlb.ldl(base + 0x40), "the refilled entry sees the moved RAM");
            assertTrue(tlb.fills > fills);
        }
    }

    /** TCG drops CPU stores to RAM a read-only alias shows (TLB_DISCARD_WRITE); the address space does not. */
    @Test
    void storesToRamUnderAReadOnlyAliasAreDropped() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        RamRegion ram = new RamRegion(sys, null, "ram", RamBlock.anonymous("ram", 1 << 20), false, false);
        root.addSubregion(0, ram);
        AliasRegion shadow = new AliasRegion(sys, null, "pam-rom", ram, 0xe0000, 0x4000);
        shadow.setReadonly(true);
        root.addSubregionOverlap(0xe0000, shadow, 1);
        AddressSpace as = sys.addressSpace(root, "memory");
        SoftTlbExample tlb = new SoftTlbExample(as);
        tlb.stl(0xe0010, 42);
        assertEquals(0, as.ldl(0xe0010), "dropped, as TCG does");
        shadow.setReadonly(false);
        tlb.stl(0xe0010, 43);
        assertEquals(43, as.ldl(0xe0010));
        sys.destroyAddressSpace(as);
    }
}
