package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The layout message: exact text, round trip, and rejection of what is not a message. */
class ShareProtocolTest {
    @Test
    void encodesTheDocumentedText() {
        byte[] b = ShareProtocol.encode(List.of(new SharedRamRegion("pc.ram", 0, 0x8000000L),
                new SharedRamRegion("hi", 0x100000000L, 0x1000)));
        assertEquals("guestmem-share 1\nregion pc.ram 0 8000000\nregion hi 100000000 1000\nend\n",
                new String(b, StandardCharsets.US_ASCII));
    }

    @Test
    void decodesWhatItEncodes() {
        List<SharedRamRegion> l = List.of(new SharedRamRegion("a", 0xfffffffffffff000L, 0x1000), new SharedRamRegion("b", 0, 1));
        assertEquals(l, ShareProtocol.decode(new String(ShareProtocol.encode(l), StandardCharsets.US_ASCII)));
    }

    /** A refusal is one line; its reason cannot smuggle a second one in. */
    @Test
    void refusalIsOneLineAndReadsBack() {
        byte[] b = ShareProtocol.encodeRefusal("uid 7 may not\nmap");
        assertEquals("guestmem-share refused: uid 7 may not map\n", new String(b, StandardCharsets.US_ASCII));
        assertEquals("uid 7 may not map", ShareProtocol.refusal(new String(b, StandardCharsets.US_ASCII)));
        assertNull(ShareProtocol.refusal("guestmem-share refused: not yet a whole line"));
        assertNull(ShareProtocol.refusal(new String(ShareProtocol.encode(List.of(new SharedRamRegion("a", 0, 1))),
                StandardCharsets.US_ASCII)));
    }

    @Test
    void rejectsOtherText() {
        assertThrows(ShareException.class, () -> ShareProtocol.decode("hello\nend\n"));
        assertThrows(ShareException.class, () -> ShareProtocol.decode("guestmem-share 1\nend\n"));
        assertThrows(ShareException.class, () -> ShareProtocol.decode("guestmem-share 1\nregion a 0 10\n"));
        assertThrows(ShareException.class, () -> ShareProtocol.decode("guestmem-share 1\nregion a 0 0\nend\n"));
        assertThrows(ShareException.class, () -> ShareProtocol.decode("guestmem-share 1\nregion a zz 10\nend\n"));
        assertThrows(IllegalArgumentException.class, () -> new SharedRamRegion("a b", 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new SharedRamRegion("a", -4096, 8192));
        assertThrows(IllegalArgumentException.class, () -> ShareProtocol.encode(List.of()));
    }

    @Test
    void overlappingLayoutsAreRefusedBeforeAnythingIsMapped() {
        assertThrows(IllegalArgumentException.class, () -> SharedMachine.createMemfd(List.of(
                new SharedRamRegion("a", 0, 0x2000), new SharedRamRegion("b", 0x1000, 0x1000))));
    }

    /**
     * Two regions of one name would be two RAM blocks of one idstr, which a RAM list refuses: the
     * layout check refuses them up front. It used to fail half-way through building the machine, with
     * the RAM list's exception (not ShareException, for a peer's layout), leaving the first region's
     * block mapped for good.
     */
    @Test
    void duplicateNamesAreRefusedAsALayoutFault(@TempDir Path dir) throws Exception {
        IllegalArgumentException local = assertThrows(IllegalArgumentException.class, () -> SharedMachine.createMemfd(List.of(
                new SharedRamRegion("a", 0, 0x1000), new SharedRamRegion("a", 0x1000, 0x1000))));
        org.junit.jupiter.api.Assertions.assertTrue(local.getMessage().contains("'a'"), local.getMessage());
        Path sock = dir.resolve("dup");
        int listen = LinuxCalls.unixListen(sock.toString());
        Thread peer = Thread.ofPlatform().start(() -> {
            int c = LinuxCalls.unixAccept(listen);
            int[] fds = new int[2];
            for (int i = 0; i < 2; i++) {
                fds[i] = LinuxCalls.memfdCreate("peer" + i, Linux.MFD_CLOEXEC());
                LinuxCalls.ftruncate(fds[i], 0x1000);
            }
            LinuxCalls.sendWithFds(c, "guestmem-share 1\nregion a 0 1000\nregion a 1000 1000\nend\n"
                    .getBytes(StandardCharsets.US_ASCII), fds);
            for (int fd : fds) {
                LinuxCalls.close(fd);
            }
            LinuxCalls.close(c);
        });
        try {
            ShareException e = assertThrows(ShareException.class, () -> SharedMachine.attach(sock.toString(),
                    Duration.ofSeconds(10)).close());
            org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("bad layout"), e.getMessage());
        } finally {
            peer.join(10_000);
            LinuxCalls.close(listen);
        }
    }

    /**
     * A peer's layout is the peer's fault: overlapping regions, or a descriptor too small for its
     * region, come back from attach as ShareException (not the local API's IllegalArgumentException
     * or a RAM block exception), and nothing stays mapped or open.
     */
    @Test
    void attachReportsAPeersBadLayoutAsShareException(@TempDir Path dir) throws Exception {
        String overlapping = "guestmem-share 1\nregion a 0 2000\nregion b 1000 2000\nend\n";
        String tooSmall = "guestmem-share 1\nregion a 0 100000\nend\n";
        for (String message : List.of(overlapping, tooSmall)) {
            Path sock = dir.resolve("s" + message.length());
            int listen = LinuxCalls.unixListen(sock.toString());
            int regions = message.split("region").length - 1;
            Thread peer = Thread.ofPlatform().start(() -> {
                int c = LinuxCalls.unixAccept(listen);
                int[] fds = new int[regions];
                for (int i = 0; i < regions; i++) {
                    fds[i] = LinuxCalls.memfdCreate("peer" + i, Linux.MFD_CLOEXEC());
                    LinuxCalls.ftruncate(fds[i], 0x2000);
                }
                LinuxCalls.sendWithFds(c, message.getBytes(StandardCharsets.US_ASCII), fds);
                for (int fd : fds) {
                    LinuxCalls.close(fd);
                }
                LinuxCalls.close(c);
            });
            try {
                ShareException e = assertThrows(ShareException.class, () -> SharedMachine.attach(sock.toString(),
                        Duration.ofSeconds(10)));
                org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains(sock.toString()), e.getMessage());
            } finally {
                peer.join(10_000);
                LinuxCalls.close(listen);
            }
        }
    }
}
