package dev.guestmem.scenario7;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;

/**
 * The host bridge's registers, an i440FX in miniature: {@code +0} the PAM register (two bits per
 * segment), {@code +4} SMRAM control, whose {@link #D_OPEN} bit shows SMRAM (the RAM under the legacy
 * VGA window) in the normal address space too, as QEMU's {@code smram-region} alias does when it is
 * disabled.
 */
final class Chipset {
    static final long REG_PAM = 0;
    static final long REG_SMRAM = 4;
    static final int D_OPEN = 0x40;

    private final Pam pam;
    private final MemoryRegion smramRegion;
    private final IoRegion mmio;
    private int smram;

    /**
     * @param smramRegion the alias that hides SMRAM behind the PCI space's VGA window while closed
     */
    Chipset(MemorySystem sys, Pam pam, MemoryRegion smramRegion) {
        this.pam = pam;
        this.smramRegion = smramRegion;
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size) -> addr == REG_PAM ? pam.value() & 0xffffffffL : smram())
                .write((addr, data, size) -> {
                    if (addr == REG_PAM) {
                        pam.set((int) data);
                    } else {
                        setSmram((int) data);
                    }
                })
                .valid(4, 4, false)
                .endianness(Endianness.LITTLE)
                .build();
        this.mmio = new IoRegion(sys, this, ops, "i440fx-regs", 8);
    }

    IoRegion mmio() {
        return mmio;
    }

    synchronized int smram() {
        return smram;
    }

    synchronized void setSmram(int value) {
        smram = value;
        smramRegion.setEnabled((value & D_OPEN) == 0);
    }

    /** Migration state: the PAM register, then SMRAM control. */
    int[] save() {
        return new int[] {pam.value(), smram()};
    }

    void load(int[] state) {
        pam.set(state[0]);
        setSmram(state[1]);
    }
}
