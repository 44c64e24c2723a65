package dev.guestmem.scenario6;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A fake host IOMMU container with the rules of Linux's VFIO type1 v2 backend: mappings are
 * page-aligned, {@code VFIO_IOMMU_MAP_DMA} over any mapped iova fails with EEXIST, and
 * {@code VFIO_IOMMU_UNMAP_DMA} removes the mappings inside its range but refuses (EINVAL) to cut
 * one in two. Iovas are unsigned.
 */
final class HostIommu {
    static final long PAGE = 4096;

    /** One {@code VFIO_IOMMU_MAP_DMA}: {@code size} bytes at {@code iova} onto host address {@code host}. */
    record Mapping(long iova, long size, long host, boolean readonly) {
        long last() {
            return iova + size - 1;
        }
    }

    /** What the kernel's ioctl would have answered with a negative errno. */
    static final class HostIommuException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        HostIommuException(String message) {
            super(message);
        }
    }

    private final TreeMap<Long, Mapping> maps = new TreeMap<>(Long::compareUnsigned);
    /** Every refused ioctl, in order: a correct mirror never makes one. */
    final List<String> refusals = new ArrayList<>();

    void map(long iova, long size, long host, boolean readonly) {
        if (size == 0 || ((iova | size | host) & (PAGE - 1)) != 0 || Long.compareUnsigned(iova + size - 1, iova) < 0) {
            throw refuse("EINVAL map iova 0x" + Long.toHexString(iova) + " size 0x" + Long.toHexString(size));
        }
        Map.Entry<Long, Mapping> below = maps.floorEntry(iova + size - 1);
        if (below != null && Long.compareUnsigned(below.getValue().last(), iova) >= 0) {
            throw refuse("EEXIST map iova 0x" + Long.toHexString(iova) + " size 0x" + Long.toHexString(size)
                    + " over " + below.getValue());
        }
        maps.put(iova, new Mapping(iova, size, host, readonly));
    }

    /** @return the bytes unmapped */
    long unmap(long iova, long size) {
        if (size == 0 || ((iova | size) & (PAGE - 1)) != 0) {
            throw refuse("EINVAL unmap iova 0x" + Long.toHexString(iova) + " size 0x" + Long.toHexString(size));
        }
        long last = iova + size - 1;
        Map.Entry<Long, Mapping> first = maps.floorEntry(iova);
        if (first != null && Long.compareUnsigned(first.getValue().iova(), iova) < 0
                && Long.compareUnsigned(first.getValue().last(), iova) >= 0) {
            throw refuse("EINVAL unmap at 0x" + Long.toHexString(iova) + " bisects " + first.getValue());
        }
        Map.Entry<Long, Mapping> end = maps.floorEntry(last);
        if (end != null && Long.compareUnsigned(end.getValue().last(), last) > 0
                && Long.compareUnsigned(end.getValue().iova(), iova) >= 0) {
            throw refuse("EINVAL unmap to 0x" + Long.toHexString(last) + " bisects " + end.getValue());
        }
        long unmapped = 0;
        for (Mapping m : List.copyOf(maps.subMap(iova, true, last, true).values())) {
            maps.remove(m.iova());
            unmapped += m.size();
        }
        return unmapped;
    }

    /** @return the host address {@code iova} maps to, or -1 (an IOMMU fault) */
    long translate(long iova) {
        Map.Entry<Long, Mapping> e = maps.floorEntry(iova);
        if (e == null || Long.compareUnsigned(e.getValue().last(), iova) < 0) {
            return -1;
        }
        return e.getValue().host() + (iova - e.getKey());
    }

    /** @return every mapped page: iova page to "host address, ro" */
    TreeMap<Long, String> pages() {
        TreeMap<Long, String> out = new TreeMap<>(Long::compareUnsigned);
        for (Mapping m : maps.values()) {
            for (long off = 0; Long.compareUnsigned(off, m.size()) < 0; off += PAGE) {
                out.put(m.iova() + off, describe(m.host() + off, m.readonly()));
            }
        }
        return out;
    }

    static String describe(long host, boolean readonly) {
        return "0x" + Long.toHexString(host) + (readonly ? " ro" : " rw");
    }

    int mappingCount() {
        return maps.size();
    }

    private HostIommuException refuse(String why) {
        refusals.add(why);
        return new HostIommuException(why);
    }
}
