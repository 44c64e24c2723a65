package dev.guestmem.internal;

import dev.guestmem.MemorySystem;
import dev.guestmem.iommu.OwedInvalidations;
import dev.guestmem.region.CoalescedRange;
import dev.guestmem.region.Int128;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import java.util.function.Supplier;

/**
 * What the engine's region and discard code asks of a {@link MemorySystem} that is no part of its
 * API: a region's change marks an update pending and the windows that render differently, tells
 * the eventfd and coalescing bookkeeping, looks up a section without a reference; a dirty-log
 * operation made of several listener calls runs as one notification; a transaction opens on a
 * closed system too (region code refuses a closed system's change itself, and a finalization or a
 * teardown must still run).
 *
 * <p>This package is not exported. The way in is the JDK's {@code SharedSecrets} pattern:
 * {@link MemorySystem} hands its {@link Access} over when its class initialises, so these
 * operations stay off its public API and users cannot break its invariants through them. Every
 * operation but {@link #runAsOneNotification}, {@link #find}, {@link #transactionBegin} and
 * {@link #transactionCommit}, which take (or release) it themselves, expects the caller to hold the
 * system's {@linkplain MemorySystem#lock() topology lock} (they assert it where the system did).
 *
 * <p><b>Thread safety.</b> Any thread, under the rules of each operation.
 */
public final class SystemInternals {
    /** What {@link MemorySystem} provides: each operation of {@link SystemInternals}, on a given system. */
    public interface Access {
        /**
         * See {@link SystemInternals#runAsOneNotification}.
         *
         * @param system the system
         * @param body the operation
         * @param <T> what it returns
         * @return what {@code body} returned
         */
        <T> T runAsOneNotification(MemorySystem system, Supplier<T> body);

        /**
         * See {@link SystemInternals#markUpdatePending}.
         *
         * @param system the system
         */
        void markUpdatePending(MemorySystem system);

        /**
         * See {@link SystemInternals#invalidate}.
         *
         * @param system the system
         * @param region the region
         * @param start first changed offset
         * @param end end of the change (exclusive)
         */
        void invalidate(MemorySystem system, MemoryRegion region, Int128 start, Int128 end);

        /**
         * See {@link SystemInternals#invalidateRootOnly}.
         *
         * @param system the system
         * @param region the region that moved
         */
        void invalidateRootOnly(MemorySystem system, MemoryRegion region);

        /**
         * See {@link SystemInternals#markIoeventfdUpdatePending}.
         *
         * @param system the system
         */
        void markIoeventfdUpdatePending(MemorySystem system);

        /**
         * See {@link SystemInternals#regionEventfdsAppeared}.
         *
         * @param system the system
         */
        void regionEventfdsAppeared(MemorySystem system);

        /**
         * See {@link SystemInternals#regionEventfdsGone}.
         *
         * @param system the system
         */
        void regionEventfdsGone(MemorySystem system);

        /**
         * See {@link SystemInternals#flushCoalescedSet}.
         *
         * @param system the system
         * @param region the region
         */
        void flushCoalescedSet(MemorySystem system, MemoryRegion region);

        /**
         * See {@link SystemInternals#coalescedRangeChanged}.
         *
         * @param system the system
         * @param region the region
         * @param cmr the window
         * @param add whether it was added or removed
         */
        void coalescedRangeChanged(MemorySystem system, MemoryRegion region, CoalescedRange cmr, boolean add);

        /**
         * See {@link SystemInternals#find}.
         *
         * @param system the system
         * @param region the region addresses are relative to
         * @param addr offset in it
         * @param size length
         * @return the section
         */
        MemoryRegionSection find(MemorySystem system, MemoryRegion region, long addr, long size);

        /**
         * See {@link SystemInternals#owedInvalidations}.
         *
         * @param system the system
         * @return its record
         */
        OwedInvalidations owedInvalidations(MemorySystem system);

        /**
         * See {@link SystemInternals#transactionBegin}.
         *
         * @param system the system
         */
        void transactionBegin(MemorySystem system);

        /**
         * See {@link SystemInternals#transactionCommit}.
         *
         * @param system the system
         */
        void transactionCommit(MemorySystem system);
    }

    /** Set once, by {@link MemorySystem}'s class initialisation; volatile so any thread sees it. */
    private static volatile Access access;

    private SystemInternals() {
    }

    /**
     * Installs the access; {@link MemorySystem} calls it once.
     *
     * @param a the access
     * @throws IllegalStateException if one is installed already
     */
    public static synchronized void setAccess(Access a) {
        if (access != null) {
            throw new IllegalStateException("SystemInternals access installed already");
        }
        access = a;
    }

    // A caller holds a system, so MemorySystem has initialised and installed the access.

    /**
     * Runs a dirty-log operation made of several listener calls ({@code logSync}, {@code logClear},
     * {@code logGlobalAfterSync}) as one notification of {@code system}: a topology change or
     * listener (un)registration its callbacks ask for waits until it is over (the rest of it sees
     * the view it began with), then runs as an update of its own, as one made at commit time (see
     * {@code MemorySystem}, "topology changes from listener callbacks"). If the operation throws,
     * the waiting changes run all the same and its throw comes first. Takes the system's lock.
     *
     * @param system the system whose listeners the operation calls
     * @param body the operation
     * @param <T> what it returns
     * @return what {@code body} returned
     * @throws RuntimeException what {@code body} threw first, or what the waiting changes' listeners threw
     */
    public static <T> T runAsOneNotification(MemorySystem system, Supplier<T> body) {
        return access.runAsOneNotification(system, body);
    }

