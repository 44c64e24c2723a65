package dev.guestmem.listener;

import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.region.MemoryRegionSection;

/**
 * Observer of an address space's flat view, as QEMU's {@code MemoryListener}. Every method has a
 * no-op default. A commit calls, in this order: {@link #begin()} on every listener of the system,
 * then per address space (creation order) one pass over the old and new views in increasing address
 * order calling {@link #regionDel} (listeners in reverse priority order), and a second pass calling
 * {@link #regionNop}, {@link #logStart}, {@link #logStop} and {@link #regionAdd}, then {@link #commit()}
 * on every listener.
 *
 * <p>Priority: listeners with lower priority are called first for add/start and last for del/stop
 * (QEMU's {@code MEMORY_LISTENER_PRIORITY_*}); equal priorities keep registration order.
 *
 * <p>Coalesced MMIO windows ({@link #coalescedIoDel} before a range's {@code regionDel},
 * {@link #coalescedIoAdd} after its {@code regionAdd}) and ioeventfds ({@link #eventfdDel} /
 * {@link #eventfdAdd}, after the two passes of each address space) follow QEMU's
 * {@code address_space_update_topology_pass} and {@code address_space_update_ioeventfds}. A change of
 * eventfds alone ({@link dev.guestmem.region.MemoryRegion#addEventfd}) calls only the eventfd
 * hooks, without {@code begin}/{@code commit}, as in QEMU.
 *
 * <p><b>Thread safety.</b> Callbacks run on the thread that commits, with the topology lock held.
 * So a callback must not wait for another thread that may need that lock (a vCPU whose device moves a
 * BAR, a thread registering a listener): the two would wait for each other forever. Ask from the
 * callback and let the caller wait once its call has returned (see {@link #logGlobalAfterSync}).
 * A callback that throws stops no other listener's call, dirty-log callbacks included: the first
 * throw reaches the caller once every listener was told.
 *
 * <p><b>Changing the topology from a callback.</b> A callback may map, move, enable or disable
 * regions, or open and commit a transaction. The change is deferred, not lost: inside the callback it
 * is not yet visible (as in an open transaction), and once the current notification is over every
 * listener hears it as an update of its own ({@code begin} .. {@code commit}), never in the middle of
 * another. A callback that changes the topology on every update is stopped after
 * {@link dev.guestmem.MemorySystem#MAX_CHAINED_UPDATES} updates in a row with an
 * {@link IllegalStateException}. QEMU does not define this case (its nested update can leave the
 * outer one's stale view published); see {@link dev.guestmem.MemorySystem}. The same holds for
 * the dirty-log callbacks ({@link #logSync}, {@link #logClear}): the sync or clear under way (a whole
 * {@code snapshotAndClearDirty}) finishes on the view it began with, then the change runs.
 *
 * <p><b>Registering or unregistering from a callback</b> (or destroying an address space). Also
 * deferred: checked at the call (a second registration throws at once), run in call order when the
 * current notification is over, ahead of the updates callbacks asked for, with the usual replay of
 * the view published then. A listener that unregisters itself hears the rest of the current
 * notification, then its removal replay. An address space created from a callback exists at once,
 * but listeners of every address space hear its replay only then, in the same order.
 */
public interface MemoryListener {
    /** @return the priority (QEMU's {@code MemoryListener.priority}); default 0 */
    default int priority() {
        return 0;
    }

    /** A topology update begins (global, once per effective commit). */
    default void begin() {
    }

    /** A topology update ends (global). */
    default void commit() {
    }

    /**
     * A range appeared (or changed attributes: it was deleted first).
     *
     * @param section the range (its {@code flatView} is the address space's old view, as in QEMU)
     */
    default void regionAdd(MemoryRegionSection section) {
    }

    /**
     * A range disappeared (or is about to be re-added with other attributes).
     *
     * @param section the range
     */
    default void regionDel(MemoryRegionSection section) {
    }

    /**
     * A range is unchanged (its dirty-log mask may have changed).
     *
     * @param section the range
     */
    default void regionNop(MemoryRegionSection section) {
    }

    /**
     * Dirty logging clients were added to an unchanged range, or the listener was registered and the
     * range logs ({@code oldMask == 0}).
     *
     * @param section the range
     * @param oldMask the previous client mask
     * @param newMask the new client mask
     */
    default void logStart(MemoryRegionSection section, int oldMask, int newMask) {
    }

