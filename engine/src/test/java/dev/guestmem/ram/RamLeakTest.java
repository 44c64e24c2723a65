package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.Linux;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Nothing leaks: neither after blocks are closed nor when creation fails. Descriptors are counted
 * in /proc/self/fd; mappings are found in /proc/self/maps by name (file path, memfd name) and by
 * their distinctive size, so the JVM's own mapping churn cannot hide or fake a leak.
 */
class RamLeakTest {
    private static final long PAGE = 4096;
    /** An odd size no JVM mapping has. */
    private static final long ODD = 3 * (1L << 20) + 7 * PAGE;

    @TempDir
    Path dir;

    @Test
    void createAndCloseManyBlocksLeavesNothing() {
        List<Supplier<RamBlock>> makers = List.of(
                () -> RamBlock.anonymous("leak.anon", ODD),
                () -> RamBlock.builder("leak.memfd", ODD).memfd().build(),
                () -> RamBlock.builder("leak.file", ODD).file(dir.resolve("leak.file")).shared(true).build(),
                () -> RamBlock.builder("leak.aligned", ODD).align(8L << 20).build(),
                () -> RamBlock.builder("leak.resize", PAGE).resizeable(ODD, null).memfd().build());
        for (Supplier<RamBlock> m : makers) {
            m.get().close(); // warm up class loading and lazy JVM state
        }
        int fds = ProcSelf.fdCount();
        long oddBefore = countSize(ODD);
        for (int i = 0; i < 20; i++) {
            List<RamBlock> open = new ArrayList<>();
            for (Supplier<RamBlock> m : makers) {
                open.add(m.get());
            }
            assertEquals(fds + 3, ProcSelf.fdCount(), "memfd, file and resizeable memfd hold one fd each");
            assertTrue(countSize(ODD) >= oddBefore + 4);
            RamList list = new RamList();
            open.forEach(list::add);
            open.forEach(RamBlock::close);
            assertTrue(list.blocks().isEmpty());
        }
        assertEquals(fds, ProcSelf.fdCount());
        assertEquals(oddBefore, countSize(ODD));
        assertTrue(ProcSelf.mappingsNaming("leak.memfd").isEmpty());
        assertTrue(ProcSelf.mappingsNaming("leak.file").isEmpty());
        assertTrue(ProcSelf.mappingsNaming("leak.resize").isEmpty());
    }

    @Test
    void badInputGetsATypedErrorAndLeavesNothingMappedOrOpen() throws IOException {
        Path small = dir.resolve("small");
        Files.write(small, new byte[(int) (2 * PAGE)]);
        Path missing = dir.resolve("missing");
        List<Runnable> invalid = List.of(
                () -> RamBlock.anonymous("bad.zero", 0),
                () -> RamBlock.anonymous("bad.negative", -PAGE),
                () -> RamBlock.anonymous("bad.overflow", Long.MAX_VALUE),
                () -> RamBlock.builder("bad.flags", ODD).flags(RamFlags.SHARED | (1 << 20)).build(),
                () -> RamBlock.builder("bad.prealloc-flag", ODD).flags(RamFlags.PREALLOC).build(),
                () -> RamBlock.builder("bad.max", ODD).resizeable(PAGE, null).build(),
                () -> RamBlock.builder("bad.align", ODD).align(3 * PAGE).build(),
                () -> RamBlock.builder("bad.offset-beyond", PAGE).file(small, 4 * PAGE).build(),
                () -> RamBlock.builder("bad.offset-unaligned", PAGE).file(small, 100).build(),
                () -> RamBlock.builder("bad.file-short", ODD).file(small, 0).build(),
                () -> RamBlock.builder("bad.ro-shared-writeable", PAGE).file(small, 0)
                        .flags(RamFlags.SHARED | RamFlags.READONLY_FD).build(),
                () -> RamBlock.builder("bad.missing", ODD).file(missing, 0).build(),
                () -> RamBlock.builder("bad.dir", ODD).file(dir).build(),
                () -> RamBlock.builder("bad.ro-memfd", ODD).memfd().readOnly().build(),
                () -> RamBlock.builder("bad.host-short", ODD).host(java.lang.foreign.Arena.global().allocate(PAGE)).build());
        List<Runnable> failing = List.of(
                () -> RamBlock.builder("bad.fd", ODD).fd(1_000_000, 0).build(),
                () -> RamBlock.anonymous("bad.enomem", 1L << 52),
                () -> RamBlock.builder("bad.hugetlb", 2L << 20).backend(new RamBackend.Memfd(true)).build(),
                () -> RamBlock.builder("bad.new-file-enomem", 1L << 52).file(dir.resolve("created")).shared(true).build());
        for (Runnable r : invalid) {
            assertThrows(InvalidRamBlockException.class, r::run); // warm-up pass
        }
        for (Runnable r : failing) {
            assertThrows(RuntimeException.class, r::run);
        }
        int fds = ProcSelf.fdCount();
        long oddBefore = countSize(ODD);
        for (Runnable r : invalid) {
            InvalidRamBlockException e = assertThrows(InvalidRamBlockException.class, r::run);
            assertTrue(e.getMessage().startsWith("RAM block 'bad."), e.getMessage());
        }
        RamBackendException fd = assertThrows(RamBackendException.class, failing.get(0)::run);
        assertEquals("fcntl", fd.call());
        assertEquals(Linux.EBADF(), fd.errno());
        RamBackendException enomem = assertThrows(RamBackendException.class, failing.get(1)::run);
        assertEquals("mmap", enomem.call());
        assertEquals(Linux.ENOMEM(), enomem.errno());
        // MFD_HUGETLB with an empty pool fails after the memfd exists: it must be closed again.
        RamBackendException huge = assertThrows(RamBackendException.class, failing.get(2)::run);
        assertTrue(huge.errno() != 0, huge.getMessage());
        // A file this call created is deleted again when mapping fails.
        assertThrows(RuntimeException.class, failing.get(3)::run);
        assertFalse(Files.exists(dir.resolve("created")));

        assertEquals(fds, ProcSelf.fdCount());
        assertEquals(oddBefore, countSize(ODD));
        assertTrue(ProcSelf.mappingsNaming("bad.").isEmpty());
        assertTrue(ProcSelf.mappingsNaming(small.toString()).isEmpty());
        assertFalse(Files.exists(missing));
        assertEquals(2 * PAGE, Files.size(small), "a failed request never resizes an existing file");
    }

    private static long countSize(long size) {
        return ProcSelf.mappingSizes().stream().filter(s -> s == size).count();
    }
}
