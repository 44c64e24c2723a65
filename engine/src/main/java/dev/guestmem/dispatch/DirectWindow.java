package dev.guestmem.dispatch;

import dev.guestmem.dirty.DirtyMemory;
import java.lang.foreign.MemorySegment;

/**
 * The host bytes of one dispatch-table section, as the direct access paths see them: byte 0 of each
 * slice is guest address {@link #start()}, and a slice is empty where that kind of direct access is
 * not allowed. A direct access of {@code n} bytes at guest address {@code addr} is then one test and
 * one segment access:
 * {@snippet lang=java :
 * long off = addr - window.start();
 * MemorySegment ram = window.read();
 * long limit = ram.byteSize() - n + 1;        // the JDK's own bounds test, so C2 folds the two
 * if (limit >= 0 && Long.compareUnsigned(off, limit) < 0) {
 *     return ram.get(JAVA_INT_UNALIGNED, off);  // still catch IllegalStateException / InternalError
 * }
 * // else: not this section, or not direct: the address space's accessors
 * }
 * An address below the section wraps {@code off} to a huge unsigned value and an empty slice has a
 * negative limit, so the same test rejects other sections, MMIO, ROM stores and logged stores.
 *
 * <p>Where stores may go direct (RAM neither read-only nor dirty-logged), {@link #write()} is the
 * {@link #read()} slice itself, not a second view of the same bytes: a store that follows a load
 * through the same window then works on the same segment object, so C2 shares the segment's own
 * checks between the two (the raw baseline's {@code get} and {@code set} share them the same way;
 * TARGETS P1). Everywhere else {@link #read()} is a read-only view.
 *
 * <p>Every section of a dispatch table has its window, built with the table, so caching one (the
 * address space's fast window, an emulator's soft TLB) allocates nothing. A window is only valid
 * for the view it came from: see {@link dev.guestmem.access.AddressSpace#generation()}.
 *
 * <p><b>Thread safety.</b> Immutable (final fields: safe to publish through a race).
 */
public final class DirectWindow {
    private static final DirectWindow EMPTY = new DirectWindow(0, MemorySegment.NULL, false,
            MemorySegment.NULL, null, 0, null, 0, 0);

    private final long start;
    /** Loads' slice; also stores' when {@link #writable} (then a writable segment, else read-only or empty). */
    private final MemorySegment read;
    private final boolean writable;
    private final MemorySegment loggedWrite;
    private final PhysSection section;
    private final long segmentOffset;
    // for loggedWrite: where the bytes live in ram_addr space, and who logs them
    private final DirtyMemory dirty;
    private final long ramAddr;
    private final int dirtyMask;

    /**
     * @param read the loads' slice: writable exactly when {@code writable}, else read-only or empty
     * @param writable whether stores may write {@code read} directly
     */
    DirectWindow(long start, MemorySegment read, boolean writable, MemorySegment loggedWrite,
                 PhysSection section, long segmentOffset, DirtyMemory dirty, long ramAddr, int dirtyMask) {
        if (writable == (read.byteSize() == 0 || read.isReadOnly())) {
            throw new IllegalArgumentException("a window's read slice is writable exactly when stores may use it");
        }
        this.start = start;
        this.read = read;
        this.writable = writable;
        this.loggedWrite = loggedWrite;
        this.section = section;
        this.segmentOffset = segmentOffset;
        this.dirty = dirty;
        this.ramAddr = ramAddr;
        this.dirtyMask = dirtyMask;
    }

    /**
     * A window no access can use (empty slices, no section): the window of every section that has
     * no direct access at all (MMIO, unassigned, subpages, fault-prone RAM), so that those cost no
     * object each, and what a soft-TLB entry holds before its first fill and after a flush.
     *
     * @return the shared empty window
     */
    public static DirectWindow empty() {
        return EMPTY;
    }

