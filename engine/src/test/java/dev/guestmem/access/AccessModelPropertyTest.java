package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Random region trees of RAM and MMIO devices, random loads, stores and buffer accesses, checked
 * against a byte-array model of guest memory.
 *
 * <p>The model: each mapped region is an array of bytes; an unmapped byte reads 0 with
 * DECODE_ERROR. MMIO devices behave like memory (their callbacks store and load bytes in the
 * device's byte order, with any impl.max), so chunking and byte swapping must cancel out. Two QEMU
 * rules are modelled explicitly: a load or store that leaves the section it starts in is, for RAM,
 * a DECODE_ERROR that changes nothing (sections: leading partial page, whole pages, trailing partial
 * page of each region), and for MMIO reaches the device beyond its end (bytes there read 0 and
 * writes there vanish). Regions start on 8-byte boundaries and have sizes that are multiples of 8 so
 * that MMIO chunks never straddle a region's end.
 */
class AccessModelPropertyTest {
    /** One leaf: absolute start, size, kind, device configuration. */
    record Leaf(long start, int size, boolean ram, boolean bigEndian, int implMax, boolean validMax8) {
    }

    @Provide
    Arbitrary<List<Leaf>> layouts() {
        Arbitrary<Long> gap = Arbitraries.longs().between(0, 0x3000).map(g -> g & ~7L);
        Arbitrary<Integer> ramSize = Arbitraries.integers().between(1, 0x3000 / 8).map(s -> s * 8);
        Arbitrary<Integer> ioSize = Arbitraries.integers().between(1, 0x40).map(s -> s * 8);
        Arbitrary<Leaf> leaf = Combinators.combine(Arbitraries.of(true, false), ramSize, ioSize, Arbitraries.of(true, false),
                Arbitraries.of(1, 2, 4, 8), Arbitraries.of(true, false), gap)
                .as((ram, rs, is, big, im, v8, g) -> new Leaf(g, ram ? rs : is, ram, big, im, v8));
        return leaf.list().ofMinSize(1).ofMaxSize(8);
    }

    /** Lays leaves out at increasing addresses, the gap field giving the distance from the previous end. */
    private static List<Leaf> place(List<Leaf> raw, boolean top) {
        List<Leaf> out = new ArrayList<>();
        long at = top ? 0 : 0x10000;
        long total = 0;
        for (Leaf l : raw) {
            total += l.start() + l.size();
        }
        if (top) {
            at = -total - 8; // the layout ends just below 2^64
        }
        for (Leaf l : raw) {
            at += l.start();
            out.add(new Leaf(at, l.size(), l.ram(), l.bigEndian(), l.implMax(), l.validMax8()));
            at += l.size();
        }
        return out;
    }

    /** A device that behaves like memory: bytes stored in its own array in its byte order. */
    private static MemoryRegionOps memoryLike(byte[] store, boolean big, int implMax, boolean validMax8) {
        return MemoryRegionOps.builder()
                .read((addr, size) -> {
                    long v = 0;
                    for (int k = 0; k < size; k++) {
                        long a = addr + k;
                        long b = a >= 0 && a < store.length ? store[(int) a] & 0xFF : 0;
                        v |= b << (8 * (big ? size - 1 - k : k));
                    }
                    return v;
                })
                .write((addr, data, size) -> {
                    for (int k = 0; k < size; k++) {
                        long a = addr + k;
                        if (a >= 0 && a < store.length) {
                            store[(int) a] = (byte) (data >>> (8 * (big ? size - 1 - k : k)));
                        }
                    }
                })
                .endianness(big ? Endianness.BIG : Endianness.LITTLE)
                .valid(1, validMax8 ? 8 : 0, true)
                .impl(1, implMax, false)
                .build();
    }

    /** The model of guest memory. */
    private static final class Model {
        final List<Leaf> leaves;
        final List<byte[]> bytes = new ArrayList<>();

        Model(List<Leaf> leaves) {
            this.leaves = leaves;
            for (Leaf l : leaves) {
                bytes.add(new byte[l.size()]);
            }
        }

        int find(long a) {
            for (int i = 0; i < leaves.size(); i++) {
                Leaf l = leaves.get(i);
                if (Long.compareUnsigned(a - l.start(), l.size()) < 0) {
                    return i;
                }
            }
            return -1;
        }

        /** The dispatch section piece of a RAM leaf that holds {@code a}: [first, last]. */
        static long[] piece(Leaf l, long a) {
            long s = l.start();
            long last = s + l.size() - 1;
            long firstPageEnd = s | 0xFFF;
            if ((s & 0xFFF) != 0 && Long.compareUnsigned(a, firstPageEnd) <= 0) {
                return new long[] {s, Long.compareUnsigned(firstPageEnd, last) < 0 ? firstPageEnd : last};
            }
            long wholeStart = (s & 0xFFF) != 0 ? firstPageEnd + 1 : s;
            long wholeEnd = ((last + 1) & ~0xFFFL) - 1; // last byte of the last whole page
            if (Long.compareUnsigned(a, wholeEnd) <= 0 && Long.compareUnsigned(wholeStart, wholeEnd) < 0) {
                return new long[] {wholeStart, wholeEnd};
            }
            return new long[] {(last & ~0xFFFL) > s ? last & ~0xFFFL : s, last};
        }

        long byteAt(int leaf, long off) {
            byte[] b = bytes.get(leaf);
            return off >= 0 && off < b.length ? b[(int) off] & 0xFF : 0;
        }

        /** Returns {value, result}. */
        long[] load(long a, int n, boolean big) {
            if (Long.compareUnsigned(a, -n) > 0) {
                return new long[] {0, MemTxResult.DECODE_ERROR};
            }
            int i = find(a);
            if (i < 0) {
                return new long[] {0, MemTxResult.DECODE_ERROR};
            }
            Leaf l = leaves.get(i);
            if (l.ram()) {
                long[] p = piece(l, a);
                if (Long.compareUnsigned(a + n - 1, p[1]) > 0) {
                    return new long[] {0, MemTxResult.DECODE_ERROR};
                }
            }
            long v = 0;
            for (int k = 0; k < n; k++) {
                v |= byteAt(i, a - l.start() + k) << (8 * (big ? n - 1 - k : k));
            }
            return new long[] {v, MemTxResult.OK};
        }

        int store(long a, int n, boolean big, long v) {
            if (Long.compareUnsigned(a, -n) > 0) {
                return MemTxResult.DECODE_ERROR;
            }
            int i = find(a);
            if (i < 0) {
                return MemTxResult.DECODE_ERROR;
            }
            Leaf l = leaves.get(i);
            if (l.ram() && Long.compareUnsigned(a + n - 1, piece(l, a)[1]) > 0) {
                return MemTxResult.DECODE_ERROR;
            }
            byte[] b = bytes.get(i);
            for (int k = 0; k < n; k++) {
                long off = a - l.start() + k;
                if (off < b.length) {
                    b[(int) off] = (byte) (v >>> (8 * (big ? n - 1 - k : k)));
                }
            }
            return MemTxResult.OK;
        }
    }

    @Property
    void accessesMatchTheModel(@ForAll("layouts") List<Leaf> raw, @ForAll boolean top, @ForAll long seed) {
        List<Leaf> leaves = place(raw, top);
        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
        // two nested containers: leaves with odd index live in "sub", placed at the first leaf's page
        long subBase = leaves.getFirst().start() & ~0xFFFL;
        ContainerRegion sub = new ContainerRegion(sys, null, "sub", -subBase == 0 ? -1L : -subBase);
        root.addSubregion(subBase, sub);
        List<RamBlock> blocks = new ArrayList<>();
        for (int i = 0; i < leaves.size(); i++) {
            Leaf l = leaves.get(i);
            MemoryRegion mr;
            if (l.ram()) {
                RamBlock b = RamBlock.anonymous("ram" + i, l.size());
                blocks.add(b);
                mr = new RamRegion(sys, null, "ram" + i, b, false, false);
            } else {
                mr = new IoRegion(sys, "dev" + i, memoryLike(new byte[l.size()], l.bigEndian(), l.implMax(),
                        l.validMax8()), "io" + i, l.size());
            }
            if (i % 2 == 1) {
                sub.addSubregion(l.start() - subBase, mr);
            } else {
                root.addSubregion(l.start(), mr);
            }
        }
        AddressSpace as = sys.addressSpace(root, "memory");
        Model m = new Model(leaves);
        Random rnd = new Random(seed);
        MemTxResultHolder res = new MemTxResultHolder();
        try {
            for (int op = 0; op < 400; op++) {
                Leaf l = leaves.get(rnd.nextInt(leaves.size()));
                long a = l.start() + rnd.nextInt(l.size() + 16) - 8;
                int n = 1 << rnd.nextInt(4);
                boolean big = rnd.nextBoolean();
                String where = "op " + op + " at 0x" + Long.toHexString(a) + " size " + n + (big ? " BE" : " LE");
                switch (rnd.nextInt(4)) {
                    case 0 -> {
                        long v = rnd.nextLong() & (n == 8 ? -1L : (1L << (8 * n)) - 1);
                        assertEquals(m.store(a, n, big, v), store(as, a, n, big, v), where);
                    }
                    case 1 -> {
                        long[] want = m.load(a, n, big);
                        long got = load(as, a, n, big, res);
                        assertEquals(MemTxResult.toString((int) want[1]), MemTxResult.toString(res.get()), where);
                        assertEquals(Long.toHexString(want[0]), Long.toHexString(got), where);
                    }
                    case 2 -> {
                        int len = 1 + rnd.nextInt(64);
                        byte[] buf = new byte[len];
                        rnd.nextBytes(buf);
                        int r = as.write(a, MemTxAttrs.UNSPECIFIED, buf, 0, len);
                        if (Long.compareUnsigned(len - 1, -1L - a) > 0) {
                            // a write whose end wraps past 2^64 is refused whole
                            assertEquals(MemTxResult.DECODE_ERROR, r, "wrapping write " + where);
                            continue;
                        }
                        int want = MemTxResult.OK;
                        for (int k = 0; k < len; k++) {
                            int i = m.find(a + k);
                            if (i < 0) {
                                want = MemTxResult.DECODE_ERROR;
                            } else {
                                m.bytes.get(i)[(int) (a + k - leaves.get(i).start())] = buf[k];
                            }
                        }
                        assertEquals(MemTxResult.toString(want), MemTxResult.toString(r), "write " + where);
                    }
                    default -> {
                        int len = 1 + rnd.nextInt(64);
                        if (Long.compareUnsigned(len - 1, -1L - a) > 0) {
                            continue;
                        }
                        byte[] buf = new byte[len];
                        int r = as.read(a, MemTxAttrs.UNSPECIFIED, buf, 0, len);
                        int want = MemTxResult.OK;
                        for (int k = 0; k < len; k++) {
                            int i = m.find(a + k);
                            long expect = i < 0 ? 0 : m.byteAt(i, a + k - leaves.get(i).start());
                            want |= i < 0 ? MemTxResult.DECODE_ERROR : 0;
                            assertEquals(expect, buf[k] & 0xFF, "read byte " + k + " " + where);
                        }
                        assertEquals(MemTxResult.toString(want), MemTxResult.toString(r), "read " + where);
                    }
                }
            }
        } finally {
            for (RamBlock b : blocks) {
                b.close();
            }
        }
    }

    private static long load(AddressSpace as, long a, int n, boolean big, MemTxResultHolder r) {
        MemTxAttrs u = MemTxAttrs.UNSPECIFIED;
        return switch (n) {
            case 1 -> as.ldub(a, u, r);
            case 2 -> big ? as.lduwBe(a, u, r) : as.lduwLe(a, u, r);
            case 4 -> Integer.toUnsignedLong(big ? as.ldlBe(a, u, r) : as.ldlLe(a, u, r));
            default -> big ? as.ldqBe(a, u, r) : as.ldqLe(a, u, r);
        };
    }

    private static int store(AddressSpace as, long a, int n, boolean big, long v) {
        MemTxAttrs u = MemTxAttrs.UNSPECIFIED;
        return switch (n) {
            case 1 -> as.stb(a, (int) v, u);
            case 2 -> big ? as.stwBe(a, (int) v, u) : as.stwLe(a, (int) v, u);
            case 4 -> big ? as.stlBe(a, (int) v, u) : as.stlLe(a, (int) v, u);
            default -> big ? as.stqBe(a, v, u) : as.stqLe(a, v, u);
        };
    }
}
