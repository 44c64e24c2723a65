package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.flat.FlatView;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.testing.RenderOracle;
import dev.guestmem.testing.RenderOracle.Served;

/**
 * The {@link MemoryRegionCache} oracle: what the guide and the class promise of a cache across
 * later calls. It "translates once and pins that view (a later topology change does not move it;
 * {@code init} again)": a cache made on RAM (for writing) or RAM, ROM or a ROMD-mode ROM device (for
 * reading) is direct and keeps reading and writing the block and offset the oracle named at
 * {@code init}, whatever moves, is destroyed or is closed since (it holds the block: never
 * released while held); one made on a device keeps calling that device; stores of a write cache
 * reach the dirty bitmaps only by {@code invalidate}, those of a read cache at once; offsets past
 * the cached length, and every access after {@code destroy}, throw
 * {@link IndexOutOfBoundsException}; {@code invalidate} of a read cache throws
 * {@link IllegalStateException}. A cache made inside a transaction (the published view lags the
 * tree) or through an IOMMU is only read, and only its not throwing is checked.
 */
final class CacheCheck {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    static final long[] LENGTHS = {1, 2, 4, 8, 0x10, 0x100, 0x1000, 0x2000};

    /** What a cache holds, as the oracle saw it at {@code init}. */
    static final class Kept {
        final MemoryRegionCache cache = new MemoryRegionCache();
        /** The length {@code init} returned (0: empty or destroyed). */
        long len;
        /** Made for writing ({@code destroy} keeps it, as the cache does). */
        boolean write;
        /** What the first byte was at init; null when unknown (inside a transaction, through an IOMMU). */
        AccessCheck.Kind kind;
        /** For the RAM kinds: the block and the offset of byte 0. */
        RamBlock block;
        long offset;

        /** @return whether stores and loads of byte offsets land in {@link #block} (RAM model) */
        boolean inRam() {
            return block != null;
        }
    }

    private CacheCheck() {
    }

    static String init(FuzzMachine m, FuzzOp.CacheInit c) {
        Kept k = m.caches[c.cache() % m.caches.length];
        AddressSpace as = m.space(c.space());
        long addr = m.nearCode(c.point(), c.delta(), AccessCheck.mappedPoint(as, c.point(), c.delta()));
        long want = LENGTHS[c.len() % LENGTHS.length];
        String where = FuzzStep.where(m) + " at 0x" + Long.toHexString(addr);
        boolean atRest = m.sys.transactionDepth() == 0;
        MemoryRegion key = AccessCheck.key(m, as);
        FlatView view = as.currentMap();
        long got = k.cache.init(as, addr, want, c.write());
        assertEquals(got, k.cache.length(), where + ": init's answer is length()");
        assertTrue(Long.compareUnsigned(got, want) <= 0, where + ": init gave more than asked");
        k.len = got;
        k.write = c.write();
        k.kind = null;
        k.block = null;
        if (!atRest) {
            return "in a transaction";
        }
        AccessCheck.Expect x = AccessCheck.classify(m, key, view, addr);
        if (x.viaIommu()) {
            assertFalse(k.cache.isDirect(), where + ": a cache does not follow an IOMMU");
            return "iommu";
        }
        k.kind = x.kind();
        boolean direct = switch (x.kind()) {
            case RAM -> true;
            case ROM, ROMD -> !c.write();
            default -> false;
        };
        assertEquals(direct, k.cache.isDirect(), where + ": isDirect() of a cache on " + x.kind()
                + (c.write() ? " for writing" : " for reading"));
        if (x.kind() == AccessCheck.Kind.RAM || x.kind() == AccessCheck.Kind.ROM || x.kind() == AccessCheck.Kind.ROMD) {
            k.block = x.block();
            k.offset = x.offset();
            if (direct) {
                assertTrue(got >= 1 && Long.compareUnsigned(x.offset() + got, x.block().usedLength()) <= 0,
                        where + ": a direct cache of 0x" + Long.toHexString(got) + " bytes from block offset 0x"
                                + Long.toHexString(x.offset()) + " runs past the block");
                // every byte it covers is the same region's, at consecutive offsets (the oracle's word)
                Served first = RenderOracle.serve(key, addr);
                Served lastByte = RenderOracle.serve(key, addr + got - 1);
                if (lastByte == null || lastByte.region() != first.region()
                        || lastByte.offset() - first.offset() != got - 1) {
                    fail(where + ": the cache covers 0x" + Long.toHexString(got) + " bytes, but the oracle serves its"
                            + " last byte with " + lastByte + " (its first: " + first + ")");
                }
            }
        }
        return (direct ? "direct " : "") + x.kind();
    }

