package dev.guestmem.scenario2;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** What {@link MemTxAttrs}' {@code debug} and {@code memory} flags do, as a debugger or bus master sees it. */
class AttrsClaimsTest {
    final MemorySystem sys = new MemorySystem();
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion ram = RamRegion.allocate(sys, null, "ram", 1 << 20);
    final RamRegion rom = RamRegion.allocateRom(sys, null, "rom", 1 << 16);
    final List<String> calls = new ArrayList<>();

    AttrsClaimsTest() {
        system.addSubregion(0, ram);
        system.addSubregion(0xffff_0000L, rom);
    }

    /** QEMU's gdbstub writes through address_space_write_rom, which marks the bytes dirty. */
    @Test
    void debugWritesAreDirtyTracked() {
        AddressSpace as = sys.addressSpace(system, "memory");
        ram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        ram.snapshotAndClearDirty(0, ram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        assertEquals(MemTxResult.OK, as.write(0x3000, MemTxAttrs.DEBUG, new byte[] {1}, 0, 1));
        var snap = ram.snapshotAndClearDirty(0, ram.size(), DirtyMemory.DIRTY_MEMORY_VGA);
        assertTrue(ram.snapshotGetDirty(snap, 0x3000, 1), "a debugger's write is logged like any other");
    }

    /** QEMU's MemReentrancyGuard does not look at the attributes: a debug access is guarded too. */
    @Test
    void debugAccessesAreReentrancyGuarded() {
        AddressSpace[] as = new AddressSpace[1];
        int[] inner = {-1};
        system.addSubregion(0x1000_0000L, new IoRegion(sys, "dev", MemoryRegionOps.builder()
                .read((addr, size) -> 0)
                .write((addr, data, size) -> {
                    if (addr == 0) {
                        inner[0] = as[0].write(0x1000_0004L, MemTxAttrs.DEBUG, new byte[4], 0, 4);
                    }
                })
                .build(), "dev", 0x10));
        as[0] = sys.addressSpace(system, "memory");
        as[0].stlLe(0x1000_0000L, 1);
        assertEquals(MemTxResult.ACCESS_ERROR, inner[0]);
    }

    /** {@code memory = true}: buffer accesses to anything but RAM (ROM counts as RAM) are refused. */
    @Test
    void memoryAttributeRefusesMmioButNotRom() {
        system.addSubregion(0x1000_0000L, new IoRegion(sys, "dev", MemoryRegionOps.builder()
                .read((addr, size) -> {
                    calls.add("read");
                    return 0;
                })
                .write((addr, data, size) -> calls.add("write"))
                .build(), "dev", 0x10));
        AddressSpace as = sys.addressSpace(system, "memory");
        MemTxAttrs mem = new MemTxAttrs(false, false, false, true, false, 0);
        byte[] b = new byte[4];
        assertEquals(MemTxResult.ACCESS_ERROR, as.write(0x1000_0000L, mem, b, 0, 4));
        assertEquals(MemTxResult.ACCESS_ERROR, as.read(0x1000_0000L, mem, b, 0, 4));
        assertEquals(List.of(), calls, "the device never sees a refused access");
        assertEquals(MemTxResult.OK, as.read(0xffff_0000L, mem, b, 0, 4));
        assertEquals(MemTxResult.OK, as.write(0x1000L, mem, b, 0, 4));
    }
}
