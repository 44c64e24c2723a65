package dev.guestmem.scenario5;

import static dev.guestmem.scenario5.MigratableMachine.DEVICE_BASE;
import static dev.guestmem.scenario5.MigratableMachine.HOT_MAX;
import static dev.guestmem.scenario5.MigratableMachine.HOT_SIZE;
import static dev.guestmem.scenario5.MigratableMachine.SMALL_BASE;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Live migration between two machines in one JVM while two vCPUs (one through the address space,
 * one through the window soft TLB) and a DMA device write the source's RAM; after each migration
 * the destination must equal the source byte for byte on every block.
 */
class LiveMigrationTest {
    /** How long the repeated migration tests run, in milliseconds (short by default). */
    static final long RUN_MILLIS = Long.getLong("guestmem.scenario5.millis", 1500);

    @Test
    void precopyWhileTheGuestRunsCopiesEveryBlock() throws Exception {
        runMigrations(false, false);
    }

    @Test
    void precopyUnderTcgWithADisplayAndATranslatorCopiesEveryBlock() throws Exception {
        runMigrations(true, true);
    }

    /**
     * Migrates a running source to fresh destinations again and again for {@link #RUN_MILLIS}; the
     * hot-plug block grows by 64 KiB during each migration (and starts over once at its maximum).
     */
    private static void runMigrations(boolean tcg, boolean otherClients) throws Exception {
        MigratableMachine src = MigratableMachine.build(tcg);
        src.loadBios(7);
        DmaEngine dev = new DmaEngine(src.as(), SMALL_BASE + 0x100);
        src.root().addSubregion(DEVICE_BASE, dev.mmio());
        OtherClients others = otherClients ? new OtherClients(src) : null;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RUN_MILLIS);
        int migrations = 0;
        long seed = 1;
        try {
            if (others != null) {
                others.start();
            }
            do {
                Guest guest = new Guest(src, seed++);
                MemoryListener quiescent = guest.quiescentPoint();
                src.sys().registerListener(quiescent, null);
                MigratableMachine dst = MigratableMachine.build(tcg);
                try {
                    guest.start();
                    PrecopyMigration mig = new PrecopyMigration(src, dst);
                    boolean[] resized = {false};
                    mig.run(30, 64, guest::stop, () -> {
                        if (!resized[0]) {
                            long next = src.hot().size() + 64 * 1024;
                            src.hot().ramResize(next > HOT_MAX ? HOT_SIZE : next);
                            resized[0] = true;
                        }
                    });
                    assertSameMemory(src, dst, "migration " + migrations + " rounds " + mig.roundPages());
                    assertTrue(guest.stores() > 0, "the guest ran");
                    System.out.printf("tcg=%b migration %d: rounds %s, %d stores, tlb direct/logged/slow %d/%d/%d%n",
                            tcg, migrations, mig.roundPages(), guest.stores(), guest.tlbCpu().directStores(),
                            guest.tlbCpu().loggedStores(), guest.tlbCpu().slowStores());
                } finally {
                    src.sys().unregisterListener(quiescent);
                    dst.destroy();
                }
                migrations++;
            } while (System.nanoTime() < deadline);
            assertTrue(dev.completions() > 0, "the device did DMA");
            if (others != null) {
                others.stop();
            }
        } finally {
            dev.destroy();
            src.destroy();
        }
    }

    /** Every source block has a destination block of the same name, used length and bytes. */
    static void assertSameMemory(MigratableMachine src, MigratableMachine dst, String what) {
        List<RamBlock> blocks = src.sys().ramList().blocks();
        assertEquals(5, blocks.size(), what);
        for (RamBlock from : blocks) {
            RamBlock to = dst.region(from.idstr()).ramBlock();
            assertEquals(from.usedLength(), to.usedLength(), what + ": used length of " + from.idstr());
            long at = from.segment().mismatch(to.segment());
            if (at >= 0) {
                List<Long> pages = new ArrayList<>();
                MemorySegment a = from.segment();
                MemorySegment b = to.segment();
                for (long p = 0; p < from.usedLength() && pages.size() < 16; p += 4096) {
                    if (a.asSlice(p, 4096).mismatch(b.asSlice(p, 4096)) >= 0) {
                        pages.add(p / 4096);
                    }
                }
                throw new AssertionError(what + ": block " + from.idstr() + " differs at offset 0x"
                        + Long.toHexString(at) + ", pages " + pages);
            }
        }
    }
}
