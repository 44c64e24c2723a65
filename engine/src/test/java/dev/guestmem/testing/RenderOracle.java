package dev.guestmem.testing;

import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.MemoryRegion;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;

/**
 * A naive per-address model of QEMU's {@code render_memory_region}: which terminal region, at which
 * offset, read-only or not, serves address A of a view rooted at some region. It walks the tree for
 * that one address with QEMU's rules restated per address: a disabled region serves nothing; an
 * address outside a region's range is not served by it; an alias forwards to its target at
 * {@code A - aliasStart + aliasOffset}; otherwise the first subregion in list order that serves A
 * wins; failing that, a terminating region serves A itself. Read-only is ORed along the path.
 * Shared by the flat-view oracle properties and the setup-API fuzzer.
 */
public final class RenderOracle {
    private static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);

    private RenderOracle() {
    }

    /**
     * What serves an address: region, offset in it, inherited read-only.
     *
     * @param region the terminal region
     * @param offset the offset in it
     * @param readonly whether a region on the path was read-only
     */
    public record Served(MemoryRegion region, long offset, boolean readonly) {
        @Override
        public String toString() {
            return region.name() + "@0x" + Long.toHexString(offset) + (readonly ? " ro" : "");
        }
    }

    /**
     * Walks the tree rooted at {@code key} (placed at address 0 of the view) for one address.
     *
     * @param key the view's root (its flat-view root), or null for the empty view
     * @param addr the guest address (unsigned)
     * @return what serves it, or null
     */
    public static Served serve(MemoryRegion key, long addr) {
        return key == null ? null : oracle(key, BigInteger.ZERO, u(addr), false, new ArrayList<>());
    }

    /**
     * @param size a region size, {@code -1L} for 2^64
     * @return the size as a number
     */
    public static BigInteger size128(long size) {
        return size == -1L ? TWO_64 : u(size);
    }

    /**
     * @param v an unsigned 64-bit value
     * @return it as a number
     */
    public static BigInteger u(long v) {
        return new BigInteger(Long.toUnsignedString(v));
    }

    /**
     * Most aliases followed on one path, as the renderer's bound ({@code FlatViewRenderer}): an alias
     * cycle a later change made nest deeper (QEMU would recurse until its stack ran out) is cut there.
     * The renderer's other bound, a budget of cyclic turns over a whole render, is not modelled.
     */
    private static final int MAX_ALIAS_DEPTH = 64;

    /**
     * {@code aliasPath} holds the aliases being followed, each with the base it puts its target at:
     * an alias met again at the same base (a cycle that does not shift, which QEMU would follow
     * until its stack ran out), or past {@link #MAX_ALIAS_DEPTH} aliases, serves nothing, as the
     * renderer stops there.
     */
    private static Served oracle(MemoryRegion mr, BigInteger parentBase, BigInteger addr, boolean readonly,
                                 List<Object> aliasPath) {
        if (!mr.isEnabled()) {
            return null;
        }
        BigInteger start = parentBase.add(u(mr.addr()));
        if (addr.compareTo(start) < 0 || addr.compareTo(start.add(size128(mr.size()))) >= 0) {
            return null;
        }
        readonly |= mr.isReadonly();
        if (mr instanceof AliasRegion a) {
            BigInteger targetStart = start.subtract(u(a.aliasOffset()));
            BigInteger base = targetStart.subtract(u(a.target().addr()));
            if (aliasPath.size() >= MAX_ALIAS_DEPTH * 2) {
                return null;
            }
            for (int i = 0; i < aliasPath.size(); i += 2) {
                if (aliasPath.get(i) == a && aliasPath.get(i + 1).equals(base)) {
                    return null;
                }
            }
            aliasPath.add(a);
            aliasPath.add(base);
            try {
                return oracle(a.target(), base, addr, readonly, aliasPath);
            } finally {
                aliasPath.removeLast();
                aliasPath.removeLast();
            }
        }
        for (MemoryRegion sub : mr.subregionList()) {
            Served s = oracle(sub, start, addr, readonly, aliasPath);
            if (s != null) {
                return s;
            }
        }
        if (mr.terminates()) {
            return new Served(mr, addr.subtract(start).longValue(), readonly);
        }
        return null;
    }
}
