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
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Flat views against QEMU itself on maps nobody wrote down: a live machine (QEMU 7.2 from Debian,
 * paused, driven through qtest) whose BARs, ROMs, command registers, bridge windows and chipset
 * registers a {@link LiveMapWalk} moves at random; after every step QEMU prints its tree
 * ({@code info mtree -D}) and its flat views ({@code info mtree -f}), the tree is imported, and the
 * engine's flat views of it must be QEMU's, line for line. The machines: x86 q35 and pc, whose
 * configuration space is reached through port I/O, and the virt machines of Arm, RISC-V and
 * LoongArch, whose PCIe host (gpex) has only a memory-mapped ECAM and shows its buses through a few
 * windows ({@link LiveGpex}, read from the machine's own text), so that most BARs are clipped away
 * or cut at a window's edge.
 *
 * <p>The import types {@code i/o} lines from QEMU's flat view as {@link ExtraMtreeTest} does (the
 * fixtures' README rule). QEMU's text does not show which of two overlapping equal-priority
 * siblings at different addresses is newer: {@link LiveSiblingAges} follows the ages over the walk
 * and the import is given them; a step where some pair's order is unknown is not compared, and the
 * walk goes on until it has compared as many steps as asked (within four times as many). The
 * machines have at most one bridge per bus, so that regions named alike among siblings are one bridge's windows (see
 * {@link LiveSiblingAges}).
 *
 * <p>Length: {@code -Dguestmem.live.steps=N} compared steps per machine (default 40), seed
 * {@code -Dguestmem.live.seed=S} (default: random, printed); {@code -Dguestmem.live.only=TEXT} runs
 * only the machines whose command line contains TEXT (e.g. {@code aarch64}). A failure names the
 * seed, the step, every register write so far, and leaves the texts under {@code target/live-qemu/}.
 */
@Timeout(value = 600, unit = TimeUnit.SECONDS)
class LiveQemuMapTest {
    private static final Duration REPLY = Duration.ofSeconds(30);
    private static final int STEPS = Integer.getInteger("guestmem.live.steps", 40);

