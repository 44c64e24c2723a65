package dev.guestmem.scenario13;

import static dev.guestmem.scenario13.TzBoard.MPC_REGS;
import static dev.guestmem.scenario13.TzBoard.NON_SECURE;
import static dev.guestmem.scenario13.TzBoard.SECURE;
import static dev.guestmem.scenario13.TzBoard.SSRAM;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import dev.guestmem.iommu.IommuTlbEntry;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Every kind of access, in each world, to one SRAM block behind the MPC and to the secure-only RAM,
 * before and after each configuration change (reset, SEC_RESP on, the block handed to the
 * non-secure world, SEC_RESP off): the CPU's ld/st and buffer accessors, its soft TLB (entries
 * from the earlier phases still in it), a DMA master's mappings and a {@link MemoryRegionCache}
 * made once at the start. A passing access reads and writes the SRAM; a blocked one reads zero and
 * writes nothing, with OK or ERROR as SEC_RESP says.
 */
class TzWorldsAccessTest {
    private static final int BLOCK = 5;
    private static final long ADDR = SSRAM + BLOCK * TzBoard.BLOCK + 0x80;
    private static final MemTxAttrs DMA_S = new MemTxAttrs(false, true, false, false, false, 7);
    private static final MemTxAttrs DMA_NS = new MemTxAttrs(false, false, false, false, false, 7);

    enum Expect { PASS, RAZ_WI, ERROR }

    private final MemTxResultHolder res = new MemTxResultHolder();
    private int stamp = 0x100;

    @Test
    void eachAccessPathFollowsTheMpcInBothWorlds() {
        try (TzBoard b = new TzBoard()) {
            WorldCpu cpu = new WorldCpu(b.nsSpace, NON_SECURE, b.sSpace, SECURE);
            TzDma dma = new TzDma(b.dmaSpace);
            MemoryRegionCache cache = new MemoryRegionCache();
            assertEquals(TzBoard.SSRAM_SIZE, cache.init(b.dmaSpace, SSRAM, TzBoard.SSRAM_SIZE, true));
            assertTrue(!cache.isDirect(), "a cache over an IOMMU translates every access");

            phase(b, cpu, dma, cache, Expect.PASS, Expect.RAZ_WI);
            b.secureWrite(MPC_REGS + TzMpc.CTRL, TzMpc.CTRL_AUTOINC | TzMpc.CTRL_SEC_RESP);
            phase(b, cpu, dma, cache, Expect.PASS, Expect.ERROR);
            b.setLutWord(0, 1 << BLOCK);
            phase(b, cpu, dma, cache, Expect.ERROR, Expect.PASS);
            b.secureWrite(MPC_REGS + TzMpc.CTRL, TzMpc.CTRL_AUTOINC);
            phase(b, cpu, dma, cache, Expect.RAZ_WI, Expect.PASS);
            b.setLutWord(0, 0);
            phase(b, cpu, dma, cache, Expect.PASS, Expect.RAZ_WI);
            cache.destroy();
        }
    }

