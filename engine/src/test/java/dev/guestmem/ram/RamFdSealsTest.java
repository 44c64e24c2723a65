package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A block over an fd someone else made ({@link RamBlockBuilder#fd}) keeps the direct path only when
 * no page can vanish under it: a memfd sealed against shrinking. Any other fd can be truncated by its
 * owner (SIGBUS on the next touch), so its accesses go through the fence.
 */
class RamFdSealsTest {
    private static final long SIZE = 1 << 20;

    @Test
    void aPeersSealedMemfdIsDirectAndAnythingElseIsFaultProne(@TempDir Path dir) {
        try (RamBlock own = RamBlock.builder("own", SIZE).memfd().build();
             RamBlock peer = RamBlock.builder("peer", SIZE).fd(own.fd(), 0).build()) {
            assertFalse(own.canFault());
            assertFalse(peer.canFault(), "guestmem's memfds are sealed against shrinking, so the peer is direct too");
        }
        int unsealable = LinuxCalls.memfdCreate("plain", Linux.MFD_CLOEXEC());
        int sealable = LinuxCalls.memfdCreate("sealable", Linux.MFD_CLOEXEC() | Linux.MFD_ALLOW_SEALING());
        int file = LinuxCalls.open(dir.resolve("ram").toString(), Linux.O_RDWR() | Linux.O_CREAT() | Linux.O_CLOEXEC(), 0600);
        try {
            for (int fd : new int[] {unsealable, sealable, file}) {
                LinuxCalls.ftruncate(fd, SIZE);
                try (RamBlock b = RamBlock.builder("fd" + fd, SIZE).fd(fd, 0).build()) {
                    assertTrue(b.canFault(), "fd " + fd + " can be truncated under the mapping");
                }
            }
            LinuxCalls.addSeals(sealable, Linux.F_SEAL_SHRINK());
            try (RamBlock b = RamBlock.builder("sealed", SIZE).fd(sealable, 0).build()) {
                assertFalse(b.canFault(), "sealed against shrinking now");
            }
        } finally {
            LinuxCalls.close(unsealable);
            LinuxCalls.close(sealable);
            LinuxCalls.close(file);
        }
    }
}
