package dev.guestmem.ram;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.lang.foreign.MemorySegment;

/**
 * One block's backing-store operations, QEMU's {@code qemu_ram_msync}/{@code qemu_ram_writeback}
 * and {@code ram_block_discard_range} ({@code system/physmem.c}): write-back with its "a failed
 * msync is final" rule, and discard. {@link RamBlock} delegates to it; the rules and errors are
 * documented on {@link RamBlock#msync(long, long)} and {@link RamBlock#discard(long, long)}.
 *
 * <p><b>Thread safety.</b> Any thread. Msyncs run one at a time under {@link #lock}, held across
 * the syscall, and a failure is recorded before the lock is released: the kernel reports a
 * write-back error once per file, to whichever concurrent msync checks first, so another msync
 * that had already passed the "failed before?" check could otherwise return success for pages
 * that were never written. {@link #failure} is volatile so {@link #error()} reads it without the
 * lock. Discard takes no lock (the kernel orders it against write-back).
 */
final class RamWriteback {
    private final String idstr;
    private final RamBackend backend;
    private final RamMapping mapping;
    /** The block's whole reservation. */
    private final MemorySegment maxSegment;
    private final boolean shared;
    /** Serialises {@link #msync}; private, since {@link RamBlock#resize} synchronises on the block. */
    private final Object lock = new Object();
    /** The first failed msync; written once under {@link #lock}, never cleared. */
    private volatile WritebackFailure failure;

    RamWriteback(String idstr, RamBackend backend, RamMapping mapping, MemorySegment maxSegment, boolean shared) {
        this.idstr = idstr;
        this.backend = backend;
        this.mapping = mapping;
        this.maxSegment = maxSegment;
        this.shared = shared;
    }

    /** {@link RamBlock#msync(long, long)}; {@code usedLength} bounds the range, as QEMU's assert does. */
    void msync(long ramOffset, long length, long usedLength) {
        checkRange(idstr, "msync", ramOffset, length, usedLength);
        if (mapping.fd() < 0 || length == 0) {
            return;
        }
        long page = LinuxCalls.pageSize();
        long start = ramOffset & -page;
        long end = RamMapper.alignUp(ramOffset + length, page);
        String range = "[0x" + Long.toHexString(start) + ", 0x" + Long.toHexString(end) + ")";
        synchronized (lock) {
            WritebackFailure failed = failure;
            if (failed != null) {
                throw new RamBackendException(idstr, "msync of " + range + " refused: " + failed.reason(), failed.cause());
            }
            try {
                LinuxCalls.msync(maxSegment.asSlice(start, end - start), end - start, Linux.MS_SYNC());
            } catch (NativeCallException e) {
                String why = RamFaultCause.msync(e.errno());
                // Recorded before the lock is released: the next msync refuses instead of asking the
                // kernel, which would report success (the error was reported, the pages left clean).
                failure = new WritebackFailure("msync of " + range + " failed with errno " + e.errno()
                        + " (" + why + ")", e);
                throw new RamBackendException(idstr, "msync of " + range + " failed: " + why, e);
            }
        }
    }

    /** {@link RamBlock#writebackError()}. */
    String error() {
        WritebackFailure failed = failure;
        return failed == null ? null : failed.reason();
    }

    /** {@link RamBlock#discard(long, long)}. */
    void discard(long ramOffset, long length) {
        checkRange(idstr, "discard", ramOffset, length, maxSegment.byteSize());
        long page = mapping.pageSize();
        if (((ramOffset | length) & (page - 1)) != 0) {
            throw new InvalidRamBlockException(idstr, "discard of [0x" + Long.toHexString(ramOffset) + ", +0x"
                    + Long.toHexString(length) + ") is not aligned to the page size 0x" + Long.toHexString(page));
        }
        if (!mapping.ownsMemory()) {
            throw new RamBackendException(idstr, "cannot discard caller-owned memory (" + backend + ")");
        }
        if (length == 0) {
            return;
        }
        try {
            // Shared anonymous memory keeps its pages under MADV_DONTNEED (the mapping just falls
            // back on them): MADV_REMOVE frees them, as QEMU's ram_block_discard_range does.
            int advice = mapping.fd() < 0 && shared ? Linux.MADV_REMOVE() : Linux.MADV_DONTNEED();
            // The mapping first, then the file (QEMU punches first): on a range a lazy restore has
            // registered, the madvise is what tells its page server (a userfaultfd REMOVE event, the
            // punch raises none), so the server knows the page is gone before the hole exists and no
            // prefetch can refill the hole with snapshot contents in between.
            LinuxCalls.madvise(maxSegment.asSlice(ramOffset, length), length, advice);
            if (mapping.fd() >= 0 && shared) {
                LinuxCalls.fallocate(mapping.fd(), Linux.FALLOC_FL_PUNCH_HOLE() | Linux.FALLOC_FL_KEEP_SIZE(),
                        mapping.fdOffset() + ramOffset, length);
            }
        } catch (NativeCallException e) {
            throw new RamBackendException(idstr, "discard of [0x" + Long.toHexString(ramOffset) + ", +0x"
                    + Long.toHexString(length) + ")", e);
        }
    }

    /** Throws {@link InvalidRamBlockException} unless {@code [ramOffset, +length)} lies in {@code [0, limit)}. */
    static void checkRange(String idstr, String what, long ramOffset, long length, long limit) {
        if (ramOffset < 0 || length < 0 || ramOffset > limit - length) {
            throw new InvalidRamBlockException(idstr, what + " of [0x" + Long.toHexString(ramOffset) + ", +0x"
                    + Long.toHexString(length) + ") is outside the block (0x" + Long.toHexString(limit) + " bytes)");
        }
    }

    /** The first failed msync: what it was, and the syscall's error, kept as the cause of later refusals. */
    private record WritebackFailure(String reason, NativeCallException cause) {
    }
}
