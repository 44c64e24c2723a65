package dev.guestmem.access;

import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.mmio.MmioDispatch;
import java.util.Objects;

/**
 * QEMU's {@code memory_ldst.c.inc} family for an {@link AddressSpace}: loads and stores of 1, 2, 4
 * and 8 bytes in the target's, little and big byte order ({@code ldub}, {@code lduwLe},
 * {@code ldlBe}, {@code stqLe}...), each with and without {@link MemTxAttrs} and a
 * {@link MemTxResultHolder}. The target's order, that of the unsuffixed forms ({@code ldl},
 * {@code stq}: QEMU's {@code ldl_p}), is the system's {@link dev.guestmem.MemorySystem#targetOrder()},
 * the host's unless the system was created for another.
 *
 * <p>Kept apart from {@link AddressSpace} so that class holds the space itself (view, publication,
 * buffers, DMA) and this one the accessor surface. Each variant is one call into {@code LdSt}'s
 * shared per-width implementation with a {@code static final} byte-order layout, so C2 inlines it
 * with the byte order constant-folded for the suffixed forms; the unsuffixed ones read the space's
 * final target-order flag, one load and a predictable branch (hot path: TARGETS P1, P2, P4, P8).
 *
 * <p><b>Thread safety.</b> As {@link AddressSpace}: any number of threads, no locks, no allocation.
 */
public sealed interface LoadStoreAccessors permits AddressSpace {

    /** @return this, as the address space it is (the only permitted implementation) */
    private AddressSpace self() {
        return (AddressSpace) this;
    }


    /**
     * Loads 1 byte ({@code address_space_ldub}), attributes unspecified, result discarded.
     *
     * @param addr guest address (unsigned)
     * @return the value (zero-extended), 0 on error
     */
    default int ldub(long addr) {
        return ldub(addr, MemTxAttrs.UNSPECIFIED, null);
    }

    /**
     * Loads 1 byte ({@code address_space_ldub}).
     *
     * @param addr guest address (unsigned)
     * @param attrs transaction attributes
     * @param result receives the {@link MemTxResult}, or null
     * @return the value (zero-extended), 0 on error
     * @implNote Hot path (P1): allocation-free, lock-free; see the address space's fast window.
     */
    default int ldub(long addr, MemTxAttrs attrs, MemTxResultHolder result) {
        return LdSt.ld8(self(), addr, attrs, result);
    }

