package dev.guestmem.discard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionSection;
import dev.guestmem.region.RamRegion;
import org.junit.jupiter.api.Test;

/**
 * QEMU's {@code ram_block_discard_*} rules (system/physmem.c): each claim refused exactly when QEMU
 * returns {@code -EBUSY}, per system, and what the virtio-mem-shaped manager claims.
 */
class RamDiscardPolicyTest {
    @Test
    void everyPairOfClaimsConflictsAsInQemu() {
        // [held][asked]: whether `asked` is refused while `held` is in force
        RamDiscardPolicy.Kind[] k = RamDiscardPolicy.Kind.values(); // DISABLE, DISABLE_UNCOORDINATED, REQUIRE, REQUIRE_COORDINATED
        boolean[][] refused = {
            {false, false, true, true},   // DISABLE held
            {false, false, true, false},  // DISABLE_UNCOORDINATED held
            {true, true, false, false},   // REQUIRE held
            {true, false, false, false},  // REQUIRE_COORDINATED held
        };
        for (int held = 0; held < k.length; held++) {
            for (int asked = 0; asked < k.length; asked++) {
                RamDiscardPolicy p = new RamDiscardPolicy();
                try (RamDiscardPolicy.Claim c = claim(p, k[held])) {
                    assertEquals(k[held], c.kind());
                    if (refused[held][asked]) {
                        int a = asked;
                        DiscardPolicyException e = assertThrows(DiscardPolicyException.class, () -> claim(p, k[a]),
                                k[held] + " then " + k[asked]);
                        assertTrue(e.getMessage().contains("EBUSY"), e.getMessage());
                        assertEquals(0, p.count(k[asked]), "a refusal changes nothing");
                    } else {
                        claim(p, k[asked]).close();
                    }
                }
                assertEquals(0, p.count(k[held]));
                claim(p, k[asked]).close(); // once the claim is back, nothing stands in the way
            }
        }
    }

    private static RamDiscardPolicy.Claim claim(RamDiscardPolicy p, RamDiscardPolicy.Kind kind) {
        return switch (kind) {
            case DISABLE -> p.disable();
            case DISABLE_UNCOORDINATED -> p.disableUncoordinated();
            case REQUIRE -> p.require();
            case REQUIRE_COORDINATED -> p.requireCoordinated();
        };
    }

    @Test
    void isDisabledAndIsRequiredCountEitherKindAndClaimsCloseOnce() {
        RamDiscardPolicy p = new RamDiscardPolicy();
        assertFalse(p.isDisabled());
        RamDiscardPolicy.Claim a = p.disableUncoordinated("vfio");
        RamDiscardPolicy.Claim b = p.disableUncoordinated("vfio2");
        assertTrue(p.isDisabled(), "uncoordinated disabled counts as disabled (a balloon must not discard)");
        a.close();
        a.close();
        assertEquals(1, p.count(RamDiscardPolicy.Kind.DISABLE_UNCOORDINATED), "a second close is a no-op");
        b.close();
        assertFalse(p.isDisabled());
        try (RamDiscardPolicy.Claim c = p.requireCoordinated("virtio-mem")) {
            assertTrue(p.isRequired());
            assertTrue(c.toString().contains("virtio-mem"));
        }
        assertFalse(p.isRequired());
    }

    @Test
    void theBitmapManagerRequiresCoordinatedDiscardsPerSystem() {
        MemorySystem sys = new MemorySystem();
        MemorySystem other = new MemorySystem();
        RamDiscardPolicy.Claim pinning = sys.ramDiscardPolicy().disable("a pinning device");
        RamRegion mem = RamRegion.allocate(sys, null, "vmem", 4 << 20);
        DiscardPolicyException e = assertThrows(DiscardPolicyException.class,
                () -> BitmapRamDiscardManager.attach(mem, 2 << 20));
        assertTrue(e.getMessage().contains("a pinning device"), e.getMessage());
        assertNull(mem.ramDiscardManager(), "nothing changed");
        BitmapRamDiscardManager.attach(RamRegion.allocate(other, null, "vmem", 4 << 20), 2 << 20).detach(); // no globals
        pinning.close();
        BitmapRamDiscardManager m = BitmapRamDiscardManager.attach(mem, 2 << 20);
        assertSame(m, mem.ramDiscardManager());
        assertEquals(1, sys.ramDiscardPolicy().count(RamDiscardPolicy.Kind.REQUIRE_COORDINATED));
        assertThrows(DiscardPolicyException.class, () -> sys.ramDiscardPolicy().disable("vfio without a listener"));
        sys.ramDiscardPolicy().disableUncoordinated("vfio with a listener").close(); // coexists
        ContainerRegion root = new ContainerRegion(sys, null, "root", MemoryRegion.SIZE_2_64);
        root.addSubregion(0, mem);
        assertThrows(RamDiscardManagerException.class, m::detach, "mapped");
        root.delSubregion(mem);
        m.detach();
        m.detach();
        assertNull(mem.ramDiscardManager());
        assertEquals(0, sys.ramDiscardPolicy().count(RamDiscardPolicy.Kind.REQUIRE_COORDINATED));
    }

    @Test
    void clearingTheBitmapManagerThroughTheRegionGivesItsClaimBackAsDetachDoes() {
        MemorySystem sys = new MemorySystem();
        RamRegion mem = RamRegion.allocate(sys, null, "vmem", 4 << 20);
        BitmapRamDiscardManager m = BitmapRamDiscardManager.attach(mem, 2 << 20);
        RamDiscardListener quiet = RamDiscardListener.ramDiscardListener(s -> { }, s -> { }, false);
        m.registerListener(quiet, new MemoryRegionSection(mem, null, 0, mem.size(), 0, false, false, false));
        RamDiscardManagerException busy = assertThrows(RamDiscardManagerException.class,
                () -> mem.setRamDiscardManager(null), "a listener is still registered, as detach() refuses");
        assertTrue(busy.getMessage().contains("listener"), busy.getMessage());
        assertSame(m, mem.ramDiscardManager(), "the refusal changed nothing");
        m.unregisterListener(quiet);

        mem.setRamDiscardManager(null);
        assertNull(mem.ramDiscardManager());
        assertEquals(0, sys.ramDiscardPolicy().count(RamDiscardPolicy.Kind.REQUIRE_COORDINATED),
                "the manager's claim went with it");
        sys.ramDiscardPolicy().disable("a pinning device now comes").close();
        m.detach(); // already off: nothing to do
        RamDiscardManagerException reuse = assertThrows(RamDiscardManagerException.class,
                () -> mem.setRamDiscardManager(m), "a detached manager holds no claim: attach a new one");
        assertTrue(reuse.getMessage().contains("detached"), reuse.getMessage());
        assertNull(mem.ramDiscardManager());
        BitmapRamDiscardManager.attach(mem, 2 << 20).detach();
        assertEquals(0, sys.ramDiscardPolicy().count(RamDiscardPolicy.Kind.REQUIRE_COORDINATED));
    }
}
