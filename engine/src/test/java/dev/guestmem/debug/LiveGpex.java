package dev.guestmem.debug;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a generic PCIe host (QEMU's gpex, on Arm's and RISC-V's {@code virt}) shows of its buses,
 * read from the machine's own {@code info mtree}: where its ECAM is (the alias {@code pcie-ecam}),
 * and which bus addresses its windows map into system memory (the aliases of
 * {@code gpex_mmio_window}, {@code pcie-mmio} and {@code pcie-mmio-high}, and the I/O window
 * {@code gpex_ioport_window}, mapped whole). The host has no port I/O: a BAR shows only through a
 * window, clipped to it.
 *
 * @param ecam the guest-physical address of bus 0's configuration space
 * @param memory the memory windows, as bus addresses
 * @param io the I/O window, as I/O port addresses
 */
record LiveGpex(long ecam, List<Window> memory, Window io) {
    /** Bus addresses {@code first..last}, inclusive, shown in system memory from {@code cpu} on. */
    record Window(long first, long last, long cpu) {
        long size() {
            return last - first + 1;
        }

        /** @return whether a 32-bit BAR can reach into it */
        boolean below4g() {
            return Long.compareUnsigned(first, 0x1_0000_0000L) < 0;
        }
    }

    /**
     * @param doc a machine's {@code info mtree} (any dialect)
     * @return its gpex's facts, or empty if its system memory has no {@code pcie-ecam} (not a gpex machine)
     */
    static Optional<LiveGpex> read(MtreeDocument doc) {
        MtreeNode system = doc.addressSpace("memory").orElse(null);
        if (system == null) {
            return Optional.empty();
        }
        Long ecam = null;
        List<Window> memory = new ArrayList<>();
        Window io = null;
        for (MtreeNode n : system.children()) {
            if (n.isAlias() && n.name().equals("pcie-ecam")) {
                ecam = n.start() - n.alias().targetStart();
            } else if (n.isAlias() && n.alias().target().equals("gpex_mmio_window")) {
                memory.add(new Window(n.alias().targetStart(), n.alias().targetEnd(), n.start()));
            } else if (n.isAlias() && n.alias().target().equals("gpex_ioport_window")) {
                io = new Window(n.alias().targetStart(), n.alias().targetEnd(), n.start());
            } else if (!n.isAlias() && n.name().equals("gpex_ioport_window")) {
                io = new Window(0, n.end() - n.start(), n.start());
            }
        }
        if (ecam == null || memory.isEmpty() || io == null) {
            return Optional.empty();
        }
        return Optional.of(new LiveGpex(ecam, List.copyOf(memory), io));
    }

    /** @return the memory windows and the I/O window */
    List<Window> windows() {
        List<Window> all = new ArrayList<>(memory);
        all.add(io);
        return all;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(String.format("ECAM @%x, windows", ecam));
        for (Window w : memory) {
            s.append(String.format(" %x-%x", w.first(), w.last()));
        }
        return s.append(String.format(", I/O %x-%x", io.first(), io.last())).toString();
    }
}
