package dev.guestmem.ram;

/**
 * A validated request for one block, built by {@link RamBlockBuilder}: lengths are non-zero,
 * {@code usedLength <= maxLength}, flags are known, {@code align} is a power of two.
 *
 * @param idstr the block name
 * @param backend where the bytes come from
 * @param flags {@link RamFlags} bits
 * @param usedLength bytes in use
 * @param maxLength bytes reserved
 * @param align minimum alignment of the host address (power of two, 1 for none)
 * @param hugepages advise transparent huge pages
 * @param prealloc allocate backing store and populate pages up front
 * @param noreserveExplicit whether NORESERVE was asked for rather than defaulted (hugetlb mappings
 *     drop a defaulted NORESERVE so an empty pool fails at mmap instead of SIGBUS at first touch)
 */
record RamSpec(String idstr, RamBackend backend, int flags, long usedLength, long maxLength, long align,
               boolean hugepages, boolean prealloc, boolean noreserveExplicit) {

    boolean shared() {
        return (flags & RamFlags.SHARED) != 0;
    }

    boolean readOnly() {
        return (flags & RamFlags.READONLY) != 0;
    }

    boolean readOnlyFd() {
        return (flags & RamFlags.READONLY_FD) != 0;
    }

    boolean noreserve() {
        return (flags & RamFlags.NORESERVE) != 0;
    }
}
