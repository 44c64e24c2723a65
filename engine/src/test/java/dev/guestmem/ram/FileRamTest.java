package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** {@link RamBackendContract} for a shared file mapping, plus file-specific behaviour. */
class FileRamTest extends RamBackendContract {
    private Path dir;

    @BeforeEach
    void makeDir() throws IOException {
        dir = Files.createTempDirectory("guestmem-ram-");
    }

    @AfterEach
    void removeDir() throws IOException {
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                Files.delete(p);
            }
        }
        Files.delete(dir);
    }

    @Override
    protected RamBlock create(String idstr, long size) {
        return RamBlock.builder(idstr, size).file(dir.resolve(idstr)).shared(true).build();
    }

    @Override
    protected boolean hasFd() {
        return true;
    }

    @Override
    protected boolean isShared() {
        return true;
    }

    @Test
    void emptyFileIsGrownAndWritesReachTheFile() throws IOException {
        Path f = dir.resolve("grown");
        try (RamBlock b = RamBlock.builder("file.grow", 2 * PAGE).file(f).shared(true).build()) {
            assertEquals(2 * PAGE, Files.size(f));
            b.stqHe(PAGE, 0x0102030405060708L);
            b.msync();
            byte[] bytes = Files.readAllBytes(f);
            assertEquals(8, bytes[(int) PAGE]);
            assertEquals(1, bytes[(int) PAGE + 7]);
        }
    }

    @Test
    void offsetMapsTheRightPartOfAnExistingFile() throws IOException {
        Path f = dir.resolve("offset");
        byte[] content = new byte[(int) (4 * PAGE)];
        for (int i = 0; i < content.length; i++) {
            content[i] = (byte) (i / PAGE + 1);
        }
        Files.write(f, content);
        try (RamBlock b = RamBlock.builder("file.offset", 2 * PAGE).file(f, 2 * PAGE).shared(false).build()) {
            assertEquals(3, b.segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0));
            assertEquals(4, b.segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, PAGE));
            b.segment().fill((byte) 9); // private: copy on write, the file keeps its bytes
        }
        assertArrayEquals(content, readAll(f));
    }

    @Test
    void readOnlyMappingOfReadOnlyFd() throws IOException {
        Path f = dir.resolve("ro");
        Files.write(f, new byte[(int) PAGE]);
        try (RamBlock b = RamBlock.builder("file.ro", PAGE).file(f, 0).shared(true).readOnly().build()) {
            assertEquals(RamFlags.READONLY | RamFlags.READONLY_FD, b.flags() & (RamFlags.READONLY | RamFlags.READONLY_FD));
            assertEquals(0, b.ldqHe(0));
            org.junit.jupiter.api.Assertions.assertThrows(UnsupportedOperationException.class, () -> b.stqHe(0, 1));
        }
    }

    private static byte[] readAll(Path f) {
        try {
            return Files.readAllBytes(f);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
