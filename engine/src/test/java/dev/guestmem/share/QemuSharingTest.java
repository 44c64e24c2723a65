package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.debug.MtreeDocument;
import dev.guestmem.debug.MtreeParser;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * QEMU as the peer: a {@code pc} machine whose RAM is a shared file or memfd, mapped here as
 * {@code pc.ram} of the captured {@code x86_64-pc-128m} layout (ram-below-4g, PAM, ROMs). QEMU
 * writes through qtest and guestmem reads through its AddressSpace, and the reverse; in the
 * 0xa0000-0x100000 window, where ROM and PCI hide pc.ram in the flat view, both sides must give
 * the same bytes.
 */
@Timeout(value = 180, unit = TimeUnit.SECONDS)
class QemuSharingTest {
    private static final long MB = 128;
    private static final long RAM = MB << 20;
    private static final Duration REPLY = Duration.ofSeconds(20);

    @BeforeEach
    void needQemu() {
        QemuPeer.assumeQemu();
    }

    @Test
    void fileBackendIsSharedBothWays() throws Exception {
        Path file = Files.createTempFile("gm-qemu-", ".ram");
        try (QemuProcess q = QemuProcess.startPc(QemuProcess.DEFAULT_BINARY, MB, file, REPLY);
             QtestClient qt = new QtestClient(q.qtestSocket().toString(), REPLY)) {
            qt.read(4, 0); // the machine is built once qtest answers
            assertEquals(RAM, Files.size(file), q.output());
            exercise(qt, file);
        } finally {
            Files.deleteIfExists(file);
        }
        assertTrue(Files.notExists(file));
    }

    @Test
    void memfdBackendIsSharedThroughProcFd() throws Exception {
        try (QemuProcess q = QemuProcess.startPc(QemuProcess.DEFAULT_BINARY, MB, null, REPLY);
             QtestClient qt = new QtestClient(q.qtestSocket().toString(), REPLY)) {
            qt.read(4, 0);
            Path fd = QemuProcess.memfdPath(q.pid(), QemuProcess.MEMFD_NAME);
            assertTrue(fd.startsWith("/proc/" + q.pid() + "/fd"), fd.toString());
            exercise(qt, fd);
        }
    }

    private static void exercise(QtestClient qt, Path ram) throws Exception {
        MtreeDocument doc = MtreeParser.parse(QemuPeer.fixture("x86_64-pc-128m.annotated.txt"));
        try (MappedMachine m = MappedMachine.open(doc, List.of(new MappedMachine.RamFile("pc.ram", ram)))) {
            AddressSpace as = m.addressSpace("memory");
            qemuWritesGuestmemReads(qt, as);
            guestmemWritesQemuReads(qt, as);
            hiddenWindowLooksTheSame(qt, m, as);
        }
    }

    private static void qemuWritesGuestmemReads(QtestClient qt, AddressSpace as) {
        qt.write(4, 0x1000, 0xdeadbeefL);
        assertEquals(0xdeadbeef, as.ldlLe(0x1000));
        qt.write(8, 0x9fff8, 0x0123456789abcdefL); // last bytes of low RAM below the VGA hole
        assertEquals(0x0123456789abcdefL, as.ldqLe(0x9fff8));
        qt.write(2, 0x100000, 0xbeef);
        assertEquals(0xbeef, as.lduwLe(0x100000));
        qt.write(8, RAM - 8, 0x1122334455667788L); // last 8 bytes of RAM
        assertEquals(0x1122334455667788L, as.ldqLe(RAM - 8));
        byte[] data = random(4096, 1);
        qt.writeBytes(0x3456789, data);
        byte[] seen = new byte[data.length];
        assertEquals(MemTxResult.OK, as.read(0x3456789, MemTxAttrs.UNSPECIFIED, seen, 0, seen.length));
        assertArrayEquals(data, seen);
    }

    private static void guestmemWritesQemuReads(QtestClient qt, AddressSpace as) {
        assertEquals(MemTxResult.OK, as.stlLe(0x2000, 0xcafef00d));
        assertEquals(0xcafef00dL, qt.read(4, 0x2000));
        assertEquals(MemTxResult.OK, as.stqLe(0x5000000, 0xfedcba9876543210L));
        assertEquals(0xfedcba9876543210L, qt.read(8, 0x5000000));
        assertEquals(MemTxResult.OK, as.stb(0x7ffffff, 0x5a));
        assertEquals(0x5a, qt.read(1, 0x7ffffff));
        byte[] data = random(3000, 2);
        assertEquals(MemTxResult.OK, as.write(0x7ff0001, MemTxAttrs.UNSPECIFIED, data, 0, data.length));
        assertArrayEquals(data, qt.readBytes(0x7ff0001, data.length));
    }

    /**
     * pc.ram's bytes at 0xa0000-0xfffff are there (QEMU and guestmem map the same file) but the
     * flat view shows the SMRAM window (unassigned PCI), pc.rom and isa-bios instead. pc.bios's
     * stand-in gets QEMU's firmware bytes read from its 4 GiB mapping, so the isa-bios alias at
     * 0xe0000 is checked against QEMU's own view, not against itself.
     */
    private static void hiddenWindowLooksTheSame(QtestClient qt, MappedMachine m, AddressSpace as) {
        RamBlock pcRam = m.blocks().get("pc.ram");
        MemorySegment ram = pcRam.segment();
        for (long a = 0xa0000; a < 0x100000; a++) {
            ram.set(ValueLayout.JAVA_BYTE, a, (byte) (a * 31 + 7));
        }
        RamBlock bios = m.machine().regionsNamed("pc.bios").getFirst().ramBlock();
        for (long off = 0; off < bios.usedLength(); off += 4096) {
            byte[] chunk = qt.readBytes(0xfffc0000L + off, 4096);
            MemorySegment.copy(chunk, 0, bios.segment(), ValueLayout.JAVA_BYTE, off, chunk.length);
        }
        // QEMU's writes there are dropped too (ROM, unassigned), on both sides.
        qt.write(4, 0xc0000, 0x11111111);
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(0xe0000, 0x22222222));
        for (long a = 0xa0000; a < 0x100000; a += 0x800) {
            byte[] mine = new byte[32];
            as.read(a, MemTxAttrs.UNSPECIFIED, mine, 0, mine.length);
            assertArrayEquals(qt.readBytes(a, mine.length), mine, "guest-physical 0x" + Long.toHexString(a));
        }
        // The pattern is in pc.ram but no view shows it: QEMU's reset-ROM at 0xffff0 is a far jump.
        assertEquals(0xea, qt.read(1, 0xffff0));
        assertEquals(0xea, as.ldub(0xffff0));
        assertNotEquals((byte) 0xea, ram.get(ValueLayout.JAVA_BYTE, 0xffff0));
        assertEquals((byte) (0xc0000 * 31 + 7), ram.get(ValueLayout.JAVA_BYTE, 0xc0000), "QEMU's dropped ROM write reached pc.ram");
    }

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new SplittableRandom(seed).nextBytes(b);
        return b;
    }
}