    /**
     * Dirty logging clients were removed from an unchanged range, or the listener is being removed.
     * A range that gains some clients and loses others in one update hears {@link #logStart} and then
     * this call with the same two masks (as in QEMU), so take {@code newMask} as the state, not
     * {@code oldMask} as the last one told.
     *
     * @param section the range
     * @param oldMask the previous client mask
     * @param newMask the new client mask
     */
    default void logStop(MemoryRegionSection section, int oldMask, int newMask) {
    }

    /**
     * Pull dirty bits for a logging range into the dirty bitmaps.
     *
     * @param section the range
     */
    default void logSync(MemoryRegionSection section) {
    }

    /**
     * QEMU's {@code log_sync} with its {@code last_stage} flag (true for migration's final pass, when
     * the guest is stopped). The default calls {@link #logSync(MemoryRegionSection)}.
     *
     * @param section the range
     * @param lastStage whether this is the last sync of a migration
     */
    default void logSync(MemoryRegionSection section, boolean lastStage) {
        logSync(section);
    }

    /**
     * Whether this listener syncs all its dirty state at once ({@link #logSyncGlobal}) rather than per
     * range ({@link #logSync}): QEMU's listener has one of {@code log_sync} and {@code log_sync_global}
     * (a dirty ring, say, which cannot sync one region). Default false.
     *
     * @return true to receive {@link #logSyncGlobal} instead of per-range {@link #logSync} calls
     */
    default boolean syncsGlobally() {
        return false;
    }

    /**
     * QEMU's {@code log_sync_global}: pull every dirty bit this listener holds, whatever region the
     * sync was asked for. Called only when {@link #syncsGlobally()}.
     *
     * @param lastStage whether this is the last sync of a migration
     */
    default void logSyncGlobal(boolean lastStage) {
    }

    /**
     * QEMU's {@code log_global_after_sync}: a dirty-bitmap sync finished (a region's
     * {@code snapshotAndClearDirty}, or {@link dev.guestmem.MemorySystem#globalAfterDirtyLogSync}).
     * TCG uses it to wait until no vCPU is inside a translation block that has not logged its stores.
     * It runs under the topology lock: waiting here for a vCPU that may change the topology (its
     * device reprograms a BAR) deadlocks. Record the request and kick the vCPUs here; the migration
     * thread waits for their exit checks after {@code globalAfterDirtyLogSync()} returns, before it
     * copies (QEMU's {@code run_on_cpu} drops the BQL while waiting, which a callback cannot do).
     */
    default void logGlobalAfterSync() {
    }

    /**
     * QEMU's {@code log_clear}: the dirty bits of {@code section} were just cleared by a region's
     * {@code snapshotAndClearDirty} or {@code resetDirty}, or reported cleared with
     * {@link dev.guestmem.MemorySystem#clearDirtyBitmap} (a migration round). A listener that keeps dirty state of its
     * own (a KVM-like backend with manual write protection) re-arms it for the range here. Called per
     * logging range of that region in the listener's address space, cut to the cleared range.
     *
     * @param section the cleared part of a logging range
     */
    default void logClear(MemoryRegionSection section) {
    }

    /** Global dirty tracking started. */
    default void logGlobalStart() {
    }

    /** Global dirty tracking stopped. */
    default void logGlobalStop() {
    }

    /**
     * QEMU's {@code eventfd_add}: from now on a guest write matching {@code fd} (its address is in
     * this listener's address space) signals its notifier. guestmem's own dispatch already does that;
     * an accelerator that handles guest writes itself (as KVM does) registers the eventfd here.
     *
     * @param fd the eventfd, at a guest address
     */
    default void eventfdAdd(Ioeventfd fd) {
    }

    /**
     * QEMU's {@code eventfd_del}: {@code fd} no longer applies.
     *
     * @param fd the eventfd, at a guest address
     */
    default void eventfdDel(Ioeventfd fd) {
    }

    /**
     * QEMU's {@code coalesced_io_add}: guest writes to {@code [addr, addr + size)} may be buffered.
     *
     * @param section the flat range the window belongs to
     * @param addr first guest address of the window, cut to the range
     * @param size its size (unsigned; 0 stands for 2^64)
     */
    default void coalescedIoAdd(MemoryRegionSection section, long addr, long size) {
    }

    /**
     * QEMU's {@code coalesced_io_del}: the window is gone.
     *
     * @param section the flat range the window belongs to
     * @param addr first guest address of the window, cut to the range
     * @param size its size (unsigned; 0 stands for 2^64)
     */
    default void coalescedIoDel(MemoryRegionSection section, long addr, long size) {
    }
}
