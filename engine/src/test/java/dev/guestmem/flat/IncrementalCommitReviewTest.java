package dev.guestmem.flat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import org.junit.jupiter.api.Test;

/**
 * Review of the incremental commit (what {@link TopologyDirt} records, {@link IncrementalRender}
 * patches and the view cache keeps): sequences of public calls, each aimed at one assumption behind
 * "nothing outside these windows changed", checked against a full render of the tree.
 */
class IncrementalCommitReviewTest {
    private static void assertFullRender(MemoryRegion root, AddressSpace as) {
        assertEquals(FlatViewRenderer.render(FlatViewRoots.of(root)), as.currentMap().ranges(), as.name());
    }

    /**
     * A space created by a listener callback while a commit is published, rooted where a view of the
     * cache before the commit was (no space shows that root any more: the commit changed another
     * space's flat-view root), got that old view, although the transaction had changed the tree under
     * it; the commit kept it in the cache as it was.
     */
    @Test
    void aSpaceCreatedFromACallbackGetsACurrentViewOfARootTheCommitNoLongerShows() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", 0x100000);
            ContainerRegion board = new ContainerRegion(sys, null, "board", 0x10000);
            root.addSubregion(0, board); // the only child, at 0: the space's view is board's
            board.addSubregion(0x1000, new IoRegion(sys, null, null, "uart", 0x100));
            AddressSpace as = sys.addressSpace(root, "as");
            assertEquals(board, as.currentMap().root());

            AddressSpace[] created = new AddressSpace[1];
            boolean[] armed = {false};
            sys.registerListener(new MemoryListener() {
                @Override
                public void commit() {
                    if (armed[0] && created[0] == null) {
                        created[0] = sys.addressSpace(board, "board-as");
                    }
                }
            }, as);

            armed[0] = true; // not during the registration's replay
            sys.transactionBegin();
            board.addSubregion(0x2000, new IoRegion(sys, null, null, "rtc", 0x100)); // changes board's view
            root.addSubregion(0x20000, new IoRegion(sys, null, null, "late", 0x100)); // as's view is root's now
            sys.transactionCommit();

            assertNotNull(created[0]);
            assertFullRender(root, as);
            assertFullRender(board, created[0]);
        }
    }

    /**
     * A space created by a listener's {@code commit()} callback, rooted at a tree no space showed,
     * got a render that the commit then dropped from the cache with its references, so its regions
     * could be finalized (and their RAM unmapped) while the space still showed them.
     */
    @Test
    void aSpaceCreatedFromACommitCallbackKeepsTheReferencesOfItsView() {
        try (MemorySystem sys = new MemorySystem()) {
            ContainerRegion root = new ContainerRegion(sys, null, "root", 0x100000);
            AddressSpace as = sys.addressSpace(root, "as");
            ContainerRegion card = new ContainerRegion(sys, null, "card", 0x10000);
            IoRegion bar = new IoRegion(sys, null, null, "bar", 0x100);
            card.addSubregion(0x1000, bar);

            AddressSpace[] created = new AddressSpace[1];
            boolean[] armed = {false};
            sys.registerListener(new MemoryListener() {
                @Override
                public void commit() {
                    if (armed[0] && created[0] == null) {
                        created[0] = sys.addressSpace(card, "card-as");
                    }
                }
            }, as);
            armed[0] = true;
            root.addSubregion(0x20000, new IoRegion(sys, null, null, "dev", 0x100)); // a commit

            assertNotNull(created[0]);
            assertFullRender(card, created[0]);
            sys.transactionBegin();
            try {
                card.delSubregion(bar);
                bar.destroy(); // card-as shows bar until the commit: its view's reference keeps it
                assertFalse(bar.isFinalized());
            } finally {
                sys.transactionCommit();
            }
        }
    }
}
