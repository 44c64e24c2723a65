package dev.guestmem.ram;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Reads /proc/self to check for leaked descriptors and mappings. */
final class ProcSelf {
    private ProcSelf() {
    }

    static int fdCount() {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return (int) s.count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static List<String> maps() {
        try {
            return Files.readAllLines(Path.of("/proc/self/maps"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Lines of /proc/self/maps whose range contains {@code addr}. */
    static List<String> mappingsAt(long addr) {
        return maps().stream().filter(l -> {
            String[] range = l.substring(0, l.indexOf(' ')).split("-");
            long lo = Long.parseUnsignedLong(range[0], 16);
            long hi = Long.parseUnsignedLong(range[1], 16);
            return Long.compareUnsigned(addr, lo) >= 0 && Long.compareUnsigned(addr, hi) < 0;
        }).toList();
    }

    /** Lines of /proc/self/maps that mention {@code text} (a file path or memfd name). */
    static List<String> mappingsNaming(String text) {
        return maps().stream().filter(l -> l.contains(text)).toList();
    }

    /** Sizes of every mapping, one per line, for spotting a new mapping of a distinctive size. */
    static List<Long> mappingSizes() {
        return maps().stream().map(l -> {
            String[] range = l.substring(0, l.indexOf(' ')).split("-");
            return Long.parseUnsignedLong(range[1], 16) - Long.parseUnsignedLong(range[0], 16);
        }).toList();
    }

    /** Where /proc/self/fd/N points, or null if N is not open. */
    static String fdTarget(int fd) {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        } catch (IOException e) {
            return null;
        }
    }
}
