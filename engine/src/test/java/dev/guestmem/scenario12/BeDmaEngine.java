package dev.guestmem.scenario12;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.time.Duration;

/**
 * A big-endian copy-and-checksum DMA engine, as a PowerPC SoC's: big-endian registers (ring base,
 * ring length, doorbell), a ring of big-endian descriptors in guest RAM that it reads and completes
 * through a {@link MemoryRegionCache} ({@code ldlBe}, {@code ldqBe}, {@code stlBe}), and payloads it
 * moves as byte buffers ({@code read}/{@code write}: no byte order). The doorbell has an ioeventfd:
 * writing {@link #KICK} (4 bytes, the CPU's order) signals a worker thread instead of running the
 * engine on the vCPU; any other value reaches the register callback, where {@link #KICK_INLINE} runs
 * the ring on the vCPU.
 *
 * <p>Descriptor, 32 bytes, big-endian: {@code u32 flags} (bit 0: owned by the device), {@code u32 len},
 * {@code u64 src}, {@code u64 dst}, {@code u32 status} (written {@code 1} when done), {@code u32 sum}
 * (written: the 32-bit sum of the payload read as big-endian words, the last one zero-padded).
 */
final class BeDmaEngine {
    static final long REG_RING = 0x0;
    static final long REG_COUNT = 0x4;
    static final long REG_DOORBELL = 0x8;
    static final int KICK = 0x00000001;
    static final int KICK_INLINE = 0x00000002;
    static final int DESC_SIZE = 32;
    static final int OWNED = 1;

    private final AddressSpace dma;
    private final IoRegion regs;
    private final EventNotifier doorbell = EventNotifier.create();
    private final MemTxResultHolder res = new MemTxResultHolder();
    private volatile long ringBase;
    private volatile int count;
    private volatile int inlineKicks;
    private volatile long processed;
    private volatile int errors;
    private Thread worker;

    BeDmaEngine(MemorySystem sys, AddressSpace dma) {
        this.dma = dma;
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> switch ((int) addr) {
                    case (int) REG_RING -> ringBase;
                    case (int) REG_COUNT -> count;
                    default -> processed;
                })
                .write((addr, data, size) -> {
                    switch ((int) addr) {
                        case (int) REG_RING -> ringBase = data;
                        case (int) REG_COUNT -> count = (int) data;
                        default -> {
                            if (data == KICK_INLINE) {
                                inlineKicks++;
                                runRing();
                            }
                        }
                    }
                })
                .valid(4, 4, false)
                .endianness(Endianness.BIG)
                .build();
        regs = new IoRegion(sys, this, ops, "be-dma", 0x100);
        regs.addEventfd(REG_DOORBELL, 4, true, KICK, doorbell); // data in the target's (big) order
    }

    IoRegion regs() {
        return regs;
    }

    EventNotifier doorbell() {
        return doorbell;
    }

    long processed() {
        return processed;
    }

    int inlineKicks() {
        return inlineKicks;
    }

    int errors() {
        return errors;
    }

    /** Serves the doorbell on its own thread until {@link #stop}. */
    void start() {
        worker = Thread.ofPlatform().name("be-dma").start(() -> {
            while (doorbell.await(Duration.ofSeconds(10))) {
                if (doorbell.testAndClear()) {
                    runRing();
                }
            }
        });
    }

    void stop() throws InterruptedException {
        regs.delEventfd(REG_DOORBELL, 4, true, KICK, doorbell);
        doorbell.close(); // wakes the worker: await answers false
        if (worker != null) {
            worker.join();
        }
    }

    /** Every owned descriptor of the ring, in order; the vCPU or the worker, never both at once. */
    private synchronized void runRing() {
        MemoryRegionCache ring = new MemoryRegionCache();
        long len = (long) count * DESC_SIZE;
        if (ring.init(dma, ringBase, len, true) < len) {
            errors++;
            ring.destroy();
            return;
        }
        try {
            for (int i = 0; i < count; i++) {
                long d = (long) i * DESC_SIZE;
                if ((ring.ldlBe(d, res) & OWNED) == 0) {
                    continue;
                }
                int n = ring.ldlBe(d + 4, res);
                long src = ring.ldqBe(d + 8, res);
                long dst = ring.ldqBe(d + 16, res);
                byte[] buf = new byte[n];
                int r = dma.read(src, MemTxAttrs.UNSPECIFIED, buf, 0, n);
                r |= dma.write(dst, MemTxAttrs.UNSPECIFIED, buf, 0, n);
                ring.stlBe(d + 28, sumBe(buf));
                ring.stlBe(d + 24, r == MemTxResult.OK ? 1 : 2);
                ring.stlBe(d, 0); // back to the CPU, last
                processed++;
            }
        } finally {
            ring.destroy();
        }
    }

    /** The sum of {@code buf} as big-endian 32-bit words, the last one zero-padded. */
    static int sumBe(byte[] buf) {
        int sum = 0;
        for (int i = 0; i < buf.length; i += 4) {
            int w = 0;
            for (int k = 0; k < 4; k++) {
                w = (w << 8) | (i + k < buf.length ? buf[i + k] & 0xff : 0);
            }
            sum += w;
        }
        return sum;
    }
}
