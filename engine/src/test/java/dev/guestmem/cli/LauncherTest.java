package dev.guestmem.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code ./guestmem} shell launcher on a machine without a JDK 25: one line on stderr that says
 * why JAVA_HOME does not do, exit 1, before anything is built. The machine's own JDKs are kept out
 * of the search with {@code GUESTMEM_JDK_DIRS} and PATH; the JDKs here are fakes (a {@code release}
 * file and scripts), so the test needs no JDK 17 installed and never builds.
 */
class LauncherTest {
    @TempDir
    Path dir;

    /**
     * A copy of the launcher in a repository skeleton whose {@code jar} (a path in it) is newer than
     * every source, so the launcher builds nothing.
     */
    private Path fakeRepo(String jar) throws IOException {
        Path repo = Files.createDirectories(dir.resolve("repo"));
        Path launcher = Path.of("").toAbsolutePath().getParent().resolve("guestmem");
        Files.copy(launcher, repo.resolve("guestmem"));
        Files.writeString(repo.resolve("pom.xml"), "");
        for (String m : new String[] {"native-bindings", "engine", "jmh"}) {
            Files.createDirectories(repo.resolve(m));
        }
        Path j = repo.resolve(jar);
        Files.createDirectories(j.getParent());
        Files.writeString(j, "");
        Files.setLastModifiedTime(j, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 3_600_000));
        return repo;
    }

    private Path fakeJdk(String name, String version, boolean javac) throws IOException {
        Path home = dir.resolve(name);
        Files.createDirectories(home.resolve("bin"));
        Files.writeString(home.resolve("release"), "JAVA_VERSION=\"" + version + "\"\n");
        for (String tool : javac ? new String[] {"java", "javac"} : new String[] {"java"}) {
            Path p = home.resolve("bin").resolve(tool);
            Files.writeString(p, "#!/bin/sh\nexit 0\n");
            Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rwxr-xr-x"));
        }
        return home;
    }

    /** Runs the launcher with {@code demo}; returns exit status and stderr. */
    private String[] launch(String javaHome, Path pathFirst) throws Exception {
        return launch(javaHome, pathFirst, Files.createDirectories(dir.resolve("no-jdks")).toString());
    }

    /** Runs the launcher with {@code demo} and the given {@code GUESTMEM_JDK_DIRS}; returns exit status and stderr. */
    private String[] launch(String javaHome, Path pathFirst, String jdkDirs) throws Exception {
        Path launcher = Path.of("").toAbsolutePath().getParent().resolve("guestmem");
        assertTrue(Files.isRegularFile(launcher), launcher.toString());
        ProcessBuilder pb = new ProcessBuilder("bash", launcher.toString(), "demo").redirectErrorStream(false);
        Map<String, String> env = pb.environment();
        env.put("JAVA_HOME", javaHome);
        env.put("GUESTMEM_JDK_DIRS", jdkDirs);
        env.put("PATH", (pathFirst == null ? "" : pathFirst + ":") + "/usr/bin:/bin");
        Process p = pb.start();
        p.getOutputStream().close();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the launcher did not stop"); // a hang guard, not a timing check
        assertEquals("", out);
        return new String[] {Integer.toString(p.exitValue()), err};
    }

    private void failsWithOneLine(String[] r, String... words) {
        assertEquals("1", r[0], r[1]);
        assertEquals(1, r[1].lines().count(), r[1]);
        assertTrue(r[1].startsWith("guestmem: no JDK 25 or newer found"), r[1]);
        for (String w : words) {
            assertTrue(r[1].contains(w), "'" + w + "' missing from: " + r[1]);
        }
    }

    @Test
    void aJdk17IsNamedAsTheReason() throws Exception {
        Path jdk17 = fakeJdk("jdk-17", "17.0.12", true);
        failsWithOneLine(launch(jdk17.toString(), jdk17.resolve("bin")), "JAVA_HOME=" + jdk17 + " is Java 17, not 25");
    }

    @Test
    void aMissingJavaHomeIsNamedAsTheReason() throws Exception {
        failsWithOneLine(launch(dir.resolve("gone").toString(), null), "gone does not exist");
    }

    @Test
    void aJre25WithoutJavacIsNamedAsTheReason() throws Exception {
        Path jre = fakeJdk("jre-25", "25.0.1", false);
        failsWithOneLine(launch(jre.toString(), jre.resolve("bin")), "has no javac");
    }

    /**
     * {@code GUESTMEM_JDK_DIRS} set but empty searches no directory; the message listed the default
     * ones, which were not searched.
     */
    @Test
    void anEmptyJdkDirsListIsReportedAsNoDirectorySearched() throws Exception {
        String[] r = launch(dir.resolve("gone").toString(), null, "");
        failsWithOneLine(r, "no directory (GUESTMEM_JDK_DIRS is set but names none)");
        assertFalse(r[1].contains("/usr/lib/jvm"), r[1]);
        assertFalse(r[1].contains("sdkman"), r[1]);
    }

    /** The directories named in {@code GUESTMEM_JDK_DIRS} are the ones reported, and only they. */
    @Test
    void theJdkDirsSearchedAreTheOnesReported() throws Exception {
        Path a = Files.createDirectories(dir.resolve("jdks-a"));
        Path b = Files.createDirectories(dir.resolve("jdks-b"));
        String[] r = launch(dir.resolve("gone").toString(), null, a + "::" + b);
        failsWithOneLine(r, "checked JAVA_HOME, " + a + ", " + b + ", javac on PATH");
        assertFalse(r[1].contains("/usr/lib/jvm"), r[1]);
    }

    /**
     * The launcher did {@code cd} to the repository before running the command, so a relative path
     * ({@code ./guestmem mtree my.txt} from another directory) was looked up in the repository. A
     * copy of the launcher beside a fresh fake jar (nothing to build) and a fake JDK 25 whose
     * {@code java} prints its working directory shows where the command runs.
     */
    @Test
    void commandsRunInTheCallersDirectory() throws Exception {
        Path repo = fakeRepo("engine/target/guestmem-engine-0.1.0-SNAPSHOT.jar");
        Path jdk = fakeJdk("jdk-25", "25.0.1", true);
        Files.writeString(jdk.resolve("bin/java"), "#!/bin/sh\necho \"cwd=$(pwd)\"\n");
        Path caller = Files.createDirectories(dir.resolve("caller"));
        ProcessBuilder pb = new ProcessBuilder("bash", repo.resolve("guestmem").toString(), "mtree", "my.txt").directory(caller.toFile());
        pb.environment().put("JAVA_HOME", jdk.toString());
        pb.environment().put("PATH", "/usr/bin:/bin");
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the launcher did not stop"); // a hang guard
        assertEquals(0, p.exitValue(), err);
        assertEquals("cwd=" + caller.toRealPath(), out.strip(), "the command must see the caller's directory: " + err);
    }

    /**
     * Without HOME (cron, systemd, {@code env -i}) the launcher's build step ran {@code ./mvnw}, which
     * stopped at "HOME: parameter not set": the launcher gives the commands it runs the passwd
     * entry's home. The fake {@code java} prints the HOME it was given.
     */
    @Test
    void commandsGetAHomeWhenTheCallerHasNone() throws Exception {
        Path repo = fakeRepo("engine/target/guestmem-engine-0.1.0-SNAPSHOT.jar");
        Path jdk = fakeJdk("jdk-25", "25.0.1", true);
        Files.writeString(jdk.resolve("bin/java"), "#!/bin/sh\necho \"home=${HOME:-unset}\"\n");
        ProcessBuilder pb = new ProcessBuilder("bash", repo.resolve("guestmem").toString(), "mtree", "my.txt")
                .directory(repo.toFile());
        pb.environment().clear();
        pb.environment().put("JAVA_HOME", jdk.toString());
        pb.environment().put("PATH", "/usr/bin:/bin");
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the launcher did not stop"); // a hang guard
        assertEquals(0, p.exitValue(), err);
        String home = out.strip();
        assertTrue(home.startsWith("home=/") && Files.isDirectory(Path.of(home.substring(5))), out + err);
    }

    /**
     * A relative JAVA_HOME is the caller's (it is checked from the caller's directory): the commands
     * that run in the repository ({@code bench}, {@code test}, a build) must still find it there.
     * The launcher used it as given after its {@code cd}: from another directory, java was not found.
     */
    @Test
    void aRelativeJavaHomeStillWorksWhereTheLauncherChangesDirectory() throws Exception {
        Path repo = fakeRepo("jmh/target/benchmarks.jar");
        Path jdk = fakeJdk("jdk-25", "25.0.1", true);
        Files.writeString(jdk.resolve("bin/java"), "#!/bin/sh\necho ran\n");
        Path caller = Files.createDirectories(dir.resolve("a/b"));
        ProcessBuilder pb = new ProcessBuilder("bash", repo.resolve("guestmem").toString(), "bench").directory(caller.toFile());
        pb.environment().put("JAVA_HOME", "../../jdk-25");
        pb.environment().put("PATH", "/usr/bin:/bin");
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the launcher did not stop"); // a hang guard
        assertEquals(0, p.exitValue(), err);
        assertEquals("ran", out.strip(), err);
    }
    /**
     * {@code bench} with a misspelt group on a fresh clone built the benchmarks jar (minutes) before
     * the jar's own main said the group was unknown. The launcher checks the name against the groups
     * the sources declare before it builds: here the jar is older than a group's source, so a build
     * would start (and fail: the skeleton has no Maven wrapper), and a known group still reaches it.
     */
    @Test
    void anUnknownBenchGroupIsRefusedBeforeBuilding() throws Exception {
        Path repo = fakeRepo("jmh/target/benchmarks.jar");
        Path group = repo.resolve("jmh/src/main/java/dev/guestmem/bench/access/AccessGroup.java");
        Files.createDirectories(group.getParent());
        Files.writeString(group, "class AccessGroup {\n    public String name() {\n        return \"access\";\n    }\n}\n");
        Files.setLastModifiedTime(group, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 7_200_000));
        Path jdk = fakeJdk("jdk-25", "25.0.1", true);

        String[] typo = bench(repo, jdk, "--quick", "acess");
        assertEquals("2", typo[0], typo[1]);
        assertEquals("guestmem: unknown bench group 'acess' (groups: access)", typo[1].strip());

        String[] known = bench(repo, jdk, "--prof", "gc", "access");
        assertTrue(known[1].contains("building"), "a known group goes on to the build: " + known[1]);
    }

    /**
     * The bench jar's main takes {@code -prof NAME} and {@code --param NAME=VALUE} too (BenchMain);
     * the launcher's group check skipped the value of {@code --prof}, {@code -p} and {@code --forks}
     * only, so it read {@code gc} or {@code size=64} as the group and refused a valid command line.
     */
    @Test
    void theBenchGroupCheckSkipsTheValueOfEveryOptionTheJarTakes() throws Exception {
        Path repo = fakeRepo("jmh/target/benchmarks.jar");
        Path group = repo.resolve("jmh/src/main/java/dev/guestmem/bench/access/AccessGroup.java");
        Files.createDirectories(group.getParent());
        Files.writeString(group, "class AccessGroup {\n    public String name() {\n        return \"access\";\n    }\n}\n");
        Files.setLastModifiedTime(group, java.nio.file.attribute.FileTime.fromMillis(System.currentTimeMillis() + 7_200_000));
        Path jdk = fakeJdk("jdk-25", "25.0.1", true);

        for (String[] args : java.util.List.of(new String[] {"-prof", "gc", "access"},
                new String[] {"--param", "size=64", "access"}, new String[] {"-p", "size=64", "--forks", "0", "access"})) {
            String[] r = bench(repo, jdk, args);
            assertTrue(r[1].contains("building"), String.join(" ", args) + " is a valid command line: " + r[1]);
        }
        String[] typo = bench(repo, jdk, "-prof", "gc", "acess");
        assertEquals("2", typo[0], typo[1]);
        assertEquals("guestmem: no bench group among 'gc acess' (groups: access)", typo[1].strip());
    }

    /**
     * README: "{@code ./guestmem COMMAND --help} prints a command's usage", and a wrong command line
     * exits 2. {@code build} ignored its arguments: {@code build --help} (or a typo) ran the whole
     * Maven build. The skeleton's {@code mvnw} is a fake that says it ran.
     */
    @Test
    void buildTakesHelpAndRefusesOtherArguments() throws Exception {
        Path repo = fakeRepo("engine/target/guestmem-engine-0.1.0-SNAPSHOT.jar");
        Path mvnw = repo.resolve("mvnw");
        Files.writeString(mvnw, "#!/bin/sh\necho mvnw-ran >&2\n");
        Files.setPosixFilePermissions(mvnw, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path jdk = fakeJdk("jdk-25", "25.0.1", true);

        String[] help = run(repo, jdk, "build", "--help");
        assertEquals("0", help[0], help[2]);
        assertTrue(help[1].startsWith("usage: ./guestmem build"), help[1]);
        assertFalse(help[2].contains("mvnw-ran"), "--help must not build: " + help[2]);

        String[] typo = run(repo, jdk, "build", "--quick");
        assertEquals("2", typo[0], typo[2]);
        assertTrue(typo[2].startsWith("guestmem build: takes no arguments ('--quick')"), typo[2]);
        assertFalse(typo[2].contains("mvnw-ran"), "a wrong command line must not build: " + typo[2]);

        String[] build = run(repo, jdk, "build");
        assertEquals("0", build[0], build[2]);
        assertTrue(build[2].contains("mvnw-ran"), build[2]);
    }

    /** Runs the launcher copy in {@code repo} with ARGS; returns exit status, stdout and stderr. */
    private String[] run(Path repo, Path jdk, String... args) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("bash", repo.resolve("guestmem").toString()));
        cmd.addAll(java.util.List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(repo.toFile());
        pb.environment().put("JAVA_HOME", jdk.toString());
        pb.environment().put("PATH", "/usr/bin:/bin");
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the launcher did not stop"); // a hang guard
        return new String[] {Integer.toString(p.exitValue()), out, err};
    }

    /** Runs {@code bench ARGS} with the launcher copy in {@code repo}; returns exit status and stderr. */
    private String[] bench(Path repo, Path jdk, String... args) throws Exception {
        java.util.List<String> cmd = new java.util.ArrayList<>(java.util.List.of("bash", repo.resolve("guestmem").toString(), "bench"));
        cmd.addAll(java.util.List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(repo.toFile());
        pb.environment().put("JAVA_HOME", jdk.toString());
        pb.environment().put("PATH", "/usr/bin:/bin");
        Process p = pb.start();
        p.getOutputStream().close();
        p.getInputStream().readAllBytes();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the launcher did not stop"); // a hang guard
        return new String[] {Integer.toString(p.exitValue()), err};
    }
}
