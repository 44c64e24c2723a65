package dev.guestmem.scenario13;

import static dev.guestmem.scenario13.TzBoard.MPC_REGS;
import static dev.guestmem.scenario13.TzBoard.NON_SECURE;
import static dev.guestmem.scenario13.TzBoard.SECURE;
import static dev.guestmem.scenario13.TzBoard.SSRAM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The TrustZone board's configuration changes are not topology changes: a memslot listener on
 * either CPU space hears nothing for LUT, SEC_RESP or PPC changes (the IOMMU section stays, only its
 * translations change), while the soft TLB must follow them through the IOMMU's UNMAP events. And
 * an entry filled for one world never serves the other, even in a TLB shared by both worlds.
 */
class TzListenerAndTlbTest {
    @Test
    void configurationChangesReachNoListenerButMoveTheGenerations() {
        try (TzBoard b = new TzBoard()) {
            RecordingListener ns = new RecordingListener("ns");
            RecordingListener s = new RecordingListener("s");
            b.sys.registerListener(ns, b.nsSpace);
            b.sys.registerListener(s, b.sSpace);
            assertTrue(ns.take().contains("ns: add tz-mpc-ssram-upstream @0x28000000+0x40000"));
            assertTrue(s.take().contains("s: add secure-ram @0x30000000+0x10000"));

            WorldCpu cpu = new WorldCpu(b.nsSpace, NON_SECURE, b.sSpace, SECURE);
            cpu.setWorld(WorldCpu.SECURE);
            cpu.ldl(SSRAM);                       // fills through the MPC's secure context
            cpu.setWorld(WorldCpu.NORMAL);
            cpu.ldl(SSRAM + TzBoard.BLOCK);       // and its non-secure one
            long gNs = b.nsSpace.generation();
            long gS = b.sSpace.generation();

            b.setLutWord(0, 0b10);
            b.secureWrite(MPC_REGS + TzMpc.CTRL, TzMpc.CTRL_SEC_RESP);
            b.ppc.setNonSecure(0, true);
            b.ppc.setSecResp(true);
            assertEquals(List.of(), ns.take());
            assertEquals(List.of(), s.take());
            assertNotEquals(gNs, b.nsSpace.generation(), "the UNMAP of block 1 moved the non-secure space");
            assertNotEquals(gS, b.sSpace.generation(), "and the secure one");

            // a write that changes no LUT bit sends no event and keeps the TLB
            gNs = b.nsSpace.generation();
            b.setLutWord(0, 0b10);
            assertEquals(gNs, b.nsSpace.generation());
        }
    }

    @Test
    void entriesOfOneWorldNeverServeTheOther() {
        try (TzBoard b = new TzBoard()) {
            b.setLutWord(0, 0b1);                  // block 0 non-secure, block 1 secure
            b.ssram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x0a0a);
            b.ssram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, TzBoard.BLOCK, 0x1b1b);

            // per-world TLBs (QEMU's MMU indexes)
            WorldCpu cpu = new WorldCpu(b.nsSpace, NON_SECURE, b.sSpace, SECURE);
            cpu.setWorld(WorldCpu.NORMAL);
            assertEquals(0x0a0a, cpu.ldl(SSRAM));
            assertEquals(0x0a0a, cpu.ldl(SSRAM));
            assertEquals(1, cpu.hits);
            cpu.setWorld(WorldCpu.SECURE);
            assertEquals(0, cpu.ldl(SSRAM), "the secure world is blocked from block 0");
            assertEquals(0x1b1b, cpu.ldl(SSRAM + TzBoard.BLOCK));
            cpu.setWorld(WorldCpu.NORMAL);
            assertEquals(0, cpu.ldl(SSRAM + TzBoard.BLOCK));

            // one TLB for both worlds, tagged by page only: the space's generation tells them apart
            TlbEntry shared = new TlbEntry();
            GuestTlb.fill(b.nsSpace, SSRAM, NON_SECURE, shared);
            assertTrue(shared.readDirect());
            assertTrue(shared.generation() == b.nsSpace.generation());
            assertTrue(shared.generation() != b.sSpace.generation(), "a secure lookup misses the non-secure entry");

            // one space used with both attributes (a CPU whose secure space is its non-secure one, as
            // QEMU's when the board links no secure-memory): the entry does not record the attributes,
            // so the TLB must be indexed by world, as WorldCpu is
            WorldCpu oneSpace = new WorldCpu(b.nsSpace, NON_SECURE, b.nsSpace, SECURE);
            oneSpace.setWorld(WorldCpu.NORMAL);
            assertEquals(0x0a0a, oneSpace.ldl(SSRAM));
            oneSpace.setWorld(WorldCpu.SECURE);
            assertEquals(0, oneSpace.ldl(SSRAM), "the secure entry is its own fill through the secure context");
            assertEquals(0x1b1b, oneSpace.ldl(SSRAM + TzBoard.BLOCK));

            // a LUT change takes direct entries away from the world that lost the block
            b.setLutWord(0, 0b10);                 // block 0 secure, block 1 non-secure
            assertEquals(0, oneSpace.ldl(SSRAM + TzBoard.BLOCK), "secure lost block 1: reads zero");
            oneSpace.setWorld(WorldCpu.NORMAL);
            assertEquals(0, oneSpace.ldl(SSRAM));
            assertEquals(0x1b1b, oneSpace.ldl(SSRAM + TzBoard.BLOCK));
            cpu.setWorld(WorldCpu.NORMAL);
            assertEquals(0, cpu.ldl(SSRAM));
            assertEquals(0x1b1b, cpu.ldl(SSRAM + TzBoard.BLOCK));
            cpu.setWorld(WorldCpu.SECURE);
            assertEquals(0x0a0a, cpu.ldl(SSRAM));
            assertEquals(0, cpu.ldl(SSRAM + TzBoard.BLOCK));
        }
    }
}
