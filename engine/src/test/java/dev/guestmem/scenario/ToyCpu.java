package dev.guestmem.scenario;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.dispatch.DirectWindow;
import dev.guestmem.dispatch.PhysSection;
import dev.guestmem.dispatch.Translation;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;

/**
 * A toy 32-bit CPU with a "translator" (decoded pages cached per guest page, CODE-protected) and a
 * window-form soft TLB, as guide section 4 recommends. Instruction word (LE): op | rd<<8 | rs<<12 | imm16<<16.
 */
final class ToyCpu {
    static final int HALT = 0, LI = 1, LIH = 2, LDB = 3, STB = 4, LDW = 5, STW = 6, ADDI = 7, BNZ = 8,
            BZ = 9, JR = 10, ANDI = 11, BR = 12, ADD = 13;

    static int enc(int op, int rd, int rs, int imm) {
        return op | (rd & 15) << 8 | (rs & 15) << 12 | (imm & 0xffff) << 16;
    }
    static int li(int rd, int imm) { return enc(LI, rd, 0, imm); }
    static int lih(int rd, int imm) { return enc(LIH, rd, 0, imm); }
    static int ldb(int rd, int rs, int disp) { return enc(LDB, rd, rs, disp); }
    static int stb(int rd, int rs, int disp) { return enc(STB, rd, rs, disp); }
    static int ldw(int rd, int rs, int disp) { return enc(LDW, rd, rs, disp); }
    static int stw(int rd, int rs, int disp) { return enc(STW, rd, rs, disp); }
    static int addi(int rd, int imm) { return enc(ADDI, rd, 0, imm); }
    static int add(int rd, int rs) { return enc(ADD, rd, rs, 0); }
    static int andi(int rd, int imm) { return enc(ANDI, rd, 0, imm); }
    static int bnz(int rd, int off) { return enc(BNZ, rd, 0, off); }
    static int bz(int rd, int off) { return enc(BZ, rd, 0, off); }
    static int br(int off) { return enc(BR, 0, 0, off); }
    static int jr(int rs) { return enc(JR, 0, rs, 0); }
    static int halt() { return enc(HALT, 0, 0, 0); }

    static byte[] bytes(int[] words) {
        byte[] b = new byte[words.length * 4];
        for (int i = 0; i < words.length; i++) {
            for (int k = 0; k < 4; k++) {
                b[i * 4 + k] = (byte) (words[i] >>> (8 * k));
            }
        }
        return b;
    }

    final AddressSpace as;
    final DirtyMemory dirty;
    final int[] r = new int[16];
    long pc;
    boolean halted;

    // --- soft TLB (window form) ---
    private final DirectWindow[] tlb = new DirectWindow[256];
    private final TlbEntry scratch = new TlbEntry();
    private long tlbGeneration = -1;
    volatile boolean exitRequest;
    long tlbFlushes, tlbFills, slowLoads, slowStores, loggedFastStores;

    // --- translator ---
    private final Map<Long, int[]> translations = new HashMap<>();      // guest page -> decoded words
    private final Map<Long, Long> codeRamPages = new HashMap<>();       // ram_addr page -> guest page
    private int[] cur;
    private long curPage = -1;
    long translationsMade, smcInvalidations;
    private final Translation tr = new Translation();

    ToyCpu(MemorySystem sys, AddressSpace as) {
        this.as = as;
        this.dirty = sys.dirtyMemory();
        java.util.Arrays.fill(tlb, DirectWindow.empty());
        // a running loop must notice topology changes: raise the exit request (guide section 4)
        sys.registerListener(new MemoryListener() {
            @Override
            public void commit() {
                exitRequest = true;
            }
        }, as);
        as.addInvalidationListener(() -> exitRequest = true);
        if (sys.isTcgEnabled()) {
            dirty.setCodeInvalidator((ramAddr, length) -> {
                for (long p = ramAddr & ~0xfffL; p < ramAddr + Math.max(length, 1); p += 4096) {
                    Long guestPage = codeRamPages.remove(p);
                    if (guestPage != null) {
                        translations.remove(guestPage);
                        smcInvalidations++;
                        if (guestPage == curPage) {
                            cur = null;
                        }
                    }
                    // no translations left on the page: later writes take the fast path again
                    dirty.setDirtyRange(p, 4096, DirtyMemory.MASK_CODE);
                }
            });
        }
    }

    /** At block entry: flush on a topology change (guide: "The window form"). */
    void enterBlock() {
        long g = as.generation();
        if (g != tlbGeneration || exitRequest) {
            exitRequest = false;
            java.util.Arrays.fill(tlb, DirectWindow.empty());
            tlbGeneration = g;
            tlbFlushes++;
            // translations are keyed by guest address: a new map may show other code there
            translations.clear();
            codeRamPages.clear();
            cur = null;
        }
    }

    private DirectWindow window(long addr) {
        return tlb[(int) (addr >>> 12) & (tlb.length - 1)];
    }

    private void refill(long addr) {
        GuestTlb.fill(as, addr, scratch);
        if (scratch.generation() == tlbGeneration) {
            tlb[(int) (addr >>> 12) & (tlb.length - 1)] = scratch.window();
            tlbFills++;
        }
    }

