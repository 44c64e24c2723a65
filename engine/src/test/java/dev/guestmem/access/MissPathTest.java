package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/**
 * The out-of-line full dispatch ({@link MissPath}): what it answers is the full dispatch's, in both
 * directions and byte orders, and its handles stay out of C2's reach.
 */
class MissPathTest {
    private static final long LOW = 0x1000;
    private static final long HIGH = 0x100000;

    /**
     * Its handles must not be constants: a {@code static final} handle would let C2 inline the whole
     * dispatch into every ld/st method again (P1warm 4.49 instead of about 2.2).
     */
    @Test
    void theHandlesAreNotConstantsToTheJit() {
        int handles = 0;
        for (Field f : MissPath.class.getDeclaredFields()) {
            if (f.getType() == MethodHandle.class) {
                handles++;
                assertFalse(Modifier.isFinal(f.getModifiers()), f.getName() + " must not be final");
            }
        }
        assertEquals(2, handles);
    }

    @Test
    void everyAccessThatAlternatesSectionsTakesItAndAnswersAsTheDispatch() {
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        try (RamBlock low = RamBlock.anonymous("low", 0x2000); RamBlock high = RamBlock.anonymous("high", 0x2000);
             RamBlock rom = RamBlock.anonymous("rom", 0x1000)) {
            root.addSubregion(LOW, new RamRegion(sys, null, "low", low, false, false));
            root.addSubregion(HIGH, new RamRegion(sys, null, "high", high, false, false));
            root.addSubregion(0x200000, new RamRegion(sys, null, "rom", rom, true, false));
            AddressSpace as = sys.addressSpace(root, "memory");
            MemTxResultHolder r = new MemTxResultHolder();
            for (int i = 0; i < 2_000; i++) { // each access is to the other section: the window misses
                long base = (i & 1) == 0 ? LOW : HIGH;
                long off = (i * 8L) & 0xFF8;
                boolean big = (i & 2) != 0;
                long v = i * 0x0101_0101_0101L;
                assertEquals(MemTxResult.OK, MissPath.store(as, base + off, 8, big, v, MemTxAttrs.UNSPECIFIED));
                ByteOrder order = big ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
                RamBlock b = base == LOW ? low : high;
                assertEquals(v, b.segment().get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(order), off));
                assertEquals(v, MissPath.load(as, base + off, 8, big, MemTxAttrs.UNSPECIFIED, r));
                assertEquals(MemTxResult.OK, r.get());
                assertEquals(big ? v >>> 48 : v & 0xFFFF, MissPath.load(as, base + off, 2, big, MemTxAttrs.UNSPECIFIED, r));
            }
            assertEquals(0, MissPath.load(as, 0x8000_0000L, 4, false, MemTxAttrs.UNSPECIFIED, r)); // nothing there
            assertEquals(MemTxResult.DECODE_ERROR, r.get());
            assertEquals(MemTxResult.DECODE_ERROR, MissPath.store(as, -2L, 4, false, 1, MemTxAttrs.UNSPECIFIED)); // wraps 2^64
            assertEquals(MemTxResult.DECODE_ERROR, MissPath.store(as, 0x200000, 4, false, 0x55, MemTxAttrs.UNSPECIFIED)); // ROM: dropped, as in QEMU
            assertEquals(0, MissPath.load(as, 0x200000, 4, false, MemTxAttrs.UNSPECIFIED, r));
            assertEquals(MemTxResult.OK, r.get());
        }
    }
}
