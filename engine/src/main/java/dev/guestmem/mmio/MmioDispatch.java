package dev.guestmem.mmio;

import static dev.guestmem.internal.ByteOrderLayouts.HOST_BIG;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.ioeventfd.IoeventfdList;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MmioValue;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.invoke.MethodHandles;

/**
 * MMIO dispatch with QEMU's access-size rules ({@code system/memory.c}):
 * {@code memory_region_access_valid}, {@code access_with_adjusted_size}, {@code adjust_endianness},
 * the device re-entrancy guard, and {@code memory_access_size} for the buffer paths.
 *
 * <p>Rules, in order, for one guest access of {@code size} bytes at region offset {@code addr}:
 * <ol>
 * <li>Validity: {@code valid.accepts} may veto; if {@code !valid.unaligned} the offset must be a
 *     multiple of the size; if {@code valid.max != 0} the size must lie in
 *     {@code [valid.min, valid.max]}. Invalid: reads give 0, writes are dropped, result
 *     {@code DECODE_ERROR}, no byte swap.</li>
 * <li>Writes: the value is byte-swapped first when the access's endianness differs from the
 *     device's; then, if it matches one of the region's eventfds, the eventfd is signalled and the
 *     write ends with {@code OK} (no device call, no guard).</li>
 * <li>Re-entrancy guard (owner set, not opted out, not RAM/ROM device/read-only): a re-entry gives
 *     {@code ACCESS_ERROR} and one warning per device.</li>
 * <li>Splitting: {@code access = max(min(size, impl.max), impl.min)} (defaults 1 and 4); the device
 *     is called at {@code addr + i} for {@code i = 0, access, ...  < size}, with no realignment.
 *     Chunk {@code i} of a little-endian device lands at bit {@code 8i}; of a big-endian one at bit
 *     {@code 8(size - access - i)} (a negative shift shifts right, which is how an access narrower
 *     than {@code impl.min} takes the high end of a wider big-endian read). Results are ORed and all
 *     chunks run even after an error.</li>
 * <li>Reads: the value is cut to {@code size} bytes, then byte-swapped if the endianness differs.</li>
 * </ol>
 * A region with no read (write) callback at all answers {@code DECODE_ERROR} instead of QEMU's NULL
 * call (CVE-2020-15469). A callback that throws is reported as {@code MEMTX_ERROR}.
 *
 * <p><b>Checked and trusted entry points.</b> Every public static method applies these rules
 * itself, refuses sizes other than 1, 2, 4 and 8, and engages and releases the re-entrancy guard
 * as a pair on the calling thread, so no call through them reaches a device outside its rules or
 * leaves a guard engaged after it returns. (Code holding a region can still call its ops' callbacks
 * directly, and the guard records one thread: while one thread is inside a device, by a slow
 * callback or on purpose, a re-entry by another thread is not detected. QEMU's BQL serialises
 * device I/O; here that is the device's business.) The access path's single-call read, which relies
 * on decisions its dispatch section made once, is on {@link EngineAccess}, which only {@code
 * dev.guestmem.access} can obtain on the module path.
 *
 * <p><b>Thread safety.</b> Stateless; thread-safety of the device callbacks is the device's business.
 */
public final class MmioDispatch {
    private static final Logger LOG = System.getLogger("dev.guestmem.guest-error");
    /** The one package {@link #engineAccess} serves. */
    private static final String TRUSTED_PACKAGE = "dev.guestmem.access";

    private MmioDispatch() {
    }

    /**
     * @param e a device endianness
     * @return whether it is big-endian ({@code devend_big_endian}). A region's ops never say NATIVE:
     *     the region resolves it to its system's target order; ops passed here directly take NATIVE
     *     as the host's order
     */
    public static boolean isBigEndian(Endianness e) {
        return e == Endianness.BIG || (e == Endianness.NATIVE && HOST_BIG);
    }

    /**
     * {@code memory_region_access_valid}.
     *
     * @param ops the region's ops
     * @param name region name for the log
     * @param addr offset in the region
     * @param size access size (1, 2, 4 or 8)
     * @param isWrite whether it is a write
     * @param attrs attributes
     * @return whether the device takes the access
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8 (no guest access has
     *     another size; the device's {@code accepts} hook is not asked)
     */
    public static boolean accessValid(MemoryRegionOps ops, String name, long addr, int size, boolean isWrite,
                                      MemTxAttrs attrs) {
        checkSize(size);
        return valid(ops, name, addr, size, isWrite, attrs);
    }

