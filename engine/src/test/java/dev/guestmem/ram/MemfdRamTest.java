package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import org.junit.jupiter.api.Test;

/** {@link RamBackendContract} for sealed memfds, plus the seals themselves. */
class MemfdRamTest extends RamBackendContract {
    @Override
    protected RamBlock create(String idstr, long size) {
        return RamBlock.builder(idstr, size).memfd().build();
    }

    @Override
    protected boolean hasFd() {
        return true;
    }

    @Override
    protected boolean isShared() {
        return true;
    }

    /**
     * A block's name is its memfd's name, a label the kernel caps at 249 bytes: a longer idstr (a
     * shared region's name, which has no such limit) still makes a memfd, under a cut name. It failed
     * with memfd_create's EINVAL.
     */
    @Test
    void aNameLongerThanAMemfdNameIsCut() throws Exception {
        String idstr = "r".repeat(300) + "\u00e9";
        try (RamBlock b = RamBlock.builder(idstr, 4096).memfd().build()) {
            assertEquals(idstr, b.idstr());
            String link = java.nio.file.Files.readSymbolicLink(java.nio.file.Path.of("/proc/self/fd/" + b.fd())).toString();
            assertEquals("/memfd:" + "r".repeat(249) + " (deleted)", link);
        }
    }

    @Test
    void memfdIsSealedAgainstShrinkAndGrow() {
        try (RamBlock b = create("memfd.seals", SIZE)) {
            int seals = LinuxCalls.getSeals(b.fd());
            assertTrue((seals & Linux.F_SEAL_SHRINK()) != 0);
            assertTrue((seals & Linux.F_SEAL_GROW()) != 0);
            NativeCallException e = assertThrows(NativeCallException.class, () -> LinuxCalls.ftruncate(b.fd(), 4096));
            assertEquals(Linux.EPERM(), e.errno());
            assertEquals(SIZE, LinuxCalls.fstatSize(b.fd()));
            assertTrue(ProcSelf.fdTarget(b.fd()).contains("memfd:memfd.seals"));
        }
    }
}
