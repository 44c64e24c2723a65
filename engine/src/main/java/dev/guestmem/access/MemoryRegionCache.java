package dev.guestmem.access;

import static dev.guestmem.internal.ByteOrderLayouts.HOST_BIG;
import static dev.guestmem.internal.ByteOrderLayouts.U16_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U16_LE;
import static dev.guestmem.internal.ByteOrderLayouts.U32_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U32_LE;
import static dev.guestmem.internal.ByteOrderLayouts.U64_BE;
import static dev.guestmem.internal.ByteOrderLayouts.U64_LE;

import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.flat.FlatView;
import dev.guestmem.internal.SigbusFence;
import dev.guestmem.mmio.MmioDispatch;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MmioValue;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Objects;

/**
 * A translation cached for repeated device accesses to one guest range (virtio rings), as QEMU's
 * {@code MemoryRegionCache}: {@link #init} translates once; accessors take offsets relative to the
 * cached address. RAM is accessed through a cached segment slice; anything else is dispatched as
 * MMIO at consecutive offsets of the cached region without looking the address up again (QEMU's
 * 2024 fix). A range behind an IOMMU is cached as the IOMMU's section: {@link #init} does not follow
 * the IOMMU (nor cut the length to its page), it is not direct, and every access translates through
 * the IOMMU again from the pinned view (into the target space's current view), as QEMU's
 * {@code address_space_translate_cached} does; an access crossing an IOMMU page is translated page by
 * page (QEMU would continue in the first page's target region).
 *
 * <p><b>Attributes.</b> As QEMU's {@code address_space_ld*_cached}/{@code st*_cached}, every load and
 * store has an overload taking {@link MemTxAttrs} (the others are {@link MemTxAttrs#UNSPECIFIED}):
 * they reach the cached device's with-attrs callbacks and {@code accepts}, and, over an IOMMU, its
 * translation ({@code attrs_to_index}) on every access. RAM is accessed the same whatever the
 * attributes, except that a debug store ({@code attrs.debug}) may write ROM, as on the address
 * space's path. {@link #init} and the buffer accessors {@link #read}/{@link #write} take no
 * attributes, as QEMU's {@code address_space_cache_init} and {@code address_space_read/write_cached}
 * (unspecified). A load given a holder always fills it, also on the RAM fast path.
 *
 * <p>The cache is a snapshot: it pins the view it was built from and never updates itself. Writes
 * through the RAM fast path of a cache made for writing do not mark pages dirty; call
 * {@link #invalidate} afterwards, as in QEMU. A cache made for reading has no {@code invalidate}:
 * stores through it to RAM are marked dirty at once (QEMU leaves them unlogged), and to ROM they are
 * refused as ROM stores are (QEMU writes the ROM). Offsets outside {@code [0, length)} (unsigned,
 * as QEMU's {@code hwaddr}) are programming errors and throw {@link IndexOutOfBoundsException}
 * (QEMU asserts).
 *
 * <p><b>Thread safety.</b> Not thread-safe: one cache per device queue, used by one thread at a
 * time; {@link #init} and {@link #destroy} must not race with accesses.
 */
public final class MemoryRegionCache {

    private final Translation t = new Translation();
    private final MmioValue v = new MmioValue();
    private AddressSpace as;
    private FlatView view;
    private PhysSection section;
    private long addr;
    private long xlat;
    private long len;
    private boolean isWrite;
    private MemorySegment ptr;
    /** The block could SIGBUS when the cache was made (see {@link #fenced()}). */
    private boolean fenced;
    /** The block of the cached section, held until {@link #destroy} (direct or not: see {@link #init}). */
    private RamBlock block;

    /** Creates an empty cache ({@code address_space_cache_init_empty}): destroy is safe. */
    public MemoryRegionCache() {
    }

