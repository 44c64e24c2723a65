package dev.guestmem.scenario13;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResultHolder;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The access paths the random properties drive a 4-byte little-endian access through: 0 the world's
 * CPU (its soft TLB), 1 the space's {@code ldlLe}/{@code stlLe}, 2 a buffer {@code read}/{@code write}.
 */
final class WorldAccessPaths {
    /** How many paths {@link #access} knows. */
    static final int COUNT = 3;

    private final MemTxResultHolder res = new MemTxResultHolder();
    /** The value the last load returned (0 after a store). */
    int got;

    /**
     * One access.
     *
     * @param path 0 to {@link #COUNT} - 1
     * @param cpu the CPU, switched to {@code world} for path 0
     * @param world the CPU's world ({@link WorldCpu#SECURE} or {@link WorldCpu#NORMAL})
     * @param space the world's address space (paths 1 and 2)
     * @param attrs the world's attributes (paths 1 and 2)
     * @param addr guest address
     * @param store whether it is a store of {@code v}
     * @param v the value to store
     * @return the {@link dev.guestmem.access.MemTxResult}
     */
    int access(int path, WorldCpu cpu, int world, AddressSpace space, MemTxAttrs attrs, long addr, boolean store,
               int v) {
        got = 0;
        switch (path) {
            case 0 -> {
                cpu.setWorld(world);
                if (store) {
                    return cpu.stl(addr, v);
                }
                got = cpu.ldl(addr);
                return cpu.lastResult;
            }
            case 1 -> {
                if (store) {
                    return space.stlLe(addr, v, attrs);
                }
                got = space.ldlLe(addr, attrs, res);
                return res.get();
            }
            default -> {
                byte[] buf = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
                if (store) {
                    return space.write(addr, attrs, buf, 0, 4);
                }
                int r = space.read(addr, attrs, buf, 0, 4);
                got = ByteBuffer.wrap(buf).order(ByteOrder.LITTLE_ENDIAN).getInt();
                return r;
            }
        }
    }
}
