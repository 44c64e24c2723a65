package dev.guestmem.scenario13;

import static dev.guestmem.scenario13.TzBoard.MPC_REGS;
import static dev.guestmem.scenario13.TzBoard.NON_SECURE;
import static dev.guestmem.scenario13.TzBoard.SECURE;
import static dev.guestmem.scenario13.TzBoard.SSRAM;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.access.MemoryRegionCache;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;

/**
 * Random MPC reconfigurations (LUT bits flipped through BLK_IDX/BLK_LUT, word and byte writes;
 * SEC_RESP toggled) between random 4-byte accesses by both worlds through every path (soft TLB
 * kept across changes, ld/st, buffer accessors, DMA mappings, a region cache), each checked against
 * a model of the SRAM words and of who may see which block. {@code -Dguestmem.scenario13.steps=N}
 * runs longer (default 400 per try).
 */
class TzRandomProperties {
    private static final int STEPS = Integer.getInteger("guestmem.scenario13.steps", 400);
    private static final int WORDS_PER_BLOCK = 4; // few words per block, so writes and reads meet
    private static final MemTxAttrs DMA_S = new MemTxAttrs(false, true, false, false, false, 3);
    private static final MemTxAttrs DMA_NS = new MemTxAttrs(false, false, false, false, false, 3);

    @Property(tries = 25)
    void everyAccessMatchesTheModel(@ForAll long seed) {
        Random rnd = new Random(seed);
        try (TzBoard b = new TzBoard()) {
            int blocks = b.mpc.blockCount();
            int[] lut = new int[(blocks + 31) / 32];
            boolean secResp = false;
            int[] sram = new int[blocks * WORDS_PER_BLOCK];
            WorldCpu cpu = new WorldCpu(b.nsSpace, NON_SECURE, b.sSpace, SECURE);
            TzDma dma = new TzDma(b.dmaSpace);
            MemoryRegionCache cache = new MemoryRegionCache();
            cache.init(b.dmaSpace, SSRAM, TzBoard.SSRAM_SIZE, true);
            MemTxResultHolder res = new MemTxResultHolder();
            WorldAccessPaths paths = new WorldAccessPaths();
            for (int step = 0; step < STEPS; step++) {
                int op = rnd.nextInt(20);
                if (op == 0) {
                    int block = rnd.nextInt(blocks);
                    int word = block / 32;
                    lut[word] ^= 1 << (block % 32);
                    b.secureWrite(MPC_REGS + TzMpc.BLK_IDX, word);
                    if (rnd.nextBoolean()) {
                        b.secureWrite(MPC_REGS + TzMpc.BLK_LUT, lut[word]);
                    } else {  // only the byte holding the bit: merged into the word
                        int k = (block % 32) / 8;
                        b.sSpace.stb(MPC_REGS + TzMpc.BLK_LUT + k, lut[word] >>> (8 * k), SECURE);
                    }
                    continue;
                }
                if (op == 1) {
                    secResp = !secResp;
                    b.secureWrite(MPC_REGS + TzMpc.CTRL, TzMpc.CTRL_AUTOINC | (secResp ? TzMpc.CTRL_SEC_RESP : 0));
                    continue;
                }
                boolean secure = rnd.nextBoolean();
                int block = rnd.nextInt(blocks);
                int w = rnd.nextInt(WORDS_PER_BLOCK);
                int index = block * WORDS_PER_BLOCK + w;
                long off = block * TzBoard.BLOCK + w * 4L;
                long addr = SSRAM + off;
                boolean blockNs = (lut[block / 32] >>> (block % 32) & 1) != 0;
                boolean pass = blockNs != secure;
                int blockedResult = secResp ? MemTxResult.ERROR : MemTxResult.OK;
                int expectResult = pass ? MemTxResult.OK : blockedResult;
                MemTxAttrs attrs = secure ? SECURE : NON_SECURE;
                MemTxAttrs dmaAttrs = secure ? DMA_S : DMA_NS;
                AddressSpace space = b.cpuSpace(attrs);
                boolean store = rnd.nextBoolean();
                int v = rnd.nextInt();
                int path = rnd.nextInt(5);
                String what = "step " + step + (secure ? " S " : " NS ") + (store ? "store" : "load") + " path " + path
                        + " block " + block + (pass ? " pass" : " blocked") + " secResp " + secResp;
                int result;
                int got = 0;
                if (path < WorldAccessPaths.COUNT) {
                    result = paths.access(path, cpu, secure ? WorldCpu.SECURE : WorldCpu.NORMAL, space, attrs, addr,
                            store, v);
                    got = paths.got;
                } else if (path == 3) {
                    if (store) {
                        result = cache.stlLe(off, v, dmaAttrs);
                    } else {
                        got = cache.ldlLe(off, dmaAttrs, res);
                        result = res.get();
                    }
                } else {
                    byte[] buf = new byte[4];
                    if (store) {
                        byte fill = (byte) v;
                        v = (fill & 0xff) * 0x01010101;
                        result = dma.fillByMap(addr, 4, fill, dmaAttrs);
                    } else {
                        result = dma.readByMap(addr, buf, dmaAttrs);
                        got = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN).getInt();
                    }
                }
                assertEquals(expectResult, result, what);
                if (store && pass) {
                    sram[index] = v;
                }
                if (!store) {
                    assertEquals(pass ? sram[index] : 0, got, what);
                }
                assertEquals(sram[index], b.ssram.ramBlock().segment().get(ValueLayout.JAVA_INT_UNALIGNED, off), what);
            }
            cache.destroy();
            assertEquals(0, b.dmaSpace.liveMappings());
        }
    }
}
