package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import dev.guestmem.ram.RamBlockBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.BiConsumer;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Review probes for {@link VcpuTlb}'s logged entries (commits 4191f40, d042b0e): a store through a
 * logged entry must never be weaker than {@link AddressSpace#stlLe} on the current view. Each probe
 * runs the same scenario twice, once through a {@code VcpuTlb} and once through the address space,
 * and compares data, bitmaps and code invalidations.
 *
 * <p>The two probes of a client that starts logging during a logged store failed on the reviewed
 * code (4191f40) and pass since the fix that marks for every client when a view was published
 * during the store.
 */
class LoggedEntryReviewTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final long P = 4096;

    /** One machine built by a scenario: its system, the space stores go to, and the ram_addr extent to compare. */
    record M(MemorySystem sys, AddressSpace as, long extent) {
        DirtyMemory dirty() {
            return sys.dirtyMemory();
        }

        /** Every client's bits, one char per page: '0'..'7' the mask of dirty clients. */
        String bits() {
            StringBuilder b = new StringBuilder();
            for (long pa = 0; pa < extent; pa += P) {
                int m = 0;
                for (int c = 0; c < DirtyMemory.DIRTY_MEMORY_NUM; c++) {
                    if (dirty().getDirty(pa, 1, c)) {
                        m |= 1 << c;
                    }
                }
                b.append((char) ('0' + m));
            }
            return b.toString();
        }

        void clearAll() {
            dirty().clearDirtyRange(0, extent);
        }
    }

    /** A store as a vCPU makes it: through a TLB or through the address space. */
    interface Storer {
        void st(long addr, int size, long v);
    }

    static Storer tlbStorer(VcpuTlb t) {
        return (a, s, v) -> {
            switch (s) {
                case 1 -> t.stb(a, (int) v);
                case 2 -> t.stwLe(a, (int) v);
                case 4 -> t.stlLe(a, (int) v);
                default -> t.stqLe(a, v);
            }
        };
    }

    static Storer asStorer(AddressSpace as) {
        return (a, s, v) -> {
            switch (s) {
                case 1 -> as.stb(a, (int) v, U);
                case 2 -> as.stwLe(a, (int) v, U);
                case 4 -> as.stlLe(a, (int) v, U);
                default -> as.stqLe(a, v, U);
            }
        };
    }

    /**
     * Runs {@code script} on a machine built by {@code build} through a TLB (warmed with a first store
     * so its entry exists) and on a second one through the space; returns {tlb result, space result}.
     */
    static String[] both(Function<MemorySystem, M> build, boolean tcg, BiConsumer<M, Storer> script,
                         Function<M, String> observe) {
        String[] out = new String[2];
        for (int k = 0; k < 2; k++) {
            MemorySystem sys = new MemorySystem(tcg);
            try {
                M m = build.apply(sys);
                if (k == 0) {
                    try (VcpuTlb t = new VcpuTlb(m.as(), U, null)) {
                        t.enterBlock();
                        script.accept(m, tlbStorer(t));
                        out[0] = observe.apply(m);
                    }
                } else {
                    script.accept(m, asStorer(m.as()));
                    out[1] = observe.apply(m);
                }
            } finally {
                sys.close();
            }
        }
        return out;
    }

    /** Every client the space's store marked on a page, the TLB's marked too (more is allowed: QEMU's notdirty_write marks every NOCODE client). */
    static void assertNotWeaker(String tlb, String space) {
        assertEquals(space.length(), tlb.length());
        for (int k = 0; k < space.length(); k++) {
            int s = space.charAt(k) - '0';
            int t = tlb.charAt(k) - '0';
            assertEquals(s, s & t, "page " + k + ": tlb marked " + t + ", the space " + s + " (tlb " + tlb + ", space " + space + ")");
        }
    }

    // ------------------------------------------------------------------------------------------------
    // A dirty client that starts logging between the hit check and the marking (failed on 4191f40)

    /**
     * Failed on 4191f40: VGA logging starts on the page after the logged hit checked the
     * generation and before the marking (here, deterministically, from the code invalidator the
     * store itself calls; in a real emulator a display thread's {@code setLog(true)} racing the vCPU).
     * The address space's store marks the bytes with the region's mask of the moment after the store
     * ({@code LdSt.republished}); the TLB's logged entry marks with the mask it cached at refill
     * (CODE only), so the store is never marked VGA and a display that cleared VGA and then reads
     * the page never sees it. (Before 4191f40 the store went through the space and was marked; QEMU's
     * {@code notdirty_write} marks every NOCODE client whatever the mask, so it cannot lose it either.)
     * Fixed at the end of {@code VcpuTlb.logged(int, long, int)}, after the marking, as
     * {@code republished} does: if the generation moved, the bytes are marked for every client.
     */
    @Test
    void aClientThatStartsLoggingDuringALoggedStoreIsMarked() {
        assertNotWeakerWhenLoggingStartsDuringAStore((sys, ram) -> ram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA));
    }

    /**
     * The same race, migration flavour: global dirty logging starts during the store. Same cause as
     * above (failed on 4191f40 the same way).
     */
    @Test
    void globalLoggingThatStartsDuringALoggedStoreIsMarked() {
        assertNotWeakerWhenLoggingStartsDuringAStore((sys, ram) -> sys.globalDirtyLogStart());
    }

    /**
     * On a TCG machine, the second store's code invalidation (the page had code again) calls
     * {@code startLogging} once, from inside the store: deterministically between the logged entry's
     * view check and its marking.
     */
    private static void assertNotWeakerWhenLoggingStartsDuringAStore(BiConsumer<MemorySystem, RamRegion> startLogging) {
        String[] r = both(sys -> {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x4000);
            root.addSubregion(0x100000, ram);
            AddressSpace as = sys.addressSpace(root, "as");
            M m = new M(sys, as, 0x4000);
            boolean[] once = {true};
            m.dirty().setCodeInvalidator((ramAddr, len) -> {
                m.dirty().setDirtyRange(ramAddr & -P, P, DirtyMemory.MASK_CODE);
                if (once[0]) {
                    once[0] = false;
                    startLogging.accept(sys, ram); // a display or a migration starts logging now
                }
            });
            return m;
        }, true, (m, st) -> {
            st.st(0x101000, 4, 1);                                   // the entry exists; page dirty for CODE
            m.clearAll();                                            // code translated; every client clean
            st.st(0x101010, 4, 2);                                   // invalidator runs, logging starts meanwhile
        }, M::bits);
        assertNotWeaker(r[0], r[1]);
    }

    // ------------------------------------------------------------------------------------------------
    // Parity with the space: CODE client and invalidator, clears, aliases, ram_addr != 0

    /** A TCG machine: a first block (so the second's ram_addr is not 0) and RAM seen directly and through an unaligned alias. */
    static M tcgMachine(MemorySystem sys, List<String> heard, boolean redirty) {
        ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        RamRegion first = RamRegion.allocate(sys, null, "first", 0x3000);
        RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x8000);
        root.addSubregion(0x10000, first);
        root.addSubregion(0x100000, ram);
        root.addSubregion(0x200000, new AliasRegion(sys, null, "mid", ram, 0x1800, 0x4000)); // mid-block, unaligned
        ram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
        AddressSpace as = sys.addressSpace(root, "as");
        M m = new M(sys, as, ram.ramBlock().offset() + 0x8000);
        m.dirty().setCodeInvalidator((ramAddr, len) -> {
            heard.add(Long.toHexString(ramAddr) + "+" + len);
            if (redirty) {
                m.dirty().setDirtyRange(ramAddr & -P, ((ramAddr + len + P - 1) & -P) - (ramAddr & -P), DirtyMemory.MASK_CODE);
            }
        });
        return m;
    }

    /**
     * Random stores (all sizes, aligned and not, direct and through the mid-block alias) interleaved
     * with every kind of clear of every client: the TLB's stores give the same data, the same bits
     * and the same code invalidations, in the same order, as the space's.
     */
    @Test
    void randomStoresAndClearsMatchTheSpace() {
        for (boolean redirty : new boolean[] {true, false}) {
            for (long seed = 1; seed <= 6; seed++) {
                long s0 = seed;
                List<List<String>> heard = List.of(new ArrayList<>(), new ArrayList<>());
                int[] which = {0};
                String[] r = both(sys -> tcgMachine(sys, heard.get(which[0]++), redirty), true, (m, st) -> {
                    Random rnd = new Random(s0);
                    StringBuilder trace = new StringBuilder();
                    long base = m.extent() - 0x8000;
                    for (int step = 0; step < 400; step++) {
                        int op = rnd.nextInt(10);
                        long pg = rnd.nextInt(6);
                        int c = rnd.nextInt(3);
                        switch (op) {
                            case 0 -> m.dirty().resetDirty(base + pg * P, P, c);
                            case 1 -> m.dirty().snapshotAndClearDirty(base, 0x8000, c);
                            case 2 -> m.dirty().clearDirtyRange(base + pg * P, P);
                            case 3 -> trace.append(m.dirty().testAndClearDirty(base + pg * P, 2 * P, c) ? 'T' : 'F');
                            default -> {
                                int size = 1 << rnd.nextInt(4);
                                long off = rnd.nextInt(0xff0) & (rnd.nextBoolean() ? -size : -1);
                                long a = rnd.nextBoolean() ? 0x100000 + pg * P + off : 0x200000 + (pg % 4) * P + off;
                                st.st(a, size, rnd.nextLong());
                            }
                        }
                        trace.append(m.bits().hashCode()).append(',');
                    }
                    byte[] all = new byte[0x8000];
                    m.as().read(0x100000, U, all, 0, all.length);
                    trace.append(Arrays.hashCode(all));
                    m.sys().dirtyMemory().setCodeInvalidator(null);
                    heard.get(which[0] - 1).add(trace.toString());
                }, M::bits);
                assertEquals(r[1], r[0], "seed " + seed);
                assertEquals(heard.get(1), heard.get(0), "seed " + seed + " redirty " + redirty);
            }
        }
    }

    /**
     * A store through the unaligned alias that straddles two ram_addr pages (guest offset 0x7fe of the
     * alias's page 0 = ram offset 0x1ffe..0x2001): both ram pages are marked, every time after a clear.
     */
    @Test
    void aStoreStraddlingTwoRamPagesThroughAnUnalignedAliasMarksBoth() {
        List<String> h0 = new ArrayList<>();
        List<String> h1 = new ArrayList<>();
        List<List<String>> heard = List.of(h0, h1);
        int[] which = {0};
        String[] r = both(sys -> tcgMachine(sys, heard.get(which[0]++), true), true, (m, st) -> {
            for (int round = 0; round < 3; round++) {
                m.clearAll();
                st.st(0x2007fe, 4, 0x11223344);
                assertEquals(0x11223344, m.as().ldlLe(0x101ffe, U, null), "alias offset 0x1800 + 0x7fe");
                String bits = m.bits().substring((int) ((m.extent() - 0x8000) / P));
                assertEquals("033", bits.substring(0, 3), "VGA and CODE (re-dirtied) on both ram pages: " + bits);
            }
        }, M::bits);
        assertEquals(r[1], r[0]);
        assertEquals(h1, h0);
        assertEquals(3, h0.size(), "CODE was clean on both pages after every clear: invalidated once per round");
    }

    // ------------------------------------------------------------------------------------------------
    // Pages that must not be logged entries: the TLB may not write them where the space would not

    /** Stores to a page; returns what a load reads back and the bitmap. */
    static String[] storeAndRead(Function<MemorySystem, M> build, long addr) {
        return both(build, false, (m, st) -> {
            m.clearAll();
            st.st(addr, 4, 0x5a5a5a5aL);
            st.st(addr + 8, 8, 0x0102030405060708L);
        }, m -> m.bits() + "/" + Long.toHexString(m.as().ldqLe(addr, U, null)) + "/"
                + Long.toHexString(m.as().ldqLe(addr + 8, U, null)));
    }

    static M logged(MemorySystem sys, ContainerRegion root, long extent) {
        sys.globalDirtyLogStart();
        return new M(sys, sys.addressSpace(root, "as"), extent);
    }

    /** File-backed blocks (fault-prone), writable and read-only: never written through a logged entry. */
    @Test
    void fileBackedBlocksAreNotLoggedEntries(@TempDir Path dir) throws Exception {
        for (boolean ro : new boolean[] {false, true}) {
            Path f = dir.resolve("ram" + ro);
            Files.write(f, new byte[0x2000]);
            String[] r = storeAndRead(sys -> {
                ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
                RamBlockBuilder bb = RamBlock.builder("f", 0x2000).file(f, 0);
                RamBlock b = (ro ? bb.readOnly() : bb).build();
                root.addSubregion(0x100000, new RamRegion(sys, null, "f", b, false, false));
                b.unref(); // the region holds it
                return logged(sys, root, 0x2000);
            }, 0x100010);
            assertEquals(r[1], r[0], "read-only " + ro);
        }
    }

    @Test
    void romAndReadOnlyRamAreNotLoggedEntries() {
        for (int kind = 0; kind < 3; kind++) {
            int k = kind;
            String[] r = storeAndRead(sys -> {
                ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
                RamRegion ram = k == 0 ? RamRegion.allocateRom(sys, null, "rom", 0x2000)
                        : RamRegion.allocate(sys, null, "ram", 0x2000);
                if (k == 1) {
                    ram.setReadonly(true);
                }
                if (k == 2) {
                    AliasRegion ro = new AliasRegion(sys, null, "ro", ram, 0, 0x2000);
                    ro.setReadonly(true);
                    root.addSubregion(0x100000, ro);
                } else {
                    root.addSubregion(0x100000, ram);
                }
                return logged(sys, root, 0x2000);
            }, 0x100010);
            // TCG drops CPU stores to RAM the view makes read-only; the space may not: the TLB must be no
            // more permissive than "dropped", and must mark nothing it did not write
            String tlbData = r[0].substring(r[0].indexOf('/'));
            assertEquals("/0/0", tlbData, "kind " + k + ": tlb " + r[0] + " space " + r[1]);
        }
    }

    @Test
    void aRomDeviceInRomdModeIsNotALoggedEntry() {
        int[] writes = {0};
        String[] r = storeAndRead(sys -> {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamBlock b = RamBlock.builder("flash", 0x2000).build();
            RomDeviceRegion dev = new RomDeviceRegion(sys, null, MemoryRegionOps.builder()
                    .read((a, s) -> 0).write((a, v, s) -> writes[0]++).build(), "flash", b);
            b.unref();
            root.addSubregion(0x100000, dev);
            return logged(sys, root, 0x2000);
        }, 0x100010);
        assertEquals(r[1], r[0]);
        assertEquals(0, writes[0] % 2, "as many device writes through the TLB as through the space: " + writes[0]);
    }

    @Test
    void aSubpagePageAndAPartlyCoveredPageAreNotLoggedEntries() {
        String[] r = storeAndRead(sys -> {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x4000);
            root.addSubregion(0x100000, ram);
            IoRegion dev = new IoRegion(sys, null, MemoryRegionOps.builder()
                    .read((a, s) -> 0).write((a, v, s) -> { }).build(), "dev", 0x100);
            root.addSubregionOverlap(0x101800, dev, 1); // page 0x101000: RAM and a device
            return logged(sys, root, 0x4000);
        }, 0x101010);
        assertEquals(r[1], r[0]);
        String[] r2 = storeAndRead(sys -> {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x4000);
            root.addSubregion(0x100000, new AliasRegion(sys, null, "part", ram, 0, 0x1800)); // page 0x101000 half RAM
            return logged(sys, root, 0x4000);
        }, 0x101010);
        assertEquals(r2[1], r2[0]);
    }

    /** A page an IOMMU maps read-only: the TLB must not write it (the space refuses the store). */
    @Test
    void anIommuReadOnlyPageIsNotALoggedEntry() {
        String[] r = storeAndRead(sys -> {
            ContainerRegion mem = new ContainerRegion(sys, null, "mem", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x10000);
            mem.addSubregion(0, ram);
            AddressSpace memory = sys.addressSpace(mem, "memory");
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            root.addSubregion(0, new IommuRegion(sys, null, "iommu", 0x100000, (addr, flag, idx, out) -> {
                out.iova = addr & ~0xfffL;
                out.addrMask = 0xfff;
                out.targetAs = memory;
                out.translatedAddr = 0x3000 + (addr & ~0xfffL);
                out.perm = IommuTlbEntry.RO;
            }));
            sys.globalDirtyLogStart();
            return new M(sys, sys.addressSpace(root, "dma"), 0x10000);
        }, 0x1010);
        assertEquals(r[1], r[0]);
    }

    /**
     * A 2 MiB IOMMU translation (the window's logged slice starts pages before the page stored to)
     * into RAM in the middle of its block: the right ram_addr page is marked, after every clear.
     */
    @Test
    void aLargeIommuTranslationMarksTheRightRamPage() {
        String[] r = both(sys -> {
            ContainerRegion mem = new ContainerRegion(sys, null, "mem", MemoryRegion.SIZE_2_64);
            RamRegion pad = RamRegion.allocate(sys, null, "pad", 0x5000);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x400000);
            mem.addSubregion(0x1000_0000L, pad);
            mem.addSubregion(0, ram);
            AddressSpace memory = sys.addressSpace(mem, "memory");
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            root.addSubregion(0, new IommuRegion(sys, null, "iommu", 0x400000, (addr, flag, idx, out) -> {
                out.iova = addr & ~0x1fffffL;
                out.addrMask = 0x1fffff;
                out.targetAs = memory;
                out.translatedAddr = 0x200000 + (addr & ~0x1fffffL) ^ 0x200000;
                out.perm = IommuTlbEntry.RW;
            }));
            sys.globalDirtyLogStart();
            return new M(sys, sys.addressSpace(root, "dma"), ram.ramBlock().offset() + 0x400000);
        }, false, (m, st) -> {
            for (int round = 0; round < 3; round++) {
                m.clearAll();
                st.st(0x5010 + round * P, 4, round + 1);
                st.st(0x205010, 8, round + 7);
                st.st(0x5014 + round * P, 4, round + 1); // the entry's second store, maybe skipped
            }
        }, m -> m.bits() + "/" + m.as().ldlLe(0x7010, U, null) + "/" + m.as().ldqLe(0x205010, U, null));
        assertEquals(r[1], r[0]);
    }

    // ------------------------------------------------------------------------------------------------
    // Stale entries: resize, removal, close, log stop

    private static final RamRegion[] VRAM = new RamRegion[1];

    /** A logged entry whose page a shrink took away: the space's rules, nothing thrown. */
    @Test
    void aShrinkUnderALoggedEntryTakesTheSpacesRules() {
        String[] r = both(sys -> {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamBlock b = RamBlock.builder("vram", 0x4000).resizeable(0x8000, null).build();
            RamRegion vram = new RamRegion(sys, null, "vram", b, false, false);
            VRAM[0] = vram;
            b.unref();
            root.addSubregion(0x100000, vram);
            vram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
            return new M(sys, sys.addressSpace(root, "as"), vram.ramBlock().offset() + 0x8000);
        }, false, (m, st) -> {
            st.st(0x103000, 4, 1);
            m.clearAll();
            VRAM[0].ramResize(0x1000);             // the page at 0x103000 leaves the view; no block entry since
            st.st(0x103004, 4, 2);
            VRAM[0].ramResize(0x6000);
            st.st(0x103008, 4, 3);
            st.st(0x105004, 4, 4);
        }, M::bits);
        assertEquals(r[1], r[0]);
    }

    /** The logged entry's block is unplugged (and its region freed) before the next block entry: the space's rules. */
    @Test
    void anUnpluggedBlockUnderALoggedEntryTakesTheSpacesRules() {
        String[] r = both(sys -> {
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x4000);
            VRAM[0] = ram;
            root.addSubregion(0x100000, ram);
            ram.setLog(true, DirtyMemory.DIRTY_MEMORY_VGA);
            return new M(sys, sys.addressSpace(root, "as"), ram.ramBlock().offset() + 0x4000);
        }, true, (m, st) -> {
            st.st(0x101000, 4, 1);
            m.clearAll();
            ContainerRegion root = (ContainerRegion) m.as().root();
            root.delSubregion(VRAM[0]);
            st.st(0x101004, 4, 2);
            st.st(0x101008, 8, 3);
        }, M::bits);
        assertEquals(r[1], r[0]);
    }

    /** The system closes under a logged entry: a store through it throws nothing the space's would not. */
    @Test
    void aStoreAfterTheSystemClosedThrowsNoMoreThanTheSpaces() {
        String[] out = new String[2];
        for (int k = 0; k < 2; k++) {
            MemorySystem sys = new MemorySystem(true);
            ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
            RamRegion ram = RamRegion.allocate(sys, null, "ram", 0x4000);
            root.addSubregion(0x100000, ram);
            AddressSpace as = sys.addressSpace(root, "as");
            VcpuTlb t = new VcpuTlb(as, U, null);
            Storer st = k == 0 ? tlbStorer(t) : asStorer(as);
            st.st(0x101000, 4, 1);
            sys.dirtyMemory().clearDirtyRange(0, 0x4000);
            sys.close();
            try {
                st.st(0x101004, 4, 2);
                out[k] = "ok";
            } catch (RuntimeException e) {
                out[k] = e.getClass().getSimpleName();
            }
            try {
                t.close();
            } catch (RuntimeException e) {
                out[k] += "/close " + e.getClass().getSimpleName();
            }
        }
        assertEquals(out[1], out[0]);
    }
}
