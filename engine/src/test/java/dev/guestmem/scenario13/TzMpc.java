package dev.guestmem.scenario13;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuOps;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MmioValue;

/**
 * QEMU's TrustZone memory protection controller ({@code hw/misc/tz-mpc.c}) in front of one
 * downstream region (an SRAM), written against the public API only.
 *
 * <p>The bus sees {@link #upstream()}, an IOMMU region with two contexts ({@link #IDX_S},
 * {@link #IDX_NS}, from the access's {@code secure} bit; unspecified attributes count as secure, as
 * the loader's). Per block, a bit of the lookup table says which world may pass: 1 non-secure, 0
 * secure (the reset value: everything secure). A passing access is translated into the downstream
 * space, a blocked one into a space holding only the "blocked" I/O region, which reads zero and
 * ignores writes, or answers {@code ERROR} when {@code CTRL.SEC_RESP} is set. The lookup table is
 * programmed through the MPC's own registers (a secure-only block: BLK_IDX selects a 32-bit LUT word,
 * BLK_LUT reads or writes it, auto-incrementing the index). A LUT write tells the IOMMU's notifiers,
 * per changed block, an UNMAP then a MAP for both contexts, as {@code tz_mpc_iommu_notify}.
 */
final class TzMpc {
    static final int IDX_S = 0;
    static final int IDX_NS = 1;

    static final int CTRL = 0x00;
    static final int BLK_MAX = 0x10;
    static final int BLK_CFG = 0x14;
    static final int BLK_IDX = 0x18;
    static final int BLK_LUT = 0x1c;
    static final int INT_STAT = 0x20;
    static final int INT_CLEAR = 0x24;
    static final int INT_EN = 0x28;
    static final int INT_INFO1 = 0x2c;
    static final int INT_INFO2 = 0x30;
    static final int INT_SET = 0x34;
    static final int PIDR4 = 0xfd0;
    static final int CIDR3 = 0xffc;
    static final int REGS_SIZE = 0x1000;

    static final int CTRL_SEC_RESP = 1 << 4;
    static final int CTRL_AUTOINC = 1 << 8;
    static final int CTRL_LOCKDOWN = 1 << 31;
    static final int INT_INFO2_HNONSEC = 1 << 16;
    static final int INT_INFO2_CFG_NS = 1 << 17;