    /**
     * Stores 1 byte ({@code address_space_stb}), attributes unspecified.
     *
     * @param addr guest address (unsigned)
     * @param val low 8 bits used
     * @return a {@link MemTxResult}
     */
    default int stb(long addr, int val) {
        return stb(addr, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 1 byte ({@code address_space_stb}).
     *
     * @param addr guest address (unsigned)
     * @param val low 8 bits used
     * @param attrs transaction attributes
     * @return a {@link MemTxResult}
     * @implNote Hot path (P1, P8): allocation-free, lock-free; direct when the fast window is
     *     writable RAM (marking dirty pages when it is logged), else the full dispatch.
     */
    default int stb(long addr, int val, MemTxAttrs attrs) {
        return LdSt.st8(self(), addr, val, attrs);
    }

    /**
     * Loads 2 bytes in the target's byte order ({@code address_space_lduw}), attributes unspecified, result discarded.
     *
     * @param addr guest address (unsigned)
     * @return the value (zero-extended), 0 on error
     */
    default int lduw(long addr) {
        return lduw(addr, MemTxAttrs.UNSPECIFIED, null);
    }

    /**
     * Loads 2 bytes in the target's byte order ({@code address_space_lduw}).
     *
     * @param addr guest address (unsigned)
     * @param attrs transaction attributes
     * @param result receives the {@link MemTxResult}, or null
     * @return the value (zero-extended), 0 on error
     * @implNote Hot path (P1): allocation-free, lock-free; see the address space's fast window.
     */
    default int lduw(long addr, MemTxAttrs attrs, MemTxResultHolder result) {
        return LdSt.ld16(self(), addr, self().targetBig(), attrs, result);
    }

    /**
     * Stores 2 bytes in the target's byte order ({@code address_space_stw}), attributes unspecified.
     *
     * @param addr guest address (unsigned)
     * @param val low 16 bits used
     * @return a {@link MemTxResult}
     */
    default int stw(long addr, int val) {
        return stw(addr, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 2 bytes in the target's byte order ({@code address_space_stw}).
     *
     * @param addr guest address (unsigned)
     * @param val low 16 bits used
     * @param attrs transaction attributes
     * @return a {@link MemTxResult}
     * @implNote Hot path (P1, P8): allocation-free, lock-free; direct when the fast window is
     *     writable RAM (marking dirty pages when it is logged), else the full dispatch.
     */
    default int stw(long addr, int val, MemTxAttrs attrs) {
        return LdSt.st16(self(), addr, val, self().targetBig(), attrs);
    }

    /**
     * Loads 2 bytes little-endian ({@code address_space_lduw_le}), attributes unspecified, result discarded.
     *
     * @param addr guest address (unsigned)
     * @return the value (zero-extended), 0 on error
     */
    default int lduwLe(long addr) {
        return lduwLe(addr, MemTxAttrs.UNSPECIFIED, null);
    }

    /**
     * Loads 2 bytes little-endian ({@code address_space_lduw_le}).
     *
     * @param addr guest address (unsigned)
     * @param attrs transaction attributes
     * @param result receives the {@link MemTxResult}, or null
     * @return the value (zero-extended), 0 on error
     * @implNote Hot path (P1): allocation-free, lock-free; see the address space's fast window.
     */
    default int lduwLe(long addr, MemTxAttrs attrs, MemTxResultHolder result) {
        return LdSt.ld16(self(), addr, false, attrs, result);
    }

    /**
     * Stores 2 bytes little-endian ({@code address_space_stw_le}), attributes unspecified.
     *
     * @param addr guest address (unsigned)
     * @param val low 16 bits used
     * @return a {@link MemTxResult}
     */
    default int stwLe(long addr, int val) {
        return stwLe(addr, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 2 bytes little-endian ({@code address_space_stw_le}).
     *
     * @param addr guest address (unsigned)
     * @param val low 16 bits used
     * @param attrs transaction attributes
     * @return a {@link MemTxResult}
     * @implNote Hot path (P1, P8): allocation-free, lock-free; direct when the fast window is
     *     writable RAM (marking dirty pages when it is logged), else the full dispatch.
     */
    default int stwLe(long addr, int val, MemTxAttrs attrs) {
        return LdSt.st16(self(), addr, val, false, attrs);
    }

    /**
     * Loads 2 bytes big-endian ({@code address_space_lduw_be}), attributes unspecified, result discarded.
     *
     * @param addr guest address (unsigned)
     * @return the value (zero-extended), 0 on error
     */
    default int lduwBe(long addr) {
        return lduwBe(addr, MemTxAttrs.UNSPECIFIED, null);
    }

    /**
     * Loads 2 bytes big-endian ({@code address_space_lduw_be}).
     *
     * @param addr guest address (unsigned)
     * @param attrs transaction attributes
     * @param result receives the {@link MemTxResult}, or null
     * @return the value (zero-extended), 0 on error
     * @implNote Hot path (P1): allocation-free, lock-free; see the address space's fast window.
     */
    default int lduwBe(long addr, MemTxAttrs attrs, MemTxResultHolder result) {
        return LdSt.ld16(self(), addr, true, attrs, result);
    }

    /**
     * Stores 2 bytes big-endian ({@code address_space_stw_be}), attributes unspecified.
     *
     * @param addr guest address (unsigned)
     * @param val low 16 bits used
     * @return a {@link MemTxResult}
     */
    default int stwBe(long addr, int val) {
        return stwBe(addr, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 2 bytes big-endian ({@code address_space_stw_be}).
     *
     * @param addr guest address (unsigned)
     * @param val low 16 bits used
     * @param attrs transaction attributes
     * @return a {@link MemTxResult}
     * @implNote Hot path (P1, P8): allocation-free, lock-free; direct when the fast window is
     *     writable RAM (marking dirty pages when it is logged), else the full dispatch.
     */
    default int stwBe(long addr, int val, MemTxAttrs attrs) {
        return LdSt.st16(self(), addr, val, true, attrs);
    }

    /**
     * Loads 4 bytes in the target's byte order ({@code address_space_ldl}), attributes unspecified, result discarded.
     *
     * @param addr guest address (unsigned)
     * @return the value, 0 on error
     */
    default int ldl(long addr) {
        return ldl(addr, MemTxAttrs.UNSPECIFIED, null);
    }

    /**
     * Loads 4 bytes in the target's byte order ({@code address_space_ldl}).
     *
     * @param addr guest address (unsigned)
     * @param attrs transaction attributes
     * @param result receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     * @implNote Hot path (P1): allocation-free, lock-free; see the address space's fast window.
     */
    default int ldl(long addr, MemTxAttrs attrs, MemTxResultHolder result) {
        return LdSt.ld32(self(), addr, self().targetBig(), attrs, result);
    }

    /**
     * Stores 4 bytes in the target's byte order ({@code address_space_stl}), attributes unspecified.
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @return a {@link MemTxResult}
     */
    default int stl(long addr, int val) {
        return stl(addr, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 4 bytes in the target's byte order ({@code address_space_stl}).
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @param attrs transaction attributes
     * @return a {@link MemTxResult}
     * @implNote Hot path (P1, P8): allocation-free, lock-free; direct when the fast window is
     *     writable RAM (marking dirty pages when it is logged), else the full dispatch.
     */
    default int stl(long addr, int val, MemTxAttrs attrs) {
        return LdSt.st32(self(), addr, val, self().targetBig(), attrs);
    }

    /**
     * Loads 4 bytes little-endian ({@code address_space_ldl_le}), attributes unspecified, result discarded.
     *
     * @param addr guest address (unsigned)
     * @return the value, 0 on error
     */
    default int ldlLe(long addr) {
        return ldlLe(addr, MemTxAttrs.UNSPECIFIED, null);
    }

    /**
     * Loads 4 bytes little-endian ({@code address_space_ldl_le}).
     *
     * @param addr guest address (unsigned)
     * @param attrs transaction attributes
     * @param result receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     * @implNote Hot path (P1): allocation-free, lock-free; see the address space's fast window.
     */
    default int ldlLe(long addr, MemTxAttrs attrs, MemTxResultHolder result) {
        return LdSt.ld32(self(), addr, false, attrs, result);
    }

    /**
     * Stores 4 bytes little-endian ({@code address_space_stl_le}), attributes unspecified.
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @return a {@link MemTxResult}
     */
    default int stlLe(long addr, int val) {
        return stlLe(addr, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 4 bytes little-endian ({@code address_space_stl_le}).
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @param attrs transaction attributes
     * @return a {@link MemTxResult}
     * @implNote Hot path (P1, P8): allocation-free, lock-free; direct when the fast window is
     *     writable RAM (marking dirty pages when it is logged), else the full dispatch.
     */
    default int stlLe(long addr, int val, MemTxAttrs attrs) {
        return LdSt.st32(self(), addr, val, false, attrs);
    }

    /**
     * Loads 4 bytes big-endian ({@code address_space_ldl_be}), attributes unspecified, result discarded.
     *
     * @param addr guest address (unsigned)
     * @return the value, 0 on error
     */
    default int ldlBe(long addr) {
        return ldlBe(addr, MemTxAttrs.UNSPECIFIED, null);
    }

    /**
     * Loads 4 bytes big-endian ({@code address_space_ldl_be}).
     *
     * @param addr guest address (unsigned)
     * @param attrs transaction attributes
     * @param result receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     * @implNote Hot path (P1): allocation-free, lock-free; see the address space's fast window.
     */
    default int ldlBe(long addr, MemTxAttrs attrs, MemTxResultHolder result) {
        return LdSt.ld32(self(), addr, true, attrs, result);
    }

    /**
     * Stores 4 bytes big-endian ({@code address_space_stl_be}), attributes unspecified.
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @return a {@link MemTxResult}
     */
    default int stlBe(long addr, int val) {
        return stlBe(addr, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 4 bytes big-endian ({@code address_space_stl_be}).
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @param attrs transaction attributes
     * @return a {@link MemTxResult}
     * @implNote Hot path (P1, P8): allocation-free, lock-free; direct when the fast window is
     *     writable RAM (marking dirty pages when it is logged), else the full dispatch.
     */
    default int stlBe(long addr, int val, MemTxAttrs attrs) {
        return LdSt.st32(self(), addr, val, true, attrs);
    }

    /**
     * Loads 8 bytes in the target's byte order ({@code address_space_ldq}), attributes unspecified, result discarded.
     *
     * @param addr guest address (unsigned)
     * @return the value, 0 on error
     */
    default long ldq(long addr) {
        return ldq(addr, MemTxAttrs.UNSPECIFIED, null);
    }

    /**
     * Loads 8 bytes in the target's byte order ({@code address_space_ldq}).
     *
     * @param addr guest address (unsigned)
     * @param attrs transaction attributes
     * @param result receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     * @implNote Hot path (P1): allocation-free, lock-free; see the address space's fast window.
     */
    default long ldq(long addr, MemTxAttrs attrs, MemTxResultHolder result) {
        return LdSt.ld64(self(), addr, self().targetBig(), attrs, result);
    }

    /**
     * Stores 8 bytes in the target's byte order ({@code address_space_stq}), attributes unspecified.
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @return a {@link MemTxResult}
     */
    default int stq(long addr, long val) {
        return stq(addr, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 8 bytes in the target's byte order ({@code address_space_stq}).
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @param attrs transaction attributes
     * @return a {@link MemTxResult}
     * @implNote Hot path (P1, P8): allocation-free, lock-free; direct when the fast window is
     *     writable RAM (marking dirty pages when it is logged), else the full dispatch.
     */
    default int stq(long addr, long val, MemTxAttrs attrs) {
        return LdSt.st64(self(), addr, val, self().targetBig(), attrs);
    }

    /**
     * Loads 8 bytes little-endian ({@code address_space_ldq_le}), attributes unspecified, result discarded.
     *
     * @param addr guest address (unsigned)
     * @return the value, 0 on error
     */
    default long ldqLe(long addr) {
        return ldqLe(addr, MemTxAttrs.UNSPECIFIED, null);
    }

    /**
     * Loads 8 bytes little-endian ({@code address_space_ldq_le}).
     *
     * @param addr guest address (unsigned)
     * @param attrs transaction attributes
     * @param result receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     * @implNote Hot path (P1): allocation-free, lock-free; see the address space's fast window.
     */
    default long ldqLe(long addr, MemTxAttrs attrs, MemTxResultHolder result) {
        return LdSt.ld64(self(), addr, false, attrs, result);
    }

    /**
     * Stores 8 bytes little-endian ({@code address_space_stq_le}), attributes unspecified.
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @return a {@link MemTxResult}
     */
    default int stqLe(long addr, long val) {
        return stqLe(addr, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 8 bytes little-endian ({@code address_space_stq_le}).
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @param attrs transaction attributes
     * @return a {@link MemTxResult}
     * @implNote Hot path (P1, P8): allocation-free, lock-free; direct when the fast window is
     *     writable RAM (marking dirty pages when it is logged), else the full dispatch.
     */
    default int stqLe(long addr, long val, MemTxAttrs attrs) {
        return LdSt.st64(self(), addr, val, false, attrs);
    }

    /**
     * Loads 8 bytes big-endian ({@code address_space_ldq_be}), attributes unspecified, result discarded.
     *
     * @param addr guest address (unsigned)
     * @return the value, 0 on error
     */
    default long ldqBe(long addr) {
        return ldqBe(addr, MemTxAttrs.UNSPECIFIED, null);
    }

    /**
     * Loads 8 bytes big-endian ({@code address_space_ldq_be}).
     *
     * @param addr guest address (unsigned)
     * @param attrs transaction attributes
     * @param result receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     * @implNote Hot path (P1): allocation-free, lock-free; see the address space's fast window.
     */
    default long ldqBe(long addr, MemTxAttrs attrs, MemTxResultHolder result) {
        return LdSt.ld64(self(), addr, true, attrs, result);
    }

    /**
     * Stores 8 bytes big-endian ({@code address_space_stq_be}), attributes unspecified.
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @return a {@link MemTxResult}
     */
    default int stqBe(long addr, long val) {
        return stqBe(addr, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 8 bytes big-endian ({@code address_space_stq_be}).
     *
     * @param addr guest address (unsigned)
     * @param val the value
     * @param attrs transaction attributes
     * @return a {@link MemTxResult}
     * @implNote Hot path (P1, P8): allocation-free, lock-free; direct when the fast window is
     *     writable RAM (marking dirty pages when it is logged), else the full dispatch.
     */
    default int stqBe(long addr, long val, MemTxAttrs attrs) {
        return LdSt.st64(self(), addr, val, true, attrs);
    }

    /**
     * QEMU's {@code io_readx}: a load that a soft TLB found to be MMIO of {@code section}, the
     * section its fill looked up ({@link dev.guestmem.tlb.TlbEntry#ioSection()}), made without
     * looking {@code addr} up again, so that each device's page keeps its own entry where the
     * address space has one fast MMIO slot. The load is the one of the view the section came from:
     * one plain call of the device when the section serves it with one (size, alignment, whole
     * access inside the section), else the full dispatch of {@code addr} on the current view, which
     * also answers a section that does not cover {@code addr} or belongs to another machine. A
     * section of another address space of this machine is not detected (a section does not know its
     * space): it reaches the device that space maps there ({@code IoTlbReviewTest}'s gated probe).
     * The access is taken whole, as {@code io_readx} took it: a vCPU splits an unaligned or
     * page-crossing access into TCG's aligned pieces first, as {@link dev.guestmem.tlb.VcpuTlb} does
     * (the device then sees only aligned accesses).
     *
     * @param section a section of this space's dispatch (a TLB entry's), not null
     * @param addr guest address (unsigned)
     * @param size 1, 2, 4 or 8
     * @param bigEndian whether the access is big-endian
     * @param attrs transaction attributes
     * @param result receives the {@link MemTxResult}, or null
     * @return the value, zero-extended; 0 on error
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8
     * @implNote Allocation-free and lock-free (the device's callback aside).
     */
    default long ioLoad(PhysSection section, long addr, int size, boolean bigEndian, MemTxAttrs attrs,
                        MemTxResultHolder result) {
        Objects.requireNonNull(section, "section");
        checkSize(size);
        return LdSt.ioLoad(self(), section, addr, size, bigEndian, attrs, result);
    }

    /**
     * QEMU's {@code io_writex}: a store that a soft TLB found to be MMIO of {@code section} (see
     * {@link #ioLoad}), sent to the device as the full dispatch sends it (the whole access to the
     * region of its first byte, with its eventfds, coalesced-MMIO flush and re-entrancy guard)
     * without looking {@code addr} up again; a section that is not device-only
     * ({@link PhysSection#isDeviceOnly()}), does not hold {@code addr} or belongs to another machine
     * leaves the store to the full dispatch of {@code addr}.
     *
     * @param section a section of this space's dispatch (a TLB entry's), not null
     * @param addr guest address (unsigned)
     * @param size 1, 2, 4 or 8
     * @param bigEndian whether the access is big-endian
     * @param value the value (its low {@code size} bytes are stored)
     * @param attrs transaction attributes
     * @return a {@link MemTxResult}
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8
     * @implNote Allocation-free and lock-free (the device's callback aside).
     */
    default int ioStore(PhysSection section, long addr, int size, boolean bigEndian, long value, MemTxAttrs attrs) {
        Objects.requireNonNull(section, "section");
        checkSize(size);
        return LdSt.ioStore(self(), section, addr, size, bigEndian, MmioDispatch.truncate(value, size), attrs);
    }

    private static void checkSize(int size) {
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            throw new IllegalArgumentException("access size " + size + ": 1, 2, 4 or 8");
        }
    }
}
