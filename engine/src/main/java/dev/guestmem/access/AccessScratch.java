package dev.guestmem.access;

import dev.guestmem.dispatch.Translation;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.MmioValue;
import java.util.Arrays;

/**
 * Per-thread scratch objects of the slow access paths, one set per nesting depth: an MMIO callback
 * that itself accesses memory gets a fresh set, so the outer access's holders are not clobbered.
 *
 * <p><b>Thread safety.</b> Confined to its thread (held in a {@link ThreadLocal}).
 */
final class AccessScratch {
    private static final ThreadLocal<Pool> POOL = ThreadLocal.withInitial(Pool::new);

    final Translation t = new Translation();
    final MmioValue v = new MmioValue();
    final IommuTlbEntry e = new IommuTlbEntry();
    final byte[] fill = new byte[512];
    private final Pool pool;

    private AccessScratch(Pool pool) {
        this.pool = pool;
    }

    /** One thread's stack of scratch sets. */
    private static final class Pool {
        AccessScratch[] sets = new AccessScratch[4];
        int depth;
    }

    /**
     * Takes the scratch set of the next depth; pair with {@link #release()} in a finally block.
     *
     * @return a set no outer access of this thread is using
     */
    static AccessScratch acquire() {
        Pool p = POOL.get();
        int i = p.depth;
        if (i == p.sets.length) {
            p.sets = Arrays.copyOf(p.sets, i * 2);
        }
        AccessScratch s = p.sets[i];
        if (s == null) {
            s = new AccessScratch(p);
            p.sets[i] = s;
        }
        p.depth = i + 1;
        return s;
    }

    void release() {
        pool.depth--;
    }
}