    private static boolean valid(MemoryRegionOps ops, String name, long addr, int size, boolean isWrite,
                                 MemTxAttrs attrs) {
        MemoryRegionOps.Accepts accepts = ops.accepts();
        if (accepts != null && !accepts.accepts(addr, size, isWrite, attrs)) {
            invalid(isWrite, addr, size, name, "rejected");
            return false;
        }
        if (!ops.validUnaligned() && (addr & (size - 1)) != 0) {
            invalid(isWrite, addr, size, name, "unaligned");
            return false;
        }
        int max = ops.validMaxAccessSize();
        if (max == 0) {
            return true; // zero means "any size" for compatibility; min is then ignored
        }
        if (size > max || size < ops.validMinAccessSize()) {
            invalid(isWrite, addr, size, name, "invalid size (min:" + ops.validMinAccessSize() + " max:" + max + ")");
            return false;
        }
        return true;
    }

    /**
     * {@code memory_region_dispatch_read}: one guest read of {@code size} bytes.
     *
     * @param ops the region's ops, or null (unassigned: decode error)
     * @param guard the owner's re-entrancy guard, or null
     * @param name region name for logs
     * @param addr offset in the region
     * @param size 1, 2, 4 or 8
     * @param bigEndian whether the access is big-endian ({@code MO_BE})
     * @param attrs attributes
     * @param out receives the value (0 on decode or access error); also the scratch for
     *     {@code read_with_attrs} callbacks
     * @return a {@link MemTxResult}
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8 (the device is not called)
     * @implNote Allocation-free; P4.
     */
    public static int read(MemoryRegionOps ops, ReentrancyGuard guard, String name, long addr, int size,
                           boolean bigEndian, MemTxAttrs attrs, MmioValue out) {
        MemTxResultHolder res = RESULT.get();
        out.value = readValue(ops, guard, name, addr, size, bigEndian, attrs, out, res);
        return res.get();
    }

    private static final ThreadLocal<MemTxResultHolder> RESULT = ThreadLocal.withInitial(MemTxResultHolder::new);

    /**
     * The access package's capability for the MMIO entry points that trust their caller, as the
     * JDK's {@code jdk.internal.access.SharedSecrets}: {@code dev.guestmem.access} takes it once, in a
     * class initialiser, from {@link #engineAccess}, which hands it only to a full-privilege
     * {@link MethodHandles.Lookup} of a class of that package in this module. On the module path,
     * where the engine's packages are not opened, code outside the engine cannot obtain one, so it
     * cannot call a device with sizes its ops forbid nor reach a device's re-entrancy guard except
     * through the checking entry points ({@link #read}, {@link #readValue}, {@link #write}). On the
     * class path everything shares the unnamed module, and {@code MethodHandles.privateLookupIn} or
     * reflection reach it as they reach any package-private code: there it guards against
     * mistakes, not against hostile code.
     *
     * <p>Held in a {@code static final} field, the instance is a constant to C2 and the class is
     * final: a call through it compiles to the same direct, inlinable call as a static method, with
     * no added load, check or allocation (TARGETS P4).
     *
     * <p><b>Thread safety.</b> Stateless; any thread.
     */
    public static final class EngineAccess {
        private static final EngineAccess INSTANCE = new EngineAccess();

        private EngineAccess() {
        }

