package dev.guestmem.scenario;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Program 1: toy machine, UART, boot ROM alias, soft TLB, self-modifying code. */
class ToyMachineTest {

    static final long ENTRY = 0x10_0000L;

    /** RAM program: patches its own next instruction, then runs it, then halts. */
    static int[] smcProgram() {
        int patched = ToyCpu.li(8, 0x42);
        return new int[] {
            /* 0 */ ToyCpu.li(6, (int) ((ENTRY + 6 * 4) & 0xffff)), ToyCpu.lih(6, (int) (ENTRY >>> 16)),
            /* 2 */ ToyCpu.li(7, patched & 0xffff), ToyCpu.lih(7, patched >>> 16),
            /* 4 */ ToyCpu.li(8, 0x11),
            /* 5 */ ToyCpu.stw(7, 6, 0),          // overwrite instruction 6
            /* 6 */ ToyCpu.li(8, 0x11),            // translated as "li r8, 0x11"; must run as 0x42
            /* 7 */ ToyCpu.halt(),
        };
    }

    @Test
    void bootsPrintsThroughUartAndDetectsSelfModifyingCode() {
        ToyMachine m = new ToyMachine(true);
        m.installBootRom("Hello, guestmem!\n", ENTRY);
        m.loadRam(smcProgram(), ENTRY);
        ToyCpu cpu = new ToyCpu(m.sys, m.as);
        cpu.run(100_000);
        assertTrue(cpu.halted, "cpu halted");
        assertEquals("Hello, guestmem!\n", m.uartOut.toString());
        assertTrue(m.lsrReads >= 17 * 2, "driver polled the status register");
        assertEquals(0x42, cpu.r[8], "the patched instruction ran (CODE client invalidated the page)");
        assertEquals(1, cpu.smcInvalidations);
    }

    @Test
    void romAliasAtZeroShadowsRamAndRomIsReadOnly() {
        ToyMachine m = new ToyMachine(false);
        m.loadRom(new int[] {0xdeadbeef}, 0);
        assertEquals(0xdeadbeef, m.as.ldlLe(0));
        assertEquals(0xdeadbeef, m.as.ldlLe(ToyMachine.ROM_BASE));
        // a guest store to the ROM (through the alias or not) is dropped
        int res = m.as.stlLe(0, 1);
        assertEquals(MemTxResult.DECODE_ERROR, res, MemTxResult.toString(res));
        assertEquals(0xdeadbeef, m.as.ldlLe(0));
        // RAM under the alias is still reachable directly through the RAM block
        m.ram.ramBlock().stlHe(0, 0x1234);
        m.romAlias.setEnabled(false);
        assertEquals(0x1234, m.as.ldlLe(0));
    }

    @Test
    void uartRefusesWideAccesses() {
        ToyMachine m = new ToyMachine(false);
        MemTxResultHolder h = new MemTxResultHolder();
        m.as.ldlLe(ToyMachine.UART_BASE, MemTxAttrs.UNSPECIFIED, h);
        assertNotEquals(MemTxResult.OK, h.get());
        int w = m.as.stlLe(ToyMachine.UART_BASE, 'x');
        assertNotEquals(MemTxResult.OK, w);
        assertEquals("", m.uartOut.toString());
        assertEquals(MemTxResult.OK, m.as.stb(ToyMachine.UART_BASE, 'y'));
        assertEquals("y", m.uartOut.toString());
    }

    @Test
    void tlbFlushesOnTopologyChangeWhileRunning() {
        ToyMachine m = new ToyMachine(false);
        // RAM program: r1 = 0; loop: r2 = mem32[0]; r3 += r2; r4-- ; bnz
        int[] prog = {
            ToyCpu.li(1, 0), ToyCpu.li(3, 0), ToyCpu.li(4, 1000),
            /* 3 */ ToyCpu.ldw(2, 1, 0), ToyCpu.add(3, 2), ToyCpu.addi(4, -1), ToyCpu.bnz(4, -3),
            ToyCpu.halt(),
        };
        m.loadRam(prog, ENTRY);
        m.loadRom(new int[] {7}, 0);               // ROM word 0 = 7, seen at 0 via the alias
        m.ram.ramBlock().stlHe(0, 1);              // RAM word 0 = 1, hidden under the alias
        ToyCpu cpu = new ToyCpu(m.sys, m.as);
        cpu.pc = ENTRY;
        cpu.run(3 + 4 * 500);                      // 500 iterations through the alias: 500 * 7
        long flushesBefore = cpu.tlbFlushes;
        long loadsBefore = cpu.slowLoads;
        m.romAlias.setEnabled(false);              // the firmware unmaps its shadow
        assertTrue(cpu.exitRequest, "topology listener raised the exit request");
        cpu.run(1_000_000);
        assertTrue(cpu.halted);
        assertEquals(500 * 7 + 500 * 1, cpu.r[3]);
        assertEquals(flushesBefore + 1, cpu.tlbFlushes);
        assertTrue(cpu.slowLoads - loadsBefore < 10, "hits after the refill: " + (cpu.slowLoads - loadsBefore));
    }

    @Test
    void tcgMakesEveryRamPageNotDirtyButLoggedWindowIsUsable() {
        ToyMachine m = new ToyMachine(true);
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(m.as, 0x20_0000, e);
        // guide 4: "every RAM page is then TLB_NOTDIRTY (not only translated ones)"
        assertFalse(e.writeDirect());
        assertTrue(e.readDirect());
        assertTrue(e.window().loggedWrite().byteSize() > 0);
        ToyCpu cpu = new ToyCpu(m.sys, m.as);
        cpu.enterBlock();
        cpu.stl(0x20_0000, 5);
        cpu.stl(0x20_0004, 6);
        assertEquals(5, m.as.ldlLe(0x20_0000));
        assertEquals(1, cpu.loggedFastStores);
    }
}
