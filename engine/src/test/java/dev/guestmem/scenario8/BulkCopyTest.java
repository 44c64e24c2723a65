package dev.guestmem.scenario8;

import static dev.guestmem.scenario8.BusMachine.DEV;
import static dev.guestmem.scenario8.BusMachine.HOLE;
import static dev.guestmem.scenario8.BusMachine.MIB;
import static dev.guestmem.scenario8.BusMachine.RAM1;
import static dev.guestmem.scenario8.BusMachine.ROM;
import static dev.guestmem.scenario8.BusMachine.WINDOW;
import static dev.guestmem.scenario8.BusMachine.WINDOW_FROM;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bulk {@code read}/{@code write} of 64 KiB and 1 MiB across region boundaries, checked byte for
 * byte against {@link BusMachine}'s model, with the results guide section 3 and the javadoc state:
 * the ORed result of all chunks, failed chunks reading as 0, ROM writes dropped with DECODE_ERROR.
 */
class BulkCopyTest {
    static final int K64 = 0x10000;

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    @ParameterizedTest
    @ValueSource(ints = {K64, (int) MIB})
    void aCopyAcrossTwoAdjacentRamRegionsMovesEveryByte(int len) {
        BusMachine m = new BusMachine();
        long at = RAM1 - len / 2;
        byte[] data = random(len, len);
        assertEquals(MemTxResult.OK, m.as.write(at, MemTxAttrs.UNSPECIFIED, data, 0, len));
        assertArrayEquals(data, m.model(at, len));
        byte[] back = new byte[len];
        assertEquals(MemTxResult.OK, m.as.read(at, MemTxAttrs.UNSPECIFIED, back, 0, len));
        assertArrayEquals(data, back);
        // and into a segment, the form a measurer compares with MemorySegment.copy
        MemorySegment seg = MemorySegment.ofArray(new byte[len + 3]);
        assertEquals(MemTxResult.OK, m.as.read(at, MemTxAttrs.UNSPECIFIED, seg, 3, len));
        assertArrayEquals(data, seg.asSlice(3).toArray(ValueLayout.JAVA_BYTE));
    }

    @Test
    void aCopyFromRamIntoMmioReachesTheDeviceInOrder() {
        BusMachine m = new BusMachine();
        long at = DEV - K64 / 2;
        byte[] expected = m.model(at, K64);
        byte[] back = new byte[K64];
        assertEquals(MemTxResult.OK, m.as.read(at, MemTxAttrs.UNSPECIFIED, back, 0, K64));
        assertArrayEquals(expected, back);

        byte[] data = random(K64, 3);
        assertEquals(MemTxResult.OK, m.as.write(at, MemTxAttrs.UNSPECIFIED, data, 0, K64));
        assertArrayEquals(data, m.model(at, K64));
    }

    @ParameterizedTest
    @ValueSource(ints = {K64, (int) MIB})
    void aReadRunningIntoAHoleIsDecodeErrorWithTheHoleReadingZero(int len) {
        BusMachine m = new BusMachine();
        long at = HOLE - K64 / 2;  // half in the device, the rest unassigned
        byte[] expected = m.model(at, len);
        byte[] back = new byte[len];
        Arrays.fill(back, (byte) 0x55);
        assertEquals(MemTxResult.DECODE_ERROR, m.as.read(at, MemTxAttrs.UNSPECIFIED, back, 0, len));
        assertArrayEquals(expected, back, "device bytes read, hole bytes 0");
    }

    @Test
    void aWriteRunningIntoAHoleWritesWhatIsThereAndSaysDecodeError() {
        BusMachine m = new BusMachine();
        long at = DEV - K64 / 2;
        int len = 2 * K64;             // ram1, all of dev, then the hole
        byte[] data = random(len, 5);
        assertEquals(MemTxResult.DECODE_ERROR, m.as.write(at, MemTxAttrs.UNSPECIFIED, data, 0, len));
        assertArrayEquals(Arrays.copyOf(data, (int) (HOLE - at)), m.model(at, (int) (HOLE - at)));
    }

    @ParameterizedTest
    @ValueSource(ints = {K64, (int) MIB})
    void anAliasIntoTheMiddleOfABlockReadsThatBlockThenTheRomAfterIt(int len) {
        BusMachine m = new BusMachine();
        long at = ROM - len / 2;   // the alias's last half-length, then the ROM (64 KiB)
        byte[] expected = m.model(at, len);
        byte[] back = new byte[len];
        int r = m.as.read(at, MemTxAttrs.UNSPECIFIED, back, 0, len);
        assertArrayEquals(expected, back);
        assertEquals(len > 2 * 0x10000 ? MemTxResult.DECODE_ERROR : MemTxResult.OK, r,
                "a 1 MiB read runs past the 64 KiB ROM into a hole");
        // the alias's bytes are ram0's from WINDOW_FROM
        byte[] direct = m.ram0.ramBlock().segment()
                .asSlice(WINDOW_FROM + (at - WINDOW), len / 2).toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(direct, Arrays.copyOf(back, len / 2));
    }

    @Test
    void aWriteThroughTheAliasIntoTheRomWritesTheAliasAndDropsTheRomPart() {
        BusMachine m = new BusMachine();
        long at = ROM - K64 / 2;
        byte[] romBefore = m.model(ROM, K64 / 2);
        byte[] data = random(K64, 9);
        assertEquals(MemTxResult.DECODE_ERROR, m.as.write(at, MemTxAttrs.UNSPECIFIED, data, 0, K64));
        assertArrayEquals(Arrays.copyOf(data, K64 / 2), m.model(at, K64 / 2));
        assertArrayEquals(romBefore, m.model(ROM, K64 / 2), "ROM unchanged");
        // writeRom, the loader's path, writes both
        assertEquals(MemTxResult.OK, m.as.writeRom(at, MemTxAttrs.UNSPECIFIED, data, 0, K64));
        assertArrayEquals(data, m.model(at, K64));
    }

    @Test
    void memoryAttributeRefusesTheMmioPartOnlyWithAccessError() {
        BusMachine m = new BusMachine();
        MemTxAttrs memOnly = new MemTxAttrs(false, false, false, true, false, 0);
        long at = DEV - K64 / 2;
        byte[] expected = m.model(at, K64);
        Arrays.fill(expected, K64 / 2, K64, (byte) 0x55); // skipped, as QEMU: the buffer's bytes stay
        byte[] back = new byte[K64];
        Arrays.fill(back, (byte) 0x55);
        m.devCalls = 0;
        assertEquals(MemTxResult.ACCESS_ERROR, m.as.read(at, memOnly, back, 0, K64));
        assertEquals(0, m.devCalls, "the device is never called");
        assertArrayEquals(expected, back, "RAM part read, refused part as the buffer held it");
    }

    @Test
    void setFillsAcrossRegionsAndReportsTheHole() {
        BusMachine m = new BusMachine();
        long at = DEV - K64 / 2;
        assertEquals(MemTxResult.DECODE_ERROR, m.as.set(at, (byte) 0xa5, 2L * K64, MemTxAttrs.UNSPECIFIED));
        byte[] expected = new byte[(int) (HOLE - at)];
        Arrays.fill(expected, (byte) 0xa5);
        assertArrayEquals(expected, m.model(at, expected.length));
    }
}
