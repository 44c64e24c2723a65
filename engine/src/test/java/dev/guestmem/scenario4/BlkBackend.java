package dev.guestmem.scenario4;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import java.util.List;

/**
 * virtio-blk's side of the device: a RAM disk, its config space (a region of its own, reached from
 * the BAR by {@code dispatchRead}/{@code dispatchWrite}), and the request handler
 * (virtio_blk_handle_request): a 16-byte header (type, reserved, sector), data, a status byte.
 */
final class BlkBackend {
    static final int SECTOR = 512;
    static final int T_IN = 0;
    static final int T_OUT = 1;
    static final int S_OK = 0;
    static final int S_IOERR = 1;

    final byte[] disk;
    final IoRegion config;
    /** The guest-writable config field (writeback cache mode, virtio_blk_config.wce at 0x20). */
    volatile int wce;

    BlkBackend(MemorySystem sys, int sectors) {
        disk = new byte[sectors * SECTOR];
        config = new IoRegion(sys, this, MemoryRegionOps.builder()
                .read((a, s) -> configRead(a, s))
                .write((a, d, s) -> {
                    if (a == 0x20 && s == 1) {
                        wce = (int) d;
                    }
                })
                .valid(1, 8, false)
                .endianness(Endianness.LITTLE).build(), "virtio-blk-config", 0x24);
    }

    private long configRead(long a, int s) {
        byte[] cfg = new byte[0x24];
        long capacity = disk.length / SECTOR;
        for (int i = 0; i < 8; i++) {
            cfg[i] = (byte) (capacity >>> (8 * i));
        }
        cfg[0x14] = (byte) SECTOR; // blk_size = 512
        cfg[0x15] = (byte) (SECTOR >>> 8);
        cfg[0x20] = (byte) wce;
        long v = 0;
        for (int i = s - 1; i >= 0; i--) {
            v = (v << 8) | (cfg[(int) a + i] & 0xff);
        }
        return v;
    }

    /**
     * Runs one request.
     *
     * @param out the readable descriptors {addr, len, flags, next}: header, then data for a write
     * @param in the writable ones: data for a read, then the status byte
     * @return the bytes written into the guest's buffers (the used element's len)
     */
    int handle(VirtioPciBlk dev, List<long[]> out, List<long[]> in) {
        byte[] hdr = new byte[16];
        if (out.isEmpty() || out.get(0)[1] < 16 || in.isEmpty() || !dev.dmaRead(out.get(0)[0], hdr, 0, 16)) {
            return 0;
        }
        int type = (hdr[0] & 0xff) | (hdr[1] & 0xff) << 8 | (hdr[2] & 0xff) << 16 | (hdr[3] & 0xff) << 24;
        long sector = 0;
        for (int i = 15; i >= 8; i--) {
            sector = (sector << 8) | (hdr[i] & 0xff);
        }
        long pos = sector * SECTOR;
        boolean ok = true;
        int written = 0;
        if (type == T_OUT) {
            for (long[] d : out.subList(1, out.size())) {
                ok &= pos + d[1] <= disk.length && dev.dmaRead(d[0], disk, (int) pos, (int) d[1]);
                pos += d[1];
            }
        } else if (type == T_IN) {
            for (long[] d : in.subList(0, in.size() - 1)) {
                ok &= pos + d[1] <= disk.length && dev.dmaWrite(d[0], disk, (int) pos, (int) d[1]);
                pos += d[1];
                written += (int) d[1];
            }
        } else {
            ok = false;
        }
        long[] st = in.get(in.size() - 1);
        dev.dmaWrite(st[0], new byte[] {(byte) (ok ? S_OK : S_IOERR)}, 0, 1);
        return written + 1;
    }
}