        /**
         * The common MMIO read as a small method that inlines into the access path (TARGETS P4):
         * the caller has established, from a dispatch section built for {@code region}, that
         * {@code read} is {@code ops.read()}, that {@code size} is in
         * {@link MemoryRegionOps#plainReadSizes()}, that the access is aligned or the device takes
         * unaligned accesses, and that {@code guard} is the region's guard; so what is left of
         * {@link #readValue} is the re-entrancy guard, one callback, truncation and the byte order.
         * A refused re-entry goes through {@link #readValue}, which logs it. Nothing here checks
         * those premises: that is why only the access package can call it.
         *
         * @param ops the region's ops
         * @param read {@code ops.read()}, precomputed by the caller's section (one load less)
         * @param guard the owner's re-entrancy guard, or null
         * @param region the region (for the log when the device throws)
         * @param addr offset in the region
         * @param size 1, 2, 4 or 8
         * @param bigEndian whether the access is big-endian
         * @param deviceBig whether the device is big-endian ({@link #isBigEndian} of its
         *     endianness, precomputed by the caller's section)
         * @param attrs attributes (only for the refused path)
         * @param res receives the result, or null
         * @return the value (0 on error)
         * @implNote Hot path (P4): allocation-free, lock-free, CAS-free; the guard stores a thread
         *     id, so no GC write barrier either.
         */
        public long readPlain(MemoryRegionOps ops, MemoryRegionOps.Read read, ReentrancyGuard guard,
                              MemoryRegion region, long addr, int size, boolean bigEndian, boolean deviceBig,
                              MemTxAttrs attrs, MemTxResultHolder res) {
            long self = 0;
            int entered = 0;
            if (guard != null) {
                self = Thread.currentThread().threadId();
                entered = guard.enter(self);
                if (entered < 0) {
                    return readValue(ops, guard, region.name(), addr, size, bigEndian, attrs, null, res);
                }
            }
            long value;
            int r = MemTxResult.OK;
            try {
                value = read.read(addr, size);
            } catch (RuntimeException e) {
                deviceThrew(region.name(), addr, e);
                r = MemTxResult.ERROR;
                value = 0;
            } finally {
                if (entered > 0) {
                    guard.exit(self);
                }
            }
            value = truncate(value, size);
            if (bigEndian != deviceBig) {
                value = swap(value, size);
            }
            if (res != null) {
                res.set(r);
            }
            return value;
        }

        /**
         * The common MMIO write as a small method, the store counterpart of {@link #readPlain}: the
         * caller has established, from a dispatch section built for {@code region}, that
         * {@code write} is {@code ops.write()}, that {@code size} is in
         * {@link MemoryRegionOps#plainWriteSizes()}, that the access is aligned or the device takes
         * unaligned accesses, that {@code guard} is the region's guard, and, at this access, that the
         * region has no eventfds; what is left of {@link #write} is the byte order, the guard and one
         * callback. A refused re-entry goes through {@link #write}, which logs it.
         *
         * @param ops the region's ops
         * @param write {@code ops.write()}, precomputed by the caller's section
         * @param guard the owner's re-entrancy guard, or null
         * @param region the region (for the log when the device throws)
         * @param addr offset in the region
         * @param data the value in the low {@code size} bytes
         * @param size 1, 2, 4 or 8
         * @param bigEndian whether the access is big-endian
         * @param deviceBig whether the device is big-endian
         * @param attrs attributes (only for the refused path)
         * @return a {@link MemTxResult}
         * @implNote Allocation-free, lock-free, CAS-free.
         */
        public int writePlain(MemoryRegionOps ops, MemoryRegionOps.Write write, ReentrancyGuard guard,
                              MemoryRegion region, long addr, long data, int size, boolean bigEndian,
                              boolean deviceBig, MemTxAttrs attrs) {
            long self = 0;
            int entered = 0;
            if (guard != null) {
                self = Thread.currentThread().threadId();
                entered = guard.enter(self);
                if (entered < 0) {
                    return write(ops, guard, region.name(), addr, data, size, bigEndian, attrs);
                }
            }
            long value = truncate(data, size);
            if (bigEndian != deviceBig) {
                value = swap(value, size);
            }
            int r = MemTxResult.OK;
            try {
                write.write(addr, value, size);
            } catch (RuntimeException e) {
                deviceThrew(region.name(), addr, e);
                r = MemTxResult.ERROR;
            } finally {
                if (entered > 0) {
                    guard.exit(self);
                }
            }
            return r;
        }
    }

    /**
     * Hands the access package its {@link EngineAccess}; call it from a class initialiser, once per class.
     *
     * {@snippet lang=java :
     * // in a class of dev.guestmem.access
     * private static final MmioDispatch.EngineAccess MMIO = MmioDispatch.engineAccess(MethodHandles.lookup());
     * }
     *
     * @param caller the caller's own {@link MethodHandles#lookup()}
     * @return the capability
     * @throws IllegalCallerException unless {@code caller} has full privilege access on a class of
     *     package {@code dev.guestmem.access} in this module
     */
    public static EngineAccess engineAccess(MethodHandles.Lookup caller) {
        Class<?> c = caller.lookupClass();
        if (!caller.hasFullPrivilegeAccess() || c.getModule() != MmioDispatch.class.getModule()
                || !c.getPackageName().equals(TRUSTED_PACKAGE)) {
            throw untrustedCaller(caller);
        }
        return EngineAccess.INSTANCE;
    }

