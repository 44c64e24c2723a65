package dev.guestmem.scenario7;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RomDeviceRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A CFI-like parallel flash (Intel command set, 8 bits wide, as QEMU's pflash_cfi01 in spirit): reads
 * come straight from the backing RAM in ROMD mode (read array); any write is a command that leaves
 * ROMD mode, so reads then go to {@link #read} (status or ID); "program" and "erase" change the backing
 * RAM behind the address space, then report it with {@code flushRomDevice} so that migration and
 * translated code see it; "read array" (0xff) returns to ROMD mode.
 */
final class CfiFlash {
    static final int CMD_READ_ARRAY = 0xff;
    static final int CMD_PROGRAM = 0x40;
    static final int CMD_ERASE = 0x20;
    static final int CMD_CONFIRM = 0xd0;
    static final int CMD_STATUS = 0x70;
    static final int CMD_READ_ID = 0x90;
    static final int STATUS_READY = 0x80;
    static final long SECTOR = 4096;

    /** What a non-ROMD read returns, and what the next write means. */
    enum Mode { ARRAY, PROGRAM_SETUP, ERASE_SETUP, STATUS, ID }

    private final RomDeviceRegion region;
    private final boolean reportsWrites;
    private Mode mode = Mode.ARRAY;
    private long programmed;

    /**
     * @param reportsWrites whether program and erase call {@code flushRomDevice}; false models a
     *        device that forgets to (what migration then misses)
     */
    CfiFlash(MemorySystem sys, String name, long size, boolean reportsWrites) {
        this.reportsWrites = reportsWrites;
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read((addr, size1) -> read(addr, size1))
                .write((addr, data, size1) -> write(addr, data, size1))
                .valid(1, 8, true)
                .impl(1, 1, false) // an 8-bit wide chip: the engine splits wider accesses
                .endianness(Endianness.LITTLE)
                .build();
        this.region = RomDeviceRegion.allocate(sys, this, ops, name, size);
        region.ramBlock().segment().fill((byte) 0xff); // erased
    }

    RomDeviceRegion region() {
        return region;
    }

    synchronized Mode mode() {
        return mode;
    }

    synchronized long programmed() {
        return programmed;
    }

    private MemorySegment array() {
        return region.ramBlock().segment();
    }

    private synchronized long read(long addr, int size) {
        return switch (mode) {
            case ARRAY -> array().get(ValueLayout.JAVA_BYTE, addr) & 0xff; // ROMD was off with no command
            case ID -> (addr & 1) == 0 ? 0x89 : 0x18;
            default -> STATUS_READY;
        };
    }

    private synchronized void write(long addr, long data, int size) {
        int cmd = (int) (data & 0xff);
        switch (mode) {
            case PROGRAM_SETUP -> {
                byte old = array().get(ValueLayout.JAVA_BYTE, addr);
                array().set(ValueLayout.JAVA_BYTE, addr, (byte) (old & cmd)); // programming only clears bits
                report(addr, 1);
                programmed++;
                mode = Mode.STATUS;
            }
            case ERASE_SETUP -> {
                if (cmd == CMD_CONFIRM) {
                    long sector = addr & ~(SECTOR - 1);
                    array().asSlice(sector, SECTOR).fill((byte) 0xff);
                    report(sector, SECTOR);
                }
                mode = Mode.STATUS;
            }
            default -> command(cmd);
        }
    }

    private void command(int cmd) {
        switch (cmd) {
            case CMD_READ_ARRAY -> enter(Mode.ARRAY);
            case CMD_PROGRAM, 0x10 -> enter(Mode.PROGRAM_SETUP);
            case CMD_ERASE -> enter(Mode.ERASE_SETUP);
            case CMD_STATUS -> enter(Mode.STATUS);
            case CMD_READ_ID -> enter(Mode.ID);
            default -> { } // unknown commands are ignored, as a real chip does
        }
    }

    private void enter(Mode next) {
        mode = next;
        region.setRomd(next == Mode.ARRAY); // a topology change from the device's own callback
    }

    private void report(long offset, long length) {
        if (reportsWrites) {
            region.flushRomDevice(offset, length);
        }
    }

    /** The device state a migration stream carries (the array itself is the RAM block). */
    synchronized Mode save() {
        return mode;
    }

    /** Loads the migrated state, ROMD mode included. */
    synchronized void load(Mode m) {
        enter(m);
    }
}
