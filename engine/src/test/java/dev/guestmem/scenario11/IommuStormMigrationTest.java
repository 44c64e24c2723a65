package dev.guestmem.scenario11;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.DmaMapping;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.iommu.IommuNotifier;
import dev.guestmem.iommu.IommuTlbEntry;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * The whole scenario: two PASID-capable devices DMA on their own threads through the IOMMU (ATS
 * translated writes from a device IOTLB, untranslated stores, buffer writes across IOVA pages, DMA
 * maps, a region cache over the IOMMU window) while the guest driver maps and unmaps pages with
 * storms of page, range, context and global invalidations, and the machine migrates live.
 *
 * <p>Checked: no DMA reaches a page after the invalidation that unmapped it completed (canaries);
 * every word on a data page came through the mapping the page had (stamps); read-only mappings
 * stay unwritten; a vfio-like MAP/UNMAP shadow equals the page tables, and so does a replay; no
 * device IOTLB entry outlives its mapping; the migrated RAM equals the source, including a DMA map
 * taken before logging started, written and unmapped during it. {@code
 * -Dguestmem.scenario11.seconds=N} runs the storm longer (default 3).
 */
class IommuStormMigrationTest {
    private static final long SECONDS = Long.getLong("guestmem.scenario11.seconds", 3);

