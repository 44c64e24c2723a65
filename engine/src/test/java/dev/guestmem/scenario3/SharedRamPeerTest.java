package dev.guestmem.scenario3;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.cli.Main;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.ram.InvalidRamBlockException;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.share.RamShareServer;
import dev.guestmem.share.ShareException;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Someone sharing guest RAM with other processes (guide sections 7 and 8): a second JVM attached
 * through {@code share attach}, a serving JVM that dies, file-backed RAM kept across machines, and a
 * file truncated by another process.
 */
class SharedRamPeerTest {
    static final long MIB = 1L << 20;

    static String socketPath() {
        return Path.of("/tmp", "gm-s3-" + ProcessHandle.current().pid() + "-" + System.nanoTime() + ".sock").toString();
    }

    static Process cli(String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(args));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .start();
    }

    static CompletableFuture<String> drain(Process p) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return "(output lost: " + e + ")";
            }
        });
    }

    static Set<Long> dirtyPages(MemorySystem sys, RamBlock block) {
        DirtyBitmapSnapshot snap = sys.dirtyMemory().snapshotAndClearDirty(block.offset(), block.usedLength(),
                DirtyMemory.DIRTY_MEMORY_MIGRATION);
        Set<Long> pages = new TreeSet<>();
        snap.forEachDirtyPage(ramAddr -> pages.add((ramAddr - block.offset()) / 4096));
        return pages;
    }

    @Test
    void aPeerProcessWritesReachTheLogOnlyThroughMarkWritten() throws Exception {
        String sock = socketPath();
        try (SharedMachine m = SharedMachine.createMemfd(List.of(new SharedRamRegion("ram0", 0, 4 * MIB)));
             RamShareServer server = RamShareServer.listen(sock, m)) {
            MemorySystem sys = m.system();
            RamBlock block = m.blocks().getFirst();
            sys.globalDirtyLogStart(); // migrating while a vhost-user-like peer writes
            dirtyPages(sys, block);    // new blocks start dirty: clear once
            AddressSpace as = m.addressSpace();
            as.stlLe(0x1000, 1);       // our own write is logged

            Process peer = cli("share", "attach", sock, "--do", "write 0x5000 from the peer");
            CompletableFuture<String> out = drain(peer);
            assertTrue(server.serveOne(Duration.ofSeconds(60)), "the peer never connected");
            assertTrue(peer.waitFor(60, TimeUnit.SECONDS), "peer hung");
            assertEquals(0, peer.exitValue(), out.join());

            byte[] seen = new byte[13];
            assertEquals(MemTxResult.OK, as.read(0x5000, MemTxAttrs.UNSPECIFIED, seen, 0, seen.length));
            assertEquals("from the peer", new String(seen, StandardCharsets.US_ASCII));
            assertEquals(Set.of(1L), dirtyPages(sys, block), "guide 8: a peer's stores are not logged");
            block.markWritten(0x5000, 13); // what the peer's dirty log would tell us
            assertEquals(Set.of(5L), dirtyPages(sys, block));
            sys.globalDirtyLogStop();
        }
    }

    @Test
    void theAttachedSideKeepsItsRamWhenTheServingProcessIsKilled() throws Exception {
        String sock = socketPath();
        Process server = cli("share", "serve", sock, "--size", "4M", "--name", "pc.ram",
                "--do", "write 0x2000 before the crash", "--do", "wait 0x3000 never written 120");
        CompletableFuture<String> out = drain(server);
        try {
            SharedMachine m = attachWhenListening(sock, server, out);
            try (m) {
                AddressSpace as = m.addressSpace();
                byte[] want = "before the crash".getBytes(StandardCharsets.US_ASCII);
                byte[] have = new byte[want.length];
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                do {
                    as.read(0x2000, MemTxAttrs.UNSPECIFIED, have, 0, have.length);
                } while (!java.util.Arrays.equals(want, have) && System.nanoTime() - deadline < 0);
                assertArrayEquals(want, have);

                server.destroyForcibly(); // SIGKILL: the peer crashes
                assertTrue(server.waitFor(30, TimeUnit.SECONDS));
                // the memfd lives on in this process's mapping and descriptor
                assertEquals(MemTxResult.OK, as.read(0x2000, MemTxAttrs.UNSPECIFIED, have, 0, have.length));
                assertArrayEquals(want, have);
                assertEquals(MemTxResult.OK, as.stqLe(4 * MIB - 8, 0x1234));
                assertEquals(0x1234, as.ldqLe(4 * MIB - 8));
                assertFalse(m.blocks().getFirst().isBroken());
                // nobody serves any more: a new attach is a clear error, not a hang
                assertThrows(ShareException.class, () -> SharedMachine.attach(sock, Duration.ofSeconds(2)));
            }
        } finally {
            server.destroyForcibly();
            Files.deleteIfExists(Path.of(sock));
        }
    }

    private static SharedMachine attachWhenListening(String sock, Process server, CompletableFuture<String> out)
            throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (true) {
            if (Files.exists(Path.of(sock))) {
                try {
                    return SharedMachine.attach(sock, Duration.ofSeconds(30));
                } catch (ShareException notYet) {
                    // bound, not yet listening
                }
            }
            if (!server.isAlive() || System.nanoTime() - deadline > 0) {
                throw new AssertionError("server never listened: " + (server.isAlive() ? "(running)" : out.join()));
            }
            Thread.sleep(20);
        }
    }

    @Test
    void unpluggingASharedDimmLeavesThePeersCopyMapped() throws Exception {
        String sock = socketPath();
        List<SharedRamRegion> layout = List.of(new SharedRamRegion("ram0", 0, 2 * MIB),
                new SharedRamRegion("dimm1", 0x40000000L, 2 * MIB));
        try (SharedMachine m = SharedMachine.createMemfd(layout);
             RamShareServer server = RamShareServer.listen(sock, m)) {
            CompletableFuture<Boolean> served = CompletableFuture.supplyAsync(() -> server.serveOne(Duration.ofSeconds(30)));
            try (SharedMachine peer = SharedMachine.attach(sock, Duration.ofSeconds(30))) {
                assertTrue(served.get(30, TimeUnit.SECONDS));
                AddressSpace as = m.addressSpace();
                AddressSpace peerAs = peer.addressSpace();
                assertEquals(MemTxResult.OK, as.stqLe(0x40000000L, 0xd1111L));
                assertEquals(0xd1111L, peerAs.ldqLe(0x40000000L));

                // SharedMachine has no unplug: reach the region through the root container
                ContainerRegion root = (ContainerRegion) as.root();
                MemoryRegion dimm = root.subregions().stream().filter(r -> r.name().equals("dimm1")).findFirst().orElseThrow();
                root.delSubregion(dimm);
                dimm.destroy();
                MemTxResultHolder res = new MemTxResultHolder();
                as.ldqLe(0x40000000L, MemTxAttrs.UNSPECIFIED, res);
                assertEquals(MemTxResult.DECODE_ERROR, res.get(), "unplugged here");
                // the peer's mapping is its own: the memfd lives on for it
                assertEquals(0xd1111L, peerAs.ldqLe(0x40000000L));
                assertEquals(MemTxResult.OK, peerAs.stqLe(0x40000008L, 2));
                assertEquals(2, peerAs.ldqLe(0x40000008L));
            }
        }
    }

    /** One machine with one file-backed RAM region at guest 0. */
    record FileMachine(MemorySystem sys, ContainerRegion root, RamRegion region, AddressSpace as) implements AutoCloseable {
        static FileMachine open(RamBlock block) {
            MemorySystem sys = new MemorySystem();
            ContainerRegion root = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
            RamRegion r = new RamRegion(sys, null, block.idstr(), block, false, false);
            root.addSubregion(0, r);
            block.close(); // the region holds its own reference (guide 7)
            return new FileMachine(sys, root, r, sys.addressSpace(root, "memory"));
        }

        @Override
        public void close() {
            root.delSubregion(region);
            region.destroy();
            sys.destroyAddressSpace(as);
        }
    }

    @Test
    void fileBackedRamPersistsAndIsReopenedByTheNextMachine(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("guest.ram");
        byte[] text = "persisted guest RAM".getBytes(StandardCharsets.US_ASCII);
        try (FileMachine a = FileMachine.open(RamBlock.builder("pc.ram", 8 * MIB).file(file).shared(true).build())) {
            assertEquals(MemTxResult.OK, a.as().write(7 * MIB, MemTxAttrs.UNSPECIFIED, text, 0, text.length));
            a.region().ramBlock().msync();
        }
        assertEquals(8 * MIB, Files.size(file), "grown to cover the block");
        try (FileMachine b = FileMachine.open(RamBlock.builder("pc.ram", 8 * MIB).file(file).shared(true).build())) {
            byte[] back = new byte[text.length];
            assertEquals(MemTxResult.OK, b.as().read(7 * MIB, MemTxAttrs.UNSPECIFIED, back, 0, back.length));
            assertArrayEquals(text, back);
        }
        // a private mapping reads the file but keeps its writes to itself
        try (FileMachine c = FileMachine.open(RamBlock.builder("pc.ram", 8 * MIB).file(file).shared(false).build())) {
            assertEquals(0x73726570, c.as().ldlLe(7 * MIB)); // "pers"
            c.as().stlLe(7 * MIB, 0);
        }
        try (FileMachine d = FileMachine.open(RamBlock.builder("pc.ram", 8 * MIB).file(file).shared(true).build())) {
            assertEquals(0x73726570, d.as().ldlLe(7 * MIB), "the private write never reached the file");
        }
        // guide 7: "a non-empty one must already cover it"
        assertThrows(InvalidRamBlockException.class, () -> RamBlock.builder("pc.ram", 16 * MIB).file(file).shared(true).build());
        assertEquals(8 * MIB, Files.size(file), "a refused open leaves the file alone");
    }

    @Test
    void aReadOnlyFileBackendIsNeverWritten(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("golden.ram");
        Files.write(file, new byte[(int) MIB]);
        try (FileMachine m = FileMachine.open(RamBlock.builder("golden", MIB).file(file).readOnly().build())) {
            AddressSpace as = m.as();
            int st = as.stlLe(0x100, 0x12345678);
            byte[] b = {1, 2, 3, 4};
            int w = as.write(0x200, MemTxAttrs.UNSPECIFIED, b, 0, b.length);
            int set = as.set(0x300, (byte) 9, 0x100, MemTxAttrs.UNSPECIFIED);
            String what = MemTxResult.toString(st) + " " + MemTxResult.toString(w) + " " + MemTxResult.toString(set);
            assertTrue(st != MemTxResult.OK && w != MemTxResult.OK && set != MemTxResult.OK, what);
            assertEquals(0, as.ldlLe(0x100), what);
            TlbEntry e = new TlbEntry();
            GuestTlb.fill(as, 0x100, e);
            assertFalse(e.writeDirect(), "a JIT must not store into a read-only mapping");
            var dma = as.map(0x1000, 4096, true, MemTxAttrs.UNSPECIFIED);
            assertTrue(dma == null || dma.isBounce() || dma.segment().isReadOnly(),
                    "a device must not get a writable direct slice of a read-only mapping");
            if (dma != null) {
                dma.unmap(0);
            }
        }
        assertEquals(0, Files.readAllBytes(file)[0x100]);
    }

    @Test
    void aFileTruncatedByAnotherProcessAnswersErrorOnEveryPath(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("disk.ram");
        try (FileMachine m = FileMachine.open(RamBlock.builder("ram.img", 4 * MIB).file(file).shared(true).build())) {
            AddressSpace as = m.as();
            assertEquals(MemTxResult.OK, as.set(0, (byte) 0x42, 4 * MIB, MemTxAttrs.UNSPECIFIED));
            TlbEntry e = new TlbEntry();
            GuestTlb.fill(as, 0x1000, e);
            assertTrue((e.flags() & GuestTlb.TLB_FAULT_PRONE) != 0, "guide 4: file-backed pages are fault-prone");
            assertFalse(e.readDirect());

            Process truncate = new ProcessBuilder("truncate", "-s", "0", file.toString()).inheritIO().start();
            assertTrue(truncate.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, truncate.exitValue());

            byte[] buf = new byte[(int) MIB];
            assertEquals(MemTxResult.ERROR, as.read(MIB, MemTxAttrs.UNSPECIFIED, buf, 0, buf.length));
            assertEquals(0, buf[0], "failed chunks read as zeros");
            RamBlock block = m.region().ramBlock();
            assertTrue(block.isBroken());
            assertTrue(block.brokenReason().contains("file truncated"), block.brokenReason());
            assertEquals(MemTxResult.ERROR, as.write(0, MemTxAttrs.UNSPECIFIED, buf, 0, buf.length));
            assertEquals(MemTxResult.ERROR, as.set(2 * MIB, (byte) 1, MIB, MemTxAttrs.UNSPECIFIED));
            MemTxResultHolder res = new MemTxResultHolder();
            as.ldqLe(3 * MIB, MemTxAttrs.UNSPECIFIED, res);
            assertEquals(MemTxResult.ERROR, res.get());
        }
    }
}
