package dev.guestmem.fuzz;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.debug.FlatViewPrinter;
import dev.guestmem.debug.MtreeDialect;
import dev.guestmem.debug.MtreeDumper;
import dev.guestmem.debug.MtreeWriter;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.MemoryRegion;
import java.util.List;

/**
 * What a caller can observe of a machine between two calls: its {@code info mtree} and
 * {@code info mtree -f} text, every region's fields (including what mtree does not print: eventfds,
 * coalescing, logging, references, discard manager), the system's transaction depth, spaces and
 * their eventfd lists, RAM list and RAM discard claims, and how many callbacks its listeners heard.
 * A refused call must leave it equal.
 *
 * @param mtree {@code info mtree}
 * @param flat {@code info mtree -f}
 * @param regions one line per region the fuzzer holds
 * @param system the system's own state
 * @param heard callbacks heard so far
 */
record StateDigest(String mtree, String flat, String regions, String system, int heard) {

    /**
     * Takes the digest.
     *
     * @param sys the system
     * @param regions the regions to describe (of any system)
     * @param log the listeners' log
     * @return the digest
     */
    static StateDigest take(MemorySystem sys, List<MemoryRegion> regions, EventLog log) {
        StringBuilder r = new StringBuilder();
        for (MemoryRegion mr : regions) {
            r.append(describe(mr)).append('\n');
        }
        StringBuilder s = new StringBuilder();
        s.append("depth=").append(sys.transactionDepth()).append(" closed=").append(sys.isClosed())
                .append(" globalDirty=").append(sys.globalDirtyTrackingFlags()).append('\n');
        s.append("discard claims:");
        for (dev.guestmem.discard.RamDiscardPolicy.Kind k : dev.guestmem.discard.RamDiscardPolicy.Kind.values()) {
            s.append(' ').append(k).append('=').append(sys.ramDiscardPolicy().count(k));
        }
        s.append('\n');
        s.append("ram list:");
        for (dev.guestmem.ram.RamBlock b : sys.ramList().blocks()) {
            s.append(' ').append(b.idstr()).append("@0x").append(Long.toHexString(b.offset()));
        }
        s.append('\n');
        for (AddressSpace as : sys.addressSpaces()) {
            s.append(as.name()).append(" root=").append(as.root().name()).append(" gen=").append(as.generation())
                    .append(" eventfds=").append(sys.ioeventfds(as)).append('\n');
        }
        return new StateDigest(MtreeWriter.write(MtreeDumper.dump(sys), MtreeDialect.PLAIN), FlatViewPrinter.print(sys),
                r.toString(), s.toString(), log.size());
    }

    private static String describe(MemoryRegion mr) {
        StringBuilder b = new StringBuilder();
        b.append(mr.name()).append(' ').append(mr.getClass().getSimpleName())
                .append(" in=").append(mr.container() == null ? "-" : mr.container().name())
                .append(" addr=0x").append(Long.toHexString(mr.addr()))
                .append(" prio=").append(mr.priority())
                .append(" size=0x").append(Long.toHexString(mr.size()))
                .append(" en=").append(mr.isEnabled())
                .append(" ro=").append(mr.isReadonly())
                .append(" romd=").append(mr.isRomd())
                .append(" log=").append(mr.dirtyLogMask())
                .append(" mapped=").append(mr.isMapped())
                .append(" refs=").append(mr.refCount())
                .append(" destroyed=").append(mr.isDestroyed())
                .append(" finalized=").append(mr.isFinalized())
                .append(" rdm=").append(mr.hasRamDiscardManager())
                .append(" flush=").append(mr.isFlushCoalesced())
                .append(" coalesced=").append(mr.coalescedRanges())
                .append(" eventfds=").append(mr.ioeventfds());
        if (mr instanceof AliasRegion a) {
            b.append(" alias=").append(a.target().name()).append("@0x").append(Long.toHexString(a.aliasOffset()));
        }
        if (mr.ramBlock() != null) {
            b.append(" used=0x").append(Long.toHexString(mr.ramBlock().usedLength()));
        }
        b.append(" subs=[");
        for (MemoryRegion sub : mr.subregionList()) {
            b.append(sub.name()).append(' ');
        }
        return b.append(']').toString();
    }
}
