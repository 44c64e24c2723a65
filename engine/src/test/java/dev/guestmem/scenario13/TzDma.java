package dev.guestmem.scenario13;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import java.lang.foreign.MemorySegment;

/**
 * A bus master (a PL080-like DMA controller) whose transfers carry the world they are made for:
 * {@link #copy} with the buffer accessors, {@link #fillByMap} and {@link #readByMap} with
 * {@code address_space_map}, which grants at most one MPC block at a time (the IOMMU page), so
 * they loop as QEMU's {@code dma_memory_rw} users do.
 */
final class TzDma {
    private final AddressSpace as;

    TzDma(AddressSpace as) {
        this.as = as;
    }

    /** Copies {@code len} bytes; the result is the ORed result of the read and the write. */
    int copy(long src, long dst, int len, MemTxAttrs attrs) {
        byte[] buf = new byte[len];
        int r = as.read(src, attrs, buf, 0, len);
        return r | as.write(dst, attrs, buf, 0, len);
    }

    /** Writes {@code len} bytes of {@code value} through mappings. */
    int fillByMap(long addr, int len, byte value, MemTxAttrs attrs) {
        int done = 0;
        while (done < len) {
            DmaMapping m = as.map(addr + done, len - done, true, attrs);
            if (m == null) {
                return MemTxResult.ERROR; // no bounce space: a real device would wait for a map client
            }
            MemorySegment seg = m.segment();
            seg.fill(value);
            int n = (int) m.length();
            int r = m.unmap(n);
            if (r != MemTxResult.OK) {
                return r;
            }
            done += n;
        }
        return MemTxResult.OK;
    }

    /** Reads {@code len} bytes through read mappings; each mapping's prefill result is ORed in. */
    int readByMap(long addr, byte[] into, MemTxAttrs attrs) {
        int done = 0;
        int result = MemTxResult.OK;
        while (done < into.length) {
            DmaMapping m = as.map(addr + done, into.length - done, false, attrs);
            if (m == null) {
                return MemTxResult.ERROR;
            }
            int n = (int) m.length();
            MemorySegment.copy(m.segment(), 0, MemorySegment.ofArray(into), done, n);
            result |= m.prefillResult();
            m.unmap(0);
            done += n;
        }
        return result;
    }
}