    @Test
    void dmaUnderInvalidationStormsMigratesWhole() throws Exception {
        IommuMachine m = new IommuMachine();
        Queue<String> errors = new ConcurrentLinkedQueue<>();
        GuestTables tables = new GuestTables(m.memory);
        GuestDriver driver = new GuestDriver(m, tables, 11, errors);
        AtsDevice[] devices = {new AtsDevice(m, PasidIommu.REQUESTERS[0], errors),
            new AtsDevice(m, PasidIommu.REQUESTERS[1], errors)};

        // a vfio-like shadow of context 0, kept by MAP/UNMAP events (caching mode)
        Map<Long, Long> shadow = new TreeMap<>();
        IommuNotifier shadowNotifier = new IommuNotifier((n, e) -> {
            synchronized (shadow) {
                for (long iova = e.iova; Long.compareUnsigned(iova, e.iovaLast()) <= 0 && iova >= e.iova; iova += 4096) {
                    if (e.perm == IommuTlbEntry.NONE) {
                        shadow.remove(iova >>> 12);
                    } else {
                        shadow.put(iova >>> 12, e.translatedAddr | e.perm);
                    }
                    if (iova + 4096 == 0) {
                        break;
                    }
                }
            }
        }, IommuNotifier.IOTLB_EVENTS, 0, PasidIommu.IOVA_SPACE - 1, 0);
        m.iommuRegion.notifiers().register(shadowNotifier);
        m.iommuRegion.notifiers().replay(shadowNotifier);

        for (int i = 0; i < 300; i++) {
            driver.step();
        }

        // a long-lived DMA map, taken before logging starts, in the context the storm leaves alone
        int reservedPid = GuestDriver.RESERVED % PasidIommu.PASIDS;
        MemTxAttrs reservedAttrs = MemTxAttrs.dma(PasidIommu.REQUESTERS[1], reservedPid);
        long longLivedPage = IommuMachine.RESERVED_RAM;
        tables.setPte(GuestDriver.RESERVED, 0x10, longLivedPage | GuestTables.READ | GuestTables.WRITE);
        m.iommu.invalidate(GuestDriver.RESERVED, 0x10000, 1);
        DmaMapping early = m.dma.map(0x10000, 4096, true, reservedAttrs);
        assertNotNull(early);
        assertFalse(early.isBounce(), "RAM behind the IOMMU maps directly");

        Precopy migration = new Precopy(m.sys);
        migration.start();
        migration.round(false);

        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> threads = new ArrayList<>();
        threads.add(Thread.ofPlatform().name("guest-driver").start(() -> {
            try {
                while (!stop.get()) {
                    driver.step();
                }
            } catch (Throwable t) {
                errors.add("driver: " + t);
            }
        }));
        for (int d = 0; d < devices.length; d++) {
            AtsDevice dev = devices[d];
            long seed = 100 + d;
            threads.add(Thread.ofPlatform().name("dma-" + d).start(() -> {
                try {
                    AtsDevice.Worker w = dev.new Worker(seed);
                    Random rnd = new Random(seed);
                    while (!stop.get()) {
                        int pid = rnd.nextInt(PasidIommu.PASIDS);
                        int ctx = PasidIommu.context(PasidIommu.REQUESTERS[seed == 100 ? 0 : 1], pid);
                        if (ctx != GuestDriver.RESERVED) {
                            w.dma(pid, GuestDriver.target(driver.hints, ctx, rnd));
                        }
                    }
                } catch (Throwable t) {
                    errors.add("dma: " + t);
                }
            }));
        }

        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(SECONDS);
        int round = 0;
        while (System.nanoTime() < end) {
            Thread.sleep(50);
            migration.round(false);
            round++;
            if (round == 2) {
                MemorySegment s = early.segment();
                for (long off = 0; off < 4096; off += 8) {
                    s.set(ValueLayout.JAVA_LONG_UNALIGNED, off, 0xEA71_0000_0000_0000L | off);
                }
            } else if (round == 4) {
                early.unmap(4096); // written during logging through a map taken before it
            }
        }
        if (round < 4) {
            fail(errors, "too few rounds: " + round);
        }
        stop.set(true);
        for (Thread t : threads) {
            t.join(30_000);
            assertFalse(t.isAlive(), t.getName() + " did not stop");
        }
        migration.round(true);
        migration.stop();

        assertEquals(List.of(), migration.mismatches(), "the destination must equal the source");
        assertEquals(0xEA71_0000_0000_0FF8L, migration.destination("ram")
                .get(ValueLayout.JAVA_LONG_UNALIGNED, longLivedPage + 0xFF8), "the early map's writes migrated");

        driver.checkFreePages();
        synchronized (shadow) {
            assertEquals(expected(driver.mappings(0)), shadow, "the MAP/UNMAP shadow follows the tables");
        }
        Map<Long, Long> replayed = new TreeMap<>();
        IommuNotifier probe = new IommuNotifier((n, e) -> replayed.put(e.iova >>> 12, e.translatedAddr | e.perm),
                IommuNotifier.MAP, 0, PasidIommu.IOVA_SPACE - 1, 0);
        m.iommuRegion.notifiers().replay(probe);
        assertEquals(expected(driver.mappings(0)), replayed, "a replay tells what the tables map");
        for (AtsDevice dev : devices) {
            dev.deviceTlb().forEach((key, e) -> {
                int ctx = (int) (key >>> 40);
                long pfn = key >>> 1 & 0x7FFFFFFFFL;
                GuestDriver.Mapping mp = driver.mappings(ctx).get(pfn);
                if (mp == null || mp.page() != e.translatedAddr || !mp.writable()) {
                    errors.add(String.format("device IOTLB keeps ctx %d iova page 0x%x -> 0x%x, mapped: %s", ctx, pfn,
                            e.translatedAddr, mp));
                }
            });
        }

        driver.unmapAll(); // every page taken back is checked once more
        driver.checkFreePages();
        assertEquals(List.of(), List.copyOf(errors));

        long ok = devices[0].okWrites.get() + devices[1].okWrites.get();
        long faults = devices[0].faults.get() + devices[1].faults.get();
        long devInv = devices[0].devInvalidations.get() + devices[1].devInvalidations.get();
        String stats = String.format("maps %d, unmaps %d, invalidations %d (device %d), DMA ok %d, faults %d, bounces %d,"
                + " rounds %d, pages sent %d", driver.maps, driver.unmaps, m.iommu.invalidations.get(), devInv, ok, faults,
                devices[0].bounces.get() + devices[1].bounces.get(), migration.rounds, migration.pagesSent);
        System.out.println("scenario11 storm: " + stats);
        assertTrue(m.iommu.invalidations.get() > 1000, stats);
        assertTrue(ok > 1000 && faults > 100, stats);
        for (AtsDevice dev : devices) {
            dev.detach();
        }
        m.iommuRegion.notifiers().unregister(shadowNotifier);
    }

    private static Map<Long, Long> expected(Map<Long, GuestDriver.Mapping> mappings) {
        Map<Long, Long> out = new TreeMap<>();
        mappings.forEach((pfn, mp) -> out.put(pfn, mp.page() | IommuTlbEntry.RO | (mp.writable() ? IommuTlbEntry.WO : 0)));
        return out;
    }

    private static void fail(Queue<String> errors, String why) {
        throw new AssertionError(why + "; errors: " + errors);
    }
}
