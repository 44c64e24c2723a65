package dev.guestmem.scenario3;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.share.SharedMachine;
import dev.guestmem.share.SharedRamRegion;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotWriter;
import dev.guestmem.uffd.LazyRestore;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

/**
 * Exploratory: a lazy restore into memfd RAM that a peer maps too (a sharing user rolling back a
 * machine whose RAM a second process uses). The peer's mapping is not registered with the
 * userfaultfd, so its read of a page not yet restored finds a hole in the memfd and fills it with a
 * zero page; the guest's own access then finds that page present, takes no fault, and the snapshot's
 * bytes never arrive (the prefetcher's UFFDIO_COPY meets EEXIST and counts the page present). Found
 * by this probe: the guest reads 0 where the snapshot holds 0x1122334455667788, with 0 faults. The
 * guide and {@code LazyRestore} now say to keep every other mapping of a memfd target from touching
 * it until the restore completes. Since then the page server breaks the restore when its copy
 * finds a page it never installed (shown, with prefetch on, by {@code SharedMemfdLazyRestoreTest});
 * this probe runs with prefetch off, where the server never comes to the page: the restore stays
 * RESTORING and the page keeps the peer's zeros, which no engine can undo. Still fails; run with
 * {@code -Dguestmem.audit=true}.
 */
@EnabledIfSystemProperty(named = "guestmem.audit", matches = "true")
class SharedLazyRestoreProbe {
    static final long MIB = 1L << 20;

    @Test
    void aPeerTouchingAPageBeforeItIsRestored(@TempDir Path dir) throws Exception {
        List<SharedRamRegion> layout = List.of(new SharedRamRegion("ram0", 0, 4 * MIB));
        try (SharedMachine m = SharedMachine.createMemfd(layout)) {
            RamBlock block = m.blocks().getFirst();
            m.addressSpace().stqLe(0x3ff000, 0x1122334455667788L);
            Path file = dir.resolve("shared.gms");
            SnapshotWriter.write(file, List.of(SnapshotBlock.of(block)), ProgressListener.NONE);
            m.addressSpace().stqLe(0x3ff000, 0); // the guest runs on; we roll back below

            // the peer: the same memfd, its own mapping (as another process would have)
            RamBlock peerBlock = RamBlock.builder("ram0", 4 * MIB).fd(block.fd(), 0).build();
            try (SharedMachine peer = SharedMachine.of(layout, List.of(peerBlock));
                 SnapshotFile f = SnapshotFile.open(file);
                 LazyRestore r = LazyRestore.start(SnapshotChain.of(f), List.of(SnapshotBlock.of(block)),
                         new LazyRestore.Options(false, true))) {
                AddressSpace peerAs = peer.addressSpace();
                long peerSaw = peerAs.ldqLe(0x3ff000);
                long guestSaw = m.addressSpace().ldqLe(0x3ff000);
                boolean done = r.awaitComplete(Duration.ofSeconds(2));
                long guestAfter = m.addressSpace().ldqLe(0x3ff000);
                long peerAfter = peerAs.ldqLe(0x3ff000);
                String what = String.format("peer saw 0x%x, guest saw 0x%x, complete %s, guest after 0x%x, peer after 0x%x, %s",
                        peerSaw, guestSaw, done, guestAfter, peerAfter, r.metrics());
                assertEquals(0x1122334455667788L, guestAfter, "the restored page: " + what);
                assertEquals(0x1122334455667788L, peerAfter, "the peer shares it: " + what);
            }
        }
    }
}
