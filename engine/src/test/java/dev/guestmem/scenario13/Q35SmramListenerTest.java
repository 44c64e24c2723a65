package dev.guestmem.scenario13;

import static dev.guestmem.scenario13.Q35Mch.D_LCK;
import static dev.guestmem.scenario13.Q35Mch.D_OPEN;
import static dev.guestmem.scenario13.Q35Mch.ESMRAMC;
import static dev.guestmem.scenario13.Q35Mch.G_SMRAME;
import static dev.guestmem.scenario13.Q35Mch.H_SMRAME;
import static dev.guestmem.scenario13.Q35Mch.SMRAM;
import static dev.guestmem.scenario13.Q35Mch.T_EN;
import static dev.guestmem.scenario13.Q35Mch.TSEG_1M;
import static dev.guestmem.scenario13.Q35Mch.TSEG_8M;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a memslot listener on the normal space and one on the SMM space hear for each SMRAM register
 * write: exactly the ranges whose content changes (QEMU deletes a range whose extent changes and adds
 * the new one; ranges that merge with their neighbours change extent), and nothing for a write that
 * changes nothing.
 */
class Q35SmramListenerTest {
    @Test
    void eachToggleAddsAndDeletesExactlyWhatChanged() {
        try (Q35Machine m = new Q35Machine(true)) {
            RecordingListener normal = new RecordingListener("memory");
            RecordingListener smm = new RecordingListener("smm");
            m.sys.registerListener(normal, m.memory);
            m.sys.registerListener(smm, m.cpuSmm);
            normal.take();
            smm.take();

            // G_SMRAME: SMM's low SMRAM becomes RAM, merging with the RAM below it
            m.outConfigByte(SMRAM, G_SMRAME);
            assertEquals(List.of(), normal.take());
            assertEquals(List.of("smm: del pc.ram @0x0+0xa0000", "smm: del vga-lowmem @0xa0000+0x20000",
                    "smm: add pc.ram @0x0+0xc0000"), smm.take());

            // TSEG 1 MiB: the normal view gets the blackhole; SMM sees the RAM through tseg-window, unchanged
            m.outConfigByte(ESMRAMC, T_EN | TSEG_1M);
            assertEquals(List.of("memory: del pc.ram @0x100000+0x7f00000", "memory: add pc.ram @0x100000+0x7e00000",
                    "memory: add tseg-blackhole @0x7f00000+0x100000"), normal.take());
            assertEquals(List.of(), smm.take());

            // TSEG 8 MiB: the blackhole grows downwards
            m.outConfigByte(ESMRAMC, T_EN | TSEG_8M);
            assertEquals(List.of("memory: del pc.ram @0x100000+0x7e00000", "memory: del tseg-blackhole @0x7f00000+0x100000",
                    "memory: add pc.ram @0x100000+0x7700000", "memory: add tseg-blackhole @0x7800000+0x800000"),
                    normal.take());
            assertEquals(List.of(), smm.take());

            // D_OPEN: normal mode sees the low SMRAM's RAM
            m.outConfigByte(SMRAM, G_SMRAME | D_OPEN);
            assertEquals(List.of("memory: del pc.ram @0x0+0xa0000", "memory: del vga-lowmem @0xa0000+0x20000",
                    "memory: add pc.ram @0x0+0xc0000"), normal.take());
            assertEquals(List.of(), smm.take());

            // H_SMRAME while open: the low window shows the VGA again, RAM opens at 0xfeda0000 instead;
            // in SMM the SMRAM moves up from 0xa0000 to 0xfeda0000
            m.outConfigByte(ESMRAMC, H_SMRAME | T_EN | TSEG_8M);
            assertEquals(List.of("memory: del pc.ram @0x0+0xc0000", "memory: add pc.ram @0x0+0xa0000",
                    "memory: add vga-lowmem @0xa0000+0x20000", "memory: add pc.ram @0xfeda0000+0x20000"), normal.take());
            assertEquals(List.of("smm: del pc.ram @0x0+0xc0000", "smm: add pc.ram @0x0+0xa0000",
                    "smm: add vga-lowmem @0xa0000+0x20000", "smm: add pc.ram @0xfeda0000+0x20000"), smm.take());

            // the same value again: mch_update_smram re-runs, nothing changes
            m.outConfigByte(ESMRAMC, H_SMRAME | T_EN | TSEG_8M);
            m.outConfigByte(SMRAM, G_SMRAME | D_OPEN);
            assertEquals(List.of(), normal.take());
            assertEquals(List.of(), smm.take());

            // D_LCK closes the window; later writes change nothing
            m.outConfigByte(SMRAM, G_SMRAME | D_OPEN | D_LCK);
            assertEquals(List.of("memory: del pc.ram @0xfeda0000+0x20000"), normal.take());
            assertEquals(List.of(), smm.take());
            List<String> none = new ArrayList<>();
            m.outConfigByte(SMRAM, D_OPEN);
            m.outConfigByte(ESMRAMC, 0);
            none.addAll(normal.take());
            none.addAll(smm.take());
            assertEquals(List.of(), none);
        }
    }
}
