package dev.guestmem.scenario7;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Firmware runs from the flash: code a JIT translated from a flash page is invalidated when the flash
 * programs or erases that page (the device's {@code flushRomDevice}), through either mapping; and a
 * loader's {@code writeRom} into the flash or the option ROM while migrating is logged.
 */
class FlashCodeAndLoaderTest {
    @Test
    void programmingTheFlashInvalidatesCodeTranslatedFromIt() {
        Board b = new Board(true);
        try {
            DirtyMemory dirty = b.sys.dirtyMemory();
            List<Long> dropped = new ArrayList<>();
            dirty.setCodeInvalidator((ramAddr, length) -> {
                dropped.add(ramAddr & ~0xfffL);
                dirty.setDirtyRange(ramAddr & ~0xfffL, 4096, DirtyMemory.MASK_CODE);
            });
            TlbEntry high = new TlbEntry();
            GuestTlb.fill(b.memory, Board.FLASH_BASE + 0x3f000, high);   // the reset vector's page
            TlbEntry low = new TlbEntry();
            GuestTlb.fill(b.memory, 0xff000, low);                       // the same page through isa-bios
            assertEquals(high.ramAddr(), low.ramAddr(), "one flash page, two mappings");
            dirty.resetDirty(high.ramAddr(), 4096, DirtyMemory.DIRTY_MEMORY_CODE); // tlb_protect_code

            b.memory.stb(Board.FLASH_BASE + 0x3f010, CfiFlash.CMD_PROGRAM);
            b.memory.stb(Board.FLASH_BASE + 0x3f010, 0x00);
            b.memory.stb(Board.FLASH_BASE, CfiFlash.CMD_READ_ARRAY);
            assertEquals(List.of(high.ramAddr()), dropped, "the translations of the page are dropped");
        } finally {
            b.destroy();
        }
    }

    @Test
    void aLoadersWriteRomWhileMigratingIsLogged() {
        Board b = new Board(true);
        try {
            DirtyMemory dirty = b.sys.dirtyMemory();
            b.sys.globalDirtyLogStart();
            for (RamBlock blk : b.sys.ramList().blocks()) {
                dirty.snapshotAndClearDirty(blk.offset(), blk.usedLength(), DirtyMemory.DIRTY_MEMORY_MIGRATION);
            }
            byte[] image = {1, 2, 3, 4};
            assertEquals(0, b.memory.writeRom(Board.FLASH_BASE + 0x5000, MemTxAttrs.UNSPECIFIED, image, 0, 4));
            assertEquals(0, b.memory.writeRom(Board.OPTION_ROM_BASE + 0x7000, MemTxAttrs.UNSPECIFIED, image, 0, 4));
            assertEquals(1, b.memory.ldub(Board.FLASH_BASE + 0x5000));
            assertTrue(dirtyPage(b, b.flash.region().ramBlock(), 0x5000), "flash page logged");
            assertTrue(dirtyPage(b, b.optionRom.ramBlock(), 0x7000), "option ROM page logged");
        } finally {
            b.sys.globalDirtyLogStop();
            b.destroy();
        }
    }

    private static boolean dirtyPage(Board b, RamBlock blk, long off) {
        DirtyBitmapSnapshot s = b.sys.dirtyMemory().snapshotAndClearDirty(blk.offset(), blk.usedLength(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION);
        return s.nextDirtyPage(blk.offset()) == blk.offset() + off;
    }
}
