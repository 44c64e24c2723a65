package dev.guestmem.iommu;

import dev.guestmem.access.AddressSpace;
import java.util.Arrays;

/**
 * The JIT fast path's notifier on one translation context of an IOMMU ({@code TCGIOMMUNotifier}):
 * an {@link IommuNotifier#UNMAP} event anywhere in the region invalidates the translations of every
 * address space that cached one through it, by moving that space's generation (TCG flushes the
 * vCPU's TLB).
 *
 * <p><b>Thread safety.</b> {@link #add} and {@link #remove} are called with the owning
 * {@link IommuNotifiers}' lock held;
 * {@link #covers} and the callback read a copy-on-write array without locks.
 */
final class TlbInvalidation {
    private final IommuNotifier notifier;
    private volatile AddressSpace[] spaces = new AddressSpace[0];

    TlbInvalidation(int iommuIdx) {
        this.notifier = new IommuNotifier((n, e) -> invalidateAll(), IommuNotifier.UNMAP, 0, -1L, iommuIdx);
        this.notifier.internal = true;
    }

    IommuNotifier notifier() {
        return notifier;
    }

    boolean covers(AddressSpace as) {
        for (AddressSpace s : spaces) {
            if (s == as) {
                return true;
            }
        }
        return false;
    }

    void add(AddressSpace as) {
        if (!covers(as)) {
            AddressSpace[] old = spaces;
            AddressSpace[] grown = Arrays.copyOf(old, old.length + 1);
            grown[old.length] = as;
            spaces = grown;
        }
    }

    /** @return whether {@code as} was watched (it is not any more) */
    boolean remove(AddressSpace as) {
        AddressSpace[] old = spaces;
        for (int i = 0; i < old.length; i++) {
            if (old[i] == as) {
                AddressSpace[] shrunk = new AddressSpace[old.length - 1];
                System.arraycopy(old, 0, shrunk, 0, i);
                System.arraycopy(old, i + 1, shrunk, i, old.length - i - 1);
                spaces = shrunk;
                return true;
            }
        }
        return false;
    }

    boolean isEmpty() {
        return spaces.length == 0;
    }

    void invalidateAll() {
        for (AddressSpace s : spaces) {
            s.invalidateTranslations();
        }
    }
}
