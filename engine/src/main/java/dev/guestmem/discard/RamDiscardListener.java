package dev.guestmem.discard;

import dev.guestmem.region.MemoryRegionSection;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Told by a {@link RamDiscardManager} about state changes inside the section it registered for, as
 * QEMU's {@code RamDiscardListener}. Sections passed to the callbacks are the registered section cut
 * to the change; they are aligned to the manager's {@linkplain RamDiscardManager#minGranularity
 * minimum granularity} within the region unless that would pass the registered section's ends.
 * Listeners must be ready for memory to be discarded in another granularity than it was populated
 * in, and the other way round.
 *
 * <p>{@link #ramDiscardListener} builds one from two lambdas, as QEMU's
 * {@code ram_discard_listener_init}.
 *
 * <p><b>Thread safety.</b> Callbacks run on the thread that changes the state (a plug, an unplug,
 * a registration), with the owning {@link dev.guestmem.MemorySystem}'s lock held (QEMU's BQL). They
 * must not register or unregister listeners of the same manager.
 */
public interface RamDiscardListener {
    /**
     * QEMU's {@code notify_populate}: previously discarded memory is about to be populated. The
     * listener may object by throwing {@link PopulateRefusedException}; listeners already told are
     * then told {@link #notifyDiscard} for the same range and the memory stays discarded. Any other
     * runtime exception is treated the same way and rethrown as it is.
     *
     * @param section the part about to be populated
     * @throws PopulateRefusedException to object
     */
    void notifyPopulate(MemoryRegionSection section);

    /**
     * QEMU's {@code notify_discard}: previously populated memory was discarded (or a populate this
     * listener accepted is being rolled back); drop every reference to it and prevent new population
     * (e.g. unmap it from a device's DMA). Must not throw.
     *
     * @param section the part discarded
     */
    void notifyDiscard(MemoryRegionSection section);

    /**
     * QEMU's {@code double_discard_supported}: whether {@link #notifyDiscard} may get sections that
     * span parts already discarded (then an unregistration or unplug-all tells it once, for its whole
     * section, instead of once per populated run).
     *
     * @return false unless overridden
     */
    default boolean doubleDiscardSupported() {
        return false;
    }

    /**
     * QEMU's {@code ram_discard_listener_init}: a listener from two callbacks.
     *
     * @param populate called for {@link #notifyPopulate}; may throw {@link PopulateRefusedException}
     * @param discard called for {@link #notifyDiscard}
     * @param doubleDiscardSupported what {@link #doubleDiscardSupported()} answers
     * @return the listener (identity matters: register and unregister the same instance)
     */
    static RamDiscardListener ramDiscardListener(Consumer<MemoryRegionSection> populate,
            Consumer<MemoryRegionSection> discard, boolean doubleDiscardSupported) {
        Objects.requireNonNull(populate, "populate");
        Objects.requireNonNull(discard, "discard");
        return new RamDiscardListener() {
            @Override
            public void notifyPopulate(MemoryRegionSection section) {
                populate.accept(section);
            }

            @Override
            public void notifyDiscard(MemoryRegionSection section) {
                discard.accept(section);
            }

            @Override
            public boolean doubleDiscardSupported() {
                return doubleDiscardSupported;
            }
        };
    }
}
