package dev.guestmem.scenario2;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Program 1: a device model author. A UART with byte registers and a 32-bit big-endian FIFO window,
 * a pflash-like ROM device (ROMD reads, command mode on a write), and a PCI BAR moved and disabled by
 * guest writes to a config register, watched by a listener.
 */
class DeviceModelsTest {
    static final long MIB = 1 << 20;
    static final long UART = 0x1000_0000L;
    static final long FIFO = 0x1000_0010L;
    static final long FLASH = 0xfff0_0000L;
    static final long CFG = 0x1100_0000L;

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion ram = RamRegion.allocate(sys, null, "ram", 16 * MIB);

    DeviceModelsTest() {
        system.addSubregion(0, ram);
    }

    /** A 16550-ish UART: THR/RBR at 0, LSR at 5; byte registers only, as the datasheet says. */
    static final class Uart {
        final StringBuilder tx = new StringBuilder();
        final ArrayDeque<Integer> fifoWords = new ArrayDeque<>();
        int lsrReads;

        MemoryRegionOps regs() {
            return MemoryRegionOps.builder()
                    .read((addr, size) -> {
                        if (addr == 5) {
                            lsrReads++;
                            return 0x60;             // THR empty, transmitter idle
                        }
                        return 0;
                    })
                    .write((addr, data, size) -> {
                        if (addr == 0) {
                            tx.append((char) data);
                        }
                    })
                    .valid(1, 1, false)
                    .build();
        }

        /** The FIFO: 32-bit words in the device's (big-endian) order; nothing else is accepted. */
        MemoryRegionOps fifo() {
            return MemoryRegionOps.builder()
                    .read((addr, size) -> fifoWords.isEmpty() ? 0 : fifoWords.poll() & 0xffffffffL)
                    .write((addr, data, size) -> fifoWords.add((int) data))
                    .valid(4, 4, false)
                    .impl(4, 4, false)
                    .endianness(Endianness.BIG)
                    .build();
        }
    }

    @Test
    void uartByteRegistersAndBigEndianFifo() {
        Uart uart = new Uart();
        Object dev = new Object();
        system.addSubregion(UART, new IoRegion(sys, dev, uart.regs(), "uart", 8));
        system.addSubregion(FIFO, new IoRegion(sys, dev, uart.fifo(), "uart-fifo", 4));
        AddressSpace as = sys.addressSpace(system, "memory");

        // the driver polls LSR, then writes THR, byte by byte
        for (char c : "ok\n".toCharArray()) {
            assertEquals(0x60, as.ldub(UART + 5));
            assertEquals(MemTxResult.OK, as.stb(UART, c));
        }
        assertEquals("ok\n", uart.tx.toString());
        assertEquals(3, uart.lsrReads);
        // a buffer write to byte registers is split into byte accesses (memory_access_size honours valid.max)
        byte[] hi = {'h', 'i'};
        assertEquals(MemTxResult.OK, as.write(UART + 0, MemTxAttrs.UNSPECIFIED, hi, 0, 1));
        assertEquals(MemTxResult.OK, as.write(UART + 4, MemTxAttrs.UNSPECIFIED, hi, 0, 2));
        assertEquals("ok\nh", uart.tx.toString(), "bytes at 4 and 5 are not THR");
        uart.tx.setLength(3);

        // wider accesses to byte registers are refused, and the device never sees them
        assertEquals(MemTxResult.DECODE_ERROR, as.stwLe(UART, 'x'));
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(UART, 'x'));
        MemTxResultHolder res = new MemTxResultHolder();
        assertEquals(0, as.ldlLe(UART + 4, MemTxAttrs.UNSPECIFIED, res));
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        assertEquals("ok\n", uart.tx.toString());
        assertEquals(3, uart.lsrReads, "a refused read does not reach the callback");