    /**
     * Each machine: its QEMU binary's name, then its arguments. {@code ROMFILE} stands for a small
     * option ROM the test writes ({@code romsize=} then gives each device's ROM BAR its size), so
     * that the Arm machines need no iPXE ROMs ({@code romfile=} alone: no ROM). Every bus has at
     * most one bridge.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {
        "qemu-system-x86_64 -machine q35 -m 512M -object memory-backend-ram,id=shm,size=1M -device e1000 -device virtio-net-pci"
                + " -device VGA -device ivshmem-plain,memdev=shm -device pci-bridge,id=br,chassis_nr=1"
                + " -device virtio-rng-pci,bus=br,addr=1 -device pci-bridge,id=br2,bus=br,addr=2,chassis_nr=2"
                + " -device rtl8139,bus=br2,addr=1",
        // q35 with VT-d (every device's DMA space behind an IOMMU region the walk turns on and off),
        // two VGA-compatible devices, PCIe devices behind a root port
        "qemu-system-x86_64 -machine q35 -m 256M -device intel-iommu -device qxl-vga -device virtio-vga -device e1000e"
                + " -device pcie-root-port,id=rp,chassis=1 -device virtio-net-pci,bus=rp -device ich9-intel-hda",
        "qemu-system-x86_64 -machine pc -m 256M -device e1000 -device cirrus-vga -device pci-bridge,id=br,chassis_nr=1"
                + " -device rtl8139,bus=br,addr=1 -device virtio-rng-pci -device ich9-usb-uhci1",
        // gpex at the high ECAM, with a 64-bit window at 512 GiB: a root port, a PCIe-to-PCI
        // bridge behind it, 32- and 64-bit BARs (ivshmem's 64 MiB), ROMs of 256 KiB and 2 KiB
        "qemu-system-aarch64 -machine virt,iommu=smmuv3 -cpu cortex-a57 -m 256M -object memory-backend-ram,id=shm,size=64M"
                + " -device e1000,romfile=ROMFILE,romsize=262144 -device virtio-net-pci,romfile=ROMFILE -device ivshmem-plain,memdev=shm"
                + " -device pcie-root-port,id=rp,chassis=1 -device pcie-pci-bridge,id=br,bus=rp"
                + " -device rtl8139,bus=br,addr=1,romfile=ROMFILE,romsize=2048 -device virtio-rng-pci,bus=br,addr=2",
        // gpex below 4 GiB only (ECAM at 1008 MiB, no 64-bit window): a conventional bridge, a
        // 16 MiB framebuffer BAR and a 1 MiB ROM that cross the window's end (0x3eff0000)
        "qemu-system-aarch64 -machine virt,highmem=off -cpu cortex-a15 -m 128M -device bochs-display,romfile=ROMFILE,romsize=65536"
                + " -device e1000e,romfile=ROMFILE,romsize=1048576 -device pci-bridge,id=br,chassis_nr=1"
                + " -device virtio-net-pci,bus=br,addr=1,romfile=ROMFILE,romsize=65536 -device rtl8139,bus=br,addr=2,romfile=",
        // RISC-V's virt: the same gpex at other addresses (ECAM at 768 MiB, windows at 1 GiB and
        // 16 GiB, I/O ports at 48 MiB), a root port with a PCIe-to-PCI bridge, 64- and 32-bit BARs
        "qemu-system-riscv64 -machine virt -m 256M -object memory-backend-ram,id=shm,size=64M"
                + " -device e1000,romfile=ROMFILE,romsize=262144 -device virtio-net-pci,romfile=ROMFILE -device ivshmem-plain,memdev=shm"
                + " -device pcie-root-port,id=rp,chassis=1 -device pcie-pci-bridge,id=br,bus=rp"
                + " -device rtl8139,bus=br,addr=1,romfile=ROMFILE,romsize=2048 -device virtio-rng-pci,bus=br,addr=2"
                + " -device bochs-display,romfile=",
        // LoongArch's virt: a gpex whose I/O window shows only ports 0x4000-0xffff, at 0x18004000
        "qemu-system-loongarch64 -machine virt -m 1G -object memory-backend-ram,id=shm,size=64M"
                + " -device e1000,romfile=ROMFILE,romsize=262144 -device ivshmem-plain,memdev=shm -device rtl8139,romfile="
                + " -device pci-bridge,id=br,chassis_nr=1 -device virtio-net-pci,bus=br,addr=1,romfile=ROMFILE,romsize=65536"
                + " -device virtio-rng-pci,bus=br,addr=2",
    })
    void randomRegisterWalkRendersAsQemu(String machine) throws Exception {
        assumeTrue(machine.contains(System.getProperty("guestmem.live.only", "")),
                "not a machine -Dguestmem.live.only names");
        String[] words = machine.split(" ");
        Path binary = Path.of("/usr/bin", words[0]);
        assumeTrue(Files.isExecutable(binary), binary + " is not installed: the live flat-view test needs Debian's "
                + PACKAGES.get(words[0]) + " (.ci/run installs it)");
        long seed = Long.getLong("guestmem.live.seed", new SplittableRandom().nextLong());
        String rom = optionRom().toString();
        List<String> args = Stream.of(words).skip(1).map(w -> w.replace("ROMFILE", rom)).toList();
        try (QemuProcess q = QemuProcess.start(binary, args, REPLY);
             QtestClient qtest = new QtestClient(q.qtestSocket().toString(), REPLY);
             QmpClient qmp = new QmpClient(q.qmpSocket().toString(), REPLY)) {
            // The machine's own text says how to reach configuration space: a gpex host's ECAM, else x86 ports.
            Optional<LiveGpex> gpex = LiveGpex.read(MtreeParser.parse(qmp.hmp("info mtree").replace("\r\n", "\n")));
            LivePci pci = new LivePci(gpex.map(g -> LivePci.ecam(qtest, g.ecam())).orElseGet(() -> LivePci.portIo(qtest)));
            MtreeDocument plain = MtreeParser.parse(qmp.hmp("info mtree").replace("\r\n", "\n"));
            List<LiveKnob> knobs = Stream.of(LiveVtd.read(qtest, plain), LiveVga.read(qtest, plain))
                    .flatMap(Optional::stream).toList();
            LiveMapWalk walk = new LiveMapWalk(pci, gpex, knobs, new SplittableRandom(seed));
            LiveSiblingAges ages = new LiveSiblingAges();
            List<LivePci.Write> history = new ArrayList<>();
            int compared = 0;
            List<String> skipped = new ArrayList<>();
            int step = 0;
            int above4g = 0;
            int above263 = 0;
            int iommuOn = 0;
            int chain4 = 0;
            int throughWindow = 0;
            int atEdge = 0;
            for (; compared <= STEPS && step <= 4 * STEPS; step++) { // until STEPS steps after the first were compared
                LiveMapWalk.Step s = step == 0 ? new LiveMapWalk.Step(List.of(), List.of(), List.of()) : walk.step();
                history.addAll(s.writes());
                String tree = qmp.hmp("info mtree -D").replace("\r\n", "\n");
                String flat = qmp.hmp("info mtree -f").replace("\r\n", "\n");
                MtreeDocument doc = MtreeParser.parse(tree);
                ages.record(doc, s.reAdded(), s.mappedAt());
                String unknownOrder = ages.unknownOrder(doc);
                if (unknownOrder != null) {
                    skipped.add("step " + step + ": " + unknownOrder);
                    continue;
                }
                String ours;
                try (MtreeImport imp = MtreeImporter.importDocument(ExtraMtreeTest.annotate(doc, flat),
                        MtreeImporter.Rules.ANNOTATED, null, ages.ages())) {
                    ours = FlatViewPrinter.print(imp.system());
                }
                String want = ExtraMtreeTest.norm(flat);
                String got = ExtraMtreeTest.norm(ours);
                if (!want.equals(got)) {
                    Path dir = keep(machine, step, tree, flat, ours);
                    fail(args.get(1) + ": seed " + seed + " (-Dguestmem.live.seed=" + seed + "), " + walk.describe() + ", step " + step
                            + ": flat views differ from QEMU's at " + firstDifference(want, got) + "\nwrites:\n  "
                            + String.join("\n  ", history.stream().map(Object::toString).toList()) + "\ntexts in " + dir);
                }
                compared++;
                above4g += flat.contains("\n  00000001") || flat.matches("(?s).*\n  0000000[2-9a-f].*") ? 1 : 0;
                above263 += flat.matches("(?s).*\n  [89a-f]{1}[0-9a-f]{15}-.*") ? 1 : 0;
                iommuOn += flat.contains("-dmar\n") ? 1 : 0;
                chain4 += flat.matches("(?s).*\n  00000000000(a0000|b0000|b8000)-[0-9a-f]{16} \\(prio -?[0-9]+, ram\\): [a-z.]*vram.*") ? 1 : 0;
                if (gpex.isPresent()) {
                    throughWindow += throughWindows(flat, gpex.get(), false) ? 1 : 0;
                    atEdge += throughWindows(flat, gpex.get(), true) ? 1 : 0;
                }
            }
            System.out.printf("live %s: seed %d, %s, %d steps compared (%s),"
                    + " %d skipped (sibling order unknown)%s%n", args.get(1), seed,
                    walk.describe() + gpex.map(g -> ", " + g).orElse(""), compared,
                    gpex.isPresent() ? throughWindow + " with BARs through a window, " + atEdge + " at a window's edge"
                            : above4g + " with ranges above 4 GiB, " + above263 + " above 2^63, " + iommuOn
                                    + " with VT-d translating, " + chain4 + " with VGA chain-4 RAM", skipped.size(),
                    skipped.isEmpty() ? "" : ", first: " + skipped.getFirst());
            assertTrue(compared > STEPS, "only " + compared + " of " + step + " steps compared (seed " + seed + "): " + skipped);
        }
    }

    private static final Pattern FLAT_RANGE = Pattern.compile("^  ([0-9a-f]{16})-([0-9a-f]{16}) \\(prio 1, ", Pattern.MULTILINE);

    /**
     * @param atEdge whether to look only for ranges that start or end at a window's edge (clipped,
     *     or just fitting)
     * @return whether system memory's flat view shows a device's range (priority 1 on the bus)
     *     through one of the host's windows
     */
    private static boolean throughWindows(String flat, LiveGpex gpex, boolean atEdge) {
        String memory = flat.substring(flat.indexOf("AS \"memory\""));
        memory = memory.substring(0, memory.indexOf("\n\n") + 1);
        Matcher m = FLAT_RANGE.matcher(memory);
        while (m.find()) {
            long first = Long.parseUnsignedLong(m.group(1), 16);
            long last = Long.parseUnsignedLong(m.group(2), 16);
            for (LiveGpex.Window w : gpex.windows()) {
                long wLast = w.cpu() + w.size() - 1;
                boolean inside = Long.compareUnsigned(first, w.cpu()) >= 0 && Long.compareUnsigned(last, wLast) <= 0;
                if (inside && (!atEdge || first == w.cpu() || last == wLast)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The Debian package of each binary, for the skip message. */
    private static final Map<String, String> PACKAGES = Map.of("qemu-system-x86_64", "qemu-system-x86",
            "qemu-system-aarch64", "qemu-system-arm", "qemu-system-riscv64", "qemu-system-misc",
            "qemu-system-loongarch64", "qemu-system-misc");

    /** A 2 KiB option ROM (the 0x55AA signature, nothing to run: the machines never run) for {@code romfile=}. */
    private static Path optionRom() throws IOException {
        Path dir = Path.of("target", "live-qemu");
        Files.createDirectories(dir);
        byte[] rom = new byte[2048];
        rom[0] = 0x55;
        rom[1] = (byte) 0xAA;
        rom[2] = 4; // its length in 512-byte blocks
        Path file = dir.resolve("option.rom");
        Files.write(file, rom);
        return file.toAbsolutePath();
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
        String name = machine.split(" ")[2] + "-step" + step;
        Files.writeString(dir.resolve(name + ".disabled.txt"), tree);
        Files.writeString(dir.resolve(name + ".flat.txt"), flat);
        Files.writeString(dir.resolve(name + ".ours.txt"), ours);
        return dir.toAbsolutePath();
    }
}
