package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * An IOMMU model that notifies UNMAP before it changes its table (QEMU's {@code tz_mpc_reg_write}
 * order), from inside the guest's MMIO write that reprograms it. A vCPU that refills between the
 * event and the table write caches the old translation under the generation the event moved to; the
 * engine moves the generation once more when that MMIO write returns, so the entry is stale, by
 * every path an MMIO write takes.
 */
class UnmapInsideMmioWriteTest {
    private static final long IOMMU_BASE = 0x1000_0000L;
    private static final long REGS = 0x2000_0000L;
    private static final long OTHER = 0x2000_1000L;
    private static final long BRIDGE = 0x3000_0000L;
    private static final long PAGE_A = 0;
    private static final long PAGE_B = 0x1_0000L;
    private static final int IN_A = 0xa;
    private static final int IN_B = 0xb;
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    private final MemorySystem sys = new MemorySystem();
    private final ContainerRegion downstreamRoot = new ContainerRegion(sys, null, "downstream", -1L);
    private final AddressSpace downstream;
    /** Where IOMMU page 0 goes: PAGE_A at first; the register write sets it. */
    private volatile long base = PAGE_A;
    private final IommuRegion iommu = new IommuRegion(sys, null, "remapper", 0x1000, new IommuOps() {
        @Override
        public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            out.iova = addr & ~0xFFFL;
            out.translatedAddr = base + out.iova;
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
            out.targetAs = downstream;
        }
    });
    /** What another vCPU does between the model's UNMAP and its table write. */
    private Runnable window = () -> { };
    /** QEMU's order (notify, then the table) unless false. */
    private boolean notifyFirst = true;
    private final Object model = new Object();
    private final IoRegion regs = new IoRegion(sys, model, MemoryRegionOps.builder()
            .read((addr, size) -> base)
            .write((addr, data, size) -> reprogram(data))
            .valid(1, 4, false)
            .endianness(Endianness.LITTLE)
            .build(), "remapper-regs", 0x1000);
    private final IoRegion other = new IoRegion(sys, new Object(), MemoryRegionOps.builder()
            .read((addr, size) -> 0)
            .write((addr, data, size) -> { })
            .endianness(Endianness.LITTLE)
            .build(), "other", 0x1000);
    private final ContainerRegion regsBus = new ContainerRegion(sys, null, "regs-bus", 0x1000);
    private final AddressSpace regsSpace;
    private final ContainerRegion root = new ContainerRegion(sys, null, "cpu", -1L);
    private final AddressSpace cpu;

    UnmapInsideMmioWriteTest() {
        RamRegion ram = RamRegion.allocate(sys, null, "dram", 0x2_0000);
        ram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, PAGE_A, IN_A);
        ram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, PAGE_B, IN_B);
        downstreamRoot.addSubregion(0, ram);
        downstream = sys.addressSpace(downstreamRoot, "downstream");
        regsBus.addSubregion(0, regs);
        regsSpace = sys.addressSpace(regsBus, "regs-bus");
        // the registers at REGS, and again behind an identity IOMMU at BRIDGE (the translated store path)
        IommuRegion bridge = new IommuRegion(sys, null, "bridge", 0x1000, (addr, flag, idx, out) -> {
            out.iova = addr & ~0xFFFL;
            out.translatedAddr = out.iova;
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
            out.targetAs = regsSpace;
        });
        root.addSubregion(IOMMU_BASE, iommu);
        root.addSubregion(REGS, new AliasRegion(sys, null, "regs-alias", regsBus, 0, 0x1000));
        root.addSubregion(OTHER, other);
        root.addSubregion(BRIDGE, bridge);
        cpu = sys.addressSpace(root, "cpu");
    }

    /** The register write: the new base, with the UNMAP of the whole IOMMU before or after it. */
    private void reprogram(long newBase) {
        if (notifyFirst) {
            iommu.notifiers().notify(0, IommuNotifier.UNMAP,
                    new IommuTlbEntry(null, 0, 0, 0xFFF, IommuTlbEntry.NONE));
            window.run();
            base = newBase;
        } else {
            base = newBase;
            iommu.notifiers().notify(0, IommuNotifier.UNMAP,
                    new IommuTlbEntry(null, 0, 0, 0xFFF, IommuTlbEntry.NONE));
            window.run();
        }
    }

    /** Every way an MMIO write reaches a device. */
    enum WritePath {
        STORE, BUFFER, THROUGH_IOMMU, CACHE, REGION_DISPATCH, VCPU_TLB_STORE;

        int write(UnmapInsideMmioWriteTest t, long value) {
            return switch (this) {
                case STORE -> t.cpu.stlLe(REGS, (int) value, U);
                case BUFFER -> {
                    byte[] b = new byte[4];
                    java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.nativeOrder()).putInt((int) value);
                    yield t.cpu.write(REGS, U, b, 0, 4);
                }
                case THROUGH_IOMMU -> t.cpu.stlLe(BRIDGE, (int) value, U);
                case CACHE -> {
                    MemoryRegionCache c = new MemoryRegionCache();
                    c.init(t.cpu, REGS, 4, true);
                    try {
                        yield c.stlLe(0, (int) value);
                    } finally {
                        c.destroy();
                    }
                }
                case REGION_DISPATCH -> t.regs.dispatchWrite(0, value, 4, false, U);
                case VCPU_TLB_STORE -> {
                    try (VcpuTlb tlb = new VcpuTlb(t.cpu, U, (a, s, w, r) -> { })) {
                        tlb.enterBlock();
                        tlb.stlLe(REGS, (int) value);
                    }
                    yield MemTxResult.OK;
                }
            };
        }
    }

    @ParameterizedTest
    @EnumSource(WritePath.class)
    void anEntryFilledBetweenTheUnmapAndTheTableWriteIsStaleWhenTheWriteReturns(WritePath path) {
        TlbEntry racing = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE, U, racing)); // the TLB watches the IOMMU
        boolean[] oldAnswer = new boolean[1];
        window = () -> {
            GuestTlb.fill(cpu, IOMMU_BASE, U, racing); // another vCPU refills now: the old table
            oldAnswer[0] = racing.readDirect()
                    && racing.segment().get(ValueLayout.JAVA_INT_UNALIGNED, racing.hostOffset()) == IN_A;
        };
        assertEquals(MemTxResult.OK, path.write(this, PAGE_B));
        assertTrue(oldAnswer[0], "the refill in the window cached the old translation");
        assertNotEquals(cpu.generation(), racing.generation(), "that entry must fail the generation check");
        TlbEntry fresh = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE, U, fresh));
        assertEquals(IN_B, fresh.segment().get(ValueLayout.JAVA_INT_UNALIGNED, fresh.hostOffset()));
    }

    @Test
    void aVcpuTlbThatRefilledInTheWindowFlushesAtItsNextBlockEntry() {
        try (VcpuTlb tlb = new VcpuTlb(cpu, U, (a, s, w, r) -> { })) {
            tlb.enterBlock();
            assertEquals(IN_A, tlb.ldlLe(IOMMU_BASE));
            int[] seen = new int[1];
            window = () -> { // the vCPU enters a block and loads while the model is halfway
                tlb.enterBlock();
                seen[0] = tlb.ldlLe(IOMMU_BASE);
            };
            assertEquals(MemTxResult.OK, cpu.stlLe(REGS, (int) PAGE_B, U));
            assertEquals(IN_A, seen[0], "the window's load refilled from the old table");
            tlb.enterBlock();
            assertEquals(IN_B, tlb.ldlLe(IOMMU_BASE), "after the write: the new table");
        }
    }

    @Test
    void anotherThreadsMmioWriteReturningInTheWindowDoesNotTakeTheSecondMoveAway() {
        TlbEntry racing = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE, U, racing));
        AtomicReference<Throwable> failed = new AtomicReference<>();
        window = () -> {
            Thread t = new Thread(() -> cpu.stlLe(OTHER, 1, U), "other-vcpu");
            t.setUncaughtExceptionHandler((th, e) -> failed.set(e));
            t.start();
            try {
                t.join();
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
            GuestTlb.fill(cpu, IOMMU_BASE, U, racing);
        };
        assertEquals(MemTxResult.OK, cpu.stlLe(REGS, (int) PAGE_B, U));
        assertEquals(null, failed.get());
        assertNotEquals(cpu.generation(), racing.generation());
    }

    @Test
    void tableFirstStaysCorrect() {
        notifyFirst = false;
        TlbEntry racing = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE, U, racing));
        window = () -> GuestTlb.fill(cpu, IOMMU_BASE, U, racing);
        assertEquals(MemTxResult.OK, cpu.stlLe(REGS, (int) PAGE_B, U));
        if (racing.generation() == cpu.generation()) { // still current: then it must hold the new answer
            assertEquals(IN_B, racing.segment().get(ValueLayout.JAVA_INT_UNALIGNED, racing.hostOffset()));
        }
    }

    @Test
    void anUnmapOutsideAnyWriteDoesNotMoveTheGenerationAtOtherThreadsWrites() throws Exception {
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(cpu, IOMMU_BASE, U, e));
        CountDownLatch notified = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        Thread timer = new Thread(() -> { // a device timer: table first, then the event, outside any MMIO write
            base = PAGE_B;
            iommu.notifiers().notify(0, IommuNotifier.UNMAP, new IommuTlbEntry(null, 0, 0, 0xFFF, IommuTlbEntry.NONE));
            notified.countDown();
            try {
                done.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException ignored) {
                // ends
            }
        }, "device-timer");
        timer.start();
        try {
            assertTrue(notified.await(10, TimeUnit.SECONDS));
            long g = cpu.generation();
            for (int i = 0; i < 100; i++) {
                assertEquals(MemTxResult.OK, cpu.stlLe(OTHER, i, U));
            }
            assertEquals(g, cpu.generation(), "this thread's MMIO writes owe nothing: its TLBs keep their entries");
        } finally {
            done.countDown();
            timer.join();
        }
    }
}
