package dev.guestmem.scenario8;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.ram.RamBackend;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.ram.RamBlockBuilder;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The RAM a throughput measurer sets up before timing: one block of each backing the guide's
 * section 7 offers, prefaulted with {@code prealloc()}, huge pages advised where the machine allows
 * it; for each, the bytes a bulk copy moves are the block's, and translate says which host bytes
 * serve a guest range and whether the copy there is a plain one.
 */
class BackingsTest {
    static final long MIB = 1 << 20;
    static final long SIZE = 4 * MIB;
    static final long BASE = 0x4000_0000L;

    @TempDir
    Path dir;

    @Test
    void preallocatedAnonymousRamIsResidentAndDirect() {
        check(b -> b.anonymous(), false);
    }

    @Test
    void preallocatedMemfdRamIsResidentAndDirect() {
        check(b -> b.memfd(), false);
    }

    @Test
    void preallocatedSharedFileRamIsResidentAndFenced() {
        check(b -> b.file(dir.resolve("guest.ram")).shared(true), true);
    }

    @Test
    void preallocatedPrivateFileRamIsResidentAndFenced() throws IOException {
        Path f = dir.resolve("private.ram");
        Files.write(f, new byte[(int) SIZE]);
        check(b -> b.file(f).shared(false), true);
    }

    @Test
    void hugepageAdviceReachesTheMapping() throws IOException {
        String thp = Files.readString(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
        assumeTrue(!thp.contains("[never]"), "transparent huge pages are off: " + thp.strip());
        try (RamBlock b = RamBlock.builder("thp", SIZE).hugepages().prealloc().build()) {
            assertTrue(b.isHugepageAdvised());
            assertTrue(Residency.vmFlags(b.hostAddress()).contains(" hg"), Residency.vmFlags(b.hostAddress()));
            assertEquals(SIZE / Residency.PAGE, Residency.residentPages(b.segment()));
            assertFalse(b.canFault(), "THP on anonymous memory uses no pool: nothing can SIGBUS");
        }
    }

    @Test
    void hugetlbMemfdIsHugeWhenThePoolHasPages() throws IOException {
        long free = Files.readAllLines(Path.of("/proc/meminfo")).stream()
                .filter(l -> l.startsWith("HugePages_Free:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(0);
        assumeTrue(free >= SIZE / (2 * MIB), "no hugetlb pool (HugePages_Free " + free + ")");
        try (RamBlock b = RamBlock.builder("huge", SIZE).backend(new RamBackend.Memfd(true)).prealloc().build()) {
            assertEquals(2 * MIB, b.pageSize());
            assertTrue(b.canFault(), "a huge page pool can run dry: fault-prone, as the javadoc says");
        }
    }

    private void check(Function<RamBlockBuilder, RamBlockBuilder> backing, boolean faultProne) {
        RamBlock block = backing.apply(RamBlock.builder("ram", SIZE)).prealloc().build();
        assertEquals(SIZE / Residency.PAGE, Residency.residentPages(block.segment()),
                "prealloc populates every page up front");
        assertEquals(faultProne, block.canFault());

        MemorySystem sys = new MemorySystem();
        ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        root.addSubregion(BASE, new RamRegion(sys, null, "ram", block, false, false));
        block.close(); // the region holds its own reference
        AddressSpace as = sys.addressSpace(root, "memory");

        byte[] model = new byte[(int) MIB];
        new Random(42).nextBytes(model);
        assertEquals(MemTxResult.OK, as.write(BASE + 0x1234, MemTxAttrs.UNSPECIFIED, model, 0, model.length));
        byte[] raw = block.segment().asSlice(0x1234, MIB).toArray(ValueLayout.JAVA_BYTE);
        assertArrayEquals(model, raw, "the engine's write is in the block's own bytes");

        HostLocation at = HostLocation.of(as, BASE + 0x1234, MIB);
        assertSame(block, at.section().ramBlock());
        assertEquals(block.hostAddress() + 0x1234, at.hostAddress());
        assertEquals(MIB, at.length());
        assertEquals(!faultProne, at.directRead());
        assertEquals(!faultProne, at.directWrite());
        assertEquals(faultProne, at.faultProne());

        // the raw copy a measurer compares with reads the same bytes
        MemorySegment viaRaw = MemorySegment.ofArray(new byte[(int) MIB]);
        MemorySegment.copy(at.segment(), at.offset(), viaRaw, 0, MIB);
        byte[] viaEngine = new byte[(int) MIB];
        assertEquals(MemTxResult.OK, as.read(BASE + 0x1234, MemTxAttrs.UNSPECIFIED, viaEngine, 0, viaEngine.length));
        assertArrayEquals(viaEngine, viaRaw.toArray(ValueLayout.JAVA_BYTE));
        assertNotEquals(0, viaEngine[0] | viaEngine[1] | viaEngine[2]);
    }
}
