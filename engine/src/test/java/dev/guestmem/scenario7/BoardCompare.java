package dev.guestmem.scenario7;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.debug.FlatViewPrinter;
import dev.guestmem.debug.MtreeDialect;
import dev.guestmem.debug.MtreeDumper;
import dev.guestmem.debug.MtreeWriter;
import dev.guestmem.ram.RamBlock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** What a migrated board must reproduce: the RAM blocks, the flat views, and what the guest reads. */
final class BoardCompare {
    private static final int PAGE = 4096;

    private BoardCompare() {
    }

    static void assertSameMachine(Board src, Board dst, String what) {
        assertSameBlocks(src, dst, what);
        assertEquals(FlatViewPrinter.print(src.sys), FlatViewPrinter.print(dst.sys), what + ": info mtree -f");
        assertEquals(MtreeWriter.write(MtreeDumper.dump(src.sys), MtreeDialect.DISABLED),
                MtreeWriter.write(MtreeDumper.dump(dst.sys), MtreeDialect.DISABLED), what + ": info mtree -D");
        assertSameReads(src.memory, dst.memory, what);
        assertSameReads(src.smm, dst.smm, what);
    }

    /** Every source block has a destination block of the same name, used length and bytes. */
    static void assertSameBlocks(Board src, Board dst, String what) {
        List<RamBlock> blocks = src.sys.ramList().blocks();
        assertEquals(3, blocks.size(), what + ": blocks " + blocks);
        for (RamBlock from : blocks) {
            RamBlock to = dst.blockOf(from.idstr());
            assertEquals(from.usedLength(), to.usedLength(), what + ": used length of " + from.idstr());
            List<Long> pages = new ArrayList<>();
            for (long p = 0; p < from.usedLength() && pages.size() < 16; p += PAGE) {
                if (from.segment().asSlice(p, PAGE).mismatch(to.segment().asSlice(p, PAGE)) >= 0) {
                    pages.add(p / PAGE);
                }
            }
            assertEquals(List.of(), pages, what + ": pages of block " + from.idstr() + " that differ");
        }
    }

    /** Every page of every range of the source's view reads the same, with the same result, on both. */
    static void assertSameReads(AddressSpace a, AddressSpace b, String what) {
        byte[] x = new byte[PAGE];
        byte[] y = new byte[PAGE];
        List<Long> pages = new ArrayList<>();
        a.currentMap().forEachRange((start, size, range) -> {
            for (long p = start & ~(PAGE - 1L); Long.compareUnsigned(p, start + size - 1) <= 0; p += PAGE) {
                int ra = a.read(p, MemTxAttrs.UNSPECIFIED, x, 0, PAGE);
                int rb = b.read(p, MemTxAttrs.UNSPECIFIED, y, 0, PAGE);
                if (ra != rb || !Arrays.equals(x, y)) {
                    pages.add(p);
                }
            }
            return false;
        });
        assertEquals(List.of(), pages.stream().limit(16).map(Long::toHexString).toList(),
                what + ": pages of '" + a.name() + "' that read differently");
    }
}
