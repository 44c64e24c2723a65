package dev.guestmem.share;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import dev.guestmem.ram.InvalidRamBlockException;
import dev.guestmem.ram.RamBackendException;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.ram.RamBlockBuilder;

/** Maps descriptors a server sent, for the layout and for pushed plugs. Thread safety: stateless. */
final class ReceivedBlocks {
    /** {@code O_ACCMODE} of {@code fcntl(F_GETFL)}. */
    private static final int O_ACCMODE = 3;

    private ReceivedBlocks() {
    }

    /**
     * Maps one received descriptor {@code MAP_SHARED}: read-only if the sender opened it read-only
     * or sealed it against writes, and only if it covers the region. The RAM builder would grow an empty file; the sender's
     * descriptor is its RAM, never this side's to resize.
     *
     * @param source the server's socket path, for messages and the block's note
     * @param r the region
     * @param fd the descriptor; stays the caller's (the block holds its own duplicate)
     * @return the block
     * @throws ShareException if the descriptor is shorter than the region or cannot be mapped
     */
    static RamBlock map(String source, SharedRamRegion r, int fd) {
        try {
            long have = LinuxCalls.fstatSize(fd);
            if (Long.compareUnsigned(have, r.size()) < 0) {
                throw new ShareException(source + " sent a descriptor of 0x" + Long.toHexString(have)
                        + " bytes for region '" + r.name() + "' of 0x" + Long.toHexString(r.size()));
            }
            boolean readOnly = (LinuxCalls.fcntl(fd, Linux.F_GETFL(), 0) & O_ACCMODE) == Linux.O_RDONLY() || writeSealed(fd);
            RamBlockBuilder b = RamBlock.builder(r.name(), r.size()).fd(fd, 0);
            RamBlock block = (readOnly ? b.readOnly() : b).build();
            block.noteMappedElsewhere("the process serving " + source); // it maps this RAM too
            return block;
        } catch (InvalidRamBlockException | RamBackendException | NativeCallException e) {
            throw new ShareException(source + " sent a descriptor that cannot back region '" + r.name()
                    + "': " + e.getMessage(), e);
        }
    }

    /** Whether {@code fd} is a memfd sealed against writes: the kernel refuses a writable shared mapping (EPERM). */
    private static boolean writeSealed(int fd) {
        int seals;
        try {
            seals = LinuxCalls.getSeals(fd);
        } catch (NativeCallException e) {
            return false; // not a memfd: no seals
        }
        return (seals & (Linux.F_SEAL_WRITE() | Linux.F_SEAL_FUTURE_WRITE())) != 0;
    }
}
