package dev.guestmem.discard;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A small machine for the discard tests: a 2^64 system container, a 16-block RAM region with a
 * {@link BitmapRamDiscardManager} attached before it is mapped at {@link #gpa}, and one address space.
 * Plus a listener that records what it hears.
 */
final class DiscardMachine implements AutoCloseable {
    static final long BLK = 64 << 10;
    static final int BLOCKS = 16;
    static final long SIZE = BLOCKS * BLK;

    final MemorySystem sys = new MemorySystem();
    final ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion mem;
    final BitmapRamDiscardManager vmem;
    final AddressSpace as;
    final long gpa;

    DiscardMachine(long gpa) {
        this.gpa = gpa;
        mem = RamRegion.allocate(sys, null, "vmem0", SIZE);
        vmem = BitmapRamDiscardManager.attach(mem, BLK);
        root.addSubregion(gpa, mem);
        as = sys.addressSpace(root, "memory");
    }

    DiscardMachine() {
        this(0x1_0000_0000L);
    }

    /** The section a flat view would give for {@code [off, off + len)} of the region. */
    MemoryRegionSection section(long off, long len) {
        return new MemoryRegionSection(mem, as.currentMap(), off, len, gpa + off, false, false, false);
    }

    /** Writes {@code v} to every byte of a region range through the block's segment. */
    void fill(long off, long len, byte v) {
        mem.ramBlock().segment().asSlice(off, len).fill(v);
    }

    /** Reads a byte at a region offset through the address space (the guest's view). */
    byte guestByte(long off) {
        byte[] b = new byte[1];
        int r = as.read(gpa + off, MemTxAttrs.UNSPECIFIED, b, 0, 1);
        if (r != MemTxResult.OK) {
            throw new AssertionError("read at 0x" + Long.toHexString(gpa + off) + " answered " + r);
        }
        return b[0];
    }

    /** Whether every byte of a region range is zero (read through the block's segment). */
    boolean zero(long off, long len) {
        var seg = mem.ramBlock().segment();
        for (long i = 0; i < len; i += 8) {
            if (seg.get(ValueLayout.JAVA_LONG_UNALIGNED, off + i) != 0) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void close() {
        root.delSubregion(mem);
        detachAndDestroy(mem);
    }

    /**
     * Destroys an unmapped region, first taking its bitmap manager off (listeners unregistered,
     * then {@code detach}: virtio-mem's unrealize, before the memory goes).
     */
    static void detachAndDestroy(RamRegion mem) {
        if (mem.ramDiscardManager() instanceof BitmapRamDiscardManager m) {
            for (RamDiscardListener l : m.listeners()) {
                m.unregisterListener(l);
            }
            m.detach();
        }
        mem.destroy();
    }

    /** A listener that records "P"/"D" events as {@code name:P off+size@addr}. */
    static final class Recorder implements RamDiscardListener {
        final String name;
        final boolean doubleDiscard;
        final List<String> events;
        /** Run in notifyPopulate before recording; may throw to refuse. */
        java.util.function.Consumer<MemoryRegionSection> onPopulate = s -> { };
        /** Run in notifyDiscard before recording. */
        java.util.function.Consumer<MemoryRegionSection> onDiscard = s -> { };

        Recorder(String name, boolean doubleDiscard, List<String> events) {
            this.name = name;
            this.doubleDiscard = doubleDiscard;
            this.events = events;
        }

        Recorder(String name) {
            this(name, false, new ArrayList<>());
        }

        @Override
        public void notifyPopulate(MemoryRegionSection s) {
            onPopulate.accept(s);
            events.add(name + ":P " + fmt(s));
        }

        @Override
        public void notifyDiscard(MemoryRegionSection s) {
            onDiscard.accept(s);
            events.add(name + ":D " + fmt(s));
        }

        @Override
        public boolean doubleDiscardSupported() {
            return doubleDiscard;
        }

        @Override
        public String toString() {
            return "Recorder[" + name + "]";
        }
    }

    static String fmt(MemoryRegionSection s) {
        return Long.toHexString(s.offsetWithinRegion()) + "+" + Long.toHexString(s.size()) + "@"
                + Long.toHexString(s.offsetWithinAddressSpace());
    }
}
