package dev.guestmem.debug;

import dev.guestmem.share.QtestClient;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * A standard VGA's legacy memory map ({@code hw/display/vga.c}), found by its {@code vga-lowmem}
 * window in the machine's own {@code info mtree}: with all planes written (SR02) and chain-4
 * (SR04 bit 3), {@code vga_update_memory_access} maps the alias {@code vga.chain4} of the
 * framebuffer at priority 2 over {@code vga-lowmem}, at 0xA0000 (128 or 64 KiB), 0xB0000 or
 * 0xB8000 as GR06's memory map says, and re-adds it on every such write. The walk writes those
 * three registers through the legacy ports (sequencer 0x3C4/0x3C5, graphics 0x3CE/0x3CF).
 *
 * @param qtest the machine's qtest connection
 */
record LiveVga(QtestClient qtest) implements LiveKnob {
    /**
     * @param qtest the machine's qtest connection
     * @param doc the machine's {@code info mtree}
     * @return its VGA, or empty if no {@code vga-lowmem} is printed
     */
    static Optional<LiveKnob> read(QtestClient qtest, MtreeDocument doc) {
        for (MtreeBlock b : doc.blocks()) {
            if (contains(b.root(), "vga-lowmem")) {
                return Optional.of(new LiveVga(qtest));
            }
        }
        return Optional.empty();
    }

    private static boolean contains(MtreeNode n, String name) {
        if (!n.isAlias() && name.equals(n.name())) {
            return true;
        }
        for (MtreeNode c : n.children()) {
            if (contains(c, name)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String name() {
        return "VGA";
    }

    @Override
    public LivePci.Write turn(SplittableRandom random, List<String> reAdded) {
        int port;
        int index;
        int value;
        switch (random.nextInt(3)) {
            case 0 -> { // SR02 plane write mask: mostly all planes
                port = 0x3C4;
                index = 2;
                value = random.nextInt(4) == 0 ? random.nextInt(16) : 0x0F;
            }
            case 1 -> { // SR04 memory mode: chain-4 mostly on
                port = 0x3C4;
                index = 4;
                value = random.nextInt(4) == 0 ? 0x06 : 0x0E;
            }
            default -> { // GR06 misc: the memory map in bits 2-3
                port = 0x3CE;
                index = 6;
                value = random.nextInt(4) << 2 | random.nextInt(2);
            }
        }
        qtest.out(1, port, index);
        qtest.out(1, port + 1, value);
        reAdded.add("vga.chain4");
        return new LivePci.Write(null, index, 1, value, (port == 0x3C4 ? "VGA SR" : "VGA GR") + " via 0x" + Integer.toHexString(port));
    }
}
