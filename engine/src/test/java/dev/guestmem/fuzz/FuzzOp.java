package dev.guestmem.fuzz;

/**
 * One call of the setup or access API, drawn at random, valid or not. Operands are selectors (small
 * non-negative ints) that {@link FuzzMachine} resolves against its state when the call runs: a
 * region selector indexes its region list modulo its length, an address selector its table of
 * placements. So every op applies to every state, and jqwik can drop or shrink ops freely.
 */
sealed interface FuzzOp {
    /**
     * {@code parent.addSubregionOverlap(addr, child, prio)}; an even child selector picks among the
     * regions without a container, an odd one among all, another machine's too; the parent may be
     * another machine's as well.
     */
    record Add(int parent, int child, int addr, int prio) implements FuzzOp {
    }

    /** {@code parent.delSubregion(child)}; an even parent selector takes the child's own container. */
    record Del(int parent, int child) implements FuzzOp {
    }

    /** {@code region.setAddress(addr)}. */
    record SetAddress(int region, int addr) implements FuzzOp {
    }

    /** {@code region.setEnabled(on)}. */
    record SetEnabled(int region, boolean on) implements FuzzOp {
    }

    /** {@code region.setReadonly(on)}. */
    record SetReadonly(int region, boolean on) implements FuzzOp {
    }

    /** {@code region.setSize(size)}. */
    record SetSize(int region, int size) implements FuzzOp {
    }

    /** {@code ramRegion.ramResize(size)} (only RAM regions have it). */
    record RamResize(int region, int size) implements FuzzOp {
    }

    /** {@code alias.setAliasOffset(addr)}. */
    record AliasOffset(int region, int addr) implements FuzzOp {
    }

    /** {@code region.setLog(on, client)}. */
    record SetLog(int region, boolean on, int client) implements FuzzOp {
    }

    /** {@code romDevice.setRomd(on)}. */
    record SetRomd(int region, boolean on) implements FuzzOp {
    }

    /** {@code region.addEventfd} or {@code delEventfd}. */
    record Eventfd(boolean add, int region, int offset, int size, boolean match, int data, int notifier)
            implements FuzzOp {
    }

    /** {@code region.addCoalescing(offset, size)}. */
    record AddCoalescing(int region, int offset, int size) implements FuzzOp {
    }

    /** The other coalescing calls: 0 set, 1 clear, 2 setFlushCoalesced, 3 clearFlushCoalesced. */
    record Coalescing(int region, int call) implements FuzzOp {
    }

    /** {@code transactionBegin()} or {@code transactionCommit()} (also without a begin). */
    record Transaction(boolean begin) implements FuzzOp {
    }

    /** {@code region.destroy()}. */
    record Destroy(int region) implements FuzzOp {
    }

    /** A RAM discard manager: attach one with a block size, detach the region's, or clear it with null. */
    record Discard(int region, int call, int blockSize) implements FuzzOp {
    }

    /** {@code registerListener(listener, space)} (space selector 0: every space) or {@code unregisterListener}. */
    record Listener(boolean register, int listener, int space) implements FuzzOp {
    }

    /**
     * A new region with a size: kind 0 an alias of any region (of this machine or another) at an
     * offset, 1 a container, 2 an I/O region, 3 RAM.
     */
    record NewRegion(int kind, int target, int offset, int size) implements FuzzOp {
    }

    /** {@code setNonvolatile(on)} (even flag selector) or {@code setUnmergeable(on)}. */
    record SetFlag(int region, int flag, boolean on) implements FuzzOp {
    }

    /** {@code globalDirtyLogStart()} or {@code globalDirtyLogStop()} (also without a start). */
    record GlobalDirtyLog(boolean start) implements FuzzOp {
    }

    /** A new address space on any region, or the destruction of one. */
    record Space(boolean create, int sel) implements FuzzOp {
    }

    /** {@code MemorySystem.close()}. */
    record Close() implements FuzzOp {
    }

    /**
     * A guest access through a space: at a point of its view (a range's edge or an edge of 2^64),
     * moved by a delta; kind 0 ld, 1 st, 2 read, 3 write; size 1, 2, 4, 8 for ld/st, bytes for buffers.
     */
    record Access(int space, int point, int delta, int kind, int size, boolean big, long data) implements FuzzOp {
    }

