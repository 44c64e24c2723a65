package dev.guestmem.scenario7;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * Live migration of a PC-like {@link Board} (RAM aliased around the PCI hole, a CFI flash as a ROM
 * device, PAM shadowing, SMRAM in an SMM address space, an MMIO device) to a second
 * {@code MemorySystem}, while two vCPUs and a firmware thread run; and the cases that a device model
 * or chipset must get right for migration: flash programmed in command mode, PAM flips between rounds.
 */
class BoardMigrationTest {
    /** How many live migrations the first test runs (short by default). */
    static final int MIGRATIONS = Integer.getInteger("guestmem.scenario7.migrations", 2);

    @Test
    void aRunningBoardMigratesWithItsRamFlashPamAndSmramState() throws Exception {
        Board src = new Board(true);
        src.load(5);
        byte[] optionRom = src.optionRom.ramBlock().segment().toArray(ValueLayout.JAVA_BYTE);
        try {
            for (int m = 0; m < MIGRATIONS; m++) {
                Board dst = new Board(true);
                BoardGuest guest = new BoardGuest(src, 100 + m);
                try {
                    guest.start();
                    while (guest.blocks(3) < 50) { // the firmware has flipped and programmed a while
                        Thread.sleep(1);
                    }
                    BoardMigration mig = new BoardMigration(src, dst, guest::awaitExitChecks);
                    mig.start();
                    mig.round(false);
                    for (int r = 1; r < 6; r++) {
                        Thread.sleep(5);
                        if (mig.round(false) <= 16) {
                            break;
                        }
                    }
                    guest.stop();
                    mig.finish();
                    String what = "migration " + m + " rounds " + mig.roundPages();
                    BoardCompare.assertSameMachine(src, dst, what);
                    assertTrue(guest.pamFlips > 0 && guest.flashPrograms > 0, what + ": the firmware ran");
                    assertArrayEquals(optionRom, src.optionRom.ramBlock().segment().toArray(ValueLayout.JAVA_BYTE),
                            what + ": no CPU store reached the option ROM, whatever PAM showed");
                    assertTrue(guest.blocks(0) > 0 && guest.blocks(1) > 0 && guest.blocks(2) > 0, what + ": the vCPUs ran");
                    System.out.printf("scenario7 %s: %d PAM flips, %d flash programs, %d code invalidations%n",
                            what, guest.pamFlips, guest.flashPrograms, guest.invalidations());
                } finally {
                    guest.stop();
                    dst.destroy();
                }
            }
        } finally {
            src.destroy();
        }
    }

    @Test
    void flashProgrammedOutOfRomdModeIsCaughtByTheDirtyLog() {
        Board src = new Board(true);
        Board dst = new Board(true);
        try {
            src.load(9);
            BoardMigration mig = new BoardMigration(src, dst, () -> { });
            mig.start();
            mig.round(false);
            long at = 0x1234;
            src.memory.stb(Board.FLASH_BASE + at, CfiFlash.CMD_PROGRAM);
            src.memory.stb(Board.FLASH_BASE + at, 0x0f);
            assertFalse(src.flash.region().isRomd(), "a command left ROMD mode");
            mig.round(false);
            long page = src.flash.region().ramBlock().offset() + (at & ~0xfffL);
            assertTrue(mig.dirtyPagesOf(1).contains(page), "the programmed page was sent: " + mig.dirtyPagesOf(1));
            src.memory.stb(Board.FLASH_BASE + 0x20000, CfiFlash.CMD_ERASE); // erase while still in command mode
            src.memory.stb(Board.FLASH_BASE + 0x20000, CfiFlash.CMD_CONFIRM);
            mig.finish();
            assertEquals(CfiFlash.Mode.STATUS, dst.flash.mode());
            assertFalse(dst.flash.region().isRomd());
            BoardCompare.assertSameMachine(src, dst, "command mode");
            src.memory.stb(Board.FLASH_BASE, CfiFlash.CMD_READ_ARRAY);
            dst.memory.stb(Board.FLASH_BASE, CfiFlash.CMD_READ_ARRAY);
            BoardCompare.assertSameMachine(src, dst, "read array again");
            assertEquals(0xffL, dst.memory.ldub(Board.FLASH_BASE + 0x20010), "the erased sector");
        } finally {
            dst.destroy();
            src.destroy();
        }
    }

    /**
     * A device that writes its ROM device's block and does not report it is invisible to the dirty
     * log (the guide, section 5: "a device writing a ROM device's block ... seen only if reported"):
     * this is why {@link CfiFlash} calls {@code flushRomDevice}.
     */
    @Test
    void aFlashThatDoesNotReportItsWritesIsMissedByMigration() {
        Board src = new Board(false);
        Board dst = new Board(false);
        try {
            src.load(9);
            BoardMigration mig = new BoardMigration(src, dst, () -> { });
            mig.start();
            mig.round(false);
            src.memory.stb(Board.FLASH_BASE + 0x40, CfiFlash.CMD_PROGRAM);
            src.memory.stb(Board.FLASH_BASE + 0x40, 0x00);
            src.memory.stb(Board.FLASH_BASE, CfiFlash.CMD_READ_ARRAY);
            mig.finish();
            assertNotEquals(src.memory.ldub(Board.FLASH_BASE + 0x40), dst.memory.ldub(Board.FLASH_BASE + 0x40),
                    "unreported device writes are not migrated");
        } finally {
            dst.destroy();
            src.destroy();
        }
    }

    @Test
    void pamFlipsBetweenPrecopyRoundsAreMigrated() {
        Board src = new Board(true);
        Board dst = new Board(true);
        try {
            src.load(11);
            BoardMigration mig = new BoardMigration(src, dst, () -> { });
            mig.start();
            mig.round(false);
            long biosShadow = Pam.BASE + 9 * Pam.SEGMENT; // 0xe4000, under isa-bios
            long romShadow = Pam.BASE + 2 * Pam.SEGMENT;  // 0xc8000, under pc.rom
            src.pam.set(Pam.with(0, 9, Pam.RAM));
            assertEquals(0, src.memory.stqLe(biosShadow, 0x1111L));
            mig.round(false);
            src.pam.set(Pam.with(Pam.with(0, 9, Pam.RAM_READ_ONLY), 2, Pam.READ_ROM_WRITE_RAM));
            src.memory.stqLe(romShadow, 0x2222L);      // written to RAM
            new SoftTlbCpu(src.memory).stq(biosShadow, 0x3333L); // a CPU store: dropped (TLB_DISCARD_WRITE)
            assertEquals(0x2222L, src.ram.ramBlock().segment().get(ValueLayout.JAVA_LONG, romShadow));
            mig.round(false);
            src.memory.stlLe(Board.CHIPSET_BASE + Chipset.REG_SMRAM, Chipset.D_OPEN);
            mig.finish();
            BoardCompare.assertSameMachine(src, dst, "after PAM flips");
            assertEquals(0x1111L, dst.memory.ldqLe(biosShadow), "shadow RAM, read-only on the destination");
            assertNotEquals(0x2222L, dst.memory.ldqLe(romShadow), "mode 2 reads the option ROM");
            assertEquals(src.optionRom.ramBlock().segment().get(ValueLayout.JAVA_LONG, 2 * Pam.SEGMENT),
                    dst.memory.ldqLe(romShadow));
            assertEquals(src.ram.ramBlock().segment().get(ValueLayout.JAVA_LONG, Board.VGA_BASE),
                    dst.memory.ldqLe(Board.VGA_BASE), "SMRAM open: the VGA window shows RAM");
        } finally {
            dst.destroy();
            src.destroy();
        }
    }
}
