package dev.guestmem.listener;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.listener.StreamModel.Outside;
import dev.guestmem.listener.StreamModel.Sec;
import dev.guestmem.listener.StreamModel.Window;
import dev.guestmem.region.CoalescedRange;
import dev.guestmem.region.MemoryRegionSection;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A listener of every address space ({@code registerListener(l, null)}) that rebuilds what it was
 * told. No callback says which address space it is about (a section carries only the view it was
 * taken from, shared by spaces with one root and the old view during an update; an eventfd carries
 * nothing), so it holds the union of every space's map as multisets: sections, eventfds and
 * coalesced windows. Dirty-log masks are left to the per-space {@link StreamModel}s: which of two
 * equal sections (one region at one address in two spaces) a mask change is about cannot be told,
 * and a replay's {@code logStart(0, mask)} cannot be told from an update's. Between operations that
 * union must be what the system's address spaces show; on the way, a {@code regionDel},
 * {@code regionNop} or mask change must be of a section it holds, and callbacks must come inside {@code begin}..{@code commit} as the docs say,
 * with no update inside another (new spaces and destroyed ones come as replays of their own).
 *
 * <p><b>Thread safety.</b> One property run, one thread.
 */
final class AllSpacesModel implements MemoryListener {
    private final String name;
    private final MemorySystem sys;
    private final int priority;
    private final Map<Sec, Integer> held = new HashMap<>();
    private final List<Ioeventfd> eventfds = new ArrayList<>();
    private final Map<Window, Integer> windows = new HashMap<>();
    private final List<String> errors = new ArrayList<>();
    private boolean inUpdate;
    private boolean globalLogging;
    private boolean gone;
    private Set<Outside> outsideAllowed = Set.of();

    AllSpacesModel(String name, MemorySystem sys, int priority) {
        this.name = name;
        this.sys = sys;
        this.priority = priority;
    }

    @Override
    public int priority() {
        return priority;
    }

    @Override
    public String toString() {
        return name;
    }

    List<String> errors() {
        return errors;
    }

    /** @param kinds what the operation about to run may send outside an update */
    void allowOutside(Set<Outside> kinds) {
        outsideAllowed = kinds;
    }

    /** Unregistered: nothing more may come, and it must hold nothing; global logging is forgotten. */
    void removed() {
        if (!held.isEmpty() || !eventfds.isEmpty() || !windows.isEmpty()) {
            error("after the removal replay still holds " + held.keySet() + " eventfds " + eventfds
                    + " windows " + windows.keySet());
        }
        gone = true;
        globalLogging = false;
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

    private static <K> boolean take(Map<K, Integer> bag, K key) {
        Integer n = bag.get(key);
        if (n == null) {
            return false;
        }
        if (n == 1) {
            bag.remove(key);
        } else {
            bag.put(key, n - 1);
        }
        return true;
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
    }

    @Override
    public void commit() {
        if (!inUpdate) {
            error("commit without begin");
        }
        inUpdate = false;
    }

    @Override
    public void regionAdd(MemoryRegionSection s) {
        Sec sec = Sec.of(s);
        inside("regionAdd " + sec);
        held.merge(sec, 1, Integer::sum);
    }

    @Override
    public void regionDel(MemoryRegionSection s) {
        Sec sec = Sec.of(s);
        inside("regionDel " + sec);
        if (!take(held, sec)) {
            error("regionDel " + sec + " of a section not held");
        }
    }

    @Override
    public void regionNop(MemoryRegionSection s) {
        heldOnly("regionNop", Sec.of(s));
    }

    // Which copy of an equal section a mask change is about cannot be told (see the class comment):
    // the masks are the per-space models' to check; here only that the section is held.
    @Override
    public void logStart(MemoryRegionSection s, int oldMask, int newMask) {
        heldOnly("logStart", Sec.of(s));
    }

    @Override
    public void logStop(MemoryRegionSection s, int oldMask, int newMask) {
        heldOnly("logStop", Sec.of(s));
    }

    private void heldOnly(String call, Sec sec) {
        inside(call + " " + sec);
        if (!held.containsKey(sec)) {
            error(call + " " + sec + " of a section not held");
        }
    }

    @Override
    public void logGlobalStart() {
        if (!inUpdate) {
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
        if (!held.containsKey(Sec.of(s))) {
            error("coalescedIoAdd in " + Sec.of(s) + ", a section not held");
        }
        windows.merge(new Window(addr, size), 1, Integer::sum);
    }

    @Override
    public void coalescedIoDel(MemoryRegionSection s, long addr, long size) {
        outside("coalescedIoDel", Outside.COALESCED);
        if (!take(windows, new Window(addr, size))) {
            error("coalescedIoDel of " + new Window(addr, size) + " never added");
        }
    }

    /** Between operations: what it holds is the union of every address space's view and eventfds. */
    void checkQuiescent() {
        if (inUpdate) {
            error("begin without commit");
        }
        Map<Sec, Integer> expected = new HashMap<>();
        Map<Window, Integer> expectedWindows = new HashMap<>();
        List<Ioeventfd> expectedFds = new ArrayList<>();
        for (AddressSpace as : sys.addressSpaces()) {
            for (FlatRange fr : as.currentMap().ranges()) {
                expected.merge(Sec.of(fr), 1, Integer::sum);
                for (CoalescedRange cmr : fr.region().coalescedRanges()) {
                    Window w = StreamModel.cut(fr, cmr);
                    if (w != null) {
                        expectedWindows.merge(w, 1, Integer::sum);
                    }
                }
            }
            expectedFds.addAll(sys.ioeventfds(as));
        }
        if (!held.equals(expected)) {
            error("after the operation holds " + held + " but the address spaces show " + expected);
        }
        if (!windows.equals(expectedWindows)) {
            error("coalesced windows " + windows + " but the address spaces show " + expectedWindows);
        }
        List<Ioeventfd> have = new ArrayList<>(eventfds);
        have.sort(StreamModel::order);
        expectedFds.sort(StreamModel::order);
        if (!have.equals(expectedFds)) {
            error("eventfds " + have + " but the address spaces have " + expectedFds);
        }
        if (globalLogging != sys.isGlobalDirtyTracking()) {
            error("heard global logging " + (globalLogging ? "on" : "off") + " but it is "
                    + (sys.isGlobalDirtyTracking() ? "on" : "off"));
        }
    }
}