    /**
     * For region setters: a change that needs new views happened (topology lock held).
     *
     * @param system the region's system
     */
    public static void markUpdatePending(MemorySystem system) {
        access.markUpdatePending(system);
    }

    /**
     * For region setters: the window {@code [start, end)} of {@code region} (region-local) may
     * render differently (topology lock held).
     *
     * @param system the region's system
     * @param region the region
     * @param start first changed offset
     * @param end end of the change (exclusive)
     */
    public static void invalidate(MemorySystem system, MemoryRegion region, Int128 start, Int128 end) {
        access.invalidate(system, region, start, end);
    }

    /**
     * For region setters: views rendered from {@code region} itself must be rebuilt, because it
     * moved (topology lock held). Unlike QEMU, an update is marked pending when an address space
     * shows {@code region}'s view, even inside a disabled container.
     *
     * @param system the region's system
     * @param region the region
     */
    public static void invalidateRootOnly(MemorySystem system, MemoryRegion region) {
        access.invalidateRootOnly(system, region);
    }

    /**
     * For {@code MemoryRegion.addEventfd/delEventfd}: eventfds changed (topology lock held).
     *
     * @param system the region's system
     */
    public static void markIoeventfdUpdatePending(MemorySystem system) {
        access.markIoeventfdUpdatePending(system);
    }

    /**
     * For {@code MemoryRegion.addEventfd}: a region's eventfd list stopped being empty (topology
     * lock held).
     *
     * @param system the region's system
     */
    public static void regionEventfdsAppeared(MemorySystem system) {
        access.regionEventfdsAppeared(system);
    }

    /**
     * For {@code MemoryRegion.delEventfd}: a region's eventfd list became empty (topology lock held).
     *
     * @param system the region's system
     */
    public static void regionEventfdsGone(MemorySystem system) {
        access.regionEventfdsGone(system);
    }

    /**
     * For {@code MemoryRegion}'s flush flag: {@code region} became flush-coalesced, so no address
     * space may keep serving it from its fast MMIO slot, which does not flush (topology lock held).
     *
     * @param system the region's system
     * @param region the region
     */
    public static void flushCoalescedSet(MemorySystem system, MemoryRegion region) {
        access.flushCoalescedSet(system, region);
    }

    /**
     * For {@code MemoryRegion.addCoalescing/clearCoalescing}: QEMU's
     * {@code memory_region_update_coalesced_range}, telling every address space's listeners about
     * one window of {@code region} in each flat range of it, now (topology lock held).
     *
     * @param system the region's system
     * @param region the region
     * @param cmr the window
     * @param add whether it was added or removed
     * @throws RuntimeException what a listener threw, after every listener heard it
     */
    public static void coalescedRangeChanged(MemorySystem system, MemoryRegion region, CoalescedRange cmr,
                                             boolean add) {
        access.coalescedRangeChanged(system, region, cmr, add);
    }

    /**
     * QEMU's {@code memory_region_find_rcu}: what the address space showing {@code region}'s tree
     * shows at {@code [addr, addr + size)} (relative to {@code region}), with no reference taken
     * ({@link MemoryRegion#find} takes one). A zero size finds nothing. Takes the system's lock.
     *
     * @param system the region's system
     * @param region the region addresses are relative to
     * @param addr offset in it (unsigned)
     * @param size length (unsigned)
     * @return the section, or {@link MemoryRegionSection#empty()}
     * @throws dev.guestmem.region.ForeignRegionException if {@code region} belongs to another system
     */
    public static MemoryRegionSection find(MemorySystem system, MemoryRegion region, long addr, long size) {
        return access.find(system, region, addr, size);
    }

    /**
     * The record of the TLB invalidations that IOMMU {@code UNMAP}s of {@code system}'s IOMMU regions
     * owe when the notifying thread's MMIO write returns: for the IOMMU code, which records, and the
     * dispatch tables, whose sections hand it to every MMIO write's end. Any thread, no lock.
     *
     * @param system the system
     * @return its record, the same object for the life of the system
     */
    public static OwedInvalidations owedInvalidations(MemorySystem system) {
        return access.owedInvalidations(system);
    }

    /**
     * {@link MemorySystem#transactionBegin()} without its refusal on a closed system: for region code
     * that has refused a closed system's change itself (under the lock it still holds), and for
     * what must run on a closed system too (a region's finalization, {@code RegionTeardown},
     * {@code close()}'s own teardown).
     *
     * @param system the system
     */
    public static void transactionBegin(MemorySystem system) {
        access.transactionBegin(system);
    }

    /**
     * {@link MemorySystem#transactionCommit()} without its refusal on a closed system: pairs with
     * {@link #transactionBegin}.
     *
     * @param system the system
     * @throws IllegalStateException as {@link MemorySystem#transactionCommit()}
     */
    public static void transactionCommit(MemorySystem system) {
        access.transactionCommit(system);
    }
}