        // a little-endian bus store to a big-endian device: the device sees the bytes in its order
        assertEquals(MemTxResult.OK, as.stlLe(FIFO, 0x11223344));
        assertEquals(0x44332211, uart.fifoWords.peek());
        assertEquals(MemTxResult.OK, as.stlBe(FIFO, 0x11223344));
        assertEquals(List.of(0x44332211, 0x11223344), List.copyOf(uart.fifoWords));
        // and reads come back the same way
        assertEquals(0x11223344, as.ldlLe(FIFO));
        assertEquals(0x11223344, as.ldlBe(FIFO));
        // bytes into the FIFO are refused
        assertEquals(MemTxResult.DECODE_ERROR, as.stb(FIFO, 1));
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(FIFO + 1, 1) & MemTxResult.DECODE_ERROR);
        assertTrue(uart.fifoWords.isEmpty());
        // a bulk buffer write of 4 bytes is one 4-byte access in memory order: 'A','B','C','D'
        byte[] abcd = {'A', 'B', 'C', 'D'};
        assertEquals(MemTxResult.OK, as.write(FIFO, MemTxAttrs.UNSPECIFIED, abcd, 0, 4));
        assertEquals(0x41424344, uart.fifoWords.poll());
    }

    /** A CFI-flash-like ROM device: reads are ROM until a command is written, then the status register. */
    static final class Flash {
        RomDeviceRegion region;
        final List<String> log = new ArrayList<>();
        int generationSeen;

        MemoryRegionOps ops() {
            return MemoryRegionOps.builder()
                    .read((addr, size) -> {
                        log.add("status read @" + addr);
                        return 0x80;                 // ready
                    })
                    .write((addr, data, size) -> {
                        log.add("cmd 0x" + Long.toHexString(data) + " @" + addr);
                        if (data == 0xff) {
                            region.setRomd(true);    // read-array: back to ROM reads
                        } else {
                            region.setRomd(false);   // any command: reads see the status register
                        }
                    })
                    .valid(1, 4, false)
                    .build();
        }
    }

    @Test
    void flashRomdModeAndCommandMode() {
        Flash flash = new Flash();
        flash.region = RomDeviceRegion.allocate(sys, "pflash0", flash.ops(), "pflash", 64 * 1024);
        system.addSubregion(FLASH, flash.region);
        AddressSpace as = sys.addressSpace(system, "memory");

        // the firmware loader writes the image; the guest then reads it as ROM without callbacks
        byte[] image = {0x55, (byte) 0xaa, 0x12, 0x34};
        assertEquals(MemTxResult.OK, as.writeRom(FLASH, MemTxAttrs.UNSPECIFIED, image, 0, 4));
        assertEquals(0x3412aa55, as.ldlLe(FLASH));
        assertTrue(flash.log.isEmpty(), "ROMD reads do not call the device");

        // a JIT caches the page: readable directly, stores must go to the device
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(as, FLASH, e));
        assertTrue(e.readDirect());
        assertFalse(e.writeDirect());

        // the guest writes a command (read status): the device leaves ROMD mode from its callback
        long gen = as.generation();
        assertEquals(MemTxResult.OK, as.stb(FLASH + 0x10, 0x70));
        assertEquals(List.of("cmd 0x70 @16"), flash.log);
        assertNotEquals(gen, as.generation(), "the mode change published a new view");
        assertNotEquals(e.generation(), as.generation(), "the JIT's cached ROM page is stale");
        assertEquals(0x80, as.ldub(FLASH));
        assertEquals("status read @0", flash.log.get(1));
        TlbEntry cmd = new TlbEntry();
        GuestTlb.fill(as, FLASH, cmd);
        assertFalse(cmd.readDirect(), "in command mode reads are MMIO");

        // read-array command: ROM again, the image unchanged (commands never wrote the block)
        assertEquals(MemTxResult.OK, as.stb(FLASH, 0xff));
        assertEquals(0x3412aa55, as.ldlLe(FLASH));
        assertEquals(3, flash.log.size());
        // guest stores never reach the ROM contents, in either mode
        assertEquals(0x55, flash.region.ramBlock().segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
    }

    /** A PCI function: a command register (bit 1 = memory decode) and BAR0, at config offsets 4 and 0x10. */
    static final class PciFunction {
        final IoRegion bar;
        int command = 2;
        long barAddr;

        PciFunction(IoRegion bar, long barAddr) {
            this.bar = bar;
            this.barAddr = barAddr;
        }

        MemoryRegionOps config() {
            return MemoryRegionOps.builder()
                    .read((addr, size) -> addr == 4 ? command : addr == 0x10 ? barAddr : 0)
                    .write((addr, data, size) -> {
                        if (addr == 4) {
                            command = (int) data;
                            bar.setEnabled((command & 2) != 0);
                        } else if (addr == 0x10) {
                            barAddr = data & ~0xfffL;
                            bar.setAddress(barAddr);
                        }
                    })
                    .valid(4, 4, false)
                    .build();
        }
    }

    @Test
    void pciBarMovedAndDisabledByGuestWrites() {
        long[] regs = new long[2];
        IoRegion bar = new IoRegion(sys, "nic", MemoryRegionOps.builder()
                .read((addr, size) -> regs[(int) (addr >> 2) & 1])
                .write((addr, data, size) -> regs[(int) (addr >> 2) & 1] = data)
                .valid(4, 4, false)
                .build(), "nic-bar0", 0x1000);
        PciFunction fn = new PciFunction(bar, 0xe000_0000L);
        ContainerRegion pciHole = new ContainerRegion(sys, null, "pci-hole", 0x2000_0000L);
        system.addSubregion(0xe000_0000L, pciHole);
        pciHole.addSubregion(0, bar);
        system.addSubregion(CFG, new IoRegion(sys, "host-bridge", fn.config(), "pci-cfg", 0x100));
        AddressSpace as = sys.addressSpace(system, "memory");

        List<String> seen = new ArrayList<>();
        MemoryListener l = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == bar) {
                    seen.add("add @0x" + Long.toHexString(s.offsetWithinAddressSpace()));
                }
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                if (s.region() == bar) {
                    seen.add("del @0x" + Long.toHexString(s.offsetWithinAddressSpace()));
                }
            }
        };
        sys.registerListener(l, as);
        assertEquals(List.of("add @0xe0000000"), seen);
        seen.clear();

        assertEquals(MemTxResult.OK, as.stlLe(0xe000_0004L, 7));
        assertEquals(7, as.ldlLe(0xe000_0004L));

        // the firmware programs BAR0: the BAR's offset is in the hole, so 0xe0100000 is offset 0x100000
        assertEquals(MemTxResult.OK, as.stlLe(CFG + 0x10, 0x0010_0000));
        assertEquals(List.of("del @0xe0000000", "add @0xe0100000"), seen);
        assertEquals(7, as.ldlLe(0xe010_0004L));
        MemTxResultHolder res = new MemTxResultHolder();
        as.ldlLe(0xe000_0004L, MemTxAttrs.UNSPECIFIED, res);
        assertEquals(MemTxResult.DECODE_ERROR, res.get(), "nothing at the old place");
        seen.clear();

        // the driver turns memory decode off: the BAR disappears; on again: it comes back
        assertEquals(MemTxResult.OK, as.stlLe(CFG + 4, 0));
        assertEquals(List.of("del @0xe0100000"), seen);
        as.ldlLe(0xe010_0004L, MemTxAttrs.UNSPECIFIED, res);
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        assertEquals(MemTxResult.OK, as.stlLe(CFG + 4, 2));
        assertEquals(List.of("del @0xe0100000", "add @0xe0100000"), seen);
        assertEquals(7, as.ldlLe(0xe010_0004L));
        sys.unregisterListener(l);
    }

    /** A KVM-like listener must learn when a flash leaves ROMD mode (its slot can no longer be read). */
    @Test
    void listenerSeesRomdModeChanges() {
        Flash flash = new Flash();
        flash.region = RomDeviceRegion.allocate(sys, "pflash0", flash.ops(), "pflash", 64 * 1024);
        system.addSubregion(FLASH, flash.region);
        AddressSpace as = sys.addressSpace(system, "memory");
        List<String> seen = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region() == flash.region) {
                    seen.add("add romd=" + s.region().isRomd());
                }
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                if (s.region() == flash.region) {
                    seen.add("del");
                }
            }
        }, as);
        assertEquals(List.of("add romd=true"), seen);
        seen.clear();
        as.stb(FLASH, 0x70);                                // command mode (flatrange_equal: romd differs)
        assertEquals(List.of("del", "add romd=false"), seen);
        seen.clear();
        as.stb(FLASH, 0x70);                                // no mode change: nothing to hear
        assertEquals(List.of(), seen);
        as.stb(FLASH, 0xff);
        assertEquals(List.of("del", "add romd=true"), seen);
    }

    /** An ACPI-like eject register: the guest's write unplugs the device that owns the register. */
    @Test
    void deviceUnplugsItselfFromItsOwnCallback() {
        ContainerRegion slot = new ContainerRegion(sys, null, "slot", 0x2000);
        RamRegion dimm = RamRegion.allocate(sys, "dimm0", "dimm0", MIB);
        IoRegion[] self = new IoRegion[1];
        self[0] = new IoRegion(sys, "hotplug-ctl", MemoryRegionOps.builder()
                .read((addr, size) -> 0)
                .write((addr, data, size) -> {
                    sys.transactionBegin();
                    try {
                        system.delSubregion(dimm);
                        slot.delSubregion(self[0]);
                    } finally {
                        sys.transactionCommit();
                    }
                    dimm.destroy();
                    self[0].destroy();
                })
                .build(), "eject", 4);
        slot.addSubregion(0, self[0]);
        system.addSubregion(0x2000_0000L, slot);
        system.addSubregion(0x4000_0000L, dimm);
        AddressSpace as = sys.addressSpace(system, "memory");
        as.stlLe(0x4000_0000L, 7);
        assertEquals(MemTxResult.OK, as.stlLe(0x2000_0000L, 1));
        assertTrue(self[0].isDestroyed());
        MemTxResultHolder res = new MemTxResultHolder();
        as.ldlLe(0x4000_0000L, MemTxAttrs.UNSPECIFIED, res);
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(0x2000_0000L, 1), "the register went with it");
        assertTrue(dimm.ramBlock().isReleased(), "nothing holds the unplugged RAM any more");
    }

    /** BAR sizing: the guest writes all ones, the BAR lands at the top of the hole, partly outside it. */
    @Test
    void barPartlyOutsideItsContainerIsClipped() {
        IoRegion bar = new IoRegion(sys, "nic", MemoryRegionOps.builder()
                .read((addr, size) -> addr).write((addr, data, size) -> { }).build(), "bar", 0x2000);
        ContainerRegion hole = new ContainerRegion(sys, null, "hole", 0x10000);
        hole.addSubregion(0, bar);
        system.addSubregion(0xe000_0000L, hole);
        AddressSpace as = sys.addressSpace(system, "memory");
        bar.setAddress(0xf000);                                 // [0xf000, 0x11000): half outside
        assertEquals(0x800, as.ldlLe(0xe000_f800L));
        MemTxResultHolder res = new MemTxResultHolder();
        as.ldlLe(0xe001_0000L, MemTxAttrs.UNSPECIFIED, res);
        assertEquals(MemTxResult.DECODE_ERROR, res.get(), "clipped to the hole");
        bar.setAddress(0x1000);
        assertEquals(0x10, as.ldlLe(0xe000_1010L));
    }

    /** A DMA controller copies firmware out of the flash, and a buggy one DMAs into it. */
    @Test
    void dmaFromAndIntoTheFlash() {
        Flash flash = new Flash();
        flash.region = RomDeviceRegion.allocate(sys, "pflash0", flash.ops(), "pflash", 64 * 1024);
        system.addSubregion(FLASH, flash.region);
        AddressSpace as = sys.addressSpace(system, "memory");
        as.writeRom(FLASH, MemTxAttrs.UNSPECIFIED, new byte[] {1, 2, 3, 4}, 0, 4);

        DmaMapping rd = as.map(FLASH, 4096, false, MemTxAttrs.UNSPECIFIED);
        assertFalse(rd.isBounce(), "ROMD reads are direct (memory_access_is_direct)");
        assertEquals(4096, rd.length());
        assertEquals(0x04030201, rd.segment().get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0));
        rd.unmap(4096);
        assertTrue(flash.log.isEmpty());

        DmaMapping wr = as.map(FLASH + 0x20, 8, true, MemTxAttrs.UNSPECIFIED);
        assertTrue(wr.isBounce(), "writes to a ROM device go to its callbacks");
        wr.segment().fill((byte) 0x70);
        wr.unmap(8);
        assertEquals(List.of("cmd 0x70707070 @32", "cmd 0x70707070 @36"), flash.log);
        assertEquals(0x80, as.ldub(FLASH), "the flash is in command mode now");
        assertEquals(1, flash.region.ramBlock().segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
    }

    /** The legacy BIOS window at 0xe0000 is an alias of the top of the flash: it follows the mode too. */
    @Test
    void aliasOfTheFlashFollowsItsMode() {
        Flash flash = new Flash();
        flash.region = RomDeviceRegion.allocate(sys, "pflash0", flash.ops(), "pflash", 128 * 1024);
        system.addSubregion(FLASH, flash.region);
        system.addSubregionOverlap(0xe0000, new dev.guestmem.region.AliasRegion(sys, null, "isa-bios",
                flash.region, 0, 128 * 1024), 1);
        AddressSpace as = sys.addressSpace(system, "memory");
        as.writeRom(FLASH, MemTxAttrs.UNSPECIFIED, new byte[] {0x5a}, 0, 1);
        assertEquals(0x5a, as.ldub(0xe0000));
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, 0xe0000, e);
        assertTrue(e.readDirect());
        as.stb(0xe0000, 0x70);                                   // a command through the window
        assertEquals(List.of("cmd 0x70 @0"), flash.log);
        assertEquals(0x80, as.ldub(0xe0000), "status through the window");
        assertEquals(0x80, as.ldub(FLASH), "and at the flash's own address");
        GuestTlb.fill(as, 0xe0000, e);
        assertFalse(e.readDirect());
        as.stb(FLASH, 0xff);
        assertEquals(0x5a, as.ldub(0xe0000));
    }
}
