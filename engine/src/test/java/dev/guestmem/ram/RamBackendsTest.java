package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Resizeable blocks, fd / host / RAM-device backends, alignment, hints and preallocation. */
class RamBackendsTest {
    private static final long PAGE = 4096;

    @TempDir
    Path dir;

    @Test
    void resizeableBlockReservesMaxAndResizesWithinIt() {
        List<String> calls = new ArrayList<>();
        RamList list = new RamList();
        list.addNotifier(new RamBlockNotifier() {
            @Override
            public void ramBlockResized(RamBlock block, long oldSize, long newSize) {
                calls.add("notifier " + block.idstr() + " " + oldSize + "->" + newSize);
            }
        });
        try (RamBlock b = RamBlock.builder("vram", 4 * PAGE)
                .resizeable(64 * PAGE, (id, size, host) -> calls.add("callback " + id + " " + size + " " + host.byteSize()))
                .build()) {
            list.add(b);
            assertTrue(b.isResizeable());
            assertEquals(64 * PAGE, b.maxLength());
            assertEquals(4 * PAGE, b.segment().byteSize());
            b.stqHe(3 * PAGE, 77);
            b.resize(40 * PAGE + 100);
            assertEquals(40 * PAGE + 100, b.usedLength());
            assertEquals(40 * PAGE + 100, b.segment().byteSize());
            assertEquals(77, b.ldqHe(3 * PAGE), "resizing keeps the contents");
            b.stqHe(40 * PAGE, 5);
            b.resize(2 * PAGE);
            assertThrows(IndexOutOfBoundsException.class, () -> b.ldqHe(3 * PAGE));
            assertEquals(List.of(
                    "notifier vram 16384->163940", "callback vram 163940 262144",
                    "notifier vram 163940->8192", "callback vram 8192 262144"), calls);
            InvalidRamBlockException big = assertThrows(InvalidRamBlockException.class, () -> b.resize(65 * PAGE));
            assertTrue(big.getMessage().contains("max length"));
            assertThrows(InvalidRamBlockException.class, () -> b.resize(0));
            assertEquals(2 * PAGE, b.usedLength());
            assertTrue(ProcSelf.mappingsAt(b.hostAddress() + 63 * PAGE).size() == 1, "the whole max length is reserved");
        }
    }

    @Test
    void fixedBlockRejectsSizeChanges() {
        try (RamBlock b = RamBlock.anonymous("fixed", 4 * PAGE)) {
            b.resize(4 * PAGE);
            InvalidRamBlockException e = assertThrows(InvalidRamBlockException.class, () -> b.resize(8 * PAGE));
            assertTrue(e.getMessage().contains("size mismatch"), e.getMessage());
        }
    }

    @Test
    void fdBackendDuplicatesTheCallersFdAndSharesItsFile() {
        int fd = LinuxCalls.memfdCreate("caller", Linux.MFD_CLOEXEC());
        try {
            LinuxCalls.ftruncate(fd, 8 * PAGE);
            try (RamBlock a = RamBlock.builder("fd.a", 4 * PAGE).fd(fd, 4 * PAGE).build();
                 RamBlock b = RamBlock.builder("fd.b", 8 * PAGE).fd(fd, 0).build()) {
                assertTrue(a.isShared());
                assertTrue(a.fd() != fd);
                assertEquals(4 * PAGE, a.fdOffset());
                a.stqHe(8, 0xabcdL);
                assertEquals(0xabcdL, b.ldqHe(4 * PAGE + 8), "same file, shifted by the offset");
            }
            assertEquals(8 * PAGE, LinuxCalls.fstatSize(fd), "the caller's fd stays open");
        } finally {
            LinuxCalls.close(fd);
        }
    }

    @Test
    void privateFdMappingCopiesOnWrite() {
        int fd = LinuxCalls.memfdCreate("cow", Linux.MFD_CLOEXEC());
        try {
            LinuxCalls.ftruncate(fd, PAGE);
            try (RamBlock shared = RamBlock.builder("cow.shared", PAGE).fd(fd, 0).build();
                 RamBlock priv = RamBlock.builder("cow.private", PAGE).fd(fd, 0).shared(false).build()) {
                shared.stqHe(0, 1);
                assertEquals(1, priv.ldqHe(0));
                priv.stqHe(0, 2);
                assertEquals(1, shared.ldqHe(0), "a private write stays private");
                priv.discard(0, PAGE);
                assertEquals(1, priv.ldqHe(0), "discarding a private file page reads the file again");
            }
        } finally {
            LinuxCalls.close(fd);
        }
    }

