package dev.guestmem.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.InvalidRamBlockException;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.snapshot.DirtyPages;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotFormat;
import dev.guestmem.snapshot.SnapshotWriter;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Behavioural statements of the user documentation (README, docs/guide.md, docs/architecture.md and the
 * javadoc the guide points to) that no guide example asserts: each test names the statement it checks.
 */
class DocsClaimsTest {
    private static final long KIB = 1L << 10;
    private static final long MIB = 1L << 20;
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    private record Machine(MemorySystem sys, ContainerRegion system, AddressSpace as) {
        static Machine create(boolean tcg) {
            MemorySystem sys = new MemorySystem(tcg);
            ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            return new Machine(sys, system, sys.addressSpace(system, "memory"));
        }
    }

    private static MemoryRegionOps device(long value) {
        return MemoryRegionOps.builder().read((a, s) -> value).write((a, d, s) -> { }).build();
    }

    /** guide 2: "`MemoryRegion.SIZE_2_64` (`-1L`) means 2^64"; guide 4: entries are 4 KiB pages. */
    @Test
    void constants() {
        assertEquals(-1L, MemoryRegion.SIZE_2_64);
        assertEquals(4096, GuestTlb.PAGE_SIZE);
        assertEquals(4096, AddressSpace.DEFAULT_MAX_BOUNCE_BUFFER_SIZE);
        assertEquals(4, DirtyMemory.MASK_MIGRATION, "guide 5: the MIGRATION client (mask 4)");
        assertEquals(0, DirtyMemory.DIRTY_MEMORY_VGA);
        assertEquals(1, DirtyMemory.DIRTY_MEMORY_CODE);
        assertEquals(2, DirtyMemory.DIRTY_MEMORY_MIGRATION);
    }

    /** guide 2: "A region without a read (write) callback answers DECODE_ERROR; a callback that throws gives ERROR". */
    @Test
    void missingAndThrowingCallbacks() {
        Machine m = Machine.create(false);
        m.system().addSubregion(0x1000, new IoRegion(m.sys(), null,
                MemoryRegionOps.builder().write((a, d, s) -> { }).build(), "write-only", 0x100));
        m.system().addSubregion(0x2000, new IoRegion(m.sys(), null,
                MemoryRegionOps.builder().read((a, s) -> 0).build(), "read-only", 0x100));
        m.system().addSubregion(0x3000, new IoRegion(m.sys(), null, MemoryRegionOps.builder()
                .read((a, s) -> {
                    throw new IllegalStateException("device bug");
                })
                .write((a, d, s) -> {
                    throw new IllegalStateException("device bug");
                }).build(), "broken", 0x100));
        MemTxResultHolder res = new MemTxResultHolder();
        m.as().ldlLe(0x1000, U, res);
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        assertEquals(MemTxResult.DECODE_ERROR, m.as().stlLe(0x2000, 1));
        m.as().ldlLe(0x3000, U, res);
        assertEquals(MemTxResult.ERROR, res.get());
        assertEquals(MemTxResult.ERROR, m.as().stlLe(0x3000, 1));
    }

    /** guide 3: `memory = true` refuses a buffer access to anything but RAM (ACCESS_ERROR); `debug = true` may write ROM. */
    @Test
    void memoryAndDebugAttributes() {
        Machine m = Machine.create(false);
        m.system().addSubregion(0, RamRegion.allocate(m.sys(), null, "ram", MIB));
        m.system().addSubregion(0x10000000L, new IoRegion(m.sys(), null, device(7), "dev", 0x100));
        m.system().addSubregion(0xffff0000L, RamRegion.allocateRom(m.sys(), null, "bios", 64 * KIB));
        MemTxAttrs memoryOnly = new MemTxAttrs(false, false, false, true, false, 0);
        byte[] buf = new byte[4];
        assertEquals(MemTxResult.ACCESS_ERROR, m.as().read(0x10000000L, memoryOnly, buf, 0, 4));
        assertEquals(MemTxResult.ACCESS_ERROR, m.as().write(0x10000000L, memoryOnly, buf, 0, 4));
        assertEquals(MemTxResult.OK, m.as().write(0x100, memoryOnly, buf, 0, 4));
        // as in QEMU, the ld/st accessors do not look at attrs.memory (only flatview_read/write do)
        MemTxResultHolder res = new MemTxResultHolder();
        assertEquals(7, m.as().ldlLe(0x10000000L, memoryOnly, res));
        assertEquals(MemTxResult.OK, res.get());
        assertEquals(MemTxResult.DECODE_ERROR, m.as().stlLe(0xffff0000L, 0x11223344));
        assertEquals(0, m.as().ldlLe(0xffff0000L), "a guest store to ROM writes nothing");
        assertEquals(MemTxResult.OK, m.as().stlLe(0xffff0000L, 0x11223344, MemTxAttrs.DEBUG));
        assertEquals(0x11223344, m.as().ldlLe(0xffff0000L));
    }