    /** The ID registers (PIDR4..PIDR3, CIDR0..3), the only ones a non-secure access may see. */
    private static final int[] ID_REGS = {0x04, 0, 0, 0, 0x60, 0xb8, 0x1b, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

    private final long blockSize;
    private final int blkMax;
    private final IommuRegion upstream;
    private final IoRegion regs;
    private final AddressSpace downstreamAs;
    private final AddressSpace blockedAs;
    /** Written by the register callbacks, read by translate on any accessing thread. */
    private final int[] lut;
    private volatile int ctrl = CTRL_AUTOINC;
    private int blkIdx;
    private int intStat;
    private int intEn = 1;
    private int intInfo1;
    private int intInfo2;
    private int blockedCount;
    /** QEMU's order: notify, then update the table (see {@link #notifyChanged}); for a test only, as both are safe. */
    boolean notifyBeforeUpdate;

    /**
     * @param sys the machine
     * @param name the device name ("tz-mpc-ssram")
     * @param downstream the protected region, mapped nowhere else
     * @param blockSize bytes per LUT bit, a power of two of at least 32
     */
    TzMpc(MemorySystem sys, String name, MemoryRegion downstream, long blockSize) {
        if (blockSize < 32 || Long.bitCount(blockSize) != 1 || downstream.size() % blockSize != 0) {
            throw new IllegalArgumentException("block size " + blockSize + " for " + downstream.size() + " bytes");
        }
        this.blockSize = blockSize;
        long blocks = downstream.size() / blockSize;
        this.blkMax = (int) ((blocks + 31) / 32);
        this.lut = new int[blkMax];
        this.downstreamAs = sys.addressSpace(downstream, name + "-downstream");
        MemoryRegionOps blockedOps = MemoryRegionOps.builder()
                .readWithAttrs(this::blockedRead)
                .writeWithAttrs((addr, data, size, attrs) -> handleBlock(addr, attrs))
                .valid(1, 8, false)
                .impl(1, 8, false)
                .endianness(Endianness.LITTLE)
                .build();
        IoRegion blocked = new IoRegion(sys, this, blockedOps, name + "-blocked-io", downstream.size());
        this.blockedAs = sys.addressSpace(blocked, name + "-blocked-io");
        this.upstream = new IommuRegion(sys, this, name + "-upstream", downstream.size(), new Translation());
        MemoryRegionOps regOps = MemoryRegionOps.builder()
                .readWithAttrs(this::regRead)
                .writeWithAttrs(this::regWrite)
                .valid(1, 4, false)
                .impl(1, 4, false)
                .endianness(Endianness.LITTLE)
                .build();
        this.regs = new IoRegion(sys, this, regOps, name + "-regs", REGS_SIZE);
    }

    /** The IOMMU region the bus maps where the SRAM is. */
    IommuRegion upstream() {
        return upstream;
    }

    /** The MPC's register block. */
    IoRegion regs() {
        return regs;
    }

    long blockSize() {
        return blockSize;
    }

    int blockCount() {
        return (int) (upstream.size() / blockSize);
    }

    /** The interrupt line: a blocked access was seen and the interrupt is enabled. */
    synchronized boolean irq() {
        return intStat != 0 && intEn != 0;
    }

    /** How many accesses were blocked (every one, not only the first the INT_INFO registers keep). */
    synchronized int blockedCount() {
        return blockedCount;
    }

    /** Whether the LUT lets the non-secure world (true) or the secure world (false) into a block. */
    boolean blockIsNonSecure(long block) {
        synchronized (lut) {
            return (lut[(int) (block / 32)] >>> (block % 32) & 1) != 0;
        }
    }

    /** What {@code tz_mpc_translate} answers: the block, into the downstream or the blocked space. */
    private final class Translation implements IommuOps {
        @Override
        public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            boolean pass = blockIsNonSecure(addr / blockSize) == (iommuIdx == IDX_NS);
            out.iova = addr & ~(blockSize - 1);
            out.translatedAddr = out.iova;
            out.addrMask = blockSize - 1;
            out.perm = IommuTlbEntry.RW;
            out.targetAs = pass ? downstreamAs : blockedAs;
        }

        @Override
        public int attrsToIndex(MemTxAttrs attrs) {
            return attrs.unspecified() || attrs.secure() ? IDX_S : IDX_NS; // the loader passes as secure
        }

        @Override
        public int numIndexes() {
            return 2;
        }

        @Override
        public long minPageSize() {
            return blockSize;
        }
    }

    private int blockedRead(long addr, int size, MemTxAttrs attrs, MmioValue out) {
        out.value = 0;
        return handleBlock(addr, attrs);
    }

    /** {@code tz_mpc_handle_block}: the first blocked access since INT_CLEAR is recorded. */
    private synchronized int handleBlock(long addr, MemTxAttrs attrs) {
        blockedCount++;
        if (intStat == 0) {
            intInfo1 = (int) addr;
            intInfo2 = (attrs.requesterId() & 0xffff) | (attrs.secure() ? 0 : INT_INFO2_HNONSEC)
                    | (blockIsNonSecure(addr / blockSize) ? INT_INFO2_CFG_NS : 0);
            intStat = 1;
        }
        return (ctrl & CTRL_SEC_RESP) != 0 ? MemTxResult.ERROR : MemTxResult.OK;
    }

    private synchronized int regRead(long addr, int size, MemTxAttrs attrs, MmioValue out) {
        int offset = (int) addr & ~3;
        long r;
        if (!attrs.secure() && offset < PIDR4) {
            r = 0; // non-secure accesses see only the ID registers
        } else {
            r = switch (offset) {
                case CTRL -> ctrl;
                case BLK_MAX -> blkMax - 1;
                case BLK_CFG -> Long.numberOfTrailingZeros(blockSize) - 5;
                case BLK_IDX -> blkIdx;
                case BLK_LUT -> {
                    int v;
                    synchronized (lut) {
                        v = lut[blkIdx];
                    }
                    autoincrement(size);
                    yield v & 0xffffffffL;
                }
                case INT_STAT -> intStat;
                case INT_EN -> intEn;
                case INT_INFO1 -> intInfo1 & 0xffffffffL;
                case INT_INFO2 -> intInfo2;
                default -> offset >= PIDR4 && offset <= CIDR3 ? ID_REGS[(offset - PIDR4) / 4] : 0;
            };
        }
        out.value = size == 4 ? r : r >>> ((addr & 3) * 8) & ((1L << size * 8) - 1);
        return MemTxResult.OK;
    }