    /**
     * {@code address_space_cache_init}: translates {@code [addr, addr+len)} once (subpages resolved,
     * IOMMUs not followed), clamps the length to the section (CVE-2020-27821), and for RAM extends it
     * across following ranges of the same region and keeps a segment slice.
     *
     * @param as the address space
     * @param addr guest address (unsigned)
     * @param len wanted length, &gt; 0
     * @param isWrite whether writes will be made
     * @return the usable length, possibly less than {@code len}
     * @throws IllegalArgumentException if {@code len} is 0
     * @implNote Holds a reference on the RAM block of every section whose memory it may copy (RAM,
     *     ROM, a ROM device), direct or not, until {@link #destroy} or the next {@code init}.
     */
    public long init(AddressSpace as, long addr, long len, boolean isWrite) {
        Objects.requireNonNull(as, "as"); // checked before the old translation is dropped
        if (len == 0) {
            throw new IllegalArgumentException("cache length must be > 0");
        }
        destroy();
        this.as = as;
        this.view = as.currentMap();
        this.addr = addr;
        this.isWrite = isWrite;
        PhysSection s = view.dispatch().translateInternal(addr, len, true, t);
        this.section = s;
        this.xlat = t.xlat();
        long inSection = s.last() - addr + 1; // 0 means 2^64
        long l = inSection != 0 && Long.compareUnsigned(len, inSection) > 0 ? inSection : len;
        if (FlatViewAccess.isDirect(s, isWrite, MemTxAttrs.UNSPECIFIED) && (s.flags() & PhysSection.IOMMU) == 0) {
            long done = l;
            Translation t2 = new Translation();
            while (Long.compareUnsigned(done, len) < 0) {
                PhysSection n = view.dispatch().translateInternal(addr + done, len - done, true, t2);
                if (n.region() != s.region() || t2.xlat() != xlat + done
                        || !FlatViewAccess.isDirect(n, isWrite, MemTxAttrs.UNSPECIFIED)) {
                    break;
                }
                done += t2.plen();
            }
            MemorySegment ram = s.segment();
            long avail = FlatViewAccess.blockBytesFrom(ram, xlat);
            if (Long.compareUnsigned(done, avail) > 0) {
                done = avail; // 0 past the block's end
            }
            RamBlock b = s.ramBlock();
            boolean refd = false;
            try {
                if (done != 0) { // at or past the block's end no byte is left: not direct
                    b.ref();
                    refd = true;
                    this.ptr = ram.asSlice(xlat, done);
                    this.block = b;
                    this.fenced = (s.flags() & PhysSection.FAULT_PRONE) != 0;
                }
            } catch (RuntimeException released) {
                // block released or shrunk under us: fall back to the slow path
                this.ptr = null;
                if (refd) {
                    b.unref();
                }
            }
            l = done;
        } else if (s.segment() != null && s.ramBlock() != null) {
            // not direct for this kind of access, but reads (a write cache over ROM or a ROMD
            // device) or debug stores still copy the block: hold it as a direct cache does
            try {
                s.ramBlock().ref();
                this.block = s.ramBlock();
            } catch (RuntimeException released) {
                // released under us: those accesses answer ERROR, as for any released block
            }
        }
        this.len = l;
        return l;
    }

    /** {@code address_space_cache_destroy}: drops the view and the block reference. Idempotent. */
    public void destroy() {
        if (block != null) {
            block.unref();
        }
        block = null;
        ptr = null;
        view = null;
        section = null;
        as = null;
        len = 0;
    }

    /** @return the usable length ({@code cache->len}) */
    public long length() {
        return len;
    }

    /** @return whether accesses go straight to RAM */
    public boolean isDirect() {
        return ptr != null;
    }

    /** QEMU's bound assert, unsigned as {@code cache->len} is: {@code [off, off+n)} inside {@code [0, len)}. */
    private void check(long off, long n) {
        if (Long.compareUnsigned(off, len) > 0 || Long.compareUnsigned(n, len - off) > 0) {
            throw new IndexOutOfBoundsException("range [0x" + Long.toHexString(off) + ", +0x" + Long.toHexString(n)
                    + ") outside the cache's 0x" + Long.toHexString(len) + " bytes");
        }
    }

    /**
     * Whether {@link #ptr} may be accessed only through {@link SigbusFence}: the block could SIGBUS
     * when the cache was made, or a {@link dev.guestmem.ram.FaultProneHold} opened since (a lazy
     * restore whose dead page server poisons missing pages). The cache pins its view, so the
     * re-render that fences the address spaces does not reach it: the hold count is read per access.
     * Only with {@link #ptr} set.
     */
    private boolean fenced() {
        return fenced || block.faultProneHolds() > 0;
    }

