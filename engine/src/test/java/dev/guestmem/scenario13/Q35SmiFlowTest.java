package dev.guestmem.scenario13;

import static dev.guestmem.scenario13.Q35Machine.NORMAL;
import static dev.guestmem.scenario13.Q35Machine.SMM;
import static dev.guestmem.scenario13.Q35Machine.VGA_VALUE;
import static dev.guestmem.scenario13.Q35Mch.D_CLS;
import static dev.guestmem.scenario13.Q35Mch.D_LCK;
import static dev.guestmem.scenario13.Q35Mch.D_OPEN;
import static dev.guestmem.scenario13.Q35Mch.ESMRAMC;
import static dev.guestmem.scenario13.Q35Mch.G_SMRAME;
import static dev.guestmem.scenario13.Q35Mch.SMRAM;
import static dev.guestmem.scenario13.Q35Mch.T_EN;
import static dev.guestmem.scenario13.Q35Mch.TSEG_1M;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Firmware's SMRAM set-up and an SMI round trip on the q35 port: load the handler through the open
 * window, close and lock SMRAM, then check what normal-mode code, a PCI bus master and SMM code see
 * at the low SMRAM (0xa0000) and in TSEG, by every access path, and that D_LCK keeps it shut.
 */
class Q35SmiFlowTest {
    private static final long LOW = 0xa8000;
    private static final long TSEG = Q35Machine.BELOW_4G - (1 << 20);
    private static final long TSEG_ADDR = TSEG + 0x2000;
    private final MemTxResultHolder res = new MemTxResultHolder();

    private static int ram(Q35Machine m, long addr) {
        return m.pcRam.ramBlock().segment().get(ValueLayout.JAVA_INT_UNALIGNED, addr);
    }

    @Test
    void smiRoundTripSeesSmramOnlyInSmm() {
        try (Q35Machine m = new Q35Machine(true)) {
            WorldCpu cpu = new WorldCpu(m.cpuMemory, NORMAL, m.cpuSmm, SMM);
            m.onSmi(() -> cpu.setWorld(WorldCpu.SECURE));   // enter SMM at the next instruction

            // before any set-up: the VGA window over the low SMRAM, TSEG is plain RAM
            assertEquals((int) VGA_VALUE, cpu.ldl(LOW));
            assertEquals(MemTxResult.OK, cpu.stl(TSEG_ADDR, 0x7e5e));
            assertEquals(0x7e5e, ram(m, TSEG_ADDR));

            // firmware: open SMRAM, enable TSEG (1 MiB), copy the handler in from normal mode
            assertEquals(MemTxResult.OK, m.outConfigByte(SMRAM, G_SMRAME | D_OPEN));
            assertEquals(MemTxResult.OK, m.outConfigByte(ESMRAMC, T_EN | TSEG_1M));
            assertEquals(1 << 20, m.mch.tsegSize());
            byte[] handler = "smi-handler:rsm".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            assertEquals(MemTxResult.OK, m.cpuMemory.write(LOW, NORMAL, handler, 0, handler.length));
            assertEquals(0x2d696d73, cpu.ldl(LOW), "open: normal mode reaches the RAM ('smi-')");
            assertEquals(0xffffffff, cpu.ldl(TSEG_ADDR), "TSEG is black-holed for normal mode at once");
            // close and lock
            assertEquals(MemTxResult.OK, m.outConfigByte(SMRAM, G_SMRAME | D_LCK));
            assertEquals(Q35Mch.C_BASE_SEG | G_SMRAME | D_LCK, m.inConfigByte(SMRAM));

            normalModeSeesVgaAndBlackhole(m, cpu, handler);

            // SMI: the APM port raises it, the CPU switches to the SMM space (attrs.secure)
            assertEquals(MemTxResult.OK, m.ioSpace.stb(0xb2, 0x01));
            assertEquals(WorldCpu.SECURE, cpu.world());
            assertEquals(0x2d696d73, cpu.ldl(LOW), "SMM runs the handler from RAM");
            assertTrue(cpu.entry(LOW).readDirect());
            assertEquals(MemTxResult.OK, cpu.stl(TSEG_ADDR, 0x5a7e));   // SMM saves state in TSEG
            assertEquals(0x5a7e, ram(m, TSEG_ADDR));
            assertEquals(MemTxResult.OK, cpu.stl(LOW + 0x100, 0x1234)); // and in the low SMRAM
            assertEquals(0x1234, ram(m, LOW + 0x100));
            byte[] back = new byte[handler.length];
            assertEquals(MemTxResult.OK, m.cpuSmm.read(LOW, SMM, back, 0, back.length));
            assertArrayEquals(handler, back);
            assertEquals(0x5a7e, m.cpuSmm.ldlLe(TSEG_ADDR, SMM, res));
            MemoryRegionCache smmCache = new MemoryRegionCache();
            assertEquals(0x1000, smmCache.init(m.cpuSmm, TSEG_ADDR, 0x1000, true));
            assertTrue(smmCache.isDirect());
            assertEquals(0x5a7e, smmCache.ldlLe(0, SMM, res));
            smmCache.destroy();

            // RSM: back to normal mode; the SMM TLB entries must not serve it
            cpu.setWorld(WorldCpu.NORMAL);
            normalModeSeesVgaAndBlackhole(m, cpu, handler);

            // D_LCK: neither D_OPEN nor G_SMRAME nor TSEG can be changed until reset
            assertEquals(MemTxResult.OK, m.outConfigByte(SMRAM, G_SMRAME | D_OPEN));
            assertEquals(MemTxResult.OK, m.outConfigByte(SMRAM, D_OPEN));
            assertEquals(MemTxResult.OK, m.outConfigByte(ESMRAMC, 0));
            assertEquals(Q35Mch.C_BASE_SEG | G_SMRAME | D_LCK, m.inConfigByte(SMRAM));
            assertEquals(T_EN | TSEG_1M | Q35Mch.SM_CACHE | Q35Mch.SM_L1 | Q35Mch.SM_L2, m.inConfigByte(ESMRAMC));
            normalModeSeesVgaAndBlackhole(m, cpu, handler);
            // D_CLS stays writable after the lock, as QEMU's write mask says (and has no effect there)
            assertEquals(MemTxResult.OK, m.outConfigByte(SMRAM, D_CLS));
            assertEquals(Q35Mch.C_BASE_SEG | G_SMRAME | D_LCK | D_CLS, m.inConfigByte(SMRAM));
            normalModeSeesVgaAndBlackhole(m, cpu, handler);
        }
    }

