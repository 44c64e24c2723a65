package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Every kind of topology change invalidates cached TLB entries, and refills see the change. */
class GuestTlbTest {
    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
    private final RamBlock block = RamBlock.anonymous("ram", 0x10000);
    private final RamRegion ram = new RamRegion(sys, null, "ram", block, false, false);
    private final AddressSpace as;

    GuestTlbTest() {
        as = sys.addressSpace(root, "memory");
        root.addSubregion(0x100000, ram);
    }

    /** Fills at {@code addr}, applies the change, checks the generation moved and the refill is what {@code after} says. */
    private void change(long addr, Runnable topologyChange, Consumer<TlbEntry> after) {
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, addr, e);
        long before = e.generation();
        assertEquals(as.generation(), before);
        topologyChange.run();
        assertNotEquals(before, as.generation(), "a topology change must move the generation");
        TlbEntry n = new TlbEntry();
        GuestTlb.fill(as, addr, n);
        after.accept(n);
    }

    @Test
    void plainRamPageIsDirect() {
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(as, 0x101234, e));
        assertEquals(0x101000, e.pageAddr());
        assertEquals(0x1000, e.hostOffset());
        assertTrue(e.writeDirect());
        TlbEntry hole = new TlbEntry();
        assertFalse(GuestTlb.fill(as, 0x900000, hole));
        assertEquals(GuestTlb.TLB_INVALID | GuestTlb.TLB_MMIO, hole.flags());
    }

    @Test
    void addOverlapRemoveMoveResizeEnableReadonly() {
        IoRegion dev = new IoRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0).build(), "dev", 0x1000);
        change(0x102000, () -> root.addSubregionOverlap(0x102000, dev, 1), n -> assertFalse(n.readDirect(), "now MMIO"));
        change(0x102000, () -> root.delSubregion(dev), n -> assertTrue(n.readDirect(), "RAM again"));
        change(0x100000, () -> ram.setAddress(0x200000), n -> assertEquals(GuestTlb.TLB_INVALID | GuestTlb.TLB_MMIO,
                n.flags(), "moved away"));
        change(0x200000, () -> ram.setEnabled(false), n -> assertFalse(n.readDirect(), "disabled"));
        change(0x200000, () -> ram.setEnabled(true), n -> assertTrue(n.readDirect(), "enabled"));
        change(0x20F000, () -> ram.setSize(0x8000), n -> assertFalse(n.readDirect(), "resized away"));
        change(0x201000, () -> ram.setReadonly(true), n -> {
            assertTrue(n.readDirect());
            assertFalse(n.writeDirect(), "read-only RAM: writes take the slow path");
            assertEquals(GuestTlb.TLB_READONLY, n.flags() & GuestTlb.TLB_READONLY);
        });
        change(0x201000, () -> root.delSubregion(ram), n -> assertFalse(n.readDirect(), "removed"));
    }

    @Test
    void subpageMappingMakesThePageMmio() {
        IoRegion small = new IoRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0).build(), "small", 0x100);
        change(0x103000, () -> root.addSubregionOverlap(0x103800, small, 1), n -> {
            assertFalse(n.readDirect(), "a page shared with a 256-byte device is not direct");
        });
    }

    @Test
    void romdSwitchAndAliasOffsetAndDirtyLogging() {
        RomDeviceRegion flash = new RomDeviceRegion(sys, null, MemoryRegionOps.builder().read((a, s) -> 0)
                .write((a, d, s) -> { }).build(), "flash", RamBlock.anonymous("flash", 0x2000));
        root.addSubregion(0x400000, flash);
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(as, 0x400000, e), "ROMD mode reads directly");
        assertFalse(e.writeDirect(), "ROM device writes go to the device");
        change(0x400000, () -> flash.setRomd(false), n -> assertFalse(n.readDirect(), "I/O mode"));

        AliasRegion alias = new AliasRegion(sys, null, "win", ram, 0, 0x1000);
        root.addSubregion(0x500000, alias);
        TlbEntry a = new TlbEntry();
        GuestTlb.fill(as, 0x500000, a);
        assertEquals(0, a.hostOffset());
        change(0x500000, () -> alias.setAliasOffset(0x3000), n -> assertEquals(0x3000, n.hostOffset()));

        change(0x500000, () -> sys.globalDirtyLogStart(), n -> {
            assertTrue(n.readDirect());
            assertFalse(n.writeDirect(), "migration logging: writes must be logged");
            assertEquals(GuestTlb.TLB_NOTDIRTY, n.flags() & GuestTlb.TLB_NOTDIRTY);
        });
        change(0x500000, () -> sys.globalDirtyLogStop(), n -> assertTrue(n.writeDirect()));
    }

    /**
     * Where stores may go direct, a window's write slice is its read slice itself (one segment, so a
     * load and a store through it share the segment's checks); read-only and dirty-logged RAM keep
     * a read-only read slice and an empty write slice.
     */
    @Test
    void aWindowStoresGoDirectThroughIsItsReadSlice() {
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, 0x100000, e);
        assertTrue(e.window().writable());
        assertSame(e.window().read(), e.window().write());
        assertFalse(e.window().read().isReadOnly());
        e.window().write().set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0x40, 0x1234);
        assertEquals(0x1234, as.ldlLe(0x100040));

        ram.setLog(true, dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_VGA);
        GuestTlb.fill(as, 0x100000, e);
        assertFalse(e.window().writable(), "logged: stores mark the bytes, never direct");
        assertEquals(0, e.window().write().byteSize());
        assertTrue(e.window().read().isReadOnly());
        assertEquals(0x10000, e.window().loggedWrite().byteSize());
        ram.setLog(false, dev.guestmem.dirty.DirtyMemory.DIRTY_MEMORY_VGA);

        ram.setReadonly(true);
        GuestTlb.fill(as, 0x100000, e);
        assertFalse(e.window().writable());
        assertEquals(0, e.window().write().byteSize());
        assertTrue(e.window().read().isReadOnly());
        assertEquals(0x1234, e.window().read().get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0x40));
        as.stlLe(0x100040, 0x5678); // QEMU's answer for read-only RAM: DECODE_ERROR, nothing written
        assertEquals(0x1234, as.ldlLe(0x100040), "a store to read-only RAM is dropped");
    }

    /** A window handed to a JIT reads ROM but cannot write it: the read slice is read-only, the write slice empty. */
    @Test
    void romWindowCannotBeWritten() {
        RamBlock romBlock = RamBlock.anonymous("rom", 0x1000);
        romBlock.segment().set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0x10, (byte) 0x5a);
        root.addSubregion(0x200000, new RamRegion(sys, null, "rom", romBlock, true, false));
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, 0x200000, e);
        assertEquals(0x200000, e.window().start());
        assertEquals((byte) 0x5a, e.window().read().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0x10));
        assertTrue(e.window().read().isReadOnly());
        assertEquals(0, e.window().write().byteSize());
        assertThrows(IllegalArgumentException.class, // "read-only segment"
                () -> e.window().read().set(java.lang.foreign.ValueLayout.JAVA_BYTE, 0x10, (byte) 1));
        assertEquals((byte) 0x5a, romBlock.segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0x10));
    }
}
