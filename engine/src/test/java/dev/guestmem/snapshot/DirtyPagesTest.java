package dev.guestmem.snapshot;

import static org.junit.jupiter.api.Assertions.assertEquals;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class DirtyPagesTest {
    /** ofBitmap's nextDirty agrees with a bit-by-bit scan for every start index. */
    @Property
    void bitmapIteratorMatchesANaiveScan(@ForAll @Size(max = 5) long[] bitmap, @ForAll @IntRange(max = 320) int pages) {
        int pageCount = Math.min(pages, bitmap.length * 64);
        DirtyPages d = DirtyPages.ofBitmap(bitmap, pageCount);
        for (int from = 0; from <= pageCount + 1; from++) {
            long expected = -1;
            for (int p = from; p < pageCount; p++) {
                if ((bitmap[p >>> 6] & (1L << p)) != 0) {
                    expected = p;
                    break;
                }
            }
            assertEquals(expected, d.nextDirty(from), "from " + from);
        }
    }
}
