package dev.guestmem.share;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import dev.guestmem.ram.RamBlock;
import java.util.Arrays;
import java.util.List;

/**
 * What a {@link RamShareServer} hands each peer for one layout: the {@link ShareProtocol} message
 * and the server's own duplicates of the blocks' descriptors, closed by {@link #close()}.
 *
 * <p><b>Thread safety.</b> Immutable once made; the server closes it under its sending lock.
 */
final class ServedLayout {
    private final byte[] message;
    private final int[] fds;
    /** The blocks behind {@link #fds}: each is noted as mapped by every peer served ({@link RamBlock#noteMappedElsewhere}). */
    private final List<RamBlock> blocks;

    private ServedLayout(byte[] message, int[] fds, List<RamBlock> blocks) {
        this.message = message;
        this.fds = fds;
        this.blocks = List.copyOf(blocks);
    }

    /**
     * Encodes the layout and duplicates the blocks' descriptors.
     *
     * @throws IllegalArgumentException if a block has no descriptor or is not shared
     * @throws IllegalStateException if a block is released
     * @throws ShareException if a descriptor cannot be duplicated
     */
    static ServedLayout of(List<SharedRamRegion> layout, List<RamBlock> blocks) {
        for (RamBlock b : blocks) {
            if (b.fd() < 0 || !b.isShared() || b.fdOffset() != 0) {
                throw new IllegalArgumentException("block '" + b.idstr() + "' cannot be shared: fd " + b.fd() + ", shared "
                        + b.isShared() + ", fd offset 0x" + Long.toHexString(b.fdOffset()));
            }
        }
        byte[] msg = ShareProtocol.encode(layout);
        return new ServedLayout(msg, duplicate(blocks), blocks);
    }

    /** @return the message */
    byte[] message() {
        return message;
    }

    /** @return the blocks whose descriptors {@link #fds} are */
    List<RamBlock> blocks() {
        return blocks;
    }

    /** @return the descriptors to send with the message's first byte */
    int[] fds() {
        return fds;
    }

    /** Closes the duplicates; the peers keep theirs. */
    void close() {
        closeAll(fds);
    }

    /**
     * Duplicates the blocks' descriptors: the server must not hand out the blocks' own numbers,
     * which the machine's close (or an unplug) frees for the next file opened (the peer would get that file).
     */
    private static int[] duplicate(List<RamBlock> blocks) {
        int[] fds = new int[blocks.size()];
        Arrays.fill(fds, -1);
        try {
            for (int i = 0; i < fds.length; i++) {
                RamBlock b = blocks.get(i);
                try {
                    b.ref(); // keeps the descriptor open while it is duplicated
                } catch (IllegalStateException e) {
                    throw new IllegalStateException("block '" + b.idstr() + "' is released (the machine is closed): nothing to serve", e);
                }
                try {
                    fds[i] = LinuxCalls.fcntl(b.fd(), Linux.F_DUPFD_CLOEXEC(), 0);
                } finally {
                    b.unref();
                }
            }
            return fds;
        } catch (NativeCallException e) {
            closeAll(fds);
            throw new ShareException("cannot duplicate the descriptor of a block to serve: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeAll(fds);
            throw e;
        }
    }

    private static void closeAll(int[] fds) {
        for (int fd : fds) {
            if (fd >= 0) {
                try {
                    LinuxCalls.close(fd);
                } catch (NativeCallException ignored) {
                    // our own duplicate: nothing else to undo
                }
            }
        }
    }
}
