package dev.guestmem.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IommuRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The IOMMU against QEMU's system/memory.c and system/physmem.c, case by case: notifier delivery
 * ({@code memory_region_notify_iommu}), the translate loop ({@code address_space_translate_iommu}) and
 * what a {@code MemoryListener} sees of an IOMMU region. Each test names the QEMU function it follows,
 * or says where guestmem must do better than QEMU (a Java callback can throw; QEMU's cannot).
 */
class IommuQemuConformanceTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    private final MemorySystem sys = new MemorySystem();
    private final RamBlock ram = RamBlock.anonymous("dram", 0x100000);
    private final ContainerRegion memRoot = new ContainerRegion(sys, null, "mem-root", -1L);
    private final AddressSpace memory;
    private final ContainerRegion pciRoot = new ContainerRegion(sys, null, "pci-root", -1L);
    private final AddressSpace pci;

    IommuQemuConformanceTest() {
        memRoot.addSubregion(0, new RamRegion(sys, null, "dram", ram, false, false));
        memory = sys.addressSpace(memRoot, "memory");
        pci = sys.addressSpace(pciRoot, "pci");
    }

    /** Identity into {@code memory}, read-write, 4 KiB pages. */
    private IommuOps identityInto(AddressSpace target) {
        return (addr, flag, idx, out) -> {
            out.targetAs = target;
            out.iova = addr & ~0xFFFL;
            out.translatedAddr = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
        };
    }

    private static IommuNotifier recorder(List<String> seen, String who, int flags) {
        return new IommuNotifier((n, e) -> seen.add(who + "@" + Long.toHexString(e.iova)), flags, 0, -1L, 0);
    }

    // ------------------------------------------------------------------ memory_region_notify_iommu

    /**
     * {@code memory_region_notify_iommu} tells every notifier of the index. A Java callback can throw
     * where QEMU's cannot: the others must still hear the event (an UNMAP means the memory is gone:
     * a device or the JIT fast path that misses it keeps using a stale page), and the first throw
     * reaches the model afterwards.
     */
    @Test
    void aThrowingNotifierDoesNotHideTheEventFromTheOthers() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, identityInto(memory));
        pciRoot.addSubregion(0, iommu);
        TlbEntry page = new TlbEntry();
        assertTrue(GuestTlb.fill(pci, 0x3000, page), "cached through the IOMMU (TCG's notifier registered)");
        List<String> seen = new ArrayList<>();
        iommu.notifiers().register(recorder(seen, "old", IommuNotifier.UNMAP));
        RuntimeException boom = new IllegalStateException("device bug");
        RuntimeException second = new IllegalArgumentException("another device bug");
        iommu.notifiers().register(new IommuNotifier((n, e) -> {
            throw second;
        }, IommuNotifier.UNMAP, 0, -1L, 0));
        iommu.notifiers().register(new IommuNotifier((n, e) -> {
            throw boom;
        }, IommuNotifier.UNMAP, 0, -1L, 0)); // newest: told first

        RuntimeException thrown = assertThrows(RuntimeException.class, () -> iommu.notifiers().notify(0,
                IommuNotifier.UNMAP, new IommuTlbEntry(memory, 0x3000, 0, 0xFFF, IommuTlbEntry.NONE)));

        assertSame(boom, thrown, "the first throw reaches the model");
        assertEquals(List.of(second), List.of(thrown.getSuppressed()), "later throws are kept with it");
        assertEquals(List.of("old@3000"), seen, "the older notifier heard the event");
        assertNotEquals(pci.generation(), page.generation(), "the JIT fast path's entry was invalidated");
    }

    /**
     * TCG's IOMMU notifier flushes the TLB of every CPU that cached through the IOMMU
     * ({@code tcg_iommu_unmap_notify}); here every space that cached through it moves its generation.
     * An invalidation listener of one space that throws (a vCPU kick that fails) must not leave
     * another space's entries current, nor stop a publication of the space behind the IOMMU half way.
     */
    @Test
    void aThrowingInvalidationListenerDoesNotLeaveOtherSpacesStale() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, identityInto(memory));
        pciRoot.addSubregion(0, iommu);
        ContainerRegion root2 = new ContainerRegion(sys, null, "pci2-root", -1L);
        root2.addSubregion(0, new AliasRegion(sys, null, "iommu-alias", iommu, 0, 0x100000));
        AddressSpace pci2 = sys.addressSpace(root2, "pci2");
        RuntimeException kick = new IllegalStateException("vCPU kick failed");
        pci.addInvalidationListener(() -> {
            throw kick;
        });
        List<String> told = new ArrayList<>();
        pci.addInvalidationListener(() -> told.add("pci"));
        TlbEntry a = new TlbEntry();
        TlbEntry b = new TlbEntry();
        assertTrue(GuestTlb.fill(pci, 0x3000, a));
        assertTrue(GuestTlb.fill(pci2, 0x3000, b));

        assertSame(kick, assertThrows(RuntimeException.class, () -> iommu.notifiers().notify(0,
                IommuNotifier.UNMAP, new IommuTlbEntry(memory, 0x3000, 0, 0xFFF, IommuTlbEntry.NONE))));
        assertNotEquals(pci.generation(), a.generation());
        assertNotEquals(pci2.generation(), b.generation(), "the other space was invalidated too");
        assertEquals(List.of("pci"), told, "the other listener of the space was told");

        // a publication of the space behind the IOMMU invalidates its dependents, throw or not
        assertTrue(GuestTlb.fill(pci, 0x3000, a));
        assertTrue(GuestTlb.fill(pci2, 0x3000, b));
        List<String> heard = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void begin() {
                heard.add("begin");
            }

            @Override
            public void commit() {
                heard.add("commit");
            }
        }, memory);
        heard.clear();
        RamRegion extra = new RamRegion(sys, null, "extra", RamBlock.anonymous("extra", 0x1000), false, false);
        assertSame(kick, assertThrows(RuntimeException.class, () -> memRoot.addSubregion(0x200000, extra)));
        assertEquals(List.of("begin", "commit"), heard, "the commit went to its end");
        assertNotEquals(pci2.generation(), b.generation());
        assertEquals(MemTxResult.OK, memory.stlLe(0x200000, 7), "the view with the new region is published");
        // the commit finished: the view cache is the published view, so a later change keeps "extra"
        RamRegion extra2 = new RamRegion(sys, null, "extra2", RamBlock.anonymous("extra2", 0x1000), false, false);
        assertThrows(RuntimeException.class, () -> memRoot.addSubregion(0x300000, extra2));
        assertEquals(MemTxResult.OK, memory.stlLe(0x300000, 7));
        assertEquals(MemTxResult.OK, memory.stlLe(0x200000, 7), "still mapped after the later change");
    }

    /**
     * A notifier may unregister itself, or register another, from its callback (vfio does both from
     * listener callbacks; a model's reset unmaps from inside events): the event still reaches every
     * notifier registered when it was sent, and the list stays consistent.
     */
    @Test
    void aNotifierThatUnregistersItselfOrRegistersAnotherDuringAnEvent() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, identityInto(memory));
        List<String> seen = new ArrayList<>();
        IommuNotifier old = recorder(seen, "old", IommuNotifier.MAP);
        IommuNotifier late = recorder(seen, "late", IommuNotifier.MAP);
        iommu.notifiers().register(old);
        IommuNotifier[] self = new IommuNotifier[1];
        self[0] = new IommuNotifier((n, e) -> {
            seen.add("self@" + Long.toHexString(e.iova));
            iommu.notifiers().unregister(n);
            iommu.notifiers().register(late);
        }, IommuNotifier.MAP, 0, -1L, 0);
        iommu.notifiers().register(self[0]);

        iommu.notifiers().notify(0, IommuNotifier.MAP, new IommuTlbEntry(memory, 0x1000, 0x1000, 0xFFF,
                IommuTlbEntry.RW));
        assertEquals(List.of("self@1000", "old@1000"), seen, "the event went on past the one that left");
        assertFalse(self[0].isRegistered());
        assertEquals(List.of(late, old), List.of(iommu.notifiers().registered()));
        seen.clear();
        iommu.notifiers().notify(0, IommuNotifier.MAP, new IommuTlbEntry(memory, 0x2000, 0x2000, 0xFFF,
                IommuTlbEntry.RW));
        assertEquals(List.of("late@2000", "old@2000"), seen);
    }

    /**
     * A model's {@code notify_flag_changed} that registers or unregisters a notifier of its own
     * region would change the list under the registration that asked it: the outer call then
     * published its own copy, losing the nested notifier (which still said it was registered, so a
     * later unregister failed on the list). QEMU's stored flags go stale the same way
     * ({@code memory_region_update_iommu_notify_flags} writes the union it computed before the hook).
     * Here the nested call is refused, the hook's throw refuses the outer registration, and nothing
     * changes.
     */
    @Test
    void aFlagsHookThatRegistersOnItsOwnRegionIsRefusedAndNothingChanges() {
        List<String> seen = new ArrayList<>();
        IommuNotifier own = recorder(seen, "model", IommuNotifier.UNMAP);
        IommuOps base = identityInto(memory);
        IommuOps model = new IommuOps() {
            @Override
            public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
                base.translate(addr, flag, iommuIdx, out);
            }

            @Override
            public void notifyFlagChanged(IommuRegion r, int oldFlags, int newFlags) {
                if ((newFlags & IommuNotifier.MAP) != 0 && !own.isRegistered()) {
                    r.notifiers().register(own); // the model would start watching its own events
                }
            }
        };
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, model);
        IommuNotifier user = recorder(seen, "user", IommuNotifier.MAP);

        IommuException refused = assertThrows(IommuException.class, () -> iommu.notifiers().register(user));

        assertTrue(refused.getMessage().contains("notifyFlagChanged"), refused.getMessage());
        assertFalse(user.isRegistered());
        assertFalse(own.isRegistered());
        assertEquals(0, iommu.notifiers().registered().length);
        assertEquals(0, iommu.notifiers().flags());
        iommu.notifiers().register(own); // outside the hook: fine
        assertEquals(List.of(own), List.of(iommu.notifiers().registered()));
        iommu.notifiers().unregister(own);
    }

    // ------------------------------------------------------------------ the translate loop

    /** A model that maps every page onto itself in {@code into[0]}, counting calls, refusing after many. */
    private static final class Looping implements IommuOps {
        final AddressSpace[] into = new AddressSpace[1];
        int calls;

        @Override
        public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            if (++calls > 100_000) {
                return; // let a looping walk end, so the test fails instead of hanging
            }
            out.targetAs = into[0];
            out.iova = addr & ~0xFFFL;
            out.translatedAddr = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
        }
    }

    /**
     * An IOMMU that translates into the address space holding it (a misconfigured board, or a guest
     * that programs a cycle between two IOMMUs): QEMU's {@code address_space_translate_iommu} loops
     * for ever. Here the loop gives up after a bounded number of hops and the access hits the
     * unassigned section, as a refused translation does.
     */
    @Test
    void anIommuThatTranslatesIntoItsOwnSpaceEndsAsUnassigned() {
        Looping model = new Looping();
        model.into[0] = pci;
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, model);
        pciRoot.addSubregion(0, iommu);

        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0, pci.ldlLe(0x1000, U, r));
        assertEquals(MemTxResult.DECODE_ERROR, r.get());
        assertTrue(model.calls < 1000, "bounded hops, got " + model.calls);
        model.calls = 0;
        assertEquals(MemTxResult.DECODE_ERROR, pci.stlLe(0x1000, 1));
        assertEquals(MemTxResult.DECODE_ERROR, pci.write(0x1000, U, new byte[8], 0, 8));
        assertTrue(model.calls < 1000, "bounded hops, got " + model.calls);
        model.calls = 0;
        assertEquals(IommuTlbEntry.NONE, pci.iotlbEntry(0x1000, false, U).perm);
        assertTrue(model.calls < 1000, "bounded hops, got " + model.calls);
        model.calls = 0;
        TlbEntry e = new TlbEntry();
        assertFalse(GuestTlb.fill(pci, 0x1000, e));
        assertFalse(e.readDirect());
        assertTrue(model.calls < 1000, "bounded hops, got " + model.calls);
    }

    /** The same for a cycle through two IOMMUs in two spaces (A's IOMMU into B, B's into A). */
    @Test
    void aCycleThroughTwoIommusEndsAsUnassigned() {
        Looping toB = new Looping();
        Looping toA = new Looping();
        ContainerRegion bRoot = new ContainerRegion(sys, null, "b-root", -1L);
        AddressSpace b = sys.addressSpace(bRoot, "b");
        toB.into[0] = b;
        toA.into[0] = pci;
        pciRoot.addSubregion(0, new IommuRegion(sys, null, "a-iommu", 0x100000, toB));
        bRoot.addSubregion(0, new IommuRegion(sys, null, "b-iommu", 0x100000, toA));

        MemTxResultHolder r = new MemTxResultHolder();
        pci.ldlLe(0x1000, U, r);
        assertEquals(MemTxResult.DECODE_ERROR, r.get());
        assertTrue(toA.calls + toB.calls < 1000, "bounded hops, got " + (toA.calls + toB.calls));
        toA.calls = 0;
        toB.calls = 0;
        assertFalse(GuestTlb.fill(pci, 0x1000, new TlbEntry()));
        assertTrue(toA.calls + toB.calls < 1000, "bounded hops, got " + (toA.calls + toB.calls));
    }

    /** A legitimate chain of IOMMUs (nested translation, as an SMMU's two stages) is still followed. */
    @Test
    void aChainOfSeveralIommusStillReachesMemory() {
        AddressSpace next = memory;
        for (int i = 0; i < 8; i++) {
            ContainerRegion r = new ContainerRegion(sys, null, "stage" + i, -1L);
            r.addSubregion(0, new IommuRegion(sys, null, "iommu" + i, 0x100000, identityInto(next)));
            next = sys.addressSpace(r, "stage" + i);
        }
        ram.segment().set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0x2000, 0x5a5a);
        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0x5a5a, next.ldlLe(0x2000, U, r));
        assertEquals(MemTxResult.OK, r.get());
        TlbEntry e = new TlbEntry();
        assertTrue(GuestTlb.fill(next, 0x2000, e));
        assertEquals(0x2000, e.hostOffset());
    }

    /**
     * A model whose translate reads its page table through an address space, here the very space
     * holding the IOMMU, through a second IOMMU (QEMU's VT-d walks its tables with DMA reads from
     * inside {@code translate}): the nested access must not clobber the outer one's state.
     */
    @Test
    void aTranslateThatReadsItsTableThroughTheSameSpaceGivesTheRightAnswer() {
        pciRoot.addSubregion(0x100000, new IommuRegion(sys, null, "table-window", 0x100000, identityInto(memory)));
        long table = 0x100000 + 0x8000; // pci address of the table: memory's 0x8000, via the second IOMMU
        IommuOps walking = (addr, flag, idx, out) -> {
            long pte = pci.ldqLe(table + (addr >>> 12) * 8); // the nested access, through an IOMMU too
            out.iova = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            if (pte != 0) {
                out.targetAs = memory;
                out.translatedAddr = pte & ~0xFFFL;
                out.perm = (int) (pte & IommuTlbEntry.RW);
            }
        };
        pciRoot.addSubregion(0, new IommuRegion(sys, null, "walking", 0x100000, walking));
        ram.segment().set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0x8000 + 3 * 8, 0x5000L | IommuTlbEntry.RW);
        ram.segment().set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0x5ffc, 0x11223344);
        ram.segment().set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0x5010, 0x55667788);

        MemTxResultHolder r = new MemTxResultHolder();
        assertEquals(0x55667788, pci.ldlLe(0x3010, U, r));
        assertEquals(MemTxResult.OK, r.get());
        byte[] buf = new byte[8]; // a buffer read over the end of page 3 into unmapped page 4
        assertEquals(MemTxResult.DECODE_ERROR, pci.read(0x3ffc, U, buf, 0, 8));
        assertEquals(0x11223344, java.nio.ByteBuffer.wrap(buf).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0));
        assertEquals(0x5000, pci.iotlbEntry(0x3010, false, U).translatedAddr);
    }

    /**
     * A translation to the last page below 2^64 ({@code address_space_translate_iommu} clamps plen to
     * {@code (addr | mask) - addr + 1}, which must not wrap): an access over the end of that IOMMU
     * page is split there, its second part translated separately.
     */
    @Test
    void aTranslationToTheTopPageOfTheTargetSplitsAt2To64() {
        ContainerRegion topRoot = new ContainerRegion(sys, null, "top-root", -1L);
        RamBlock top = RamBlock.anonymous("top", 0x1000);
        topRoot.addSubregion(0xFFFF_FFFF_FFFF_F000L, new RamRegion(sys, null, "top", top, false, false));
        AddressSpace topAs = sys.addressSpace(topRoot, "top");
        IommuOps toTop = (addr, flag, idx, out) -> {
            out.iova = addr & ~0xFFFL;
            out.addrMask = 0xFFF;
            out.perm = IommuTlbEntry.RW;
            if (out.iova == 0) {
                out.targetAs = topAs;
                out.translatedAddr = 0xFFFF_FFFF_FFFF_F000L; // page 0 -> the last page below 2^64
            } else {
                out.targetAs = memory;
                out.translatedAddr = 0; // page 1 -> memory's page 0
            }
        };
        pciRoot.addSubregion(0, new IommuRegion(sys, null, "to-top", 0x100000, toTop));
        assertEquals(MemTxResult.OK, pci.write(0xFFC, U, new byte[] {1, 2, 3, 4, 5, 6, 7, 8}, 0, 8));
        assertEquals(0x04030201, top.segment().get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0xFFC));
        assertEquals(0x08070605, ram.segment().get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0));
        dev.guestmem.dispatch.Translation t = new dev.guestmem.dispatch.Translation();
        pci.translate(0xFF0, 0x100, true, U, t);
        assertEquals(0x10, t.plen(), "clamped to the top page's end");
        assertEquals(0xFF0, t.xlat());
    }

    // ------------------------------------------------------------------ listeners and IOMMU sections

    /**
     * What QEMU's listeners (vfio_listener_region_add) see: the IOMMU region itself in the section
     * ({@code memory_region_is_iommu(section->mr)}), also when it is mapped through an alias (the flat
     * view resolves aliases; the section's offset within the region is the alias's offset), on
     * registration replay ({@code listener_add_address_space}) and again after a disable/enable.
     */
    @Test
    void aListenerSeesTheIommuSectionThroughAnAliasOnReplayAndAcrossDisable() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, identityInto(memory));
        AliasRegion window = new AliasRegion(sys, null, "iommu-window", iommu, 0x4000, 0x8000);
        pciRoot.addSubregion(0x10_0000, window);
        List<String> seen = new ArrayList<>();
        MemoryListener vfioLike = new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add("add " + describe(s));
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                seen.add("del " + describe(s));
            }

            @Override
            public void regionNop(MemoryRegionSection s) {
                seen.add("nop " + describe(s));
            }

            private String describe(MemoryRegionSection s) {
                return s.region().name() + (s.region().isIommu() ? " iommu" : "") + " @" 
                        + Long.toHexString(s.offsetWithinAddressSpace()) + " +" + Long.toHexString(s.offsetWithinRegion())
                        + " size " + Long.toHexString(s.size());
            }
        };
        sys.registerListener(vfioLike, pci);
        assertEquals(List.of("add iommu iommu @100000 +4000 size 8000"), seen, "replay");
        assertSame(iommu, IommuNotifiers.of(window), "registration through the alias reaches the IOMMU");
        seen.clear();
        window.setEnabled(false);
        assertEquals(List.of("del iommu iommu @100000 +4000 size 8000"), seen);
        seen.clear();
        window.setEnabled(true);
        assertEquals(List.of("add iommu iommu @100000 +4000 size 8000"), seen);
        seen.clear();
        sys.unregisterListener(vfioLike);
        assertEquals(List.of("del iommu iommu @100000 +4000 size 8000"), seen);
    }

    /**
     * {@code memory_region_get_dirty_log_mask} counts an IOMMU region as migratable under global
     * dirty tracking, so a listener of the space sees {@code log_start(0 -> MIGRATION)} for the IOMMU
     * section (vfio starts its IOMMU dirty tracking from there), and the matching stop.
     */
    @Test
    void globalDirtyTrackingLogsTheIommuSection() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, identityInto(memory));
        pciRoot.addSubregion(0, iommu);
        List<String> seen = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void logStart(MemoryRegionSection s, int oldMask, int newMask) {
                seen.add("start " + s.region().name() + " " + oldMask + "->" + newMask);
            }

            @Override
            public void logStop(MemoryRegionSection s, int oldMask, int newMask) {
                seen.add("stop " + s.region().name() + " " + oldMask + "->" + newMask);
            }
        }, pci);
        sys.globalDirtyLogStart();
        assertEquals(List.of("start iommu 0->4"), seen);
        seen.clear();
        sys.globalDirtyLogStop();
        assertEquals(List.of("stop iommu 4->0"), seen);
    }

    /**
     * A vfio-like listener whose notifier the model refuses throws from {@code regionAdd} (QEMU's
     * vfio records the error instead). The topology change must still be whole: the IOMMU is
     * mapped, and later changes are seen.
     */
    @Test
    void aListenerThatThrowsFromRegionAddLeavesTheTopologyConsistent() {
        IommuRegion iommu = new IommuRegion(sys, null, "iommu", 0x100000, identityInto(memory));
        List<String> seen = new ArrayList<>();
        sys.registerListener(new MemoryListener() {
            @Override
            public void regionAdd(MemoryRegionSection s) {
                seen.add("add " + s.region().name());
                if (s.region().isIommu()) {
                    throw new IommuException("refused");
                }
            }

            @Override
            public void regionDel(MemoryRegionSection s) {
                seen.add("del " + s.region().name());
            }
        }, pci);
        try {
            pciRoot.addSubregion(0, iommu);
        } catch (IommuException expected) {
            seen.add("threw");
        }
        assertEquals(List.of("add iommu", "threw"), seen, "the throw reaches the caller once the change is whole");
        ram.segment().set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0x1000, 0x77);
        assertEquals(0x77, pci.ldlLe(0x1000), "the IOMMU is mapped");
        RamRegion more = new RamRegion(sys, null, "more", RamBlock.anonymous("more", 0x1000), false, false);
        pciRoot.addSubregion(0x200000, more);
        assertTrue(seen.contains("add more"), seen.toString());
        assertEquals(0x77, pci.ldlLe(0x1000), "still mapped after a later change");
        pciRoot.delSubregion(more);
        assertTrue(seen.contains("del more"), seen.toString());
    }
}
