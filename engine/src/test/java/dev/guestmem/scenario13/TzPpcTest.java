package dev.guestmem.scenario13;

import static dev.guestmem.scenario13.TzBoard.NON_SECURE;
import static dev.guestmem.scenario13.TzBoard.NON_SECURE_USER;
import static dev.guestmem.scenario13.TzBoard.PPC_TIMER;
import static dev.guestmem.scenario13.TzBoard.PPC_UART;
import static dev.guestmem.scenario13.TzBoard.SECURE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import org.junit.jupiter.api.Test;

/**
 * The PPC gates each peripheral by world and privilege through its with-attrs callbacks: the
 * secure-only timer and the non-secure UART, reached by the CPU's soft TLB and its spaces, with
 * RAZ/WI and ERROR responses, and a port handed from one world to the other at run time.
 */
class TzPpcTest {
    private final MemTxResultHolder res = new MemTxResultHolder();

    @Test
    void peripheralsAnswerOnlyTheirWorld() {
        try (TzBoard b = new TzBoard()) {
            WorldCpu cpu = new WorldCpu(b.nsSpace, NON_SECURE, b.sSpace, SECURE);
            cpu.setWorld(WorldCpu.SECURE);
            assertEquals(MemTxResult.OK, cpu.stl(PPC_TIMER + 8, 0x71));
            assertEquals(0x71, b.timer.regs[2]);
            assertEquals(0x71, cpu.ldl(PPC_TIMER + 8));
            assertFalse(cpu.entry(PPC_TIMER).readDirect());
            // a secure access to the non-secure UART is blocked too (tz_ppc_check: secure == cfg_nonsec)
            assertEquals(MemTxResult.OK, cpu.stl(PPC_UART, 0x55));
            assertEquals(0, b.uart.regs[0]);
            assertTrue(b.ppc.irqStatus());
            b.ppc.clearIrq();

            cpu.setWorld(WorldCpu.NORMAL);
            assertEquals(MemTxResult.OK, cpu.stl(PPC_UART, 0x41));
            assertEquals(0x41, b.uart.regs[0]);
            assertEquals(0, cpu.ldl(PPC_TIMER + 8), "RAZ");
            assertEquals(MemTxResult.OK, cpu.lastResult);
            assertEquals(MemTxResult.OK, cpu.stl(PPC_TIMER + 8, 0xbad), "WI");
            assertEquals(0x71, b.timer.regs[2]);
            assertTrue(b.ppc.irqStatus());

            b.ppc.setSecResp(true);
            assertEquals(0, cpu.ldl(PPC_TIMER + 8));
            assertEquals(MemTxResult.ERROR, cpu.lastResult);
            assertEquals(MemTxResult.ERROR, cpu.stl(PPC_TIMER + 8, 0xbad));
            assertEquals(MemTxResult.ERROR, b.nsSpace.read(PPC_TIMER, NON_SECURE, new byte[4], 0, 4));
            assertEquals(MemTxResult.ERROR, b.dmaSpace.stlLe(PPC_TIMER, 1, NON_SECURE));
            assertEquals(0x71, b.timer.regs[2]);

            // unprivileged code loses the UART when cfg_ap is cleared
            b.ppc.setUnprivilegedAllowed(1, false);
            assertEquals(MemTxResult.ERROR, b.nsSpace.stlLe(PPC_UART, 0x42, NON_SECURE_USER));
            assertEquals(MemTxResult.OK, b.nsSpace.stlLe(PPC_UART, 0x43, NON_SECURE));
            assertEquals(0x43, b.uart.regs[0]);

            // the secure firmware hands the timer to the non-secure world
            b.ppc.setNonSecure(0, true);
            assertEquals(0x71, cpu.ldl(PPC_TIMER + 8));
            assertEquals(MemTxResult.OK, cpu.lastResult);
            b.sSpace.ldlLe(PPC_TIMER + 8, SECURE, res);
            assertEquals(MemTxResult.ERROR, res.get());

            // bad sizes reach the peripheral's own valid rules through the PPC: 2 bytes is refused there
            b.nsSpace.lduwLe(PPC_TIMER + 8, NON_SECURE, res);
            assertEquals(MemTxResult.DECODE_ERROR, res.get());
            assertEquals(MemTxResult.DECODE_ERROR, b.nsSpace.stlLe(PPC_TIMER + 9, 7, NON_SECURE), "unaligned");
            assertEquals(0x71, b.timer.regs[2]);
        }
    }
}
