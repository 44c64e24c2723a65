package dev.guestmem.iommu;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.discard.DiscardedRam;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * The RAM behind one IOMMU mapping, as QEMU's {@code memory_translate_iotlb} gives it to a notifier
 * that pins or maps guest memory for a device (vfio, a vhost-user backend): the RAM region and the
 * offset in it of the IOMMU page's first byte, the page's length, and whether the mapping allows
 * writes. A {@link IommuNotifier#MAP} event's entry goes in; {@link #segment()} and
 * {@link #block()} give the host memory (for a memfd or file block, {@code block().fd()} and the
 * offset are what another process maps).
 *
 * @param region the RAM region the page lies in (after every further IOMMU on the way)
 * @param offset offset in {@code region} (and in its RAM block) of the page's first byte
 * @param length the page's length ({@code addrMask + 1})
 * @param writable whether the mapping allows writes ({@link IommuTlbEntry#WO})
 *
 * <p><b>Thread safety.</b> Immutable. The answer describes the map at the call: call it from the
 * notifier (QEMU runs it under RCU in the notifier), and keep the region referenced
 * ({@link MemoryRegion#ref()}) for as long as you use the memory.
 */
public record IommuRam(MemoryRegion region, long offset, long length, boolean writable) {
    /**
     * {@code memory_translate_iotlb}: follows {@code entry}'s translated page in its target space
     * to the RAM behind it.
     *
     * @param entry a translation with a target space (a MAP event's entry)
     * @return the RAM behind the page
     * @throws IommuException if the entry has no target space or a page of 2^64 bytes, the page is
     *     not RAM ("map to non memory area"), part of it is discarded by the region's
     *     {@link dev.guestmem.discard.RamDiscardManager} (a guest must not make a device pin memory it
     *     gave back), or the target maps less than the whole page ("granularity incompatible")
     */
    public static IommuRam of(IommuTlbEntry entry) {
        Objects.requireNonNull(entry, "entry");
        if (entry.targetAs == null) {
            throw new IommuException("iommu entry at iova 0x" + Long.toHexString(entry.iova) + " has no target space");
        }
        long len = entry.addrMask + 1;
        if (len == 0) {
            throw new IommuException("iommu entry at iova 0x" + Long.toHexString(entry.iova) + " maps 2^64 bytes");
        }
        long addr = entry.translatedStart(); // a cropped entry's mask is not a page's
        boolean writable = (entry.perm & IommuTlbEntry.WO) != 0;
        Translation t = new Translation();
        PhysSection s = entry.targetAs.translate(addr, len, writable, MemTxAttrs.UNSPECIFIED, t);
        MemoryRegion mr = s.region();
        if (mr == null || !mr.isRam() || mr.ramBlock() == null) {
            throw new IommuException("iommu map to non memory area 0x" + Long.toHexString(addr) + " in "
                    + entry.targetAs.name() + (mr == null ? "" : " (" + mr.name() + ")"));
        }
        if (DiscardedRam.isDiscarded(mr, t.xlat(), t.plen())) {
            throw new IommuException("iommu map to discarded memory 0x" + Long.toHexString(addr) + " of "
                    + mr.name());
        }
        if (Long.compareUnsigned(t.plen(), len) < 0) { // QEMU's (len & addr_mask), for any mask
            throw new IommuException("iommu has granularity incompatible with target AS: 0x" + Long.toHexString(len)
                    + " bytes at 0x" + Long.toHexString(addr) + " reach only 0x" + Long.toHexString(t.plen())
                    + " bytes of " + mr.name());
        }
        return new IommuRam(mr, t.xlat(), len, writable);
    }

    /** @return the RAM block of {@link #region()} */
    public RamBlock block() {
        return region.ramBlock();
    }

    /**
     * The page's host memory: a slice of the block's segment, read-only unless the mapping is
     * writable.
     *
     * @return the slice
     * @throws IndexOutOfBoundsException if the region now maps past its block (it was resized)
     */
    public MemorySegment segment() {
        MemorySegment s = block().segment().asSlice(offset, length);
        return writable ? s : s.asReadOnly();
    }
}
