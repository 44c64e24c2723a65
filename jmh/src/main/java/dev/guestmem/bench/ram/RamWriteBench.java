package dev.guestmem.bench.ram;

import dev.guestmem.ram.RamBlock;
import dev.guestmem.ram.RamBlockBuilder;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * P11: sequential write bandwidth into a {@link RamBlock} of each backend, anonymous being the
 * baseline in the same run. The block (256 MiB by default, far beyond the caches) is pre-faulted in
 * setup by writing every byte once, so the measurement is of stores to resident pages, not of page
 * faults. One operation writes the whole block: bandwidth = score (ops/s) x size.
 * <ul>
 *   <li>{@code fill}: {@code MemorySegment.fill}, the JDK's memset;</li>
 *   <li>{@code storeLongs}: a plain loop of 8-byte stores through a {@code static final} layout,
 *       as an emulator's stores would be.</li>
 * </ul>
 * File-backed blocks live in {@code fileDir} ({@code /dev/shm}, tmpfs, by default; pass
 * {@code -p fileDir=/tmp} for a disk-backed file whose writeback then competes).
 *
 * <p><b>Thread safety.</b> JMH state, one benchmark thread.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Fork(value = 2, jvmArgsAppend = "--enable-native-access=ALL-UNNAMED")
@Warmup(iterations = 4, time = 2)
@Measurement(iterations = 5, time = 2)
public class RamWriteBench {
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;

    /** Backend under test: {@code anonymous} (baseline), {@code memfd}, {@code file}. */
    @Param({"anonymous", "memfd", "file"})
    public String backend;

    /** Block size in bytes. */
    @Param("268435456")
    public long size;

    /** Directory of the file backend's file. */
    @Param("/dev/shm")
    public String fileDir;

    private RamBlock block;
    private MemorySegment segment;
    private Path file;
    private byte value;

    /** Creates and pre-faults the block. */
    @Setup(Level.Trial)
    public void setUp() throws IOException {
        RamBlockBuilder b = RamBlock.builder("bench." + backend, size);
        switch (backend) {
            case "anonymous" -> b.anonymous();
            case "memfd" -> b.memfd();
            case "file" -> {
                file = Files.createTempFile(Path.of(fileDir), "guestmem-bench-", ".ram");
                b.file(file).shared(true);
            }
            default -> throw new IllegalArgumentException("backend " + backend);
        }
        block = b.build();
        segment = block.segment();
        segment.fill((byte) 1); // pre-fault every page: measure stores, not faults
    }

    /** Releases the block and deletes the file. */
    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        block.close();
        if (file != null) {
            Files.deleteIfExists(file);
        }
    }

    /** Writes the whole block with memset. */
    @Benchmark
    public void fill() {
        segment.fill(value++);
    }

    /** Writes the whole block with a loop of 8-byte stores. */
    @Benchmark
    public void storeLongs() {
        MemorySegment s = segment;
        long v = ++value;
        long n = s.byteSize();
        for (long off = 0; off < n; off += 8) {
            s.set(LONG, off, v);
        }
    }
}
