package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.MemoryRegionSection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A memory listener of the machine's system that throws while a plug or unplug commits: the engine
 * tells every listener and publishes the change before the throw comes out (the change is whole),
 * so the machine's layout, its servers and their followers must show it too. Before, the region was
 * mapped but left out of the layout, the servers' prepared descriptors were never closed, and
 * followers were never told.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class PlugWithThrowingListenerTest {
    private static final long MIB = 1L << 20;
    private static final SharedRamRegion RAM0 = new SharedRamRegion("ram0", 0, MIB);
    private static final SharedRamRegion DIMM0 = new SharedRamRegion("dimm0", 0x100000000L, 2 * MIB);
    private static final Duration WAIT = Duration.ofSeconds(20);

    @Test
    void aPlugWhoseCommitAListenerThrowsFromIsWholeEverywhere(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m);
             SharedMachine peer = FollowingPeerTest.attachFollowingServed(server, sock)) {
            MemorySystem sys = m.addressSpace().system();
            IllegalStateException boom = new IllegalStateException("vhost backend refused the region");
            MemoryListener thrower = new MemoryListener() {
                @Override
                public void regionAdd(MemoryRegionSection s) {
                    if (s.region().name().equals("dimm0")) {
                        throw boom;
                    }
                }

                @Override
                public void regionDel(MemoryRegionSection s) {
                    if (s.region().name().equals("dimm0")) {
                        throw boom;
                    }
                }
            };
            sys.registerListener(thrower, null);
            FollowLifecycleTest.awaitNoHandshakes(); // an earlier test's one-shot peers may still hold a connection
            long fds = openFds();

            assertSame(boom, assertThrows(IllegalStateException.class, () -> m.plug(DIMM0)));
            assertEquals(MemTxResult.OK, m.addressSpace().stlLe(DIMM0.guestAddr(), 7), "the plug was made (listeners heard it)");
            assertEquals(List.of(RAM0, DIMM0), m.layout(), "the layout shows what the address space maps");
            assertTrue(peer.awaitLayoutChanges(1, WAIT), "the follower was not told: " + peer.followingStopped());
            assertEquals(7, peer.addressSpace().ldlLe(DIMM0.guestAddr()));

            assertSame(boom, assertThrows(IllegalStateException.class, () -> m.unplug("dimm0")));
            assertEquals(List.of(RAM0), m.layout());
            assertTrue(peer.awaitLayoutChanges(2, WAIT), "the follower was not told: " + peer.followingStopped());
            assertEquals(fds, openFds(), "descriptors left by the plug and unplug");
            sys.unregisterListener(thrower);
        }
    }

    /** The same on a following peer: its memory listener throws while it applies a pushed change. */
    @Test
    void aFollowerWhoseListenerThrowsAppliesTheChangeAndGoesOnFollowing(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m);
             SharedMachine peer = FollowingPeerTest.attachFollowingServed(server, sock)) {
            IllegalStateException boom = new IllegalStateException("the peer's backend refused the region");
            peer.addressSpace().system().registerListener(new MemoryListener() {
                @Override
                public void regionAdd(MemoryRegionSection s) {
                    if (s.region().name().equals("dimm0")) {
                        throw boom;
                    }
                }

                @Override
                public void regionDel(MemoryRegionSection s) {
                    if (s.region().name().equals("dimm0")) {
                        throw boom;
                    }
                }
            }, null);
            java.util.List<Throwable> reported = new java.util.concurrent.CopyOnWriteArrayList<>();
            Thread.setDefaultUncaughtExceptionHandler((t, e) -> reported.add(e));
            try {
                m.plug(DIMM0);
                assertTrue(peer.awaitLayoutChanges(1, WAIT), "following stopped: " + peer.followingStopped());
                assertEquals(List.of(RAM0, DIMM0), peer.layout());
                m.unplug("dimm0");
                assertTrue(peer.awaitLayoutChanges(2, WAIT), "following stopped: " + peer.followingStopped());
                assertEquals(List.of(RAM0), peer.layout());
                assertTrue(peer.isFollowing());
                assertEquals(List.of(boom, boom), reported);
            } finally {
                Thread.setDefaultUncaughtExceptionHandler(null);
            }
        }
    }

    private static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }
}
