package dev.guestmem.scenario13;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;

/**
 * The SMRAM part of QEMU's q35 host bridge ({@code hw/pci-host/q35.c}): its PCI configuration bytes
 * SMRAM (0x9d) and ESMRAMC (0x9e) with QEMU's write masks, and the regions {@code mch_update_smram}
 * enables: "smram-region" (the PCI space, the VGA window, over the RAM at 0xa0000), "smram-open-high"
 * (RAM at 0xfeda0000 while D_OPEN with H_SMRAME), the "smram" container for the SMM space
 * ("smram-low", "smram-high", "tseg-window"), and "tseg-blackhole", which hides TSEG from
 * non-SMM accesses (reads all ones, drops writes). PAM and SMBASE are not modelled: their bytes are
 * read-only here.
 */
final class Q35Mch {
    static final int SMRAM = 0x9d;
    static final int ESMRAMC = 0x9e;
    static final int D_OPEN = 1 << 6;
    static final int D_CLS = 1 << 5;
    static final int D_LCK = 1 << 4;
    static final int G_SMRAME = 1 << 3;
    static final int C_BASE_SEG = 0x2;
    static final int SMRAM_WMASK = D_OPEN | D_CLS | D_LCK | G_SMRAME;
    static final int SMRAM_WMASK_LCK = D_CLS;
    static final int H_SMRAME = 1 << 7;
    static final int SM_CACHE = 1 << 5;
    static final int SM_L1 = 1 << 4;
    static final int SM_L2 = 1 << 3;
    static final int TSEG_SZ_MASK = 3 << 1;
    static final int TSEG_1M = 0;
    static final int TSEG_2M = 1 << 1;
    static final int TSEG_8M = 2 << 1;
    static final int TSEG_EXT = 3 << 1;
    static final int T_EN = 1;
    static final int ESMRAMC_WMASK = H_SMRAME | TSEG_SZ_MASK | T_EN;
    static final long SMRAM_C_BASE = 0xa0000;
    static final long SMRAM_C_SIZE = 0x20000;
    static final long SMRAM_H_BASE = 0xfeda0000L;
    /** QEMU's {@code mch->ext_tseg_mbytes} default: what TSEG_SZ 3 selects. */
    static final long EXT_TSEG_BYTES = 16L << 20;

    final byte[] config = new byte[256];
    final byte[] wmask = new byte[256];
    private final long below4g;
    private final MemoryRegion system;
    final AliasRegion smramRegion;
    final AliasRegion openHighSmram;
    final ContainerRegion smram;
    final AliasRegion lowSmram;
    final AliasRegion highSmram;
    final AliasRegion tsegWindow;
    final IoRegion tsegBlackhole;
    private long tsegSize;

    Q35Mch(MemorySystem sys, MemoryRegion system, MemoryRegion pci, RamRegion ram, long below4g) {
        this.system = system;
        this.below4g = below4g;
        config[0] = (byte) 0x86; // Intel
        config[1] = (byte) 0x80;
        config[2] = (byte) 0xc0; // 82G33/Q35 MCH
        config[3] = (byte) 0x29;
        config[SMRAM] = C_BASE_SEG;
        config[ESMRAMC] = SM_CACHE | SM_L1 | SM_L2;
        wmask[SMRAM] = SMRAM_WMASK;
        wmask[ESMRAMC] = (byte) ESMRAMC_WMASK;

        smramRegion = new AliasRegion(sys, this, "smram-region", pci, SMRAM_C_BASE, SMRAM_C_SIZE);
        system.addSubregionOverlap(SMRAM_C_BASE, smramRegion, 1);
        openHighSmram = new AliasRegion(sys, this, "smram-open-high", ram, SMRAM_C_BASE, SMRAM_C_SIZE);
        openHighSmram.setEnabled(false);
        system.addSubregionOverlap(SMRAM_H_BASE, openHighSmram, 1);

        smram = new ContainerRegion(sys, this, "smram", 1L << 32);
        lowSmram = new AliasRegion(sys, this, "smram-low", ram, SMRAM_C_BASE, SMRAM_C_SIZE);
        lowSmram.setEnabled(false);
        smram.addSubregion(SMRAM_C_BASE, lowSmram);
        highSmram = new AliasRegion(sys, this, "smram-high", ram, SMRAM_C_BASE, SMRAM_C_SIZE);
        highSmram.setEnabled(false);
        smram.addSubregion(SMRAM_H_BASE, highSmram);

        MemoryRegionOps blackhole = MemoryRegionOps.builder()
                .read((addr, size) -> 0xffffffffL)
                .write((addr, data, size) -> { })
                .valid(1, 4, false)
                .impl(4, 4, false)
                .endianness(Endianness.LITTLE)
                .build();
        tsegBlackhole = new IoRegion(sys, this, blackhole, "tseg-blackhole", 0);
        tsegBlackhole.setEnabled(false);
        system.addSubregionOverlap(below4g, tsegBlackhole, 1);
        tsegWindow = new AliasRegion(sys, this, "tseg-window", ram, below4g, 0);
        tsegWindow.setEnabled(false);
        smram.addSubregion(below4g, tsegWindow);
    }