    /**
     * A soft-TLB fill ({@code GuestTlb.fill}) of the page of a point of a space's view (mostly inside
     * a range: {@code AccessCheck.mappedPoint}), kept by the machine: while its generation says it is
     * valid it must equal a fresh fill and the oracle ({@link TlbCheck}).
     */
    record TlbFill(int space, int point, int delta) implements FuzzOp {
    }

    /**
     * A load of 1, 2, 4 or 8 bytes through a fresh {@code VcpuTlb} of a space, twice (a miss that
     * fills, then a hit where the page is direct), at a point as {@link TlbFill} chooses: each must
     * give what the space's own load gives, and report a fault exactly when it fails ({@link VcpuCheck}).
     */
    record FreshVcpuLoad(int space, int point, int delta, int size, boolean big) implements FuzzOp {
    }

    /** {@code enterBlock()} of one of the machine's kept vCPU TLBs ({@link VcpuCheck}). */
    record VcpuEnterBlock(int vcpu) implements FuzzOp {
    }

    /** {@code flush()} of a kept vCPU TLB. */
    record VcpuFlush(int vcpu) implements FuzzOp {
    }

    /**
     * A load of 1, 2, 4 or 8 bytes, either order, through a kept vCPU TLB, at a point of its space as
     * {@link TlbFill} chooses (inside ranges of every kind, at page starts and just before page ends,
     * so that wide accesses cross pages; or at an edge of the view).
     */
    record VcpuLoad(int vcpu, int point, int delta, int size, boolean big) implements FuzzOp {
    }

    /** A store of 1, 2, 4 or 8 bytes through a kept vCPU TLB, chosen as {@link VcpuLoad}. */
    record VcpuStore(int vcpu, int point, int delta, int size, boolean big, long data) implements FuzzOp {
    }

    /**
     * A JIT translates code from the page of a point (as {@link TlbFill} chooses): it clears the
     * page's CODE bit, as the guide's CODE section shows; {@code keeps}: the page keeps translations
     * when a write invalidates some (the code hook leaves it protected).
     */
    record Translate(int space, int point, int delta, boolean keeps) implements FuzzOp {
    }

    /**
     * {@code MemoryRegionCache.init} of one of the machine's caches on a range of a space (from a
     * point as {@link TlbFill} chooses), for reading or writing ({@link CacheCheck}).
     */
    record CacheInit(int cache, int space, int point, int delta, int len, boolean write) implements FuzzOp {
    }

    /**
     * An access through a cache (mostly one with bytes): kind 0 ld, 1 st, 2 read, 3 write; size 1,
     * 2, 4, 8 (bytes for buffers), cut to fit; the offset inside the cached range, or (one in eight)
     * past it.
     */
    record CacheAccess(int cache, int offset, int kind, int size, long data) implements FuzzOp {
    }

    /** {@code cache.invalidate(off, n)} (else {@code cache.destroy()}). */
    record CacheEnd(int cache, boolean invalidate, int offset, int size) implements FuzzOp {
    }

    /** {@code as.map(addr, len, isWrite)} of a range from a point as {@link TlbFill} chooses, kept ({@link DmaCheck}). */
    record DmaMap(int space, int point, int delta, int len, boolean write) implements FuzzOp {
    }

    /** A device's write of random bytes into a kept write mapping. */
    record DmaUse(int mapping, int offset, int len, long seed) implements FuzzOp {
    }

    /** {@code mapping.unmap(n)}: n 0, all, or part of it; also of a mapping already unmapped. */
    record DmaUnmap(int mapping, int how) implements FuzzOp {
    }

    /** {@code registerMapClient} on a space (even call), or {@code setMaxBounceBufferSize} (odd). */
    record DmaClient(int space, int call, int limit) implements FuzzOp {
    }

    /** {@code region.snapshotAndClearDirty(offset, size, client)}, checked by {@link DirtyModel}. */
    record DirtyClear(int region, int client, int offset, int size) implements FuzzOp {
    }
}
