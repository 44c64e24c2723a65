package dev.guestmem.scenario7;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The soft TLB (the guide's entry form) across the board's topology changes: a store right after a
 * PAM flip reaches what the new mode shows (never the ROM, the flash or the old target), and reads of
 * the flash in command mode go to its callbacks, never to a stale direct entry.
 */
class BoardSoftTlbTest {
    private Board b;
    private SoftTlbCpu cpu;

    @BeforeEach
    void build() {
        b = new Board(true);
        b.load(3);
        cpu = new SoftTlbCpu(b.memory);
    }

    @AfterEach
    void destroy() {
        b.destroy();
    }

    private void setPam(int segment, int mode) {
        b.memory.stlLe(Board.CHIPSET_BASE + Chipset.REG_PAM, Pam.with(b.pam.value(), segment, mode));
    }

    private static long at(MemorySegment s, long off) {
        return s.get(ValueLayout.JAVA_LONG_UNALIGNED, off);
    }

    @Test
    void aStoreRightAfterAPamFlipOverTheOptionRomReachesWhatTheNewModeShows() {
        long addr = Pam.BASE + Pam.SEGMENT + 0x40; // segment 1, under pc.rom
        MemorySegment ram = b.ram.ramBlock().segment();
        MemorySegment rom = b.optionRom.ramBlock().segment();
        long romValue = at(rom, addr - Board.OPTION_ROM_BASE);
        long ramValue = at(ram, addr);

        assertEquals(romValue, cpu.ldq(addr), "mode 0 reads the ROM");
        cpu.stq(addr, 1);
        assertEquals(romValue, at(rom, addr - Board.OPTION_ROM_BASE), "ROM unchanged");
        assertEquals(ramValue, at(ram, addr), "shadow RAM unchanged");

        setPam(1, Pam.RAM);
        cpu.stq(addr, 2);
        assertEquals(2, at(ram, addr), "mode 3: the store reaches the shadow RAM");
        assertEquals(romValue, at(rom, addr - Board.OPTION_ROM_BASE), "not the ROM");

        setPam(1, Pam.RAM_READ_ONLY);
        cpu.stq(addr, 3);
        assertEquals(2, at(ram, addr), "mode 1: the store is dropped");
        assertEquals(2, cpu.ldq(addr), "mode 1 reads the shadow RAM");

        setPam(1, Pam.READ_ROM_WRITE_RAM);
        cpu.stq(addr, 4);
        assertEquals(4, at(ram, addr), "mode 2: the store reaches the shadow RAM");
        assertEquals(romValue, cpu.ldq(addr), "mode 2 reads the ROM");

        setPam(1, Pam.ROM_ONLY);
        cpu.stq(addr, 5);
        assertEquals(4, at(ram, addr), "mode 0 again: dropped");
        assertEquals(romValue, cpu.ldq(addr));
        assertEquals(romValue, at(rom, addr - Board.OPTION_ROM_BASE));
    }

    @Test
    void aStoreRightAfterAPamFlipOverTheBiosNeverReachesTheFlash() {
        long addr = Pam.BASE + 9 * Pam.SEGMENT + 0x80; // 0xe4080, under isa-bios (the flash's last 128 KiB)
        MemorySegment flash = b.flash.region().ramBlock().segment();
        long flashOff = Board.FLASH_SIZE - Board.ISA_BIOS_SIZE + (addr - Board.ISA_BIOS_BASE);
        long image = at(flash, flashOff);
        assertEquals(image, cpu.ldq(addr), "mode 0 reads the flash through isa-bios");

        setPam(9, Pam.RAM);
        cpu.stq(addr, 0x5a5a);
        assertEquals(0x5a5a, at(b.ram.ramBlock().segment(), addr), "the store reaches the shadow RAM");
        assertEquals(image, at(flash, flashOff), "the flash is untouched");
        assertEquals(CfiFlash.Mode.ARRAY, b.flash.mode(), "and received no command");
        assertTrue(b.flash.region().isRomd());

        setPam(9, Pam.ROM_ONLY);
        assertEquals(image, cpu.ldq(addr), "mode 0 again: the flash");
    }

    @Test
    void flashReadsInCommandModeNeverComeFromAStaleDirectEntry() {
        MemorySegment flash = b.flash.region().ramBlock().segment();
        long high = Board.FLASH_BASE + 0x3_0008;
        long low = Board.ISA_BIOS_BASE + 0x1_0008; // the same flash byte through isa-bios
        SoftTlbCpu smmCpu = new SoftTlbCpu(b.smm);
        long image = at(flash, 0x3_0008);
        assertEquals(image, cpu.ldq(high));
        assertEquals(image, cpu.ldq(low));
        assertEquals(image, smmCpu.ldq(high));
        assertTrue(cpu.lookup(high).readDirect(), "ROMD: the entry is direct");

        b.memory.stb(Board.FLASH_BASE, CfiFlash.CMD_STATUS); // leaves ROMD mode from the callback
        long status = 0x8080808080808080L;
        assertEquals(status, cpu.ldq(high), "command mode: the status register, not the array");
        assertEquals(status, cpu.ldq(low));
        assertEquals(status, smmCpu.ldq(high), "the SMM space too");
        TlbEntry e = cpu.lookup(high);
        assertFalse(e.readDirect(), "command mode: not direct");

        b.memory.stb(Board.FLASH_BASE, CfiFlash.CMD_READ_ARRAY);
        assertEquals(image, cpu.ldq(high));
        assertEquals(image, smmCpu.ldq(low));
    }

    @Test
    void aStoreRightAfterSmramClosesReachesTheVgaRegistersNotSmram() {
        long addr = Board.VGA_BASE + 0x10;
        b.memory.stlLe(Board.CHIPSET_BASE + Chipset.REG_SMRAM, Chipset.D_OPEN);
        cpu.stq(addr, 0x77);
        assertEquals(0x77, at(b.ram.ramBlock().segment(), addr), "open: the VGA window is SMRAM");

        b.memory.stlLe(Board.CHIPSET_BASE + Chipset.REG_SMRAM, 0);
        cpu.stq(addr, 0x99);
        assertEquals(0x77, at(b.ram.ramBlock().segment(), addr), "closed: SMRAM untouched");
        assertEquals(0x99, b.memory.ldqLe(addr), "the VGA registers got it");
        assertEquals(0x77, new SoftTlbCpu(b.smm).ldq(addr), "SMM still sees SMRAM");
    }
}
