package dev.guestmem.region;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import java.util.Objects;

/**
 * A ROM device ({@code memory_region_init_rom_device}): in ROMD mode reads come straight from its RAM
 * block; writes, and reads outside ROMD mode, go to its ops (flash command state machines).
 */
public final class RomDeviceRegion extends MemoryRegion {
    private final RamBlock block;
    private final MemoryRegionOps ops;
    boolean romdMode = true;

    /**
     * Creates a ROM device.
     *
     * @param system the owning system
     * @param owner owner object, or null
     * @param ops callbacks for writes and non-ROMD reads; {@link Endianness#NATIVE} ops are held in
     *        the system's target order
     * @param name name
     * @param block the backing block; placed in the system's RAM list if it is in none, and
     *        referenced until the region is finalized
     */
    public RomDeviceRegion(MemorySystem system, Object owner, MemoryRegionOps ops, String name, RamBlock block) {
        super(system, owner, name, Objects.requireNonNull(block, "block").usedLength());
        this.ops = Objects.requireNonNull(ops, "ops").forTarget(system.targetOrder()); // before adoptBlock: a refusal must leave no block reference
        this.block = adoptBlock(system, block);
        enterBlockRegion(this.block); // last: a lookup from another thread finds a complete region
    }

    /**
     * QEMU's {@code memory_region_rom_device_set_romd}: in ROMD mode reads come straight from the block;
     * otherwise every access goes to the ops.
     *
     * @param romdMode the new mode
     */
    public void setRomd(boolean romdMode) {
        lockOpenForChange("setRomd");
        try {
            if (romdMode == this.romdMode) {
                return;
            }
            flagChange(() -> this.romdMode = romdMode);
        } finally {
            unlock();
        }
    }

    /**
     * QEMU's {@code memory_region_init_rom_device}: a ROM device with anonymous memory that the region
     * owns.
     *
     * @param system the owning system
     * @param owner owner object, or null
     * @param ops callbacks for writes and non-ROMD reads
     * @param name name (also the block's idstr)
     * @param size size in bytes
     * @return the region
     */
    public static RomDeviceRegion allocate(MemorySystem system, Object owner, MemoryRegionOps ops, String name,
                                           long size) {
        RamBlock block = RamBlock.anonymous(name, size);
        try {
            return new RomDeviceRegion(system, owner, ops, name, block);
        } finally {
            block.close(); // the region holds its own reference; a failed construction frees the block
        }
    }

    /** Gives back the block reference taken at construction ({@code memory_region_finalize}). */
    @Override
    void onFinalize() {
        leaveBlockRegion(block);
        block.unref();
    }

    @Override
    public boolean terminates() {
        return true;
    }

    @Override
    public boolean isRomDevice() {
        return true;
    }

    @Override
    public boolean isRomd() {
        return romdMode;
    }

    @Override
    public RamBlock ramBlock() {
        return block;
    }

    @Override
    public MemoryRegionOps ops() {
        return ops;
    }
}
