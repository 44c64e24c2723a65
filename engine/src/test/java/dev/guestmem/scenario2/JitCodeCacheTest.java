package dev.guestmem.scenario2;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Program 3: a JIT author. A translation cache keyed by ram_addr page, protected with the CODE
 * client, a window-form soft TLB for data (the guide's pattern), and every way a guest or a loader
 * can change code: stores through an alias, a store that crosses into a code page, a window-form
 * logged store, a loader rewriting ROM, and a moved RAM region.
 */
class JitCodeCacheTest {
    static final long MIB = 1 << 20;
    static final long PAGE = 4096;
    static final long ROM = 0xffff_0000L;
    static final long MIRROR = 0x8000_0000L;

    final MemorySystem sys = new MemorySystem(true);
    final ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
    final RamRegion ram = RamRegion.allocate(sys, null, "ram", 4 * MIB);
    final RamRegion rom = RamRegion.allocateRom(sys, null, "bios", 64 * 1024);
    final AddressSpace as;
    final CodeCache code;

    JitCodeCacheTest() {
        system.addSubregion(0, ram);
        system.addSubregion(ROM, rom);
        system.addSubregion(MIRROR, new AliasRegion(sys, null, "ram-mirror", ram, 0, MIB));
        as = sys.addressSpace(system, "memory");
        code = new CodeCache(as);
    }

    /** Translated blocks by ram_addr page: what QEMU keeps in its TB hash and page descriptors. */
    static final class CodeCache {
        final AddressSpace as;
        final DirtyMemory dirty;
        final Map<Long, int[]> blocks = new HashMap<>();
        final List<Long> invalidated = new ArrayList<>();
        final TlbEntry fetch = new TlbEntry();
        int translations;

        CodeCache(AddressSpace as) {
            this.as = as;
            this.dirty = as.system().dirtyMemory();
            dirty.setCodeInvalidator((ramAddr, length) -> {
                for (long p = ramAddr & -PAGE; p < ramAddr + length; p += PAGE) {
                    if (blocks.remove(p) != null) {
                        invalidated.add(p);
                    }
                    dirty.setDirtyRange(p, PAGE, DirtyMemory.MASK_CODE);   // tlb_unprotect_code
                }
            });
        }

        /** Fetches the block at a guest page: translated once, then served from the cache until written. */
        int[] fetch(long pc) {
            assertTrue(GuestTlb.fill(as, pc, fetch));
            assertTrue(fetch.readDirect(), "code runs from RAM or ROM");
            long page = fetch.ramAddr();
            int[] b = blocks.get(page);
            if (b == null) {
                dirty.resetDirty(page, PAGE, DirtyMemory.DIRTY_MEMORY_CODE);    // tlb_protect_code first
                b = new int[4];
                for (int i = 0; i < b.length; i++) {
                    b[i] = fetch.segment().get(ValueLayout.JAVA_INT_UNALIGNED, fetch.hostOffset() + 4L * i);
                }
                blocks.put(page, b);
                translations++;
            }
            return b;
        }
    }

    @Test
    void storeThroughAnAliasInvalidatesTheTranslation() {
        as.stlLe(0x3000, 0x11);
        assertEquals(0x11, code.fetch(0x3000)[0]);
        assertEquals(0x11, code.fetch(0x3000)[0]);
        assertEquals(1, code.translations);
        as.stlLe(MIRROR + 0x3000, 0x22);                 // same RAM, another guest address
        assertEquals(1, code.invalidated.size());
        assertEquals(0x22, code.fetch(0x3000)[0]);
        assertEquals(0x22, code.fetch(MIRROR + 0x3000)[0], "one translation serves both addresses");
        assertEquals(2, code.translations);
    }

    @Test
    void storeCrossingIntoACodePageInvalidatesIt() {
        as.stlLe(0x6000, 0x11);
        code.fetch(0x6000);
        long codePage = code.fetch.ramAddr();
        assertEquals(MemTxResult.OK, as.stlLe(0x5ffe, 0xaabbccdd)); // two bytes on each page
        assertEquals(List.of(codePage), code.invalidated);
        assertEquals(0xaabb, code.fetch(0x6000)[0] & 0xffff);
        // a bulk write and a memset reach it too
        code.invalidated.clear();
        byte[] buf = new byte[16];
        assertEquals(MemTxResult.OK, as.write(0x5ff8, MemTxAttrs.UNSPECIFIED, buf, 0, buf.length));
        assertEquals(List.of(codePage), code.invalidated);
        code.fetch(0x6000);
        assertEquals(MemTxResult.OK, as.set(0x6100, (byte) 0x90, 64, MemTxAttrs.UNSPECIFIED));
        assertEquals(List.of(codePage, codePage), code.invalidated);
    }

    /** The guide's window-form store, as a JIT's inlined fast path would do it. */
    static boolean windowStore(AddressSpace as, DirectWindow[] tlb, long addr, int v) {
        int idx = (int) (addr >>> 12) & (tlb.length - 1);
        DirectWindow w = tlb[idx];
        long off = addr - w.start();
        MemorySegment plain = w.write();
        if (plain.byteSize() >= 4 && Long.compareUnsigned(off, plain.byteSize() - 3) < 0) {
            plain.set(ValueLayout.JAVA_INT_UNALIGNED, off, v);
            return true;
        }
        MemorySegment logged = w.loggedWrite();
        if (logged.byteSize() >= 4 && Long.compareUnsigned(off, logged.byteSize() - 3) < 0) {
            logged.set(ValueLayout.JAVA_INT_UNALIGNED, off, v);
            w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + off, 4, w.dirtyMask());
            return true;
        }
        TlbEntry e = new TlbEntry();
        GuestTlb.fill(as, addr, e);
        tlb[idx] = e.window();
        as.stl(addr, v);
        return false;
    }

    @Test
    void windowFormStoresInvalidateCodeEvenAfterTheCacheWentAllDirty() {
        DirectWindow[] tlb = new DirectWindow[16];
        Arrays.fill(tlb, DirectWindow.empty());
        assertFalse(windowStore(as, tlb, 0x9000, 1));   // miss: fill
        assertTrue(windowStore(as, tlb, 0x9004, 2));    // hit, logged: RAM logs CODE under TCG
        assertTrue(tlb[9].write().byteSize() == 0, "under TCG no RAM page is plainly writable");
        code.fetch(0x9000);                              // the JIT translates this page now
        assertTrue(windowStore(as, tlb, 0x9008, 3));    // the same cached window: must invalidate
        assertEquals(List.of(code.fetch.ramAddr()), code.invalidated);
        assertEquals(3, code.fetch(0x9000)[2]);
    }

    @Test
    void loaderRewritingRomDropsTranslationsFromIt() {
        byte[] v1 = {0x11, 0, 0, 0};
        byte[] v2 = {0x22, 0, 0, 0};
        as.writeRom(ROM, MemTxAttrs.UNSPECIFIED, v1, 0, 4);
        assertEquals(0x11, code.fetch(ROM)[0]);
        assertEquals(MemTxResult.DECODE_ERROR, as.stlLe(ROM, 0x33), "guest stores to ROM are dropped");
        assertTrue(code.invalidated.isEmpty());
        as.writeRom(ROM, MemTxAttrs.UNSPECIFIED, v2, 0, 4); // e.g. a reset with a new firmware image
        assertEquals(1, code.invalidated.size());
        assertEquals(0x22, code.fetch(ROM)[0]);
    }

    @Test
    void movedRamKeepsItsTranslationsAndTheTlbRefills() {
        as.stlLe(0x2000, 0x11);
        code.fetch(0x2000);
        long page = code.fetch.ramAddr();
        long gen = as.generation();
        ram.setAddress(0x1000_0000L);                     // the chipset remaps RAM
        assertNotEquals(gen, as.generation());
        assertNotEquals(code.fetch.generation(), as.generation(), "the fetch entry is stale");
        code.fetch(0x1000_2000L);
        assertEquals(page, code.fetch.ramAddr(), "same RAM page: same ram_addr");
        assertEquals(1, code.translations, "ram_addr-keyed translations survive the move");
        as.stlLe(0x1000_2000L, 0x22);
        assertEquals(List.of(page), code.invalidated);
    }

    /**
     * A gdbstub inserts a software breakpoint into code the JIT already translated: QEMU's
     * {@code cpu_memory_rw_debug} writes with {@code address_space_write_rom}, which invalidates
     * translations ({@code invalidate_and_set_dirty}), or the breakpoint would never be hit.
     */
    @Test
    void debuggerBreakpointInTranslatedCodeInvalidatesIt() {
        as.stlLe(0x7000, 0x11);
        code.fetch(0x7000);
        long page = code.fetch.ramAddr();
        byte[] int3 = {(byte) 0xcc};
        assertEquals(MemTxResult.OK, as.write(0x7000, MemTxAttrs.DEBUG, int3, 0, 1));
        assertEquals(List.of(page), code.invalidated, "a debugger write to RAM drops the translation");
        assertEquals(0xcc, code.fetch(0x7000)[0]);
        // and into ROM (the debugger may write it): the BIOS code translated from it goes too
        as.writeRom(ROM, MemTxAttrs.UNSPECIFIED, new byte[] {0x11, 0, 0, 0}, 0, 4);
        code.fetch(ROM);
        long romPage = code.fetch.ramAddr();
        assertEquals(MemTxResult.OK, as.write(ROM, MemTxAttrs.DEBUG, int3, 0, 1));
        assertEquals(0xcc, as.ldub(ROM), "debug may write ROM");
        assertEquals(List.of(page, romPage), code.invalidated, "a debugger write to ROM drops the translation");
    }

    /**
     * A device writes guest RAM through the raw segment (a virtio-gpu-like blit) and reports it.
     * {@code RamBlock.markWritten} is the call that drops translations; {@code region.setDirty} is
     * QEMU's {@code memory_region_set_dirty}, which under TCG only sets the bits (CODE included), so
     * the page silently loses its protection with the translation still cached, as in QEMU.
     */
    @Test
    void reportingRawDeviceWritesToTheJit() {
        as.stlLe(0x8000, 0x11);
        code.fetch(0x8000);
        long page = code.fetch.ramAddr();
        ram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x8000, 0x22);
        ram.ramBlock().markWritten(0x8000, 4);
        assertEquals(List.of(page), code.invalidated);
        assertEquals(0x22, code.fetch(0x8000)[0]);

        ram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED, 0x8000, 0x33);
        ram.setDirty(0x8000, 4);
        assertEquals(List.of(page), code.invalidated, "setDirty does not invalidate (QEMU neither)");
        assertEquals(0x22, code.fetch(0x8000)[0], "the stale translation is still served");
        as.stlLe(0x8000, 0x44);
        assertEquals(List.of(page), code.invalidated, "and the page is no longer protected");
    }

    /**
     * Hot-unplugged RAM gives its ram_addr range back, and the next block may get it (QEMU's
     * {@code find_ram_offset} takes the first gap). A ram_addr-keyed translation cache must drop the
     * range when the block leaves the RAM list, or it serves the old block's code for the new one:
     * the new block's pages start dirty for CODE, so nothing else would invalidate them.
     */
    @Test
    void unpluggedRamMustDropItsTranslations() {
        RamRegion dimm0 = RamRegion.allocate(sys, null, "dimm0", MIB);
        system.addSubregion(0x4000_0000L, dimm0);
        as.stlLe(0x4000_0000L, 0x11);
        code.fetch(0x4000_0000L);
        long ramAddr = code.fetch.ramAddr();
        List<Long> removed = new ArrayList<>();
        sys.ramList().addNotifier(new dev.guestmem.ram.RamBlockNotifier() {
            @Override
            public void ramBlockRemoved(dev.guestmem.ram.RamBlock block) {
                removed.add(block.offset());
                code.blocks.keySet().removeIf(p -> p >= block.offset() && p - block.offset() < block.maxLength());
            }
        });
        system.delSubregion(dimm0);
        dimm0.destroy();
        assertTrue(dimm0.ramBlock().isReleased());
        assertEquals(List.of(ramAddr), removed);

        RamRegion dimm1 = RamRegion.allocate(sys, null, "dimm1", MIB);
        system.addSubregion(0x4000_0000L, dimm1);
        assertEquals(ramAddr, dimm1.ramBlock().offset(), "the range is reused");
        as.stlLe(0x4000_0000L, 0x22);
        assertEquals(0x22, code.fetch(0x4000_0000L)[0], "translated afresh, not dimm0's code");
    }
}
