package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxResult;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hazard 2: a file truncated under a mapping. The checked accessors turn the SIGBUS (the JDK's
 * InternalError) into a broken block and a clear error, and the JVM lives on, including when the
 * faulting access sits in a loop C2 has compiled.
 */
class RamSigbusTest {
    private static final long PAGE = 4096;
    private static final long SIZE = 64 * PAGE;

    @TempDir
    Path dir;

    private RamBlock fileBlock(String name) {
        return RamBlock.builder(name, SIZE).file(dir.resolve(name)).shared(true).build();
    }

    private void truncate(String name, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(dir.resolve(name), StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    @Test
    void truncatedFileGivesABrokenBlockAndAClearError() throws IOException {
        try (RamBlock b = fileBlock("sigbus.plain")) {
            b.segment().fill((byte) 1);
            truncate("sigbus.plain", 4 * PAGE);
            assertEquals(0x0101010101010101L, b.ldqHe(0), "pages still in the file keep working");
            RamBlockBrokenException e = assertThrows(RamBlockBrokenException.class, () -> b.ldqHe(10 * PAGE));
            assertTrue(e.getMessage().contains("sigbus.plain") && e.getMessage().contains("SIGBUS")
                    && e.getMessage().contains("0xa000"), e.getMessage());
            assertTrue(e.getCause() instanceof InternalError);
            assertTrue(b.isBroken());
            // A broken block refuses every later checked access at once, even to pages that exist.
            assertThrows(RamBlockBrokenException.class, () -> b.ldqHe(0));
            try (Arena a = Arena.ofConfined()) {
                assertEquals(MemTxResult.ERROR, b.read(0, a.allocate(8), 0, 8));
            }
        }
        assertJvmAlive();
    }

    @Test
    void bulkReadAndWriteReturnErrorInsteadOfThrowing() throws IOException {
        try (RamBlock b = fileBlock("sigbus.bulk"); Arena a = Arena.ofConfined()) {
            truncate("sigbus.bulk", 0);
            MemorySegment buf = a.allocate(2 * PAGE);
            assertEquals(MemTxResult.ERROR, b.write(PAGE, buf, 0, buf.byteSize()));
            assertTrue(b.isBroken());
        }
        try (RamBlock b = fileBlock("sigbus.bulk2"); Arena a = Arena.ofConfined()) {
            truncate("sigbus.bulk2", PAGE);
            assertEquals(MemTxResult.ERROR, b.read(0, a.allocate(8 * PAGE), 0, 8 * PAGE));
            assertTrue(b.brokenReason().contains("SIGBUS"));
        }
        assertJvmAlive();
    }

    @Test
    void c2CompiledHotLoopSurvivesTruncation() throws IOException {
        try (RamBlock warm = fileBlock("sigbus.warm"); RamBlock b = fileBlock("sigbus.hot")) {
            warm.segment().fill((byte) 2);
            b.segment().fill((byte) 2);
            long expected = 0x0202020202020202L * (SIZE / PAGE);
            // Enough calls for C2 to compile sumPages on a healthy block (checked with
            // -XX:+PrintCompilation: level 4 well before 1,000,000 calls).
            for (int i = 0; i < 1_000_000; i++) {
                assertEquals(expected, sumPages(warm));
            }
            truncate("sigbus.hot", 8 * PAGE);
            RamBlockBrokenException e = assertThrows(RamBlockBrokenException.class, () -> sumPages(b));
            assertTrue(e.getMessage().contains("sigbus.hot"));
            assertTrue(b.isBroken());
            assertFalse(warm.isBroken());
            assertEquals(expected, sumPages(warm), "the healthy block still works");
        }
        assertJvmAlive();
    }

    @Test
    void rawSegmentAccessThrowsInternalErrorAndTheJvmLives() throws IOException {
        // Documents the JDK behaviour the checked path relies on, also from a compiled loop.
        try (RamBlock b = fileBlock("sigbus.raw")) {
            MemorySegment s = b.segment();
            for (int i = 0; i < 1_000_000; i++) {
                rawSum(s);
            }
            truncate("sigbus.raw", 0);
            InternalError e = assertThrows(InternalError.class, () -> rawSum(s));
            assertTrue(e.getMessage().contains("unsafe memory access"), e.getMessage());
        }
        assertJvmAlive();
    }

    @Test
    void reportFaultMarksTheBlockBrokenOnceWithTheFirstFaultsReason() throws IOException {
        try (RamBlock b = fileBlock("sigbus.report")) {
            truncate("sigbus.report", 0);
            InternalError fault = assertThrows(InternalError.class, () -> rawSum(b.segment()));
            assertThrows(NullPointerException.class, () -> b.reportFault(0, 8, null));
            assertFalse(b.isBroken(), "only a real fault breaks the block");

            b.reportFault(10 * PAGE, 8, fault); // as the access path does: no re-run of the access
            assertTrue(b.isBroken());
            String why = b.brokenReason();
            assertTrue(why.startsWith("SIGBUS on [0xa000, +0x8)") && why.contains("the file is 0x0 bytes"), why);
            b.reportFault(20 * PAGE, 4, fault);
            assertEquals(why, b.brokenReason(), "the first fault's reason stays");
            RamBlockBrokenException later = assertThrows(RamBlockBrokenException.class, () -> b.ldqHe(0));
            assertTrue(later.getMessage().contains(why), later.getMessage());
        }
        assertJvmAlive();
    }

    private static long sumPages(RamBlock b) {
        long sum = 0;
        for (long off = 0; off < SIZE; off += PAGE) {
            sum += b.ldqHe(off);
        }
        return sum;
    }

    private static long rawSum(MemorySegment s) {
        long sum = 0;
        for (long off = 0; off < SIZE; off += PAGE) {
            sum += s.get(ValueLayout.JAVA_LONG, off);
        }
        return sum;
    }

    private static void assertJvmAlive() {
        try (RamBlock b = RamBlock.anonymous("sigbus.after", PAGE)) {
            b.stqHe(0, 5);
            assertEquals(5, b.ldqHe(0));
        }
    }
}
