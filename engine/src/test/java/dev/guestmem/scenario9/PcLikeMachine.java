package dev.guestmem.scenario9;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * A PC-like machine whose topology the test changes at random: RAM split by aliases around a PCI
 * hole, PAM segments (PCI / read-only RAM / RAM), VGA low memory, a sub-page MMIO window over RAM,
 * a flash that leaves ROMD mode when the guest writes a command, PCI BARs (MMIO and a RAM BAR) that
 * move and turn off, DIMMs plugged and unplugged, a resizeable RAM region, ioeventfds and coalesced
 * MMIO windows.
 */
final class PcLikeMachine implements AutoCloseable {
    static final long MIB = 1L << 20;
    static final long KIB = 1L << 10;
    static final long RAM_SIZE = 16 * MIB;
    static final long BELOW_4G = 12 * MIB;
    static final long HIGH = 0x1_0000_0000L;
    static final long HOLE = 0xc000_0000L;
    static final long ACPI = 0xfe00_0000L;
    static final long FLASH = 0xfffc_0000L;
    static final long DEVICE_MEMORY = 0x2_0000_0000L;
    static final long DIMM_SIZE = 2 * MIB;
    static final int DIMM_SLOTS = 4;
    static final long PAM_BASE = 0xe0000L;
    static final long PAM_SEGMENT = 16 * KIB;
    static final int PAM_SEGMENTS = 4;

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final ContainerRegion pci = new ContainerRegion(sys, null, "pci", MemoryRegion.SIZE_2_64);
    final RamRegion ram = RamRegion.allocate(sys, null, "pc.ram", RAM_SIZE);
    final RamRegion isaBios = RamRegion.allocateRom(sys, null, "isa-bios", 128 * KIB);
    final RomDeviceRegion flash;
    final RamRegion vram = RamRegion.allocate(sys, null, "vga.vram", MIB);
    final IoRegion nic = new IoRegion(sys, "nic", ignoring(), "e1000-mmio", 128 * KIB);
    final IoRegion virtio = new IoRegion(sys, "virtio", ignoring(), "virtio-notify", 16 * KIB);
    final IoRegion tiny = new IoRegion(sys, "tiny", ignoring(), "tiny-bar", 0x100);
    final RamRegion acpi;
    final ContainerRegion deviceMemory = new ContainerRegion(sys, null, "device-memory", DIMM_SLOTS * DIMM_SIZE);
    final RamRegion[] dimms = new RamRegion[DIMM_SLOTS];
    final AliasRegion[][] pam = new AliasRegion[PAM_SEGMENTS][3];
    final List<EventNotifier> doorbells = new ArrayList<>();
    final AddressSpace as;
    private int dimmCount;

    PcLikeMachine() {
        system.addSubregionOverlap(0, pci, -1);
        system.addSubregion(0, new AliasRegion(sys, null, "ram-below-4g", ram, 0, BELOW_4G));
        system.addSubregion(HIGH, new AliasRegion(sys, null, "ram-above-4g", ram, BELOW_4G, RAM_SIZE - BELOW_4G));
        pci.addSubregionOverlap(PAM_BASE, isaBios, 1);
        IoRegion vgaLow = new IoRegion(sys, "vga", ignoring(), "vga-lowmem", 128 * KIB);
        vgaLow.addCoalescing(0, 128 * KIB);
        system.addSubregionOverlap(0xa0000L, vgaLow, 1);
        // a window smaller than a page over RAM: the RAM around it keeps only whole pages in slots
        system.addSubregionOverlap(0x7f880L, new IoRegion(sys, "smi", ignoring(), "smi-window", 0x100), 2);
        for (int i = 0; i < PAM_SEGMENTS; i++) {
            long off = PAM_BASE + i * PAM_SEGMENT;
            pam[i][0] = new AliasRegion(sys, null, "pam-pci-" + i, pci, off, PAM_SEGMENT);
            pam[i][1] = new AliasRegion(sys, null, "pam-rom-" + i, ram, off, PAM_SEGMENT);
            pam[i][1].setReadonly(true);
            pam[i][2] = new AliasRegion(sys, null, "pam-ram-" + i, ram, off, PAM_SEGMENT);
            for (int m = 0; m < 3; m++) {
                pam[i][m].setEnabled(m == 0);
                system.addSubregionOverlap(off, pam[i][m], 1);
            }
        }
        flash = RomDeviceRegion.allocate(sys, "flash", MemoryRegionOps.builder()
                .read((addr, size) -> 0)
                .write((addr, data, size) -> flashCommand(data))
                .build(), "pflash", 256 * KIB);
        system.addSubregion(FLASH, flash);
        pci.addSubregion(HOLE, vram);
        nic.addCoalescing(0, 4 * KIB);
        pci.addSubregion(HOLE + 4 * MIB, nic);
        pci.addSubregion(HOLE + 5 * MIB, virtio);
        pci.addSubregion(HOLE + 6 * MIB, tiny);
        RamBlock acpiBlock = RamBlock.builder("acpi", 64 * KIB).resizeable(256 * KIB, (id, size, host) -> { }).build();
        acpi = new RamRegion(sys, null, "acpi", acpiBlock, false, false);
        acpiBlock.close(); // the region holds its own reference
        system.addSubregion(ACPI, acpi);
        system.addSubregion(DEVICE_MEMORY, deviceMemory);
        as = sys.addressSpace(system, "memory");
    }

