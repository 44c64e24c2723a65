package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxResult;
import dev.guestmem.discard.BitmapRamDiscardManager;
import dev.guestmem.discard.RamDiscardManagerException;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Memory hotplug on the serving side (QEMU's {@code device_add pc-dimm} with a
 * {@code memory-backend-memfd}, told to a vhost-user backend as {@code ADD_MEM_REG}/{@code REM_MEM_REG}):
 * {@link SharedMachine#plug} and {@link SharedMachine#unplug} change the address space in one
 * transaction and the layout the server hands to new peers. Before, the only way was to reach into the
 * root container, and the server went on serving the layout it was started with.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class SharedMachinePlugTest {
    private static final long MIB = 1L << 20;
    private static final SharedRamRegion RAM0 = new SharedRamRegion("ram0", 0, MIB);
    private static final SharedRamRegion DIMM0 = new SharedRamRegion("dimm0", 0x100000000L, 2 * MIB);

    @Test
    void aPluggedRegionIsMappedAndServedToPeersThatAttachAfterwards(@TempDir Path dir) {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            assertEquals(MemTxResult.DECODE_ERROR, m.addressSpace().stlLe(DIMM0.guestAddr() + 0x10, 1));
            m.plug(DIMM0);
            assertEquals(List.of(RAM0, DIMM0), m.layout());
            assertEquals(2, m.blocks().size());
            assertEquals(MemTxResult.OK, m.addressSpace().stlLe(DIMM0.guestAddr() + 0x10, 0x0d1330d1));
            assertNull(m.blocks().get(1).mappedElsewhere(), "no peer was served the DIMM yet");
            try (SharedMachine peer = attachServed(server, sock)) {
                assertNotNull(m.blocks().get(1).mappedElsewhere(),
                        "a plugged block handed to a peer is noted as mapped elsewhere (a lazy restore into it is refused)");
                assertEquals(List.of(RAM0, DIMM0), peer.layout());
                assertEquals(0x0d1330d1, peer.addressSpace().ldlLe(DIMM0.guestAddr() + 0x10));
                assertEquals(MemTxResult.OK, peer.addressSpace().stlLe(DIMM0.guestAddr() + 0x20, 0x600d));
                assertEquals(0x600d, m.addressSpace().ldlLe(DIMM0.guestAddr() + 0x20));
            }
        }
    }

    @Test
    void anUnpluggedRegionIsGoneForThisSideAndForPeersThatAttachAfterwards(@TempDir Path dir) {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0, DIMM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            RamBlock dimm = m.blocks().get(1);
            m.unplug("dimm0");
            assertEquals(List.of(RAM0), m.layout());
            assertEquals(List.of(m.blocks().getFirst()), m.blocks());
            assertTrue(dimm.isReleased(), "the serving side still maps the unplugged block: " + dimm);
            assertEquals(MemTxResult.DECODE_ERROR, m.addressSpace().stlLe(DIMM0.guestAddr(), 1));
            try (SharedMachine peer = attachServed(server, sock)) {
                assertEquals(List.of(RAM0), peer.layout());
            }
        }
    }

    @Test
    void aPeerThatMapsAnUnpluggedBlockKeepsItsBytesAndTheServingSideNoLongerWritesThem(@TempDir Path dir) {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            m.plug(DIMM0);
            long a = DIMM0.guestAddr() + 0x1000;
            assertEquals(MemTxResult.OK, m.addressSpace().stqLe(a, 0x1122334455667788L));
            try (SharedMachine peer = attachServed(server, sock)) {
                m.unplug("dimm0");
                assertNotEquals(MemTxResult.OK, m.addressSpace().stqLe(a, 0xbadL), "the serving side wrote unplugged RAM");
                assertEquals(0x1122334455667788L, peer.addressSpace().ldqLe(a), "the peer's mapping lost the bytes");
                assertEquals(MemTxResult.OK, peer.addressSpace().stqLe(a + 8, 0x5eedL));
                assertEquals(0x5eedL, peer.addressSpace().ldqLe(a + 8));
                try (SharedMachine late = attachServed(server, sock)) {
                    assertEquals(List.of(RAM0), late.layout());
                }
            }
        }
    }

    @Test
    void plugAfterUnplugServesTheNewBlockNotTheOldOne(@TempDir Path dir) {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0, DIMM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            assertEquals(MemTxResult.OK, m.addressSpace().stlLe(DIMM0.guestAddr(), 0x01d));
            m.unplug("dimm0");
            m.plug(DIMM0); // a new, zero-filled memfd under the same name
            assertEquals(0, m.addressSpace().ldlLe(DIMM0.guestAddr()));
            assertEquals(MemTxResult.OK, m.addressSpace().stlLe(DIMM0.guestAddr() + 4, 0x7e5));
            try (SharedMachine peer = attachServed(server, sock)) {
                assertEquals(List.of(RAM0, DIMM0), peer.layout());
                assertEquals(0, peer.addressSpace().ldlLe(DIMM0.guestAddr()));
                assertEquals(0x7e5, peer.addressSpace().ldlLe(DIMM0.guestAddr() + 4));
            }
        }
    }

    @Test
    void plugTakesOverACallersBlock(@TempDir Path dir) {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            RamBlock b = RamBlock.builder("dimm0", DIMM0.size()).memfd().build();
            m.plug(DIMM0, b);
            assertEquals(b, m.blocks().get(1));
            assertEquals(MemTxResult.OK, m.addressSpace().stlLe(DIMM0.guestAddr(), 42));
            try (SharedMachine peer = attachServed(server, sock)) {
                assertEquals(42, peer.addressSpace().ldlLe(DIMM0.guestAddr()));
            }
            m.unplug("dimm0");
            assertTrue(b.isReleased());
        }
    }

    @Test
    void badPlugsAndUnplugsThrowAndChangeNothing(@TempDir Path dir) {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0, DIMM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            List<RamBlock> blocks = m.blocks();
            assertEquals(MemTxResult.OK, m.addressSpace().stlLe(0x100, 0xabc));
            assertUnchanged(m, blocks, IllegalArgumentException.class, () -> m.plug(new SharedRamRegion("ram0", 0x200000000L, MIB)),
                    "named 'ram0'");
            assertUnchanged(m, blocks, IllegalArgumentException.class, () -> m.plug(new SharedRamRegion("dimm1", MIB - 4096, MIB)),
                    "overlap");
            assertUnchanged(m, blocks, IllegalArgumentException.class, () -> m.plug(new SharedRamRegion("dimm1",
                    DIMM0.guestAddr() + DIMM0.size() - 1, MIB)), "overlap");
            assertUnchanged(m, blocks, IllegalArgumentException.class, () -> m.unplug("dimm9"), "ram0, dimm0");
            assertUnchanged(m, blocks, NullPointerException.class, () -> m.plug(null), "region");
            assertUnchanged(m, blocks, NullPointerException.class, () -> m.unplug(null), "name");
            // A caller's block of the wrong size, or one no peer can map: refused and still the caller's.
            RamBlock small = RamBlock.builder("dimm1", MIB).memfd().build();
            RamBlock anon = RamBlock.builder("dimm1", MIB).build();
            try {
                assertUnchanged(m, blocks, IllegalArgumentException.class,
                        () -> m.plug(new SharedRamRegion("dimm1", 0x200000000L, 2 * MIB), small), "0x100000 bytes");
                assertUnchanged(m, blocks, IllegalArgumentException.class,
                        () -> m.plug(new SharedRamRegion("dimm1", 0x200000000L, MIB), anon), "cannot be shared");
                assertFalse(small.isReleased());
                assertFalse(anon.isReleased());
            } finally {
                small.close();
                anon.close();
            }
            try (SharedMachine peer = attachServed(server, sock)) {
                assertEquals(List.of(RAM0, DIMM0), peer.layout());
                assertEquals(0xabc, peer.addressSpace().ldlLe(0x100));
            }
        }
    }

    /** QEMU cannot delete a memory backend a virtio-mem device still uses; neither does unplug. */
    @Test
    void aRegionWithARamDiscardManagerIsNotUnplugged() {
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0, DIMM0))) {
            MemoryRegion root = m.addressSpace().root();
            RamRegion dimm = (RamRegion) root.subregions().stream().filter(r -> r.name().equals("dimm0")).findFirst().orElseThrow();
            root.delSubregion(dimm); // a manager is attached to an unmapped region, as virtio-mem's realize does
            BitmapRamDiscardManager manager = BitmapRamDiscardManager.attach(dimm, 4096);
            root.addSubregion(DIMM0.guestAddr(), dimm);
            assertUnchanged(m, m.blocks(), RamDiscardManagerException.class, () -> m.unplug("dimm0"), "RAM discard manager");
            assertEquals(dimm, m.addressSpace().root().subregions().getFirst());
            root.delSubregion(dimm);
            manager.detach();
            root.addSubregion(DIMM0.guestAddr(), dimm);
            m.unplug("dimm0");
            assertEquals(List.of(RAM0), m.layout());
        }
    }

    @Test
    void theLayoutKeepsBetweenOneAndSixteenRegions() {
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0))) {
            List<RamBlock> blocks = m.blocks();
            assertUnchanged(m, blocks, IllegalArgumentException.class, () -> m.unplug("ram0"), "last region");
            for (int i = 1; i < ShareProtocol.MAX_REGIONS; i++) {
                m.plug(new SharedRamRegion("dimm" + i, i * MIB, 4096));
            }
            List<SharedRamRegion> full = m.layout();
            assertEquals(ShareProtocol.MAX_REGIONS, full.size());
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> m.plug(new SharedRamRegion("dimm99", 99 * MIB, 4096)));
            assertTrue(e.getMessage().contains(String.valueOf(ShareProtocol.MAX_REGIONS)), e.getMessage());
            assertEquals(full, m.layout());
        }
    }

    @Test
    void aClosedMachineRefusesPlugAndUnplug() {
        SharedMachine m = SharedMachine.createMemfd(List.of(RAM0, DIMM0));
        m.close();
        IllegalStateException p = assertThrows(IllegalStateException.class,
                () -> m.plug(new SharedRamRegion("dimm1", 0x200000000L, MIB)));
        assertTrue(p.getMessage().contains("closed"), p.getMessage());
        IllegalStateException u = assertThrows(IllegalStateException.class, () -> m.unplug("dimm0"));
        assertTrue(u.getMessage().contains("closed"), u.getMessage());
    }

    @Test
    void anAttachedPeerRefusesPlugAndUnplug(@TempDir Path dir) {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0, DIMM0));
             RamShareServer server = RamShareServer.listen(sock, m);
             SharedMachine peer = attachServed(server, sock)) {
            List<RamBlock> blocks = peer.blocks();
            assertUnchanged(peer, blocks, IllegalStateException.class,
                    () -> peer.plug(new SharedRamRegion("dimm1", 0x200000000L, MIB)), "server");
            assertUnchanged(peer, blocks, IllegalStateException.class, () -> peer.unplug("dimm0"), "server");
            assertEquals(List.of(RAM0, DIMM0), m.layout());
        }
    }

    /** A closed server no longer follows the machine: plugging goes on, and touches none of its descriptors. */
    @Test
    void aClosedServerStopsFollowingTheMachine(@TempDir Path dir) {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0))) {
            RamShareServer.listen(sock, m).close();
            m.plug(DIMM0);
            m.unplug("ram0");
            assertEquals(List.of(DIMM0), m.layout());
            try (RamShareServer again = RamShareServer.listen(sock, m);
                 SharedMachine peer = attachServed(again, sock)) {
                assertEquals(List.of(DIMM0), peer.layout());
            }
        }
    }

    /** A server outlives its machine (it serves its own duplicates): it keeps the layout of the machine's last change. */
    @Test
    void aServerKeepsServingTheLastLayoutAfterTheMachineCloses(@TempDir Path dir) {
        String sock = dir.resolve("s.sock").toString();
        SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
        try (RamShareServer server = RamShareServer.listen(sock, m)) {
            m.plug(DIMM0);
            assertEquals(MemTxResult.OK, m.addressSpace().stlLe(DIMM0.guestAddr(), 9));
            m.close();
            try (SharedMachine peer = attachServed(server, sock)) {
                assertEquals(List.of(RAM0, DIMM0), peer.layout());
                assertEquals(9, peer.addressSpace().ldlLe(DIMM0.guestAddr()));
            }
        }
    }

    /**
     * A serving thread waits for peers while this thread plugs and unplugs: each peer gets the layout
     * of the moment it attached. The loop's length is {@code -Dguestmem.plugRounds} (short by default).
     */
    @Test
    void peersAttachingBetweenPlugsAndUnplugsEachGetTheLayoutOfThatMoment(@TempDir Path dir) throws Exception {
        int rounds = Integer.getInteger("guestmem.plugRounds", 20);
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            CompletableFuture<Void> serving = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < rounds; i++) {
                    server.serveOne(Duration.ofSeconds(20));
                }
            }, Thread::startVirtualThread);
            List<List<SharedRamRegion>> seen = new ArrayList<>();
            for (int i = 0; i < rounds; i++) {
                if (i % 2 == 0) {
                    m.plug(DIMM0);
                } else {
                    m.unplug("dimm0");
                }
                try (SharedMachine peer = SharedMachine.attach(sock, Duration.ofSeconds(20))) {
                    seen.add(peer.layout());
                    assertEquals(i % 2 == 0 ? List.of(RAM0, DIMM0) : List.of(RAM0), peer.layout());
                }
            }
            serving.get(30, TimeUnit.SECONDS);
            assertEquals(rounds, seen.size());
        }
    }

    private static <T extends Throwable> void assertUnchanged(SharedMachine m, List<RamBlock> blocks, Class<T> type,
            Executable call, String inMessage) {
        List<SharedRamRegion> layout = m.layout();
        T e = assertThrows(type, call);
        assertTrue(e.getMessage() != null && e.getMessage().contains(inMessage), type.getSimpleName() + ": " + e.getMessage());
        assertEquals(layout, m.layout());
        assertEquals(blocks, m.blocks());
        for (RamBlock b : blocks) {
            assertFalse(b.isReleased(), b + " was released by a refused change");
        }
    }

    /** Serves one peer on a thread and attaches it here. */
    static SharedMachine attachServed(RamShareServer server, String sock) {
        CompletableFuture<Boolean> served = CompletableFuture.supplyAsync(() -> server.serveOne(Duration.ofSeconds(20)),
                Thread::startVirtualThread);
        SharedMachine peer = SharedMachine.attach(sock, Duration.ofSeconds(20));
        try {
            assertTrue(served.get(20, TimeUnit.SECONDS));
        } catch (Exception e) {
            peer.close();
            throw new AssertionError("serving the peer failed", e);
        }
        return peer;
    }
}
