package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxResult;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.ram.RamBlock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Peers that follow the server's layout ({@link SharedMachine#attachFollowing}): the server pushes
 * each plug and unplug on the open connection, as vhost-user's {@code ADD_MEM_REG}/{@code REM_MEM_REG},
 * exactly once and in order, and never waits on a peer. Before, the server hung up after the layout
 * and a peer saw a change only by attaching again.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class FollowingPeerTest {
    private static final long MIB = 1L << 20;
    private static final SharedRamRegion RAM0 = new SharedRamRegion("ram0", 0, MIB);
    private static final SharedRamRegion DIMM0 = new SharedRamRegion("dimm0", 0x100000000L, 2 * MIB);
    private static final Duration WAIT = Duration.ofSeconds(20);

    @Test
    void aFollowerMapsAPluggedRegionAndDropsAnUnpluggedOne(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m);
             SharedMachine peer = attachFollowingServed(server, sock)) {
            List<LayoutChange> told = new CopyOnWriteArrayList<>();
            peer.addLayoutListener(told::add);
            assertTrue(peer.isFollowing());
            assertEquals(List.of(RAM0), peer.layout());

            m.plug(DIMM0);
            assertTrue(peer.awaitLayoutChanges(1, WAIT), "plug not applied: " + peer.followingStopped());
            assertEquals(List.of(RAM0, DIMM0), peer.layout());
            long a = DIMM0.guestAddr() + 0x40;
            assertEquals(MemTxResult.OK, m.addressSpace().stqLe(a, 0x0123456789abcdefL));
            assertEquals(0x0123456789abcdefL, peer.addressSpace().ldqLe(a), "the follower maps another block than the server's");
            assertEquals(MemTxResult.OK, peer.addressSpace().stlLe(a + 8, 0x600d));
            assertEquals(0x600d, m.addressSpace().ldlLe(a + 8));
            assertNotNull(m.blocks().get(1).mappedElsewhere(), "a block pushed to a follower is noted as mapped elsewhere");

            RamBlock peersDimm = peer.blocks().get(1);
            m.unplug("dimm0");
            assertTrue(peer.awaitLayoutChanges(2, WAIT), "unplug not applied: " + peer.followingStopped());
            assertEquals(List.of(RAM0), peer.layout());
            assertTrue(peersDimm.isReleased(), "the follower still maps the unplugged block");
            byte[] buf = new byte[8];
            assertEquals(MemTxResult.DECODE_ERROR, peer.addressSpace().read(a, dev.guestmem.access.MemTxAttrs.UNSPECIFIED, buf, 0, 8),
                    "a read of an unplugged range is an error, not the old bytes");
            assertEquals(List.of(new LayoutChange(LayoutChange.Kind.PLUGGED, DIMM0), new LayoutChange(LayoutChange.Kind.UNPLUGGED, DIMM0)),
                    told);
            assertTrue(peer.isFollowing());
            assertEquals(1, server.following());
        }
    }

    /** A block plugged again under the same name is the new memfd, not the one the follower had. */
    @Test
    void aReplugUnderTheSameNameMapsTheNewBlock(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0, DIMM0));
             RamShareServer server = RamShareServer.listen(sock, m);
             SharedMachine peer = attachFollowingServed(server, sock)) {
            assertEquals(MemTxResult.OK, m.addressSpace().stlLe(DIMM0.guestAddr(), 0xdead));
            m.unplug("dimm0");
            m.plug(DIMM0);
            assertEquals(MemTxResult.OK, m.addressSpace().stlLe(DIMM0.guestAddr() + 4, 0x7e5));
            assertTrue(peer.awaitLayoutChanges(2, WAIT), String.valueOf(peer.followingStopped()));
            assertEquals(List.of(RAM0, DIMM0), peer.layout());
            assertEquals(0, peer.addressSpace().ldlLe(DIMM0.guestAddr()));
            assertEquals(0x7e5, peer.addressSpace().ldlLe(DIMM0.guestAddr() + 4));
        }
    }

    /**
     * A plug made after the layout was sent and before the peer's request was read waits in the
     * peer's queue and arrives after the answer: the window is opened on purpose by a peer that asks
     * late.
     */
    @Test
    void aPlugBetweenTheLayoutAndTheRequestArrivesOnceAfterTheAnswer(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            CompletableFuture<Boolean> served = serveAsync(server);
            int fd = LinuxCalls.unixConnect(sock);
            try {
                RawPeer raw = new RawPeer(fd);
                assertEquals(ShareProtocol.MAGIC, raw.line());
                assertEquals("region ram0 0 100000", raw.line());
                assertEquals(ShareProtocol.END, raw.line());
                assertTrue(served.get(20, TimeUnit.SECONDS));
                m.plug(DIMM0);
                raw.write(ShareProtocol.FOLLOW);
                assertEquals(ShareProtocol.FOLLOWING, raw.line());
                assertEquals("plug dimm0 100000000 200000", raw.line());
                assertEquals(2, raw.fds(), "the layout's descriptor and the plug's");
                m.unplug("dimm0");
                assertEquals("unplug dimm0", raw.line());
                assertFalse(raw.readable(200), "something more was pushed");
            } finally {
                LinuxCalls.close(fd);
            }
        }
    }

    /**
     * Plugs race with attaching followers: each follower's layout plus the changes pushed to it is
     * the server's layout, with no plug lost and none twice (a second plug of a name would stop it
     * following). The length is {@code -Dguestmem.followRounds} (short by default).
     */
    @Test
    void plugsRacingWithAttachReachEveryFollowerExactlyOnce(@TempDir Path dir) throws Exception {
        int rounds = Integer.getInteger("guestmem.followRounds", 12);
        String sock = dir.resolve("s.sock").toString();
        List<SharedMachine> peers = new CopyOnWriteArrayList<>();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            CompletableFuture<Void> serving = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < rounds; i++) {
                    server.serveOne(WAIT);
                }
            }, Thread::startVirtualThread);
            CompletableFuture<Void> plugging = CompletableFuture.runAsync(() -> {
                for (int i = 0; i < rounds; i++) {
                    SharedRamRegion r = new SharedRamRegion("dimm" + i, (i + 1) * MIB, 4096);
                    m.plug(r);
                    if (i >= 2) {
                        m.unplug("dimm" + (i - 2)); // the layout stays within ShareProtocol.MAX_REGIONS
                    }
                }
            }, Thread::startVirtualThread);
            for (int i = 0; i < rounds; i++) {
                peers.add(SharedMachine.attachFollowing(sock, WAIT));
            }
            serving.get(60, TimeUnit.SECONDS);
            plugging.get(60, TimeUnit.SECONDS);
            m.plug(new SharedRamRegion("last", 0x200000000L, 4096)); // each follower's last change
            for (SharedMachine p : peers) {
                waitFor(() -> p.layout().equals(m.layout()) || !p.isFollowing(), "follower layout " + p.layout());
                assertTrue(p.isFollowing(), "a follower stopped: " + p.followingStopped());
                assertEquals(m.layout(), p.layout());
            }
            assertEquals(rounds, server.following());
        } finally {
            peers.forEach(SharedMachine::close);
        }
    }

    /** A follower that never reads fills its socket and is disconnected; plug and unplug never wait for it. */
    @Test
    void aFollowerThatNeverReadsIsDisconnectedAndNeverBlocksPlug(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        int maxChanges = Integer.getInteger("guestmem.stuckPeerChanges", 20_000);
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            CompletableFuture<Boolean> served = serveAsync(server);
            int stuck = LinuxCalls.unixConnect(sock);
            try {
                new RawPeer(stuck).write(ShareProtocol.FOLLOW); // and never reads a byte
                assertTrue(served.get(20, TimeUnit.SECONDS));
                waitFor(() -> server.following() == 1, "the stuck peer following");
                try (SharedMachine good = attachFollowingServed(server, sock)) {
                    assertEquals(2, server.following());
                    int changes = 0;
                    SharedRamRegion dimm = new SharedRamRegion("dimm0", 0x100000000L, 4096);
                    while (server.following() == 2 && changes < maxChanges) {
                        m.plug(dimm); // would hang here if a push waited for the stuck peer
                        m.unplug("dimm0");
                        changes += 2;
                    }
                    assertEquals(1, server.following(), "the stuck peer was not disconnected after " + changes + " changes");
                    assertTrue(server.disconnects().stream().anyMatch(w -> w.contains("it stopped reading")), "the operator is told: " + server.disconnects());
                    m.plug(dimm);
                    changes++;
                    assertTrue(good.awaitLayoutChanges(changes, WAIT), "the reading follower fell behind: " + good.followingStopped());
                    assertEquals(m.layout(), good.layout());
                }
            } finally {
                LinuxCalls.close(stuck);
            }
        }
    }

    /** A follower that is gone (its process died: its socket closed) is dropped at the next change, which goes on. */
    @Test
    void aFollowerThatIsGoneIsDroppedAtTheNextChange(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            SharedMachine peer = attachFollowingServed(server, sock);
            assertEquals(1, server.following());
            peer.close();
            assertEquals("the machine was closed", peer.followingStopped());
            m.plug(DIMM0);
            assertEquals(0, server.following());
            assertEquals(List.of(), server.disconnects(), "a follower hanging up is its usual end, not a disconnect");
            assertEquals(List.of(RAM0, DIMM0), m.layout());
        }
    }

    @Test
    void aClosedServerStopsItsFollowersWhichKeepTheirLayout(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0))) {
            SharedMachine peer;
            try (RamShareServer server = RamShareServer.listen(sock, m)) {
                peer = attachFollowingServed(server, sock);
                m.plug(DIMM0);
                assertTrue(peer.awaitLayoutChanges(1, WAIT));
            }
            try (peer) {
                assertFalse(peer.awaitLayoutChanges(2, WAIT), "a change after the server closed");
                assertFalse(peer.isFollowing());
                assertTrue(peer.followingStopped().contains("closed the connection"), peer.followingStopped());
                assertEquals(List.of(RAM0, DIMM0), peer.layout());
                m.unplug("dimm0");
                assertEquals(List.of(RAM0, DIMM0), peer.layout());
                assertEquals(MemTxResult.OK, peer.addressSpace().stlLe(DIMM0.guestAddr(), 1), "the follower lost its mapping");
            }
        }
    }

    /** A one-shot peer reading to the end of the stream gets the layout and the end, as before following existed. */
    @Test
    void aOneShotPeerGetsTheLayoutAndTheEndOfTheStream(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            CompletableFuture<Boolean> served = serveAsync(server);
            int fd = LinuxCalls.unixConnect(sock);
            try {
                RawPeer raw = new RawPeer(fd);
                m.plug(DIMM0); // before or after the layout: either way this peer is never told
                assertTrue(served.get(20, TimeUnit.SECONDS));
                String all = raw.readToEnd();
                assertTrue(all.equals(new String(ShareProtocol.encode(List.of(RAM0)), StandardCharsets.US_ASCII))
                        || all.equals(new String(ShareProtocol.encode(List.of(RAM0, DIMM0)), StandardCharsets.US_ASCII)), all);
                assertEquals(0, server.following());
            } finally {
                LinuxCalls.close(fd);
            }
            try (SharedMachine oneShot = SharedMachinePlugTest.attachServed(server, sock)) {
                m.unplug("dimm0");
                assertFalse(oneShot.isFollowing());
                assertNull(oneShot.followingStopped());
                assertEquals(0, oneShot.layoutChanges());
                assertEquals(List.of(RAM0, DIMM0), oneShot.layout(), "a one-shot peer keeps its layout");
                assertThrows(IllegalStateException.class, () -> oneShot.addLayoutListener(c -> { }));
            }
        }
    }

    /** A server that hangs up after the layout (an older one) is a clear refusal to follow. */
    @Test
    void aServerThatDoesNotPushIsReportedAsSuch(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("old.sock").toString();
        int listen = LinuxCalls.unixListen(sock);
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0))) {
            Thread old = Thread.ofPlatform().daemon().start(() -> {
                int c = LinuxCalls.unixAccept(listen);
                try {
                    LinuxCalls.sendWithFds(c, ShareProtocol.encode(List.of(RAM0)), m.blocks().getFirst().fd());
                } finally {
                    LinuxCalls.close(c);
                }
            });
            ShareException e = assertThrows(ShareException.class, () -> SharedMachine.attachFollowing(sock, WAIT));
            assertTrue(e.getMessage().contains("does not push changes"), e.getMessage());
            old.join();
        } finally {
            LinuxCalls.close(listen);
        }
    }

    /** A pushed plug this side cannot apply (it overlaps) stops following; the layout and the RAM stay as they were. */
    @Test
    void aChangeThatCannotBeAppliedStopsFollowingAndChangesNothing(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("bad.sock").toString();
        int listen = LinuxCalls.unixListen(sock);
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0, new SharedRamRegion("other", 0x200000000L, MIB)))) {
            assertEquals(MemTxResult.OK, m.addressSpace().stlLe(0x10, 0x5a5a));
            Thread bad = Thread.ofPlatform().daemon().start(() -> {
                int c = LinuxCalls.unixAccept(listen);
                try {
                    RawPeer raw = new RawPeer(c);
                    assertEquals(ShareProtocol.FOLLOW, raw.line());
                    LinuxCalls.sendWithFds(c, ShareProtocol.encode(List.of(RAM0)), m.blocks().getFirst().fd());
                    raw.write(ShareProtocol.FOLLOWING);
                    LinuxCalls.sendWithFds(c, "plug bad 80000 100000\n".getBytes(StandardCharsets.US_ASCII), m.blocks().get(1).fd());
                    raw.readToEnd(); // until the peer hangs up
                } finally {
                    LinuxCalls.close(c);
                }
            });
            try (SharedMachine peer = SharedMachine.attachFollowing(sock, WAIT)) {
                waitFor(() -> !peer.isFollowing(), "the peer to stop following");
                assertTrue(peer.followingStopped().contains("cannot apply") && peer.followingStopped().contains("overlap"),
                        peer.followingStopped());
                assertEquals(List.of(RAM0), peer.layout());
                assertEquals(0x5a5a, peer.addressSpace().ldlLe(0x10));
                assertEquals(0, peer.layoutChanges());
            }
            bad.join();
        } finally {
            LinuxCalls.close(listen);
        }
    }

    /**
     * A refused follower reads the refusal, even when the server has hung up before the follower's
     * request went out (its send then fails with EPIPE, which used to hide the reason); repeated, since
     * which comes first is up to the scheduler.
     */
    @Test
    void aRefusedFollowerGetsTheServersReason(@TempDir Path dir) throws Exception {
        String sock = dir.resolve("s.sock").toString();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(RAM0));
             RamShareServer server = RamShareServer.listen(sock, m, p -> false)) {
            for (int i = 0; i < 20; i++) {
                CompletableFuture<Boolean> served = CompletableFuture.supplyAsync(() -> {
                    assertThrows(PeerRefusedException.class, () -> server.serveOne(WAIT));
                    return true;
                }, Thread::startVirtualThread);
                ShareException e = assertThrows(ShareException.class, () -> SharedMachine.attachFollowing(sock, WAIT));
                assertTrue(e.getMessage().contains("refused this process"), "attempt " + i + ": " + e.getMessage());
                assertTrue(served.get(20, TimeUnit.SECONDS));
            }
            assertEquals(0, server.following());
        }
    }

    /** Serves one peer on a thread and attaches it here as a follower. */
    static SharedMachine attachFollowingServed(RamShareServer server, String sock) {
        CompletableFuture<Boolean> served = serveAsync(server);
        SharedMachine peer = SharedMachine.attachFollowing(sock, WAIT);
        try {
            assertTrue(served.get(20, TimeUnit.SECONDS));
        } catch (Exception e) {
            peer.close();
            throw new AssertionError("serving the peer failed", e);
        }
        return peer;
    }

    private static CompletableFuture<Boolean> serveAsync(RamShareServer server) {
        return CompletableFuture.supplyAsync(() -> server.serveOne(WAIT), Thread::startVirtualThread);
    }

    /** Polls a condition that another thread makes true; fails after {@link #WAIT}. */
    private static void waitFor(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(5);
        }
    }

    /** A peer speaking the protocol by hand, as a peer in another language would. */
    private static final class RawPeer {
        private final int fd;
        private final StringBuilder text = new StringBuilder();
        private int fds;

        RawPeer(int fd) {
            this.fd = fd;
        }

        void write(String line) {
            LinuxCalls.sendWithFds(fd, (line + "\n").getBytes(StandardCharsets.US_ASCII));
        }

        boolean readable(long millis) {
            return text.length() > 0 || Fds.readable(fd, millis);
        }

        /** @return the next line; counts and closes the descriptors that came with it */
        String line() {
            while (text.indexOf("\n") < 0) {
                if (!recv()) {
                    throw new AssertionError("end of stream after '" + text + "'");
                }
            }
            int nl = text.indexOf("\n");
            String l = text.substring(0, nl);
            text.delete(0, nl + 1);
            return l;
        }

        String readToEnd() {
            while (recv()) {
                // all of it
            }
            return text.toString();
        }

        int fds() {
            return fds;
        }

        private boolean recv() {
            Fds.awaitReadable(fd, System.nanoTime() + WAIT.toNanos(), "the server");
            LinuxCalls.Received got = LinuxCalls.recvWithFds(fd, 4096, ShareProtocol.MAX_REGIONS);
            for (int f : got.fds()) {
                fds++;
                LinuxCalls.close(f);
            }
            text.append(new String(got.data(), StandardCharsets.US_ASCII));
            return got.data().length > 0;
        }
    }
}
