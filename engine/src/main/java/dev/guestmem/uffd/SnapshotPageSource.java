package dev.guestmem.uffd;

import dev.guestmem.snapshot.SnapshotChain;
import dev.guestmem.snapshot.SnapshotException;
import dev.guestmem.snapshot.SnapshotFile;
import dev.guestmem.snapshot.SnapshotFormat;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Pages from a snapshot chain mapped in this process: a page is handed to UFFDIO_COPY straight
 * from the file mapping (the kernel reads the page cache), optionally after its checksum is checked.
 *
 * <p>Thread safety: one thread at a time (the checksum state is shared).
 */
public final class SnapshotPageSource implements PageSource {
    private final List<SnapshotFile> files;
    private final SnapshotChain chain;
    private final String[] names;
    private final boolean verify;

    /**
     * Opens the files and checks the chain.
     *
     * @param paths the snapshot files, full one first
     * @param blockNames the layout's block names, in layout order
     * @param verify check each page's CRC32C before handing it out
     * @throws SnapshotException if a file is bad, the chain broken or a block missing
     */
    public SnapshotPageSource(List<Path> paths, List<String> blockNames, boolean verify) {
        this(openFiles(paths), paths, blockNames, verify, null);
    }

    /**
     * Returns a snapshot file's header as it was opened ({@link SnapshotFile#openedHeader()}): its
     * identity (random id, base id, length, table checksum, header checksum). A file rewritten in
     * place after the caller opened it therefore shows a different header where the server opens it.
     *
     * @param file an open snapshot
     * @return its first {@link SnapshotFormat#HEADER_SIZE} bytes, as opened
     */
    static byte[] header(SnapshotFile file) {
        return file.openedHeader();
    }

    /**
     * Opens and checks snapshot files (closing those opened if one fails).
     *
     * @param paths the files
     * @return the open files, in order
     */
    static List<SnapshotFile> openFiles(List<Path> paths) {
        List<SnapshotFile> opened = new ArrayList<>();
        try {
            for (Path p : paths) {
                opened.add(SnapshotFile.open(p));
            }
            return opened;
        } catch (RuntimeException e) {
            opened.forEach(SnapshotFile::close);
            throw e;
        }
    }

    /**
     * Uses files already opened (and checked) by {@link #openFiles}; closes them if the chain is refused.
     *
     * @param expectedHeaders each file's {@link #header} as the restore's caller opened it, or null
     *     not to check: a file whose header differs was replaced at its path (or rewritten) since,
     *     and is refused rather than served in place of the caller's
     */
    SnapshotPageSource(List<SnapshotFile> opened, List<Path> paths, List<String> blockNames, boolean verify,
            List<byte[]> expectedHeaders) {
        try {
            if (expectedHeaders != null) {
                if (expectedHeaders.size() != opened.size()) {
                    throw new SnapshotException("the restore names " + opened.size() + " snapshot files and "
                            + expectedHeaders.size() + " headers");
                }
                for (int i = 0; i < opened.size(); i++) {
                    SnapshotFile f = opened.get(i);
                    byte[] want = expectedHeaders.get(i);
                    if (!java.util.Arrays.equals(header(f), want)) {
                        long wantId = want.length >= 24 ? java.nio.ByteBuffer.wrap(want, 16, 8)
                                .order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong() : 0;
                        throw new SnapshotException(String.format("snapshot %s is not the file the restore was given"
                                + " (id %016x, the restore's %016x): replaced or rewritten since it was opened",
                                paths.get(i), f.id(), wantId));
                    }
                }
            }
            this.chain = new SnapshotChain(opened);
            for (String n : blockNames) {
                if (opened.getFirst().block(n) == null) {
                    throw new SnapshotException("snapshot " + paths.getFirst() + " has no block '" + n + "'");
                }
            }
        } catch (RuntimeException e) {
            opened.forEach(SnapshotFile::close);
            throw e;
        }
        this.files = opened;
        this.names = blockNames.toArray(String[]::new);
        this.verify = verify;
    }

    @Override
    public MemorySegment page(int block, long page) {
        MemorySegment data = chain.page(names[block], page);
        if (data != null && verify) {
            SnapshotFile f = files.get(chain.newestFileOf(names[block], page));
            int index = f.block(names[block]).index();
            boolean intact;
            try {
                // SnapshotFile's check reads through a copy: a SIGBUS in the JDK's CRC32C stub
                // (a truncated file, a hole on a full tmpfs) would kill the server's JVM.
                intact = f.verify(index, page);
            } catch (SnapshotException e) {
                throw new PageSourceException(e.getMessage(), e);
            }
            if (!intact) {
                throw new PageSourceException(String.format("block '%s' page %d in %s fails its checksum (stored 0x%08x)",
                        names[block], page, f.path(), f.checksum(index, page)));
            }
        }
        return data;
    }

    @Override
    public boolean stablePages() {
        return true;
    }

    @Override
    public void close() {
        files.forEach(SnapshotFile::close);
    }
}
