package dev.guestmem.scenario13;

import static dev.guestmem.scenario13.TzBoard.NON_SECURE;
import static dev.guestmem.scenario13.TzBoard.SSRAM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import dev.guestmem.tlb.VcpuTlb;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * The MPC's two orders: the port's (write the LUT, then notify) and QEMU's {@code tz_mpc_reg_write}
 * (notify, then write the LUT). An UNMAP moves the TLB generation at once, so in QEMU's order another
 * vCPU that refills between the event and the table write caches the old answer under the new
 * generation; because the LUT write happens inside the secure firmware's MMIO write that notified,
 * the engine moves the generation once more when that write returns, and the entry is stale. The
 * refill is made from the MAP callback, i.e. after the UNMAPs, as a second vCPU thread may.
 */
class TzMpcNotifyOrderTest {
    @Test
    void tableFirstThenNotifyLeavesNoStaleEntry() {
        Race r = refillDuringNotification(false);
        assertFalse(r.directInWindow, "table first: the racing refill sees block 0 secure");
    }

    @Test
    void qemusNotifyFirstOrderLeavesNoStaleEntryOnceTheRegisterWriteReturns() {
        Race r = refillDuringNotification(true);
        assertTrue(r.directInWindow, "QEMU's order: the racing refill cached the old answer");
        assertFalse(r.currentAfterWrite, "the register write's return moved the generation past that entry");
    }

    @Test
    void qemusNotifyFirstOrderLeavesAVcpuTlbNoOldEntryAfterItsNextBlockEntry() {
        try (TzBoard b = new TzBoard();
             VcpuTlb tlb = new VcpuTlb(b.nsSpace, NON_SECURE, (a, s, w, r) -> { })) {
            b.setLutWord(0, 0b1);                                 // block 0: non-secure
            b.ssram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x5ec4e7);
            tlb.enterBlock();
            assertEquals(0x5ec4e7, tlb.ldlLe(SSRAM));
            int[] inWindow = new int[1];
            b.mpc.upstream().notifiers().register(new IommuNotifier((n, e) -> { // the vCPU runs a block now
                tlb.enterBlock();
                inWindow[0] = tlb.ldlLe(SSRAM);
            }, IommuNotifier.MAP, 0, TzBoard.SSRAM_SIZE - 1, TzMpc.IDX_NS));
            b.mpc.notifyBeforeUpdate = true;
            int blocked = b.mpc.blockedCount();
            b.setLutWord(0, 0);                                   // the secure firmware takes block 0 back
            assertEquals(0x5ec4e7, inWindow[0], "the window's load refilled from the old LUT");
            tlb.enterBlock();
            assertEquals(0, tlb.ldlLe(SSRAM), "blocked: reads zero");
            assertEquals(blocked + 1, b.mpc.blockedCount(), "through the MPC's blocked region");
        }
    }

    /** What the racing refill cached, and whether it still passed the generation check afterwards. */
    private record Race(boolean directInWindow, boolean currentAfterWrite) {
    }

    private static Race refillDuringNotification(boolean qemuOrder) {
        try (TzBoard b = new TzBoard()) {
            b.setLutWord(0, 0b1);                                 // block 0: non-secure
            b.ssram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x5ec4e7);
            TlbEntry racing = new TlbEntry();
            assertTrue(GuestTlb.fill(b.nsSpace, SSRAM, NON_SECURE, racing)); // the TLB watches the NS context
            b.mpc.upstream().notifiers().register(new IommuNotifier(
                    (n, e) -> GuestTlb.fill(b.nsSpace, SSRAM, NON_SECURE, racing), // another vCPU refills now
                    IommuNotifier.MAP, 0, TzBoard.SSRAM_SIZE - 1, TzMpc.IDX_NS));
            b.mpc.notifyBeforeUpdate = qemuOrder;
            b.setLutWord(0, 0);                                   // the secure firmware takes block 0 back
            if (racing.readDirect()) {                            // what that vCPU would read
                assertEquals(0x5ec4e7, racing.segment().get(ValueLayout.JAVA_INT_UNALIGNED, racing.hostOffset()));
            }
            return new Race(racing.readDirect(), racing.generation() == b.nsSpace.generation());
        }
    }
}
