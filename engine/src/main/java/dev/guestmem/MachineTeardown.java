package dev.guestmem;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.ram.RamBlock;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RegionTeardown;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The body of {@link MemorySystem#close()}: undoes a machine in the order a careful user would,
 * with the system's public calls, so every listener hears what it would hear from those calls.
 * <ol>
 *   <li>every listener is unregistered (each hears its {@code regionDel}s, as QEMU's
 *       {@code memory_listener_unregister});</li>
 *   <li>the regions to tear down are collected while the spaces still show them: every region
 *       reachable from an address space's root (subregions, alias targets, aliases of those, and the
 *       containers above them), and every region over a RAM block of the machine, mapped or not,
 *       with its tree;</li>
 *   <li>{@link RegionTeardown#destroy} does the rest: every address space is destroyed (accesses
 *       through a kept handle are decode errors), the collected regions leave their containers (one
 *       transaction), lose their RAM discard manager, and are destroyed. A region nobody else
 *       references is finalized at once, and a RAM region's block reference goes with it: a block
 *       the machine allocated is unmapped now, a block the user built keeps the user's reference
 *       until {@link dev.guestmem.ram.RamBlock#close()}.</li>
 *   <li>every block still in the machine's RAM list leaves it, so that a block the user built can
 *       back another machine.</li>
 * </ol>
 * A step that throws (a listener, a region) does not stop the rest; the first throw comes at the end.
 *
 * <p>Regions the machine made but never mapped and that own no RAM are not reachable from anything
 * it keeps; they hold no host memory and are left to the garbage collector.
 *
 * <p><b>Thread safety.</b> Topology lock held, outside any notification and transaction.
 */
final class MachineTeardown {
    private final MemorySystem system;

    MachineTeardown(MemorySystem system) {
        this.system = system;
    }

    /**
     * Tears the machine down.
     *
     * @param listeners every registered listener ({@code memory_listeners}, priority order)
     * @return what the steps threw (the first, the rest suppressed in it), or null
     */
    Throwable run(List<MemoryListener> listeners) {
        Throwable failed = null;
        for (MemoryListener l : listeners) {
            failed = ListenerCalls.tell(failed, () -> system.unregisterListener(l));
        }
        List<MemoryRegion> regions = reachableRegions();
        failed = ListenerCalls.tell(failed, () -> RegionTeardown.destroy(system, system.addressSpaces(), regions));
        // A block still listed is the user's, or held by a section copy or cache: it leaves this
        // machine's ram_addr space, or it could never back another machine (QEMU's qemu_ram_free
        // takes it out of ram_list with its region). A held one still unmaps on its last unref.
        for (RamBlock b : system.ramList().blocks()) {
            failed = ListenerCalls.tell(failed, () -> system.ramList().remove(b));
        }
        return failed;
    }

    /** @return every region an address space shows or a RAM block backs, with the trees they and their aliases are in */
    private List<MemoryRegion> reachableRegions() {
        Set<MemoryRegion> found = new LinkedHashSet<>(); // regions compare by identity; found order, for repeatable runs
        ArrayDeque<MemoryRegion> todo = new ArrayDeque<>();
        for (AddressSpace as : system.addressSpaces()) {
            todo.push(as.root());
        }
        todo.addAll(system.ramBlockRegions().allRegions());
        while (!todo.isEmpty()) {
            MemoryRegion r = todo.pop();
            if (!found.add(r)) {
                continue;
            }
            todo.addAll(r.subregions());
            if (r.container() != null) {
                todo.push(r.container());
            }
            if (r instanceof AliasRegion alias) {
                todo.push(alias.target());
            }
            // an alias in a container nothing maps still maps its target (memory_region_is_mapped),
            // which a discard manager's detach refuses: it goes too, with its tree
            todo.addAll(r.aliasReferrers());
        }
        return new ArrayList<>(found);
    }
}
