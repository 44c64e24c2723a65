package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxResult;
import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.ram.RamBlock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@link SharedMachine#attach} makes of the descriptors it receives. */
class AttachDescriptorTest {
    private static final int SIZE = 1 << 20;

    /**
     * A server may share RAM read-only (a shared block of a read-only file): the peer maps the
     * read-only descriptor read-only and its guest writes fail as ROM writes. attach used to ask for
     * a writable shared mapping and fail.
     */
    @Test
    void aReadOnlyDescriptorIsMappedReadOnly(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ram");
        byte[] content = new byte[SIZE];
        content[0x1000] = 0x42;
        Files.write(file, content);
        RamBlock ro = RamBlock.builder("rom0", SIZE).file(file, 0).shared(true).readOnly().build();
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.of(List.of(new SharedRamRegion("rom0", 0, SIZE)), List.of(ro));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            Thread t = Thread.ofPlatform().daemon().start(() -> server.serveOne(Duration.ofSeconds(10)));
            try (SharedMachine peer = SharedMachine.attach(sock, Duration.ofSeconds(5))) {
                assertTrue(peer.blocks().getFirst().isReadOnly());
                assertEquals(0x42, peer.addressSpace().ldub(0x1000));
                assertNotEquals(MemTxResult.OK, peer.addressSpace().stb(0x1000, 1));
                assertEquals(0x42, peer.addressSpace().ldub(0x1000));
            }
            t.join(10_000);
        }
    }

    /**
     * A memfd sealed against writes (F_SEAL_WRITE, or F_SEAL_FUTURE_WRITE) is RAM shared read-only
     * too: the kernel refuses a writable shared mapping of it (EPERM), so attach maps it read-only.
     */
    @Test
    void aWriteSealedMemfdIsMappedReadOnly(@TempDir Path dir) throws Exception {
        for (int seal : new int[] {Linux.F_SEAL_WRITE(), Linux.F_SEAL_FUTURE_WRITE()}) {
            String sock = dir.resolve("w" + seal).toString();
            int listen = LinuxCalls.unixListen(sock);
            int memfd = LinuxCalls.memfdCreate("sealed", Linux.MFD_CLOEXEC() | Linux.MFD_ALLOW_SEALING());
            LinuxCalls.ftruncate(memfd, SIZE);
            LinuxCalls.addSeals(memfd, seal);
            Thread peer = Thread.ofPlatform().start(() -> {
                int c = LinuxCalls.unixAccept(listen);
                LinuxCalls.sendWithFds(c, "guestmem-share 1\nregion a 0 100000\nend\n".getBytes(StandardCharsets.US_ASCII), memfd);
                LinuxCalls.close(c);
            });
            try (SharedMachine m = SharedMachine.attach(sock, Duration.ofSeconds(5))) {
                assertTrue(m.blocks().getFirst().isReadOnly());
                assertEquals(0, m.addressSpace().ldlLe(0x1000));
                assertNotEquals(MemTxResult.OK, m.addressSpace().stlLe(0x1000, 1));
            } finally {
                peer.join(10_000);
                LinuxCalls.close(listen);
                LinuxCalls.close(memfd);
            }
        }
    }

    /**
     * A descriptor smaller than its region is the sender's mistake: refused, and left as it was.
     * An empty one used to be grown to the region's size (and stayed grown when mapping then failed).
     */
    @Test
    void anEmptyOrShortDescriptorIsRefusedAndNotResized(@TempDir Path dir) throws Exception {
        for (long have : new long[] {0, 0x1000}) {
            String sock = dir.resolve("s" + have).toString();
            int listen = LinuxCalls.unixListen(sock);
            int memfd = LinuxCalls.memfdCreate("peer", Linux.MFD_CLOEXEC());
            LinuxCalls.ftruncate(memfd, have);
            Thread peer = Thread.ofPlatform().start(() -> {
                int c = LinuxCalls.unixAccept(listen);
                LinuxCalls.sendWithFds(c, "guestmem-share 1\nregion a 0 100000\nend\n".getBytes(StandardCharsets.US_ASCII), memfd);
                LinuxCalls.close(c);
            });
            try {
                ShareException e = assertThrows(ShareException.class, () -> SharedMachine.attach(sock, Duration.ofSeconds(5)).close());
                assertTrue(e.getMessage().contains("0x100000"), e.getMessage());
                assertEquals(have, LinuxCalls.fstatSize(memfd), "the sender's descriptor was resized");
            } finally {
                peer.join(10_000);
                LinuxCalls.close(listen);
                LinuxCalls.close(memfd);
            }
        }
    }

    /** Any Duration is a timeout: one too long for a long of nanoseconds waits without limit. It threw ArithmeticException. */
    @Test
    void aTimeoutBeyondLongNanosecondsMeansNoLimit(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, SIZE)));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            Thread t = Thread.ofPlatform().daemon().start(() -> server.serveOne(Duration.ofSeconds(10)));
            try (SharedMachine peer = SharedMachine.attach(sock, Duration.ofSeconds(Long.MAX_VALUE))) {
                assertEquals(SIZE, peer.layout().getFirst().size());
            }
            t.join(10_000);
        }
    }
}
