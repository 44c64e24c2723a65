package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.MemoryRegionSection;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A memory listener that closes the shared machine while it hears a plug (a device model shutting
 * the machine down on a refused region): the close runs inside the plug's commit, on the same thread,
 * re-entering its locks. The plug then went on adding its region and block to the closed machine's
 * lists, which nothing would tear down again: the plugged block stayed mapped for good. Now the plug
 * sees the machine closed under it, gives back what it made, and says so.
 */
class CloseDuringPlugTest {
    private static final long MIB = 1L << 20;

    @Test
    void aCloseFromAListenerDuringAPlugLeavesNoBlockMapped() {
        SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, MIB)));
        MemorySystem sys = m.addressSpace().system();
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                if (s.region().name().equals("dimm0")) {
                    m.close();
                }
            }
        }, null);
        RamBlock dimm = RamBlock.anonymous("dimm0", 2 * MIB);
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> m.plug(new SharedRamRegion("dimm0", 0x100000000L, 2 * MIB), dimm));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        dimm.close(); // the creator's reference: the last one, if the machine gave its own back
        assertTrue(dimm.isReleased(), "the plugged block is still mapped after the machine closed");
        assertEquals(List.of(), m.layout().stream().filter(r -> r.name().equals("dimm0")).toList());
    }
}