    static String access(FuzzMachine m, FuzzOp.CacheAccess a) {
        // seven in eight: a cache with bytes, if one has (else any, empty or destroyed ones too)
        var held = java.util.Arrays.stream(m.caches).filter(c -> c.len != 0).toList();
        Kept k = a.cache() % 8 == 7 || held.isEmpty() ? m.caches[a.cache() % m.caches.length]
                : held.get((a.cache() / 8) % held.size());
        int kind = a.kind() % 4;
        boolean store = kind % 2 == 1;
        if (store && k.kind == null) {
            kind &= ~1; // unknown: reads only (a store could land where the model cannot see)
            store = false;
        }
        int n = kind < 2 ? 1 << (a.size() % 4) : 1 + a.size() % 32;
        if (a.offset() % 8 != 7 && k.len > 0 && Long.compareUnsigned(n, k.len) > 0) {
            n = Integer.highestOneBit((int) k.len); // fits: seven in eight accesses are inside
        }
        boolean outside = a.offset() % 8 == 7 || Long.compareUnsigned(n, k.len) > 0;
        long off = outside ? k.len - n + 1 + a.offset() % 5 : (a.offset() * 0x9e37L) % (k.len - n + 1);
        String where = FuzzStep.where(m) + " off 0x" + Long.toHexString(off) + " size " + n;
        if (outside) {
            final int kd = kind;
            final long o = off;
            final int size = n;
            assertThrows(IndexOutOfBoundsException.class, () -> run(k, kd, o, size, a.data(), new byte[size]),
                    where + ": outside the cache's 0x" + Long.toHexString(k.len) + " bytes");
            return "outside";
        }
        byte[] buf = new byte[n];
        new java.util.Random(a.data()).nextBytes(buf);
        byte[] sent = buf.clone();
        long[] got;
        try {
            got = run(k, kind, off, n, a.data(), buf);
        } catch (RuntimeException e) {
            throw new AssertionError(where + ": a cache access threw " + e, e);
        }
        if (k.kind == null) {
            return "unknown";
        }
        long value = n == 8 || kind >= 2 ? a.data() : a.data() & ((1L << (8 * n)) - 1);
        if (k.inRam()) {
            boolean writesRam = store && k.kind == AccessCheck.Kind.RAM; // ROM and ROMD stores go to their ops
            // a write cache over ROM grown past its block (not direct, not clamped to the block):
            // bytes past it read 0 with DECODE_ERROR, a whole load 0, as through the address space
            // (a direct cache keeps its pointer: a ramResize that shrank the block since does not move it)
            boolean past = !k.cache.isDirect() && Long.compareUnsigned(k.offset + off + n, k.block.usedLength()) > 0;
            if (past && !store) {
                assertEquals(MemTxResult.toString(MemTxResult.DECODE_ERROR), MemTxResult.toString((int) got[1]),
                        where + " past the block");
                for (int j = 0; j < n; j++) {
                    long o = k.offset + off + j;
                    int want = kind == 0 || Long.compareUnsigned(o, k.block.usedLength()) >= 0 ? 0 : m.ram.get(k.block, o);
                    int have = kind == 0 ? (int) (got[0] >>> (8 * j)) & 0xff : buf[j] & 0xff;
                    assertEquals(want, have, where + ": byte " + j + " read through the cache, past the block");
                }
                return "load past the block";
            }
            for (int j = 0; j < n; j++) {
                long o = k.offset + off + j;
                if (writesRam) {
                    byte b = kind == 1 ? (byte) (value >>> (8 * j)) : sent[j];
                    if (k.write) {
                        m.wroteUnlogged(k.block, o, b); // logged by invalidate only
                    } else {
                        m.wrote(k.block, o, b);
                    }
                } else if (!store) {
                    int want = m.ram.get(k.block, o);
                    int have = kind == 0 ? (int) (got[0] >>> (8 * j)) & 0xff : buf[j] & 0xff;
                    assertEquals(want, have, where + ": byte " + j + " read through the cache");
                }
            }
            if (!store || writesRam) {
                assertEquals(MemTxResult.toString(MemTxResult.OK), MemTxResult.toString((int) got[1]), where);
            }
        } else if (k.kind == AccessCheck.Kind.DEVICE) {
            assertEquals(MemTxResult.toString(MemTxResult.OK), MemTxResult.toString((int) got[1]), where + " on a device");
            for (int j = 0; j < n && !store; j++) {
                int have = kind == 0 ? (int) (got[0] >>> (8 * j)) & 0xff : buf[j] & 0xff;
                assertEquals(FuzzMachine.DEVICE_BYTE, have, where + ": device byte " + j);
            }
        } else if (k.kind == AccessCheck.Kind.UNASSIGNED && kind < 2) {
            assertEquals(MemTxResult.toString(MemTxResult.DECODE_ERROR), MemTxResult.toString((int) got[1]),
                    where + " on nothing");
            assertEquals(0, got[0], where + " on nothing");
        }
        return (store ? "store " : "load ") + k.kind;
    }

