package dev.guestmem;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.MemoryRegion;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link MemorySystem}'s address spaces in creation order, QEMU's {@code address_spaces}, each with
 * what the system keeps for it ({@link SpaceEntry}), and the lookups over them. Iterating it walks
 * the live list: a space created meanwhile (from a listener callback) is appended, so a walk that
 * stops at the size it began with visits the spaces there were when it began.
 *
 * <p><b>Thread safety.</b> Not thread-safe; topology lock held.
 */
final class AddressSpaceList implements Iterable<SpaceEntry> {
    private final ReentrantLock lock;
    private final List<SpaceEntry> entries = new ArrayList<>();
    /** What iteration hands out: the live list, read-only. */
    private final List<SpaceEntry> readOnly = Collections.unmodifiableList(entries);

    /** @param lock the system's topology lock, which every change here needs */
    AddressSpaceList(ReentrantLock lock) {
        this.lock = lock;
    }

    /**
     * Topology lock held: appends a new address space.
     *
     * @param as the address space
     * @return its entry
     */
    SpaceEntry add(AddressSpace as) {
        assert lock.isHeldByCurrentThread();
        SpaceEntry e = new SpaceEntry(as);
        entries.add(e);
        return e;
    }

    /** Topology lock held: forgets a destroyed address space. */
    void remove(SpaceEntry e) {
        assert lock.isHeldByCurrentThread();
        entries.remove(e);
    }

    /**
     * @param as an address space
     * @return its entry
     * @throws IllegalStateException if it is not one of this system's (or no longer is)
     */
    SpaceEntry entry(AddressSpace as) {
        for (SpaceEntry e : entries) {
            if (e.as == as) {
                return e;
            }
        }
        throw new IllegalStateException("address space " + as + " does not belong to this system");
    }

    /** @return how many address spaces there are */
    int size() {
        return entries.size();
    }

    /**
     * @param i an index in creation order
     * @return the entry there
     */
    SpaceEntry get(int i) {
        return entries.get(i);
    }

    /** @return the entries now, in creation order (a copy: later creations do not show) */
    SpaceEntry[] toArray() {
        return entries.toArray(new SpaceEntry[0]);
    }

    @Override
    public Iterator<SpaceEntry> iterator() {
        return readOnly.iterator();
    }

    /** @return the address spaces in creation order (a copy) */
    List<AddressSpace> addressSpaces() {
        List<AddressSpace> out = new ArrayList<>(entries.size());
        for (SpaceEntry e : entries) {
            out.add(e.as);
        }
        return out;
    }

    /**
     * @return the spaces the listeners of every address space have heard appear (a space created
     *     from a callback joins them when its replay runs)
     */
    List<SpaceEntry> announced() {
        List<SpaceEntry> out = new ArrayList<>(entries.size());
        for (SpaceEntry e : entries) {
            if (e.announced) {
                out.add(e);
            }
        }
        return out;
    }

    /**
     * @param root a region
     * @return the first address space (creation order) whose root is {@code root}, or null
     */
    AddressSpace withRoot(MemoryRegion root) {
        for (SpaceEntry e : entries) {
            if (e.as.root() == root) {
                return e.as;
            }
        }
        return null;
    }

    /**
     * @param root a region
     * @return whether some address space's current view was rendered from {@code root}
     */
    boolean showsViewOf(MemoryRegion root) {
        for (SpaceEntry e : entries) {
            if (e.as.currentMap().root() == root) {
                return true;
            }
        }
        return false;
    }
}
