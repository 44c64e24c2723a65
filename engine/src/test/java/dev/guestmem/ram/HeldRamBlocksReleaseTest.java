package dev.guestmem.ram;

import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * {@link HeldRamBlocks#close()} lets every held block go even if releasing one fails, whatever the
 * failure: a RAM block notifier's throw on removal included, and that block leaves the list and is
 * unmapped all the same.
 */
class HeldRamBlocksReleaseTest {
    private static final class NotifierBoom extends RuntimeException {
        private static final long serialVersionUID = 1L;

        NotifierBoom() {
            super("a notifier's ramBlockRemoved threw");
        }
    }

    @Test
    void aThrowingRemovalNotifierLetsTheOtherHeldBlocksGo() {
        RamList list = new RamList();
        RamBlock a = RamBlock.anonymous("a", 0x1000);
        RamBlock b = RamBlock.anonymous("b", 0x1000);
        list.add(a);
        list.add(b);
        NotifierBoom boom = new NotifierBoom();
        list.addNotifier(new RamBlockNotifier() {
            @Override
            public void ramBlockRemoved(RamBlock block) {
                if (block == a) {
                    throw boom;
                }
            }
        });
        HeldRamBlocks held = list.holdBlocks();
        a.close(); // the creators let go: the hold has the last references
        b.close();
        RuntimeException out = assertThrows(RuntimeException.class, held::close);
        assertSame(boom, out);
        assertTrue(b.isReleased(), "b's last reference was dropped although a's release failed");
        assertTrue(a.isReleased(), "a is unmapped although a notifier threw as it left the list");
        assertTrue(list.blocks().isEmpty(), () -> "both left the list: " + list.blocks());
    }
}
