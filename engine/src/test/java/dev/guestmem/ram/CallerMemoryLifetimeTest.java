package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A block over caller-owned memory ({@code host(...)}, {@code ramDevice(...)}) whose caller frees
 * the memory (closes its arena) while the block lives: every access through the block fails with
 * {@link IllegalStateException} or a {@link MemTxResult}, never touches the freed memory. The
 * block's view used to drop the caller's scope: the first access killed the JVM (SIGSEGV in
 * {@code Unsafe.getIntUnaligned}, the 16 MiB having gone back to the kernel).
 */
class CallerMemoryLifetimeTest {
    private static final int SIZE = 16 << 20; // above malloc's mmap threshold: freeing unmaps it

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void freedCallerMemoryIsNeverTouched(boolean ramDevice) {
        Arena caller = Arena.ofShared();
        MemorySegment mem = caller.allocate(SIZE, 4096);
        RamBlockBuilder builder = RamBlock.builder("caller", SIZE);
        RamBlock block = (ramDevice ? builder.ramDevice(mem) : builder.host(mem)).build();
        MemorySystem sys = new MemorySystem(true);
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        root.addSubregion(0x100000, new RamRegion(sys, null, "caller", block, false, false));
        AddressSpace as = sys.addressSpace(root, "memory");
        as.stl(0x100000 + 0x1000, 0x11223344);
        assertEquals(0x11223344, block.ldlHe(0x1000));
        MemorySegment held = block.segment();

        caller.close(); // the caller frees its memory; the block still maps it into the guest

        assertThrows(IllegalStateException.class, () -> held.get(ValueLayout.JAVA_INT, 0x1000));
        assertThrows(IllegalStateException.class, () -> block.segment().set(ValueLayout.JAVA_INT, 0x1000, 1));
        assertThrows(IllegalStateException.class, () -> block.ldlHe(0x1000));
        byte[] buf = new byte[64];
        assertNotEquals(MemTxResult.OK, as.read(0x100000 + 0x1000, MemTxAttrs.UNSPECIFIED, buf, 0, buf.length));
        assertNotEquals(MemTxResult.OK, as.write(0x100000 + 0x1000, MemTxAttrs.UNSPECIFIED, buf, 0, buf.length));
        // the engine's other windows onto the memory: a TLB entry, a DMA mapping, a region cache
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, 0x100000, e);
        if (e.window().read().byteSize() > 0) {
            assertThrows(IllegalStateException.class, () -> e.window().read().get(ValueLayout.JAVA_BYTE, 0));
        }
        DmaMapping m = as.map(0x100000, 4096, true, MemTxAttrs.UNSPECIFIED);
        if (m != null) {
            if (!m.isBounce()) {
                assertThrows(IllegalStateException.class, () -> m.segment().set(ValueLayout.JAVA_BYTE, 0, (byte) 1));
            }
            m.unmap(0);
        }
        MemoryRegionCache cache = new MemoryRegionCache();
        cache.init(as, 0x100000, 4096, false);
        MemTxResultHolder res = new MemTxResultHolder();
        cache.ldlLe(0, res);
        assertFalse(res.isOk());
        cache.destroy();
        block.close();
    }

    /** The block's view has the caller's scope: memory confined to one thread would fail every other thread's access. */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void confinedCallerMemoryIsRefused(boolean ramDevice) {
        try (Arena caller = Arena.ofConfined()) {
            MemorySegment mem = caller.allocate(4096, 4096);
            RamBlockBuilder builder = RamBlock.builder("caller", 4096);
            assertThrows(InvalidRamBlockException.class, () -> (ramDevice ? builder.ramDevice(mem) : builder.host(mem)).build());
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void callerMemoryOutlivesTheBlock(boolean ramDevice) {
        try (Arena caller = Arena.ofShared()) {
            MemorySegment mem = caller.allocate(4096, 4096);
            RamBlockBuilder builder = RamBlock.builder("caller", 4096);
            RamBlock block = (ramDevice ? builder.ramDevice(mem) : builder.host(mem)).build();
            block.stqHe(0, 123);
            block.close();
            assertEquals(123, mem.get(ValueLayout.JAVA_LONG, 0), "the block frees nothing of the caller's");
        }
    }
}
