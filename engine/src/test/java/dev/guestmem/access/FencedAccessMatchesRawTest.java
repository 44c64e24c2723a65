package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.internal.SigbusFence;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The fenced path of a fault-prone section and the inlined path of anonymous RAM must load and
 * store the same bytes: {@link SigbusFence}'s sized accesses against {@link FlatViewAccess}'s raw ones.
 */
class FencedAccessMatchesRawTest {
    @Test
    void sameValuesBothWays() {
        SplittableRandom rnd = new SplittableRandom(42);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment fenced = a.allocate(64);
            MemorySegment raw = a.allocate(64);
            for (int i = 0; i < 2000; i++) {
                long off = rnd.nextInt(57);
                int size = 1 << rnd.nextInt(4);
                boolean big = rnd.nextBoolean();
                long v = rnd.nextLong();
                SigbusFence.set(fenced, off, size, big, v);
                FlatViewAccess.setRaw(raw, off, size, big, v);
                assertEquals(-1, fenced.mismatch(raw), "store " + size + (big ? " BE" : " LE") + " at " + off);
                long at = rnd.nextInt(57);
                assertEquals(FlatViewAccess.getRaw(raw, at, size, big), SigbusFence.get(fenced, at, size, big));
            }
        }
    }
}
