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
     * @param ops callbacks for writes and non-ROMD reads
     * @param name name
     * @param block the backing block
     */
    public RomDeviceRegion(MemorySystem system, Object owner, MemoryRegionOps ops, String name, RamBlock block) {
        super(system, owner, name, Objects.requireNonNull(block, "block").usedLength());
        this.block = block;
        this.ops = Objects.requireNonNull(ops, "ops");
    }

    /**
     * QEMU's {@code memory_region_rom_device_set_romd}: in ROMD mode reads come straight from the block;
     * otherwise every access goes to the ops.
     *
     * @param romdMode the new mode
     */
    public void setRomd(boolean romdMode) {
        lock();
        try {
            if (romdMode == this.romdMode) {
                return;
            }
            flagChange(() -> this.romdMode = romdMode);
        } finally {
            unlock();
        }
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
