package dev.guestmem.scenario12;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.scenario12.BoardModel.Window;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Random loads and stores of 1, 2, 4 and 8 bytes, big-endian, little-endian and in the target's
 * (unsuffixed) order, by the big-endian CPU's soft TLB and straight through the address space, to RAM,
 * each register device, the PCI NIC and frame buffer through the swapping bridge and through the plain
 * alias (which the board now and then disables: the TLB must follow), checked access by access against
 * {@link BoardModel}; every device's registers and the RAM are compared with the model at the end.
 * {@code -Dguestmem.scenario12.ops=N} runs longer (default 20000).
 */
class BeBoardOracleTest {
    static final int OPS = Integer.getInteger("guestmem.scenario12.ops", 20_000);
    private static final int RAM_SPAN = 0x4000;
    private static final int REG_SPAN = 0xf0;
    private static final int VRAM_SPAN = 0x2000;

    @Test
    void everyAccessMatchesTheModel() {
        try (BeBoard b = new BeBoard()) {
            int seed = 1;
            for (RegisterBytes r : List.of(b.beRegs, b.leRegs, b.nativeRegs, b.leBytes, b.nic)) {
                r.fill(seed++);
            }
            MemorySegment ram = b.ram.ramBlock().segment();
            MemorySegment vram = b.vram.ramBlock().segment();
            List<Window> windows = List.of(
                    new Window("ram", 0x20000, new byte[RAM_SPAN + 8], RAM_SPAN, 1, false, false, false,
                            () -> ram.asSlice(0x20000, RAM_SPAN + 8).toArray(ValueLayout.JAVA_BYTE)),
                    regs("be-regs", BeBoard.BE_REGS, b.beRegs, 2),
                    regs("le-regs", BeBoard.LE_REGS, b.leRegs, 4),
                    regs("native-regs", BeBoard.NATIVE_REGS, b.nativeRegs, 4),
                    regs("le-bytes", BeBoard.LE_BYTES, b.leBytes, 1),
                    new Window("nic-swapped", BeBoard.PCI_SWAPPED + BeBoard.NIC, null, REG_SPAN, 4, true, true, false, null),
                    new Window("nic-direct", BeBoard.PCI_DIRECT + BeBoard.NIC, null, REG_SPAN, 4, true, false, true, null),
                    new Window("vram-swapped", BeBoard.PCI_SWAPPED + BeBoard.VRAM, null, VRAM_SPAN, 1, true, true, false, null),
                    new Window("vram-direct", BeBoard.PCI_DIRECT + BeBoard.VRAM, null, VRAM_SPAN, 1, false, false, true, null));
            byte[] nicModel = b.nic.snapshot();
            byte[] vramModel = new byte[VRAM_SPAN + 8];
            windows = windows.stream().map(w -> switch (w.name()) {
                case "nic-swapped", "nic-direct" -> new Window(w.name(), w.base(), nicModel, w.span(), w.implMin(),
                        w.alignedOnly(), w.swapped(), w.behindDirectAlias(), b.nic::snapshot);
                case "vram-swapped", "vram-direct" -> new Window(w.name(), w.base(), vramModel, w.span(), w.implMin(),
                        w.alignedOnly(), w.swapped(), w.behindDirectAlias(),
                        () -> vram.asSlice(0, VRAM_SPAN + 8).toArray(ValueLayout.JAVA_BYTE));
                default -> w;
            }).toList();

            AddressSpace as = b.memory;
            BeCpu cpu = new BeCpu(as);
            MemTxResultHolder res = new MemTxResultHolder();
            Random rnd = new Random(0x5eed12);
            boolean directEnabled = true;
            for (int op = 0; op < OPS; op++) {
                if (op % 997 == 996) {
                    directEnabled = !directEnabled;
                    b.pciDirect.setEnabled(directEnabled);
                }
                Window w = windows.get(rnd.nextInt(windows.size()));
                int size = 1 << rnd.nextInt(4);
                long off = rnd.nextInt(w.span() - 8);
                if (rnd.nextInt(8) != 0) {
                    off &= -size; // mostly aligned
                }
                int order = rnd.nextInt(3); // 0 big, 1 little, 2 the target's (big)
                boolean big = order != 1;
                boolean viaCpu = rnd.nextBoolean();
                boolean write = rnd.nextBoolean();
                long addr = w.base() + off;
                boolean refused = BoardModel.refused(w, off, size, directEnabled);
                String what = "op " + op + " " + (write ? "store " : "load ") + size + (order == 0 ? " BE" : order == 1 ? " LE" : " TE")
                        + (viaCpu ? " cpu " : " as ") + w.name() + "+0x" + Long.toHexString(off);
                if (write) {
                    long v = rnd.nextLong();
                    int r;
                    if (viaCpu) {
                        cpu.store(addr, size, v, !big);
                        r = cpu.lastResult;
                    } else {
                        r = store(as, addr, size, v, order);
                    }
                    if (refused) {
                        assertEquals(MemTxResult.DECODE_ERROR, r, what);
                    } else {
                        assertEquals(MemTxResult.OK, r, what);
                        BoardModel.store(w, off, size, v, big);
                    }
                } else {
                    long v;
                    int r;
                    if (viaCpu) {
                        v = cpu.load(addr, size, !big);
                        r = cpu.lastResult;
                    } else {
                        v = load(as, addr, size, order, res);
                        r = res.get();
                    }
                    long mask = size == 8 ? -1L : (1L << (8 * size)) - 1;
                    long expected = refused ? 0 : BoardModel.load(w, off, size, big);
                    assertEquals(refused ? MemTxResult.DECODE_ERROR : MemTxResult.OK, r, what);
                    assertEquals(Long.toHexString(expected), Long.toHexString(v & mask), what);
                }
            }
            for (Window w : windows) {
                assertArrayEquals(w.model(), w.actual().get(), w.name() + " at the end");
            }
            System.out.printf("scenario12: %d accesses; soft TLB %d direct loads, %d direct stores, %d slow, %d fills%n",
                    OPS, cpu.directLoads, cpu.directStores, cpu.slowAccesses, cpu.fills);
            assertTrue(cpu.directLoads > 0 && cpu.directStores > 0 && cpu.slowAccesses > 0,
                    "the TLB hit RAM and missed to MMIO: " + cpu.directLoads + "/" + cpu.directStores + "/" + cpu.slowAccesses);
        }
    }

