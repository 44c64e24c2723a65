package dev.guestmem.scenario12;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RomDeviceRegion;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A 16-bit wide big-endian CFI flash (QEMU's pflash_cfi01 with {@code width=2, be=1}, in spirit): a ROM
 * device whose array is read straight from its block in ROMD mode, so a big-endian CPU's {@code ldwBe}
 * sees the image's bytes most significant first; commands are 16-bit writes in the low byte
 * ({@code 0x0040} program, {@code 0x0070} status, {@code 0x00ff} read array). Programming stores the
 * 16-bit datum big-endian into the array (bits only cleared) and reports it with
 * {@code flushRomDevice}. The ops are {@code impl(2, 2)}: a 4-byte access is two chip cycles, a byte
 * access one chip cycle whose other byte is discarded (reads) or zero (writes).
 */
final class BeFlash {
    static final int CMD_PROGRAM = 0x40;
    static final int CMD_STATUS = 0x70;
    static final int CMD_READ_ARRAY = 0xff;
    static final int STATUS_READY = 0x80;
    private static final ValueLayout.OfShort BE16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final RomDeviceRegion region;
    private boolean programNext;
    private long programs;

    BeFlash(MemorySystem sys, String name, long size) {
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .read(this::read)
                .write(this::write)
                .valid(1, 4, false)
                .impl(2, 2, false)
                .endianness(Endianness.BIG)
                .build();
        region = RomDeviceRegion.allocate(sys, this, ops, name, size);
        array().fill((byte) 0xff);
    }

    RomDeviceRegion region() {
        return region;
    }

    synchronized long programs() {
        return programs;
    }

    private MemorySegment array() {
        return region.ramBlock().segment();
    }

    private synchronized long read(long addr, int size) {
        return STATUS_READY; // out of ROMD mode only status is read here
    }

    private synchronized void write(long addr, long data, int size) {
        if (programNext) {
            short old = array().get(BE16, addr);
            array().set(BE16, addr, (short) (old & data));
            region.flushRomDevice(addr, 2);
            programs++;
            programNext = false;
            return;
        }
        switch ((int) (data & 0xff)) {
            case CMD_PROGRAM -> {
                programNext = true;
                region.setRomd(false);
            }
            case CMD_STATUS -> region.setRomd(false);
            case CMD_READ_ARRAY -> region.setRomd(true);
            default -> { } // ignored, as a real chip does
        }
    }
}
