package dev.guestmem.scenario7;

import dev.guestmem.debug.FlatViewPrinter;
import dev.guestmem.debug.MtreeDialect;
import dev.guestmem.debug.MtreeDumper;
import dev.guestmem.debug.MtreeWriter;
import org.junit.jupiter.api.Test;

class PrintProbeTest {
    @Test
    void print() {
        Board b = new Board(true);
        try {
            b.pam.set(Pam.with(Pam.with(Pam.with(0, 1, Pam.RAM_READ_ONLY), 2, Pam.RAM), 3, Pam.READ_ROM_WRITE_RAM));
            System.out.print(FlatViewPrinter.print(b.sys));
            b.memory.stb(Board.FLASH_BASE, CfiFlash.CMD_STATUS);
            System.out.print(FlatViewPrinter.print(b.sys));
            System.out.print(MtreeWriter.write(MtreeDumper.dump(b.sys), MtreeDialect.PLAIN));
        } finally {
            b.destroy();
        }
    }
}
