package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code memory_region_get_alignment} reads {@code mr->align}, which QEMU sets while allocating the
 * block: {@code qemu_anon_ram_alloc} stores {@code QEMU_VMALLOC_ALIGN} (2 MiB on x86_64),
 * {@code file_ram_alloc} stores {@code MAX(page_size, align)} with the fd's page size (the huge page
 * size on hugetlbfs), and memory given by the caller ({@code memory_region_init_ram_ptr}) leaves 0.
 * guestmem's {@link RamBlock#alignment()} is the alignment the host address was given.
 */
class RamAlignmentTest {
    private static final long PAGE = LinuxCalls.pageSize();
    private static final long MIB2 = 2L << 20;

    @TempDir
    Path dir;

    private static void assertAligned(RamBlock b) {
        assertEquals(0, b.hostAddress() & (b.alignment() - 1), "the host address honours " + b.alignment());
    }

    @Test
    void anonymousRamOfTwoMibOrMoreIsVmallocAligned() {
        try (RamBlock b = RamBlock.anonymous("pc.ram", 4L << 20)) {
            assertEquals(MIB2, b.alignment(), "qemu_anon_ram_alloc: *alignment = QEMU_VMALLOC_ALIGN");
            assertAligned(b);
        }
    }

    /** guestmem page-aligns small anonymous blocks (QEMU would reserve 2 MiB of address space for them). */
    @Test
    void smallAnonymousRamReportsThePageItWasGiven() {
        try (RamBlock b = RamBlock.anonymous("small", 0x10000)) {
            assertEquals(PAGE, b.alignment());
        }
    }

    @Test
    void aRequestedAlignmentAboveTheDefaultIsKept() {
        try (RamBlock anon = RamBlock.builder("a", 0x10000).align(8L << 20).build();
             RamBlock memfd = RamBlock.builder("m", 0x10000).memfd().align(4L << 20).build()) {
            assertEquals(8L << 20, anon.alignment());
            assertAligned(anon);
            assertEquals(4L << 20, memfd.alignment(), "memory_region_init_ram_from_file's align");
            assertAligned(memfd);
        }
    }

    @Test
    void fileBackedBlocksDefaultToTheFilesPageSize() {
        Path file = dir.resolve("mem");
        try (RamBlock memfd = RamBlock.builder("m", 0x3000).memfd().build();
             RamBlock f = RamBlock.builder("f", 0x3000).file(file).shared(true).build();
             RamBlock small = RamBlock.builder("s", 0x3000).memfd().align(16).build()) {
            assertEquals(PAGE, memfd.alignment(), "file_ram_alloc: MAX(page_size, 0)");
            assertEquals(PAGE, f.alignment());
            assertEquals(PAGE, small.alignment(), "an alignment below the page size gives the page size");
            int fd = LinuxCalls.fcntl(f.fd(), Linux.F_DUPFD_CLOEXEC(), 0);
            try (RamBlock viaFd = RamBlock.builder("d", 0x3000).fd(fd, 0).build()) {
                assertEquals(PAGE, viaFd.alignment(), "qemu_ram_alloc_from_fd, as from a file");
            } finally {
                LinuxCalls.close(fd);
            }
        }
    }

    @Test
    void callerOwnedMemoryHasNoAlignmentUnlessAskedFor() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment host = arena.allocate(0x4000, 0x4000);
            try (RamBlock plain = RamBlock.builder("ptr", 0x4000).host(host).build();
                 RamBlock asked = RamBlock.builder("ptr2", 0x4000).host(host).align(0x4000).build();
                 RamBlock device = RamBlock.builder("bar", 0x4000).ramDevice(host).build()) {
                assertEquals(0, plain.alignment(), "memory_region_init_ram_ptr leaves mr->align 0");
                assertEquals(0x4000, asked.alignment(), "checked at build, so it can be promised");
                assertEquals(0, device.alignment());
            }
        }
    }

    @Test
    void aHugetlbMemfdIsAlignedToItsHugePage() {
        long huge;
        try {
            int fd = LinuxCalls.memfdCreate("probe", Linux.MFD_CLOEXEC() | Linux.MFD_HUGETLB());
            huge = LinuxCalls.fdPageSize(fd);
            LinuxCalls.close(fd);
        } catch (NativeCallException e) {
            assumeTrue(false, "no hugetlb memfds here: " + e.getMessage());
            return;
        }
        assumeTrue(huge > PAGE, "hugetlb memfd without huge pages");
        try (RamBlock b = RamBlock.builder("huge", huge).backend(new RamBackend.Memfd(true)).noreserve(true).build()) {
            assertEquals(huge, b.alignment(), "file_ram_alloc: MAX(page_size, align) with the huge page size");
            assertAligned(b);
        }
    }

    @Test
    void resizingKeepsTheAlignment() {
        try (RamBlock b = RamBlock.builder("vram", 0x1000).resizeable(4L << 20, null).build()) {
            long before = b.alignment();
            assertEquals(MIB2, before, "the reservation (max length) decides, as QEMU's allocation of max_length");
            b.resize(3L << 20);
            assertEquals(before, b.alignment());
        }
    }
}