    /** Fills the holder as the address space's loads do (QEMU leaves it untouched on its fast path). */
    private static void ok(MemTxResultHolder res) {
        if (res != null) {
            res.set(MemTxResult.OK);
        }
    }

    private long load(long off, int size, boolean big, MemTxAttrs attrs, MemTxResultHolder res) {
        check(off, size);
        if (ptr != null) {
            try {
                long val = fenced() ? SigbusFence.get(ptr, off, size, big) : FlatViewAccess.getRaw(ptr, off, size, big);
                ok(res);
                return val;
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.loadFault(section, xlat + off, size, e, res);
            }
        }
        if ((section.flags() & PhysSection.IOMMU) != 0) {
            try {
                return FlatViewAccess.loadThrough(view, addr + off, size, big, attrs, res);
            } catch (IllegalStateException released) { // a block behind the IOMMU went away
                return FlatViewAccess.loadFault(section, xlat + off, size, released, res);
            }
        }
        if (readsDirect()) { // a write cache over ROM (or a ROMD device): reads are direct, as QEMU
            try {
                return FlatViewAccess.loadRam(section, xlat + off, size, big, res);
            } catch (IllegalStateException released) {
                return FlatViewAccess.loadFault(section, xlat + off, size, released, res);
            }
        }
        FlatViewAccess.prepareMmio(section);
        int r = MmioDispatch.read(section.ops(), section.guard(), FlatViewAccess.name(section), xlat + off, size, big,
                attrs, v);
        if (res != null) {
            res.set(r);
        }
        return v.value;
    }

    private int store(long off, int size, boolean big, long val, MemTxAttrs attrs) {
        check(off, size);
        if (writesDirect(attrs)) {
            try {
                if (fenced()) {
                    SigbusFence.set(ptr, off, size, big, val);
                } else {
                    FlatViewAccess.setRaw(ptr, off, size, big, val);
                }
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.ramFault(section, xlat + off, size, e);
            }
            if (!isWrite) { // no invalidate for a read cache: log the store now
                FlatViewAccess.dirty(section, xlat + off, size);
            }
            return MemTxResult.OK;
        }
        if ((section.flags() & PhysSection.IOMMU) != 0) {
            try {
                return FlatViewAccess.storeThrough(view, addr + off, size, big, val, attrs);
            } catch (IllegalStateException released) { // a block behind the IOMMU went away
                return MemTxResult.ERROR;
            }
        }
        if (writesRamSlow(attrs)) { // no pointer means no invalidate will log it: storeRam logs now
            try {
                return FlatViewAccess.storeRam(section, xlat + off, size, big, val);
            } catch (IllegalStateException released) {
                return FlatViewAccess.ramFault(section, xlat + off, size, released);
            }
        }
        FlatViewAccess.prepareMmio(section);
        return FlatViewAccess.mmioWrite(section, xlat + off, val, size, big, attrs);
    }

    /**
     * Loads 1 byte ({@code address_space_ldub_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param res receives the {@link MemTxResult}, or null
     * @return the byte (zero-extended), 0 on error
     */
    public int ldub(long off, MemTxResultHolder res) {
        return ldub(off, MemTxAttrs.UNSPECIFIED, res);
    }

    /**
     * Loads 1 byte ({@code address_space_ldub_cached}).
     *
     * @param off offset from the cached address
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @param res receives the {@link MemTxResult}, or null
     * @return the byte (zero-extended), 0 on error
     * @implNote Allocation-free; RAM is read through the cached slice whatever the attributes.
     */
    public int ldub(long off, MemTxAttrs attrs, MemTxResultHolder res) {
        return (int) load(off, 1, false, attrs, res);
    }

    /**
     * Loads 2 bytes little-endian ({@code address_space_lduw_le_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param res receives the {@link MemTxResult}, or null
     * @return the value (zero-extended), 0 on error
     */
    public int lduwLe(long off, MemTxResultHolder res) {
        return lduwLe(off, MemTxAttrs.UNSPECIFIED, res);
    }

