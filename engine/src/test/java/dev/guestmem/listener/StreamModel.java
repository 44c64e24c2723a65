package dev.guestmem.listener;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.region.CoalescedRange;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RomDeviceRegion;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * A listener that rebuilds an address space's map from nothing but the callbacks it hears, as an
 * accelerator would (KVM's slots, its dirty-log state, its ioeventfds and coalesced zones), and
 * records every way the stream breaks the listener contract: a callback outside
 * {@code begin}..{@code commit} where the docs do not allow one, a {@code regionDel}/{@code regionNop}
 * of a section it was never told of, an add over a section it holds, a mask change from a mask it
 * does not hold, and, at every {@code commit}, a map that is not the view just published.
 *
 * <p>{@link #expectReplay()} and {@link #expectRemoval()} tell it that its next {@code begin}..{@code
 * commit} is a registration or an unregistration replay (which may come later than the call, when
 * the call is deferred from a callback).
 *
 * <p><b>Thread safety.</b> One property run, one thread.
 */
final class StreamModel implements MemoryListener {
    /** What a section is to a listener: its place and the attributes {@code flatrange_equal} compares. */
    record Sec(long start, long size, MemoryRegion region, long offsetInRegion, boolean readonly,
               boolean nonvolatile, boolean unmergeable) {
        static Sec of(MemoryRegionSection s) {
            return new Sec(s.offsetWithinAddressSpace(), s.size(), s.region(), s.offsetWithinRegion(),
                    s.readonly(), s.nonvolatile(), s.unmergeable());
        }

        static Sec of(FlatRange fr) {
            return new Sec(fr.start(), fr.size(), fr.region(), fr.offsetInRegion(), fr.readonly(),
                    fr.nonvolatile(), fr.unmergeable());
        }

        @Override
        public boolean equals(Object o) { // regions by identity
            return o instanceof Sec t && start == t.start && size == t.size && region == t.region
                    && offsetInRegion == t.offsetInRegion && readonly == t.readonly
                    && nonvolatile == t.nonvolatile && unmergeable == t.unmergeable;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(start) * 31 + System.identityHashCode(region);
        }

        @Override
        public String toString() {
            return Long.toHexString(start) + "+" + Long.toHexString(size) + " " + region.name() + "@"
                    + Long.toHexString(offsetInRegion) + (readonly ? " ro" : "");
        }
    }

    /** A coalesced window as listeners hear it: guest address and size (0 = 2^64). */
    record Window(long addr, long size) {
        @Override
        public String toString() {
            return Long.toHexString(addr) + "+" + Long.toHexString(size);
        }
    }

    /** The kinds of callback the current operation may send outside {@code begin}..{@code commit}. */
    enum Outside { EVENTFD, COALESCED, GLOBAL_LOG }

    private final String name;
    private final AddressSpace as;
    private final int priority;
    private final TreeMap<Long, Sec> sections = new TreeMap<>(Long::compareUnsigned);
    private final Map<Long, Integer> masks = new HashMap<>();
    /**
     * Ranges added in this update, with the mask a listener reading the region then would get. No
     * callback tells an added range's mask (QEMU's neither): it is the mask of the view the update
     * publishes, learned at {@code commit}; the live read must agree with it.
     */
    private final Map<Long, Integer> addedNow = new HashMap<>();
    /**
     * Per ROM device range, its ROMD mode when added (a toggle must delete and re-add it): learned at
     * {@code commit} from the view published, as no callback tells it and the region's live mode
     * may be ahead of the view (a toggle in an open transaction, then a registration replay).
     */
    private final Map<Long, Boolean> romd = new HashMap<>();
    private final List<Long> romdAddedNow = new ArrayList<>();
    private final List<Ioeventfd> eventfds = new ArrayList<>();
    private final Map<Window, Integer> windows = new HashMap<>();
    private final List<String> errors = new ArrayList<>();
    /** Per section, the transition of the logStart heard in this update (a logStop may follow with it). */
    private final Map<Long, Long> startedNow = new HashMap<>();
    private boolean inUpdate;
    private boolean globalLogging;
    private boolean replaying;
    private boolean replayPending;
    private boolean removalPending;
    /** This update is the removal replay (asked for before its begin: one asked from a callback waits). */
    private boolean removing;
    private boolean gone;
    private Set<Outside> outsideAllowed = Set.of();

    StreamModel(String name, AddressSpace as, int priority) {
        this.name = name;
        this.as = as;
        this.priority = priority;
    }

    AddressSpace addressSpace() {
        return as;
    }

    /** The next update is this listener's registration replay. */
    void expectReplay() {
        replayPending = true;
        gone = false;
    }

    /** The next update is this listener's removal replay; nothing may come after it. */
    void expectRemoval() {
        removalPending = true;
    }

    /**
     * @param kinds what the operation about to run may send outside an update
     */
    void allowOutside(Set<Outside> kinds) {
        outsideAllowed = kinds;
    }

    @Override
    public String toString() {
        return name;
    }

    List<String> errors() {
        return errors;
    }

    @Override
    public int priority() {
        return priority;
    }

    private void error(String what) {
        if (errors.size() < 20) {
            errors.add(name + ": " + what);
        }
    }

    private void inside(String call) {
        if (gone) {
            error(call + " after the removal replay");
        }
        if (!inUpdate) {
            error(call + " outside begin..commit");
        }
    }

    private void outside(String call, Outside kind) {
        if (gone) {
            error(call + " after the removal replay");
        }
        if (!inUpdate && !outsideAllowed.contains(kind)) {
            error(call + " outside begin..commit, from an operation that may not send it there");
        }
    }

    @Override
    public void begin() {
        if (gone) {
            error("begin after the removal replay");
        }
        if (inUpdate) {
            error("begin inside begin..commit");
        }
        inUpdate = true;
        replaying = replayPending;
        replayPending = false;
        removing = removalPending;
        removalPending = false;
    }

    @Override
    public void commit() {
        if (!inUpdate) {
            error("commit without begin");
        }
        inUpdate = false;
        replaying = false;
        startedNow.clear();
        if (!removing) {
            learnAdded(as.currentMap());
        }
        if (removing) {
            removing = false;
            gone = true;
            if (!sections.isEmpty() || !eventfds.isEmpty() || !windows.isEmpty() || !masks.isEmpty()
                    || !addedNow.isEmpty()) {
                error("after the removal replay still holds " + sections.values() + " eventfds " + eventfds
                        + " windows " + windows.keySet() + " masks " + masks);
            }
            return;
        }
        String diff = diffFrom(as.currentMap());
        if (diff != null) {
            error("at commit: " + diff);
        }
    }

    @Override
    public void regionAdd(MemoryRegionSection s) {
        inside("regionAdd " + Sec.of(s));
        Sec sec = Sec.of(s);
        Map.Entry<Long, Sec> below = sections.floorEntry(sec.start());
        Map.Entry<Long, Sec> above = sections.ceilingEntry(sec.start());
        if (below != null && overlaps(below.getValue(), sec) || above != null && overlaps(above.getValue(), sec)) {
            error("regionAdd " + sec + " over a section still held: " + sections.values());
        }
        sections.put(sec.start(), sec);
        if (s.region() instanceof RomDeviceRegion) {
            romdAddedNow.add(sec.start());
        }
        if (!replaying) { // the replay announces logging ranges with logStart(0, mask)
            addedNow.put(sec.start(), s.region().dirtyLogMask());
        }
    }

    /** At commit: the added ranges' masks and ROMD modes are the published view's; a live mask read must have said so. */
    private void learnAdded(FlatView view) {
        for (Map.Entry<Long, Integer> e : addedNow.entrySet()) {
            int i = view.lookup(e.getKey());
            FlatRange fr = i < 0 ? null : view.range(i);
            if (fr == null || fr.start() != e.getKey()) {
                continue; // the section check reports it
            }
            if (fr.dirtyLogMask() != e.getValue()) {
                error("regionAdd " + fr.region().name() + " @" + Long.toHexString(fr.start()) + ": the region's mask"
                        + " read then was " + e.getValue() + " but the view published has " + fr.dirtyLogMask());
            }
            if (fr.dirtyLogMask() != 0) {
                masks.put(fr.start(), fr.dirtyLogMask());
            }
        }
        addedNow.clear();
        for (long start : romdAddedNow) {
            int i = view.lookup(start);
            if (i >= 0 && view.range(i).start() == start) {
                romd.put(start, view.range(i).romdMode());
            }
        }
        romdAddedNow.clear();
    }

    @Override
    public void regionDel(MemoryRegionSection s) {
        Sec sec = Sec.of(s);
        inside("regionDel " + sec);
        if (!sec.equals(sections.get(sec.start()))) {
            error("regionDel " + sec + " of a section not held (held: " + sections.get(sec.start()) + ")");
            return;
        }
        if (windowsIn(sec)) {
            error("regionDel " + sec + " before its coalesced windows were deleted: " + windows.keySet());
        }
        sections.remove(sec.start());
        masks.remove(sec.start());
        addedNow.remove(sec.start());
        romd.remove(sec.start());
        romdAddedNow.remove(sec.start());
    }

    @Override
    public void regionNop(MemoryRegionSection s) {
        Sec sec = Sec.of(s);
        inside("regionNop " + sec);
        if (!sec.equals(sections.get(sec.start()))) {
            error("regionNop " + sec + " of a section not held unchanged (held: " + sections.get(sec.start()) + ")");
        }
    }

    @Override
    public void logStart(MemoryRegionSection s, int oldMask, int newMask) {
        Sec sec = Sec.of(s);
        inside("logStart " + sec);
        maskChange("logStart", sec, oldMask, newMask);
        startedNow.put(sec.start(), transition(oldMask, newMask));
        if ((newMask & ~oldMask) == 0) {
            error("logStart " + sec + " " + oldMask + "->" + newMask + " adds no client");
        }
    }

    @Override
    public void logStop(MemoryRegionSection s, int oldMask, int newMask) {
        Sec sec = Sec.of(s);
        inside("logStop " + sec);
        // A range that both gains and loses clients hears logStart(old, new) then logStop(old, new),
        // with the same masks (QEMU's address_space_update_topology_pass): the start already set it.
        Long started = startedNow.remove(sec.start());
        if (started != null && started == transition(oldMask, newMask)) {
            maskChange("logStop", sec, newMask, newMask);
        } else {
            maskChange("logStop", sec, oldMask, newMask);
        }
        if ((oldMask & ~newMask) == 0) {
            error("logStop " + sec + " " + oldMask + "->" + newMask + " removes no client");
        }
    }

    private static long transition(int oldMask, int newMask) {
        return ((long) oldMask << 32) | (newMask & 0xffffffffL);
    }

    private void maskChange(String call, Sec sec, int oldMask, int newMask) {
        if (!sec.equals(sections.get(sec.start()))) {
            error(call + " " + sec + " of a section not held");
            return;
        }
        int held = masks.getOrDefault(sec.start(), 0);
        if (held != oldMask) {
            error(call + " " + sec + " " + oldMask + "->" + newMask + " but the listener holds mask " + held);
        }
        if (newMask == 0) {
            masks.remove(sec.start());
        } else {
            masks.put(sec.start(), newMask);
        }
    }

    @Override
    public void logGlobalStart() {
        if (inUpdate && !replaying) {
            error("logGlobalStart inside an update");
        } else if (!inUpdate) {
            outside("logGlobalStart", Outside.GLOBAL_LOG);
        }
        if (globalLogging) {
            error("logGlobalStart twice");
        }
        globalLogging = true;
    }

    @Override
    public void logGlobalStop() {
        if (inUpdate) {
            error("logGlobalStop inside an update");
        }
        outside("logGlobalStop", Outside.GLOBAL_LOG);
        if (!globalLogging) {
            error("logGlobalStop without logGlobalStart");
        }
        globalLogging = false;
    }

    @Override
    public void eventfdAdd(Ioeventfd fd) {
        outside("eventfdAdd", Outside.EVENTFD);
        eventfds.add(fd);
    }

    @Override
    public void eventfdDel(Ioeventfd fd) {
        outside("eventfdDel", Outside.EVENTFD);
        if (!eventfds.remove(fd)) {
            error("eventfdDel of " + fd + " never added");
        }
    }

    @Override
    public void coalescedIoAdd(MemoryRegionSection s, long addr, long size) {
        outside("coalescedIoAdd", Outside.COALESCED);
        Sec sec = Sec.of(s);
        if (!sec.equals(sections.get(sec.start()))) {
            error("coalescedIoAdd in " + sec + ", a section not held");
        }
        windows.merge(new Window(addr, size), 1, Integer::sum);
    }

    @Override
    public void coalescedIoDel(MemoryRegionSection s, long addr, long size) {
        outside("coalescedIoDel", Outside.COALESCED);
        Window w = new Window(addr, size);
        Integer n = windows.get(w);
        if (n == null) {
            error("coalescedIoDel of " + w + " never added");
        } else if (n == 1) {
            windows.remove(w);
        } else {
            windows.put(w, n - 1);
        }
    }

    private static boolean overlaps(Sec a, Sec b) {
        BigInteger aEnd = end(a);
        BigInteger bEnd = end(b);
        return unsigned(a.start()).compareTo(bEnd) < 0 && unsigned(b.start()).compareTo(aEnd) < 0;
    }

    private boolean windowsIn(Sec sec) {
        for (Window w : windows.keySet()) {
            BigInteger a = unsigned(w.addr());
            if (a.compareTo(unsigned(sec.start())) >= 0 && a.compareTo(end(sec)) < 0) {
                return true;
            }
        }
        return false;
    }

    /**
     * Compares what the listener holds with a view and the system's current eventfds.
     *
     * @param view the view published for the address space
     * @return a description of the first difference, or null
     */
    String diffFrom(FlatView view) {
        List<Sec> expected = new ArrayList<>();
        Map<Long, Integer> expectedMasks = new HashMap<>();
        Map<Window, Integer> expectedWindows = new HashMap<>();
        Map<Long, Boolean> expectedRomd = new HashMap<>();
        for (FlatRange fr : view.ranges()) {
            expected.add(Sec.of(fr));
            if (fr.region() instanceof RomDeviceRegion) {
                expectedRomd.put(fr.start(), fr.romdMode());
            }
            if (fr.dirtyLogMask() != 0) {
                expectedMasks.put(fr.start(), fr.dirtyLogMask());
            }
            for (CoalescedRange cmr : fr.region().coalescedRanges()) {
                Window w = cut(fr, cmr);
                if (w != null) {
                    expectedWindows.merge(w, 1, Integer::sum);
                }
            }
        }
        List<Sec> held = new ArrayList<>(sections.values());
        if (!held.equals(expected)) {
            return "sections " + held + " but the view has " + expected;
        }
        if (!masks.equals(expectedMasks)) {
            return "log masks " + masks + " but the view has " + expectedMasks;
        }
        if (!romd.equals(expectedRomd)) {
            return "ROMD modes " + romd + " but the view has " + expectedRomd;
        }
        if (!windows.equals(expectedWindows)) {
            return "coalesced windows " + windows + " but the view has " + expectedWindows;
        }
        return null;
    }

    /**
     * What must hold between operations: no update open, the map as in {@link #diffFrom}, the
     * eventfds the system lists, and the global-logging state.
     *
     * @param eventfdsNow the address space's eventfds now
     * @param tracking whether global dirty tracking is on
     */
    void checkQuiescent(List<Ioeventfd> eventfdsNow, boolean tracking) {
        if (inUpdate) {
            error("begin without commit");
        }
        String diff = diffFrom(as.currentMap());
        if (diff != null) {
            error("after the operation: " + diff);
        }
        List<Ioeventfd> held = new ArrayList<>(eventfds);
        List<Ioeventfd> now = new ArrayList<>(eventfdsNow);
        held.sort(StreamModel::order);
        now.sort(StreamModel::order);
        if (!held.equals(now)) {
            error("eventfds " + held + " but the address space has " + now);
        }
        if (globalLogging != tracking) {
            error("heard global logging " + (globalLogging ? "on" : "off") + " but it is "
                    + (tracking ? "on" : "off"));
        }
    }

    /** Forgets the global-logging state: an unregistered listener is not told it stopped (QEMU neither). */
    void forgetGlobalLogging() {
        globalLogging = false;
    }

    static int order(Ioeventfd a, Ioeventfd b) {
        return Ioeventfd.before(a, b) ? -1 : Ioeventfd.before(b, a) ? 1 : 0;
    }

    /** The window in guest addresses, cut to the range (computed here, not by the engine's Int128). */
    static Window cut(FlatRange fr, CoalescedRange cmr) {
        BigInteger base = unsigned(fr.start()).subtract(unsigned(fr.offsetInRegion()));
        BigInteger lo = base.add(unsigned(cmr.offset())).max(unsigned(fr.start()));
        BigInteger hi = base.add(unsigned(cmr.offset())).add(cmr.size() == 0 ? TWO_64 : unsigned(cmr.size()))
                .min(unsigned(fr.start()).add(fr.size() == 0 ? TWO_64 : unsigned(fr.size())));
        if (lo.compareTo(hi) >= 0) {
            return null;
        }
        return new Window(lo.longValue(), hi.subtract(lo).longValue());
    }

    private static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);

    private static BigInteger unsigned(long v) {
        return new BigInteger(Long.toUnsignedString(v));
    }

    private static BigInteger end(Sec s) {
        return unsigned(s.start()).add(s.size() == 0 ? TWO_64 : unsigned(s.size()));
    }
}
