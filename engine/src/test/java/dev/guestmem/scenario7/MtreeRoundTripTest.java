package dev.guestmem.scenario7;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.debug.FlatViewPrinter;
import dev.guestmem.debug.MtreeDialect;
import dev.guestmem.debug.MtreeDumper;
import dev.guestmem.debug.MtreeImport;
import dev.guestmem.debug.MtreeImporter;
import dev.guestmem.debug.MtreeParser;
import dev.guestmem.debug.MtreeWriter;
import org.junit.jupiter.api.Test;

/**
 * The board's annotated {@code info mtree} text, imported again, renders the board's flat views in
 * every PAM, SMRAM and flash mode. (The plain and {@code -D} texts cannot: like QEMU's, they do not
 * say that an alias is read-only, so {@code isa-bios} comes back writable, "romd" instead of "rom".)
 */
class MtreeRoundTripTest {
    @Test
    void theBoardsMtreeImportsToTheSameFlatViews() {
        Board b = new Board(true);
        try {
            for (int step = 0; step < 3; step++) {
                if (step == 1) {
                    b.pam.set(Pam.with(Pam.with(Pam.with(0, 1, Pam.RAM_READ_ONLY), 2, Pam.RAM), 9, Pam.RAM));
                    b.chipset.setSmram(Chipset.D_OPEN);
                }
                if (step == 2) {
                    b.memory.stb(Board.FLASH_BASE, CfiFlash.CMD_STATUS);
                }
                String text = MtreeWriter.write(MtreeDumper.dump(b.sys), MtreeDialect.ANNOTATED);
                try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(text))) {
                    assertEquals(FlatViewPrinter.print(b.sys), FlatViewPrinter.print(imp.system()), "step " + step + "\n" + text);
                }
            }
        } finally {
            b.destroy();
        }
    }
}
