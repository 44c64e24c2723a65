package dev.guestmem.iommu;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.ListenerList;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The JIT fast path's notifier on one translation context of an IOMMU ({@code TCGIOMMUNotifier}):
 * an {@link IommuNotifier#UNMAP} event anywhere in the region invalidates the translations of every
 * address space that cached one through it, by moving that space's generation (TCG flushes the
 * vCPU's TLB).
 *
 * <p><b>Thread safety.</b> {@link #add} and {@link #remove} are called with the owning
 * {@link IommuNotifiers}' lock held; {@link #covers} and the callback read the copy-on-write list
 * without locks (and without allocating, for {@link #covers}).
 */
final class TlbInvalidation {
    private final IommuNotifier notifier;
    private final CopyOnWriteArrayList<AddressSpace> spaces = new CopyOnWriteArrayList<>();

    TlbInvalidation(int iommuIdx) {
        this.notifier = new IommuNotifier((n, e) -> invalidateAll(), IommuNotifier.UNMAP, 0, -1L, iommuIdx);
        this.notifier.internal = true;
    }

    IommuNotifier notifier() {
        return notifier;
    }

    boolean covers(AddressSpace as) {
        return spaces.contains(as);
    }

    void add(AddressSpace as) {
        spaces.addIfAbsent(as);
    }

    /** @return whether {@code as} was watched (it is not any more) */
    boolean remove(AddressSpace as) {
        return spaces.remove(as);
    }

    boolean isEmpty() {
        return spaces.isEmpty();
    }

    /** Invalidates every space, even if one's invalidation listener throws (rethrown after the last). */
    void invalidateAll() {
        Throwable failed = null;
        for (AddressSpace s : spaces) {
            try {
                s.invalidateTranslations();
            } catch (RuntimeException | Error t) {
                failed = ListenerList.merge(failed, t);
            }
        }
        ListenerList.rethrow(failed);
    }
}