    private synchronized int regWrite(long addr, long data, int size, MemTxAttrs attrs) {
        int offset = (int) addr & ~3;
        if (!attrs.secure() && offset < PIDR4) {
            return MemTxResult.OK; // ignored, as QEMU (which logs a guest error)
        }
        long value = data;
        if (size != 4) { // byte and halfword writes merge into the register's current value
            long old = switch (offset) {
                case CTRL -> ctrl;
                case BLK_IDX -> blkIdx;
                case BLK_LUT -> lut[blkIdx] & 0xffffffffL;
                default -> 0;
            };
            int shift = (int) (addr & 3) * 8;
            long mask = ((1L << size * 8) - 1) << shift;
            value = old & ~mask | (data << shift) & mask;
        }
        if ((ctrl & CTRL_LOCKDOWN) != 0 && (offset == CTRL || offset == BLK_LUT || offset == INT_EN)) {
            return MemTxResult.OK; // locked: read-only until reset
        }
        switch (offset) {
            case CTRL -> ctrl = (int) value & (CTRL_SEC_RESP | CTRL_AUTOINC | CTRL_LOCKDOWN);
            case BLK_IDX -> blkIdx = (int) Long.remainderUnsigned(value & 0xffffffffL, blkMax); // QEMU wraps
            case BLK_LUT -> {
                int old = lut[blkIdx];
                int now = (int) value;
                if (notifyBeforeUpdate) {
                    notifyChanged(blkIdx, old, now);
                }
                synchronized (lut) {
                    lut[blkIdx] = now; // before the notifications: a notifier that translates sees the new table
                }
                if (!notifyBeforeUpdate) {
                    notifyChanged(blkIdx, old, now);
                }
                autoincrement(size);
            }
            case INT_CLEAR -> intStat = (value & 1) != 0 ? 0 : intStat;
            case INT_EN -> intEn = (int) value & 1;
            case INT_SET -> intStat = (value & 1) != 0 ? 1 : intStat;
            default -> {
                // read-only or reserved: ignored
            }
        }
        return MemTxResult.OK;
    }

    private void autoincrement(int size) {
        if (size == 4 && (ctrl & CTRL_AUTOINC) != 0) {
            blkIdx = (blkIdx + 1) % blkMax;
        }
    }

    /**
     * {@code tz_mpc_iommu_notify}: per changed block, UNMAP in both contexts, then MAP in each to
     * where its world now goes. (QEMU updates the table after notifying. Soft TLBs are safe in either
     * order, since the table changes inside the secure firmware's register write: an entry refilled
     * from the old table after the UNMAP is made stale when that write returns. The port writes the
     * table first all the same, so that a notifier that translates at once, instead of taking the
     * event's entry, finds the new table.)
     */
    private void notifyChanged(int lutIdx, int oldLut, int newLut) {
        long addr = (long) lutIdx * blockSize * 32;
        for (int i = 0; i < 32; i++, addr += blockSize) {
            if (((oldLut ^ newLut) >>> i & 1) == 0) {
                continue;
            }
            boolean ns = (newLut >>> i & 1) != 0;
            IommuTlbEntry unmap = new IommuTlbEntry(null, addr, addr, blockSize - 1, IommuTlbEntry.NONE);
            upstream.notifiers().notify(IDX_S, IommuNotifier.UNMAP, unmap);
            upstream.notifiers().notify(IDX_NS, IommuNotifier.UNMAP, unmap);
            upstream.notifiers().notify(IDX_S, IommuNotifier.MAP,
                    new IommuTlbEntry(ns ? blockedAs : downstreamAs, addr, addr, blockSize - 1, IommuTlbEntry.RW));
            upstream.notifiers().notify(IDX_NS, IommuNotifier.MAP,
                    new IommuTlbEntry(ns ? downstreamAs : blockedAs, addr, addr, blockSize - 1, IommuTlbEntry.RW));
        }
    }

    AddressSpace downstreamAs() {
        return downstreamAs;
    }

    AddressSpace blockedAs() {
        return blockedAs;
    }
}
