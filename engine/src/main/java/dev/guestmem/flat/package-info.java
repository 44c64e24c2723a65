/**
 * Rendering a region tree into a flat view: QEMU's {@code render_memory_region} and
 * {@code FlatView}. {@link dev.guestmem.flat.FlatViewRenderer} turns a root into sorted,
 * non-overlapping {@link dev.guestmem.flat.FlatRange}s (priority, aliases, containers, read-only and
 * dirty-log inheritance), {@link dev.guestmem.flat.FlatViewRoots} finds the root views are shared
 * by, and {@link dev.guestmem.flat.TopologyDirt} with {@link dev.guestmem.flat.IncrementalRender}
 * re-renders only the address windows a commit touched.
 */
package dev.guestmem.flat;
