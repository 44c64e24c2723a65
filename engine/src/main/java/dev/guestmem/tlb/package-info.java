/**
 * The JIT fast path: {@link dev.guestmem.tlb.GuestTlb#fill} answers, for a guest page, the host
 * segment and offset behind it, what may be done there directly and the generation the answer is
 * valid for, in a {@link dev.guestmem.tlb.TlbEntry} a soft TLB keeps. It follows IOMMUs as TCG does;
 * the class javadoc of {@link dev.guestmem.tlb.GuestTlb} shows the soft-TLB patterns.
 */
package dev.guestmem.tlb;
