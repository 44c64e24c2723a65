package dev.guestmem.scenario12;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.ioeventfd.Ioeventfd;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The big-endian CPU drives the big-endian DMA engine: it builds a ring of big-endian descriptors and
 * payloads in RAM through its soft TLB, programs the engine with the unsuffixed (target-order) stores,
 * and rings the doorbell. The doorbell's ioeventfd was added with data {@code 1} in the target's
 * order, so the CPU's {@code stl(doorbell, 1)} signals the worker and never reaches the register
 * callback; a byte-reversed store of the same value ({@code stwbrx}) is another value for the
 * device and does reach it. The engine reads descriptors with {@code MemoryRegionCache.ldlBe/ldqBe},
 * moves payloads as byte buffers and writes its big-endian completion words; the oracle is the sum
 * of the words the CPU stored.
 */
class BeBoardDmaTest {
    private static final long RING = 0x10000;
    private static final long PAYLOAD = 0x20000;
    private static final long COPY = 0x40000;
    private static final int DESCRIPTORS = 8;

    @Test
    void theDoorbellKicksTheWorkerAndTheRingCompletesInBigEndian() throws Exception {
        try (BeBoard b = new BeBoard()) {
            BeCpu cpu = new BeCpu(b.memory);
            Random rnd = new Random(12);
            int[] sums = new int[DESCRIPTORS];
            int[] lens = new int[DESCRIPTORS];
            for (int d = 0; d < DESCRIPTORS; d++) {
                lens[d] = 4 * (1 + rnd.nextInt(64)); // whole words: the sum is the words' sum
                long src = PAYLOAD + d * 0x1000L;
                for (int w = 0; w < lens[d] / 4; w++) {
                    int word = rnd.nextInt();
                    cpu.store(src + 4L * w, 4, word, false);
                    sums[d] += word;
                }
                long desc = RING + (long) d * BeDmaEngine.DESC_SIZE;
                cpu.store(desc + 4, 4, lens[d], false);
                cpu.store(desc + 8, 8, src, false);
                cpu.store(desc + 16, 8, COPY + d * 0x1000L, false);
                cpu.store(desc + 24, 8, 0, false);
                cpu.store(desc, 4, BeDmaEngine.OWNED, false); // handed over last
            }
            List<Ioeventfd> fds = b.sys.ioeventfds(b.memory);
            assertEquals(1, fds.size());
            assertEquals(BeBoard.DMA + BeDmaEngine.REG_DOORBELL, fds.get(0).addr());
            assertEquals(BeDmaEngine.KICK, fds.get(0).data(), "big-endian device, big-endian target: no swap");

            b.dma.start();
            try {
                assertEquals(MemTxResult.OK, b.memory.stl(BeBoard.DMA + BeDmaEngine.REG_RING, (int) RING));
                assertEquals(MemTxResult.OK, b.memory.stl(BeBoard.DMA + BeDmaEngine.REG_COUNT, DESCRIPTORS));
                assertEquals((int) RING, b.memory.ldlBe(BeBoard.DMA + BeDmaEngine.REG_RING));
                assertEquals(MemTxResult.OK, b.memory.stl(BeBoard.DMA + BeDmaEngine.REG_DOORBELL, BeDmaEngine.KICK));
                awaitProcessed(b, DESCRIPTORS);
                assertEquals(0, b.dma.inlineKicks());
                for (int d = 0; d < DESCRIPTORS; d++) {
                    long desc = RING + (long) d * BeDmaEngine.DESC_SIZE;
                    assertEquals(0, cpu.load(desc, 4, false), "descriptor " + d + " handed back");
                    assertEquals(1, cpu.load(desc + 24, 4, false), "status " + d);
                    assertEquals(Integer.toUnsignedLong(sums[d]), cpu.load(desc + 28, 4, false), "sum " + d);
                    assertEquals(sums[d], b.memory.ldl(desc + 28), "the unsuffixed load is big-endian too");
                    assertArrayEquals(bytes(b, PAYLOAD + d * 0x1000L, lens[d]), bytes(b, COPY + d * 0x1000L, lens[d]));
                }

                // the same value stored byte-reversed is 0x01000000 for the device: no match, the callback
                // gets it (and ignores it); the inline kick value runs the ring on this thread
                cpu.store(RING, 4, BeDmaEngine.OWNED, false);
                assertEquals(MemTxResult.OK, b.memory.stlLe(BeBoard.DMA + BeDmaEngine.REG_DOORBELL, BeDmaEngine.KICK));
                Thread.sleep(50);
                assertEquals(DESCRIPTORS, b.dma.processed(), "a byte-reversed kick matched the eventfd");
                assertEquals(MemTxResult.OK, b.memory.stl(BeBoard.DMA + BeDmaEngine.REG_DOORBELL, BeDmaEngine.KICK_INLINE));
                assertEquals(DESCRIPTORS + 1, b.dma.processed());
                assertEquals(1, b.dma.inlineKicks());
                assertEquals(0, b.dma.errors());
            } finally {
                b.dma.stop();
            }
        }
    }

    private static void awaitProcessed(BeBoard b, long n) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (b.dma.processed() < n && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(n, b.dma.processed(), "the worker ran the ring");
    }

    private static byte[] bytes(BeBoard b, long addr, int n) {
        byte[] out = new byte[n];
        assertEquals(MemTxResult.OK, b.memory.read(addr, MemTxAttrs.UNSPECIFIED, out, 0, n));
        return out;
    }
}
