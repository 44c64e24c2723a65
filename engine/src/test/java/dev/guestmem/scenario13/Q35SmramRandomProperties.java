package dev.guestmem.scenario13;

import static dev.guestmem.scenario13.Q35Machine.BELOW_4G;
import static dev.guestmem.scenario13.Q35Machine.NORMAL;
import static dev.guestmem.scenario13.Q35Machine.SMM;
import static dev.guestmem.scenario13.Q35Mch.D_CLS;
import static dev.guestmem.scenario13.Q35Mch.D_LCK;
import static dev.guestmem.scenario13.Q35Mch.D_OPEN;
import static dev.guestmem.scenario13.Q35Mch.ESMRAMC;
import static dev.guestmem.scenario13.Q35Mch.G_SMRAME;
import static dev.guestmem.scenario13.Q35Mch.H_SMRAME;
import static dev.guestmem.scenario13.Q35Mch.SMRAM;
import static dev.guestmem.scenario13.Q35Mch.T_EN;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * Random SMRAM and ESMRAMC writes through the PCI configuration ports (any value: the write masks
 * and D_LCK decide what sticks) between random 4-byte accesses, in and out of SMM, to the low
 * SMRAM, the high SMRAM window, every place TSEG can start and plain RAM, by the soft TLB, the
 * ld/st and buffer accessors, checked against a model written from the q35 datasheet rules that
 * {@code mch_update_smram} implements: what each mode sees (RAM, the VGA window, the blackhole or
 * nothing) and the RAM's words. {@code -Dguestmem.scenario13.steps=N} runs longer (default 400).
 */
class Q35SmramRandomProperties {
    private static final int STEPS = Integer.getInteger("guestmem.scenario13.steps", 400);
    private static final long MIB = 1 << 20;
    /** Probe addresses (each -8..+4): low SMRAM (not into the ROM at 0xc0000), high window, each TSEG start, RAM. */
    private static final long[] PROBES = {
        0x9fffc, 0xa0000, 0xa8000, 0xbfff4, 0xc0000 - 0x1000,
        0xfeda0000L, 0xfedb0000L, 0xfedbfffcL,
        BELOW_4G - MIB - 4, BELOW_4G - MIB, BELOW_4G - 2 * MIB - 4, BELOW_4G - 2 * MIB,
        BELOW_4G - 8 * MIB - 4, BELOW_4G - 8 * MIB, BELOW_4G - 16 * MIB - 4, BELOW_4G - 16 * MIB, BELOW_4G - 4,
        0x200000,
    };

    enum Sees { RAM, VGA, BLACKHOLE, NOTHING }

    /** The model's registers. */
    private static final class Model {
        int smram = Q35Mch.C_BASE_SEG;
        int esmramc = Q35Mch.SM_CACHE | Q35Mch.SM_L1 | Q35Mch.SM_L2;
        boolean locked;
        final Map<Long, Integer> ram = new HashMap<>();

        void write(int reg, int value) {
            if (reg == SMRAM) {
                int mask = locked ? D_CLS : D_OPEN | D_CLS | D_LCK | G_SMRAME;
                smram = smram & ~mask | value & mask;
            } else {
                int mask = locked ? 0 : H_SMRAME | Q35Mch.TSEG_SZ_MASK | T_EN;
                esmramc = esmramc & ~mask | value & mask;
            }
            if ((smram & D_LCK) != 0) {
                locked = true;
                smram &= ~D_OPEN;
            }
        }

        long tseg() {
            if ((esmramc & T_EN) == 0 || (smram & G_SMRAME) == 0) {
                return 0;
            }
            return switch (esmramc & Q35Mch.TSEG_SZ_MASK) {
                case 0 -> MIB;
                case 2 -> 2 * MIB;
                case 4 -> 8 * MIB;
                default -> 16 * MIB;
            };
        }

