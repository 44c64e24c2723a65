package dev.guestmem;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.debug.MtreeDocument;
import dev.guestmem.debug.MtreeImport;
import dev.guestmem.debug.MtreeImporter;
import dev.guestmem.debug.MtreeParseException;
import dev.guestmem.debug.MtreeParser;
import dev.guestmem.share.ShareException;
import dev.guestmem.share.ShareProtocol;
import dev.guestmem.share.SharedRamRegion;
import dev.guestmem.snapshot.DirtyPages;
import dev.guestmem.snapshot.ProgressListener;
import dev.guestmem.snapshot.SnapshotBlock;
import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotException;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotRestorer;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed input to the parsers (snapshot files, {@code info mtree} text, the sharing protocol)
 * gives their typed exception and nothing else: no JDK exception, no stack overflow, no hang, no
 * write to a restore target. Written as a robustness audit; ten of these failed before their fixes
 * (overflowing checks in SnapshotFile, deep indentation, a quadratic owner search, ShareProtocol's
 * region limit).
 */
class InputRobustnessTest {
    private static final long PAGE = 4096;

    @TempDir
    Path dir;

    // ------------------------------------------------------------------ snapshot helpers

    /** A small full snapshot: block "ram" of {@code pages} pages (every third one zero). */
    private byte[] smallSnapshot(Arena arena, int pages, long seed) throws IOException {
        MemorySegment ram = ramOf(arena, pages, seed);
        Path f = dir.resolve("good-" + seed + "-" + pages + ".gms");
        dev.guestmem.snapshot.SnapshotWriter.write(f, List.of(new SnapshotBlock("ram", ram, PAGE)), ProgressListener.NONE);
        return Files.readAllBytes(f);
    }

    private static MemorySegment ramOf(Arena arena, int pages, long seed) {
        MemorySegment ram = arena.allocate(pages * PAGE, PAGE);
        Random r = new Random(seed);
        byte[] page = new byte[(int) PAGE];
        for (int p = 0; p < pages; p++) {
            if (p % 3 == 1) {
                continue;
            }
            r.nextBytes(page);
            MemorySegment.copy(page, 0, ram, ValueLayout.JAVA_BYTE, p * PAGE, page.length);
        }
        return ram;
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Recomputes the table and header checksums, so a mutation reaches the structural checks. */
    private static void fixCrcs(byte[] b) {
        ByteBuffer bb = le(b);
        long tOff = bb.getLong(40);
        long tLen = bb.getLong(48);
        if (tOff >= 0 && tLen >= 0 && tOff + tLen <= b.length && tOff + tLen >= 0) {
            CRC32C c = new CRC32C();
            c.update(b, (int) tOff, (int) tLen);
            bb.putInt(72, (int) c.getValue());
        }
        CRC32C h = new CRC32C();
        h.update(b, 0, 76);
        bb.putInt(76, (int) h.getValue());
    }

    /** File offset of the first block's u64 fields (used length, page size, count, stored, entries). */
    private static int block0Fields(byte[] b) {
        ByteBuffer bb = le(b);
        int tOff = (int) bb.getLong(40);
        int nameLen = bb.getInt(tOff);
        return tOff + ((4 + nameLen + 7) & ~7);
    }

    private Path put(byte[] b, String name) throws IOException {
        Path f = dir.resolve(name);
        Files.write(f, b);
        return f;
    }

    /**
     * Opens and, if that succeeds, uses every page and restores into targets of the right shape.
     * Returns null when only SnapshotException (or nothing) came out, else the offending throwable.
     */
    private static Throwable openAndUse(Path f) {
        try (Arena arena = Arena.ofConfined()) {
            try (SnapshotFile s = SnapshotFile.open(f)) {
                List<SnapshotBlock> targets = new ArrayList<>();
                for (SnapshotFile.BlockInfo b : s.blocks()) {
                    for (long p = 0; p < Math.min(b.pageCount(), 1 << 16); p++) {
                        s.location(b.index(), p);
                        s.checksum(b.index(), p);
                        s.pageData(b.index(), p);
                        s.verify(b.index(), p);
                    }
                    if (b.usedLength() > 0 && b.usedLength() <= (16L << 20)) {
                        targets.add(new SnapshotBlock(b.name(), arena.allocate(b.usedLength(), PAGE), b.pageSize()));
                    }
                }
                if (!s.incremental()) {
                    SnapshotRestorer.restore(SnapshotChain.of(s), targets, true, ProgressListener.NONE);
                    SnapshotRestorer.restore(SnapshotChain.of(s), targets, false, ProgressListener.NONE);
                }
            }
            return null;
        } catch (SnapshotException e) {
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    private static void assertRefused(Path f) {
        assertThrows(SnapshotException.class, () -> SnapshotFile.open(f).close());
    }

    private static void assertOnlySnapshotException(Path f) {
        Throwable t = openAndUse(f);
        if (t != null) {
            throw new AssertionError("expected SnapshotException or success, got " + t, t);
        }
    }

    // ------------------------------------------------------------------ snapshot: passing probes

    @Test
    void snapshotTruncatedAtEveryOffsetIsRefused() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            byte[] good = smallSnapshot(arena, 2, 1);
            Path f = dir.resolve("trunc.gms");
            for (int len = 0; len < good.length; len++) {
                Files.write(f, Arrays.copyOf(good, len));
                int l = len;
                SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFile.open(f).close(),
                        () -> "truncated to " + l);
                assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
            }
            // and extended by garbage
            for (int extra : new int[] {1, 7, 4096}) {
                Files.write(f, Arrays.copyOf(good, good.length + extra));
                assertRefused(f);
            }
        }
    }

