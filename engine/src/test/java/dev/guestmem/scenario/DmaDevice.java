package dev.guestmem.scenario;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Program 2's device: a descriptor ring in guest memory (read through a MemoryRegionCache), buffers
 * mapped with map/unmap, completions written back to the ring, no interrupt (the driver polls).
 *
 * <p>Ring at {@code ringAddr} (in the device's DMA space): u16 availIdx @0, u16 usedIdx @2, then
 * {@link #SLOTS} descriptors of 32 bytes from @0x10: u64 addr, u32 len, u8 op, u8 status, u16 pad,
 * u64 result.
 */
final class DmaDevice {
    static final int SLOTS = 8, DESC = 32, RING_LEN = 0x10 + SLOTS * DESC;
    static final int OP_FILL = 1, OP_SUM = 2;
    static final int ST_OK = 1, ST_ERR = 2;
    static final int REG_RING_LO = 0, REG_RING_HI = 4, REG_KICK = 8;

    final AddressSpace dma;
    final IoRegion regs;
    long ringAddr;
    int lastAvail;
    int bounced, direct, mapCalls;
    final MemTxAttrs attrs = MemTxAttrs.UNSPECIFIED;

    DmaDevice(MemorySystem sys, AddressSpace dma) {
        this.dma = dma;
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> 0)
                .write((addr, data, size) -> {
                    switch ((int) addr) {
                        case REG_RING_LO -> ringAddr = (ringAddr & ~0xffff_ffffL) | (data & 0xffff_ffffL);
                        case REG_RING_HI -> ringAddr = (ringAddr & 0xffff_ffffL) | (data << 32);
                        case REG_KICK -> process();
                        default -> { }
                    }
                })
                .valid(4, 4, false)
                .build();
        regs = new IoRegion(sys, this, ops, "dmadev", 0x100);
    }

    /** The doorbell: handle every available descriptor. */
    void process() {
        MemoryRegionCache ring = new MemoryRegionCache();
        try {
            long got = ring.init(dma, ringAddr, RING_LEN, true);
            if (got < RING_LEN) {
                throw new IllegalStateException("ring not contiguous: " + got);
            }
            MemTxResultHolder h = new MemTxResultHolder();
            int avail = ring.lduwLe(0, h);
            while (lastAvail != avail) {
                int slot = lastAvail % SLOTS;
                long d = 0x10 + (long) slot * DESC;
                long addr = ring.ldqLe(d, h);
                long len = Integer.toUnsignedLong(ring.ldlLe(d + 8, h));
                int op = ring.ldub(d + 12, h);
                long[] result = {0};
                boolean ok = execute(op, addr, len, result);
                ring.stqLe(d + 16, result[0]);
                ring.stb(d + 13, ok ? ST_OK : ST_ERR);
                lastAvail = (lastAvail + 1) & 0xffff;
                ring.stwLe(2, lastAvail);
            }
            ring.invalidate(0, RING_LEN);   // direct writes are not logged: tell dirty logging
        } finally {
            ring.destroy();
        }
    }

    private boolean execute(int op, long addr, long len, long[] result) {
        boolean write = op == OP_FILL;
        if (op != OP_FILL && op != OP_SUM) {
            return false;
        }
        if (!dma.accessValid(addr, len, write, attrs)) {
            return false;
        }
        long done = 0;
        long sum = 0;
        while (done < len) {
            DmaMapping m = dma.map(addr + done, len - done, write, attrs);
            mapCalls++;
            if (m == null) {
                return false;      // no bounce space: a real device would register a map client
            }
            if (m.isBounce()) {
                bounced++;
            } else {
                direct++;
            }
            MemorySegment s = m.segment();
            for (long i = 0; i < m.length(); i++) {
                long pos = done + i;
                if (write) {
                    s.set(ValueLayout.JAVA_BYTE, i, pattern(pos));
                } else {
                    sum += s.get(ValueLayout.JAVA_BYTE, i) & 0xff;
                }
            }
            int r = m.unmap(m.length());
            if (r != MemTxResult.OK) {
                return false;
            }
            done += m.length();
        }
        result[0] = write ? done : sum;
        return true;
    }

    static byte pattern(long pos) {
        return (byte) ((pos * 7) ^ 0x5a);
    }
}