        /** What an access at {@code a} reaches; for RAM, {@code ramAddr[0]} gets the RAM offset. */
        Sees sees(long a, boolean smm, long[] ramAddr) {
            boolean open = (smram & D_OPEN) != 0;
            boolean high = (esmramc & H_SMRAME) != 0;
            boolean g = (smram & G_SMRAME) != 0;
            boolean inLow = a >= 0xa0000 && a < 0xc0000;
            boolean inHigh = a >= 0xfeda0000L && a < 0xfedc0000L;
            boolean inTseg = a >= BELOW_4G - tseg() && a < BELOW_4G;
            if (smm) { // the smram container first
                if (inLow && g && !high || inTseg) {
                    ramAddr[0] = a;
                    return Sees.RAM;
                }
                if (inHigh && g && high) {
                    ramAddr[0] = a - 0xfeda0000L + 0xa0000;
                    return Sees.RAM;
                }
            }
            if (inLow) {
                boolean vgaWindow = !open || high;
                ramAddr[0] = a;
                return vgaWindow ? Sees.VGA : Sees.RAM;
            }
            if (inHigh) {
                ramAddr[0] = a - 0xfeda0000L + 0xa0000;
                return open && high ? Sees.RAM : Sees.NOTHING;
            }
            if (inTseg) {
                return Sees.BLACKHOLE;
            }
            ramAddr[0] = a;
            return a < BELOW_4G ? Sees.RAM : Sees.NOTHING;
        }
    }

    @Property(tries = 20)
    void everyAccessMatchesTheModel(@ForAll long seed) {
        Random rnd = new Random(seed);
        try (Q35Machine m = new Q35Machine(true)) {
            Model model = new Model();
            WorldCpu cpu = new WorldCpu(m.cpuMemory, NORMAL, m.cpuSmm, SMM);
            WorldAccessPaths paths = new WorldAccessPaths();
            long[] ramAddr = new long[1];
            for (int step = 0; step < STEPS; step++) {
                if (rnd.nextInt(8) == 0) {
                    int reg = rnd.nextBoolean() ? SMRAM : ESMRAMC;
                    int value = rnd.nextInt(256);
                    if (reg == SMRAM && rnd.nextInt(4) != 0) {
                        value &= ~D_LCK; // lock only now and then: most of a run stays unlocked
                    }
                    assertEquals(MemTxResult.OK, m.outConfigByte(reg, value));
                    model.write(reg, value);
                    assertEquals(model.smram, m.inConfigByte(SMRAM), "step " + step);
                    assertEquals(model.esmramc, m.inConfigByte(ESMRAMC), "step " + step);
                    continue;
                }
                boolean smm = rnd.nextBoolean();
                long addr = PROBES[rnd.nextInt(PROBES.length)] + 4L * rnd.nextInt(4) - 8;
                Sees sees = model.sees(addr, smm, ramAddr);
                MemTxAttrs attrs = smm ? SMM : NORMAL;
                AddressSpace space = smm ? m.cpuSmm : m.cpuMemory;
                boolean store = rnd.nextBoolean();
                int v = rnd.nextInt();
                int path = rnd.nextInt(WorldAccessPaths.COUNT);
                String what = "step " + step + (smm ? " SMM " : " normal ") + (store ? "store" : "load") + " path "
                        + path + " @0x" + Long.toHexString(addr) + " sees " + sees + " smram 0x"
                        + Integer.toHexString(model.smram) + " esmramc 0x" + Integer.toHexString(model.esmramc);
                int vgaWrites = m.vgaWrites[0];
                int result = paths.access(path, cpu, smm ? WorldCpu.SECURE : WorldCpu.NORMAL, space, attrs, addr, store, v);
                int got = paths.got;
                assertEquals(sees == Sees.NOTHING ? MemTxResult.DECODE_ERROR : MemTxResult.OK, result, what);
                if (store && sees == Sees.RAM) {
                    model.ram.put(ramAddr[0], v);
                }
                if (!store) {
                    int want = switch (sees) {
                        case RAM -> model.ram.getOrDefault(ramAddr[0], 0);
                        case VGA -> (int) Q35Machine.VGA_VALUE;
                        case BLACKHOLE -> -1;
                        case NOTHING -> 0;
                    };
                    assertEquals(want, got, what);
                }
                assertEquals(vgaWrites + (store && sees == Sees.VGA ? 1 : 0), m.vgaWrites[0], what);
            }
            for (Map.Entry<Long, Integer> e : model.ram.entrySet()) {
                assertEquals(e.getValue(), m.pcRam.ramBlock().segment().get(ValueLayout.JAVA_INT_UNALIGNED, e.getKey()),
                        "RAM at 0x" + Long.toHexString(e.getKey()));
            }
        }
    }
}
