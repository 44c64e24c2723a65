package dev.guestmem.mmio;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MmioValue;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * R3: MMIO size, alignment and endianness rules, each expected value worked out by hand from
 * QEMU's rules (QEMU-SEMANTICS.md §5), never by running the code.
 *
 * <p>The device's read callback returns, for {@code (addr, size)}, the bytes {@code addr+1,
 * addr+2, ...} from the low byte up: {@code r(0,4) = 0x04030201}, {@code r(4,4) = 0x08070605},
 * {@code r(1,4) = 0x05040302}, {@code r(2,4) = 0x06050403}, {@code r(0,1) = 0x01}, {@code r(4,2) =
 * 0x0605}. The callback is the register value; device endianness only decides how chunks are
 * combined and whether the final value is swapped for the access.
 */
class MmioSizeRulesTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    /** Ops description: endianness, valid min/max/unaligned, impl min/max/unaligned. */
    record Cfg(Endianness end, int vmin, int vmax, boolean vuna, int imin, int imax, boolean iuna) {
        static Cfg defaults() {
            return new Cfg(Endianness.LITTLE, 0, 0, false, 0, 0, false);
        }

        Cfg end(Endianness e) {
            return new Cfg(e, vmin, vmax, vuna, imin, imax, iuna);
        }

        Cfg valid(int min, int max, boolean una) {
            return new Cfg(end, min, max, una, imin, imax, iuna);
        }

        Cfg impl(int min, int max, boolean una) {
            return new Cfg(end, vmin, vmax, vuna, min, max, una);
        }
    }

    static long pattern(long addr, int size) {
        long v = 0;
        for (int k = 0; k < size; k++) {
            v |= ((addr + 1 + k) & 0xFF) << (8 * k);
        }
        return v;
    }

    private static MemoryRegionOps ops(Cfg c, List<String> calls) {
        return MemoryRegionOps.builder()
                .read((addr, size) -> {
                    calls.add("r" + addr + "/" + size);
                    return pattern(addr, size);
                })
                .write((addr, data, size) -> calls.add("w" + addr + "=" + Long.toHexString(data) + "/" + size))
                .endianness(c.end())
                .valid(c.vmin(), c.vmax(), c.vuna())
                .impl(c.imin(), c.imax(), c.iuna())
                .build();
    }

    static Stream<Arguments> reads() {
        Cfg d = Cfg.defaults();
        Cfg big = d.end(Endianness.BIG);
        return Stream.of(
                // name, cfg, addr, size, bigEndianAccess, expected result, expected value, expected calls
                Arguments.of("aligned 4 default", d, 0L, 4, false, MemTxResult.OK, 0x04030201L, List.of("r0/4")),
                // size 8 > impl.max default 4: two chunks at bit 0 and bit 32 (LE device)
                Arguments.of("8 split LE", d, 0L, 8, false, MemTxResult.OK, 0x0807060504030201L,
                        List.of("r0/4", "r4/4")),
                // BE device: chunk 0 at bit (8-4-0)*8 = 32, chunk 4 at bit 0 -> 0x04030201_08070605;
                // LE access on BE device: bswap64 -> 05 06 07 08 01 02 03 04
                Arguments.of("8 split BE dev LE access", big, 0L, 8, false, MemTxResult.OK, 0x0506070801020304L,
                        List.of("r0/4", "r4/4")),
                // same, BE access: no swap
                Arguments.of("8 split BE dev BE access", big, 0L, 8, true, MemTxResult.OK, 0x0403020108070605L,
                        List.of("r0/4", "r4/4")),
                // LE device, BE access of 4: bswap32(0x04030201)
                Arguments.of("LE dev BE access", d, 0L, 4, true, MemTxResult.OK, 0x01020304L, List.of("r0/4")),
                // valid.unaligned false (default): offset 2 & (4-1) != 0 -> invalid, value 0, no call
                Arguments.of("unaligned refused", d, 2L, 4, false, MemTxResult.DECODE_ERROR, 0L, List.of()),
                // valid.unaligned true: one call at 2, not realigned
                Arguments.of("unaligned allowed, no realign", d.valid(0, 0, true), 2L, 4, false, MemTxResult.OK,
                        0x06050403L, List.of("r2/4")),
                Arguments.of("above valid.max", d.valid(0, 4, false), 0L, 8, false, MemTxResult.DECODE_ERROR, 0L,
                        List.of()),
                Arguments.of("below valid.min", d.valid(2, 4, false), 0L, 1, false, MemTxResult.DECODE_ERROR, 0L,
                        List.of()),
                // valid.max 0 means "any size" and valid.min is then ignored
                Arguments.of("max 0 ignores min", d.valid(4, 0, false), 0L, 1, false, MemTxResult.OK, 0x01L,
                        List.of("r0/1")),
                // size 2 at odd offset 1: 1 & 1 != 0 -> unaligned -> refused
                Arguments.of("odd 2-byte refused", d, 1L, 2, false, MemTxResult.DECODE_ERROR, 0L, List.of()),
                // impl.min 4 > size 1: one 4-byte call at 1 (no realignment): r(1,4) = 0x05040302;
                // LE device keeps the low end -> 0x02
                Arguments.of("widened LE takes low end", d.impl(4, 4, false), 1L, 1, false, MemTxResult.OK, 0x02L,
                        List.of("r1/4")),
                // BE device: shift (1-4-0)*8 = -24 -> 0x05040302 >>> 24 = 0x05 (the high end)
                Arguments.of("widened BE takes high end", big.impl(4, 4, false), 1L, 1, false, MemTxResult.OK, 0x05L,
                        List.of("r1/4")),
                // impl.max 1: four byte calls, LE chunk i at bit 8i
                Arguments.of("bytewise LE", d.impl(1, 1, false), 0L, 4, false, MemTxResult.OK, 0x04030201L,
                        List.of("r0/1", "r1/1", "r2/1", "r3/1")),
                // impl.max 1, BE device, 2 bytes: chunk 0 at bit 8, chunk 1 at bit 0 -> 0x0102;
                // LE access on BE device: bswap16 -> 0x0201
                Arguments.of("bytewise BE dev LE access", big.impl(1, 1, false), 0L, 2, false, MemTxResult.OK,
                        0x0201L, List.of("r0/1", "r1/1")),
                // impl.max 2, LE device, BE access of 4 at 4: r(4,2)=0x0605 at 0, r(6,2)=0x0807 at 16 ->
                // 0x08070605, bswap32 -> 0x05060708
                Arguments.of("2-byte chunks LE dev BE access", d.impl(1, 2, false), 4L, 4, true, MemTxResult.OK,
                        0x05060708L, List.of("r4/2", "r6/2")),
                // impl.max 8: one call for 8 bytes
                Arguments.of("impl 8 single call", d.impl(1, 8, false), 0L, 8, false, MemTxResult.OK,
                        0x0807060504030201L, List.of("r0/8")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("reads")
    void read(String name, Cfg cfg, long addr, int size, boolean big, int result, long value, List<String> calls) {
        List<String> seen = new ArrayList<>();
        MmioValue out = new MmioValue();
        int r = MmioDispatch.read(ops(cfg, seen), null, "dev", addr, size, big, U, out);
        assertEquals(MemTxResult.toString(result), MemTxResult.toString(r), "result");
        assertEquals(Long.toHexString(value), Long.toHexString(out.value), "value");
        assertEquals(calls, seen, "device calls");
    }

    static Stream<Arguments> writes() {
        Cfg d = Cfg.defaults();
        Cfg big = d.end(Endianness.BIG);
        return Stream.of(
                Arguments.of("aligned 4", d, 0L, 4, false, 0xAABBCCDDL, MemTxResult.OK, List.of("w0=aabbccdd/4")),
                // impl.max 4: low half to 0, high half to 4 (LE device)
                Arguments.of("8 split LE", d, 0L, 8, false, 0x1122334455667788L, MemTxResult.OK,
                        List.of("w0=55667788/4", "w4=11223344/4")),
                // LE access on BE device: first bswap64 -> 0x8877665544332211; chunk 0 takes bits
                // 32..63 (shift (8-4-0)*8 = 32) = 0x88776655, chunk 4 takes bits 0..31 = 0x44332211
                Arguments.of("8 split BE dev LE access", big, 0L, 8, false, 0x1122334455667788L, MemTxResult.OK,
                        List.of("w0=88776655/4", "w4=44332211/4")),
                // impl.min 4 > size 1, LE: one 4-byte call with the byte in the low end
                Arguments.of("widened LE", d.impl(4, 4, false), 0L, 1, false, 0xABL, MemTxResult.OK,
                        List.of("w0=ab/4")),
                // BE device: shift -24 -> (0xAB << 24) & 0xffffffff
                Arguments.of("widened BE", big.impl(4, 4, false), 0L, 1, false, 0xABL, MemTxResult.OK,
                        List.of("w0=ab000000/4")),
                // BE device, BE access (no swap), impl.max 2: chunk 0 gets bits 16..31, chunk 2 bits 0..15
                Arguments.of("2-byte chunks BE", big.impl(1, 2, false), 0L, 4, true, 0x11223344L, MemTxResult.OK,
                        List.of("w0=1122/2", "w2=3344/2")),
                // the value is cut to the access size before anything else
                Arguments.of("stb keeps 8 bits", d, 3L, 1, false, 0x1FFL, MemTxResult.OK, List.of("w3=ff/1")),
                Arguments.of("unaligned write refused", d, 2L, 4, false, 1L, MemTxResult.DECODE_ERROR, List.of()));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("writes")
    void write(String name, Cfg cfg, long addr, int size, boolean big, long data, int result, List<String> calls) {
        List<String> seen = new ArrayList<>();
        int r = MmioDispatch.write(ops(cfg, seen), null, "dev", addr, data, size, big, U);
        assertEquals(MemTxResult.toString(result), MemTxResult.toString(r), "result");
        assertEquals(calls, seen, "device calls");
    }

    @org.junit.jupiter.api.Test
    void acceptsVetoesBeforeSizeChecks() {
        List<String> seen = new ArrayList<>();
        MemoryRegionOps o = MemoryRegionOps.builder()
                .read((a, s) -> 7)
                .write((a, v, s) -> seen.add("w"))
                .accepts((addr, size, isWrite, attrs) -> !isWrite)
                .build();
        MmioValue out = new MmioValue();
        assertEquals(MemTxResult.OK, MmioDispatch.read(o, null, "dev", 0, 4, false, U, out));
        assertEquals(7, out.value);
        assertEquals(MemTxResult.DECODE_ERROR, MmioDispatch.write(o, null, "dev", 0, 1, 4, false, U));
        assertEquals(List.of(), seen);
    }

    @org.junit.jupiter.api.Test
    void withAttrsResultsAreOredAndLaterChunksStillRun() {
        List<String> seen = new ArrayList<>();
        MemoryRegionOps o = MemoryRegionOps.builder()
                .readWithAttrs((addr, size, attrs, out) -> {
                    seen.add("r" + addr);
                    out.value = addr == 0 ? 0x04030201L : 0x99;
                    return addr == 0 ? MemTxResult.ERROR : MemTxResult.OK;
                })
                .build();
        MmioValue out = new MmioValue();
        // chunk 0 fails, chunk 4 still runs; both values are merged (QEMU merges tmp regardless)
        assertEquals(MemTxResult.ERROR, MmioDispatch.read(o, null, "dev", 0, 8, false, U, out));
        assertEquals(0x0000009904030201L, out.value);
        assertEquals(List.of("r0", "r4"), seen);
        // no write callback at all: decode error instead of QEMU's NULL call
        assertEquals(MemTxResult.DECODE_ERROR, MmioDispatch.write(o, null, "dev", 0, 1, 4, false, U));
    }

    static Stream<Arguments> chunkSizes() {
        MemoryRegionOps def = MemoryRegionOps.builder().build();
        MemoryRegionOps v8 = MemoryRegionOps.builder().valid(1, 8, false).build();
        MemoryRegionOps v8una = MemoryRegionOps.builder().valid(1, 8, false).impl(1, 8, true).build();
        return Stream.of(
                // valid.max 0 -> 4; addr 0 has no alignment bound
                Arguments.of(def, 100L, 0L, 4),
                // addr 6: natural alignment 2 bounds the chunk
                Arguments.of(def, 8L, 6L, 2),
                Arguments.of(v8, 8L, 8L, 8),
                Arguments.of(v8, 8L, 12L, 4),
                // impl.unaligned: no alignment bound; 7 rounds down to 4
                Arguments.of(v8una, 7L, 3L, 4),
                Arguments.of(def, 3L, 0L, 2),
                Arguments.of(null, 8L, 1L, 1));
    }

    @ParameterizedTest
    @MethodSource("chunkSizes")
    void memoryAccessSize(MemoryRegionOps o, long l, long addr, int expected) {
        assertEquals(expected, MmioDispatch.accessSize(o, l, addr));
    }
}
