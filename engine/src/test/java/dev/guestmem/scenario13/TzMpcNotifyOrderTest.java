package dev.guestmem.scenario13;

import static dev.guestmem.scenario13.TzBoard.NON_SECURE;
import static dev.guestmem.scenario13.TzBoard.SSRAM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * Why the port's MPC writes its LUT before it notifies, where QEMU's {@code tz_mpc_reg_write}
 * notifies first: here an UNMAP moves the TLB generation at once, so another vCPU that refills
 * between the event and the table write caches the old answer under the new generation, and keeps
 * it. The refill is made from the MAP callback, i.e. after the UNMAPs, as a second vCPU thread may.
 */
class TzMpcNotifyOrderTest {
    @Test
    void tableFirstThenNotifyLeavesNoStaleEntry() {
        assertFalse(refillDuringNotificationIsDirect(false), "table first: the racing refill sees block 0 secure");
    }

    @Test
    void qemusNotifyFirstOrderWouldLeaveTheNonSecureWorldADirectEntry() {
        assertTrue(refillDuringNotificationIsDirect(true), "QEMU's order: the racing refill caches the old answer");
    }

    private static boolean refillDuringNotificationIsDirect(boolean qemuOrder) {
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
            boolean current = racing.generation() == b.nsSpace.generation();
            assertTrue(current, "no event after the refill: the entry passes the generation check");
            if (racing.readDirect()) {                            // what that vCPU then reads
                assertEquals(0x5ec4e7, racing.segment().get(ValueLayout.JAVA_INT_UNALIGNED, racing.hostOffset()));
            }
            return racing.readDirect();
        }
    }
}
