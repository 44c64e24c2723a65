package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

/** Descriptor-leak checks of the share tests: a test's server sends memfds named after a probe. */
final class ProbeDescriptors {
    private ProbeDescriptors() {
    }

    /**
     * Fails if this process still has a descriptor of a memfd named {@code probe}.
     *
     * @param probe the memfd name the test's server used
     */
    static void assertNoneOpen(String probe) {
        List<String> open = new ArrayList<>();
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                try {
                    String target = Files.readSymbolicLink(p).toString();
                    if (target.contains(probe)) {
                        open.add(p.getFileName() + " -> " + target);
                    }
                } catch (IOException e) {
                    // closed since listed
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        assertEquals(List.of(), open, "descriptors of " + probe + " memfds left open");
    }
}