    /**
     * {@code memory_region_dispatch_read} returning the value: the form the access path uses.
     *
     * @param ops the region's ops, or null (unassigned: decode error)
     * @param guard the owner's re-entrancy guard, or null
     * @param name region name for logs
     * @param addr offset in the region
     * @param size 1, 2, 4 or 8
     * @param bigEndian whether the access is big-endian ({@code MO_BE})
     * @param attrs attributes
     * @param scratch out-parameter for {@code read_with_attrs} callbacks; may be null when the ops
     *     have a plain {@code read}
     * @param res receives the {@link MemTxResult} (may be null)
     * @return the value, 0 on decode or access error
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8 (the device is not called)
     * @implNote Allocation-free, lock-free, CAS-free; P4.
     */
    public static long readValue(MemoryRegionOps ops, ReentrancyGuard guard, String name, long addr, int size,
                                 boolean bigEndian, MemTxAttrs attrs, MmioValue scratch, MemTxResultHolder res) {
        checkSize(size);
        if (ops == null || !valid(ops, name, addr, size, false, attrs)) {
            return fail(res, MemTxResult.DECODE_ERROR);
        }
        MemoryRegionOps.Read plain = ops.read();
        MemoryRegionOps.ReadWithAttrs withAttrs = ops.readWithAttrs();
        if (plain == null && withAttrs == null) {
            return fail(res, MemTxResult.DECODE_ERROR);
        }
        int entered = 0;
        long self = 0;
        if (guard != null) {
            self = Thread.currentThread().threadId();
            entered = guard.enter(self);
            if (entered < 0) {
                blocked(guard, name, addr);
                return fail(res, MemTxResult.ACCESS_ERROR);
            }
        }
        boolean devBig = isBigEndian(ops.endianness());
        long value;
        int r = MemTxResult.OK;
        if (plain != null && size <= ops.implMaxAccessSize() && size >= ops.implMinAccessSize()) {
            // One chunk of the access's own size (the common case): a single callback, kept small
            // so that it inlines into the access path (P4).
            try {
                value = plain.read(addr, size);
            } catch (RuntimeException e) {
                deviceThrew(name, addr, e);
                r = MemTxResult.ERROR;
                value = 0;
            } finally {
                if (entered > 0) {
                    guard.exit(self);
                }
            }
        } else {
            MemTxResultHolder h = res != null ? res : RESULT.get();
            try {
                value = readChunks(plain, withAttrs, devBig, name, addr, size, attrs, scratch, ops, h);
                r = h.get();
            } finally {
                if (entered > 0) {
                    guard.exit(self);
                }
            }
        }
        value = truncate(value, size);
        if (bigEndian != devBig) {
            value = swap(value, size);
        }
        if (res != null) {
            res.set(r);
        }
        return value;
    }

    /** {@code access_with_adjusted_size}'s loop for reads that need splitting or widening. */
    private static long readChunks(MemoryRegionOps.Read plain, MemoryRegionOps.ReadWithAttrs withAttrs, boolean devBig,
                                   String name, long addr, int size, MemTxAttrs attrs, MmioValue scratch,
                                   MemoryRegionOps ops, MemTxResultHolder res) {
        int accessSize = Math.max(Math.min(size, ops.implMaxAccessSize()), ops.implMinAccessSize());
        long mask = accessSize == 8 ? -1L : (1L << (accessSize * 8)) - 1;
        long value = 0;
        int r = MemTxResult.OK;
        for (int i = 0; i < size; i += accessSize) {
            int shift = devBig ? (size - accessSize - i) * 8 : i * 8;
            long tmp;
            try {
                if (plain != null) {
                    tmp = plain.read(addr + i, accessSize);
                } else {
                    scratch.value = 0;
                    r |= withAttrs.read(addr + i, accessSize, attrs, scratch);
                    tmp = scratch.value;
                }
            } catch (RuntimeException e) {
                deviceThrew(name, addr + i, e);
                r |= MemTxResult.ERROR;
                tmp = 0;
            }
            value |= shift >= 0 ? (tmp & mask) << shift : (tmp & mask) >>> -shift;
        }
        res.set(r); // set after the callbacks: a nested access cannot clobber it
        return value;
    }