    private static Window regs(String name, long base, RegisterBytes dev, int implMin) {
        return new Window(name, base, dev.snapshot(), REG_SPAN, implMin, true, false, false, dev::snapshot);
    }

    private static long load(AddressSpace as, long addr, int size, int order, MemTxResultHolder res) {
        MemTxAttrs u = MemTxAttrs.UNSPECIFIED;
        return switch (size) {
            case 1 -> as.ldub(addr, u, res);
            case 2 -> order == 0 ? as.lduwBe(addr, u, res) : order == 1 ? as.lduwLe(addr, u, res) : as.lduw(addr, u, res);
            case 4 -> Integer.toUnsignedLong(
                    order == 0 ? as.ldlBe(addr, u, res) : order == 1 ? as.ldlLe(addr, u, res) : as.ldl(addr, u, res));
            default -> order == 0 ? as.ldqBe(addr, u, res) : order == 1 ? as.ldqLe(addr, u, res) : as.ldq(addr, u, res);
        };
    }

    private static int store(AddressSpace as, long addr, int size, long v, int order) {
        return switch (size) {
            case 1 -> as.stb(addr, (int) v);
            case 2 -> order == 0 ? as.stwBe(addr, (int) v) : order == 1 ? as.stwLe(addr, (int) v) : as.stw(addr, (int) v);
            case 4 -> order == 0 ? as.stlBe(addr, (int) v) : order == 1 ? as.stlLe(addr, (int) v) : as.stl(addr, (int) v);
            default -> order == 0 ? as.stqBe(addr, v) : order == 1 ? as.stqLe(addr, v) : as.stq(addr, v);
        };
    }
}
