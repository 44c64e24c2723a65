package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.ram.RamBlock;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The bytes the fuzzer expects in each RAM block, over its maximum length (a resizeable block's
 * bytes beyond its used length keep what they held). Only the fuzzer's modelled writes change it;
 * after every call each live block must hold exactly these bytes up to its used length.
 */
final class RamModel {
    private final Map<RamBlock, byte[]> bytes = new IdentityHashMap<>();

    /**
     * Starts modelling a block with its present contents.
     *
     * @param block the block
     */
    void track(RamBlock block) {
        byte[] b = new byte[(int) block.maxLength()];
        MemorySegment.copy(block.segment(), ValueLayout.JAVA_BYTE, 0, b, 0, (int) block.usedLength());
        bytes.put(block, b);
    }

    /** @return a copy of every block's expected bytes, for {@link #restore} */
    Map<RamBlock, byte[]> save() {
        Map<RamBlock, byte[]> copy = new IdentityHashMap<>();
        bytes.forEach((b, v) -> copy.put(b, v.clone()));
        return copy;
    }

    /**
     * Goes back to what {@link #save} copied (blocks tracked since keep their bytes).
     *
     * @param saved the copy
     */
    void restore(Map<RamBlock, byte[]> saved) {
        saved.forEach((b, v) -> bytes.put(b, v.clone()));
    }

    /** @return the blocks tracked */
    java.util.Set<RamBlock> blocks() {
        return bytes.keySet();
    }

    /**
     * @param block a tracked block
     * @param offset an offset below its maximum length
     * @return the expected byte
     */
    int get(RamBlock block, long offset) {
        return bytes.get(block)[(int) offset] & 0xFF;
    }

    /**
     * Records a write the fuzzer expects to have landed.
     *
     * @param block a tracked block
     * @param offset an offset below its used length
     * @param value the byte
     */
    void set(RamBlock block, long offset, byte value) {
        bytes.get(block)[(int) offset] = value;
    }

    /**
     * Records that a range now reads zeros (a discard).
     *
     * @param block a tracked block
     * @param offset first byte
     * @param length bytes
     */
    void zero(RamBlock block, long offset, long length) {
        java.util.Arrays.fill(bytes.get(block), (int) offset, (int) (offset + length), (byte) 0);
    }

    /**
     * Checks every block still mapped against the model.
     *
     * @param where what just ran, for the message
     */
    void check(String where) {
        for (Map.Entry<RamBlock, byte[]> e : bytes.entrySet()) {
            RamBlock block = e.getKey();
            MemorySegment seg;
            try {
                seg = block.segment();
                if (!seg.scope().isAlive()) {
                    continue; // unmapped with its region: nothing left to compare
                }
            } catch (IllegalStateException closed) {
                continue;
            }
            byte[] want = e.getValue();
            int used = (int) block.usedLength();
            long first = MemorySegment.ofArray(want).asSlice(0, used).mismatch(seg.asSlice(0, used));
            for (int i = (int) Math.max(first, 0); first >= 0 && i < used; i++) {
                byte got = seg.get(ValueLayout.JAVA_BYTE, i);
                if (got != want[i]) {
                    fail("after " + where + ": RAM block '" + block.idstr() + "' byte 0x" + Integer.toHexString(i)
                            + " is 0x" + Integer.toHexString(got & 0xFF) + ", the model says 0x"
                            + Integer.toHexString(want[i] & 0xFF));
                }
            }
        }
    }
}