    private void normalModeSeesVgaAndBlackhole(Q35Machine m, WorldCpu cpu, byte[] handler) {
        assertEquals(WorldCpu.NORMAL, cpu.world());
        int handlerWord = ram(m, LOW);
        int tsegWord = ram(m, TSEG_ADDR);
        // soft TLB
        assertEquals((int) VGA_VALUE, cpu.ldl(LOW));
        assertFalse(cpu.entry(LOW).readDirect(), "the VGA window is MMIO");
        int vgaWrites = m.vgaWrites[0];
        assertEquals(MemTxResult.OK, cpu.stl(LOW, 0));
        assertEquals(vgaWrites + 1, m.vgaWrites[0], "the store went to the VGA");
        assertEquals(0xffffffff, cpu.ldl(TSEG_ADDR));
        assertEquals(MemTxResult.OK, cpu.stl(TSEG_ADDR, 0));
        // ld/st and buffer accessors of the CPU's space and of the PCI masters' one
        for (var as : new dev.guestmem.access.AddressSpace[] {m.cpuMemory, m.memory}) {
            assertEquals((int) VGA_VALUE, as.ldlLe(LOW, NORMAL, res));
            assertEquals(0xff, as.ldub(TSEG_ADDR + 3, NORMAL, res));
            assertEquals(MemTxResult.OK, res.get());
            assertEquals(MemTxResult.OK, as.stlLe(TSEG_ADDR, 0, NORMAL));
            as.ldqLe(TSEG_ADDR, NORMAL, res);
            assertEquals(MemTxResult.DECODE_ERROR, res.get(), "8 bytes: the blackhole's valid sizes are 1..4, as QEMU's");
            byte[] eight = new byte[8];
            assertEquals(MemTxResult.OK, as.read(TSEG_ADDR, NORMAL, eight, 0, 8), "a buffer read splits into 4-byte reads");
            assertArrayEquals(filled(8, (byte) 0xff), eight);
            assertEquals(MemTxResult.OK, as.write(TSEG_ADDR, NORMAL, new byte[8], 0, 8));
            byte[] low = new byte[4];
            assertEquals(MemTxResult.OK, as.read(LOW, NORMAL, low, 0, 4));
            assertArrayEquals(filled(4, (byte) 0x5a), low);
        }
        // DMA: a bus master's mapping of TSEG is a bounce buffer of 0xff; its writes are dropped
        DmaMapping r = m.memory.map(TSEG_ADDR, 64, false, NORMAL);
        assertNotNull(r);
        assertTrue(r.isBounce());
        assertArrayEquals(filled(64, (byte) 0xff), r.segment().toArray(ValueLayout.JAVA_BYTE));
        r.unmap(0);
        DmaMapping w = m.memory.map(LOW, 16, true, NORMAL);
        assertTrue(w.isBounce(), "the low SMRAM is the VGA window for DMA");
        w.segment().fill((byte) 0x11);
        assertEquals(MemTxResult.OK, w.unmap(16));
        DmaMapping t = m.memory.map(TSEG_ADDR, 16, true, NORMAL);
        t.segment().fill((byte) 0x22);
        assertEquals(MemTxResult.OK, t.unmap(16));
        // a region cache made by a device over TSEG: not direct, reads the blackhole
        MemoryRegionCache cache = new MemoryRegionCache();
        assertEquals(1 << 20, cache.init(m.memory, TSEG, 2 << 20, false), "clamped to the blackhole");
        assertFalse(cache.isDirect());
        assertEquals(0xffffffff, cache.ldlLe(0x2000, NORMAL, res));
        cache.destroy();
        // none of it reached the RAM
        assertEquals(handlerWord, ram(m, LOW));
        assertEquals(tsegWord, ram(m, TSEG_ADDR));
        byte[] still = new byte[handler.length];
        MemorySegment.copy(m.pcRam.ramBlock().segment(), ValueLayout.JAVA_BYTE, LOW, still, 0, still.length);
        assertArrayEquals(handler, still);
    }

    private static byte[] filled(int n, byte b) {
        byte[] a = new byte[n];
        Arrays.fill(a, b);
        return a;
    }
}