    int ldub(long addr) {
        DirectWindow w = window(addr);
        long off = addr - w.start();
        MemorySegment ram = w.read();
        if (ram.byteSize() > 0 && Long.compareUnsigned(off, ram.byteSize()) < 0) {
            try {
                return ram.get(ValueLayout.JAVA_BYTE, off) & 0xff;
            } catch (IllegalStateException | InternalError gone) {
                // slow path decides
            }
        } else {
            refill(addr);
        }
        slowLoads++;
        return as.ldub(addr);
    }

    int ldl(long addr) {
        DirectWindow w = window(addr);
        long off = addr - w.start();
        MemorySegment ram = w.read();
        long limit = ram.byteSize() - 3;
        if (limit >= 0 && Long.compareUnsigned(off, limit) < 0) {
            try {
                return ram.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), off);
            } catch (IllegalStateException | InternalError gone) {
                // slow path
            }
        } else {
            refill(addr);
        }
        slowLoads++;
        return as.ldlLe(addr);
    }

    void stb(long addr, int v) {
        store(addr, v, 1);
    }

    void stl(long addr, int v) {
        store(addr, v, 4);
    }

    private void store(long addr, int v, int n) {
        DirectWindow w = window(addr);
        long off = addr - w.start();
        MemorySegment ram = w.write();
        long limit = ram.byteSize() - (n - 1);
        if (limit > 0 && Long.compareUnsigned(off, limit) < 0) {
            try {
                put(ram, off, v, n);
                return;
            } catch (IllegalStateException | InternalError gone) {
                // slow path
            }
        } else {
            MemorySegment logged = w.loggedWrite();
            long llimit = logged.byteSize() - (n - 1);
            if (llimit > 0 && Long.compareUnsigned(off, llimit) < 0) {
                // QEMU's notdirty write: store, then mark (DirectWindow#loggedWrite javadoc)
                try {
                    put(logged, off, v, n);
                    w.dirtyMemory().invalidateAndSetDirty(w.ramAddr() + off, n, w.dirtyMask());
                    loggedFastStores++;
                    return;
                } catch (IllegalStateException | InternalError gone) {
                    // slow path
                }
            } else {
                refill(addr);
            }
        }
        slowStores++;
        if (n == 1) {
            as.stb(addr, v);
        } else {
            as.stlLe(addr, v);
        }
    }

    private static void put(MemorySegment s, long off, int v, int n) {
        if (n == 1) {
            s.set(ValueLayout.JAVA_BYTE, off, (byte) v);
        } else {
            s.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), off, v);
        }
    }

    private int fetch(long addr) {
        long page = addr & ~0xfffL;
        if (cur == null || curPage != page) {
            cur = translations.get(page);
            curPage = page;
            if (cur == null) {
                cur = translate(page);
            }
        }
        return cur[(int) (addr & 0xfff) >>> 2];
    }

    private int[] translate(long page) {
        int[] code = new int[1024];
        for (int i = 0; i < 1024; i++) {
            code[i] = ldl(page + 4L * i);
        }
        translations.put(page, code);
        translationsMade++;
        // tlb_protect_code: clear CODE for the page's ram_addr
        PhysSection s = as.translate(page, 4096, false, MemTxAttrs.UNSPECIFIED, tr);
        if (s.ramBlock() != null && dirty.sizeBytes() > 0) {
            long ramAddr = s.ramBlock().offset() + tr.xlat();
            dirty.resetDirty(ramAddr, 4096, DirtyMemory.DIRTY_MEMORY_CODE);
            codeRamPages.put(ramAddr, page);
        }
        return code;
    }

    /** Runs until HALT or {@code maxSteps}; returns the steps run. */
    long run(long maxSteps) {
        long steps = 0;
        while (!halted && steps < maxSteps) {
            enterBlock();
            int insn = fetch(pc);
            int op = insn & 0xff, rd = (insn >>> 8) & 15, rs = (insn >>> 12) & 15;
            int imm = insn >>> 16;
            int simm = (short) imm;
            long next = pc + 4;
            switch (op) {
                case HALT -> halted = true;
                case LI -> r[rd] = imm;
                case LIH -> r[rd] = (imm << 16) | (r[rd] & 0xffff);
                case LDB -> r[rd] = ldub(Integer.toUnsignedLong(r[rs] + simm));
                case STB -> stb(Integer.toUnsignedLong(r[rs] + simm), r[rd]);
                case LDW -> r[rd] = ldl(Integer.toUnsignedLong(r[rs] + simm));
                case STW -> stl(Integer.toUnsignedLong(r[rs] + simm), r[rd]);
                case ADDI -> r[rd] += simm;
                case ADD -> r[rd] += r[rs];
                case ANDI -> r[rd] &= imm;
                case BNZ -> next = r[rd] != 0 ? pc + 4L * simm : next;
                case BZ -> next = r[rd] == 0 ? pc + 4L * simm : next;
                case BR -> next = pc + 4L * simm;
                case JR -> next = Integer.toUnsignedLong(r[rs]);
                default -> throw new IllegalStateException("bad insn " + Integer.toHexString(insn) + " at " + Long.toHexString(pc));
            }
            if (!halted) {
                pc = next;
            }
            steps++;
        }
        return steps;
    }
}
