package dev.guestmem.scenario9;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.MemoryListener;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * A listener after the accelerator (higher priority number: its {@code commit} runs later) that
 * compares the slot table with the view just published at every commit, whoever made it (the
 * test's driver, or a vCPU whose flash command leaves ROMD mode). It records, never throws: a
 * throw would reach the thread that made the change.
 */
final class CommitChecker implements MemoryListener {
    private final AddressSpace as;
    private final FakeKvm kvm;
    final Queue<String> mismatches = new ConcurrentLinkedQueue<>();
    private long commits;

    CommitChecker(AddressSpace as, FakeKvm kvm) {
        this.as = as;
        this.kvm = kvm;
    }

    @Override
    public int priority() {
        return 20;
    }

    @Override
    public void commit() {
        commits++;
        List<SlotOracle.Expected> want = SlotOracle.slots(as.currentMap());
        List<SlotOracle.Expected> have = SlotOracle.slots(kvm);
        if (!want.equals(have)) {
            mismatches.add("commit " + commits + " on " + Thread.currentThread().getName() + ": view " + want
                    + " slots " + have);
        }
    }
}