    /**
     * Loads 2 bytes little-endian ({@code address_space_lduw_le_cached}).
     *
     * @param off offset from the cached address
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @param res receives the {@link MemTxResult}, or null
     * @return the value (zero-extended), 0 on error
     * @implNote Allocation-free; RAM is read through the cached slice whatever the attributes.
     */
    public int lduwLe(long off, MemTxAttrs attrs, MemTxResultHolder res) {
        if (ptr != null && !fenced() && off >= 0 && off <= len - 2) {
            try {
                int v = Short.toUnsignedInt(ptr.get(U16_LE, off));
                ok(res);
                return v;
            } catch (IllegalStateException | InternalError e) {
                return (int) FlatViewAccess.loadFault(section, xlat + off, 2, e, res);
            }
        }
        return (int) load(off, 2, false, attrs, res);
    }

    /**
     * Loads 2 bytes big-endian ({@code address_space_lduw_be_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param res receives the {@link MemTxResult}, or null
     * @return the value (zero-extended), 0 on error
     */
    public int lduwBe(long off, MemTxResultHolder res) {
        return lduwBe(off, MemTxAttrs.UNSPECIFIED, res);
    }

    /**
     * Loads 2 bytes big-endian ({@code address_space_lduw_be_cached}).
     *
     * @param off offset from the cached address
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @param res receives the {@link MemTxResult}, or null
     * @return the value (zero-extended), 0 on error
     * @implNote Allocation-free; RAM is read through the cached slice whatever the attributes.
     */
    public int lduwBe(long off, MemTxAttrs attrs, MemTxResultHolder res) {
        if (ptr != null && !fenced() && off >= 0 && off <= len - 2) {
            try {
                int v = Short.toUnsignedInt(ptr.get(U16_BE, off));
                ok(res);
                return v;
            } catch (IllegalStateException | InternalError e) {
                return (int) FlatViewAccess.loadFault(section, xlat + off, 2, e, res);
            }
        }
        return (int) load(off, 2, true, attrs, res);
    }

    /**
     * Loads 4 bytes little-endian ({@code address_space_ldl_le_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     */
    public int ldlLe(long off, MemTxResultHolder res) {
        return ldlLe(off, MemTxAttrs.UNSPECIFIED, res);
    }

    /**
     * Loads 4 bytes little-endian ({@code address_space_ldl_le_cached}).
     *
     * @param off offset from the cached address
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     * @implNote Allocation-free; RAM is read through the cached slice whatever the attributes.
     */
    public int ldlLe(long off, MemTxAttrs attrs, MemTxResultHolder res) {
        if (ptr != null && !fenced() && off >= 0 && off <= len - 4) {
            try {
                int v = ptr.get(U32_LE, off);
                ok(res);
                return v;
            } catch (IllegalStateException | InternalError e) {
                return (int) FlatViewAccess.loadFault(section, xlat + off, 4, e, res);
            }
        }
        return (int) load(off, 4, false, attrs, res);
    }

    /**
     * Loads 4 bytes big-endian ({@code address_space_ldl_be_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     */
    public int ldlBe(long off, MemTxResultHolder res) {
        return ldlBe(off, MemTxAttrs.UNSPECIFIED, res);
    }

    /**
     * Loads 4 bytes big-endian ({@code address_space_ldl_be_cached}).
     *
     * @param off offset from the cached address
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     * @implNote Allocation-free; RAM is read through the cached slice whatever the attributes.
     */
    public int ldlBe(long off, MemTxAttrs attrs, MemTxResultHolder res) {
        if (ptr != null && !fenced() && off >= 0 && off <= len - 4) {
            try {
                int v = ptr.get(U32_BE, off);
                ok(res);
                return v;
            } catch (IllegalStateException | InternalError e) {
                return (int) FlatViewAccess.loadFault(section, xlat + off, 4, e, res);
            }
        }
        return (int) load(off, 4, true, attrs, res);
    }

    /**
     * Loads 8 bytes little-endian ({@code address_space_ldq_le_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     */
    public long ldqLe(long off, MemTxResultHolder res) {
        return ldqLe(off, MemTxAttrs.UNSPECIFIED, res);
    }

