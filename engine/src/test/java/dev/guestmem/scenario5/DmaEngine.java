package dev.guestmem.scenario5;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A DMA-capable device: the guest writes a target guest address to register 0 and a length to
 * register 8; the length write runs the transfer at once, as a simple block device's "go" bit. The
 * device fills the buffer through {@code as.map}/{@code unmap}, then bumps a completion counter in a
 * status word through a {@link MemoryRegionCache} (virtio's used-ring pattern: store, then
 * {@code invalidate}).
 */
final class DmaEngine {
    static final long REG_ADDR = 0;
    static final long REG_LEN = 8;

    private final AddressSpace as;
    private final MemoryRegionCache status = new MemoryRegionCache();
    private final IoRegion mmio;
    private long target;
    private long completions;

    /** A device whose status word lives at guest address {@code statusAddr} (8 bytes of RAM). */
    DmaEngine(AddressSpace dmaSpace, long statusAddr) {
        this.as = dmaSpace;
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> addr == REG_ADDR ? target : completions)
                .write((addr, data, size) -> {
                    if (addr == REG_ADDR) {
                        target = data;
                    } else if (addr == REG_LEN) {
                        transfer(target, data);
                    }
                })
                .valid(8, 8, false)
                .endianness(Endianness.LITTLE)
                .build();
        mmio = new IoRegion(dmaSpace.system(), this, ops, "dma-engine", 0x10);
        if (status.init(dmaSpace, statusAddr, 8, true) != 8) {
            throw new IllegalStateException("status word is not RAM");
        }
    }

    IoRegion mmio() {
        return mmio;
    }

    /** Writes {@code len} bytes of a pattern derived from the completion count, then posts status. */
    synchronized void transfer(long addr, long len) {
        long done = 0;
        while (done < len) {
            DmaMapping m = as.map(addr + done, len - done, true, MemTxAttrs.UNSPECIFIED);
            if (m == null) {
                return; // no bounce space: a real device would retry from a map client
            }
            MemorySegment buf = m.segment();
            long n = m.length();
            byte b = (byte) (completions * 7 + 1);
            buf.fill(b);
            m.unmap(n);
            done += n;
        }
        completions++;
        status.stqLe(0, completions);
        status.invalidate(0, 8);
    }

    long completions() {
        return completions;
    }

    void destroy() {
        status.destroy();
    }
}