    /** AddressSpace javadoc: an access crossing from one section into another is MMIO to the first (RAM: DECODE_ERROR). */
    @Test
    void accessCrossingTwoRamSectionsIsRefused() {
        Machine m = Machine.create(false);
        m.system().addSubregion(0, RamRegion.allocate(m.sys(), null, "a", 4 * KIB));
        m.system().addSubregion(0x1000, RamRegion.allocate(m.sys(), null, "b", 4 * KIB));
        MemTxResultHolder res = new MemTxResultHolder();
        m.as().ldlLe(0xffe, U, res);
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
    }

    /** guide 2: "Transactions nest; only the outermost commit renders". */
    @Test
    void nestedTransactionsPublishOnce() {
        Machine m = Machine.create(false);
        RamRegion ram = RamRegion.allocate(m.sys(), null, "ram", MIB);
        m.system().addSubregion(0, ram);
        long before = m.as().generation();
        m.sys().transactionBegin();
        m.sys().transactionBegin();
        ram.setAddress(0x100000);
        m.sys().transactionCommit();
        assertEquals(before, m.as().generation(), "inner commit: nothing published");
        ram.setEnabled(false);
        m.sys().transactionCommit();
        assertEquals(before + 1, m.as().generation());
    }

    /** guide 5: "add/start calls in ascending priority, del/stop in descending"; `registerListener(l, null)` hears every space. */
    @Test
    void listenerPriorityOrderAndAllSpaces() {
        Machine m = Machine.create(false);
        RamRegion ram = RamRegion.allocate(m.sys(), null, "ram", MIB);
        m.system().addSubregion(0, ram);
        List<String> calls = new ArrayList<>();
        for (int prio : new int[] {10, 1}) {
            m.sys().registerListener(new MemoryListener() {
                @Override
                public int priority() {
                    return prio;
                }

                @Override
                public void regionAdd(MemoryRegionSection s) {
                    calls.add("add" + prio);
                }

                @Override
                public void regionDel(MemoryRegionSection s) {
                    calls.add("del" + prio);
                }
            }, m.as());
        }
        calls.clear();
        ram.setAddress(0x100000);
        assertEquals(List.of("del10", "del1", "add1", "add10"), calls);

        List<String> everywhere = new ArrayList<>();
        m.sys().registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                everywhere.add(s.region().name());
            }
        }, null);
        ContainerRegion io = new ContainerRegion(m.sys(), null, "io", 0x10000);
        io.addSubregion(0x3f8, new IoRegion(m.sys(), null, device(0), "serial", 8));
        m.sys().addressSpace(io, "I/O");
        assertEquals(List.of("ram", "serial"), everywhere, "present and future address spaces");
    }

    /**
     * guide 4: with {@code new MemorySystem(true)} RAM logs the CODE client, so every RAM page, not only
     * those whose CODE bit was cleared, is TLB_NOTDIRTY: TLB stores go through the address space.
     */
    @Test
    void tcgMakesEveryRamPageNotDirty() {
        Machine m = Machine.create(true);
        RamRegion ram = RamRegion.allocate(m.sys(), null, "ram", MIB);
        m.system().addSubregion(0, ram);
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(m.as(), 0x5000, e));
        assertTrue(e.readDirect());
        assertFalse(e.writeDirect(), "page 0x5000 has no translations (CODE bit set), still not write-direct");
        assertNotEquals(0, e.flags() & GuestTlb.TLB_NOTDIRTY);
        Machine plain = Machine.create(false);
        plain.system().addSubregion(0, RamRegion.allocate(plain.sys(), null, "ram", MIB));
        GuestTlb.fill(plain.as(), 0x5000, e);
        assertTrue(e.writeDirect(), "without TCG a RAM page is write-direct");
    }

    /** guide 4: which entries carry a segment: MMIO none; ROM and fault-prone pages one, but not direct for stores/any. */
    @Test
    void whichTlbEntriesHaveASegment(@TempDir Path dir) {
        Machine m = Machine.create(false);
        m.system().addSubregion(0x200000, new IoRegion(m.sys(), null, device(0xd0), "dev", 0x1000));
        m.system().addSubregion(0xffff0000L, RamRegion.allocateRom(m.sys(), null, "bios", 64 * KIB));
        RamBlock file = RamBlock.builder("file", MIB).file(dir.resolve("ram.img")).shared(true).build();
        m.system().addSubregion(0x400000, new RamRegion(m.sys(), null, "file", file, false, false));
        file.close();
        TlbEntry e = new TlbEntry();
        assertFalse(GuestTlb.fill(m.as(), 0x200000, e));
        assertNull(e.segment(), "an MMIO page has no segment");
        assertNotEquals(0, e.flags() & GuestTlb.TLB_MMIO);
        assertTrue(GuestTlb.fill(m.as(), 0xffff0000L, e));
        assertNotNull(e.segment());
        assertTrue(e.readDirect());
        assertFalse(e.writeDirect(), "ROM: TLB_READONLY");
        assertFalse(GuestTlb.fill(m.as(), 0x400000, e));
        assertNotNull(e.segment(), "a fault-prone page has a segment");
        assertNotEquals(0, e.flags() & GuestTlb.TLB_FAULT_PRONE);
        assertFalse(e.readDirect());
        assertEquals(0, e.window().read().byteSize(), "fault-prone: the window is empty");
    }

    /** guide 6: the bounce buffer is bounded per address space, 4096 bytes by default. */
    @Test
    void defaultBounceBufferIs4096() {
        Machine m = Machine.create(false);
        m.system().addSubregion(0x10000000L, new IoRegion(m.sys(), null, device(0), "fifo", 0x10000));
        DmaMapping b1 = m.as().map(0x10000000L, 4096, false, U);
        assertNotNull(b1);
        assertTrue(b1.isBounce());
        assertNull(m.as().map(0x10001000L, 16, false, U), "no bounce space left");
        b1.unmap(0);
        DmaMapping b2 = m.as().map(0x10001000L, 16, false, U);
        assertNotNull(b2);
        b2.unmap(0);
    }

    /** guide 7: `.file(path)`: a new (or empty) file is grown to the block; a non-empty shorter one is refused. */
    @Test
    void fileBackendSizes(@TempDir Path dir) throws IOException {
        Path fresh = dir.resolve("new.img");
        RamBlock b = RamBlock.builder("new", 2 * MIB).file(fresh).shared(true).build();
        assertEquals(2 * MIB, Files.size(fresh));
        b.close();
        Path shortFile = dir.resolve("short.img");
        Files.write(shortFile, new byte[4096]);
        assertThrows(InvalidRamBlockException.class,
                () -> RamBlock.builder("short", 2 * MIB).file(shortFile).shared(true).build());
        assertEquals(4096, Files.size(shortFile), "the file is left as it was");
    }

    /** guide 9: a full snapshot goes to PATH.tmp, renamed when complete; the guide's increment "holds page 3 only". */
    @Test
    void snapshotFilesAndIncrement(@TempDir Path dir) {
        RamBlock ram = RamBlock.anonymous("ram", 4 * MIB);
        ram.stlHe(0x1000, 1);
        List<SnapshotBlock> blocks = List.of(new SnapshotBlock("ram", ram.segment(), 4096));
        long fullId = SnapshotWriter.write(dir.resolve("full.gms"), blocks, ProgressListener.NONE);
        assertTrue(Files.exists(dir.resolve("full.gms")));
        assertFalse(Files.exists(dir.resolve("full.gms.tmp")));
        ram.stlHe(0x3000, 2);
        DirtyPages onlyPage3 = from -> from <= 3 ? 3 : -1;
        SnapshotWriter.writeIncremental(dir.resolve("inc1.gms"), fullId, blocks, Map.of("ram", onlyPage3),
                ProgressListener.NONE);
        try (SnapshotFile full = SnapshotFile.open(dir.resolve("full.gms"));
             SnapshotFile inc = SnapshotFile.open(dir.resolve("inc1.gms"))) {
            assertEquals(1, full.block("ram").storedPages(), "zero pages are not stored");
            assertEquals(SnapshotFormat.ZERO, full.location(0, 0));
            assertEquals(1, inc.block("ram").storedPages());
            assertTrue(inc.location(0, 3) >= 0);
            assertEquals(0, inc.location(0, 3) % 4096, "pages are 4 KiB-aligned in the file");
        }
        ram.close();
    }
}
