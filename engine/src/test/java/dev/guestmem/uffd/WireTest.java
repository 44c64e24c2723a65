package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.linux.LinuxCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The control protocol's line and field encoding. */
class WireTest {
    private static final String ALPHABET = "\t\n\r\\tnrü€😀 ab";

    @Test
    void fieldsRoundTripWhateverTheyHold() {
        Random r = new Random(7);
        for (int round = 0; round < 2000; round++) {
            int n = 1 + r.nextInt(5);
            String[] fields = new String[n];
            for (int i = 0; i < n; i++) {
                StringBuilder b = new StringBuilder();
                for (int k = r.nextInt(12); k > 0; k--) {
                    b.appendCodePoint(ALPHABET.codePointAt(ALPHABET.offsetByCodePoints(0, r.nextInt(ALPHABET.codePointCount(0, ALPHABET.length())))));
                }
                fields[i] = b.toString();
            }
            String line = Wire.line(fields);
            assertFalse(line.contains("\n") || line.contains("\r"), line);
            assertEquals(List.of(fields), Wire.fields(line), line);
        }
    }

    @Test
    void aBadEscapeIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> Wire.fields("a\\"));
        assertThrows(IllegalArgumentException.class, () -> Wire.fields("a\\x"));
    }

    /** Lines longer than a read, with multi-byte characters across every read boundary, come back whole. */
    @Test
    void linesAreSplitOnBytesNotOnReads() throws Exception {
        int[] pair = LinuxCalls.socketpair();
        List<String> sent = new ArrayList<>();
        StringBuilder one = new StringBuilder();
        for (int i = 0; i < 3000; i++) {
            one.append(i % 3 == 0 ? "ü" : i % 3 == 1 ? "😀" : "x");
        }
        for (int i = 0; i < 20; i++) {
            sent.add(Wire.line("block", one.substring(0, one.offsetByCodePoints(0, 1 + i * 37)), Integer.toString(i)));
        }
        Thread writer = Thread.ofPlatform().start(() -> {
            byte[] all = (String.join("\n", sent) + "\n").getBytes(StandardCharsets.UTF_8);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(all.length);
                MemorySegment.copy(all, 0, buf, ValueLayout.JAVA_BYTE, 0, all.length);
                for (int off = 0; off < all.length; off += 333) { // odd chunks: characters cut between writes
                    Wire.writeFully(pair[0], buf.asSlice(off), Math.min(333, all.length - off));
                }
            }
            LinuxCalls.close(pair[0]);
        });
        Wire w = new Wire(pair[1]);
        try {
            for (String s : sent) {
                assertEquals(s, w.readLine());
            }
            assertNull(w.readLine());
        } finally {
            writer.join();
            w.close();
        }
    }
}
