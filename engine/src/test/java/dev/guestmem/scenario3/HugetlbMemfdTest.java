package dev.guestmem.scenario3;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guestmem.ram.RamBackend;
import dev.guestmem.ram.RamBackendException;
import dev.guestmem.ram.RamBlock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Shared RAM on hugetlb (QEMU's {@code memory-backend-memfd,hugetlb=on}): with an empty huge page
 * pool the block is refused when it is built (the mapping reserves its pages), rather than mapped
 * and left to SIGBUS on first touch.
 */
class HugetlbMemfdTest {
    @Test
    void aHugetlbMemfdWithAnEmptyPoolIsRefusedAtBuild() throws IOException {
        long free = Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("HugePages_Free:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(-1);
        assumeTrue(free == 0, "this machine has free huge pages (" + free + "): the refusal cannot be shown");
        RamBackendException e = assertThrows(RamBackendException.class,
                () -> RamBlock.builder("huge", 4L << 20).backend(new RamBackend.Memfd(true)).build().close());
        assertTrue(e.getMessage().contains("errno 12"), e.getMessage());
    }
}
