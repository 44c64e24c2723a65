package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pushed change carries exactly the descriptors it needs: one with a {@code plug}, none with an
 * {@code unplug}. A follower used to take one per plug line and leave any other queued, where the
 * next plug would have taken it as its own block's (mapping the wrong RAM). Now a change that comes
 * with a descriptor too many stops following before it is applied, and the descriptor is closed.
 * Each test's server sends memfds named {@link #PROBE}; none may stay open.
 */
class PushedChangeDescriptorTest {
    private static final String PROBE = "pushed-change-probe";
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final long SIZE = 0x100000;
    private static final String LAYOUT = "guestmem-share 1\nregion a 0 100000\nregion b 100000 100000\nend\n" + ShareProtocol.FOLLOWING + "\n";

    @TempDir
    Path dir;

    @Test
    void anUnplugWithADescriptorStopsFollowingAndAppliesNothing() throws Exception {
        assertRefused("unplug a\n", 1);
    }

    @Test
    void aPlugWithTwoDescriptorsStopsFollowingAndAppliesNothing() throws Exception {
        assertRefused("plug c 200000 100000\n", 2);
    }

    /**
     * Two changes in one message with two descriptors, one too many: which one the plug's is cannot be
     * told, so neither change is applied (the plug used to be mapped over the first of them).
     */
    @Test
    void aPlugAndAnUnplugInOneMessageWithTwoDescriptorsApplyNothing() throws Exception {
        assertRefused("plug c 200000 100000\nunplug a\n", 2);
    }

    /**
     * Two plugs in one message with one descriptor: it may be either's, so neither is applied (the
     * first used to be mapped over it, the second then found none).
     */
    @Test
    void twoPlugsInOneMessageWithOneDescriptorApplyNothing() throws Exception {
        assertRefused("plug c 200000 100000\nplug d 300000 100000\n", 1);
    }

    /** Control: two plugs in one message with two descriptors, one each in line order, are both applied. */
    @Test
    void twoPlugsInOneMessageWithTwoDescriptorsAreApplied() throws Exception {
        Thread server = serve("plug c 200000 100000\nplug d 300000 100000\n", 2);
        try (SharedMachine m = SharedMachine.attachFollowing(sock(), WAIT)) {
            assertTrue(m.awaitLayoutChanges(2, WAIT), "following stopped: " + m.followingStopped());
            assertEquals(List.of("a", "b", "c", "d"), m.layout().stream().map(SharedRamRegion::name).toList());
        }
        server.join(WAIT.toMillis());
        assertNoProbeOpen();
    }

    /** Control: a plug with its one descriptor, then an unplug without, are both applied. */
    @Test
    void aPlugWithItsDescriptorAndABareUnplugAreApplied() throws Exception {
        Thread server = serve("plug c 200000 100000\n", 1, "unplug c\n");
        try (SharedMachine m = SharedMachine.attachFollowing(sock(), WAIT)) {
            assertTrue(m.awaitLayoutChanges(2, WAIT), "following stopped: " + m.followingStopped());
            assertEquals(List.of("a", "b"), m.layout().stream().map(SharedRamRegion::name).toList());
        }
        server.join(WAIT.toMillis());
        assertNoProbeOpen();
    }

    /**
     * Serves {@code change} with {@code fds} descriptors after the layout: following must stop, say
     * why, leave the layout as it was and keep none of the descriptors.
     */
    private void assertRefused(String change, int fds) throws Exception {
        Thread server = serve(change, fds);
        try (SharedMachine m = SharedMachine.attachFollowing(sock(), WAIT)) {
            String why = awaitStop(m);
            assertTrue(why.contains("descriptor"), why);
            assertEquals(List.of("a", "b"), m.layout().stream().map(SharedRamRegion::name).toList());
            assertEquals(0, m.layoutChanges());
        }
        server.join(WAIT.toMillis());
        assertNoProbeOpen();
    }

    private String sock() {
        return dir.resolve("s.sock").toString();
    }

    private static String awaitStop(SharedMachine m) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (m.followingStopped() == null && System.nanoTime() - deadline < 0) {
            Thread.sleep(5);
        }
        String why = m.followingStopped();
        assertNotNull(why, "still following");
        return why;
    }

    /**
     * Serves one follower by hand: the layout with a memfd per region, then {@code change} in one message with
     * {@code fds} new memfds on it, then each of {@code more} without any; then waits for the peer
     * to hang up. The server's copies are closed once sent.
     */
    private Thread serve(String change, int fds, String... more) {
        int listen = LinuxCalls.unixListen(sock());
        return Thread.ofPlatform().daemon().start(() -> {
            List<Integer> sent = new ArrayList<>();
            try {
                int c = LinuxCalls.unixAccept(listen);
                try {
                    StringBuilder request = new StringBuilder();
                    while (request.indexOf("\n") < 0 && Fds.readable(c, WAIT.toMillis())) {
                        request.append(new String(LinuxCalls.recvWithFds(c, 256, 0).data(), StandardCharsets.US_ASCII));
                    }
                    LinuxCalls.sendWithFds(c, LAYOUT.getBytes(StandardCharsets.US_ASCII), probes(2, sent));
                    LinuxCalls.sendWithFds(c, change.getBytes(StandardCharsets.US_ASCII), probes(fds, sent));
                    for (String m : more) {
                        LinuxCalls.sendWithFds(c, m.getBytes(StandardCharsets.US_ASCII));
                    }
                    while (Fds.readable(c, WAIT.toMillis()) && LinuxCalls.recvWithFds(c, 256, 0).data().length > 0) {
                        // until the peer hangs up
                    }
                } finally {
                    LinuxCalls.close(c);
                }
            } finally {
                sent.forEach(LinuxCalls::close);
                LinuxCalls.close(listen);
            }
        });
    }

    private static int[] probes(int n, List<Integer> sent) {
        int[] fds = new int[n];
        for (int i = 0; i < n; i++) {
            fds[i] = LinuxCalls.memfdCreate(PROBE, Linux.MFD_CLOEXEC());
            LinuxCalls.ftruncate(fds[i], SIZE);
            sent.add(fds[i]);
        }
        return fds;
    }

    private static void assertNoProbeOpen() {
        ProbeDescriptors.assertNoneOpen(PROBE);
    }
}
