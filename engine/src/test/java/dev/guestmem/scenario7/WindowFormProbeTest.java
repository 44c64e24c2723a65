package dev.guestmem.scenario7;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The guide's window form hands a JIT slices it may write without asking: with migration logging on,
 * no page that is ROM, a ROM device, or read-only RAM (a PAM read-only segment, isa-bios) may offer a
 * {@code write()} or {@code loggedWrite()} slice; plain RAM must offer {@code loggedWrite()}.
 */
class WindowFormProbeTest {
    @Test
    void onlyWritableRamOffersAWritableSliceWhileMigrating() {
        Board b = new Board(true);
        try {
            b.pam.set(Pam.with(Pam.with(0, 1, Pam.RAM_READ_ONLY), 2, Pam.RAM));
            for (boolean logging : new boolean[] {false, true}) {
                if (logging) {
                    b.sys.globalDirtyLogStart();
                }
                List<String> wrong = new ArrayList<>();
                check(b, Board.FLASH_BASE, false, wrong, "flash (ROMD)");
                check(b, Board.ISA_BIOS_BASE + 0x10000, false, wrong, "isa-bios under PAM mode 0");
                check(b, Pam.BASE, false, wrong, "pc.rom under PAM mode 0");
                check(b, Pam.BASE + Pam.SEGMENT, false, wrong, "PAM read-only RAM");
                check(b, Pam.BASE + 2 * Pam.SEGMENT, true, wrong, "PAM RAM");
                check(b, 0x100000, true, wrong, "RAM");
                check(b, Board.ABOVE_4G_BASE, true, wrong, "RAM above 4 GiB");
                assertEquals(List.of(), wrong, "logging " + logging);
            }
        } finally {
            b.sys.globalDirtyLogStop();
            b.destroy();
        }
    }

    private static void check(Board b, long addr, boolean writable, List<String> wrong, String what) {
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(b.memory, addr, e);
        DirectWindow w = e.window();
        boolean offers = w.write().byteSize() > 0 || w.loggedWrite().byteSize() > 0;
        if (offers != writable) {
            wrong.add(what + ": " + w + " flags " + e.flags());
        }
    }
}
