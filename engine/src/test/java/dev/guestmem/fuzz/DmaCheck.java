package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.region.HostRegionLocation;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.flat.FlatView;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The DMA oracle (guide, section 6 and "Release semantics"): {@code map} gives RAM directly (for
 * reading also ROM and a ROMD-mode ROM device), the slice of the block at the offset the oracle
 * names, and everything else a bounce buffer within the space's limit, whose read prefill is what
 * {@code read} of the same range gives; {@code null} only past a RAM block or when no bounce space
 * is left. A direct mapping holds its block: it stays mapped, and bytes written into it land in
 * RAM, whatever happens to the topology, the region or the machine; {@code unmap(n)} of a write
 * mapping marks its first n bytes dirty for the clients its region logs then, or writes a bounce
 * buffer's back through the space's current view (modelled as {@code write}); a second
 * {@code unmap} is refused and changes nothing. After every call each space's bounce bytes and live
 * mappings are those of the mappings held, and a map client runs once: at once when space is
 * free, else at the next bounce unmap of its space (never at a direct one).
 */
final class DmaCheck {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    static final long[] LENGTHS = {1, 4, 0x10, 0x100, 0x800, 0x1000, 0x1800, 0x3000};
    static final long[] LIMITS = {0, 0x10, 0x1000, 0x3000, AddressSpace.DEFAULT_MAX_BOUNCE_BUFFER_SIZE};
    /** Most mappings held at a time. */
    static final int MAX_LIVE = 6;

    /** A mapping the fuzzer holds. */
    static final class Kept {
        final AddressSpace as;
        final DmaMapping map;
        final boolean write;
        /** For a direct mapping: the block it holds and the offset of its byte 0. */
        final RamBlock block;
        final long offset;
        boolean unmapped;

        Kept(AddressSpace as, DmaMapping map, boolean write, RamBlock block, long offset) {
            this.as = as;
            this.map = map;
            this.write = write;
            this.block = block;
            this.offset = offset;
        }
    }

    /** A registered map client and how often it ran. */
    static final class Client implements Runnable {
        final AddressSpace as;
        int runs;

        Client(AddressSpace as) {
            this.as = as;
        }

        @Override
        public void run() {
            runs++;
        }
    }

    private DmaCheck() {
    }

    private static long live(FuzzMachine m) {
        return m.mappings.stream().filter(k -> !k.unmapped).count();
    }

