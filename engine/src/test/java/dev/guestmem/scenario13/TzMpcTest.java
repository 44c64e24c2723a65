package dev.guestmem.scenario13;

import static dev.guestmem.scenario13.TzBoard.MPC_REGS;
import static dev.guestmem.scenario13.TzBoard.NON_SECURE;
import static dev.guestmem.scenario13.TzBoard.SECURE;
import static dev.guestmem.scenario13.TzBoard.SSRAM;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.iommu.IommuNotifier;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The MPC as the secure firmware programs it: its registers, the lookup table's effect on each
 * world, the blocked response (RAZ/WI or ERROR), the interrupt registers, the IOMMU events a LUT
 * write sends, and bad register accesses, which change nothing, as in QEMU.
 */
class TzMpcTest {
    private final MemTxResultHolder res = new MemTxResultHolder();

    private int sreg(TzBoard b, int off) {
        int v = b.sSpace.ldlLe(MPC_REGS + off, SECURE, res);
        assertEquals(MemTxResult.OK, res.get());
        return v;
    }

    @Test
    void resetStateEverythingSecureBlockedNonSecureReadsZero() {
        try (TzBoard b = new TzBoard()) {
            assertEquals(1, sreg(b, TzMpc.BLK_MAX), "64 blocks: two LUT words, BLK_MAX is the last index");
            assertEquals(7, sreg(b, TzMpc.BLK_CFG), "4 KiB blocks: log2(4096 / 32)");
            assertEquals(TzMpc.CTRL_AUTOINC, sreg(b, TzMpc.CTRL));
            assertEquals(MemTxResult.OK, b.sSpace.stlLe(SSRAM + 0x10, 0x5ec0de, SECURE));
            assertEquals(0x5ec0de, b.sSpace.ldlLe(SSRAM + 0x10, SECURE, res));
            assertEquals(0x5ec0de, b.ssram.ramBlock().segment().get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0x10));

            // the non-secure world: reads zero, its write is dropped, no error (SEC_RESP clear)
            assertEquals(0, b.nsSpace.ldlLe(SSRAM + 0x10, NON_SECURE, res));
            assertEquals(MemTxResult.OK, res.get());
            assertEquals(MemTxResult.OK, b.nsSpace.stlLe(SSRAM + 0x10, 0xbad, NON_SECURE));
            assertEquals(0x5ec0de, b.sSpace.ldlLe(SSRAM + 0x10, SECURE, res));
            assertTrue(b.mpc.irq());
            assertEquals(1, sreg(b, TzMpc.INT_STAT));
            assertEquals(0x10, sreg(b, TzMpc.INT_INFO1), "the first blocked access is recorded");
            assertEquals(TzMpc.INT_INFO2_HNONSEC, sreg(b, TzMpc.INT_INFO2));

            // SEC_RESP: the blocked access is a bus error
            b.secureWrite(MPC_REGS + TzMpc.CTRL, TzMpc.CTRL_AUTOINC | TzMpc.CTRL_SEC_RESP);
            assertEquals(0, b.nsSpace.ldlLe(SSRAM + 0x20, NON_SECURE, res));
            assertEquals(MemTxResult.ERROR, res.get());
            assertEquals(MemTxResult.ERROR, b.nsSpace.stlLe(SSRAM + 0x20, 1, NON_SECURE));
            assertEquals(0x10, sreg(b, TzMpc.INT_INFO1), "kept until INT_CLEAR");
            b.secureWrite(MPC_REGS + TzMpc.INT_CLEAR, 1);
            assertFalse(b.mpc.irq());
            b.nsSpace.ldlLe(SSRAM + 0x1234, NON_SECURE, res);
            assertEquals(0x1234, sreg(b, TzMpc.INT_INFO1));
        }
    }

    @Test
    void lutBitsLetOneWorldOrTheOtherIntoEachBlock() {
        try (TzBoard b = new TzBoard()) {
            b.setLutWord(0, 0b0101);           // blocks 0 and 2 non-secure
            b.setLutWord(1, 1 << 31);          // block 63 non-secure
            assertEquals(0, sreg(b, TzMpc.BLK_IDX), "BLK_LUT write auto-incremented 1 -> 0 (wraps)");
            long[] blocks = {0, 1, 2, 3, 62, 63};
            boolean[] ns = {true, false, true, false, false, true};
            for (int i = 0; i < blocks.length; i++) {
                long a = SSRAM + blocks[i] * TzBoard.BLOCK + 0x40;
                AddressSpace mine = ns[i] ? b.nsSpace : b.sSpace;
                AddressSpace other = ns[i] ? b.sSpace : b.nsSpace;
                int v = 0x1000 + i;
                assertEquals(MemTxResult.OK, mine.stlLe(a, v, ns[i] ? NON_SECURE : SECURE), "block " + blocks[i]);
                assertEquals(v, mine.ldlLe(a, ns[i] ? NON_SECURE : SECURE, res));
                assertEquals(0, other.ldlLe(a, ns[i] ? SECURE : NON_SECURE, res), "the other world reads zero");
                other.stlLe(a, -1, ns[i] ? SECURE : NON_SECURE);
                assertEquals(v, mine.ldlLe(a, ns[i] ? NON_SECURE : SECURE, res), "and cannot write");
            }
            // the LUT reads back, with auto-increment
            b.secureWrite(MPC_REGS + TzMpc.BLK_IDX, 0);
            assertEquals(0b0101, sreg(b, TzMpc.BLK_LUT));
            assertEquals(1 << 31, sreg(b, TzMpc.BLK_LUT));
            assertEquals(0, sreg(b, TzMpc.BLK_IDX));
        }
    }

    @Test
    void lutWriteTellsEachContextUnmapThenMapForChangedBlocksOnly() {
        try (TzBoard b = new TzBoard()) {
            List<String> events = new ArrayList<>();
            for (int idx : new int[] {TzMpc.IDX_S, TzMpc.IDX_NS}) {
                String world = idx == TzMpc.IDX_S ? "S" : "NS";
                b.mpc.upstream().notifiers().register(new IommuNotifier((n, e) -> events.add(world + " "
                        + (e.perm == 0 ? "unmap" : "map->" + e.targetAs.name()) + " 0x" + Long.toHexString(e.iova)
                        + "+0x" + Long.toHexString(e.addrMask + 1)), IommuNotifier.IOTLB_EVENTS, 0,
                        TzBoard.SSRAM_SIZE - 1, idx));
            }
            b.setLutWord(0, 0b0110);
            assertEquals(List.of(
                    "S unmap 0x1000+0x1000", "NS unmap 0x1000+0x1000",
                    "S map->tz-mpc-ssram-blocked-io 0x1000+0x1000", "NS map->tz-mpc-ssram-downstream 0x1000+0x1000",
                    "S unmap 0x2000+0x1000", "NS unmap 0x2000+0x1000",
                    "S map->tz-mpc-ssram-blocked-io 0x2000+0x1000", "NS map->tz-mpc-ssram-downstream 0x2000+0x1000"),
                    events);
            events.clear();
            b.setLutWord(0, 0b0110); // unchanged: nothing to tell
            assertEquals(List.of(), events);
            b.setLutWord(1, 0b1);    // block 32, back to... non-secure
            b.setLutWord(1, 0b0);    // and secure again
            assertEquals(List.of(
                    "S unmap 0x20000+0x1000", "NS unmap 0x20000+0x1000",
                    "S map->tz-mpc-ssram-blocked-io 0x20000+0x1000", "NS map->tz-mpc-ssram-downstream 0x20000+0x1000",
                    "S unmap 0x20000+0x1000", "NS unmap 0x20000+0x1000",
                    "S map->tz-mpc-ssram-downstream 0x20000+0x1000", "NS map->tz-mpc-ssram-blocked-io 0x20000+0x1000"),
                    events);
        }
    }

    @Test
    void badRegisterAccessesChangeNothing() {
        try (TzBoard b = new TzBoard()) {
            List<String> events = new ArrayList<>();
            b.mpc.upstream().notifiers().register(new IommuNotifier((n, e) -> events.add(e.toString()),
                    IommuNotifier.IOTLB_EVENTS, 0, TzBoard.SSRAM_SIZE - 1, TzMpc.IDX_NS));
            // an index past BLK_MAX wraps (QEMU: value % blk_max) and selects an existing word
            b.secureWrite(MPC_REGS + TzMpc.BLK_IDX, 5);
            assertEquals(1, sreg(b, TzMpc.BLK_IDX));
            b.secureWrite(MPC_REGS + TzMpc.BLK_IDX, -1);
            assertEquals(1, sreg(b, TzMpc.BLK_IDX), "0xffffffff % 2");
            assertEquals(0, sreg(b, TzMpc.BLK_LUT), "the LUT is untouched");

            // unaligned: refused by the ops' valid rules before the device sees it
            b.secureWrite(MPC_REGS + TzMpc.BLK_IDX, 0);
            assertEquals(MemTxResult.DECODE_ERROR, b.sSpace.stlLe(MPC_REGS + TzMpc.BLK_LUT + 1, -1, SECURE));
            assertEquals(MemTxResult.DECODE_ERROR, b.sSpace.stwLe(MPC_REGS + TzMpc.BLK_LUT + 1, -1, SECURE));
            b.sSpace.ldlLe(MPC_REGS + TzMpc.BLK_LUT + 2, SECURE, res);
            assertEquals(MemTxResult.DECODE_ERROR, res.get());
            // 8 bytes: wider than the registers
            assertEquals(MemTxResult.DECODE_ERROR, b.sSpace.stqLe(MPC_REGS + TzMpc.BLK_IDX, -1L, SECURE));
            assertEquals(0, sreg(b, TzMpc.BLK_IDX));
            assertEquals(List.of(), events);
            assertEquals(0, b.nsSpace.ldlLe(SSRAM, NON_SECURE, res), "block 0 still secure");

            // the non-secure world sees only the ID registers and cannot program anything
            assertEquals(MemTxResult.OK, b.nsSpace.stlLe(MPC_REGS + TzMpc.BLK_LUT, -1, NON_SECURE));
            assertEquals(MemTxResult.OK, b.nsSpace.stlLe(MPC_REGS + TzMpc.CTRL, TzMpc.CTRL_SEC_RESP, NON_SECURE));
            assertEquals(0, b.nsSpace.ldlLe(MPC_REGS + TzMpc.CTRL, NON_SECURE, res));
            assertEquals(0x04, b.nsSpace.ldlLe(MPC_REGS + TzMpc.PIDR4, NON_SECURE, res));
            assertEquals(TzMpc.CTRL_AUTOINC, sreg(b, TzMpc.CTRL));
            assertEquals(0, sreg(b, TzMpc.BLK_LUT));
            assertEquals(List.of(), events);

            // a byte write merges into the word (block 8 of word 0)
            b.secureWrite(MPC_REGS + TzMpc.BLK_IDX, 0);
            assertEquals(MemTxResult.OK, b.sSpace.stb(MPC_REGS + TzMpc.BLK_LUT + 1, 0x01, SECURE));
            assertEquals(0, sreg(b, TzMpc.BLK_IDX), "no auto-increment for a byte access");
            assertEquals(0x100, sreg(b, TzMpc.BLK_LUT));
            assertEquals(1, events.size() / 2, "one block changed: UNMAP and MAP for NS");

            // SEC_LOCK: the LUT and CTRL are read-only until reset
            events.clear();
            b.secureWrite(MPC_REGS + TzMpc.CTRL, TzMpc.CTRL_LOCKDOWN);
            b.setLutWord(0, -1);
            b.secureWrite(MPC_REGS + TzMpc.CTRL, 0);
            assertEquals(TzMpc.CTRL_LOCKDOWN, sreg(b, TzMpc.CTRL));
            b.secureWrite(MPC_REGS + TzMpc.BLK_IDX, 0);
            assertEquals(0x100, sreg(b, TzMpc.BLK_LUT));
            assertEquals(List.of(), events);
        }
    }
}
