package dev.guestmem.scenario12;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A big-endian vCPU on a little-endian host with the guide's soft TLB (entry form). Who swaps: on a
 * hit the CPU itself, by reading the host segment through big-endian layouts (a JIT would emit a load
 * and a {@code bswap}); on a miss the address space, by the accessor's order ({@code ldlBe}; the
 * target's order is big, so {@code as.ldl} would do too), and for MMIO the engine's
 * {@code adjust_endianness} against the device's order. Byte-reversed instructions ({@code lwbrx},
 * {@code sthbrx}: {@code le = true}) read the same entries little-endian. {@code TLB_MMIO} pages (and
 * ROM devices out of ROMD mode) are not direct; {@code TLB_DISCARD_WRITE} stores are dropped.
 * Accesses here are at most 8 bytes and never cross a page (the scenario keeps them aligned on pages
 * that matter, as a real CPU splits a crossing access).
 */
final class BeCpu {
    private static final int BITS = 6;
    private static final long PAGE_MASK = ~(GuestTlb.PAGE_SIZE - 1);
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong BE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfShort LE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final AddressSpace as;
    private final TlbEntry[] entries = new TlbEntry[1 << BITS];
    private final MemTxResultHolder res = new MemTxResultHolder();
    /** The last access's result: OK on a hit, the address space's answer on a miss. */
    int lastResult;
    long directLoads;
    long directStores;
    long slowAccesses;
    long fills;

    BeCpu(AddressSpace as) {
        this.as = as;
        for (int i = 0; i < entries.length; i++) {
            entries[i] = new TlbEntry();
        }
    }

    private TlbEntry lookup(long addr) {
        TlbEntry e = entries[(int) (addr >>> 12) & ((1 << BITS) - 1)];
        if (e.pageAddr() != (addr & PAGE_MASK) || e.generation() != as.generation()) {
            GuestTlb.fill(as, addr, e);
            fills++;
        }
        return e;
    }

    private static boolean inPage(long addr, int size) {
        return (addr & ~PAGE_MASK) + size <= GuestTlb.PAGE_SIZE;
    }

    /** A load of {@code size} bytes, big-endian unless {@code le}; zero-extended. */
    long load(long addr, int size, boolean le) {
        TlbEntry e = lookup(addr);
        if (e.readDirect() && inPage(addr, size)) {
            MemorySegment s = e.segment();
            long off = e.hostOffset() + (addr & ~PAGE_MASK);
            try {
                long v = switch (size) {
                    case 1 -> Byte.toUnsignedLong(s.get(ValueLayout.JAVA_BYTE, off));
                    case 2 -> Short.toUnsignedLong(s.get(le ? LE16 : BE16, off));
                    case 4 -> Integer.toUnsignedLong(s.get(le ? LE32 : BE32, off));
                    default -> s.get(le ? LE64 : BE64, off);
                };
                directLoads++;
                lastResult = MemTxResult.OK;
                return v;
            } catch (IllegalStateException | InternalError gone) {
                // released or SIGBUS after the generation check: the slow path decides
            }
        }
        slowAccesses++;
        MemTxAttrs u = MemTxAttrs.UNSPECIFIED;
        long v = switch (size) {
            case 1 -> as.ldub(addr, u, res);
            case 2 -> le ? as.lduwLe(addr, u, res) : as.lduwBe(addr, u, res);
            case 4 -> Integer.toUnsignedLong(le ? as.ldlLe(addr, u, res) : as.ldlBe(addr, u, res));
            default -> le ? as.ldqLe(addr, u, res) : as.ldqBe(addr, u, res);
        };
        lastResult = res.get();
        return v;
    }

    /** A store of the low {@code size} bytes of {@code v}, big-endian unless {@code le}. */
    void store(long addr, int size, long v, boolean le) {
        TlbEntry e = lookup(addr);
        if ((e.flags() & GuestTlb.TLB_DISCARD_WRITE) != 0) {
            lastResult = MemTxResult.OK; // ROM: TCG drops the store
            return;
        }
        if (e.writeDirect() && inPage(addr, size)) {
            MemorySegment s = e.segment();
            long off = e.hostOffset() + (addr & ~PAGE_MASK);
            try {
                switch (size) {
                    case 1 -> s.set(ValueLayout.JAVA_BYTE, off, (byte) v);
                    case 2 -> s.set(le ? LE16 : BE16, off, (short) v);
                    case 4 -> s.set(le ? LE32 : BE32, off, (int) v);
                    default -> s.set(le ? LE64 : BE64, off, v);
                }
                directStores++;
                lastResult = MemTxResult.OK;
                return;
            } catch (IllegalStateException | InternalError gone) {
                // fall through
            }
        }
        slowAccesses++;
        lastResult = switch (size) {
            case 1 -> as.stb(addr, (int) v);
            case 2 -> le ? as.stwLe(addr, (int) v) : as.stwBe(addr, (int) v);
            case 4 -> le ? as.stlLe(addr, (int) v) : as.stlBe(addr, (int) v);
            default -> le ? as.stqLe(addr, v) : as.stqBe(addr, v);
        };
    }
}