    private void phase(TzBoard b, WorldCpu cpu, TzDma dma, MemoryRegionCache cache, Expect secure, Expect nonSecure) {
        for (int world : new int[] {WorldCpu.SECURE, WorldCpu.NORMAL}) {
            Expect e = world == WorldCpu.SECURE ? secure : nonSecure;
            MemTxAttrs attrs = world == WorldCpu.SECURE ? SECURE : NON_SECURE;
            MemTxAttrs dmaAttrs = world == WorldCpu.SECURE ? DMA_S : DMA_NS;
            AddressSpace cpuSpace = b.cpuSpace(attrs);
            String where = (world == WorldCpu.SECURE ? "secure " : "non-secure ") + e;

            // ld/st through the world's space
            int v = stamp++;
            int before = sram(b);
            assertEquals(result(e), cpuSpace.stlLe(ADDR, v, attrs), where + " stl");
            assertEquals(e == Expect.PASS ? v : before, sram(b), where + " stl effect");
            assertEquals(e == Expect.PASS ? v : 0, cpuSpace.ldlLe(ADDR, attrs, res), where + " ldl");
            assertEquals(result(e), res.get(), where + " ldl result");

            // buffer accessors, 16 bytes
            byte[] data = new byte[16];
            Arrays.fill(data, (byte) stamp++);
            byte[] sramBefore = sramBytes(b, 16);
            assertEquals(result(e), cpuSpace.write(ADDR, attrs, data, 0, 16), where + " write");
            assertArrayEquals(e == Expect.PASS ? data : sramBefore, sramBytes(b, 16), where + " write effect");
            byte[] back = new byte[16];
            assertEquals(result(e), cpuSpace.read(ADDR, attrs, back, 0, 16), where + " read");
            assertArrayEquals(e == Expect.PASS ? data : new byte[16], back, where + " read data");

            // the soft TLB: its entries from the previous phase must not answer
            cpu.setWorld(world);
            v = stamp++;
            before = sram(b);
            assertEquals(result(e), cpu.stl(ADDR, v), where + " tlb stl");
            assertEquals(e == Expect.PASS ? v : before, sram(b), where + " tlb stl effect");
            assertEquals(e == Expect.PASS ? v : 0, cpu.ldl(ADDR), where + " tlb ldl");
            assertEquals(result(e), cpu.lastResult, where + " tlb ldl result");
            assertEquals(e == Expect.PASS, cpu.entry(ADDR).readDirect(), where + " direct only where it passes");
            assertEquals(e == Expect.PASS ? v : 0, cpu.ldl(ADDR), where + " tlb ldl again (a hit if direct)");

            // DMA through mappings: direct SRAM when passing, a bounce buffer on the blocked region else
            byte fill = (byte) stamp++;
            sramBefore = sramBytes(b, 16);
            assertEquals(result(e), dma.fillByMap(ADDR, 16, fill, dmaAttrs), where + " dma map write");
            byte[] filled = new byte[16];
            Arrays.fill(filled, fill);
            assertArrayEquals(e == Expect.PASS ? filled : sramBefore, sramBytes(b, 16), where + " dma write effect");
            byte[] mapped = new byte[16];
            assertEquals(result(e), dma.readByMap(ADDR, mapped, dmaAttrs), where + " dma map read");
            assertArrayEquals(e == Expect.PASS ? filled : new byte[16], mapped, where + " dma read data");
            assertEquals(0, b.dmaSpace.liveMappings());

            // DMA copies between the non-secure RAM and the SRAM
            b.nsRam.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x100, stamp);
            before = sram(b);
            assertEquals(result(e), dma.copy(0x100, ADDR, 4, dmaAttrs), where + " dma copy");
            assertEquals(e == Expect.PASS ? stamp : before, sram(b), where + " dma copy effect");
            stamp++;

            // what a device asks before and around its DMA: QEMU's answers (the blocked region accepts it)
            assertTrue(b.dmaSpace.accessValid(ADDR, 16, true, dmaAttrs), where + " access_valid");
            IommuTlbEntry iotlb = b.dmaSpace.iotlbEntry(ADDR, false, dmaAttrs);
            assertEquals(e == Expect.PASS ? b.mpc.downstreamAs() : b.mpc.blockedAs(), iotlb.targetAs, where + " iotlb");
            assertEquals((ADDR - SSRAM) & ~0xfffL, iotlb.translatedAddr, where + " iotlb address");

            // a region cache made at the start: attributes reach the MPC on every access
            v = stamp++;
            before = sram(b);
            long off = ADDR - SSRAM;
            assertEquals(result(e), cache.stlLe(off, v, dmaAttrs), where + " cache stl");
            assertEquals(e == Expect.PASS ? v : before, sram(b), where + " cache stl effect");
            assertEquals(e == Expect.PASS ? v : 0, cache.ldlLe(off, dmaAttrs, res), where + " cache ldl");
            assertEquals(result(e), res.get(), where + " cache ldl result");
        }
        // the DMA master's blocked accesses name it in INT_INFO2 (HMASTER = requester 7)
        if (secure != Expect.PASS || nonSecure != Expect.PASS) {
            b.secureWrite(MPC_REGS + TzMpc.INT_CLEAR, 1);
            b.dmaSpace.ldlLe(ADDR, secure == Expect.PASS ? DMA_NS : DMA_S, res);
            int info2 = b.sSpace.ldlLe(MPC_REGS + TzMpc.INT_INFO2, SECURE, res);
            assertEquals(7, info2 & 0xffff);
            b.secureWrite(MPC_REGS + TzMpc.INT_CLEAR, 1);
        }
    }

    @Test
    void secureOnlyRamIsInTheSecureViewAlone() {
        try (TzBoard b = new TzBoard()) {
            WorldCpu cpu = new WorldCpu(b.nsSpace, NON_SECURE, b.sSpace, SECURE);
            long a = TzBoard.SECURE_RAM + 0x40;
            assertEquals(MemTxResult.OK, b.sSpace.stlLe(a, 0x5ec, SECURE));
            cpu.setWorld(WorldCpu.SECURE);
            assertEquals(0x5ec, cpu.ldl(a));
            assertTrue(cpu.entry(a).writeDirect());
            cpu.setWorld(WorldCpu.NORMAL);
            assertEquals(0, cpu.ldl(a));
            assertEquals(MemTxResult.DECODE_ERROR, cpu.lastResult);
            assertEquals(MemTxResult.DECODE_ERROR, cpu.stl(a, 1));
            assertEquals(MemTxResult.DECODE_ERROR, b.nsSpace.read(a, NON_SECURE, new byte[4], 0, 4));
            assertEquals(MemTxResult.DECODE_ERROR, b.dmaSpace.read(a, DMA_S, new byte[4], 0, 4),
                    "the DMA master sees the system tree: no secure-only RAM even for secure transfers");
            assertEquals(0x5ec, b.secureRam.ramBlock().segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x40));
        }
    }

    private static int result(Expect e) {
        return e == Expect.ERROR ? MemTxResult.ERROR : MemTxResult.OK;
    }

    private static int sram(TzBoard b) {
        return b.ssram.ramBlock().segment().get(ValueLayout.JAVA_INT_UNALIGNED, ADDR - SSRAM);
    }

    private static byte[] sramBytes(TzBoard b, int n) {
        return b.ssram.ramBlock().segment().asSlice(ADDR - SSRAM, n).toArray(ValueLayout.JAVA_BYTE);
    }
}