    /**
     * QEMU asserts a power-of-two {@code MemOp} size; every engine caller passes one, so this costs
     * one predictable branch. Bits 1, 2, 4 and 8 of 0x116.
     */
    private static void checkSize(int size) {
        if (size < 1 || size > 8 || ((0x116 >>> size) & 1) == 0) {
            throw invalidSize(size);
        }
    }

    private static long fail(MemTxResultHolder res, int r) {
        if (res != null) {
            res.set(r);
        }
        return 0;
    }

    /**
     * {@code memory_region_dispatch_write}: one guest write of {@code size} bytes, to the ops alone
     * (no eventfds: the access paths use the overload taking the region's
     * {@link MemoryRegion#ioeventfds()}).
     *
     * @param ops the region's ops, or null (unassigned: decode error)
     * @param guard the owner's re-entrancy guard, or null
     * @param name region name for logs
     * @param addr offset in the region
     * @param data the value in the low {@code size} bytes
     * @param size 1, 2, 4 or 8
     * @param bigEndian whether the access is big-endian
     * @param attrs attributes
     * @return a {@link MemTxResult}
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8 (the device is not called)
     * @implNote Allocation-free.
     */
    public static int write(MemoryRegionOps ops, ReentrancyGuard guard, String name, long addr, long data, int size,
                            boolean bigEndian, MemTxAttrs attrs) {
        return write(ops, guard, name, IoeventfdList.EMPTY, addr, data, size, bigEndian, attrs);
    }

    /**
     * {@code memory_region_dispatch_write} with the region's eventfds: after the validity check and
     * the byte swap, a write matching one of {@code eventfds} signals its notifier and returns
     * {@code OK} without calling the device or engaging the guard
     * ({@code memory_region_dispatch_write_eventfds}, which QEMU runs whenever KVM does not). If the
     * matching eventfd was deleted since {@code eventfds} was read (a write racing the device's
     * {@code delEventfd}), the write goes to the device instead; one that checked just before the
     * deletion signals before {@code delEventfd} returns, which waits for it (as KVM's SRCU).
     *
     * @param ops the region's ops, or null (unassigned: decode error)
     * @param guard the owner's re-entrancy guard, or null
     * @param name region name for logs
     * @param eventfds the region's eventfds ({@link MemoryRegion#ioeventfds()})
     * @param addr offset in the region
     * @param data the value in the low {@code size} bytes
     * @param size 1, 2, 4 or 8
     * @param bigEndian whether the access is big-endian
     * @param attrs attributes
     * @return a {@link MemTxResult}
     * @throws IllegalArgumentException if {@code size} is not 1, 2, 4 or 8 (the device is not called)
     * @implNote Allocation-free.
     */
    public static int write(MemoryRegionOps ops, ReentrancyGuard guard, String name, IoeventfdList eventfds,
                            long addr, long data, int size, boolean bigEndian, MemTxAttrs attrs) {
        checkSize(size);
        if (ops == null || !valid(ops, name, addr, size, true, attrs)) {
            return MemTxResult.DECODE_ERROR;
        }
        boolean devBig = isBigEndian(ops.endianness());
        long value = truncate(data, size);
        if (bigEndian != devBig) {
            value = swap(value, size);
        }
        if (!eventfds.isEmpty()) {
            Ioeventfd fd = eventfds.match(addr, size, value);
            // The list may have been read just before the device deleted the eventfd: the write then
            // comes after the deletion and is the device's (QEMU: BQL; KVM: SRCU), and a deletion
            // waits for the signals already past that check. A closed notifier still registered
            // consumes the write (QEMU ignores the failed write(2)).
            if (fd != null && eventfds.signalIfRegistered(fd)) {
                return MemTxResult.OK;
            }
        }
        MemoryRegionOps.Write plain = ops.write();
        MemoryRegionOps.WriteWithAttrs withAttrs = ops.writeWithAttrs();
        if (plain == null && withAttrs == null) {
            return MemTxResult.DECODE_ERROR;
        }
        int entered = 0;
        long self = 0;
        if (guard != null) {
            self = Thread.currentThread().threadId();
            entered = guard.enter(self);
            if (entered < 0) {
                blocked(guard, name, addr);
                return MemTxResult.ACCESS_ERROR;
            }
        }
        int accessSize = Math.max(Math.min(size, ops.implMaxAccessSize()), ops.implMinAccessSize());
        long mask = accessSize == 8 ? -1L : (1L << (accessSize * 8)) - 1;
        int r = MemTxResult.OK;
        try {
            for (int i = 0; i < size; i += accessSize) {
                int shift = devBig ? (size - accessSize - i) * 8 : i * 8;
                long tmp = shift >= 0 ? (value >>> shift) & mask : (value << -shift) & mask;
                try {
                    if (plain != null) {
                        plain.write(addr + i, tmp, accessSize);
                    } else {
                        r |= withAttrs.write(addr + i, tmp, accessSize, attrs);
                    }
                } catch (RuntimeException e) {
                    deviceThrew(name, addr + i, e);
                    r |= MemTxResult.ERROR;
                }
            }
        } finally {
            if (entered > 0) {
                guard.exit(self);
            }
        }
        return r;
    }

