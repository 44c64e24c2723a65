package dev.guestmem.scenario7;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.util.ArrayList;
import java.util.List;

/**
 * PAM shadowing of {@code [BASE, BASE + SEGMENTS * SEGMENT)} as QEMU's {@code hw/pci-host/pam.c} lays
 * it out: per segment four aliases at priority 1 over the RAM below, one of them enabled at a time.
 * Mode 0 reads and writes the PCI space (the ROMs: writes to ROM are dropped), mode 1 reads RAM with
 * writes dropped (a read-only alias), mode 2 reads the PCI space and writes RAM, mode 3 is plain RAM.
 * QEMU approximates mode 2 by RAM; here it is an MMIO region forwarding reads to the PCI space and
 * writes to RAM.
 */
final class Pam {
    static final long BASE = 0xc0000;
    static final long SEGMENT = 16 * 1024;
    static final int SEGMENTS = 16;
    static final int ROM_ONLY = 0;
    static final int RAM_READ_ONLY = 1;
    static final int READ_ROM_WRITE_RAM = 2;
    static final int RAM = 3;

    private final List<MemoryRegion[]> aliases = new ArrayList<>();
    private final MemorySystem sys;
    private int value; // 2 bits per segment

    /**
     * @param pci the PCI space (ROMs) the segments show in modes 0 and 2
     * @param ram the RAM region the segments shadow
     * @param romReads an address space over {@code pci}, for mode 2 reads
     * @param ramWrites an address space over {@code ram}, for mode 2 writes (logged as guest writes)
     */
    Pam(MemorySystem sys, Object owner, MemoryRegion system, MemoryRegion pci, MemoryRegion ram,
            AddressSpace romReads, AddressSpace ramWrites) {
        this.sys = sys;
        sys.transactionBegin();
        try {
            for (int i = 0; i < SEGMENTS; i++) {
                long start = BASE + i * SEGMENT;
                MemoryRegion[] a = new MemoryRegion[4];
                a[ROM_ONLY] = new AliasRegion(sys, owner, "pam-pci", pci, start, SEGMENT);
                a[RAM_READ_ONLY] = new AliasRegion(sys, owner, "pam-rom", ram, start, SEGMENT);
                a[RAM_READ_ONLY].setReadonly(true);
                a[READ_ROM_WRITE_RAM] = new IoRegion(sys, owner, writeThrough(start, romReads, ramWrites),
                        "pam-we", SEGMENT);
                a[RAM] = new AliasRegion(sys, owner, "pam-ram", ram, start, SEGMENT);
                for (MemoryRegion r : a) {
                    r.setEnabled(false);
                    system.addSubregionOverlap(start, r, 1);
                }
                a[ROM_ONLY].setEnabled(true);
                aliases.add(a);
            }
        } finally {
            sys.transactionCommit();
        }
    }

    private static MemoryRegionOps writeThrough(long start, AddressSpace romReads, AddressSpace ramWrites) {
        return MemoryRegionOps.builder()
                .read((addr, size) -> switch (size) {
                    case 1 -> romReads.ldub(start + addr);
                    case 2 -> romReads.lduwLe(start + addr);
                    case 4 -> romReads.ldlLe(start + addr) & 0xffffffffL;
                    default -> romReads.ldqLe(start + addr);
                })
                .write((addr, data, size) -> {
                    switch (size) {
                        case 1 -> ramWrites.stb(start + addr, (int) data);
                        case 2 -> ramWrites.stwLe(start + addr, (int) data);
                        case 4 -> ramWrites.stlLe(start + addr, (int) data);
                        default -> ramWrites.stqLe(start + addr, data);
                    }
                })
                .valid(1, 8, true)
                .endianness(Endianness.LITTLE)
                .build();
    }

    /** The register: two bits per segment, segment 0 in bits 0-1. */
    synchronized int value() {
        return value;
    }

    /** {@code pam_update} for every segment whose mode changes, in one transaction. */
    synchronized void set(int newValue) {
        sys.transactionBegin();
        try {
            for (int i = 0; i < SEGMENTS; i++) {
                int from = mode(value, i);
                int to = mode(newValue, i);
                if (from != to) {
                    aliases.get(i)[from].setEnabled(false);
                    aliases.get(i)[to].setEnabled(true);
                }
            }
            value = newValue;
        } finally {
            sys.transactionCommit();
        }
    }

    static int mode(int value, int segment) {
        return (value >>> (2 * segment)) & 3;
    }

    static int with(int value, int segment, int mode) {
        return (value & ~(3 << (2 * segment))) | (mode << (2 * segment));
    }

    /** Every region PAM made, for the teardown. */
    List<MemoryRegion> regions() {
        List<MemoryRegion> all = new ArrayList<>();
        aliases.forEach(a -> all.addAll(List.of(a)));
        return all;
    }
}
