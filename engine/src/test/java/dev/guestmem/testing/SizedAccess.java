package dev.guestmem.testing;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.tlb.VcpuTlb;

/**
 * One guest load or store of 1, 2, 4 or 8 bytes in either byte order, by size, through a
 * {@link VcpuTlb} or an {@link AddressSpace} (attributes unspecified): what the differential tests of
 * the TLB compare. Loads return the accessor's value widened as Java widens it (a 4-byte load is
 * sign-extended).
 */
public final class SizedAccess {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    private SizedAccess() {
    }

    /**
     * @param t the TLB
     * @param addr guest address
     * @param size 1, 2, 4 or 8
     * @param big big-endian
     * @return the value
     */
    public static long load(VcpuTlb t, long addr, int size, boolean big) {
        return switch (size) {
            case 1 -> t.ldub(addr);
            case 2 -> big ? t.lduwBe(addr) : t.lduwLe(addr);
            case 4 -> big ? t.ldlBe(addr) : t.ldlLe(addr);
            default -> big ? t.ldqBe(addr) : t.ldqLe(addr);
        };
    }

    /**
     * @param as the address space
     * @param addr guest address
     * @param size 1, 2, 4 or 8
     * @param big big-endian
     * @param r receives the result
     * @return the value
     */
    public static long load(AddressSpace as, long addr, int size, boolean big, MemTxResultHolder r) {
        return switch (size) {
            case 1 -> as.ldub(addr, U, r);
            case 2 -> big ? as.lduwBe(addr, U, r) : as.lduwLe(addr, U, r);
            case 4 -> big ? as.ldlBe(addr, U, r) : as.ldlLe(addr, U, r);
            default -> big ? as.ldqBe(addr, U, r) : as.ldqLe(addr, U, r);
        };
    }

    /**
     * @param t the TLB
     * @param addr guest address
     * @param size 1, 2, 4 or 8
     * @param big big-endian
     * @param v the value (its low {@code size} bytes)
     */
    public static void store(VcpuTlb t, long addr, int size, boolean big, long v) {
        switch (size) {
            case 1 -> t.stb(addr, (int) v);
            case 2 -> {
                if (big) {
                    t.stwBe(addr, (int) v);
                } else {
                    t.stwLe(addr, (int) v);
                }
            }
            case 4 -> {
                if (big) {
                    t.stlBe(addr, (int) v);
                } else {
                    t.stlLe(addr, (int) v);
                }
            }
            default -> {
                if (big) {
                    t.stqBe(addr, v);
                } else {
                    t.stqLe(addr, v);
                }
            }
        }
    }

    /**
     * @param as the address space
     * @param addr guest address
     * @param size 1, 2, 4 or 8
     * @param big big-endian
     * @param v the value (its low {@code size} bytes)
     * @return the {@link dev.guestmem.access.MemTxResult}
     */
    public static int store(AddressSpace as, long addr, int size, boolean big, long v) {
        return switch (size) {
            case 1 -> as.stb(addr, (int) v, U);
            case 2 -> big ? as.stwBe(addr, (int) v, U) : as.stwLe(addr, (int) v, U);
            case 4 -> big ? as.stlBe(addr, (int) v, U) : as.stlLe(addr, (int) v, U);
            default -> big ? as.stqBe(addr, v, U) : as.stqLe(addr, v, U);
        };
    }
}