    int smramByte() {
        return config[SMRAM] & 0xff;
    }

    int esmramcByte() {
        return config[ESMRAMC] & 0xff;
    }

    long tsegSize() {
        return tsegSize;
    }

    /** {@code pci_default_write_config} then {@code mch_write_config}: {@code len} bytes at {@code addr}. */
    void writeConfig(int addr, long value, int len) {
        for (int i = 0; i < len && addr + i < 256; i++) {
            int w = wmask[addr + i] & 0xff;
            config[addr + i] = (byte) (config[addr + i] & ~w | (int) (value >>> (8 * i)) & w);
        }
        if (addr <= ESMRAMC && addr + len > SMRAM) {
            updateSmram();
        }
    }

    long readConfig(int addr, int len) {
        long v = 0;
        for (int i = 0; i < len && addr + i < 256; i++) {
            v |= (config[addr + i] & 0xffL) << (8 * i);
        }
        return v;
    }

    /** {@code mch_update_smram}: one transaction, as QEMU's. */
    private void updateSmram() {
        boolean hSmrame = (esmramcByte() & H_SMRAME) != 0;
        if ((smramByte() & D_LCK) != 0) {
            config[SMRAM] = (byte) (smramByte() & ~D_OPEN);
            wmask[SMRAM] = SMRAM_WMASK_LCK;
            wmask[ESMRAMC] = 0;
        }
        MemorySystem sys = system.system();
        sys.transactionBegin();
        try {
            if ((smramByte() & D_OPEN) != 0) {
                smramRegion.setEnabled(hSmrame);    // hide the low SMRAM... unless H_SMRAME moves it up
                openHighSmram.setEnabled(hSmrame);
            } else {
                smramRegion.setEnabled(true);
                openHighSmram.setEnabled(false);
            }
            boolean g = (smramByte() & G_SMRAME) != 0;
            lowSmram.setEnabled(g && !hSmrame);
            highSmram.setEnabled(g && hSmrame);

            long size = 0;
            if ((esmramcByte() & T_EN) != 0 && g) {
                size = switch (esmramcByte() & TSEG_SZ_MASK) {
                    case TSEG_1M -> 1L << 20;
                    case TSEG_2M -> 2L << 20;
                    case TSEG_8M -> 8L << 20;
                    default -> EXT_TSEG_BYTES;
                };
            }
            tsegSize = size;
            system.delSubregion(tsegBlackhole);
            tsegBlackhole.setEnabled(size != 0);
            tsegBlackhole.setSize(size);
            system.addSubregionOverlap(below4g - size, tsegBlackhole, 1);
            tsegWindow.setEnabled(size != 0);
            tsegWindow.setSize(size);
            tsegWindow.setAddress(below4g - size);
            tsegWindow.setAliasOffset(below4g - size);
        } finally {
            sys.transactionCommit();
        }
    }
}
