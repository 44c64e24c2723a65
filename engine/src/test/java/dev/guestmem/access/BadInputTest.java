package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** R4 for the access API: bad lengths, offsets and wrap-arounds fail clearly and change nothing. */
class BadInputTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    @Test
    void badInputs() {
        TestViews tv = new TestViews();
        RamRegion top = new RamRegion(tv.system, null, "top", RamBlock.anonymous("top", 0x2000), false, false);
        AddressSpace as = tv.map(-0x2000L, top).space();
        byte[] buf = new byte[16];
        assertThrows(IndexOutOfBoundsException.class, () -> as.read(-0x10L, U, buf, -1, 4));
        assertThrows(IndexOutOfBoundsException.class, () -> as.write(-0x10L, U, buf, 10, 7));
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(8);
            assertThrows(IndexOutOfBoundsException.class, () -> as.read(-0x10L, U, seg, 0, 9));
            assertEquals(MemTxResult.DECODE_ERROR, as.writeRom(-4L, U, seg, 0, 8), "wraps past 2^64");
        }
        assertEquals(MemTxResult.DECODE_ERROR, as.set(-1L, (byte) 1, -1L, U), "length 2^64-1 wraps");
        assertEquals(MemTxResult.DECODE_ERROR, as.stqLe(-1L, 1), "an 8-byte store at the last byte wraps");
        assertEquals(0L, as.ldq(-1L), "nothing was written");
        // map clamps a wrapping length at 2^64 instead of wrapping
        DmaMapping m = as.map(-0x10L, Long.MAX_VALUE, false, U);
        assertEquals(0x10, m.length());
        assertThrows(IllegalArgumentException.class, () -> m.unmap(0x11), "access_len beyond the mapping");
        assertEquals(MemTxResult.OK, m.unmap(0));
        assertThrows(IllegalArgumentException.class, () -> as.setMaxBounceBufferSize(-1));
        MemoryRegionCache c = new MemoryRegionCache();
        assertThrows(IllegalArgumentException.class, () -> c.init(as, 0, 0, false), "length 0");
        assertEquals(0x10, c.init(as, -0x10L, 0x100, false), "clamped to the end of the space");
        assertThrows(IllegalStateException.class, () -> c.invalidate(0, 1), "not initialised for writing");
        c.destroy();
    }
}