    /**
     * Loads 8 bytes little-endian ({@code address_space_ldq_le_cached}).
     *
     * @param off offset from the cached address
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     * @implNote Allocation-free; RAM is read through the cached slice whatever the attributes.
     */
    public long ldqLe(long off, MemTxAttrs attrs, MemTxResultHolder res) {
        if (ptr != null && !fenced() && off >= 0 && off <= len - 8) {
            try {
                long v = ptr.get(U64_LE, off);
                ok(res);
                return v;
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.loadFault(section, xlat + off, 8, e, res);
            }
        }
        return load(off, 8, false, attrs, res);
    }

    /**
     * Loads 8 bytes big-endian ({@code address_space_ldq_be_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     */
    public long ldqBe(long off, MemTxResultHolder res) {
        return ldqBe(off, MemTxAttrs.UNSPECIFIED, res);
    }

    /**
     * Loads 8 bytes big-endian ({@code address_space_ldq_be_cached}).
     *
     * @param off offset from the cached address
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     * @implNote Allocation-free; RAM is read through the cached slice whatever the attributes.
     */
    public long ldqBe(long off, MemTxAttrs attrs, MemTxResultHolder res) {
        if (ptr != null && !fenced() && off >= 0 && off <= len - 8) {
            try {
                long v = ptr.get(U64_BE, off);
                ok(res);
                return v;
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.loadFault(section, xlat + off, 8, e, res);
            }
        }
        return load(off, 8, true, attrs, res);
    }

