package dev.guestmem.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The command line and the fixed target-line format other tools parse. */
class BenchMainTest {
    @Test
    void targetLineHasTheFixedForm() {
        assertEquals("P11 ratio=0.97 target=>=0.9 PASS", BenchMain.targetLine("P11", 0.9712, ">=0.9", true));
        assertEquals("P6 ratio=12.50 target=<=20 MISS", BenchMain.targetLine("P6", 12.5, "<=20", false));
        assertEquals("P1 ratio=NaN target=<=2 MISS", BenchMain.targetLine("P1", Double.NaN, "<=2", false));
    }

    @Test
    void targetHelpersPrintAndDecide() {
        Target t = Target.atLeast("P11", 0.9, r -> 1.0);
        assertEquals(">=0.9", t.targetText());
        assertTrue(t.pass().test(0.9));
        assertTrue(!t.pass().test(0.89));
        Target m = Target.atMost("P6", 20, r -> 1.0);
        assertEquals("<=20", m.targetText());
        assertTrue(m.pass().test(20));
        Target c = Target.within("CTL", 0.95, 1.05, r -> 1.0);
        assertEquals("0.95..1.05", c.targetText());
        assertTrue(c.pass().test(1.0));
        assertTrue(!c.pass().test(0.89), "a control that reads low is as wrong as one that reads high");
        assertTrue(!c.pass().test(1.06));
        assertEquals(1.05, dev.guestmem.bench.access.AccessChart.bound("0.95..1.05"));
        assertEquals(2.0, dev.guestmem.bench.access.AccessChart.bound("<=2.0"));
    }

    @Test
    void unknownGroupListsGroupsAndExits2() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = BenchMain.run(new String[] {"nosuch"}, new PrintStream(out), new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, rc);
        String text = err.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("unknown group 'nosuch'"), text);
        assertTrue(text.contains("groups: ") && text.contains("ram"), text);
        assertEquals(2, BenchMain.run(new String[0], new PrintStream(out), new PrintStream(err)));
        assertEquals(2, BenchMain.run(new String[] {"ram", "--bogus"}, new PrintStream(out), new PrintStream(err)));
    }

    /**
     * {@code --forks -1} reached JMH's OptionsBuilder, whose IllegalArgumentException escaped as a
     * stack trace after the group's output directory was made. It is a usage error now.
     */
    @Test
    void negativeForksIsAUsageErrorBeforeAnythingIsWritten(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        String old = System.getProperty("guestmem.bench.dir");
        System.setProperty("guestmem.bench.dir", dir.toString());
        try {
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int rc = BenchMain.run(new String[] {"ram", "--forks", "-1"}, new PrintStream(new ByteArrayOutputStream()),
                    new PrintStream(err, true, StandardCharsets.UTF_8));
            assertEquals(2, rc);
            assertTrue(err.toString(StandardCharsets.UTF_8).startsWith("bench: --forks needs a number from 0"), err.toString());
            assertTrue(!java.nio.file.Files.exists(dir.resolve("ram")), "nothing is written for a wrong command line");
        } finally {
            if (old == null) {
                System.clearProperty("guestmem.bench.dir");
            } else {
                System.setProperty("guestmem.bench.dir", old);
            }
        }
    }

    @Test
    void everyGroupIsFindableByName() {
        for (BenchGroup g : BenchGroups.ALL) {
            assertNotNull(BenchGroups.byName(g.name()));
            assertTrue(!g.targets().isEmpty(), g.name());
        }
    }
}
