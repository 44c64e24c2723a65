package dev.guestmem.region;

import dev.guestmem.MemorySystem;
import dev.guestmem.internal.SystemInternals;
import dev.guestmem.mmio.RamDeviceOps;
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
    /** A RAM device's ops over the block's used length; remade by {@link #ramResize}. Volatile: read by any accessor. */
    private volatile MemoryRegionOps ramDeviceOps;

    /**
     * Creates a RAM region over a whole block.
     *
     * @param system the owning system
     * @param owner owner object, or null
     * @param name name
     * @param block the backing block (its used length is the region size); placed in the system's RAM
     *        list if it is in none, and referenced until the region is finalized
     * @param rom whether the guest may only read it; a block mapped read-only
     *        ({@link RamBlock#isReadOnly()}) makes the region read-only whatever this says, as QEMU's
     *        {@code memory_region_init_ram_from_file} does for {@code RAM_READONLY}
     * @param ramDevice whether it is RAM device memory
     */
    public RamRegion(MemorySystem system, Object owner, String name, RamBlock block, boolean rom,
                     boolean ramDevice) {
        super(system, owner, name, Objects.requireNonNull(block, "block").usedLength());
        this.block = adoptBlock(system, block);
        // A guest write into a PROT_READ mapping is a SIGSEGV, which kills the JVM: such RAM is ROM.
        this.readonly = rom || block.isReadOnly();
        this.ramDevice = ramDevice;
        // QEMU's mr->ops = &ram_device_mem_ops (the access path builds its own per section)
        this.ramDeviceOps = ramDevice ? RamDeviceOps.of(this.block) : null;
        enterBlockRegion(this.block); // last: a lookup from another thread finds a complete region
    }

    /**
     * QEMU's {@code memory_region_init_ram}: anonymous RAM that the region owns (its block is unmapped
     * once the region is destroyed and no view shows it).
     *
     * @param system the owning system
     * @param owner owner object, or null
     * @param name name (also the block's idstr)
     * @param size size in bytes
     * @return the region
     */
    public static RamRegion allocate(MemorySystem system, Object owner, String name, long size) {
        return owning(system, owner, name, RamBlock.anonymous(name, size), false);
    }

    /**
     * QEMU's {@code memory_region_init_rom}: like {@link #allocate} but read-only for the guest.
     *
     * @param system the owning system
     * @param owner owner object, or null
     * @param name name (also the block's idstr)
     * @param size size in bytes
     * @return the region
     */
    public static RamRegion allocateRom(MemorySystem system, Object owner, String name, long size) {
        return owning(system, owner, name, RamBlock.anonymous(name, size), true);
    }

    private static RamRegion owning(MemorySystem system, Object owner, String name, RamBlock block, boolean rom) {
        try {
            return new RamRegion(system, owner, name, block, rom, false);
        } finally {
            block.close(); // the region holds its own reference; a failed construction frees the block
        }
    }

    /**
     * QEMU's {@code memory_region_ram_resize} ({@code qemu_ram_resize}): changes the used length of a
     * resizeable block and the region's size with it, in one topology commit. The block's old used
     * length is cleared in the dirty bitmaps and the new one marked dirty for every client, the block's
     * resize callback runs, and the region's views re-render at the commit (listeners hear it).
     * Prefer this to {@link RamBlock#resize} on a block that backs a region, which leaves the region's
     * size as it was (accesses beyond the block's used length then answer {@code DECODE_ERROR}).
     *
     * @param newSize the new size in bytes, &gt; 0 and at most the block's max length
     * @throws dev.guestmem.ram.InvalidRamBlockException if the block is not resizeable (and the size
     *     differs) or {@code newSize} is out of range; nothing changes then
     * @throws dev.guestmem.discard.RamDiscardManagerException if the region has a RAM discard
     *     manager; nothing changes then
     */
    public void ramResize(long newSize) {
        lockOpenForChange("ramResize");
        try {
            if (hasRamDiscardManager()) {
                // its populated/discarded map covers the size it was made for (virtio-mem's memdev is fixed)
                throw new dev.guestmem.discard.RamDiscardManagerException("region '" + name()
                        + "' has a RAM discard manager: it cannot be resized");
            }
            MemorySystem sys = system();
            SystemInternals.transactionBegin(sys);
            try {
                block.resize(newSize); // validates first; throws before anything changed
                setSize(newSize);
                if (ramDevice) {
                    ramDeviceOps = RamDeviceOps.of(block); // over the new used length
                }
            } finally {
                SystemInternals.transactionCommit(sys);
            }
        } finally {
            unlock();
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
