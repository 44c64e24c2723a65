package dev.guestmem.access;

import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.flat.FlatView;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A DMA mapping from {@link AddressSpace#map}, as the pointer QEMU's {@code address_space_map}
 * returns plus what {@code address_space_unmap} needs.
 *
 * <p><b>Direct</b> mappings (RAM, and ROMD reads) expose a slice of the RAM block's segment and hold
 * a reference on the block ({@link RamBlock#ref()}), so the block is not released while mapped.
 * <b>Bounce</b> mappings (MMIO, ROM writes, RAM devices, IOMMU-to-MMIO) expose a zero-filled buffer
 * (never uninitialised memory: CVE-2024-8612), filled from the guest first when the device reads;
 * their size is reserved atomically against the space's limit, so a guest-chosen length never
 * becomes an unbounded allocation (hazard 5).
 *
 * <p><b>Thread safety.</b> A mapping may be used by any thread; {@link #unmap} must be called once
 * (a second call throws and changes nothing).
 */
public final class DmaMapping {
    private final AddressSpace as;
    private final long addr;
    private final boolean isWrite;
    private final MemTxAttrs attrs;
    private final MemorySegment segment;
    private final RamBlock block;
    private final PhysSection section;
    private final long ramOffset;
    private final boolean bounce;
    private final int prefillResult;
    private final AtomicBoolean unmapped = new AtomicBoolean();

    private DmaMapping(AddressSpace as, long addr, boolean isWrite, MemTxAttrs attrs, MemorySegment segment,
                       RamBlock block, PhysSection section, long ramOffset, boolean bounce, int prefillResult) {
        this.as = as;
        this.addr = addr;
        this.isWrite = isWrite;
        this.attrs = attrs;
        this.segment = segment;
        this.block = block;
        this.section = section;
        this.ramOffset = ramOffset;
        this.bounce = bounce;
        this.prefillResult = prefillResult;
    }

    static DmaMapping map(AddressSpace as, long addr, long len, boolean isWrite, MemTxAttrs attrs) {
        if (len == 0) {
            return null;
        }
        if (Long.compareUnsigned(len - 1, -1L - addr) > 0) {
            len = -addr; // clamp at 2^64 (addr 0 only if len was 0, handled above)
        }
        FlatView v = as.currentMap();
        Translation t = new Translation();
        IommuTlbEntry e = new IommuTlbEntry();
        PhysSection s = FlatViewAccess.translate(v, addr, len, isWrite, attrs, t, e);
        long l = t.plen();
        long xlat = t.xlat();
        if (!FlatViewAccess.isDirect(s, isWrite, attrs)) {
            long max = as.maxBounceBufferSize();
            long want = Long.compareUnsigned(l, max) < 0 ? l : max; // the translated length: an IOMMU clamps it
            long grant;
            while (true) { // reserve min(remaining, wanted); partial grants are normal
                long used = as.bounceBufferSize.get();
                long free = max - used;
                if (free <= 0) {
                    return null;
                }
                grant = Math.min(free, want);
                if (as.bounceBufferSize.compareAndSet(used, used + grant)) {
                    break;
                }
            }
            MemorySegment buf;
            try {
                buf = Arena.ofAuto().allocate(grant, 8); // zero-filled
            } catch (OutOfMemoryError tooBig) {
                // a limit raised past what the heap can give: no bounce space, as when none is left
                as.bounceBufferSize.addAndGet(-grant);
                return null;
            }
            int prefill = MemTxResult.OK;
            if (!isWrite) { // flatview_read(fv, ...): the view the bounce was decided on, not a newer one
                prefill = FlatViewAccess.rw(as, v, addr, attrs, null, 0, buf, 0, grant, false);
            }
            as.liveMappings.incrementAndGet();
            return new DmaMapping(as, addr, isWrite, attrs, buf, null, s, 0, true, prefill);
        }
        // flatview_extend_translation: grow across following ranges of the same region while the
        // region offsets stay contiguous.
        long done = l;
        while (Long.compareUnsigned(done, len) < 0) {
            PhysSection n = FlatViewAccess.translate(v, addr + done, len - done, isWrite, attrs, t, e);
            if (n.region() != s.region() || t.xlat() != xlat + done || !FlatViewAccess.isDirect(n, isWrite, attrs)) {
                break;
            }
            done += t.plen();
        }
        RamBlock b = s.ramBlock();
        MemorySegment ram = s.segment();
        long avail = FlatViewAccess.blockBytesFrom(ram, xlat);
        if (avail <= 0) {
            return null;
        }
        if (Long.compareUnsigned(done, avail) > 0) {
            done = avail;
        }
        try {
            b.ref();
        } catch (RuntimeException released) {
            return null; // the block went away under us: nothing to map
        }
        MemorySegment slice;
        try {
            slice = ram.asSlice(xlat, done);
        } catch (RuntimeException gone) {
            b.unref();
            return null;
        }
        as.liveMappings.incrementAndGet();
        return new DmaMapping(as, addr, isWrite, attrs, slice, b, s, xlat, false, MemTxResult.OK);
    }

    /** @return the mapped memory: {@link #length()} bytes */
    public MemorySegment segment() {
        return segment;
    }

    /** @return the mapped length ({@code *plen}), at most what was asked */
    public long length() {
        return segment.byteSize();
    }

    /** @return the guest address mapped */
    public long addr() {
        return addr;
    }

    /**
     * The result of filling a read mapping's bounce buffer from the guest when it was mapped. QEMU
     * ignores it ({@code address_space_map}), so a device reading through a failed mapping sees
     * zeros or partial data; check it where a DMA read must be able to fail.
     *
     * @return a {@link MemTxResult}: the fill's, or {@link MemTxResult#OK} for a direct mapping
     *     and a write mapping, which read nothing when mapped
     */
    public int prefillResult() {
        return prefillResult;
    }

    /** @return whether this is a bounce buffer (not guest RAM itself) */
    public boolean isBounce() {
        return bounce;
    }

    /**
     * {@code address_space_unmap}: for writes, marks {@code accessLen} bytes dirty (direct) or writes
     * them back (bounce); then releases the block reference or the bounce reservation, and notifies
     * map clients when bounce space was freed (a direct unmap notifies no one, as in QEMU).
     *
     * <p>The write-back is an {@link AddressSpace#write} of the space's current view with the
     * attributes the mapping was made with (QEMU writes back with {@code MEMTXATTRS_UNSPECIFIED}, so
     * a secure or requester-tagged DMA would lose its tags on the way to the device) and its result
     * is returned (QEMU drops it).
     *
     * @param accessLen bytes actually accessed, at most {@link #length()}
     * @return the {@link MemTxResult} of the write-back (OK for direct mappings and reads)
     * @throws IllegalStateException if already unmapped
     * @throws IllegalArgumentException if {@code accessLen} is negative or beyond the length
     */
    public int unmap(long accessLen) {
        if (accessLen < 0 || accessLen > length()) {
            throw new IllegalArgumentException("access length " + accessLen + " outside [0, " + length() + "]");
        }
        if (!unmapped.compareAndSet(false, true)) {
            throw new IllegalStateException("DMA mapping of 0x" + Long.toHexString(addr) + " already unmapped");
        }
        as.liveMappings.decrementAndGet();
        if (!bounce) {
            if (isWrite && accessLen > 0) {
                FlatViewAccess.dirty(section, ramOffset, accessLen); // the mask of now, as QEMU
            }
            block.unref();
            return MemTxResult.OK;
        }
        int r = MemTxResult.OK;
        if (isWrite && accessLen > 0) {
            r = FlatViewAccess.rw(as, addr, attrs, null, 0, segment, 0, accessLen, true);
        }
        as.bounceBufferSize.addAndGet(-length());
        as.notifyMapClients();
        return r;
    }
}