    @Test
    void snapshotBitFlipsInHeaderAndTableAreRefused() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            byte[] good = smallSnapshot(arena, 3, 2);
            int tOff = (int) le(good).getLong(40);
            Path f = dir.resolve("flip.gms");
            // every bit of the checked header (bytes 80..127 are reserved and not covered)
            for (int i = 0; i < 80; i++) {
                for (int bit = 0; bit < 8; bit++) {
                    byte[] b = good.clone();
                    b[i] ^= (byte) (1 << bit);
                    Files.write(f, b);
                    assertRefused(f);
                }
            }
            // every bit of the table
            for (int i = tOff; i < good.length; i++) {
                for (int bit = 0; bit < 8; bit++) {
                    byte[] b = good.clone();
                    b[i] ^= (byte) (1 << bit);
                    Files.write(f, b);
                    assertRefused(f);
                }
            }
        }
    }

    @Test
    void snapshotDataCorruptionIsCaughtByVerifyAndRefusedBeforeWritingNothingElse() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            byte[] good = smallSnapshot(arena, 3, 3);
            int tOff = (int) le(good).getLong(40);
            Random r = new Random(33);
            for (int k = 0; k < 64; k++) {
                byte[] b = good.clone();
                int at = 4096 + r.nextInt(tOff - 4096);
                b[at] ^= (byte) (1 << r.nextInt(8));
                Path f = put(b, "data" + k + ".gms");
                try (SnapshotFile s = SnapshotFile.open(f)) {
                    MemorySegment t = arena.allocate(3 * PAGE, PAGE);
                    assertThrows(SnapshotException.class, () -> SnapshotRestorer.restore(SnapshotChain.of(s),
                            List.of(new SnapshotBlock("ram", t, PAGE)), true, ProgressListener.NONE));
                    // without verification the (documented) result is the corrupt bytes, no crash
                    SnapshotRestorer.restore(SnapshotChain.of(s), List.of(new SnapshotBlock("ram", t, PAGE)), false,
                            ProgressListener.NONE);
                }
            }
        }
    }

    @Test
    void restoreRefusedBeforeItStartsLeavesTargetsUntouched() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            Path f = put(smallSnapshot(arena, 3, 4), "t.gms");
            try (SnapshotFile s = SnapshotFile.open(f)) {
                for (SnapshotBlock[] bad : new SnapshotBlock[][] {
                        {new SnapshotBlock("ram", arena.allocate(4 * PAGE, PAGE), PAGE)},
                        {new SnapshotBlock("nope", arena.allocate(3 * PAGE, PAGE), PAGE)},
                        {new SnapshotBlock("ram", arena.allocate(4 * PAGE, PAGE), 2 * PAGE)},
                        // a good target first, then a bad one: nothing may be written to the good one either
                        {new SnapshotBlock("ram", arena.allocate(3 * PAGE, PAGE), PAGE),
                                new SnapshotBlock("other", arena.allocate(PAGE, PAGE), PAGE)}}) {
                    for (SnapshotBlock t : bad) {
                        t.segment().fill((byte) 0x5a);
                    }
                    assertThrows(SnapshotException.class, () -> SnapshotRestorer.restore(SnapshotChain.of(s),
                            List.of(bad), true, ProgressListener.NONE));
                    for (SnapshotBlock t : bad) {
                        MemorySegment expect = arena.allocate(t.segment().byteSize());
                        expect.fill((byte) 0x5a);
                        assertEquals(-1, expect.mismatch(t.segment()), "target written by a refused restore");
                    }
                }
            }
        }
    }

    @Test
    void duplicateBlockNameAndStructuralEditsWithFixedChecksumsAreRefused() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = ramOf(arena, 2, 5);
            MemorySegment b = ramOf(arena, 2, 6);
            Path f = dir.resolve("two.gms");
            dev.guestmem.snapshot.SnapshotWriter.write(f, List.of(new SnapshotBlock("ramA", a, PAGE),
                    new SnapshotBlock("ramB", b, PAGE)), ProgressListener.NONE);
            byte[] good = Files.readAllBytes(f);
            String text = new String(good, StandardCharsets.ISO_8859_1);
            int nameB = text.lastIndexOf("ramB");
            byte[] dup = good.clone();
            dup[nameB + 3] = 'A';
            fixCrcs(dup);
            SnapshotException e = assertThrows(SnapshotException.class, () -> SnapshotFile.open(put(dup, "dup.gms")).close());
            assertTrue(e.getMessage().contains("twice"), e.getMessage());

            int fo = block0Fields(good);
            long[][] edits = { // {file offset, value}
                {4, 2}, // version
                {56, 0}, {56, 8192}, {40, 0}, {40, -1}, {48, -1}, {48, Long.MAX_VALUE}, {64, Long.MAX_VALUE},
                {fo, 3 * PAGE}, {fo + 8, 1000}, {fo + 8, 6000}, {fo + 8, 0}, {fo + 8, -4096},
                {fo + 16, 3}, {fo + 16, Long.MAX_VALUE}, {fo + 24, 5}, {fo + 32, 0}, {fo + 32, 4096},
                {fo + 32, good.length}};
            for (long[] ed : edits) {
                byte[] m = good.clone();
                if (ed[0] == 4) {
                    le(m).putInt(8, (int) ed[1]);
                } else {
                    le(m).putLong((int) ed[0], ed[1]);
                }
                fixCrcs(m);
                Path p = put(m, "edit.gms");
                assertRefused(p);
            }
            // every page entry pointed past the end, misaligned, into the header, into the table
            ByteBuffer gb = le(good);
            long entries = le(good).getLong(fo + 32);
            long tOff = gb.getLong(40);
            for (long loc : new long[] {good.length, good.length + 4096L, 4097, 2, 4096 - 4096, tOff, 1L << 40,
                    -4096, Long.MIN_VALUE}) {
                if (loc == 0) {
                    continue;
                }
                byte[] m = good.clone();
                le(m).putLong((int) entries, loc);
                fixCrcs(m);
                assertRefused(put(m, "loc.gms"));
            }
        }
    }

    @Test
    void mismatchedIncrementalChainsAreRefused() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment ram = ramOf(arena, 4, 7);
            Path base = dir.resolve("base.gms");
            long baseId = dev.guestmem.snapshot.SnapshotWriter.write(base, List.of(new SnapshotBlock("ram", ram, PAGE)),
                    ProgressListener.NONE);
            Path other = dir.resolve("other.gms");
            dev.guestmem.snapshot.SnapshotWriter.write(other, List.of(new SnapshotBlock("ram", ram, PAGE)),
                    ProgressListener.NONE);
            long[] bitmap = {0b1011};
            Path inc1 = dir.resolve("inc1.gms");
            long id1 = dev.guestmem.snapshot.SnapshotWriter.writeIncremental(inc1, baseId,
                    List.of(new SnapshotBlock("ram", ram, PAGE)), Map.of("ram", DirtyPages.ofBitmap(bitmap, 4)),
                    ProgressListener.NONE);
            Path inc2 = dir.resolve("inc2.gms");
            dev.guestmem.snapshot.SnapshotWriter.writeIncremental(inc2, id1, List.of(new SnapshotBlock("ram", ram, PAGE)),
                    Map.of("ram", DirtyPages.ofBitmap(bitmap, 4)), ProgressListener.NONE);
            Path bigInc = dir.resolve("big.gms");
            MemorySegment big = ramOf(arena, 8, 8);
            dev.guestmem.snapshot.SnapshotWriter.writeIncremental(bigInc, baseId,
                    List.of(new SnapshotBlock("ram", big, PAGE)), Map.of(), ProgressListener.NONE);
            Path renamed = dir.resolve("renamed.gms");
            dev.guestmem.snapshot.SnapshotWriter.writeIncremental(renamed, baseId,
                    List.of(new SnapshotBlock("mar", ram, PAGE)), Map.of(), ProgressListener.NONE);
            try (SnapshotFile b = SnapshotFile.open(base); SnapshotFile o = SnapshotFile.open(other);
                    SnapshotFile i1 = SnapshotFile.open(inc1); SnapshotFile i2 = SnapshotFile.open(inc2);
                    SnapshotFile bi = SnapshotFile.open(bigInc); SnapshotFile rn = SnapshotFile.open(renamed)) {
                new SnapshotChain(List.of(b, i1, i2)); // the good one
                for (List<SnapshotFile> bad : List.of(List.of(b, i2), List.of(o, i1), List.of(i1), List.of(i1, i2),
                        List.of(b, o), List.of(b, i1, i1), List.of(b, i2, i1), List.of(b, bi), List.of(b, rn),
                        List.<SnapshotFile>of())) {
                    assertThrows(SnapshotException.class, () -> new SnapshotChain(bad), bad::toString);
                }
            }
            // an incremental with its flag cleared (checksums fixed): a full snapshot with absent pages
            byte[] m = Files.readAllBytes(inc1);
            le(m).putInt(12, 0);
            le(m).putLong(24, 0);
            fixCrcs(m);
            assertRefused(put(m, "unflagged.gms"));
        }
    }

    // ------------------------------------------------------------------ snapshot: defects

    /**
     * Header block count larger than the table holds, and a table cut inside a block's fields (header
     * lengths and checksums made consistent): the table is read past its end.
     */
    @Test
    void snapshotBlockTableReadPastItsEndGivesTypedException() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            // a block of zero pages has no entries: a second block's name length is read at the table's end
            Path f = dir.resolve("empty.gms");
            dev.guestmem.snapshot.SnapshotWriter.write(f, List.of(new SnapshotBlock("ram", arena.allocate(0, PAGE), PAGE)),
                    ProgressListener.NONE);
            byte[] m = Files.readAllBytes(f);
            le(m).putInt(32, 2);
            fixCrcs(m);
            assertOnlySnapshotException(put(m, "count.gms"));
            // the table cut to the name and 8 bytes of fields, file and table lengths adjusted
            byte[] good = smallSnapshot(arena, 2, 10);
            long tOff = le(good).getLong(40);
            byte[] cut = Arrays.copyOf(good, (int) tOff + 16);
            le(cut).putLong(48, 16);
            le(cut).putLong(64, cut.length);
            fixCrcs(cut);
            assertOnlySnapshotException(put(cut, "cut.gms"));
        }
    }

    /** page count 2^60+2 with page size 4096: count*size and count*16 both wrap and pass the check. */
    @Test
    void snapshotPageCountOverflowGivesTypedException() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            byte[] m = smallSnapshot(arena, 2, 11);
            int fo = block0Fields(m);
            le(m).putLong(fo + 16, (1L << 60) + 2);
            fixCrcs(m);
            assertOnlySnapshotException(put(m, "pcount.gms"));
        }
    }

    /** entries offset near Long.MAX_VALUE: entriesOffset + count*16 overflows negative and passes. */
    @Test
    void snapshotEntriesOffsetOverflowGivesTypedException() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            byte[] m = smallSnapshot(arena, 2, 12);
            int fo = block0Fields(m);
            le(m).putLong(fo + 32, Long.MAX_VALUE - 7);
            fixCrcs(m);
            assertOnlySnapshotException(put(m, "eoff.gms"));
        }
    }

    /** A page location of 0x7fff_ffff_ffff_f000: loc + pageSize overflows and passes the check in open. */
    @Test
    void snapshotPageLocationOverflowIsRefusedByOpen() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            byte[] m = smallSnapshot(arena, 2, 13);
            int fo = block0Fields(m);
            long entries = le(m).getLong(fo + 32);
            le(m).putLong((int) entries, 0x7fff_ffff_ffff_f000L); // page 0 is stored: stored count unchanged
            fixCrcs(m);
            Path f = put(m, "locovf.gms");
            assertOnlySnapshotException(f);
            assertRefused(f);
        }
    }

    /** A negative page location with the stored count lowered to match: neither zero, absent nor checked. */
    @Test
    void snapshotNegativePageLocationIsRefusedByOpen() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            byte[] m = smallSnapshot(arena, 2, 16);
            int fo = block0Fields(m);
            long entries = le(m).getLong(fo + 32);
            le(m).putLong((int) entries, -4096L);
            le(m).putLong(fo + 24, le(m).getLong(fo + 24) - 1);
            fixCrcs(m);
            Path f = put(m, "negloc.gms");
            assertOnlySnapshotException(f);
            assertRefused(f);
        }
    }

    /** used length -4096, page count -1: the product check holds, the loop never runs; open accepts it. */
    @Test
    void snapshotNegativeBlockLengthIsRefusedByOpen() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            byte[] m = smallSnapshot(arena, 2, 14);
            int fo = block0Fields(m);
            ByteBuffer bb = le(m);
            bb.putLong(fo, -PAGE);
            bb.putLong(fo + 16, -1);
            bb.putLong(fo + 24, 0);
            fixCrcs(m);
            assertRefused(put(m, "neg.gms"));
        }
    }

    /** Random structural mutations of header fields and table with both checksums recomputed. */
    @Test
    void snapshotRandomFieldFuzzWithFixedChecksumsOnlyGivesSnapshotException() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            byte[] good = smallSnapshot(arena, 3, 15);
            int tOff = (int) le(good).getLong(40);
            long[] interesting = {0, 1, 2, 4095, 4096, 4097, 8192, good.length, good.length - 16, tOff, -1, -4096,
                Long.MAX_VALUE, Long.MIN_VALUE, 1L << 32, 1L << 60, (1L << 60) + 3, 0x7fff_ffff_ffff_f000L};
            Random r = new Random(1506);
            List<String> failures = new ArrayList<>();
            for (int k = 0; k < 1500 && failures.size() < 10; k++) {
                byte[] m = good.clone();
                int edits = 1 + r.nextInt(3);
                StringBuilder what = new StringBuilder();
                for (int e = 0; e < edits; e++) {
                    boolean header = r.nextInt(3) == 0;
                    int at = header ? 8 + 4 * r.nextInt(10) : tOff + 8 * r.nextInt((good.length - tOff) / 8);
                    if (at == 76 || at == 72) {
                        continue;
                    }
                    switch (r.nextInt(3)) {
                        case 0 -> {
                            long v = interesting[r.nextInt(interesting.length)];
                            if (at + 8 <= m.length && !(header && at >= 68)) {
                                le(m).putLong(at, v);
                            }
                            what.append(String.format(" @%d=%d", at, v));
                        }
                        case 1 -> {
                            int i = at + r.nextInt(8);
                            if (i < m.length) {
                                m[i] ^= (byte) (1 << r.nextInt(8));
                            }
                            what.append(" flip@").append(i);
                        }
                        default -> {
                            int v = r.nextInt();
                            le(m).putInt(at, v);
                            what.append(String.format(" @%d=i%d", at, v));
                        }
                    }
                }
                fixCrcs(m);
                Throwable t = openAndUse(put(m, "fuzz.gms"));
                if (t != null) {
                    failures.add("[" + what + "] -> " + t);
                }
            }
            if (!failures.isEmpty()) {
                fail(failures.size() + " mutations escaped as non-SnapshotException:\n" + String.join("\n", failures));
            }
        }
    }

    // ------------------------------------------------------------------ mtree helpers

    private static final Path MTREE_DIR = Paths.get("src/test/resources/extra-mtree");

    private static List<Path> smallCaptures(int n) throws IOException {
        try (Stream<Path> s = Files.list(MTREE_DIR)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".txt")
                            && !p.getFileName().toString().equals("KNOWN-DIFFERENCES.txt")
                            && !p.getFileName().toString().contains(".flat."))
                    .sorted((a, b) -> {
                        try {
                            int c = Long.compare(Files.size(a), Files.size(b));
                            return c != 0 ? c : a.compareTo(b);
                        } catch (IOException e) {
                            throw new RuntimeException(e);
                        }
                    })
                    .limit(n).toList();
        }
    }

    /** Parses and imports; null if only MtreeParseException (or nothing) came out. */
    private static Throwable parseAndImport(String text) {
        try {
            MtreeDocument doc = MtreeParser.parse(text);
            try (MtreeImport imp = MtreeImporter.importDocument(doc)) {
                imp.regions();
            }
            return null;
        } catch (MtreeParseException e) {
            return null;
        } catch (Throwable t) {
            return t;
        }
    }

    private static String mutate(List<String> lines, Random r) {
        List<String> l = new ArrayList<>(lines);
        int ops = 1 + r.nextInt(3);
        for (int o = 0; o < ops && !l.isEmpty(); o++) {
            int i = r.nextInt(l.size());
            String s = l.get(i);
            switch (r.nextInt(10)) {
                case 0 -> l.remove(i);
                case 1 -> {
                    int j = r.nextInt(l.size());
                    l.set(i, l.get(j));
                    l.set(j, s);
                }
                case 2 -> l.add(i, s);
                case 3 -> {
                    if (!s.isEmpty()) {
                        char[] c = s.toCharArray();
                        c[r.nextInt(c.length)] = (char) (32 + r.nextInt(95));
                        l.set(i, new String(c));
                    }
                }
                case 4 -> l.set(i, s.replaceFirst("[0-9a-f]{16}", "ffffffffffffffff"));
                case 5 -> l.set(i, s.replaceFirst("([0-9a-f]{16})-([0-9a-f]{16})", "$2-$1"));
                case 6 -> l.set(i, s.replaceFirst("prio -?[0-9]+", r.nextBoolean() ? "prio 2147483647" : "prio -2147483648"));
                case 7 -> l.set(i, "  " + s);
                case 8 -> l.set(i, s.replaceFirst("[0-9a-f]{16}", "0000000000000000"));
                default -> l.set(i, s.replaceFirst(" @", " @" + (r.nextBoolean() ? "x" : "")).replaceFirst("ram", "i/o"));
            }
        }
        return String.join("\n", l);
    }

    private static final String SMALL = """
            address-space: memory
              0000000000000000-ffffffffffffffff (prio 0, i/o): system
                0000000000000000-0000000000000fff (prio 0, ram): ram0
            """;

    // ------------------------------------------------------------------ mtree: passing probes

    @Test
    void mtreeRandomTextAndHandMadeMalformedLinesGiveOnlyParseException() {
        Random r = new Random(42);
        List<String> bad = new ArrayList<>(List.of("", "\n\n", "address-space: x", "memory-region: y",
                "  0-1 (prio 0, ram): a", "address-space: m\n  1-0 (prio 0, ram): rev",
                "address-space: m\n  0000000000000000-ffffffffffffffff (prio 99999999999, ram): p",
                "address-space: m\n  0000000000000000-ffffffffffffffff (prio 0, ram): huge",
                "address-space: m\n  0000000000000000-7fffffffffffffff (prio 0, ram): half",
                "address-space: m\n  0000000000000000-ffffffffffffffff (prio 0, container): c\n"
                        + "    0000000000000000-ffffffffffffffff (prio 0, i/o): alias a @nowhere 0000000000000000-ffffffffffffffff",
                "address-space: m\n  0000000000000000-0000000000000fff (prio 0, i/o): alias a @a 0000000000000000-0000000000000fff\n\n"
                        + "memory-region: a\n  0000000000000000-0000000000000fff (prio 0, i/o): alias a @a 0000000000000000-0000000000000fff",
                "address-space: m\n   0-1 (prio 0, ram): odd", "address-space: m\n  0-1 (prio 0, bogus): t",
                "address-space: m\n  0-1 (prio 0, ram): alias x", "FlatView #0\n AS \"memory\"",
                "address-space: m\r\n  0-f (prio 0, ram): crlf\r\n",
                "address-space: m\n  0000000000000000-ffffffffffffffff (prio 0, container): c\n"
                        + "    fffffffffffff000-0000000000000fff (prio 0, ram): wrap"));
        for (int k = 0; k < 300; k++) {
            StringBuilder sb = new StringBuilder();
            int len = r.nextInt(200);
            for (int i = 0; i < len; i++) {
                sb.append("\n (),:@-[]0123456789abcdefprioramsace".charAt(r.nextInt(36)));
            }
            bad.add(sb.toString());
        }
        for (String text : bad) {
            Throwable t = parseAndImport(text);
            if (t != null) {
                throw new AssertionError("input:\n" + text + "\n-> " + t, t);
            }
        }
        assertEquals(null, parseAndImport(SMALL));
    }

    @Test
    void mtreeMutatedRealCapturesGiveOnlyParseException() throws IOException {
        Random r = new Random(7);
        List<String> failures = new ArrayList<>();
        long deadline = System.nanoTime() + 8_000_000_000L;
        for (Path p : smallCaptures(24)) {
            List<String> lines = Files.readAllLines(p);
            for (int k = 0; k < 25 && System.nanoTime() < deadline; k++) {
                String text = mutate(lines, r);
                long t0 = System.nanoTime();
                Throwable t = parseAndImport(text);
                long ms = (System.nanoTime() - t0) / 1_000_000;
                if (t != null) {
                    failures.add(p.getFileName() + " #" + k + " -> " + t);
                } else if (ms > 3000) {
                    failures.add(p.getFileName() + " #" + k + " took " + ms + " ms");
                }
            }
        }
        assertTrue(failures.isEmpty(), () -> String.join("\n", failures));
    }

    // ------------------------------------------------------------------ mtree: defects

    /** 20 000 levels of indentation: a chain of hidden nodes built and walked recursively. */
    @Test
    void mtreeDeepIndentationGivesParseExceptionNotStackOverflow() {
        String text = "address-space: m\n  0000000000000000-ffffffffffffffff (prio 0, container): root\n"
                + " ".repeat(40_000) + "0000000000000000-0000000000000fff (prio 0, ram): deep\n";
        Throwable t = parseAndImport(text);
        if (t != null) {
            throw new AssertionError("got " + t.getClass().getName(), t);
        }
    }

    /** Very long lines built to make the line, alias and owner regexes backtrack. */
    @Test
    void mtreeVeryLongLinesParseQuickly() {
        String head = "  0000000000000000-0000000000000fff (prio 0, i/o): ";
        List<String> lines = List.of(head + "alias " + "@ 0".repeat(15_000), head + "alias " + "@".repeat(45_000),
                head + "alias a @" + " 0-".repeat(15_000), head + "x" + " owner:{}".repeat(600) + " y",
                " ".repeat(45_000) + "0-", "0".repeat(45_000) + "-0 (prio 0, ram): a",
                head + "a" + " [disabled]".repeat(5_000), "[DETECTED OVERFLOW!] ".repeat(3_000) + head + "a");
        List<String> slow = new ArrayList<>();
        for (String line : lines) {
            long t0 = System.nanoTime();
            Throwable t = parseAndImport("address-space: m\n  0000000000000000-ffffffffffffffff (prio 0, container): r\n"
                    + line + "\n");
            long ms = (System.nanoTime() - t0) / 1_000_000;
            if (t != null || ms > 1000) {
                slow.add(line.substring(0, 80) + "... (" + line.length() + " chars): " + ms + " ms " + t);
            }
        }
        assertTrue(slow.isEmpty(), () -> String.join("\n", slow));
    }

    /**
     * A line with many unclosed {@code " parent:{"}: the OWNER regex is searched with find() and its
     * {@code [^}]*} runs to the line's end from every start, quadratic in the line length.
     */
    @Test
    void mtreeOwnerSuffixSearchIsNotQuadratic() {
        // 1.8 MB: minutes at the old quadratic cost, milliseconds now; the timeout is a hang guard.
        String line = "  0000000000000000-0000000000000fff (prio 0, i/o): x" + " parent:{".repeat(200_000);
        Throwable t = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(30),
                () -> parseAndImport("address-space: m\n  0000000000000000-ffffffffffffffff (prio 0, container): r\n"
                        + line + "\n"));
        assertEquals(null, t);
    }

    // ------------------------------------------------------------------ share protocol

    @Test
    void shareProtocolMalformedMessagesGiveShareException() {
        List<String> bad = List.of("", "\n", "guestmem-share 1", "guestmem-share 1\n", "guestmem-share 2\nregion a 0 1\nend\n",
                "guestmem-share 1\nend\n", "guestmem-share 1\nregion a 0 1\n", "guestmem-share 1\nregion a 0 0\nend\n",
                "guestmem-share 1\nregion a 0 -1\nend\n", "guestmem-share 1\nregion a 0 10000000000000000\nend\n",
                "guestmem-share 1\nregion a ffffffffffffffff 2\nend\n", "guestmem-share 1\nregion  0 1\nend\n",
                "guestmem-share 1\nregion a 0 1 x\nend\n", "guestmem-share 1\nregion a zz 1\nend\n",
                "guestmem-share 1\nregion a 0 1\nend\r\n", "guestmem-share 1\nregion a\u00e9 0 1\nend\n",
                "guestmem-share 1\n\nend\n");
        for (String m : bad) {
            try {
                ShareProtocol.decode(m);
                if (!m.endsWith("end\n") || m.contains("\n\n")) {
                    fail("accepted " + m);
                }
            } catch (ShareException e) {
                // expected
            } catch (RuntimeException e) {
                throw new AssertionError("'" + m + "' -> " + e, e);
            }
        }
        Random r = new Random(9);
        byte[] good = ShareProtocol.encode(List.of(new SharedRamRegion("ram", 0, 1 << 20),
                new SharedRamRegion("rom", 0xfff0_0000L, 0x10_0000)));
        for (int k = 0; k < 5000; k++) {
            byte[] m = good.clone();
            for (int e = 0; e < 1 + r.nextInt(3); e++) {
                m[r.nextInt(m.length)] = (byte) r.nextInt(256);
            }
            try {
                ShareProtocol.decode(new String(m, StandardCharsets.US_ASCII));
            } catch (ShareException e) {
                // expected
            }
        }
    }

    /** decode accepts more regions than MAX_REGIONS (encode refuses them). */
    @Test
    void shareProtocolDecodeRefusesMoreThanMaxRegions() {
        StringBuilder sb = new StringBuilder(ShareProtocol.MAGIC).append('\n');
        for (int i = 0; i < 1000; i++) {
            sb.append("region r").append(i).append(' ').append(Long.toHexString(i * 4096L)).append(" 1000\n");
        }
        sb.append("end\n");
        assertThrows(ShareException.class, () -> ShareProtocol.decode(sb.toString()));
    }
}
