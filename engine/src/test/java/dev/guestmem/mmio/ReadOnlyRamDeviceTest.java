package dev.guestmem.mmio;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.RamRegion;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/**
 * A guest write to a RAM device over read-only host memory (a BAR the host maps {@code PROT_READ},
 * {@code ramDevice(seg).readOnly()}): the store cannot happen, and it is answered like a write to
 * ROM, {@code DECODE_ERROR} (QEMU's {@code unassigned_mem_accepts} refusal). It was {@code ERROR}
 * with an exception's stack trace logged per guest write (the store threw on the read-only segment):
 * a guest looping on it flooded the log.
 */
class ReadOnlyRamDeviceTest {
    @Test
    void aGuestWriteIsRefusedQuietlyAndTheBytesStay() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment host = arena.allocate(0x1000, 0x1000);
            host.set(ValueLayout.JAVA_INT_UNALIGNED, 0x10, 0x11223344);
            MemorySystem sys = new MemorySystem();
            ContainerRegion root = new ContainerRegion(sys, null, "system", -1L);
            RamBlock block = RamBlock.builder("bar", 0x1000).ramDevice(host.asReadOnly()).readOnly().build();
            root.addSubregion(0x8000, new RamRegion(sys, null, "bar", block, false, true));
            AddressSpace as = sys.addressSpace(root, "memory");
            for (int i = 0; i < 100; i++) {
                assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(0x8010, 0x55667788));
            }
            assertEquals(0x11223344, as.ldlLe(0x8010), "the read still works");
            assertEquals(0x11223344, host.get(ValueLayout.JAVA_INT_UNALIGNED, 0x10));
        }
    }
}