    /**
     * Stores 1 byte ({@code address_space_stb_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param val low 8 bits used
     * @return a {@link MemTxResult}
     */
    public int stb(long off, int val) {
        return stb(off, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 1 byte ({@code address_space_stb_cached}).
     *
     * @param off offset from the cached address
     * @param val low 8 bits used
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @return a {@link MemTxResult}
     * @implNote Allocation-free; RAM is written through the cached slice whatever the attributes.
     */
    public int stb(long off, int val, MemTxAttrs attrs) {
        return store(off, 1, false, val & 0xFFL, attrs);
    }

    /**
     * Stores 2 bytes little-endian ({@code address_space_stw_le_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param val low 16 bits used
     * @return a {@link MemTxResult}
     */
    public int stwLe(long off, int val) {
        return stwLe(off, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 2 bytes little-endian ({@code address_space_stw_le_cached}).
     *
     * @param off offset from the cached address
     * @param val low 16 bits used
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @return a {@link MemTxResult}
     * @implNote Allocation-free; RAM is written through the cached slice whatever the attributes.
     */
    public int stwLe(long off, int val, MemTxAttrs attrs) {
        return store(off, 2, false, val & 0xFFFFL, attrs);
    }

    /**
     * Stores 2 bytes big-endian ({@code address_space_stw_be_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param val low 16 bits used
     * @return a {@link MemTxResult}
     */
    public int stwBe(long off, int val) {
        return stwBe(off, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 2 bytes big-endian ({@code address_space_stw_be_cached}).
     *
     * @param off offset from the cached address
     * @param val low 16 bits used
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @return a {@link MemTxResult}
     * @implNote Allocation-free; RAM is written through the cached slice whatever the attributes.
     */
    public int stwBe(long off, int val, MemTxAttrs attrs) {
        return store(off, 2, true, val & 0xFFFFL, attrs);
    }

    /**
     * Stores 4 bytes little-endian ({@code address_space_stl_le_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param val the value
     * @return a {@link MemTxResult}
     */
    public int stlLe(long off, int val) {
        return stlLe(off, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 4 bytes little-endian ({@code address_space_stl_le_cached}).
     *
     * @param off offset from the cached address
     * @param val the value
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @return a {@link MemTxResult}
     * @implNote Allocation-free; RAM is written through the cached slice whatever the attributes.
     */
    public int stlLe(long off, int val, MemTxAttrs attrs) {
        return store(off, 4, false, Integer.toUnsignedLong(val), attrs);
    }

    /**
     * Stores 4 bytes big-endian ({@code address_space_stl_be_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param val the value
     * @return a {@link MemTxResult}
     */
    public int stlBe(long off, int val) {
        return stlBe(off, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 4 bytes big-endian ({@code address_space_stl_be_cached}).
     *
     * @param off offset from the cached address
     * @param val the value
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @return a {@link MemTxResult}
     * @implNote Allocation-free; RAM is written through the cached slice whatever the attributes.
     */
    public int stlBe(long off, int val, MemTxAttrs attrs) {
        return store(off, 4, true, Integer.toUnsignedLong(val), attrs);
    }

    /**
     * Stores 8 bytes little-endian ({@code address_space_stq_le_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param val the value
     * @return a {@link MemTxResult}
     */
    public int stqLe(long off, long val) {
        return stqLe(off, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 8 bytes little-endian ({@code address_space_stq_le_cached}).
     *
     * @param off offset from the cached address
     * @param val the value
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @return a {@link MemTxResult}
     * @implNote Allocation-free; RAM is written through the cached slice whatever the attributes.
     */
    public int stqLe(long off, long val, MemTxAttrs attrs) {
        return store(off, 8, false, val, attrs);
    }

    /**
     * Stores 8 bytes big-endian ({@code address_space_stq_be_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param val the value
     * @return a {@link MemTxResult}
     */
    public int stqBe(long off, long val) {
        return stqBe(off, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 8 bytes big-endian ({@code address_space_stq_be_cached}).
     *
     * @param off offset from the cached address
     * @param val the value
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @return a {@link MemTxResult}
     * @implNote Allocation-free; RAM is written through the cached slice whatever the attributes.
     */
    public int stqBe(long off, long val, MemTxAttrs attrs) {
        return store(off, 8, true, val, attrs);
    }

    // ---------------------------------------------------------------------------------------------
    // The target's byte order: QEMU's unsuffixed address_space_ld*_cached / st*_cached (ld*_phys_cached)

    /** @return whether the unsuffixed forms are big-endian: the cached space's system's target order */
    private boolean targetBig() {
        AddressSpace a = as;
        return a != null && a.targetBig(); // not initialised: the access fails as the others do
    }

    /**
     * Loads 2 bytes in the target's byte order ({@code address_space_lduw_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     */
    public int lduw(long off, MemTxResultHolder res) {
        return lduw(off, MemTxAttrs.UNSPECIFIED, res);
    }

    /**
     * Loads 2 bytes in the target's byte order ({@code address_space_lduw_cached}): the system's
     * {@link dev.guestmem.MemorySystem#targetOrder()}, the host's unless it was made for another.
     *
     * @param off offset from the cached address
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     */
    public int lduw(long off, MemTxAttrs attrs, MemTxResultHolder res) {
        return targetBig() ? lduwBe(off, attrs, res) : lduwLe(off, attrs, res);
    }

    /**
     * Loads 4 bytes in the target's byte order ({@code address_space_ldl_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     */
    public int ldl(long off, MemTxResultHolder res) {
        return ldl(off, MemTxAttrs.UNSPECIFIED, res);
    }

    /**
     * Loads 4 bytes in the target's byte order ({@code address_space_ldl_cached}): the system's
     * {@link dev.guestmem.MemorySystem#targetOrder()}, the host's unless it was made for another.
     *
     * @param off offset from the cached address
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     */
    public int ldl(long off, MemTxAttrs attrs, MemTxResultHolder res) {
        return targetBig() ? ldlBe(off, attrs, res) : ldlLe(off, attrs, res);
    }

    /**
     * Loads 8 bytes in the target's byte order ({@code address_space_ldq_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     */
    public long ldq(long off, MemTxResultHolder res) {
        return ldq(off, MemTxAttrs.UNSPECIFIED, res);
    }

    /**
     * Loads 8 bytes in the target's byte order ({@code address_space_ldq_cached}): the system's
     * {@link dev.guestmem.MemorySystem#targetOrder()}, the host's unless it was made for another.
     *
     * @param off offset from the cached address
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @param res receives the {@link MemTxResult}, or null
     * @return the value, 0 on error
     */
    public long ldq(long off, MemTxAttrs attrs, MemTxResultHolder res) {
        return targetBig() ? ldqBe(off, attrs, res) : ldqLe(off, attrs, res);
    }

    /**
     * Stores 2 bytes in the target's byte order ({@code address_space_stw_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param val the value
     * @return a {@link MemTxResult}
     */
    public int stw(long off, int val) {
        return stw(off, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 2 bytes in the target's byte order ({@code address_space_stw_cached}): the system's
     * {@link dev.guestmem.MemorySystem#targetOrder()}, the host's unless it was made for another.
     *
     * @param off offset from the cached address
     * @param val the value
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @return a {@link MemTxResult}
     */
    public int stw(long off, int val, MemTxAttrs attrs) {
        return targetBig() ? stwBe(off, val, attrs) : stwLe(off, val, attrs);
    }

    /**
     * Stores 4 bytes in the target's byte order ({@code address_space_stl_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param val the value
     * @return a {@link MemTxResult}
     */
    public int stl(long off, int val) {
        return stl(off, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 4 bytes in the target's byte order ({@code address_space_stl_cached}): the system's
     * {@link dev.guestmem.MemorySystem#targetOrder()}, the host's unless it was made for another.
     *
     * @param off offset from the cached address
     * @param val the value
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @return a {@link MemTxResult}
     */
    public int stl(long off, int val, MemTxAttrs attrs) {
        return targetBig() ? stlBe(off, val, attrs) : stlLe(off, val, attrs);
    }

    /**
     * Stores 8 bytes in the target's byte order ({@code address_space_stq_cached}), attributes unspecified.
     *
     * @param off offset from the cached address
     * @param val the value
     * @return a {@link MemTxResult}
     */
    public int stq(long off, long val) {
        return stq(off, val, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * Stores 8 bytes in the target's byte order ({@code address_space_stq_cached}): the system's
     * {@link dev.guestmem.MemorySystem#targetOrder()}, the host's unless it was made for another.
     *
     * @param off offset from the cached address
     * @param val the value
     * @param attrs transaction attributes, for a device's with-attrs callbacks and an IOMMU
     * @return a {@link MemTxResult}
     */
    public int stq(long off, long val, MemTxAttrs attrs) {
        return targetBig() ? stqBe(off, val, attrs) : stqLe(off, val, attrs);
    }

    /**
     * {@code address_space_read_cached}.
     *
     * @param off offset from the cached address
     * @param buf destination
     * @param bufOff offset in {@code buf}
     * @param n bytes
     * @return a {@link MemTxResult}
     */
    public int read(long off, byte[] buf, int bufOff, int n) {
        check(off, n);
        Objects.checkFromIndexSize(bufOff, n, buf.length); // before any device sees a chunk
        if (n == 0) {
            return MemTxResult.OK;
        }
        if (ptr != null) {
            try {
                FlatViewAccess.copy(ptr, off, buf, bufOff, null, 0, n, false, fenced());
                return MemTxResult.OK;
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.ramFault(section, xlat + off, n, e);
            }
        }
        if ((section.flags() & PhysSection.IOMMU) != 0) {
            return FlatViewAccess.rw(as, view, addr + off, MemTxAttrs.UNSPECIFIED, buf, bufOff, null, 0, n, false);
        }
        return mmioBuffer(off, buf, bufOff, n, false);
    }

    /**
     * {@code address_space_write_cached}: RAM writes are not marked dirty; see {@link #invalidate}.
     *
     * @param off offset from the cached address
     * @param buf source
     * @param bufOff offset in {@code buf}
     * @param n bytes
     * @return a {@link MemTxResult}
     */
    public int write(long off, byte[] buf, int bufOff, int n) {
        check(off, n);
        Objects.checkFromIndexSize(bufOff, n, buf.length); // before any device sees a chunk
        if (n == 0) {
            return MemTxResult.OK;
        }
        if (writesDirect(MemTxAttrs.UNSPECIFIED)) { // address_space_write_cached has no attrs
            try {
                FlatViewAccess.copy(ptr, off, buf, bufOff, null, 0, n, true, fenced());
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.ramFault(section, xlat + off, n, e);
            }
            if (!isWrite) { // no invalidate for a read cache: log the write now
                FlatViewAccess.dirty(section, xlat + off, n);
            }
            return MemTxResult.OK;
        }
        if ((section.flags() & PhysSection.IOMMU) != 0) {
            return FlatViewAccess.rw(as, view, addr + off, MemTxAttrs.UNSPECIFIED, buf, bufOff, null, 0, n, true);
        }
        return mmioBuffer(off, buf, bufOff, n, true);
    }

    /**
     * Whether stores go through the pointer: a write cache over RAM, or a read cache over memory a
     * write may reach directly (QEMU writes through {@code cache->ptr} whenever it is set). A read
     * cache over ROM or a ROMD device stores to the cached region's ops instead, as a store to it
     * would (QEMU would write the ROM through the pointer), unless the store is a debug one
     * ({@code attrs.debug} may write ROM, as on the address space's path).
     */
    private boolean writesDirect(MemTxAttrs attrs) {
        return ptr != null && (isWrite || FlatViewAccess.isDirect(section, true, attrs));
    }

    /**
     * Whether a store of a cache without a pointer still writes the section's memory: a debug store
     * to ROM through a cache made for writing, which QEMU's slow path writes directly because
     * {@code memory_access_is_direct(mr, true, attrs)} lets a debug access write ROM.
     */
    private boolean writesRamSlow(MemTxAttrs attrs) {
        return ptr == null && section.segment() != null && FlatViewAccess.isDirect(section, true, attrs);
    }

    /**
     * Whether reads of a cache without a pointer still copy RAM directly: a cache made for writing
     * over memory that is direct only for reads (ROM, a ROM device in ROMD mode), which QEMU's
     * {@code flatview_read_continue_step} reads with {@code memory_access_is_direct(mr, false)}.
     */
    private boolean readsDirect() {
        return ptr == null && section.segment() != null && FlatViewAccess.isDirect(section, false, MemTxAttrs.UNSPECIFIED);
    }

    /**
     * QEMU's {@code address_space_read/write_continue_cached}: a buffer access to a non-RAM cache is
     * dispatched on the cached region at consecutive offsets, in {@code memory_access_size} chunks of
     * host byte order, without looking the address up again (so it reaches the region the cache
     * was made for even after the topology changed). Results are ORed; every chunk runs. Reads of memory
     * that is direct for reads copy it ({@link #readsDirect()}).
     */
    private int mmioBuffer(long off, byte[] buf, int bufOff, int n, boolean write) {
        if (!write && readsDirect()) {
            // bytes past the block (a ROM grown past it by setSize) read 0, a decode error, as a load there
            int inBlock = (int) Math.min(n, FlatViewAccess.blockBytesFrom(section.segment(), xlat + off));
            Arrays.fill(buf, bufOff + inBlock, bufOff + n, (byte) 0);
            try {
                if (inBlock > 0) {
                    FlatViewAccess.copy(section.segment(), xlat + off, buf, bufOff, null, 0, inBlock, false,
                            (section.flags() & PhysSection.FAULT_PRONE) != 0);
                }
                return inBlock == n ? MemTxResult.OK : MemTxResult.DECODE_ERROR;
            } catch (IllegalStateException | InternalError e) {
                return FlatViewAccess.ramFault(section, xlat + off, n, e);
            }
        }
        int result = MemTxResult.OK;
        String name = FlatViewAccess.name(section);
        int done = 0;
        while (done < n) {
            long mrAddr = xlat + off + done;
            int c = MmioDispatch.accessSize(section.ops(), n - done, mrAddr);
            FlatViewAccess.prepareMmio(section);
            if (write) {
                long val = FlatViewAccess.getHostBytes(buf, bufOff + done, null, 0, c);
                result |= FlatViewAccess.mmioWrite(section, mrAddr, val, c, HOST_BIG, MemTxAttrs.UNSPECIFIED);
            } else {
                result |= MmioDispatch.read(section.ops(), section.guard(), name, mrAddr, c, HOST_BIG,
                        MemTxAttrs.UNSPECIFIED, v);
                FlatViewAccess.putHostBytes(buf, bufOff + done, null, 0, c, v.value);
            }
            done += c;
        }
        return result;
    }

    /**
     * {@code address_space_cache_invalidate}: marks {@code [off, off+n)} dirty after direct writes.
     *
     * @param off offset from the cached address
     * @param n bytes
     * @throws IllegalStateException if the cache was not initialised for writing
     */
    public void invalidate(long off, long n) {
        if (!isWrite) {
            throw new IllegalStateException("cache was not initialised for writing");
        }
        check(off, n);
        if (ptr != null) {
            FlatViewAccess.dirty(section, xlat + off, n); // the region's mask now, as QEMU
        }
    }
}
