package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.linux.LinuxCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link LineSocket}'s timeouts. */
class LineSocketTest {
    /**
     * A timeout too long for a long of nanoseconds (292 years) is no limit, as for
     * {@link SharedMachine#attach}: connect and readLine used to throw ArithmeticException.
     */
    @Test
    void aTimeoutBeyondACenturyIsNoLimit(@TempDir Path dir) {
        String path = dir.resolve("l.sock").toString();
        int listener = LinuxCalls.unixListen(path);
        try {
            for (Duration forever : new Duration[] {Duration.ofSeconds(Long.MAX_VALUE, 999_999_999), Duration.ofDays(365L * 300)}) {
                try (LineSocket s = new LineSocket(path, forever)) {
                    int server = LinuxCalls.unixAccept(listener);
                    try {
                        send(server, "hello\r\nworld\n");
                        assertEquals("hello", s.readLine());
                        assertEquals("world", s.readLine());
                        s.writeLine("back");
                        assertEquals("back\n", new String(LinuxCalls.recvWithFds(server, 64, 0).data(), StandardCharsets.UTF_8));
                    } finally {
                        LinuxCalls.close(server);
                    }
                }
            }
        } finally {
            LinuxCalls.close(listener);
        }
    }

    private static void send(int fd, String text) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment s = a.allocateFrom(java.lang.foreign.ValueLayout.JAVA_BYTE, b);
            assertEquals(b.length, LinuxCalls.write(fd, s, b.length));
        }
    }
}
