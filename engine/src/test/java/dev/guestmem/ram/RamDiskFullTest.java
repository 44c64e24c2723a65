package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.linux.Linux;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * R6, disk full: a shared file-backed block on a genuinely full file system (a size-limited tmpfs,
 * a small loop-mounted ext4, and an ext4 on a "thin-provisioned" device whose storage runs out
 * under it). Each case checks the three things R6 asks: a clear typed error (a
 * {@link MemTxResult} on the access path, a {@link RamBackendException} with call and errno on the
 * msync and setup paths), the JVM lives, and what was msynced before the disk filled is still in
 * the file, read back independently (through a fresh mount for ext4).
 *
 * <p>Needs root and {@code mount} (and {@code mkfs.ext4} plus a loop device for ext4): elsewhere
 * each test is skipped by an assumption that says which step failed ({@link FullFileSystem}).
 */
class RamDiskFullTest {
    private static final long PAGE = 4096;
    private static final long PAGES = 64;
    private static final long SIZE = PAGES * PAGE;

    enum Kind {
        TMPFS, EXT4;

        FullFileSystem make() {
            return this == TMPFS ? FullFileSystem.tmpfs(1L << 20) : FullFileSystem.ext4(8L << 20);
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void writeIntoAnUnallocatedPageOfAFullFileSystemIsAnErrorAndSyncedDataStays(Kind kind) throws IOException {
        try (FullFileSystem fs = kind.make()) {
            Path file = fs.dir().resolve("guest.ram");
            try (RamBlock b = RamBlock.builder("full." + kind, SIZE).file(file).shared(true).build(); Arena a = Arena.ofConfined()) {
                MemorySegment buf = a.allocate(16 * PAGE);
                buf.fill((byte) 0x5a);
                assertEquals(MemTxResult.OK, b.write(0, buf, 0, buf.byteSize()));
                b.msync();
                assertTrue(fs.fill() > 0);

                assertEquals(MemTxResult.ERROR, b.write(32 * PAGE, buf, 0, PAGE), "no block for the page: SIGBUS -> ERROR");
                assertTrue(b.isBroken());
                String why = b.brokenReason();
                assertTrue(why.contains("SIGBUS on [0x20000, +0x1000)") && why.contains("file system holding the backing file is full")
                        && why.contains("prealloc()"), why);
                RamBlockBrokenException later = assertThrows(RamBlockBrokenException.class, () -> b.ldqHe(0));
                assertTrue(later.getMessage().contains("full." + kind) && later.getMessage().contains("is full"), later.getMessage());
                // The fault poisons the guest's view, not write-back: what is in the file can still be synced.
                assertDoesNotThrow(() -> b.msync());
                assertNull(b.writebackError());
            }
            assertJvmAlive();
            if (kind == Kind.EXT4) {
                fs.remountExt4(); // read from the device, not from this mount's page cache
            }
            assertFileHolds(file, 0, 16 * PAGE, (byte) 0x5a);
            assertFileHolds(file, 32 * PAGE, PAGE, (byte) 0);
        }
    }

    /**
     * The access path must mark the block broken itself: on ext4 reading a hole returns zeros, so
     * nothing that re-reads the faulting address would fault again and record why.
     */
    @ParameterizedTest
    @EnumSource(Kind.class)
    void guestStoresThroughTheAddressSpaceGetErrorNotACrash(Kind kind) throws IOException {
        try (FullFileSystem fs = kind.make()) {
            Path file = fs.dir().resolve("guest.ram");
            MemorySystem sys = new MemorySystem();
            ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            AddressSpace as = sys.addressSpace(system, "memory");
            RamBlock b = RamBlock.builder("full.as", SIZE).file(file).shared(true).build();
            RamRegion ram = new RamRegion(sys, null, "full.as", b, false, false);
            system.addSubregion(0x100000, ram);
            b.close(); // the region holds its own reference
            try {
                assertEquals(MemTxResult.OK, as.stqLe(0x100000, 0x1122334455667788L));
                b.msync();
                fs.fill();
                // The first store faults, the rest find the block broken: each is ERROR, also once this loop is compiled.
                for (int i = 0; i < 20_000; i++) {
                    assertEquals(MemTxResult.ERROR, as.stqLe(0x100000 + 8 * PAGE + (i & 0xff) * 8L, i));
                }
                assertTrue(b.isBroken(), "the faulting store marked the block broken");
                assertTrue(b.brokenReason().startsWith("SIGBUS on [0x8000, +0x8)")
                        && b.brokenReason().contains("file system holding the backing file is full"), b.brokenReason());
            } finally {
                system.delSubregion(ram);
                ram.destroy();
            }
            assertTrue(b.isReleased(), "the region let go of the block, so the file system can be unmounted");
            assertJvmAlive();
            if (kind == Kind.EXT4) {
                fs.remountExt4();
            }
            assertFileHolds(file, 0, 8, new byte[] {(byte) 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11});
        }
    }

    @Test
    void onAFullTmpfsEvenReadingAnUntouchedPageIsAnError() {
        try (FullFileSystem fs = FullFileSystem.tmpfs(256 * 1024)) {
            fs.fill();
            // Creating and sizing the file needs no blocks; the first touch of a page does.
            try (RamBlock b = RamBlock.builder("full.read", SIZE).file(fs.dir().resolve("late.ram")).shared(true).build()) {
                RamBlockBrokenException e = assertThrows(RamBlockBrokenException.class, () -> b.ldqHe(8 * PAGE));
                assertInstanceOf(InternalError.class, e.getCause());
                assertTrue(e.getMessage().contains("full.read") && e.getMessage().contains("is full"), e.getMessage());
            }
            assertJvmAlive();
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void preallocOnAFullFileSystemFailsAtBuildAndLeavesNothingBehind(Kind kind) {
        try (FullFileSystem fs = kind.make()) {
            fs.fill();
            Path file = fs.dir().resolve("prealloc.ram");
            RamBackendException e = assertThrows(RamBackendException.class,
                    () -> RamBlock.builder("full.prealloc", SIZE).file(file).shared(true).prealloc().build());
            assertEquals("full.prealloc", e.idstr());
            assertEquals("fallocate", e.call());
            assertEquals(Linux.ENOSPC(), e.errno());
            assertTrue(e.getMessage().contains("preallocating") && e.getMessage().contains(file.toString()), e.getMessage());
            assertFalse(Files.exists(file), "the file the failed build created is removed");
            assertJvmAlive();
        }
    }

    @ParameterizedTest
    @EnumSource(Kind.class)
    void aPreallocatedBlockKeepsWorkingWhenTheFileSystemFills(Kind kind) throws IOException {
        try (FullFileSystem fs = kind.make()) {
            Path file = fs.dir().resolve("prealloc.ram");
            try (RamBlock b = RamBlock.builder("full.ok", SIZE).file(file).shared(true).prealloc().build(); Arena a = Arena.ofConfined()) {
                assertTrue(fs.fill() > 0);
                MemorySegment buf = a.allocate(SIZE);
                buf.fill((byte) 0x3c);
                assertEquals(MemTxResult.OK, b.write(0, buf, 0, SIZE), "every page already has its block");
                b.msync();
                assertFalse(b.isBroken());
                assertNull(b.writebackError());
            }
            if (kind == Kind.EXT4) {
                fs.remountExt4();
            }
            assertFileHolds(file, 0, SIZE, (byte) 0x3c);
        }
    }

    /**
     * The device under the file system runs out of space while the file system still has room
     * (a thin-provisioned disk, a disk image on a full host file system): writes to the mapping
     * succeed into the page cache and {@code msync} is where the full disk shows.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void msyncOnAFullDeviceThrowsEveryTimeAndDataSyncedBeforeSurvives(boolean journal) throws IOException {
        long size = 256 * PAGE;
        long half = size / 2;
        try (FullFileSystem fs = FullFileSystem.thinExt4(64L << 20, 16L << 20, journal)) {
            Path file = fs.dir().resolve("guest.ram");
            try (RamBlock b = RamBlock.builder("full.msync", size).file(file).shared(true).build(); Arena a = Arena.ofConfined()) {
                MemorySegment synced = a.allocate(half);
                synced.fill((byte) 0xa1);
                assertEquals(MemTxResult.OK, b.write(0, synced, 0, half));
                b.msync();

                assertTrue(fs.fill() > 0);
                MemorySegment unsynced = a.allocate(half);
                unsynced.fill((byte) 0xb2);
                assertEquals(MemTxResult.OK, b.write(half, unsynced, 0, half), "the file system has room: the page cache takes it");
                assertFalse(b.isBroken());

                RamBackendException first = assertThrows(RamBackendException.class, b::msync);
                assertEquals("msync", first.call());
                assertTrue(first.errno() == Linux.ENOSPC() || first.errno() == Linux.EIO(), "errno " + first.errno());
                assertTrue(first.getMessage().contains("full.msync") && first.getMessage().contains("msync of [0x0, 0x100000) failed")
                        && first.getMessage().contains("missing from the file"), first.getMessage());
                assertNotNull(b.writebackError());

                // The kernel now reports success (it reports a write-back error once and left the
                // unwritten pages clean; seen with and without a journal): the block keeps failing.
                RamBackendException again = assertThrows(RamBackendException.class, () -> b.msync(0, PAGE));
                assertEquals("msync", again.call());
                assertEquals(first.errno(), again.errno());
                assertSame(first.getCause(), again.getCause(), "names the first failure");
                assertTrue(again.getMessage().contains("refused"), again.getMessage());

                // The guest's memory is intact and accessible: only persistence failed.
                assertEquals(0xa1a1a1a1a1a1a1a1L, b.ldqHe(0));
                assertEquals(0xb2b2b2b2b2b2b2b2L, b.ldqHe(half));
            }
            assertJvmAlive();
            fs.remountExt4(); // drops every cached page: the file is read from the device
            assertFileHolds(file, 0, half, (byte) 0xa1);
        }
    }

    /**
     * The kernel reports the write-back error to one of the msyncs running at that moment; every
     * other one must fail too (refused), none may return as if the pages were written.
     */
    @Test
    void concurrentMsyncsOnAFullDeviceAllFail() throws Exception {
        long size = 256 * PAGE;
        int threads = 8;
        try (FullFileSystem fs = FullFileSystem.thinExt4(64L << 20, 16L << 20, false)) {
            try (RamBlock b = RamBlock.builder("full.race", size).file(fs.dir().resolve("guest.ram")).shared(true).build();
                    Arena a = Arena.ofConfined(); ExecutorService pool = Executors.newFixedThreadPool(threads)) {
                assertTrue(fs.fill() > 0);
                MemorySegment buf = a.allocate(size);
                buf.fill((byte) 0xc3);
                assertEquals(MemTxResult.OK, b.write(0, buf, 0, size));
                CyclicBarrier start = new CyclicBarrier(threads);
                List<Future<String>> results = new ArrayList<>();
                for (int t = 0; t < threads; t++) {
                    results.add(pool.submit(() -> {
                        start.await();
                        try {
                            b.msync();
                            return "msync returned normally";
                        } catch (RamBackendException e) {
                            return e.getMessage().contains("refused") ? "refused" : e.getMessage().contains("failed:") ? "failed" : e.getMessage();
                        }
                    }));
                }
                List<String> outcomes = new ArrayList<>();
                for (Future<String> r : results) {
                    outcomes.add(r.get(60, TimeUnit.SECONDS));
                }
                assertEquals(1, outcomes.stream().filter("failed"::equals).count(), outcomes::toString);
                assertEquals(threads - 1, outcomes.stream().filter("refused"::equals).count(), outcomes::toString);
                assertNotNull(b.writebackError());
            }
        }
    }

    private static void assertFileHolds(Path file, long offset, long length, byte value) throws IOException {
        byte[] expected = new byte[(int) length];
        Arrays.fill(expected, value);
        assertFileHolds(file, offset, length, expected);
    }

    private static void assertFileHolds(Path file, long offset, long length, byte[] expected) throws IOException {
        ByteBuffer bb = ByteBuffer.allocate((int) length);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (bb.hasRemaining()) {
                int n = ch.read(bb, offset + bb.position());
                assertTrue(n > 0, "file " + file + " ends at 0x" + Long.toHexString(offset + bb.position()));
            }
        }
        for (int i = 0; i < length; i++) {
            if (bb.get(i) != expected[i]) {
                throw new AssertionError("file " + file + " byte 0x" + Long.toHexString(offset + i) + " is 0x"
                        + Integer.toHexString(bb.get(i) & 0xff) + ", expected 0x" + Integer.toHexString(expected[i] & 0xff));
            }
        }
    }

    private static void assertJvmAlive() {
        try (RamBlock b = RamBlock.anonymous("full.after", PAGE)) {
            b.stqHe(0, 7);
            assertEquals(7, b.ldqHe(0));
        }
    }
}
