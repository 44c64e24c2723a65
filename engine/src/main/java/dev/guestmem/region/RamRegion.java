package dev.guestmem.region;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import java.util.Objects;

/**
 * RAM backed by a {@link RamBlock}: plain RAM, ROM (RAM made read-only for the guest,
 * {@code memory_region_init_rom}) or RAM device memory ({@code memory_region_init_ram_device_ptr}:
 * host memory that is accessed through MMIO-style ops so that access sizes are preserved).
 */
public final class RamRegion extends MemoryRegion {
    private final RamBlock block;
    private final boolean ramDevice;
    private final MemoryRegionOps ramDeviceOps;

    /**
     * Creates a RAM region over a whole block.
     *
     * @param system the owning system
     * @param owner owner object, or null
     * @param name name
     * @param block the backing block (its used length is the region size)
     * @param rom whether the guest may only read it
     * @param ramDevice whether it is RAM device memory
     */
    public RamRegion(MemorySystem system, Object owner, String name, RamBlock block, boolean rom,
                     boolean ramDevice) {
        super(system, owner, name, Objects.requireNonNull(block, "block").usedLength());
        this.block = block;
        this.readonly = rom;
        this.ramDevice = ramDevice;
        this.ramDeviceOps = null;
    }

    @Override
    public boolean terminates() {
        return true;
    }

    @Override
    public boolean isRam() {
        return true;
    }

    @Override
    public boolean isRamDevice() {
        return ramDevice;
    }

    @Override
    public RamBlock ramBlock() {
        return block;
    }

    @Override
    public MemoryRegionOps ops() {
        return ramDeviceOps;
    }
}
