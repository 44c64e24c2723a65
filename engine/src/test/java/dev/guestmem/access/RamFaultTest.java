package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.RamRegion;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Hazard 2: a truncated file mapping (SIGBUS) becomes MEMTX_ERROR and a broken block, never an escape. */
class RamFaultTest {
    private static final MemTxAttrs U = MemTxAttrs.UNSPECIFIED;

    @Test
    void truncatedFileGivesErrorsFromEveryPath(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("guest.ram");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(0x10000);
        }
        RamBlock blk = RamBlock.builder("file", 0x10000).file(f).shared(true).build();
        TestViews tv = new TestViews();
        RamRegion r = new RamRegion(tv.system, null, "file", blk, false, false);
        AddressSpace as = tv.map(0x100000, r).space();
        // warm the fast path in a loop so it is JIT-compiled before the file shrinks
        long sum = 0;
        for (int i = 0; i < 200_000; i++) {
            as.stl(0x100000 + ((i * 4L) & 0xFFFF), i);
            sum += as.ldl(0x100000 + ((i * 4L) & 0xFFFF));
        }
        assertTrue(sum != 0);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(0x1000); // pages 1.. are gone: touching them raises SIGBUS
        }
        MemTxResultHolder res = new MemTxResultHolder();
        assertEquals(0, as.ldlLe(0x100000 + 0x8000, U, res));
        assertEquals(MemTxResult.ERROR, res.get());
        assertTrue(blk.isBroken(), "the block is marked broken");
        int errors = 0;
        for (int i = 0; i < 20_000; i++) { // and from compiled code (C2 compiles after ~10k calls)
            as.ldlLe(0x100000 + 0x2000 + ((i * 4L) & 0x7FFF), U, res);
            errors += res.get() == MemTxResult.ERROR ? 1 : 0;
        }
        assertEquals(20_000, errors);
        assertEquals(MemTxResult.ERROR, as.stqLe(0x100000 + 0x3000, 1));
        byte[] buf = new byte[0x2000];
        assertEquals(MemTxResult.ERROR, as.read(0x100000 + 0x1000, U, buf, 0, buf.length));
        assertTrue(Files.exists(f));
        blk.close();
    }
}
