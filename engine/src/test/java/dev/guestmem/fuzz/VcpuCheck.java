package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.testing.SizedAccess;
import dev.guestmem.tlb.VcpuTlb;

/**
 * {@code VcpuTlb}'s loads against the address space's, in whatever state the chain left the machine
 * (open transactions, a closed system, pages behind the IOMMU, grown RAM, ROM devices in either
 * mode): the TLB's miss and its hit must return what the space's load returns, and its fault hook
 * must hear exactly the failed ones. The TLB lives for one op, so it keeps no block referenced
 * across calls (the leak check at close stays exact).
 */
final class VcpuCheck {
    private VcpuCheck() {
    }

    /**
     * Runs the op.
     *
     * @param m the machine
     * @param l the op
     * @return "direct" when the TLB kept the page, else "slow" (for the audit)
     */
    static String load(FuzzMachine m, FuzzOp.VcpuLoad l) {
        AddressSpace as = m.space(l.space());
        long addr = AccessCheck.mappedPoint(as, l.point(), l.delta());
        int size = 1 << (l.size() & 3);
        boolean big = l.big();
        int[] faults = new int[2]; // count, last result
        MemTxResultHolder res = new MemTxResultHolder();
        long want = SizedAccess.load(as, addr, size, big, res);
        try (VcpuTlb tlb = new VcpuTlb(as, MemTxAttrs.UNSPECIFIED, (a, s, w, r) -> {
            faults[0]++;
            faults[1] = r;
        })) {
            for (int pass = 0; pass < 2; pass++) {
                faults[0] = 0;
                long got = SizedAccess.load(tlb, addr, size, big);
                String what = FuzzStep.where(m) + ": VcpuTlb load " + (pass == 0 ? "(miss)" : "(again)") + " of "
                        + size + " bytes at 0x" + Long.toHexString(addr) + " of '" + as.name() + "'";
                assertEquals(want, got, what);
                assertEquals(res.get() == MemTxResult.OK ? 0 : 1, faults[0], what + ": faults reported");
                if (faults[0] == 1) {
                    assertEquals(res.get(), faults[1], what + ": the fault's result");
                }
            }
            return tlb.fills() > 0 ? "direct" : "slow";
        }
    }
}
