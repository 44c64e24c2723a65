package dev.guestmem.iommu;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.ListenerList;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The JIT fast path's notifier on one translation context of an IOMMU ({@code TCGIOMMUNotifier}):
 * an {@link IommuNotifier#UNMAP} event anywhere in the region invalidates the translations of every
 * address space that cached one through it, by moving that space's generation (TCG flushes the
 * vCPU's TLB). The same spaces are moved once more when the notifying thread's MMIO write returns
 * ({@link OwedInvalidations}), for a model that changes its table after notifying.
 *
 * <p><b>Thread safety.</b> {@link #add} and {@link #remove} are called with the owning
 * {@link IommuNotifiers}' lock held; {@link #covers} and the callback read the copy-on-write list
 * without locks (and without allocating, for {@link #covers}).
 */
final class TlbInvalidation {
    private final IommuNotifier notifier;
    private final CopyOnWriteArrayList<AddressSpace> spaces = new CopyOnWriteArrayList<>();

    /**
     * @param iommuIdx the translation context
     * @param owed the IOMMU's system's record of the second moves owed when an MMIO write returns
     */
    TlbInvalidation(int iommuIdx, OwedInvalidations owed) {
        this.notifier = new IommuNotifier((n, e) -> {
            owed.owe(spaces.toArray(new AddressSpace[0])); // the model may change its table only after this
            invalidateAll();
        }, IommuNotifier.UNMAP, 0, -1L, iommuIdx);
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
