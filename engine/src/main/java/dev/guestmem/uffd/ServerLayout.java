package dev.guestmem.uffd;

import dev.guestmem.snapshot.SnapshotFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What the guest told the page server in its layout ({@link PageServerMain}'s protocol): the
 * blocks (name, address, length, page size, and once registered whether UFFDIO_ZEROPAGE is allowed
 * there), the page source, and the options.
 *
 * <p>Thread safety: the page server's single thread.
 */
final class ServerLayout {
    final List<String> names = new ArrayList<>();
    long[] start = new long[0];
    long[] length = new long[0];
    long[] pageSize = new long[0];
    boolean[] zeropageOk = new boolean[0];
    boolean prefetch;
    private boolean verify;
    private final List<Path> snapshots = new ArrayList<>();
    private List<byte[]> headers;
    private String remote;

    private ServerLayout() {
    }

    /**
     * Reads the layout's lines (fields as {@link Wire#fields} splits them).
     *
     * @throws IllegalArgumentException on a line it does not know
     */
    static ServerLayout parse(List<List<String>> lines) {
        ServerLayout l = new ServerLayout();
        for (List<String> f : lines) {
            switch (f.getFirst()) {
                case "source" -> {
                    if (f.get(1).equals("snapshot")) {
                        for (int i = 2; i < f.size(); i++) {
                            l.snapshots.add(Path.of(f.get(i)));
                        }
                    } else {
                        l.remote = f.get(2);
                    }
                }
                case "block" -> {
                    int n = l.names.size();
                    l.names.add(f.get(1));
                    l.start = Arrays.copyOf(l.start, n + 1);
                    l.length = Arrays.copyOf(l.length, n + 1);
                    l.pageSize = Arrays.copyOf(l.pageSize, n + 1);
                    l.zeropageOk = Arrays.copyOf(l.zeropageOk, n + 1);
                    l.start[n] = Long.parseLong(f.get(2));
                    l.length[n] = Long.parseLong(f.get(3));
                    l.pageSize[n] = Long.parseLong(f.get(4));
                }
                case "headers" -> {
                    l.headers = new ArrayList<>();
                    for (String h : f.subList(1, f.size())) {
                        l.headers.add(java.util.HexFormat.of().parseHex(h));
                    }
                }
                case "prefetch" -> l.prefetch = f.get(1).equals("1");
                case "verify" -> l.verify = f.get(1).equals("1");
                default -> throw new IllegalArgumentException("unknown layout line: " + f);
            }
        }
        return l;
    }

    /** {@code zeropage Z...}: per block, in layout order, whether its registration allows UFFDIO_ZEROPAGE. */
    void registered(List<String> f) {
        if (!f.getFirst().equals("zeropage") || f.size() != names.size() + 1) {
            throw new IllegalArgumentException("expected zeropage and one flag per block: " + f);
        }
        for (int b = 0; b < names.size(); b++) {
            zeropageOk[b] = f.get(b + 1).equals("1");
        }
    }

    /**
     * Opens the page source: the remote one, or the snapshot files (those preloaded if they are
     * the same paths, in the same order), checked against the guest's headers.
     */
    PageSource openSource(List<SnapshotFile> preloaded, List<Path> preloadedPaths) {
        long maxPage = maxPage();
        return remote != null ? new RemotePageSource(remote, names, maxPage)
                : snapshots.equals(preloadedPaths) ? new SnapshotPageSource(preloaded, snapshots, names, verify, headers)
                : new SnapshotPageSource(SnapshotPageSource.openFiles(snapshots), snapshots, names, verify, headers);
    }

    int blocks() {
        return names.size();
    }

    /** @return the page count of block {@code b} */
    long pages(int b) {
        return length[b] / pageSize[b];
    }

    /** @return the largest page size, at least 4096 */
    long maxPage() {
        long maxPage = 4096;
        for (long ps : pageSize) {
            maxPage = Math.max(maxPage, ps);
        }
        return maxPage;
    }

    /** @return the block holding {@code addr}, or -1 */
    int blockOf(long addr) {
        for (int b = 0; b < start.length; b++) {
            if (Long.compareUnsigned(addr, start[b]) >= 0 && Long.compareUnsigned(addr - start[b], length[b]) < 0) {
                return b;
            }
        }
        return -1;
    }

    /**
     * The unit the kernel installs in block {@code b}: the base page, or on hugetlbfs (where
     * UFFDIO_ZEROPAGE is not allowed) the whole page.
     */
    long grain(int b) {
        return zeropageOk[b] ? Math.min(pageSize[b], Uffd.BASE_PAGE) : pageSize[b];
    }
}
