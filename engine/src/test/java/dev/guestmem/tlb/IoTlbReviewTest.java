package dev.guestmem.tlb;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.iommu.IommuTlbEntry;
import dev.guestmem.ioeventfd.EventNotifier;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import dev.guestmem.testing.PageSplit;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Review of the soft TLB's io entries ({@link TlbEntry#ioSection()}, {@code ioLoad}/{@code ioStore})
 * and of the one-call MMIO write ({@code FlatViewAccess.mmioWrite}): each scenario runs one script
 * of accesses on three twin machines and asserts that they see the same values, the same
 * {@link MemTxResult}s and the same device calls (offsets, sizes, values, eventfd signals, flushes):
 * <ul>
 * <li>through a {@link VcpuTlb} (its io entries);</li>
 * <li>through {@code ioLoad}/{@code ioStore} with the section a {@link GuestTlb#fill} found;</li>
 * <li>the reference: the address space's ordinary accessors on a machine whose devices are forced
 * onto the full dispatch ({@code MmioDispatch.readValue}/{@code write}): each is flush-coalesced
 * (the fast MMIO read slot refuses it) and has an eventfd no access of the script matches (the
 * one-call write needs a region without eventfds).</li>
 * </ul>
 */
class IoTlbReviewTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;
    private static final long PAGE = 0x1000;
    /** The forcing eventfd's data: no script stores it. */
    private static final long NEVER = 0x5A5A_5A5A_0BAD_F00DL;

    /** One machine of a twin set. */
    static final class Rig implements AutoCloseable {
        final MemorySystem sys;
        final ContainerRegion root;
        final List<String> log = new ArrayList<>();
        final List<MemoryRegion> devices = new ArrayList<>();
        final List<EventNotifier> notifiers = new ArrayList<>();
        final List<String> notifierNames = new ArrayList<>();
        AddressSpace as;
        VcpuTlb tlb;
        int fault;

        Rig(ByteOrder target) {
            sys = new MemorySystem(false, target);
            root = new ContainerRegion(sys, null, "system", -1L);
        }

        /** Ops that log every call (plain read and write) with the device's name. */
        MemoryRegionOps.Builder logging(String name) {
            return MemoryRegionOps.builder()
                    .read((addr, sz) -> {
                        log.add(name + " r " + Long.toHexString(addr) + "/" + sz);
                        return 0xF1E2_D3C4_B5A6_9788L ^ (addr << 12) ^ sz;
                    })
                    .write((addr, v, sz) -> log.add(name + " w " + Long.toHexString(addr) + "=" + Long.toHexString(v)
                            + "/" + sz));
        }

        <R extends MemoryRegion> R map(long at, R device) {
            root.addSubregion(at, device);
            devices.add(device);
            return device;
        }

        EventNotifier notifier(String name) {
            EventNotifier n = EventNotifier.create();
            notifiers.add(n);
            notifierNames.add(name);
            return n;
        }

        EventNotifier notifierNamed(String name) {
            return notifiers.get(notifierNames.indexOf(name));
        }

        @Override
        public void close() {
            if (tlb != null) {
                tlb.close();
            }
            sys.close();
            notifiers.forEach(EventNotifier::close);
        }
    }

    /** What one script step does. */
    sealed interface Step permits Load, Store, Change, EnterBlock {
    }

    record Load(long addr, int size, boolean big) implements Step {
    }

    record Store(long addr, int size, boolean big, long value) implements Step {
    }

    /** A change made on every twin (a topology change, an eventfd, a flag). */
    record Change(String what, Consumer<Rig> change) implements Step {
    }

    /** {@link VcpuTlb#enterBlock()} on the TLB twin (nothing on the others). */
    record EnterBlock() implements Step {
    }

    private enum Mode { TLB, IO, REFERENCE }

    /**
     * Runs {@code script} on three twins built by {@code build} and asserts they agree; returns the
     * reference's transcript. {@code ioPages} are pages that must have an io entry at the start.
     */
    private static List<String> twins(Consumer<Rig> build, List<Step> script, long... ioPages) {
        return twins(ByteOrder.LITTLE_ENDIAN, build, script, ioPages);
    }

    private static List<String> twins(ByteOrder target, Consumer<Rig> build, List<Step> script, long... ioPages) {
        List<String> ref = run(Mode.REFERENCE, target, build, script, ioPages);
        assertEquals(ref, run(Mode.TLB, target, build, script, ioPages), "VcpuTlb io entries vs the full dispatch");
        assertEquals(ref, run(Mode.IO, target, build, script, ioPages), "ioLoad/ioStore vs the full dispatch");
        return ref;
    }

    private static List<String> run(Mode mode, ByteOrder target, Consumer<Rig> build, List<Step> script,
                                    long[] ioPages) {
        try (Rig r = new Rig(target)) {
            build.accept(r);
            r.as = r.sys.addressSpace(r.root, "memory");
            for (long p : ioPages) {
                assertNotNull(sectionOf(r.as, p), "an io entry at " + Long.toHexString(p));
            }
            if (mode == Mode.REFERENCE) {
                for (MemoryRegion d : r.devices) {
                    d.setFlushCoalesced();
                    d.addEventfd(0, 8, true, NEVER, r.notifier("force"));
                }
            }
            if (mode == Mode.TLB) {
                r.tlb = new VcpuTlb(r.as, U, (addr, size, isWrite, res) -> r.fault |= res);
            }
            List<String> out = r.log; // device calls and step results, interleaved
            MemTxResultHolder res = new MemTxResultHolder();
            for (Step s : script) {
                switch (s) {
                    case Load l -> {
                        long v;
                        int result;
                        if (mode == Mode.TLB) {
                            r.fault = MemTxResult.OK;
                            v = tlbLoad(r.tlb, l);
                            result = r.fault;
                        } else if (PageSplit.inPieces(r.as, l.addr(), l.size())) { // as TCG makes it
                            List<PageSplit.Fault> faults = new ArrayList<>();
                            v = PageSplit.load(r.as, l.addr(), l.size(), l.big(), faults);
                            v = l.size() == 4 ? Integer.toUnsignedLong((int) v) : v;
                            result = faults.stream().mapToInt(PageSplit.Fault::result).reduce(0, (a, b) -> a | b);
                        } else if (mode == Mode.IO) {
                            PhysSection sec = sectionOf(r.as, l.addr());
                            v = sec != null ? r.as.ioLoad(sec, l.addr(), l.size(), l.big(), U, res) : spaceLoad(r.as, l, res);
                            result = res.get();
                        } else {
                            v = spaceLoad(r.as, l, res);
                            result = res.get();
                        }
                        out.add("LOAD " + Long.toHexString(l.addr()) + "/" + l.size() + (l.big() ? "be" : "le") + " = "
                                + Long.toHexString(v) + " " + MemTxResult.toString(result));
                    }
                    case Store st -> {
                        int result;
                        if (mode == Mode.TLB) {
                            r.fault = MemTxResult.OK;
                            tlbStore(r.tlb, st);
                            result = r.fault;
                        } else if (PageSplit.inPieces(r.as, st.addr(), st.size())) { // as TCG makes it
                            List<PageSplit.Fault> faults = new ArrayList<>();
                            PageSplit.store(r.as, st.addr(), st.size(), st.big(), st.value(), page -> drops(r.as, page),
                                    faults);
                            result = faults.stream().mapToInt(PageSplit.Fault::result).reduce(0, (a, b) -> a | b);
                        } else if (mode == Mode.IO) {
                            PhysSection sec = sectionOf(r.as, st.addr());
                            result = sec != null ? r.as.ioStore(sec, st.addr(), st.size(), st.big(), st.value(), U)
                                    : spaceStore(r.as, st);
                        } else {
                            result = spaceStore(r.as, st);
                        }
                        out.add("STORE " + Long.toHexString(st.addr()) + "/" + st.size() + (st.big() ? "be" : "le")
                                + " " + MemTxResult.toString(result));
                    }
                    case Change c -> {
                        c.change().accept(r);
                        out.add("CHANGE " + c.what());
                    }
                    case EnterBlock e -> {
                        if (r.tlb != null) {
                            r.tlb.enterBlock();
                        }
                    }
                }
                for (int i = 0; i < r.notifiers.size(); i++) {
                    if (r.notifiers.get(i).testAndClear()) {
                        out.add("SIGNAL " + r.notifierNames.get(i));
                    }
                }
            }
            return List.copyOf(out);
        }
    }

    /** Whether the view makes {@code page} RAM that CPU stores may not change (TCG drops them). */
    private static boolean drops(AddressSpace as, long page) {
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, page, e);
        return (e.flags() & GuestTlb.TLB_DISCARD_WRITE) != 0;
    }

    private static long tlbLoad(VcpuTlb t, Load l) {
        return switch (l.size()) {
            case 1 -> t.ldub(l.addr());
            case 2 -> l.big() ? t.lduwBe(l.addr()) : t.lduwLe(l.addr());
            case 4 -> Integer.toUnsignedLong(l.big() ? t.ldlBe(l.addr()) : t.ldlLe(l.addr()));
            default -> l.big() ? t.ldqBe(l.addr()) : t.ldqLe(l.addr());
        };
    }

    private static void tlbStore(VcpuTlb t, Store s) {
        switch (s.size()) {
            case 1 -> t.stb(s.addr(), (int) s.value());
            case 2 -> {
                if (s.big()) {
                    t.stwBe(s.addr(), (int) s.value());
                } else {
                    t.stwLe(s.addr(), (int) s.value());
                }
            }
            case 4 -> {
                if (s.big()) {
                    t.stlBe(s.addr(), (int) s.value());
                } else {
                    t.stlLe(s.addr(), (int) s.value());
                }
            }
            default -> {
                if (s.big()) {
                    t.stqBe(s.addr(), s.value());
                } else {
                    t.stqLe(s.addr(), s.value());
                }
            }
        }
    }

    private static long spaceLoad(AddressSpace as, Load l, MemTxResultHolder res) {
        return switch (l.size()) {
            case 1 -> as.ldub(l.addr(), U, res);
            case 2 -> l.big() ? as.lduwBe(l.addr(), U, res) : as.lduwLe(l.addr(), U, res);
            case 4 -> Integer.toUnsignedLong(l.big() ? as.ldlBe(l.addr(), U, res) : as.ldlLe(l.addr(), U, res));
            default -> l.big() ? as.ldqBe(l.addr(), U, res) : as.ldqLe(l.addr(), U, res);
        };
    }

    private static int spaceStore(AddressSpace as, Store s) {
        return switch (s.size()) {
            case 1 -> as.stb(s.addr(), (int) s.value(), U);
            case 2 -> s.big() ? as.stwBe(s.addr(), (int) s.value(), U) : as.stwLe(s.addr(), (int) s.value(), U);
            case 4 -> s.big() ? as.stlBe(s.addr(), (int) s.value(), U) : as.stlLe(s.addr(), (int) s.value(), U);
            default -> s.big() ? as.stqBe(s.addr(), s.value(), U) : as.stqLe(s.addr(), s.value(), U);
        };
    }

    private static PhysSection sectionOf(AddressSpace as, long addr) {
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, addr, U, e);
        return e.ioSection();
    }

    /** Every size, both byte orders, at offsets {@code 0..7} past {@code base}: loads, then stores. */
    private static List<Step> sweep(long base) {
        List<Step> s = new ArrayList<>();
        for (int size = 1; size <= 8; size <<= 1) {
            for (int off = 0; off < 8; off++) {
                for (boolean big : new boolean[] {false, true}) {
                    s.add(new Load(base + off, size, big));
                    s.add(new Store(base + off, size, big, 0x1122_3344_5566_7788L + off));
                }
            }
        }
        return s;
    }

    // ------------------------------------------------------------------ access-size rules

    @Test
    void aDeviceWithWriteAndWriteWithAttrsGetsThePlainCallbackAsTheDispatchGivesIt() {
        List<String> t = twins(r -> r.map(0x10000, new IoRegion(r.sys, new Object(), r.logging("d")
                .readWithAttrs((addr, sz, attrs, out) -> {
                    r.log.add("d ra " + Long.toHexString(addr));
                    out.value = 1;
                    return MemTxResult.OK;
                })
                .writeWithAttrs((addr, v, sz, attrs) -> {
                    r.log.add("d wa " + Long.toHexString(addr));
                    return MemTxResult.ERROR;
                }).valid(1, 8, true).impl(1, 8, false).build(), "d", PAGE)), sweep(0x10000), 0x10000);
        assertEquals(0, t.stream().filter(x -> x.contains(" ra ") || x.contains(" wa ")).count());
    }

    @Test
    void aDeviceWithOnlyWriteWithAttrsTakesItsResult() {
        twins(r -> r.map(0x10000, new IoRegion(r.sys, new Object(), MemoryRegionOps.builder()
                .read((addr, sz) -> addr)
                .writeWithAttrs((addr, v, sz, attrs) -> {
                    r.log.add("d wa " + Long.toHexString(addr) + "=" + Long.toHexString(v) + "/" + sz);
                    return addr == 4 ? MemTxResult.ERROR : MemTxResult.OK;
                }).valid(1, 8, true).impl(2, 4, false).build(), "d", PAGE)), sweep(0x10000), 0x10000);
    }

    @Test
    void validAndImplUnalignedInEveryCombination() {
        for (boolean validUnaligned : new boolean[] {false, true}) {
            for (boolean implUnaligned : new boolean[] {false, true}) {
                for (int implMax : new int[] {1, 2, 4, 8}) {
                    int max = implMax;
                    twins(r -> r.map(0x10000, new IoRegion(r.sys, new Object(), r.logging("d")
                            .valid(1, 8, validUnaligned).impl(1, max, implUnaligned).build(), "d", PAGE)),
                            sweep(0x10000), 0x10000);
                }
            }
        }
    }

    @Test
    void bigEndianDevicesWiderThanTheAccess() {
        for (int implMin : new int[] {1, 2, 4, 8}) {
            for (Endianness e : new Endianness[] {Endianness.BIG, Endianness.LITTLE}) {
                twins(r -> r.map(0x10000, new IoRegion(r.sys, new Object(), r.logging("d").endianness(e)
                        .valid(1, 8, true).impl(implMin, 8, false).build(), "d", PAGE)), sweep(0x10000), 0x10000);
            }
        }
    }

    @Test
    void nativeDevicesOfABigEndianTarget() {
        for (int implMin : new int[] {1, 4}) {
            twins(ByteOrder.BIG_ENDIAN, r -> r.map(0x10000, new IoRegion(r.sys, new Object(), r.logging("d")
                    .endianness(Endianness.NATIVE).valid(1, 8, true).impl(implMin, 8, false).build(), "d", PAGE)),
                    sweep(0x10000), 0x10000);
        }
    }

    @Test
    void validMaxZeroAndValidMinAboveTheAccess() {
        twins(r -> {
            r.map(0x10000, new IoRegion(r.sys, new Object(), r.logging("any").valid(0, 0, false).build(), "any", PAGE));
            r.map(0x20000, new IoRegion(r.sys, new Object(), r.logging("wide").valid(4, 8, false).impl(1, 8, false)
                    .build(), "wide", PAGE));
        }, concat(sweep(0x10000), sweep(0x20000)), 0x10000, 0x20000);
    }

    @Test
    void aDeviceThatVetoesWithAccepts() {
        twins(r -> r.map(0x10000, new IoRegion(r.sys, new Object(), r.logging("d")
                .accepts((addr, sz, isWrite, attrs) -> (addr & 2) == 0).valid(1, 8, true).impl(1, 8, true).build(),
                "d", PAGE)), sweep(0x10000), 0x10000);
    }

    // ------------------------------------------------------------------ windows and places

    @Test
    void aliasWindowsOntoADeviceAtUnalignedOffsets() {
        for (long aliasOffset : new long[] {0x10, 0x3, 0x2, 0x7FC}) {
            twins(r -> {
                IoRegion dev = new IoRegion(r.sys, new Object(), r.logging("d").valid(1, 4, false).impl(1, 4, false)
                        .build(), "d", 0x4000);
                r.devices.add(dev);
                r.root.addSubregion(0x10000, new AliasRegion(r.sys, null, "win", dev, aliasOffset, PAGE));
            }, sweep(0x10000), 0x10000);
        }
    }

    @Test
    void aDeviceAtTheTopOfThe64BitSpace() {
        long top = -PAGE;
        List<Step> s = new ArrayList<>(sweep(-8L));
        s.addAll(sweep(-16L));
        s.add(new Load(-1L, 1, false));
        s.add(new Store(-1L, 1, false, 0xAB));
        s.add(new Load(-2L, 4, false)); // wraps past 2^64
        s.add(new Store(-2L, 4, false, 1));
        twins(r -> r.map(top, new IoRegion(r.sys, new Object(), r.logging("top").valid(1, 8, true).impl(1, 8, true)
                .build(), "top", PAGE)), s, top);
    }

    /** A section of 2^64 bytes: its size minus one is -1 as a signed long (the bounds tests must hold). */
    @Test
    void aDeviceCoveringTheWhole64BitSpace() {
        List<Step> s = new ArrayList<>(sweep(0));
        s.addAll(sweep(0x7FFF_FFFF_FFFF_FFFCL));
        s.addAll(sweep(-8L));
        s.add(new Load(-4L, 8, false));
        s.add(new Store(-4L, 8, false, 1));
        twins(r -> r.map(0, new IoRegion(r.sys, new Object(), r.logging("all").valid(1, 8, true).impl(1, 8, false)
                .build(), "all", -1L)), s, 0, 0x7FFF_FFFF_FFFF_F000L, -PAGE);
    }

    @Test
    void aDeviceSpanningManyPagesAndAnAccessCrossingItsEnd() {
        List<Step> s = new ArrayList<>(sweep(0x10000 + 2 * PAGE - 4));
        twins(r -> {
            r.map(0x10000, new IoRegion(r.sys, new Object(), r.logging("big").valid(1, 8, true).impl(1, 4, true)
                    .build(), "big", 2 * PAGE));
            r.map(0x10000 + 2 * PAGE, new IoRegion(r.sys, new Object(), r.logging("next").valid(1, 8, true)
                    .impl(1, 8, true).build(), "next", PAGE));
        }, s, 0x10000, 0x10000 + PAGE, 0x10000 + 2 * PAGE);
    }

    /**
     * The one-call write also serves a store an IOMMU translated onto a device (a window at an odd
     * offset of it): no io entry there, but {@code mmioWrite} decides on the translated offset.
     */
    @Test
    void aDeviceBehindAnIommuAtAnOddOffset() {
        List<Step> s = new ArrayList<>(sweep(0x100000));
        s.addAll(sweep(0x101000));
        List<String> t = twins(r -> {
            ContainerRegion down = new ContainerRegion(r.sys, null, "down", -1L);
            IoRegion dev = new IoRegion(r.sys, new Object(), r.logging("d").valid(1, 8, false).impl(1, 4, false)
                    .build(), "d", 0x4000);
            r.devices.add(dev);
            down.addSubregion(0x10000, new AliasRegion(r.sys, null, "win", dev, 0x6, 0x3000));
            AddressSpace downstream = r.sys.addressSpace(down, "down");
            r.root.addSubregion(0x100000, new IommuRegion(r.sys, null, "iommu", 0x2000,
                    (addr, flag, idx, out) -> {
                        out.iova = addr & ~0xFFFL;
                        out.addrMask = 0xFFF;
                        out.targetAs = downstream;
                        out.translatedAddr = 0x11000 - (addr & ~0xFFFL);
                        out.perm = IommuTlbEntry.RW;
                    }));
        }, s);
        assertTrue(t.contains("d w 6=8877/2"), t.toString()); // page 1 of the IOMMU is the window's start
    }

    // ------------------------------------------------------------------ ROM and RAM devices

    @Test
    void aRomDeviceSwitchingRomdModeUnderTheEntry() {
        List<Step> s = new ArrayList<>();
        s.add(new Load(0x10004, 4, false));
        s.add(new Store(0x10008, 4, false, 0xCAFE));
        s.add(new Change("romd on", r -> ((RomDeviceRegion) r.devices.get(0)).setRomd(true)));
        s.add(new Load(0x10004, 4, false));
        s.add(new Store(0x10008, 4, false, 0xBEEF));
        s.add(new EnterBlock());
        s.add(new Load(0x10004, 4, false));
        s.add(new Store(0x1000C, 4, false, 0xF00D));
        s.add(new Change("romd off", r -> ((RomDeviceRegion) r.devices.get(0)).setRomd(false)));
        // (no access here: until the block entry the page's direct entry still reads the ROM, by design)
        s.add(new EnterBlock());
        s.add(new Load(0x10004, 4, false));
        s.add(new Store(0x10008, 2, true, 0x1234));
        s.add(new Change("romd on again", r -> ((RomDeviceRegion) r.devices.get(0)).setRomd(true)));
        s.add(new Load(0x10004, 4, false));
        s.add(new Store(0x10008, 2, true, 0x1234));
        twins(r -> {
            RomDeviceRegion rom = RomDeviceRegion.allocate(r.sys, new Object(), r.logging("rom").valid(1, 8, true)
                    .impl(1, 8, false).build(), "rom", PAGE);
            rom.setRomd(false);
            r.map(0x10000, rom);
        }, s, 0x10000);
    }

    @Test
    void aRamDeviceThroughItsEntry() {
        List<Step> s = new ArrayList<>(sweep(0x10000));
        s.addAll(sweep(0x10FF8));
        twins(r -> r.map(0x10000, new RamRegion(r.sys, null, "rd", RamBlock.anonymous("rd", PAGE), false, true)),
                s, 0x10000);
    }

    // ------------------------------------------------------------------ changes under the entry

    @Test
    void anEventfdAddedAndRemovedWhileTheEntryIsHeld() {
        List<Step> s = new ArrayList<>();
        s.add(new Store(0x10040, 4, false, 1));
        s.add(new Change("eventfd", r -> r.devices.get(0).addEventfd(0x40, 4, false, 0, r.notifier("kick"))));
        s.add(new Store(0x10040, 4, false, 2));
        s.add(new Store(0x10040, 2, false, 3)); // another size: the device's
        s.add(new Store(0x10044, 4, false, 4));
        s.add(new EnterBlock());
        s.add(new Store(0x10040, 4, false, 5));
        s.add(new Change("eventfd gone", r -> r.devices.get(0).delEventfd(0x40, 4, false, 0,
                r.notifierNamed("kick"))));
        s.add(new Store(0x10040, 4, false, 6));
        List<String> t = twins(r -> r.map(0x10000, new IoRegion(r.sys, new Object(), r.logging("d").valid(1, 8, true)
                .impl(1, 8, true).build(), "d", PAGE)), s, 0x10000);
        assertEquals(2, t.stream().filter(x -> x.startsWith("SIGNAL")).count(), t.toString());
    }

    @Test
    void flushCoalescedSetAfterTheEntryWasFilled() {
        List<Step> s = new ArrayList<>();
        s.add(new Load(0x10000, 4, false));
        s.add(new Store(0x10000, 4, false, 1));
        s.add(new Change("flush-coalesced", r -> {
            r.sys.setCoalescedMmioFlusher(() -> r.log.add("flush"));
            r.devices.get(0).setFlushCoalesced();
        }));
        s.add(new Load(0x10004, 4, false));
        s.add(new Store(0x10004, 4, false, 2));
        s.add(new Load(0x10008, 1, false));
        s.add(new Change("flush-coalesced cleared", r -> r.devices.get(0).clearFlushCoalesced()));
        s.add(new Load(0x10004, 4, false));
        s.add(new Store(0x10004, 4, false, 3));
        List<String> t = twins(r -> r.map(0x10000, new IoRegion(r.sys, new Object(), r.logging("d").valid(1, 8, true)
                .impl(1, 8, true).build(), "d", PAGE)), s, 0x10000);
        // one before each device access while flagged, one for the change that clears the flag
        assertEquals(4, t.stream().filter("flush"::equals).count(), t.toString());
    }

    @Test
    void aDeviceRemovedDestroyedAndReplacedWhileATlbHoldsItsSection() {
        List<Step> s = new ArrayList<>();
        s.add(new Load(0x10004, 4, false));
        s.add(new Store(0x10004, 4, false, 1));
        s.add(new Change("removed", r -> {
            MemoryRegion d = r.devices.get(0);
            r.root.delSubregion(d);
            d.destroy();
        }));
        s.add(new Load(0x10004, 4, false));
        s.add(new Store(0x10004, 4, false, 2));
        s.add(new Change("replaced", r -> r.root.addSubregion(0x10000, new IoRegion(r.sys, new Object(),
                r.logging("new").valid(1, 8, true).build(), "new", PAGE))));
        s.add(new Load(0x10004, 4, false));
        s.add(new Store(0x10004, 4, false, 3));
        s.add(new EnterBlock());
        s.add(new Load(0x10004, 4, false));
        s.add(new Store(0x10004, 4, false, 4));
        twins(r -> r.map(0x10000, new IoRegion(r.sys, new Object(), r.logging("d").valid(1, 8, true).build(), "d",
                PAGE)), s, 0x10000);
    }

    @Test
    void aDeviceWritingItsSiblingOfTheSameOwnerIsRefusedOnEveryPath() {
        twins(r -> {
            Object owner = new Object();
            r.map(0x20000, new IoRegion(r.sys, owner, r.logging("sib").valid(1, 8, true).build(), "sib", PAGE));
            r.map(0x10000, new IoRegion(r.sys, owner, MemoryRegionOps.builder()
                    .read((addr, sz) -> {
                        MemTxResultHolder h = new MemTxResultHolder();
                        long v = r.as.ldlLe(0x20000 + addr, U, h);
                        r.log.add("inner read " + MemTxResult.toString(h.get()));
                        return v;
                    })
                    .write((addr, v, sz) -> r.log.add("inner write "
                            + MemTxResult.toString(r.as.stlLe(0x20000 + addr, (int) v, U))))
                    .valid(1, 8, true).build(), "d", PAGE));
        }, List.of(new Load(0x10004, 4, false), new Store(0x10008, 4, false, 7), new Load(0x20004, 4, false),
                new Store(0x20008, 4, false, 8)), 0x10000, 0x20000);
    }

    /**
     * Probe (gated: {@code -Dguestmem.audit=true}). {@code ioLoad}/{@code ioStore} take a section of
     * another machine as a hint they do not follow, but a section of another address space of the
     * same machine is followed: the access reaches the device that space maps at the address, not
     * the one this space maps there. Out of the documented contract ("a section of this space's
     * dispatch"), and {@link VcpuTlb} never does it; reported, not fixed (a check needs the section
     * to know its dispatch, a design question).
     */
    @Test
    void probeASectionOfAnotherAddressSpaceOfTheSameMachine() {
        Assumptions.assumeTrue(Boolean.getBoolean("guestmem.audit"));
        try (Rig r = new Rig(ByteOrder.LITTLE_ENDIAN)) {
            r.map(0x10000, new IoRegion(r.sys, new Object(), r.logging("mine").valid(1, 8, true).build(), "mine", PAGE));
            ContainerRegion otherRoot = new ContainerRegion(r.sys, null, "other", -1L);
            otherRoot.addSubregion(0x10000, new IoRegion(r.sys, new Object(), r.logging("theirs").valid(1, 8, true)
                    .build(), "theirs", PAGE));
            r.as = r.sys.addressSpace(r.root, "memory");
            AddressSpace other = r.sys.addressSpace(otherRoot, "other");
            PhysSection theirs = sectionOf(other, 0x10000);
            MemTxResultHolder res = new MemTxResultHolder();
            r.as.ioLoad(theirs, 0x10004, 4, false, U, res);
            r.as.ioStore(theirs, 0x10008, 4, false, 1, U);
            assertEquals(List.of("mine r 4/4", "mine w 8=1/4"), r.log);
        }
    }

    private static List<Step> concat(List<Step> a, List<Step> b) {
        List<Step> s = new ArrayList<>(a);
        s.addAll(b);
        return s;
    }
}