    /** Makes the access (little-endian ld/st; buffers into or from {@code buf}); returns {value, result}. */
    private static long[] run(Kept k, int kind, long off, int n, long data, byte[] buf) {
        MemoryRegionCache c = k.cache;
        MemTxResultHolder res = new MemTxResultHolder();
        return switch (kind) {
            case 0 -> {
                long v = switch (n) {
                    case 1 -> c.ldub(off, U, res);
                    case 2 -> c.lduwLe(off, U, res);
                    case 4 -> Integer.toUnsignedLong(c.ldlLe(off, U, res));
                    default -> c.ldqLe(off, U, res);
                };
                yield new long[] {v, res.get()};
            }
            case 1 -> new long[] {0, switch (n) {
                case 1 -> c.stb(off, (int) data, U);
                case 2 -> c.stwLe(off, (int) data, U);
                case 4 -> c.stlLe(off, (int) data, U);
                default -> c.stqLe(off, data, U);
            }};
            case 2 -> new long[] {0, c.read(off, buf, 0, n)};
            default -> new long[] {0, c.write(off, buf, 0, n)};
        };
    }

    static String end(FuzzMachine m, FuzzOp.CacheEnd e) {
        Kept k = m.caches[e.cache() % m.caches.length];
        String where = FuzzStep.where(m);
        if (!e.invalidate()) {
            k.cache.destroy();
            k.len = 0;
            k.kind = null;
            k.block = null;
            assertEquals(0, k.cache.length(), where + ": a destroyed cache has no bytes");
            return "destroy";
        }
        long n = e.size() % 3 == 0 ? k.len : 1 + e.size() % 16;
        long off = k.len == 0 ? e.offset() % 3 : (e.offset() * 0x9e37L) % k.len;
        boolean inside = Long.compareUnsigned(off, k.len) <= 0 && Long.compareUnsigned(n, k.len - off) <= 0;
        if (!k.write) {
            assertThrows(IllegalStateException.class, () -> k.cache.invalidate(off, n),
                    where + ": invalidate of a cache made for reading");
            return "invalidate refused";
        }
        if (!inside) {
            assertThrows(IndexOutOfBoundsException.class, () -> k.cache.invalidate(off, n),
                    where + ": invalidate outside the cache's 0x" + Long.toHexString(k.len) + " bytes");
            return "invalidate outside";
        }
        k.cache.invalidate(off, n);
        if (k.kind == null && n > 0) {
            m.dirty.forgetClean(); // it may mark pages of any block dirty
        }
        if (k.inRam() && k.kind == AccessCheck.Kind.RAM && n > 0) {
            m.dirty.wrote(k.block, k.offset + off, n, m.logMask(k.block));
        }
        return "invalidate";
    }

    /**
     * After every call: the block a cache copies (direct, or a write cache's reads of ROM or a ROM
     * device) stays mapped while the cache holds it.
     *
     * @param m the machine
     */
    static void check(FuzzMachine m) {
        for (Kept k : m.caches) {
            if (k.inRam()) {
                assertFalse(k.block.isReleased(), () -> FuzzStep.where(m) + ": block '" + k.block.idstr()
                        + "' released while a cache holds it");
            }
        }
    }
}
