package dev.guestmem.scenario3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotException;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotFormat;
import dev.guestmem.snapshot.SnapshotRestorer;
import dev.guestmem.snapshot.SnapshotWriter;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import dev.guestmem.uffd.LazyRestore;
import dev.guestmem.uffd.LazyRestoreException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshots as a user takes them (guide section 9): save a machine, restore it eagerly into a
 * machine laid out differently, restore it lazily through the address space, and meet corrupt files.
 */
class SnapshotUserTest {
    static final long MIB = 1L << 20;

    /** A small PC-like machine: "pc.ram" and "vga.vram", at addresses the caller picks. */
    record Machine(MemorySystem sys, AddressSpace as, RamRegion ram, RamRegion vram) {
        static Machine of(long ramSize, long ramAddr, long vramAddr) {
            MemorySystem sys = new MemorySystem();
            ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "pc.ram", ramSize);
            RamRegion vram = RamRegion.allocate(sys, null, "vga.vram", 2 * MIB);
            system.addSubregion(ramAddr, ram);
            system.addSubregion(vramAddr, vram);
            return new Machine(sys, sys.addressSpace(system, "memory"), ram, vram);
        }

        List<SnapshotBlock> blocks() {
            return List.of(SnapshotBlock.of(ram.ramBlock()), SnapshotBlock.of(vram.ramBlock()));
        }
    }

    static Path save(Path dir) {
        Machine m = Machine.of(8 * MIB, 0, 0xfd000000L);
        m.as().stqLe(0x1000, 0x1122334455667788L);
        m.as().stqLe(8 * MIB - 8, 0x55aa55aa55aa55aaL);
        m.as().set(0xfd000000L + MIB, (byte) 0x77, MIB, MemTxAttrs.UNSPECIFIED);
        Path file = dir.resolve("machine.gms");
        SnapshotWriter.write(file, m.blocks(), ProgressListener.NONE);
        return file;
    }

    @Test
    void aMachineRestoresEagerlyIntoAnotherGuestLayoutWithTheSameBlocks(@TempDir Path dir) {
        Path file = save(dir);
        // the snapshot holds blocks by name, not guest addresses: a machine that maps them elsewhere
        Machine other = Machine.of(8 * MIB, 0x40000000L, 0xe0000000L);
        other.as().stqLe(0x40002000L, -1L); // stale contents are overwritten, zero pages included
        DirtyMemory dirty = other.sys().dirtyMemory();
        RamBlock ram = other.ram().ramBlock();
        dirty.snapshotAndClearDirty(ram.offset(), ram.usedLength(), DirtyMemory.DIRTY_MEMORY_VGA);
        other.vram().setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        try (SnapshotFile f = SnapshotFile.open(file)) {
            SnapshotRestorer.restore(SnapshotChain.of(f), other.blocks(), true, ProgressListener.NONE);
        }
        assertEquals(0x1122334455667788L, other.as().ldqLe(0x40001000L));
        assertEquals(0x55aa55aa55aa55aaL, other.as().ldqLe(0x40000000L + 8 * MIB - 8));
        assertEquals(0, other.as().ldqLe(0x40002000L));
        assertEquals(0x77777777, other.as().ldlLe(0xe0000000L + 2 * MIB - 4));
        assertTrue(other.vram().snapshotGetDirty(
                other.vram().snapshotAndClearDirty(0, 2 * MIB, DirtyMemory.DIRTY_MEMORY_VGA), MIB, 4096),
                "the display redraws what the restore wrote");
    }

    @Test
    void aRestoreIntoBlocksOfAnotherSizeOrNameIsRefusedBeforeAnythingIsWritten(@TempDir Path dir) {
        Path file = save(dir);
        Machine bigger = Machine.of(16 * MIB, 0, 0xfd000000L);
        bigger.as().stqLe(0x1000, 42);
        try (SnapshotFile f = SnapshotFile.open(file)) {
            SnapshotException e = assertThrows(SnapshotException.class,
                    () -> SnapshotRestorer.restore(SnapshotChain.of(f), bigger.blocks(), true, ProgressListener.NONE));
            assertTrue(e.getMessage().contains("pc.ram"), e.getMessage());
            assertEquals(42, bigger.as().ldqLe(0x1000), "nothing was restored");
            // a subset of the snapshot's blocks is fine: only the frame buffer
            SnapshotRestorer.restore(SnapshotChain.of(f), List.of(SnapshotBlock.of(bigger.vram().ramBlock())), true,
                    ProgressListener.NONE);
            assertEquals(0x77777777, bigger.as().ldlLe(0xfd000000L + MIB));
            RamBlock renamed = RamBlock.anonymous("pc.ram.0", 8 * MIB);
            try {
                SnapshotException missing = assertThrows(SnapshotException.class,
                        () -> SnapshotRestorer.restore(SnapshotChain.of(f), List.of(SnapshotBlock.of(renamed)), false,
                                ProgressListener.NONE));
                assertTrue(missing.getMessage().contains("pc.ram.0"), missing.getMessage());
            } finally {
                renamed.close();
            }
        }
    }

    private static void flip(Path file, long offset) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, offset);
            b.put(0, (byte) (b.get(0) ^ 0x10));
            ch.write(b.rewind(), offset);
        }
    }

    private static Path copy(Path file, String name) throws IOException {
        return Files.copy(file, file.resolveSibling(name));
    }

    @Test
    void truncatedSnapshotFilesAreRefusedWithASnapshotException(@TempDir Path dir) throws IOException {
        Path file = save(dir);
        long size = Files.size(file);
        for (long cut : new long[] {0, 7, SnapshotFormat.HEADER_SIZE, SnapshotFormat.DATA_ALIGN + 100, size / 2, size - 1}) {
            Path t = copy(file, "cut-" + cut + ".gms");
            try (FileChannel ch = FileChannel.open(t, StandardOpenOption.WRITE)) {
                ch.truncate(cut);
            }
            assertThrows(SnapshotException.class, () -> SnapshotFile.open(t).close(), "cut at " + cut);
        }
        assertThrows(SnapshotException.class, () -> SnapshotFile.open(dir.resolve("absent.gms")));
        try (RamBlock b = RamBlock.anonymous("ram", MIB)) {
            assertThrows(SnapshotException.class, () -> SnapshotWriter.write(dir.resolve("no/such/dir/s.gms"),
                    List.of(SnapshotBlock.of(b)), ProgressListener.NONE), "an unwritable path is a SnapshotException too");
        }
    }

    @Test
    void aFlippedByteAnywhereIsATypedError(@TempDir Path dir) throws IOException {
        Path file = save(dir);
        long tableOffset;
        long pageAt;
        try (SnapshotFile f = SnapshotFile.open(file)) {
            tableOffset = f.mapping().get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(
                    java.nio.ByteOrder.LITTLE_ENDIAN), 40);
            pageAt = f.location(f.block("pc.ram").index(), 1); // the stored page at 0x1000
        }
        for (long at : new long[] {0, 9, 20, 44, 72, tableOffset, tableOffset + 20, Files.size(file) - 4}) {
            Path t = copy(file, "flip-" + at + ".gms");
            flip(t, at);
            assertThrows(SnapshotException.class, () -> SnapshotFile.open(t).close(), "byte " + at);
        }
        // a page's bytes are checked by their CRC when the restore is asked to verify
        Path t = copy(file, "flip-page.gms");
        flip(t, pageAt + 3);
        Machine m = Machine.of(8 * MIB, 0, 0xfd000000L);
        try (SnapshotFile f = SnapshotFile.open(t)) {
            SnapshotException e = assertThrows(SnapshotException.class,
                    () -> SnapshotRestorer.restore(SnapshotChain.of(f), m.blocks(), true, ProgressListener.NONE));
            assertTrue(e.getMessage().contains("pc.ram"), e.getMessage());
        }
    }

    /**
     * SnapshotFormat: header bytes 80..127 are zeros, and so is the gap up to the data offset; the
     * header checksum covers bytes 0..75 only, so a flip there was accepted as a sound file.
     */
    @Test
    void aFlippedByteInTheReservedZerosIsRefused(@TempDir Path dir) throws IOException {
        Path file = save(dir);
        for (long at : new long[] {80, 100, SnapshotFormat.HEADER_SIZE - 1, SnapshotFormat.HEADER_SIZE, 2000,
                SnapshotFormat.DATA_ALIGN - 1}) {
            Path t = copy(file, "flip-reserved-" + at + ".gms");
            flip(t, at);
            SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFile.open(t).close(), "byte " + at);
            assertTrue(e.getMessage().contains("reserved"), e.getMessage());
        }
    }

    @Test
    void savingFileBackedRamThatAPeerTruncatedIsASnapshotExceptionAndLeavesNoFile(@TempDir Path dir) throws IOException {
        Path img = dir.resolve("ram.img");
        try (RamBlock b = RamBlock.builder("ram", 4 * MIB).file(img).shared(true).build()) {
            b.segment().fill((byte) 1);
            try (FileChannel ch = FileChannel.open(img, StandardOpenOption.WRITE)) {
                ch.truncate(MIB); // the peer shrinks the file under the mapping
            }
            SnapshotException e = assertThrows(SnapshotException.class,
                    () -> SnapshotWriter.write(dir.resolve("s.gms"), List.of(SnapshotBlock.of(b)), ProgressListener.NONE));
            assertTrue(e.getMessage().contains("page 256"), e.getMessage());
            assertTrue(b.isBroken());
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of("ram.img"), files.map(p -> p.getFileName().toString()).toList(), "no snapshot, no .tmp");
        }
    }

    @Test
    void aLazyRestoreRunsTheGuestBeforeItsMemoryIsBack(@TempDir Path dir) throws Exception {
        Path file = save(dir);
        Machine m = Machine.of(8 * MIB, 0, 0xfd000000L);
        try (SnapshotFile f = SnapshotFile.open(file);
             LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), m.blocks(), LazyRestore.Options.DEFAULT)) {
            TlbEntry e = new TlbEntry();
            GuestTlb.fill(m.as(), 0x1000, e);
            assertTrue((e.flags() & GuestTlb.TLB_FAULT_PRONE) != 0, "guide 9: fenced while restoring");
            assertEquals(0x1122334455667788L, m.as().ldqLe(0x1000)); // may wait for the page server
            assertEquals(0x77777777, m.as().ldlLe(0xfd000000L + MIB + 0x1234));
            assertTrue(restore.awaitComplete(Duration.ofSeconds(60)), restore.toString());
            assertEquals(LazyRestore.State.COMPLETE, restore.state());
            GuestTlb.fill(m.as(), 0x1000, e);
            assertTrue(e.readDirect(), "fence lifted");
            assertEquals(0x55aa55aa55aa55aaL, m.as().ldqLe(8 * MIB - 8));
        }
    }

    /**
     * A second page server costs ~2-5 s on a loaded 2-CPU machine, and LazyRestoreRegressionTest
     * already breaks a restore on a checksum in CI: this user-level view runs on audit only.
     */
    @Test
    @EnabledIfSystemProperty(named = "guestmem.audit", matches = "true")
    void aLazyRestoreFromACorruptPageBreaksAndAnswersError(@TempDir Path dir) throws Exception {
        Path file = save(dir);
        long pageAt;
        try (SnapshotFile f = SnapshotFile.open(file)) {
            pageAt = f.location(f.block("pc.ram").index(), 1);
        }
        flip(file, pageAt + 3);
        Machine m = Machine.of(8 * MIB, 0, 0xfd000000L);
        try (SnapshotFile f = SnapshotFile.open(file);
             LazyRestore restore = LazyRestore.start(SnapshotChain.of(f), m.blocks(), LazyRestore.Options.DEFAULT)) {
            MemTxResultHolder res = new MemTxResultHolder();
            long v = m.as().ldqLe(0x1000, MemTxAttrs.UNSPECIFIED, res);
            assertEquals(MemTxResult.ERROR, res.get(), "the corrupt page is poisoned, not served: got 0x" + Long.toHexString(v));
            LazyRestoreException e = assertThrows(LazyRestoreException.class, () -> restore.awaitComplete(Duration.ofSeconds(60)));
            assertTrue(e.getMessage().contains("pc.ram") || e.getMessage().toLowerCase().contains("checksum"), e.getMessage());
            assertEquals(LazyRestore.State.BROKEN, restore.state());
            assertFalse(m.ram().ramBlock().isReleased());
        }
    }
}
