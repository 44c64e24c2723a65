package dev.guestmem.scenario12;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import org.junit.jupiter.api.Test;

/**
 * The big-endian 16-bit flash: a firmware image loaded with {@code writeRom} reads back most
 * significant byte first through the address space and the CPU's soft TLB (ROMD pages are direct for
 * loads, not for stores); 16-bit commands and data written by the big-endian CPU reach the chip as
 * the values it stored, a programmed word reads back as written, and a 4-byte store is two chip cycles.
 */
class BeFlashTest {
    @Test
    void aBigEndianCpuBootsFromAndProgramsItsFlash() {
        try (BeBoard b = new BeBoard()) {
            byte[] image = {0x48, 0x00, 0x01, 0x00, 0x7c, 0x08, 0x02, (byte) 0xa6}; // "b +0x100; mflr r0"
            assertEquals(MemTxResult.OK, b.memory.writeRom(BeBoard.FLASH, MemTxAttrs.UNSPECIFIED, image, 0, image.length));
            BeCpu cpu = new BeCpu(b.memory);
            assertEquals(0x48000100L, cpu.load(BeBoard.FLASH, 4, false));
            assertEquals(0x7c0802a6L, cpu.load(BeBoard.FLASH + 4, 4, false));
            assertEquals(0x48000100, b.memory.ldl(BeBoard.FLASH)); // target order: big
            assertTrue(cpu.directLoads >= 2, "ROMD pages are direct for loads");
            TlbEntry e = new TlbEntry();
            GuestTlb.fill(b.memory, BeBoard.FLASH, e);
            assertFalse(e.writeDirect(), "stores go to the chip");
            assertEquals(0, e.flags() & GuestTlb.TLB_DISCARD_WRITE);

            long at = BeBoard.FLASH + 0x100;
            cpu.store(at, 2, BeFlash.CMD_PROGRAM, false);
            assertFalse(b.flash.region().isRomd());
            cpu.store(at, 2, 0x1234, false);
            assertEquals(1, b.flash.programs());
            assertEquals(BeFlash.STATUS_READY, cpu.load(at, 2, false), "status, from the chip");
            cpu.store(at, 2, BeFlash.CMD_READ_ARRAY, false);
            assertTrue(b.flash.region().isRomd());
            assertEquals(0x1234, cpu.load(at, 2, false));
            assertEquals(0x12, b.memory.ldub(at));
            assertEquals(0x3412, b.memory.lduwLe(at));

            // a 4-byte store is two 16-bit chip cycles, high half first: command, then datum
            cpu.store(at + 4, 4, (BeFlash.CMD_PROGRAM << 16) | 0xa5a5, false);
            assertEquals(2, b.flash.programs(), "program setup at +4, then the datum at +6");
            cpu.store(at, 2, BeFlash.CMD_READ_ARRAY, false);
            assertEquals(0xffffa5a5L, cpu.load(at + 4, 4, false));
        }
    }
}
