package dev.guestmem.discard;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Who may discard RAM, machine-wide: QEMU's {@code ram_block_discard_disable},
 * {@code ram_block_uncoordinated_discard_disable}, {@code ram_block_discard_require} and
 * {@code ram_block_coordinated_discard_require}, with their counters, kept per
 * {@link dev.guestmem.MemorySystem} ({@link dev.guestmem.MemorySystem#ramDiscardPolicy()}) instead of
 * in globals.
 *
 * <p>Devices that pin guest memory (VFIO without a {@link RamDiscardManager} listener, a vhost
 * backend that maps everything once) <em>disable</em> discards; one that follows a manager's
 * listeners disables only <em>uncoordinated</em> ones (a balloon's, which no manager announces).
 * Devices that give memory back <em>require</em> discards: a balloon any discard, virtio-mem
 * ({@link BitmapRamDiscardManager}) only coordinated ones. A claim that contradicts one in force
 * is refused, exactly as QEMU's functions return {@code -EBUSY}:
 * <ul>
 * <li>{@link #disable()}: refused while any discard is required;</li>
 * <li>{@link #disableUncoordinated()}: refused while uncoordinated discards are required
 *     ({@link #require()});</li>
 * <li>{@link #require()}: refused while any discard is disabled;</li>
 * <li>{@link #requireCoordinated()}: refused while all discards are disabled ({@link #disable()}).</li>
 * </ul>
 * Each granted claim is a {@link Claim}; closing it takes it back (QEMU's call with {@code false}).
 * A balloon checks {@link #isDisabled()} before it discards, as QEMU's does.
 *
 * <p><b>Thread safety.</b> Every method is synchronized on this policy; claims may be closed from
 * any thread. A refusal names the claims in its way.
 */
public final class RamDiscardPolicy {
    /** What a claim holds. */
    public enum Kind {
        /** Any discard disabled ({@code ram_block_discard_disable}). */
        DISABLE,
        /** Uncoordinated discards disabled ({@code ram_block_uncoordinated_discard_disable}). */
        DISABLE_UNCOORDINATED,
        /** Any discard required ({@code ram_block_discard_require}). */
        REQUIRE,
        /** Coordinated discards required ({@code ram_block_coordinated_discard_require}). */
        REQUIRE_COORDINATED
    }

    /** The claims in force, per kind (insertion order, for messages). */
    private final List<List<Claim>> held = List.of(new ArrayList<>(), new ArrayList<>(), new ArrayList<>(),
            new ArrayList<>());

    /** Creates a policy with no claim (a system makes its own). */
    public RamDiscardPolicy() {
    }

    /**
     * Disables every discard.
     *
     * @param who what asks, for the refusal's message
     * @return the claim
     * @throws DiscardPolicyException while some discard is required
     */
    public Claim disable(String who) {
        return claim(Kind.DISABLE, who, Kind.REQUIRE, Kind.REQUIRE_COORDINATED);
    }

    /** @return {@link #disable(String)} without a name */
    public Claim disable() {
        return disable("a device");
    }

    /**
     * Disables discards that no {@link RamDiscardManager} coordinates.
     *
     * @param who what asks, for the refusal's message
     * @return the claim
     * @throws DiscardPolicyException while uncoordinated discards are required
     */
    public Claim disableUncoordinated(String who) {
        return claim(Kind.DISABLE_UNCOORDINATED, who, Kind.REQUIRE);
    }

    /** @return {@link #disableUncoordinated(String)} without a name */
    public Claim disableUncoordinated() {
        return disableUncoordinated("a device");
    }

    /**
     * Requires that any discard works.
     *
     * @param who what asks, for the refusal's message
     * @return the claim
     * @throws DiscardPolicyException while some discard is disabled
     */
    public Claim require(String who) {
        return claim(Kind.REQUIRE, who, Kind.DISABLE, Kind.DISABLE_UNCOORDINATED);
    }

    /** @return {@link #require(String)} without a name */
    public Claim require() {
        return require("a device");
    }

    /**
     * Requires that discards announced through a {@link RamDiscardManager} work.
     *
     * @param who what asks, for the refusal's message
     * @return the claim
     * @throws DiscardPolicyException while every discard is disabled
     */
    public Claim requireCoordinated(String who) {
        return claim(Kind.REQUIRE_COORDINATED, who, Kind.DISABLE);
    }

    /** @return {@link #requireCoordinated(String)} without a name */
    public Claim requireCoordinated() {
        return requireCoordinated("a device");
    }

    /** @return {@code ram_block_discard_is_disabled}: any discard is disabled, or the uncoordinated ones */
    public synchronized boolean isDisabled() {
        return count(Kind.DISABLE) > 0 || count(Kind.DISABLE_UNCOORDINATED) > 0;
    }

    /** @return {@code ram_block_discard_is_required}: any discard is required, or the coordinated ones */
    public synchronized boolean isRequired() {
        return count(Kind.REQUIRE) > 0 || count(Kind.REQUIRE_COORDINATED) > 0;
    }

    /**
     * @param kind a kind of claim
     * @return how many claims of that kind are in force
     */
    public synchronized int count(Kind kind) {
        return held.get(kind.ordinal()).size();
    }

    private synchronized Claim claim(Kind kind, String who, Kind... conflicts) {
        Objects.requireNonNull(who, "who");
        for (Kind c : conflicts) {
            List<Claim> in = held.get(c.ordinal());
            if (!in.isEmpty()) {
                throw new DiscardPolicyException(who + " cannot " + describe(kind) + ": claims to " + describe(c)
                        + " are held by " + in.stream().map(Claim::who).toList() + " (QEMU: -EBUSY)");
            }
        }
        Claim claim = new Claim(kind, who);
        held.get(kind.ordinal()).add(claim);
        return claim;
    }

    private synchronized void release(Claim claim) {
        held.get(claim.kind.ordinal()).remove(claim);
    }

    private static String describe(Kind k) {
        return switch (k) {
            case DISABLE -> "disable RAM discards";
            case DISABLE_UNCOORDINATED -> "disable uncoordinated RAM discards";
            case REQUIRE -> "require RAM discards";
            case REQUIRE_COORDINATED -> "require coordinated RAM discards";
        };
    }

    /**
     * One granted claim; {@link #close()} takes it back.
     *
     * <p><b>Thread safety.</b> {@link #close()} is idempotent: only the first call counts.
     */
    public final class Claim implements AutoCloseable {
        private final Kind kind;
        private final String who;
        private final AtomicBoolean closed = new AtomicBoolean();

        private Claim(Kind kind, String who) {
            this.kind = kind;
            this.who = who;
        }

        /** @return what the claim holds */
        public Kind kind() {
            return kind;
        }

        /** @return who asked */
        public String who() {
            return who;
        }

        /** @return whether it was taken back */
        public boolean isClosed() {
            return closed.get();
        }

        /** Takes the claim back (QEMU's call with {@code false}). */
        @Override
        public void close() {
            if (closed.compareAndSet(false, true)) {
                release(this);
            }
        }

        @Override
        public String toString() {
            return "Claim[" + who + ": " + describe(kind) + (isClosed() ? ", closed" : "") + "]";
        }
    }
}