    /**
     * A window of {@code length} bytes of this one, from byte {@code offset} of its slices, seen at
     * guest address {@code guestStart} of another space: a page reached through an IOMMU. The read
     * slice is kept only if {@code readable}, the write and logged slices only if {@code writable};
     * a slice this window does not have stays empty. A write-only page ({@code readable} false) has
     * no direct stores either (the write slice is the read slice): its stores take the translated path.
     *
     * @param offset offset in this window's slices
     * @param length bytes
     * @param guestStart the guest address of the new window's byte 0
     * @param readable whether loads may use it
     * @param writable whether stores may use it
     * @return the new window ({@link #empty()} if nothing is left)
     */
    public DirectWindow slice(long offset, long length, long guestStart, boolean readable, boolean writable) {
        MemorySegment r = readable ? part(read, offset, length) : MemorySegment.NULL;
        boolean w = writable && this.writable && r.byteSize() > 0;
        if (!w && r.byteSize() > 0 && !r.isReadOnly()) {
            r = r.asReadOnly(); // a page the IOMMU maps read-only: the slice must not write it
        }
        MemorySegment lw = writable ? part(loggedWrite, offset, length) : MemorySegment.NULL;
        if (r.byteSize() == 0 && lw.byteSize() == 0) {
            return EMPTY;
        }
        boolean logged = lw.byteSize() > 0;
        return new DirectWindow(guestStart, r, w, lw, section, segmentOffset + offset, logged ? dirty : null,
                logged ? ramAddr + offset : 0, logged ? dirtyMask : 0);
    }

    private static MemorySegment part(MemorySegment slice, long offset, long length) {
        if (offset < 0 || length <= 0 || slice.byteSize() < length || offset > slice.byteSize() - length) {
            return MemorySegment.NULL;
        }
        return slice.asSlice(offset, length);
    }

    /**
     * The guest address of byte 0 of every slice: the section's first address, or for a
     * {@linkplain #slice slice} (a page behind an IOMMU) the page's address in the space that
     * reached it.
     *
     * @return the address
     */
    public long start() {
        return start;
    }

    /**
     * Where byte 0 of the slices lies in the section's RAM block segment, so guest address
     * {@code addr} of the window is block offset {@code segmentOffset() + (addr - start())} (the
     * fault path reports faults by block offset).
     *
     * @return the offset (0 for {@link #empty()})
     */
    public long segmentOffset() {
        return segmentOffset;
    }

    /**
     * The slice loads may read directly: RAM, ROM, a ROM device in ROMD mode, on a block that cannot
     * raise SIGBUS; else empty. Writable only where stores may go direct too ({@link #writable()}:
     * it is then also {@link #write()}); a read-only view everywhere else, so a window handed out
     * cannot write ROM.
     *
     * @return the slice (never null)
     * @implNote Hot path (P1-P3).
     */
    public MemorySegment read() {
        return read;
    }

    /**
     * Whether stores may write {@link #read()} directly with nothing else to do: RAM that is neither
     * read-only (own or inherited flag) nor dirty-logged, on a block that cannot raise SIGBUS.
     *
     * @return whether {@link #write()} is the read slice
     * @implNote Hot path (P1): the store test {@code writable() && fits(off, read())} on the slice a
     *     load just tested lets C2 share that slice's checks between the load and the store.
     */
    public boolean writable() {
        return writable;
    }

    /**
     * The slice stores may write directly with nothing else to do: {@link #read()} itself where
     * {@link #writable()}, else empty.
     *
     * @return the slice (never null)
     */
    public MemorySegment write() {
        return writable ? read : MemorySegment.NULL;
    }

    /**
     * The slice of a dirty-logged RAM section that stores may write directly when the writer then
     * marks the bytes dirty (the address space's store path does); empty for every other section.
     *
     * @return the slice (never null)
     */
    public MemorySegment loggedWrite() {
        return loggedWrite;
    }

    /**
     * The bitmaps a store through {@link #loggedWrite()} marks (the system's), null when the
     * window has no logged slice. The store path marks {@code dirtyMemory().invalidateAndSetDirty(
     * ramAddr() + off, n, dirtyMask())}; ram_addr, mask and bitmaps were taken when the table was
     * built, so it reads no mutable state of the region or the block.
     *
     * @return the dirty memory, or null
     */
    public DirtyMemory dirtyMemory() {
        return dirty;
    }

    /** @return the ram_addr of byte 0 of {@link #loggedWrite()} (0 without a logged slice) */
    public long ramAddr() {
        return ramAddr;
    }

    /** @return the section's dirty-log clients ({@code dirty_log_mask}), 0 without a logged slice */
    public int dirtyMask() {
        return dirtyMask;
    }

    /**
     * The section whose memory this window shows (for a {@linkplain #slice slice}, the section of the
     * space behind the IOMMU: its {@code start()} is not this window's).
     *
     * @return the section, null for {@link #empty()}
     */
    public PhysSection section() {
        return section;
    }

    @Override
    public String toString() {
        return "DirectWindow[0x" + Long.toHexString(start) + " read=" + read.byteSize() + " write=" + write().byteSize()
                + " logged=" + loggedWrite.byteSize() + "]";
    }
}
