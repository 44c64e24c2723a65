package dev.guestmem.debug;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.guestmem.share.QemuProcess;
import dev.guestmem.share.QmpClient;
import dev.guestmem.share.QtestClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Flat views against QEMU itself on maps nobody wrote down: a live x86 machine (QEMU 7.2 from
 * Debian, paused, driven through qtest) whose BARs, ROMs, command registers, bridge windows and
 * chipset registers a {@link LiveMapWalk} moves at random; after every step QEMU prints its tree
 * ({@code info mtree -D}) and its flat views ({@code info mtree -f}), the tree is imported, and the
 * engine's flat views of it must be QEMU's, line for line.
 *
 * <p>The import types {@code i/o} lines from QEMU's flat view as {@link ExtraMtreeTest} does (the
 * fixtures' README rule). QEMU's text does not show which of two overlapping equal-priority
 * siblings at different addresses is newer; a step where the importer's assumption about that is
 * false or unknown ({@link LiveSiblingAges}) is not compared; the walk goes on until it has compared
 * as many steps as asked (within four times as many). The machines have at most one bridge per bus, so that regions named alike among siblings
 * are one bridge's windows (see {@link LiveSiblingAges}).
 *
 * <p>Length: {@code -Dguestmem.live.steps=N} compared steps per machine (default 40), seed
 * {@code -Dguestmem.live.seed=S} (default: random, printed). A failure names the seed, the step,
 * every register write so far, and leaves the texts under {@code target/live-qemu/}.
 */
@Timeout(value = 600, unit = TimeUnit.SECONDS)
class LiveQemuMapTest {
    private static final Duration REPLY = Duration.ofSeconds(30);
    private static final int STEPS = Integer.getInteger("guestmem.live.steps", 40);

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
        "-machine q35 -m 512M -object memory-backend-ram,id=shm,size=1M -device e1000 -device virtio-net-pci"
                + " -device VGA -device ivshmem-plain,memdev=shm -device pci-bridge,id=br,chassis_nr=1"
                + " -device virtio-rng-pci,bus=br,addr=1 -device pci-bridge,id=br2,bus=br,addr=2,chassis_nr=2"
                + " -device rtl8139,bus=br2,addr=1",
        "-machine pc -m 256M -device e1000 -device cirrus-vga -device pci-bridge,id=br,chassis_nr=1"
                + " -device rtl8139,bus=br,addr=1 -device virtio-rng-pci -device ich9-usb-uhci1",
    })
    void randomRegisterWalkRendersAsQemu(String machine) throws Exception {
        assumeTrue(Files.isExecutable(QemuProcess.DEFAULT_BINARY), QemuProcess.DEFAULT_BINARY
                + " is not installed: the live flat-view test needs Debian's qemu-system-x86 (.ci/run installs it)");
        long seed = Long.getLong("guestmem.live.seed", new SplittableRandom().nextLong());
        List<String> args = List.of(machine.split(" "));
        try (QemuProcess q = QemuProcess.start(QemuProcess.DEFAULT_BINARY, args, REPLY);
             QtestClient qtest = new QtestClient(q.qtestSocket().toString(), REPLY);
             QmpClient qmp = new QmpClient(q.qmpSocket().toString(), REPLY)) {
            LiveMapWalk walk = new LiveMapWalk(new LivePci(qtest), new SplittableRandom(seed));
            LiveSiblingAges ages = new LiveSiblingAges();
            List<LivePci.Write> history = new ArrayList<>();
            int compared = 0;
            List<String> skipped = new ArrayList<>();
            int step = 0;
            int above4g = 0;
            int above263 = 0;
            for (; compared <= STEPS && step <= 4 * STEPS; step++) { // until STEPS steps after the first were compared
                LiveMapWalk.Step s = step == 0 ? new LiveMapWalk.Step(List.of(), List.of()) : walk.step();
                history.addAll(s.writes());
                String tree = qmp.hmp("info mtree -D").replace("\r\n", "\n");
                String flat = qmp.hmp("info mtree -f").replace("\r\n", "\n");
                MtreeDocument doc = MtreeParser.parse(tree);
                ages.record(doc, s.reAdded());
                String unknownOrder = ages.importerOrderHolds(doc);
                if (unknownOrder != null) {
                    skipped.add("step " + step + ": " + unknownOrder);
                    continue;
                }
                String ours;
                try (MtreeImport imp = MtreeImporter.importDocument(ExtraMtreeTest.annotate(doc, flat),
                        MtreeImporter.Rules.ANNOTATED)) {
                    ours = FlatViewPrinter.print(imp.system());
                }
                String want = ExtraMtreeTest.norm(flat);
                String got = ExtraMtreeTest.norm(ours);
                if (!want.equals(got)) {
                    Path dir = keep(machine, step, tree, flat, ours);
                    fail("seed " + seed + " (-Dguestmem.live.seed=" + seed + "), " + walk.describe() + ", step " + step
                            + ": flat views differ from QEMU's at " + firstDifference(want, got) + "\nwrites:\n  "
                            + String.join("\n  ", history.stream().map(Object::toString).toList()) + "\ntexts in " + dir);
                }
                compared++;
                above4g += flat.contains("\n  00000001") || flat.matches("(?s).*\n  0000000[2-9a-f].*") ? 1 : 0;
                above263 += flat.matches("(?s).*\n  [89a-f]{1}[0-9a-f]{15}-.*") ? 1 : 0;
            }
            System.out.printf("live %s: seed %d, %s, %d steps compared (%d with ranges above 4 GiB, %d above 2^63),"
                    + " %d skipped (sibling order unknown)%s%n", args.get(1), seed, walk.describe(), compared, above4g,
                    above263, skipped.size(),
                    skipped.isEmpty() ? "" : ", first: " + skipped.getFirst());
            assertTrue(compared > STEPS, "only " + compared + " of " + step + " steps compared (seed " + seed + "): " + skipped);
        }
    }

    private static String firstDifference(String want, String got) {
        String[] w = want.split("\n");
        String[] g = got.split("\n");
        for (int i = 0; i < Math.max(w.length, g.length); i++) {
            String a = i < w.length ? w[i] : "(end)";
            String b = i < g.length ? g[i] : "(end)";
            if (!a.equals(b)) {
                return "line " + (i + 1) + "\n  QEMU: " + a + "\n  ours: " + b;
            }
        }
        return "(no line differs)";
    }

    private static Path keep(String machine, int step, String tree, String flat, String ours) throws IOException {
        Path dir = Path.of("target", "live-qemu");
        Files.createDirectories(dir);
        String name = machine.split(" ")[1] + "-step" + step;
        Files.writeString(dir.resolve(name + ".disabled.txt"), tree);
        Files.writeString(dir.resolve(name + ".flat.txt"), flat);
        Files.writeString(dir.resolve(name + ".ours.txt"), ours);
        return dir.toAbsolutePath();
    }
}