    static String map(FuzzMachine m, FuzzOp.DmaMap d) {
        if (live(m) >= MAX_LIVE) {
            return "enough held";
        }
        AddressSpace as = m.space(d.space());
        long addr = m.nearCode(d.point(), d.delta(), AccessCheck.mappedPoint(as, d.point(), d.delta()));
        long len = LENGTHS[d.len() % LENGTHS.length];
        String where = FuzzStep.where(m) + " at 0x" + Long.toHexString(addr) + " len 0x" + Long.toHexString(len);
        boolean atRest = m.sys.transactionDepth() == 0;
        MemoryRegion key = AccessCheck.key(m, as);
        FlatView view = as.currentMap();
        long before = as.bounceBufferSize();
        long max = as.maxBounceBufferSize();
        DmaMapping map = as.map(addr, len, d.write(), U);
        AccessCheck.Expect x = atRest ? AccessCheck.classify(m, key, view, addr) : null;
        boolean direct = x != null && switch (x.kind()) {
            case RAM -> true;
            case ROM, ROMD -> !d.write();
            default -> false;
        };
        boolean bounce = x != null && switch (x.kind()) {
            case UNASSIGNED, DEVICE -> true;
            case ROM, ROMD, ROMD_PAST -> d.write();
            default -> false;
        };
        if (map == null) {
            if (direct || bounce && before < max) {
                fail(where + ": map gave nothing, the oracle says " + x + " (bounce bytes 0x"
                        + Long.toHexString(before) + " of 0x" + Long.toHexString(max) + ")");
            }
            assertEquals(before, as.bounceBufferSize(), where + ": a refused map reserved bounce space");
            return "null";
        }
        long n = map.length();
        assertTrue(n > 0 && Long.compareUnsigned(n, len) <= 0, where + ": mapped 0x" + Long.toHexString(n));
        RamBlock block = null;
        long offset = 0;
        if (map.isBounce()) {
            assertFalse(direct, where + ": a bounce buffer where the oracle says " + x);
            assertTrue(Long.compareUnsigned(n, max - before) <= 0, where + ": a bounce grant past the limit");
            assertEquals(before + n, as.bounceBufferSize(), where + ": bounce bytes reserved");
            if (!d.write() && atRest && n <= 0x1000) {
                // the prefill is a read of the view it was decided on: the one published now
                byte[] want = new byte[(int) n];
                int r = as.read(addr, U, want, 0, (int) n);
                assertArrayEquals(want, map.segment().toArray(ValueLayout.JAVA_BYTE), where + ": the read prefill");
                assertEquals(MemTxResult.toString(r), MemTxResult.toString(map.prefillResult()), where + ": prefill result");
            }
        } else {
            assertFalse(bounce, where + ": a direct mapping where the oracle says " + x);
            HostRegionLocation loc = m.sys.regionFromHost(map.segment());
            assertNotNull(loc, where + ": a direct mapping of no region's block");
            block = loc.region().ramBlock();
            offset = loc.offset();
            if (x != null) {
                assertTrue(direct, where + ": a direct mapping where the oracle says " + x);
                assertEquals(x.block().idstr(), block.idstr(), where + ": the block mapped");
                assertEquals(Long.toHexString(x.offset()), Long.toHexString(offset), where + ": the offset mapped");
                // at rest only: inside a transaction the published view may still show a block
                // ramResize shrank (its reservation stays mapped; QEMU clamps to max_length too)
                assertTrue(Long.compareUnsigned(offset + n, block.usedLength()) <= 0, where + ": mapped past the block");
            }
            for (int j = 0; j < Math.min(n, 64); j++) {
                assertEquals(m.ram.get(block, offset + j), map.segment().get(ValueLayout.JAVA_BYTE, j) & 0xff,
                        where + ": byte " + j + " of the mapping");
            }
        }
        m.mappings.add(new Kept(as, map, d.write(), block, offset));
        return map.isBounce() ? "bounce" : "direct";
    }

    static String use(FuzzMachine m, FuzzOp.DmaUse u) {
        var writable = m.mappings.stream().filter(k -> !k.unmapped && k.write).toList();
        if (writable.isEmpty()) {
            return "none held";
        }
        Kept k = writable.get(u.mapping() % writable.size());
        long len = k.map.length();
        long off = (u.offset() * 0x9e37L) % len;
        int n = (int) Math.min(1 + u.len() % 64, len - off);
        byte[] bytes = new byte[n];
        new java.util.Random(u.seed()).nextBytes(bytes);
        try {
            MemorySegment.copy(bytes, 0, k.map.segment(), ValueLayout.JAVA_BYTE, off, n);
        } catch (RuntimeException e) {
            throw new AssertionError(FuzzStep.where(m) + ": a write into a held mapping threw " + e, e);
        }
        if (k.block != null) {
            for (int j = 0; j < n; j++) {
                m.wroteUnlogged(k.block, k.offset + off + j, bytes[j]); // logged by the unmap
            }
        }
        return k.block != null ? "direct" : "bounce";
    }