    @Test
    void hostMemoryIsUsedButNeverFreed() {
        try (Arena caller = Arena.ofShared()) {
            MemorySegment mem = caller.allocate(4 * PAGE, PAGE);
            mem.set(ValueLayout.JAVA_LONG, 0, 123);
            RamBlock b = RamBlock.builder("ptr", 4 * PAGE).host(mem).build();
            assertEquals(mem.address(), b.hostAddress());
            assertEquals(123, b.ldqHe(0));
            assertTrue((b.flags() & RamFlags.PREALLOC) != 0);
            assertThrows(RamBackendException.class, () -> b.discard(0, PAGE));
            b.close();
            assertTrue(b.isReleased());
            // the block's view has the caller's scope (CallerMemoryLifetimeTest): it lives as the memory does
            assertEquals(123, mem.get(ValueLayout.JAVA_LONG, 0), "the caller's memory outlives the block");
        }
    }

    @Test
    void ramDeviceMemoryIsFlagged() {
        MemorySegment bar = Arena.global().allocate(PAGE, PAGE);
        try (RamBlock b = RamBlock.builder("bar0", PAGE).ramDevice(bar).build()) {
            assertTrue(b.isRamDevice());
            assertTrue((b.flags() & RamFlags.PREALLOC) != 0);
        }
        try (RamBlock b = RamBlock.anonymous("not-a-device", PAGE)) {
            assertFalse(b.isRamDevice());
        }
    }

    @Test
    void alignmentHugepageHintAndPrealloc() {
        try (RamBlock b = RamBlock.builder("aligned", 3 * PAGE).align(16L << 20).build()) {
            assertEquals(0, b.hostAddress() % (16L << 20));
        }
        try (RamBlock b = RamBlock.anonymous("big", 4L << 20)) {
            assertEquals(0, b.hostAddress() % (2L << 20), "anonymous RAM starts on QEMU_VMALLOC_ALIGN");
        }
        boolean thp = Files.exists(Path.of("/sys/kernel/mm/transparent_hugepage/enabled"));
        try (RamBlock b = RamBlock.builder("thp", 4L << 20).hugepages().build()) {
            assertEquals(thp, b.isHugepageAdvised());
            assertTrue(ProcSelf.maps().size() > 0);
        }
        try (RamBlock b = RamBlock.builder("pre.memfd", 64 * PAGE).memfd().prealloc().build()) {
            assertEquals(0, b.ldqHe(63 * PAGE));
        }
        try (RamBlock b = RamBlock.builder("pre.file", 64 * PAGE).file(dir.resolve("pre")).shared(true).prealloc().build()) {
            assertEquals(0, b.ldqHe(63 * PAGE));
        }
    }

    /** QEMU asserts against a read-only anonymous block (it could only read zeros); a read-only file block refuses stores. */
    @Test
    void readOnlyAnonymousBlockIsRefusedAndReadOnlyFileBlocksRejectStores() throws Exception {
        InvalidRamBlockException e = assertThrows(InvalidRamBlockException.class,
                () -> RamBlock.builder("ro.anon", PAGE).readOnly().build());
        assertTrue(e.getMessage().contains("only zeros"), e.getMessage());
        Path f = dir.resolve("ro.img");
        Files.write(f, new byte[(int) PAGE]);
        try (RamBlock b = RamBlock.builder("ro.file", PAGE).file(f, 0).readOnly().build(); Arena a = Arena.ofConfined()) {
            assertTrue(b.isReadOnly());
            assertThrows(UnsupportedOperationException.class, () -> b.stqHe(0, 1));
            assertEquals(dev.guestmem.access.MemTxResult.ACCESS_ERROR, b.write(0, a.allocate(8), 0, 8));
            assertEquals(0, b.ldqHe(0));
        }
    }

    @Test
    void flagsWordMatchesQemuBits() {
        assertEquals(1 << 1, RamFlags.SHARED);
        assertEquals(1 << 2, RamFlags.RESIZEABLE);
        assertEquals("SHARED|READONLY", RamFlags.toString(RamFlags.SHARED | RamFlags.READONLY));
        assertEquals("0x100000", RamFlags.toString(1 << 20));
        try (RamBlock b = RamBlock.builder("flags", PAGE).flags(RamFlags.SHARED | RamFlags.RESIZEABLE).build()) {
            assertTrue(b.isShared());
            assertTrue(b.isResizeable());
            assertNotNull(b.toString());
        }
    }
}
