package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * The expected lines were printed by QEMU 7.2's monitor ({@code xp} on a pc machine after
 * {@code writel 0x1000 0xdeadbeef} over qtest), not by this code.
 */
class MemoryDumpTest {
    private static final byte[] MEM = new byte[0x100];

    static {
        MEM[0] = (byte) 0xef;
        MEM[1] = (byte) 0xbe;
        MEM[2] = (byte) 0xad;
        MEM[3] = (byte) 0xde;
    }

    private static String dump(String fmt) {
        StringBuilder sb = new StringBuilder();
        MemoryDump.dump(XpFormat.parse(fmt), 0x1000, false, (a, buf, len) -> {
            System.arraycopy(MEM, (int) (a - 0x1000), buf, 0, len);
            return null;
        }, sb);
        return sb.toString();
    }

    @Test
    void matchesQemusOutput() {
        assertEquals("0000000000001000: 0xdeadbeef 0x00000000 0x00000000 0x00000000\n", dump("/4xw"));
        assertEquals("0000000000001000: 0xef 0xbe 0xad 0xde 0x00 0x00 0x00 0x00\n"
                + "0000000000001008: 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00\n"
                + "0000000000001010: 0x00 0x00 0x00 0x00\n", dump("/20xb"));
        assertEquals("0000000000001000: 48879 57005     0     0     0\n", dump("/5dh"));
        assertEquals("0000000000001000:           3735928559                    0\n"
                + "0000000000001010:                    0\n", dump("/3ug"));
        assertEquals("0000000000001000: 0357 0276 0255\n", dump("/3ob"));
        // QEMU after a /4xw: 'c' keeps the size for the byte count and line width.
        assertEquals("0000000000001000: '\\xef' '\\xbe' '\\xad' '\\xde' '\\x00' '\\x00' '\\x00' '\\x00' '\\x00' '\\x00' '\\x00' '\\x00'\n",
                dump("/3cw"));
    }

    @Test
    void unreadableLineEndsTheDumpAsQemuDoes() {
        StringBuilder sb = new StringBuilder();
        boolean all = MemoryDump.dump(XpFormat.parse("/2xg"), 0x7fffff8L, false,
                (a, buf, len) -> MemoryDump.CANNOT_ACCESS, sb);
        assertFalse(all);
        assertEquals("0000000007fffff8: Cannot access memory\n", sb.toString());
    }

    @Test
    void formatParsing() {
        assertEquals(new XpFormat(1, 'x', 4), XpFormat.parse("/"));
        assertEquals(new XpFormat(10, 'u', 8), XpFormat.parse("/10gu"));
        assertEquals(new XpFormat(3, 'c', 1), XpFormat.parse("/3bc"));
        assertEquals(new XpFormat(1, 'o', 8), XpFormat.parse("/oL"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> XpFormat.parse("/4z"));
        assertEquals("invalid char in format: 'z'", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> XpFormat.parse("/4i"));
    }
}
