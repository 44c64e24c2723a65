package dev.guestmem.dispatch;

/**
 * A reusable result holder for translations ({@code flatview_translate}'s out-parameters): the
 * section found, the offset in its region ({@code xlat}) and the usable length ({@code plen}).
 *
 * <p><b>Thread safety.</b> None: one instance per thread (or per call site), reused across calls so
 * translation allocates nothing.
 */
public final class Translation {
    private PhysSection section;
    private long xlat;
    private long plen;

    /** Creates an empty holder. */
    public Translation() {
    }

    /**
     * Fills the holder.
     *
     * @param section the section
     * @param xlat offset in the section's region
     * @param plen usable length
     */
    public void set(PhysSection section, long xlat, long plen) {
        this.section = section;
        this.xlat = xlat;
        this.plen = plen;
    }

    /** @return the section of the last translation */
    public PhysSection section() {
        return section;
    }

    /** @return the offset in the section's region */
    public long xlat() {
        return xlat;
    }

    /** @return the usable length (clamped to the section for RAM, else as asked or IOMMU-clamped) */
    public long plen() {
        return plen;
    }
}
