package dev.guestmem.debug;

import java.util.List;
import java.util.Objects;

/**
 * One blank-line-separated block of {@code info mtree} text: an address-space group or an alias
 * target's {@code memory-region:} block. The root is printed at level 1 with base 0.
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public sealed interface MtreeBlock {
    /** @return the root of the printed tree (hidden when plain text left it out) */
    MtreeNode root();

    /** @return 1-based line of the block's first header line, 0 when not parsed */
    int line();

    /**
     * {@code address-space: NAME} lines (one per address space sharing the root) and their tree.
     *
     * @param names the address spaces' names in printed order
     * @param root the common root
     * @param line 1-based line of the first header
     */
    record AddressSpaceGroup(List<String> names, MtreeNode root, int line) implements MtreeBlock {
        /** Copies the names. */
        public AddressSpaceGroup {
            names = List.copyOf(names);
            Objects.requireNonNull(root, "root");
        }
    }

    /**
     * {@code memory-region: NAME} and the alias target's tree.
     *
     * @param name the region's name as in the header
     * @param root the region
     * @param line 1-based line of the header
     */
    record RegionBlock(String name, MtreeNode root, int line) implements MtreeBlock {
        /** Checks the fields. */
        public RegionBlock {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(root, "root");
        }
    }
}
