package dev.guestmem.dispatch;

import java.util.Arrays;

/**
 * The table of a page that is shared by several sections or only partly mapped, as QEMU's
 * {@code subpage_t}. QEMU keeps one {@code uint16} section index per byte of the page; this keeps the
 * same mapping as sorted runs {@code [runStart, runLast] -> section}, which gives identical lookups in
 * a few bytes per run instead of 8 KiB per page. Bytes outside every run map to section 0
 * (unassigned), as QEMU's zero-filled array does.
 *
 * <p><b>Thread safety.</b> Filled by the builder under the topology lock, then immutable and
 * published with its {@link AddressSpaceDispatch}.
 */
public final class Subpage {
    private final long pageStart;
    private int[] runStart = new int[4];
    private int[] runLast = new int[4];
    private int[] runSection = new int[4];
    private int runs;

    Subpage(long pageStart) {
        this.pageStart = pageStart;
    }

    /** @return the address of the page this table describes */
    public long pageStart() {
        return pageStart;
    }

    /** @return the number of runs */
    public int runCount() {
        return runs;
    }

    /**
     * {@code subpage_register}: maps the page bytes {@code [first, last]} to {@code section}. Flat
     * ranges never overlap and arrive in address order, so runs are appended in order.
     */
    void register(int first, int last, int section) {
        if (runs > 0 && first <= runLast[runs - 1]) {
            throw new IllegalStateException("subpage run " + first + ".." + last + " overlaps or precedes run ending at "
                    + runLast[runs - 1] + " in page 0x" + Long.toHexString(pageStart));
        }
        if (runs == runStart.length) {
            runStart = Arrays.copyOf(runStart, runs * 2);
            runLast = Arrays.copyOf(runLast, runs * 2);
            runSection = Arrays.copyOf(runSection, runs * 2);
        }
        runStart[runs] = first;
        runLast[runs] = last;
        runSection[runs] = section;
        runs++;
    }

    /**
     * Resolves a byte of the page ({@code sub_section[SUBPAGE_IDX(addr)]}).
     *
     * @param offsetInPage the byte's offset in the page
     * @return the section index, 0 when unassigned
     */
    public int sectionIndex(int offsetInPage) {
        int lo = 0;
        int hi = runs - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (runStart[mid] <= offsetInPage) {
                if (offsetInPage <= runLast[mid]) {
                    return runSection[mid];
                }
                lo = mid + 1;
            } else {
                hi = mid - 1;
            }
        }
        return 0;
    }
}