    static String unmap(FuzzMachine m, FuzzOp.DmaUnmap u) {
        if (m.mappings.isEmpty()) {
            return "none held";
        }
        Kept k = m.mappings.get(u.mapping() % m.mappings.size());
        String where = FuzzStep.where(m) + " of 0x" + Long.toHexString(k.map.addr());
        long len = k.map.length();
        long n = switch (u.how() % 4) {
            case 0 -> 0;
            case 1 -> len;
            case 2 -> len / 2;
            default -> 1;
        };
        long bounceBefore = k.as.bounceBufferSize();
        if (k.unmapped) {
            long asked = n;
            assertThrows(IllegalStateException.class, () -> k.map.unmap(asked), where + ": a second unmap");
            assertEquals(bounceBefore, k.as.bounceBufferSize(), where + ": a refused unmap freed bounce space");
            return "second unmap";
        }
        boolean atRest = m.sys.transactionDepth() == 0;
        if (k.map.isBounce() && k.write && n > 0 && !atRest) {
            n = 0; // the write-back goes to the published view, which lags the tree: not modelled
        }
        final long accessLen = n;
        var waiting = m.mapClients.stream().filter(c -> c.as == k.as && c.runs == 0).toList();
        k.unmapped = true;
        if (k.map.isBounce() && k.write && n > 0) {
            byte[] data = k.map.segment().asSlice(0, n).toArray(ValueLayout.JAVA_BYTE);
            AccessCheck.buffer(m, k.as, AccessCheck.key(m, k.as), k.map.addr(), data, true, b -> k.map.unmap(accessLen),
                    where + " write-back");
        } else {
            int r = k.map.unmap(n);
            assertEquals(MemTxResult.toString(MemTxResult.OK), MemTxResult.toString(r), where);
            if (k.block != null && k.write && n > 0) {
                m.dirty.wrote(k.block, k.offset, n, m.logMask(k.block));
            }
        }
        if (k.map.isBounce()) {
            assertEquals(bounceBefore - len, k.as.bounceBufferSize(), where + ": bounce bytes freed");
        }
        for (Client c : waiting) {
            assertEquals(k.map.isBounce() ? 1 : 0, c.runs, where + ": a map client waiting for space on '"
                    + k.as.name() + "' after a " + (k.map.isBounce() ? "bounce" : "direct") + " unmap");
        }
        return (k.map.isBounce() ? "bounce" : "direct") + (n > 0 && k.write ? " write" : "")
                + (waiting.isEmpty() ? "" : " with a client waiting");
    }

    static String client(FuzzMachine m, FuzzOp.DmaClient c) {
        AddressSpace as = m.space(c.space());
        if (c.call() % 2 == 1) {
            as.setMaxBounceBufferSize(LIMITS[c.limit() % LIMITS.length]);
            return "limit";
        }
        if (m.mapClients.size() >= 16) {
            return "enough clients";
        }
        boolean free = as.bounceBufferSize() < as.maxBounceBufferSize();
        Client client = new Client(as);
        m.mapClients.add(client);
        as.registerMapClient(client);
        assertEquals(free ? 1 : 0, client.runs, FuzzStep.where(m) + ": a map client registered with "
                + (free ? "" : "no ") + "space free");
        return free ? "client ran" : "client waits";
    }

    /**
     * After every call: the spaces' accounting matches the mappings held, each client ran at most
     * once, and every direct mapping's block is still mapped.
     *
     * @param m the machine
     */
    static void check(FuzzMachine m) {
        for (AddressSpace as : m.spaces) {
            long bounce = 0;
            long live = 0;
            for (Kept k : m.mappings) {
                if (k.as == as && !k.unmapped) {
                    live++;
                    bounce += k.map.isBounce() ? k.map.length() : 0;
                }
            }
            assertEquals(bounce, as.bounceBufferSize(), () -> FuzzStep.where(m) + ": bounce bytes of '" + as.name() + "'");
            assertEquals(live, as.liveMappings(), () -> FuzzStep.where(m) + ": live mappings of '" + as.name() + "'");
        }
        for (Client c : m.mapClients) {
            assertTrue(c.runs <= 1, () -> FuzzStep.where(m) + ": a map client ran " + c.runs + " times");
        }
        for (Kept k : m.mappings) {
            if (!k.unmapped && k.block != null) {
                assertFalse(k.block.isReleased(), () -> FuzzStep.where(m) + ": block '" + k.block.idstr()
                        + "' released under a mapping");
            }
        }
    }
}
