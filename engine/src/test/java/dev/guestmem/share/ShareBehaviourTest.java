package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.debug.MtreeParser;
import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Behaviour an audit of the share package found correct, pinned: a peer that shrinks what it shared gives ERROR, never a
 * crash; a served machine's RAM outlives its closing for the peers; names with any printable
 * character travel; MappedMachine tells RAM, ROM, MMIO and nothing apart.
 */
class ShareBehaviourTest {
    private static final int SIZE = 1 << 20;

    @Test
    void aPeerShrinkingAnUnsealedMemfdGivesErrorNotSigbus(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s").toString();
        int listen = LinuxCalls.unixListen(sock);
        int memfd = LinuxCalls.memfdCreate("peer", Linux.MFD_CLOEXEC());
        LinuxCalls.ftruncate(memfd, SIZE);
        Thread peer = Thread.ofPlatform().start(() -> {
            int c = LinuxCalls.unixAccept(listen);
            LinuxCalls.sendWithFds(c, "guestmem-share 1\nregion a 0 100000\nend\n".getBytes(StandardCharsets.US_ASCII), memfd);
            LinuxCalls.close(c);
        });
        try (SharedMachine m = SharedMachine.attach(sock, Duration.ofSeconds(5))) {
            peer.join();
            AddressSpace as = m.addressSpace();
            assertTrue(m.blocks().getFirst().canFault(), "an unsealed memfd can shrink: fenced");
            assertEquals(MemTxResult.OK, as.stlLe(0x1000, 7));
            LinuxCalls.ftruncate(memfd, 0);
            MemTxResultHolder res = new MemTxResultHolder();
            as.ldlLe(0x1000, MemTxAttrs.UNSPECIFIED, res);
            assertEquals(MemTxResult.ERROR, res.get());
            assertEquals(MemTxResult.ERROR, as.stlLe(0x2000, 7));
            assertTrue(m.blocks().getFirst().brokenReason().contains("file truncated or memfd shrunk"));
        } finally {
            LinuxCalls.close(listen);
            LinuxCalls.close(memfd);
        }
    }

    @Test
    void thePeerKeepsTheRamWhenTheServingMachineClosesAndOddNamesTravel(@TempDir Path dir) throws Exception {
        String name = "r!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
        String sock = dir.resolve("s").toString();
        SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion(name, 0x1000, SIZE)));
        try (RamShareServer server = RamShareServer.listen(sock, m)) {
            Thread t = Thread.ofPlatform().daemon().start(() -> server.serveOne(Duration.ofSeconds(10)));
            try (SharedMachine p = SharedMachine.attach(sock, Duration.ofSeconds(5))) {
                assertEquals(name, p.layout().getFirst().name());
                assertFalse(p.blocks().getFirst().canFault(), "guestmem's memfd is sealed: direct on the peer too");
                assertEquals(MemTxResult.OK, m.addressSpace().stlLe(0x2000, 0x12345678));
                assertEquals(0x12345678, p.addressSpace().ldlLe(0x2000));
                m.close();
                assertEquals(0x12345678, p.addressSpace().ldlLe(0x2000));
                assertEquals(MemTxResult.OK, p.addressSpace().stlLe(0x3000, 1));
            }
            t.join(10_000);
        } finally {
            m.close();
        }
    }

    @Test
    void mappedMachineTellsRamRomMmioAndTruncationApart(@TempDir Path dir) throws Exception {
        Path ram = Files.write(dir.resolve("ram"), new byte[SIZE]);
        Path rom = Files.write(dir.resolve("rom"), new byte[4096]);
        try (MappedMachine m = MappedMachine.open(MtreeParser.parse(ShareLifetimeTest.MTREE),
                List.of(new MappedMachine.RamFile("ram0", ram), new MappedMachine.RamFile("rom0", rom)))) {
            AddressSpace as = m.addressSpace("memory");
            assertNull(m.unreadable(as, 0x1000, 8, true));
            assertTrue(m.unreadable(as, 0x200000, 8, true).contains("cannot write (ROM)"));
            assertNull(m.unreadable(as, 0x200000, 8, false));
            assertTrue(m.unreadable(as, 0xff000, 0x2000, false).contains("MMIO"));
            assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(0x200000, 5));
            try (FileChannel ch = FileChannel.open(ram, StandardOpenOption.WRITE)) {
                ch.truncate(0); // the other process shrinks its RAM file
            }
            byte[] buf = new byte[64];
            assertEquals(MemTxResult.ERROR, as.read(0x9000, MemTxAttrs.UNSPECIFIED, buf, 0, buf.length));
            assertEquals(MemoryDump.CANNOT_ACCESS, m.lineReader(as).read(0xa000, buf, 16));
        }
    }
}