    /** A flash command leaves ROMD mode; 0xff (read array) returns to it, as a CFI flash does. */
    private void flashCommand(long data) {
        flash.setRomd((data & 0xff) == 0xff);
    }

    private static MemoryRegionOps ignoring() {
        return MemoryRegionOps.builder().read((addr, size) -> 0).write((addr, data, size) -> { }).build();
    }

    void setPam(int segment, int mode) {
        sys.transactionBegin();
        try {
            for (int m = 0; m < 3; m++) {
                pam[segment][m].setEnabled(m == mode);
            }
        } finally {
            sys.transactionCommit();
        }
    }

    /** Moves a BAR to a random place in the hole (size aligned, possibly over another one). */
    void moveBar(Random rnd) {
        MemoryRegion bar = switch (rnd.nextInt(4)) {
            case 0 -> vram;
            case 1 -> nic;
            case 2 -> virtio;
            default -> tiny;
        };
        if (rnd.nextInt(5) == 0) {
            bar.setEnabled(!bar.isEnabled()); // the command register's memory enable
            return;
        }
        long align = Math.max(bar.size(), 0x100);
        long addr = HOLE + (rnd.nextLong(16 * MIB) & -align);
        bar.setAddress(addr);
    }

    /** Plugs a DIMM into a free slot, or unplugs one. */
    void plugOrUnplug(Random rnd) {
        int i = rnd.nextInt(DIMM_SLOTS);
        if (dimms[i] == null) {
            plug(i);
        } else {
            unplug(i);
        }
    }

    void plug(int i) {
        dimms[i] = RamRegion.allocate(sys, null, "dimm" + dimmCount++, DIMM_SIZE);
        deviceMemory.addSubregion(i * DIMM_SIZE, dimms[i]);
    }

    /** device_del: out of the map, then its creator lets go (the block is released). */
    void unplug(int i) {
        deviceMemory.delSubregion(dimms[i]);
        dimms[i].destroy();
        dimms[i] = null;
    }

    void resizeAcpi(Random rnd) {
        acpi.ramResize((1 + rnd.nextInt(256 * 2)) * 0x200L); // not always whole pages
    }

    void toggleVgaLog() {
        vram.setLog(!vram.isLogging(DirtyMemory.DIRTY_MEMORY_VGA), DirtyMemory.DIRTY_MEMORY_VGA);
    }

    /** Doorbells of the virtio BAR: offset, size (0: any write there, as virtio-pci's fast MMIO). */
    private static final long[][] DOORBELLS = {{0, 2}, {0x104, 2}, {0x2000, 0}, {0x3ffe, 2}};

    void toggleDoorbell(Random rnd) {
        if (doorbells.isEmpty() || doorbells.size() < DOORBELLS.length && rnd.nextBoolean()) {
            EventNotifier n = EventNotifier.create();
            long[] d = DOORBELLS[doorbells.size()];
            virtio.addEventfd(d[0], (int) d[1], d[1] != 0, 0, n);
            doorbells.add(n);
        } else {
            EventNotifier n = doorbells.removeLast();
            long[] d = DOORBELLS[doorbells.size()];
            virtio.delEventfd(d[0], (int) d[1], d[1] != 0, 0, n);
            n.close();
        }
    }

    void toggleCoalescing() {
        if (nic.coalescedRanges().isEmpty()) {
            nic.addCoalescing(0, 4 * KIB);
            nic.addCoalescing(64 * KIB, 0x800);
        } else {
            nic.clearCoalescing();
        }
    }

    @Override
    public void close() {
        doorbells.forEach(EventNotifier::close);
    }
}
