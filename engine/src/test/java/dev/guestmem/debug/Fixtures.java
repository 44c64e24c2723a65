package dev.guestmem.debug;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/** Locates the QEMU captures named by the {@code guestmem.fixtures} system property. */
final class Fixtures {
    private Fixtures() {
    }

    static Path dir() {
        String p = System.getProperty("guestmem.fixtures");
        if (p == null || p.isBlank()) {
            throw new IllegalStateException("system property guestmem.fixtures is not set");
        }
        Path d = Path.of(p);
        if (!Files.isDirectory(d)) {
            throw new IllegalStateException("guestmem.fixtures is not a folder: " + d);
        }
        return d;
    }

    /** @return the machine names (files NAME.annotated.txt), sorted */
    static List<String> machines() {
        try (Stream<Path> s = Files.list(dir())) {
            return s.map(f -> f.getFileName().toString())
                    .filter(n -> n.endsWith(".annotated.txt"))
                    .map(n -> n.substring(0, n.length() - ".annotated.txt".length()))
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String read(String machine, String kind) {
        try {
            return Files.readString(dir().resolve(machine + "." + kind + ".txt"), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
