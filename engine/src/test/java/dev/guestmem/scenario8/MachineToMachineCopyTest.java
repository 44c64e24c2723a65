package dev.guestmem.scenario8;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.share.RamShareServer;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Copying one machine's RAM into another's, the two ways a migration-round measurer would: through
 * a memfd shared with the share API (the peer maps the same pages, and its accesses there are
 * direct), and through the RAM blocks' segments with a plain {@code MemorySegment.copy}.
 */
class MachineToMachineCopyTest {
    static final long MIB = 1 << 20;
    static final long SIZE = 4 * MIB;
    static final long GUEST = 0x8000_0000L;

    @TempDir
    Path dir;

    private static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void aPeerAttachedToASharedMemfdSeesTheServersCopyAndIsDirect() throws Exception {
        String sock = dir.resolve("ram.sock").toString();
        try (SharedMachine server = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", GUEST, SIZE)));
             RamShareServer listener = RamShareServer.listen(sock, server)) {
            CompletableFuture<Boolean> served = CompletableFuture.supplyAsync(() -> listener.serveOne(Duration.ofSeconds(30)));
            try (SharedMachine peer = SharedMachine.attach(sock, Duration.ofSeconds(30))) {
                assertTrue(served.get());
                byte[] image = random((int) MIB, 11);
                AddressSpace src = server.addressSpace();
                assertEquals(MemTxResult.OK, src.write(GUEST + 3 * MIB, MemTxAttrs.UNSPECIFIED, image, 0, image.length));
                byte[] seen = new byte[(int) MIB];
                assertEquals(MemTxResult.OK, peer.addressSpace().read(GUEST + 3 * MIB, MemTxAttrs.UNSPECIFIED, seen, 0, seen.length));
                assertArrayEquals(image, seen);

                HostLocation there = HostLocation.of(peer.addressSpace(), GUEST, SIZE);
                assertEquals(SIZE, there.length());
                assertTrue(there.directRead() && there.directWrite(), "a sealed memfd from the server is direct");
                assertEquals(peer.blocks().get(0).hostAddress(), there.hostAddress());
                assertFalse(peer.blocks().get(0).canFault());
            }
        }
    }

    @Test
    void aBlockBuiltFromAnotherMachinesMemfdIsTheSameMemoryAndDirect() {
        RamBlock src = RamBlock.builder("src", SIZE).memfd().prealloc().build();
        RamBlock dst = RamBlock.builder("dst", SIZE).fd(src.fd(), 0).build();
        try (src; dst) {
            assertFalse(dst.canFault(), "a memfd sealed against shrinking: direct");
            MemorySystem sys = new MemorySystem();
            ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            root.addSubregion(GUEST, new RamRegion(sys, null, "dst", dst, false, false));
            AddressSpace as = sys.addressSpace(root, "memory");
            byte[] image = random((int) MIB, 12);
            MemorySegment.copy(image, 0, src.segment(), ValueLayout.JAVA_BYTE, MIB, image.length);
            byte[] seen = new byte[(int) MIB];
            assertEquals(MemTxResult.OK, as.read(GUEST + MIB, MemTxAttrs.UNSPECIFIED, seen, 0, seen.length));
            assertArrayEquals(image, seen);
            assertTrue(HostLocation.of(as, GUEST, SIZE).directRead());
        }
    }

    @Test
    void aSegmentCopyBetweenTwoMachinesBlocksIsWhatTheTargetGuestReads() {
        BusMachine a = new BusMachine();
        BusMachine b = new BusMachine();
        // the measurer's raw round: locate both sides, then one copy per block
        HostLocation from = HostLocation.of(a.as, 0, MIB);
        HostLocation to = HostLocation.of(b.as, 0, MIB);
        assertEquals(MIB, from.length());
        MemorySegment.copy(from.segment(), from.offset(), to.segment(), to.offset(), MIB);
        HostLocation from1 = HostLocation.of(a.as, MIB, MIB);
        HostLocation to1 = HostLocation.of(b.as, MIB, MIB);
        MemorySegment.copy(from1.segment(), from1.offset(), to1.segment(), to1.offset(), MIB);
        byte[] x = new byte[(int) (2 * MIB)];
        byte[] y = new byte[(int) (2 * MIB)];
        assertEquals(MemTxResult.OK, a.as.read(0, MemTxAttrs.UNSPECIFIED, x, 0, x.length));
        assertEquals(MemTxResult.OK, b.as.read(0, MemTxAttrs.UNSPECIFIED, y, 0, y.length));
        assertArrayEquals(x, y);
        // and the engine's own path, one address space into the other
        MemorySegment buf = MemorySegment.ofArray(new byte[(int) (2 * MIB)]);
        assertEquals(MemTxResult.OK, a.as.read(0x1000, MemTxAttrs.UNSPECIFIED, buf, 0, buf.byteSize()));
        assertEquals(MemTxResult.OK, b.as.write(0x2000, MemTxAttrs.UNSPECIFIED, buf, 0, buf.byteSize() - 0x1000));
        byte[] z = new byte[(int) (2 * MIB - 0x1000)];
        b.as.read(0x2000, MemTxAttrs.UNSPECIFIED, z, 0, z.length);
        assertArrayEquals(java.util.Arrays.copyOfRange(x, 0x1000, 0x1000 + z.length), z);
    }
}
