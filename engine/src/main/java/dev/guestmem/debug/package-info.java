/**
 * QEMU's {@code info mtree} text, both ways: {@link dev.guestmem.debug.MtreeParser} reads the plain,
 * {@code -f}, {@code -D} and annotated dialects into {@link dev.guestmem.debug.MtreeDocument}s,
 * {@link dev.guestmem.debug.MtreeImporter} builds a live region tree from one (inside it,
 * {@code PrintedRegions} finds which printed nodes are one region, {@code AliasTargets} which block
 * each alias targets, and {@code ReadingBuilder} makes the regions of one reading), and
 * {@link dev.guestmem.debug.MtreeDumper}, {@link dev.guestmem.debug.MtreeWriter} and
 * {@link dev.guestmem.debug.FlatViewPrinter} print a system the way QEMU does.
 */
package dev.guestmem.debug;
