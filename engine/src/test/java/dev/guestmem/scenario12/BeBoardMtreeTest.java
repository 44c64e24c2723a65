package dev.guestmem.scenario12;

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
 * The board's {@code info mtree}, as QEMU prints it for the same tree (worked out from the layout in
 * {@link BeBoard}: QEMU's text has no byte order in it), and its import back to the same flat views.
 */
class BeBoardMtreeTest {
    @Test
    void infoMtree() {
        try (BeBoard b = new BeBoard()) {
            String text = MtreeWriter.write(MtreeDumper.dump(b.sys), MtreeDialect.PLAIN);
            assertEquals("""
                address-space: pci-memory
                  0000000000000000-000000000fffffff (prio 0, i/o): pci-mem
                    0000000000000000-0000000000000fff (prio 0, i/o): pci-nic
                    0000000000100000-000000000010ffff (prio 0, ram): pci-vram

                address-space: memory
                  0000000000000000-ffffffffffffffff (prio 0, i/o): system
                    0000000000000000-0000000000ffffff (prio 0, ram): ppc.ram
                    0000000080000000-000000008fffffff (prio 0, i/o): pci-swap-window
                    0000000090000000-000000009fffffff (prio 0, i/o): alias pci-direct @pci-mem 0000000000000000-000000000fffffff
                    00000000f0000000-00000000f00000ff (prio 0, i/o): be-regs
                    00000000f0001000-00000000f00010ff (prio 0, i/o): le-regs
                    00000000f0002000-00000000f00020ff (prio 0, i/o): native-regs
                    00000000f0003000-00000000f00030ff (prio 0, i/o): le-bytes
                    00000000f0004000-00000000f00040ff (prio 0, i/o): be-dma
                    00000000fffc0000-00000000ffffffff (prio 0, romd): ppc.flash

                memory-region: pci-mem
                  0000000000000000-000000000fffffff (prio 0, i/o): pci-mem
                    0000000000000000-0000000000000fff (prio 0, i/o): pci-nic
                    0000000000100000-000000000010ffff (prio 0, ram): pci-vram

                """, text);
            assertEquals("""
                FlatView #0
                 AS "pci-memory", root: pci-mem
                 Root memory region: pci-mem
                  0000000000000000-0000000000000fff (prio 0, i/o): pci-nic
                  0000000000100000-000000000010ffff (prio 0, ram): pci-vram

                FlatView #1
                 AS "memory", root: system
                 Root memory region: system
                  0000000000000000-0000000000ffffff (prio 0, ram): ppc.ram
                  0000000080000000-000000008fffffff (prio 0, i/o): pci-swap-window
                  0000000090000000-0000000090000fff (prio 0, i/o): pci-nic
                  0000000090100000-000000009010ffff (prio 0, ram): pci-vram
                  00000000f0000000-00000000f00000ff (prio 0, i/o): be-regs
                  00000000f0001000-00000000f00010ff (prio 0, i/o): le-regs
                  00000000f0002000-00000000f00020ff (prio 0, i/o): native-regs
                  00000000f0003000-00000000f00030ff (prio 0, i/o): le-bytes
                  00000000f0004000-00000000f00040ff (prio 0, i/o): be-dma
                  00000000fffc0000-00000000ffffffff (prio 0, romd): ppc.flash

                """, FlatViewPrinter.print(b.sys));
            b.memory.stw(BeBoard.FLASH, BeFlash.CMD_STATUS); // out of ROMD mode, then the import again
            String annotated = MtreeWriter.write(MtreeDumper.dump(b.sys), MtreeDialect.ANNOTATED);
            try (MtreeImport imp = MtreeImporter.importDocument(MtreeParser.parse(annotated))) {
                assertEquals(FlatViewPrinter.print(b.sys), FlatViewPrinter.print(imp.system()), annotated);
            }
        }
    }
}
