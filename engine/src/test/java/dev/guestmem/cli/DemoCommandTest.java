package dev.guestmem.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class DemoCommandTest {
    @Test
    void demoAccessesTheMachineAndPrintsItsMap() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(new String[] {"demo"}, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        String text = out.toString(StandardCharsets.UTF_8);
        assertEquals(Command.OK, status, err.toString(StandardCharsets.UTF_8));
        // "hello, g" read back little-endian from guest RAM
        assertTrue(text.contains("ldq_le(0x1000) = 0x67202c6f6c6c6568"), text);
        assertTrue(text.contains("HPET counter) = 1, then 2"), text);
        assertTrue(text.contains("-> DECODE_ERROR (dropped"), text);
        assertTrue(text.contains("serial port received: \"hi from the guest\""), text);
        // the flat view: RAM below the hole, the BIOS at the top of 4 GiB as rom, the ISA window hidden by RAM
        assertTrue(text.contains("  0000000000000000-0000000007ffffff (prio 0, ram): pc.ram\n"), text);
        assertTrue(text.contains("  00000000fffc0000-00000000ffffffff (prio 0, rom): pc.bios\n"), text);
        assertTrue(text.contains("  0000000000000400-000000000000ffff (prio 0, i/o): io @0000000000000400\n"), text);
        // the move shows as exactly one del and one add
        int moveAt = text.indexOf("== moving");
        String move = text.substring(moveAt);
        assertEquals(1, move.split("region_del", -1).length - 1, move);
        assertEquals(1, move.split("region_add", -1).length - 1, move);
        assertTrue(move.contains("region_add 00000000feb80000-00000000feb9ffff e1000-mmio"), move);
        assertTrue(text.contains("ldl_le(0xfeb80000) now reads the BAR: 0x8086"), text);
    }

    @Test
    void demoTakesNoArguments() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(new String[] {"demo", "x"}, new PrintStream(new ByteArrayOutputStream(), true,
                StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(Command.USAGE, status);
    }
}
