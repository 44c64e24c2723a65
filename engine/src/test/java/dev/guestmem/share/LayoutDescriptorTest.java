package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Both attach paths read the layout one way: exactly one descriptor per region, and an attach that
 * fails keeps none of the descriptors it received (each test's server sends memfds named
 * {@link #PROBE}, and /proc/self/fd must hold none of them afterwards).
 */
class LayoutDescriptorTest {
    private static final String PROBE = "layout-descriptor-probe";
    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final long SIZE = 0x100000;
    private static final String ONE = "guestmem-share 1\nregion a 0 100000\nend\n";
    private static final String TWO = "guestmem-share 1\nregion a 0 100000\nregion b 100000 100000\nend\n";

    /** The two ways a peer attaches. */
    enum Attach {
        ONE_SHOT, FOLLOWING;

        SharedMachine attach(String sock, Duration timeout) {
            return this == ONE_SHOT ? SharedMachine.attach(sock, timeout) : SharedMachine.attachFollowing(sock, timeout);
        }

        /** @return the layout as the server sends it to this kind of peer: a follower's is answered */
        String served(String layout) {
            return this == FOLLOWING ? layout + ShareProtocol.FOLLOWING + "\n" : layout;
        }
    }

    @TempDir
    Path dir;
    private final List<Thread> servers = new ArrayList<>();

    @AfterEach
    void serversDone() throws InterruptedException {
        for (Thread t : servers) {
            t.join(WAIT.toMillis());
        }
    }

    /**
     * A descriptor more than the regions is refused on both paths, typed, and closed. attachFollowing
     * used to take one per region and leave the extra queued, where the first pushed plug would have
     * taken it as its block's.
     */
    @ParameterizedTest
    @EnumSource(Attach.class)
    void anExtraDescriptorIsRefusedAndClosed(Attach how) {
        DescriptorCountException e = assertThrows(DescriptorCountException.class,
                () -> attach(how, how.served(ONE), false, WAIT, SIZE, SIZE).close());
        assertEquals(1, e.regions());
        assertEquals(2, e.descriptors());
        assertTrue(e.getMessage().contains("2 descriptors") && e.getMessage().contains("1 region"), e.getMessage());
        assertNoProbeOpen();
    }

    /** Fewer descriptors than regions (none, or one for two) is the same refusal on both paths. */
    @ParameterizedTest
    @EnumSource(Attach.class)
    void aMissingDescriptorIsRefusedAndClosed(Attach how) {
        DescriptorCountException none = assertThrows(DescriptorCountException.class,
                () -> attach(how, how.served(ONE), false, WAIT).close());
        assertEquals(0, none.descriptors());
        DescriptorCountException one = assertThrows(DescriptorCountException.class,
                () -> attach(how, how.served(TWO), false, WAIT, SIZE).close());
        assertEquals(2, one.regions());
        assertEquals(1, one.descriptors());
        assertNoProbeOpen();
    }

    /** A refusal that comes with a descriptor (no server of ours sends one) leaves it closed. */
    @ParameterizedTest
    @EnumSource(Attach.class)
    void aRefusalClosesTheDescriptorsThatCameWithIt(Attach how) {
        ShareException e = assertThrows(ShareException.class,
                () -> attach(how, ShareProtocol.REFUSED + "go away\n", true, WAIT, SIZE).close());
        assertTrue(e.getMessage().contains("refused this process") && e.getMessage().contains("go away"), e.getMessage());
        assertNoProbeOpen();
    }

    @ParameterizedTest
    @EnumSource(Attach.class)
    void aMalformedLayoutClosesItsDescriptors(Attach how) {
        ShareException e = assertThrows(ShareException.class,
                () -> attach(how, how.served("guestmem-share 1\nregion a 0 zz\nend\n"), false, WAIT, SIZE).close());
        assertTrue(e.getMessage().contains("bad line"), e.getMessage());
        assertNoProbeOpen();
    }

    @ParameterizedTest
    @EnumSource(Attach.class)
    void anOverlappingLayoutClosesItsDescriptors(Attach how) {
        ShareException e = assertThrows(ShareException.class, () -> attach(how,
                how.served("guestmem-share 1\nregion a 0 100000\nregion b 1000 100000\nend\n"), false, WAIT, SIZE, SIZE).close());
        assertTrue(e.getMessage().contains("bad layout") && e.getMessage().contains("overlap"), e.getMessage());
        assertNoProbeOpen();
    }

    @ParameterizedTest
    @EnumSource(Attach.class)
    void aLayoutCutShortClosesItsDescriptors(Attach how) {
        ShareException e = assertThrows(ShareException.class,
                () -> attach(how, "guestmem-share 1\nregion a 0 100000\n", true, WAIT, SIZE).close());
        assertTrue(e.getMessage().contains("closed the connection") && e.getMessage().contains("bytes of the layout"),
                e.getMessage());
        assertNoProbeOpen();
    }

    @ParameterizedTest
    @EnumSource(Attach.class)
    void aLayoutThatTimesOutClosesItsDescriptors(Attach how) {
        ShareException e = assertThrows(ShareException.class,
                () -> attach(how, "guestmem-share 1\nregion a 0 100000\n", false, Duration.ofMillis(200), SIZE).close());
        assertTrue(e.getMessage().contains("timed out waiting for the layout"), e.getMessage());
        assertNoProbeOpen();
    }

    /** A descriptor too short for its region fails the attach; the region mapped before it is released. */
    @ParameterizedTest
    @EnumSource(Attach.class)
    void aDescriptorThatCannotBackItsRegionReleasesTheOthers(Attach how) {
        ShareException e = assertThrows(ShareException.class,
                () -> attach(how, how.served(TWO), false, WAIT, SIZE, 0x1000).close());
        assertTrue(e.getMessage().contains("region 'b'") && e.getMessage().contains("0x1000 bytes"), e.getMessage());
        assertNoProbeOpen();
        assertEquals(List.of(), mappingsOfProbe());
    }

    /** A follower whose server answers something else than {@code following} keeps none of the layout's descriptors. */
    @Test
    void aFollowerAnsweredWrongClosesTheLayoutsDescriptors() {
        ShareException e = assertThrows(ShareException.class,
                () -> attach(Attach.FOLLOWING, ONE + "nope\n", false, WAIT, SIZE).close());
        assertTrue(e.getMessage().contains("answered 'nope'"), e.getMessage());
        ShareException hungUp = assertThrows(ShareException.class, () -> attach(Attach.FOLLOWING, ONE, true, WAIT, SIZE).close());
        assertTrue(hungUp.getMessage().contains("did not answer the request to follow"), hungUp.getMessage());
        assertNoProbeOpen();
    }

    /**
     * The layout ends at its {@code end} line, whatever came in the same read after it: a one-shot
     * peer takes the layout. attach used to wait for a read that ended with {@code end}, and timed out.
     */
    @Test
    void aOneShotLayoutEndsAtItsEndLine() {
        try (SharedMachine m = attach(Attach.ONE_SHOT, ONE + ShareProtocol.REFUSED + "later\n", false, WAIT, SIZE)) {
            assertEquals(List.of(new SharedRamRegion("a", 0, SIZE)), m.layout());
        }
        assertNoProbeOpen();
    }

    /** A follower reads the same line after its layout as the server's answer: refused. */
    @Test
    void aFollowerRefusedAfterItsLayoutClosesItsDescriptors() {
        ShareException e = assertThrows(ShareException.class,
                () -> attach(Attach.FOLLOWING, ONE + ShareProtocol.REFUSED + "too many changes\n", false, WAIT, SIZE).close());
        assertTrue(e.getMessage().contains("stopped serving this process") && e.getMessage().contains("too many changes"),
                e.getMessage());
        assertNoProbeOpen();
    }

    /**
     * Serves one peer by hand: {@code text} in one message with a new memfd of each size on its first
     * byte (after a follower's request), the server's copies closed once sent; then hangs up at once
     * or once the peer has.
     */
    private SharedMachine attach(Attach how, String text, boolean hangUp, Duration timeout, long... sizes) {
        String sock = dir.resolve("s" + servers.size() + ".sock").toString();
        int listen = LinuxCalls.unixListen(sock);
        int[] fds = new int[sizes.length];
        for (int i = 0; i < sizes.length; i++) {
            fds[i] = LinuxCalls.memfdCreate(PROBE, Linux.MFD_CLOEXEC());
            LinuxCalls.ftruncate(fds[i], sizes[i]);
        }
        servers.add(Thread.ofPlatform().daemon().start(() -> {
            try {
                int c = LinuxCalls.unixAccept(listen);
                try {
                    if (how == Attach.FOLLOWING) { // its request first: hanging up on unread bytes would reset the connection
                        StringBuilder request = new StringBuilder();
                        while (request.indexOf("\n") < 0 && Fds.readable(c, WAIT.toMillis())) {
                            request.append(new String(LinuxCalls.recvWithFds(c, 256, 0).data(), StandardCharsets.US_ASCII));
                        }
                    }
                    LinuxCalls.sendWithFds(c, text.getBytes(StandardCharsets.US_ASCII), fds);
                    while (!hangUp && Fds.readable(c, WAIT.toMillis()) && LinuxCalls.recvWithFds(c, 256, 0).data().length > 0) {
                        // the peer's request, if any, then the end of its stream
                    }
                } finally {
                    LinuxCalls.close(c);
                }
            } finally {
                for (int fd : fds) {
                    LinuxCalls.close(fd);
                }
                LinuxCalls.close(listen);
            }
        }));
        return how.attach(sock, timeout);
    }

    /** Fails if this process still has a descriptor of a probe memfd, once the servers are done. */
    private void assertNoProbeOpen() {
        try {
            serversDone();
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        ProbeDescriptors.assertNoneOpen(PROBE);
    }

    private static List<String> mappingsOfProbe() {
        try {
            return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains(PROBE)).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
