package dev.guestmem.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launcher's rebuild-on-demand check ({@code stale} in {@code ./guestmem}). */
class LauncherStaleTest {
    /**
     * The launcher's {@code stale} check counts test sources: a test file newer than the engine jar
     * makes every {@code ./guestmem} command rebuild, and since {@code mvn package} does not rewrite a
     * jar whose classes did not change, it stays stale (each command pays a Maven build) until a main
     * source changes. A test-only change should not make the jar stale.
     */
    @Test
    void launcherDoesNotRebuildForATestOnlyChange(@TempDir Path dir) throws IOException, InterruptedException {
        String script = Files.readString(Path.of("../guestmem"));
        int from = script.indexOf("stale() {");
        int to = script.indexOf("\n}\n", from) + 3;
        String stale = script.substring(from, to);
        Files.writeString(dir.resolve("pom.xml"), "<project/>");
        Path jar = dir.resolve("engine/target/guestmem-engine.jar");
        Files.createDirectories(jar.getParent());
        Files.writeString(jar, "jar");
        Path main = dir.resolve("engine/src/main/java/A.java");
        Path test = dir.resolve("engine/src/test/java/ATest.java");
        Files.createDirectories(main.getParent());
        Files.createDirectories(test.getParent());
        Files.writeString(main, "class A {}");
        Files.writeString(test, "class ATest {}");
        Instant now = Instant.now();
        Files.setLastModifiedTime(main, FileTime.from(now.minusSeconds(120)));
        Files.setLastModifiedTime(dir.resolve("pom.xml"), FileTime.from(now.minusSeconds(120)));
        Files.setLastModifiedTime(jar, FileTime.from(now.minusSeconds(60)));
        Files.setLastModifiedTime(test, FileTime.from(now));
        Files.createDirectories(dir.resolve("native-bindings"));
        Files.createDirectories(dir.resolve("jmh"));
        assertEquals("fresh", run(dir, stale), "a test source newer than the jar made ./guestmem rebuild");
        Files.setLastModifiedTime(main, FileTime.from(now.plusSeconds(1)));
        assertEquals("stale", run(dir, stale), "a main source newer than the jar must rebuild");
        Files.setLastModifiedTime(main, FileTime.from(now.minusSeconds(120)));
        Path resource = dir.resolve("engine/src/main/resources/x.txt");
        Files.createDirectories(resource.getParent());
        Files.writeString(resource, "x");
        assertEquals("stale", run(dir, stale), "a main resource newer than the jar must rebuild");
        Files.delete(jar);
        assertEquals("stale", run(dir, stale), "a missing jar must build");
    }

    private static String run(Path dir, String stale) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("bash", "-c", stale + "\nstale engine/target/guestmem-engine.jar && echo stale || echo fresh")
                .directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        p.waitFor(30, TimeUnit.SECONDS);
        return out;
    }
}
