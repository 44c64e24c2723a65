package dev.guestmem.ram;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small real file system that a test can fill up, mounted under the temp directory and removed
 * by {@link #close()} (unmounts in reverse order, lazily if busy, then deletes the directories).
 * Needs root and the {@code mount} command (plus {@code mkfs.ext4} and a loop device for ext4);
 * where they are missing or mounting is refused (an unprivileged container) the factory methods
 * abort the test with a JUnit assumption that says which step failed.
 *
 * <ul>
 *   <li>{@link #tmpfs}: a size-limited tmpfs, {@link #fill()} fills it;</li>
 *   <li>{@link #ext4}: an ext4 image on the temp directory's file system, loop mounted;
 *       {@link #fill()} fills the ext4 itself;</li>
 *   <li>{@link #thinExt4}: an ext4 image stored sparsely on a tmpfs smaller than the image, like a
 *       thin-provisioned disk: {@link #fill()} fills the tmpfs, after which ext4 still accepts
 *       writes into the page cache but write-back to the device fails (the "disk full on msync"
 *       case).</li>
 * </ul>
 *
 * <p>A JVM killed mid-test (a surefire timeout, {@code kill -9}) leaves its mounts behind, with no
 * chance to run {@link #close()} or a shutdown hook. So each root is named after the JVM's pid
 * ({@code guestmem-full-<pid>-...}), and the first factory call in a JVM unmounts and deletes the
 * roots of pids that are gone, detaching the loop devices of their ext4 images; roots of live JVMs
 * (another build running tests) are left alone.
 *
 * <p><b>Thread safety.</b> One test thread per instance; the factories may be called from any thread.
 */
final class FullFileSystem implements AutoCloseable {
    private final Path root;
    /** Where files under test go. */
    private final Path dir;
    /** The file system {@link #fill()} fills. */
    private final Path fillDir;
    /** The ext4 image, or null for plain tmpfs. */
    private final Path image;
    private final String ext4Options;
    /** Mount points, innermost last. */
    private final Deque<Path> mounts = new ArrayDeque<>();

    private static final String PREFIX = "guestmem-full-";
    /** {@code <tmpdir>/guestmem-full-<pid>-<random>}, then anything below it. */
    private static final Pattern ROOT = Pattern.compile("(" + Pattern.quote(Path.of(System.getProperty("java.io.tmpdir"))
            .toAbsolutePath().toString()) + "/" + PREFIX + "(\\d+)-[^/]+)(/.*)?");
    private static final AtomicBoolean SWEPT = new AtomicBoolean();

    private FullFileSystem(Path root, Path dir, Path fillDir, Path image, String ext4Options) {
        this.root = root;
        this.dir = dir;
        this.fillDir = fillDir;
        this.image = image;
        this.ext4Options = ext4Options;
    }

    /** A tmpfs of {@code bytes}. */
    static FullFileSystem tmpfs(long bytes) {
        assumeRoot();
        sweepStale();
        Path root = tempRoot();
        FullFileSystem fs = new FullFileSystem(root, root, root, null, null);
        try {
            fs.mountTmpfs(root, bytes);
            return fs;
        } catch (RuntimeException | Error e) {
            fs.close();
            throw e;
        }
    }

    /** An ext4 of {@code bytes} in an image file on the temp directory's file system. */
    static FullFileSystem ext4(long bytes) {
        assumeRoot();
        sweepStale();
        Path root = tempRoot();
        Path mnt = root.resolve("mnt");
        FullFileSystem fs = new FullFileSystem(root, mnt, mnt, root.resolve("ext4.img"), "-b 4096 -m 0");
        try {
            fs.makeExt4(bytes);
            return fs;
        } catch (RuntimeException | Error e) {
            fs.close();
            throw e;
        }
    }

    /**
     * An ext4 of {@code deviceBytes} whose image is stored sparsely on a tmpfs of
     * {@code backingBytes}.
     *
     * @param journal whether the ext4 has a journal (a failed write-back then aborts it and the
     *     file system turns read-only; without one it stays writeable)
     */
    static FullFileSystem thinExt4(long deviceBytes, long backingBytes, boolean journal) {
        assumeRoot();
        sweepStale();
        Path root = tempRoot();
        Path backing = root.resolve("backing");
        Path mnt = root.resolve("mnt");
        FullFileSystem fs = new FullFileSystem(root, mnt, backing, backing.resolve("ext4.img"),
                "-b 4096 -m 0" + (journal ? "" : " -O ^has_journal"));
        try {
            mkdir(backing);
            fs.mountTmpfs(backing, backingBytes);
            fs.makeExt4(deviceBytes);
            return fs;
        } catch (RuntimeException | Error e) {
            fs.close();
            throw e;
        }
    }

    /** @return the directory for files under test, on the file system that will be full */
    Path dir() {
        return dir;
    }

    /**
     * Writes filler files a block at a time until the file system says ENOSPC, syncing each,
     * until a new file takes nothing. Both matter on ext4: it gives back at write-back the blocks it
     * reserved for a delayed allocation's metadata, and near full it refuses a 64 KiB write
     * outright (0 bytes written) while 14 free blocks were still enough for a mapping's pages.
     *
     * @return the bytes written
     */
    long fill() {
        ByteBuffer chunk = ByteBuffer.allocate(4096);
        long written = 0;
        for (int round = 0; round < 100; round++) {
            long before = written;
            try (FileChannel ch = FileChannel.open(fillDir.resolve("filler" + round), StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                for (;;) {
                    chunk.clear();
                    try {
                        while (chunk.hasRemaining()) {
                            written += ch.write(chunk);
                        }
                    } catch (IOException full) {
                        if (!String.valueOf(full.getMessage()).contains("No space left")) {
                            throw new UncheckedIOException(full);
                        }
                        break; // write(2) filled what it could before saying ENOSPC
                    }
                }
                ch.force(true);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            if (written == before) {
                return written;
            }
        }
        throw new IllegalStateException(fillDir + " still takes data after 100 rounds of filling");
    }

    /** Unmounts the ext4 and mounts it again, so reads come from the device, not the page cache. */
    void remountExt4() {
        if (image == null) {
            throw new IllegalStateException("not an ext4");
        }
        Path mnt = mounts.peekLast();
        run("umount", mnt.toString());
        mounts.removeLast(); // only once it is unmounted: if umount failed, close() must still try
        run("mount", "-o", "loop", image.toString(), mnt.toString());
        mounts.addLast(mnt);
    }

    @Override
    public void close() {
        List<String> problems = new ArrayList<>();
        while (!mounts.isEmpty()) {
            Path m = mounts.removeLast();
            Result r = exec("umount", m.toString());
            if (r.status != 0) {
                problems.add("umount " + m + ": " + r.output);
                exec("umount", "-l", m.toString()); // detach now, freed when the last user goes
            }
        }
        List<Path> live = mountsUnder(root);
        if (!live.isEmpty()) {
            problems.add("not deleting " + root + ": still mounted " + live); // deleting would reach into the mount
        } else {
            try {
                deleteTree(root);
            } catch (IOException e) {
                problems.add("deleting " + root + ": " + e);
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException("cleanup of " + root + " failed: " + problems);
        }
    }

    // ------------------------------------------------------------------ helpers

    private void mountTmpfs(Path at, long bytes) {
        Result r = exec("mount", "-t", "tmpfs", "-o", "size=" + bytes + ",mode=0700", "guestmem-full", at.toString());
        assumeTrue(r.status == 0, () -> "cannot mount a size-limited tmpfs (needs root and mount permission, e.g. not an"
                + " unprivileged container): " + r.output);
        mounts.addLast(at);
    }

    private void makeExt4(long bytes) {
        Path mnt = dir;
        mkdir(mnt);
        try (FileChannel ch = FileChannel.open(image, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.truncate(0);
            ch.write(ByteBuffer.allocate(1), bytes - 1); // sparse
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        List<String> mkfs = new ArrayList<>(List.of("mkfs.ext4", "-q", "-F"));
        mkfs.addAll(List.of(ext4Options.split(" ")));
        mkfs.add(image.toString());
        Result made = exec(mkfs.toArray(String[]::new));
        assumeTrue(made.status == 0, () -> "cannot make an ext4 image (is e2fsprogs installed?): " + made.output);
        Result mounted = exec("mount", "-o", "loop", image.toString(), mnt.toString());
        assumeTrue(mounted.status == 0, () -> "cannot loop-mount an ext4 image (needs root and a free /dev/loop*): "
                + mounted.output);
        mounts.addLast(mnt);
    }

    private static void assumeRoot() {
        assumeTrue(System.getProperty("os.name").contains("Linux"), "needs Linux");
        String uid;
        try {
            uid = Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("Uid:"))
                    .map(l -> l.split("\\s+")[2]).findFirst().orElse("?");
        } catch (IOException e) {
            uid = "?";
        }
        String euid = uid;
        assumeTrue("0".equals(euid), () -> "mounting a small file system to fill needs root; running as uid " + euid);
    }

    /**
     * Once per JVM: unmounts (lazily if busy) what dead JVMs left mounted under roots named after
     * their pid, innermost first, detaches loop devices whose image lies in such a root, and deletes
     * the roots that are no longer mounted. Problems are printed, not thrown: a leftover must not
     * fail an unrelated test.
     */
    private static void sweepStale() {
        if (!SWEPT.compareAndSet(false, true)) {
            return;
        }
        // Unmount first what nothing holds (an ext4 releases its autoclear loop device), then detach
        // the loop devices still open on images under a stale root (their paths read wrongly once
        // the file system holding the image is detached), then unmount the rest, lazily if busy.
        for (Path m : staleMounts().reversed()) { // mountinfo lists a mount after the one it sits on
            exec("umount", m.toString());
        }
        try (DirectoryStream<Path> loops = Files.newDirectoryStream(Path.of("/sys/block"), "loop*")) {
            for (Path loop : loops) {
                Path backing = loop.resolve("loop/backing_file");
                if (Files.isReadable(backing)) {
                    Path image = Path.of(Files.readString(backing).strip().replace(" (deleted)", ""));
                    if (ROOT.matcher(image.toString()).matches() && !pidAlive(image)) {
                        Result r = exec("losetup", "-d", "/dev/" + loop.getFileName());
                        if (r.status != 0) {
                            System.err.println("FullFileSystem: cannot detach " + loop.getFileName() + " (" + image + "): " + r.output);
                        }
                    }
                }
            }
        } catch (IOException e) {
            System.err.println("FullFileSystem: cannot list loop devices: " + e);
        }
        for (Path m : staleMounts().reversed()) {
            if (exec("umount", m.toString()).status != 0) {
                Result lazy = exec("umount", "-l", m.toString());
                if (lazy.status != 0) {
                    System.err.println("FullFileSystem: cannot unmount stale " + m + ": " + lazy.output);
                }
            }
        }
        Path tmp = Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath();
        try (DirectoryStream<Path> roots = Files.newDirectoryStream(tmp, PREFIX + "*")) {
            for (Path r : roots) {
                if (ROOT.matcher(r.toString()).matches() && !pidAlive(r) && mountsUnder(r).isEmpty()) {
                    deleteTree(r);
                }
            }
        } catch (IOException e) {
            System.err.println("FullFileSystem: cannot delete stale roots in " + tmp + ": " + e);
        }
    }

    /** Mounts under roots of JVMs that are gone, in mountinfo order. */
    private static List<Path> staleMounts() {
        List<Path> stale = new ArrayList<>();
        for (Path m : mountsUnder(null)) {
            if (!pidAlive(m)) {
                stale.add(m);
            }
        }
        return stale;
    }

    /** Whether the JVM that named the root holding {@code p} (a path matching {@link #ROOT}) still runs. */
    private static boolean pidAlive(Path p) {
        Matcher m = ROOT.matcher(p.toString());
        return !m.matches() || Files.exists(Path.of("/proc", m.group(2)));
    }

    /**
     * Mount points at or under {@code dir} (any root matching {@link #ROOT} if null), in
     * {@code /proc/self/mountinfo} order: a mount comes after the one it is mounted on.
     */
    private static List<Path> mountsUnder(Path dir) {
        List<Path> found = new ArrayList<>();
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                if (f.length < 5) {
                    continue;
                }
                Path m = Path.of(f[4].replace("\\040", " "));
                if (dir == null ? ROOT.matcher(m.toString()).matches() : m.startsWith(dir)) {
                    found.add(m);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return found;
    }

    private static Path tempRoot() {
        try {
            return Files.createTempDirectory(PREFIX + ProcessHandle.current().pid() + "-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void mkdir(Path p) {
        try {
            Files.createDirectories(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            try (var s = Files.list(p)) {
                for (Path c : s.toList()) {
                    deleteTree(c);
                }
            }
        }
        Files.delete(p);
    }

    private record Result(int status, String output) {
    }

    private static void run(String... cmd) {
        Result r = exec(cmd);
        if (r.status != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " failed (" + r.status + "): " + r.output);
        }
    }

    /** Runs a command; a missing command is status 127 with the exception text as output. */
    private static Result exec(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new Result(-1, String.join(" ", cmd) + " did not finish in 60 s");
            }
            return new Result(p.exitValue(), out);
        } catch (IOException e) {
            return new Result(127, String.join(" ", cmd) + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Result(-1, "interrupted");
        }
    }
}
