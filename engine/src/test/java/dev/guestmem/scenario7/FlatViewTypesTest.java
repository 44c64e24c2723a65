package dev.guestmem.scenario7;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.debug.FlatViewPrinter;
import org.junit.jupiter.api.Test;

/**
 * {@code info mtree -f} of the board names each range's type as QEMU's {@code mtree_print_flatview}
 * does: a read-only range is "rom" (a PAM read-only segment over RAM, {@code isa-bios}), the flash is
 * "romd" in ROMD mode and "i/o" in command mode; a migration compares these dumps.
 */
class FlatViewTypesTest {
    @Test
    void flatViewShowsPamAndFlashModes() {
        Board b = new Board(true);
        try {
            b.pam.set(Pam.with(Pam.with(0, 1, Pam.RAM_READ_ONLY), 2, Pam.RAM));
            String romd = FlatViewPrinter.print(b.sys);
            assertTrue(romd.contains("00000000fffc0000-00000000ffffffff (prio 0, romd): system.flash0\n"), romd);
            assertTrue(romd.contains("00000000000c4000-00000000000c7fff (prio 0, rom): pc.ram @00000000000c4000\n"), romd);
            assertTrue(romd.contains("00000000000c8000-00000000000cbfff (prio 0, ram): pc.ram @00000000000c8000\n"), romd);
            assertTrue(romd.contains("00000000000e0000-00000000000fffff (prio 0, rom): system.flash0 @0000000000020000\n"),
                    romd);
            b.memory.stb(Board.FLASH_BASE, CfiFlash.CMD_STATUS);
            String command = FlatViewPrinter.print(b.sys);
            assertTrue(command.contains("00000000fffc0000-00000000ffffffff (prio 0, i/o): system.flash0\n"), command);
        } finally {
            b.destroy();
        }
    }
}