    /**
     * {@code memory_access_size}: the size of the next MMIO chunk of a buffer access of {@code l}
     * bytes at region offset {@code addr}: at most {@code valid.max} (4 when unset), at most the
     * address's natural alignment unless {@code impl.unaligned}, rounded down to a power of two.
     *
     * @param ops the region's ops, or null (unassigned ops: max 4, aligned)
     * @param l remaining length (unsigned; at least 1)
     * @param addr offset in the region
     * @return the chunk size, 1 to 8
     */
    public static int accessSize(MemoryRegionOps ops, long l, long addr) {
        long max = ops == null ? 0 : ops.validMaxAccessSize();
        if (max == 0) {
            max = 4;
        }
        if (ops == null || !ops.implUnaligned()) {
            long alignMax = addr & -addr; // 2^63 at offset 2^63: unsigned, or no clamp at all
            if (alignMax != 0 && Long.compareUnsigned(alignMax, max) < 0) {
                max = alignMax;
            }
        }
        if (Long.compareUnsigned(l, max) > 0) {
            l = max;
        }
        return Integer.highestOneBit((int) l);
    }

    /**
     * @param v a value
     * @param size bytes to keep
     * @return the low {@code size} bytes of {@code v}
     */
    public static long truncate(long v, int size) {
        return size == 8 ? v : v & ((1L << (size * 8)) - 1);
    }

    /**
     * {@code bswap16/32/64} of the low {@code size} bytes.
     *
     * @param v a value whose bits above {@code size} bytes are zero
     * @param size 1, 2, 4 or 8
     * @return the swapped value
     */
    public static long swap(long v, int size) {
        return switch (size) {
            case 2 -> Short.toUnsignedLong(Short.reverseBytes((short) v));
            case 4 -> Integer.toUnsignedLong(Integer.reverseBytes((int) v));
            case 8 -> Long.reverseBytes(v);
            default -> v;
        };
    }

    private static void invalid(boolean isWrite, long addr, int size, String name, String reason) {
        if (LOG.isLoggable(Level.DEBUG)) {
            LOG.log(Level.DEBUG, "Invalid {0} at addr 0x{1}, size {2}, region ''{3}'', reason: {4}",
                    isWrite ? "write" : "read", Long.toHexString(addr), size, name, reason);
        }
    }

    private static void blocked(ReentrancyGuard guard, String name, long addr) {
        if (guard.firstWarning()) {
            LOG.log(Level.WARNING, "Blocked re-entrant IO on MemoryRegion: {0} at addr: 0x{1}", name,
                    Long.toHexString(addr).toUpperCase(java.util.Locale.ROOT));
        }
    }

    private static void deviceThrew(String name, long addr, RuntimeException e) {
        LOG.log(Level.ERROR, "MMIO callback of region '" + name + "' at 0x" + Long.toHexString(addr) + " threw", e);
    }

    private static IllegalCallerException untrustedCaller(MethodHandles.Lookup caller) {
        return new IllegalCallerException("MMIO engine access is for " + TRUSTED_PACKAGE + " only, not " + caller);
    }

    private static IllegalArgumentException invalidSize(int size) {
        return new IllegalArgumentException("MMIO access size " + size + " is not 1, 2, 4 or 8");
    }
}
