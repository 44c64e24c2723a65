package dev.guestmem.region;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.internal.SystemInternals;
import dev.guestmem.mmio.MmioDispatch;
import dev.guestmem.mmio.ReentrancyGuard;
import java.util.Objects;

/**
 * QEMU's {@code memory_region_dispatch_read}/{@code _write} on a region: the work behind
 * {@link MemoryRegion#dispatchRead} and {@link MemoryRegion#dispatchWrite}, whose javadoc is the
 * contract. Follows the alias chain, checks that the access lies inside each region on the way,
 * picks the terminal region's ops (QEMU's {@code mr->ops}) and its owner's guard, and hands the
 * rest (validity, eventfds, guard, splitting, byte order) to the checked {@link MmioDispatch}
 * entry points, as the address-space paths do.
 *
 * <p><b>Thread safety.</b> Stateless. Reads the regions' fields without the topology lock, as QEMU
 * reads {@code mr} under the BQL: an access racing a topology change sees each field before or after
 * it. Allocation-free once the owner's guard is cached (first access).
 */
final class RegionDispatch {
    private RegionDispatch() {
    }

    static int read(MemoryRegion region, long addr, int size, boolean bigEndian, MemTxAttrs attrs, MmioValue out) {
        checkSize(size);
        Objects.requireNonNull(attrs, "attrs"); // before any callback: a read may have side effects
        Objects.requireNonNull(out, "out");
        MemoryRegion mr = region;
        long off = addr;
        while (true) {
            if (!decodes(mr, off, size)) {
                out.value = 0; // unassigned_mem_read
                return MemTxResult.DECODE_ERROR;
            }
            if (!(mr instanceof AliasRegion alias)) {
                break;
            }
            off += alias.aliasOffset(); // hwaddr arithmetic: wraps modulo 2^64
            mr = alias.target();
        }
        return MmioDispatch.read(mr.ops(), guardOf(mr), mr.name(), off, size, bigEndian, attrs, out);
    }

    static int write(MemoryRegion region, long addr, long data, int size, boolean bigEndian, MemTxAttrs attrs) {
        checkSize(size);
        Objects.requireNonNull(attrs, "attrs");
        MemoryRegion mr = region;
        long off = addr;
        while (true) {
            if (!decodes(mr, off, size)) {
                return MemTxResult.DECODE_ERROR;
            }
            if (!(mr instanceof AliasRegion alias)) {
                break;
            }
            off += alias.aliasOffset();
            mr = alias.target();
        }
        // The eventfd overload, with the terminal region's list: what the address-space write does,
        // and its end, where an IOMMU model's UNMAP sent during the write gets its second TLB move.
        int r = MmioDispatch.write(mr.ops(), guardOf(mr), mr.name(), mr.ioeventfds(), off, data, size, bigEndian,
                attrs);
        SystemInternals.owedInvalidations(mr.system()).afterMmioWrite();
        return r;
    }

    /** Whether the {@code size} bytes at {@code off} lie inside a live {@code mr} (QEMU checks neither). */
    private static boolean decodes(MemoryRegion mr, long off, int size) {
        if (mr.isDestroyed()) {
            return false;
        }
        long last = off + size - 1;
        if (Long.compareUnsigned(last, off) < 0) {
            return false; // past 2^64
        }
        long regionSize = mr.size();
        return regionSize == MemoryRegion.SIZE_2_64 || Long.compareUnsigned(last, regionSize) < 0;
    }

    /**
     * The owner's guard when it applies: QEMU's {@code access_with_adjusted_size} test ({@code mr->dev},
     * not {@code disable_reentrancy_guard}, {@code ram_device}, {@code ram}, {@code rom_device} or
     * {@code readonly}), as {@link dev.guestmem.dispatch.PhysSection} decides for the access path.
     */
    private static ReentrancyGuard guardOf(MemoryRegion mr) {
        Object owner = mr.owner();
        if (owner == null || mr.isReentrancyGuardDisabled() || mr.isRam() || mr.isRamDevice() || mr.isRomDevice()
                || mr.isReadonly()) {
            return null;
        }
        ReentrancyGuard g = mr.ownerGuard;
        if (g == null) {
            // The owner never changes, so neither does its guard: a racing thread caches the same one.
            g = mr.system().reentrancyGuards().of(owner);
            mr.ownerGuard = g;
        }
        return g;
    }

    private static void checkSize(int size) {
        if (size != 1 && size != 2 && size != 4 && size != 8) {
            throw new IllegalArgumentException("MMIO access size " + size + " is not 1, 2, 4 or 8");
        }
    }
}
