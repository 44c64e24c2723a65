package dev.guestmem.uffd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The page server's warm-up writes a scratch snapshot (in /dev/shm) and deletes it once mapped; a
 * server killed in between (a test's timeout, a restore given up during start-up) left it there, 1 MiB
 * each, for good. A warm-up's scratch file names its process, and the next warm-up removes those of
 * processes that are gone.
 */
class WarmUpScratchTest {
    @Test
    void aWarmUpRemovesTheScratchFilesOfDeadProcessesOnly(@TempDir Path dir) throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        long dead = p.pid(); // reaped: no process has this id (until the kernel reuses it)
        long self = ProcessHandle.current().pid();
        Path orphan = Files.createFile(dir.resolve(PageServerWarmUp.SCRATCH_PREFIX + dead + "-123.gms"));
        Path orphanTmp = Files.createFile(dir.resolve(PageServerWarmUp.SCRATCH_PREFIX + dead + "-456.gms.tmp"));
        Path live = Files.createFile(dir.resolve(PageServerWarmUp.SCRATCH_PREFIX + self + "-789.gms"));
        Path other = Files.createFile(dir.resolve("somebody-else-" + dead + ".gms"));

        assertEquals(2, PageServerWarmUp.removeOrphans(dir));

        assertFalse(Files.exists(orphan), "a dead server's scratch snapshot stays");
        assertFalse(Files.exists(orphanTmp), "a dead server's half-written scratch snapshot stays");
        assertTrue(Files.exists(live), "a live process's scratch snapshot was removed");
        assertTrue(Files.exists(other), "a file that is not a warm-up's was removed");
    }

    @Test
    void theScratchFileNamesItsProcess(@TempDir Path dir) throws Exception {
        Path snap = PageServerWarmUp.scratchFile(dir);
        assertTrue(snap.getFileName().toString().startsWith(
                PageServerWarmUp.SCRATCH_PREFIX + ProcessHandle.current().pid() + "-"), snap.toString());
        assertEquals(List.of(snap), Files.list(dir).toList());
    }
}
