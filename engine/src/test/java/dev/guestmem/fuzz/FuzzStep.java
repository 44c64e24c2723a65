package dev.guestmem.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.guestmem.MemorySystemClosedException;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.dirty.DirtyBitmapSnapshot;
import dev.guestmem.dirty.DirtyMemory;
import dev.guestmem.discard.BitmapRamDiscardManager;
import dev.guestmem.discard.DiscardPolicyException;
import dev.guestmem.flat.FlatRange;
import dev.guestmem.flat.FlatView;
import dev.guestmem.flat.FlatViewRenderer;
import dev.guestmem.flat.FlatViewRoots;
import dev.guestmem.ram.InvalidRamBlockException;
import dev.guestmem.ram.RamBackendException;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RegionException;
import dev.guestmem.region.RomDeviceRegion;
import dev.guestmem.testing.RenderOracle;
import dev.guestmem.testing.RenderOracle.Served;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.TreeSet;

/**
 * Runs one {@link FuzzOp} on a {@link FuzzMachine} and checks the brief's rule: a call that throws
 * throws one of the engine's typed exceptions and leaves the machine exactly as it was
 * ({@link StateDigest}, RAM, no callback heard); a call that succeeds leaves every published view
 * equal to a full render and to the per-address {@link RenderOracle}; RAM always matches the
 * {@link RamModel}. Accesses are checked by {@link AccessCheck}; calls on state kept across calls
 * by {@link TlbCheck}, {@link CacheCheck} and {@link DmaCheck}, and after every call that state,
 * and the dirty bitmaps ({@link DirtyModel}), are checked again.
 */
final class FuzzStep {
    /** Placements: offsets, addresses, alias offsets; edges of 2^63 and 2^64 included. */
    static final long[] ADDRS = {0, 0x800, 0x1000, 0x2000, 0x8000, 0x10000, 0x30000, 0x40000, 0x100000,
        0x7fff_ffff_ffff_f000L, Long.MIN_VALUE, -0x1000L, -0x800L, -1L};
    static final long[] SIZES = {0, 1, 0x800, 0x1000, 0x2000, 0x3000, 0x4000, 0x8000, 0x9000, 0x10000, -1L,
        Long.MIN_VALUE, Long.MAX_VALUE};
    static final int[] PRIORITIES = {0, 1, -1, 2, Integer.MAX_VALUE, Integer.MIN_VALUE};
    static final long[] EVENTFD_OFFSETS = {0, 1, 2, 4, 8, 0xff8, 0xffc, 0xfff, 0x1000, -1L, -4L};
    static final int[] EVENTFD_SIZES = {0, 1, 2, 3, 4, 8, 16, -1};
    static final long[] EVENTFD_DATA = {0, 1, 0x1234, -1L};
    static final long[] COALESCED_OFFSETS = {0, 0x10, 0xff0, 0x1000, -1L, Long.MIN_VALUE};
    static final long[] COALESCED_SIZES = {0, 1, 0x10, 0x1000, -1L, Long.MAX_VALUE};
    static final long[] DISCARD_BLOCKS = {0x1000, 0x2000, 0x800, 0x3000, 0};
    static final int[] LOG_CLIENTS = {0, 0, 0, 1, 2, -1, 3};
    static final long[] DIRTY_OFFSETS = {0, 0x1000, 0x800, 0x3000, -1L};
    static final long[] DIRTY_SIZES = {0x1000, 1, 0, 0x2000, 0x10000};
    /** How deep the fuzzer nests transactions. */
    static final int MAX_DEPTH = 3;

    private FuzzStep() {
    }

    /**
     * Runs an op and checks its outcome.
     *
     * @param m the machine
     * @param op the op
     * @return what happened: "access", "ok", the refusal's exception class, or what a call on kept
     *     state met (for {@code -Dguestmem.audit=true})
     */
    static String run(FuzzMachine m, FuzzOp op) {
        m.history.add(op.toString());
        m.dirty.beginOp();
        String outcome = "access";
        switch (op) {
            case FuzzOp.Access a -> AccessCheck.run(m, a);
            case FuzzOp.TlbFill f -> outcome = TlbCheck.fill(m, f);
            case FuzzOp.FreshVcpuLoad l -> outcome = VcpuCheck.freshLoad(m, l);
            case FuzzOp.VcpuLoad l -> outcome = VcpuCheck.load(m, l);
            case FuzzOp.VcpuStore s -> outcome = VcpuCheck.store(m, s);
            case FuzzOp.VcpuEnterBlock e -> outcome = VcpuCheck.enterBlock(m, e);
            case FuzzOp.VcpuFlush f -> outcome = VcpuCheck.flush(m, f);
            case FuzzOp.Translate t -> outcome = VcpuCheck.translate(m, t);
            case FuzzOp.CacheInit c -> outcome = CacheCheck.init(m, c);
            case FuzzOp.CacheAccess c -> outcome = CacheCheck.access(m, c);
            case FuzzOp.CacheEnd c -> outcome = CacheCheck.end(m, c);
            case FuzzOp.DmaMap d -> outcome = DmaCheck.map(m, d);
            case FuzzOp.DmaUse d -> outcome = DmaCheck.use(m, d);
            case FuzzOp.DmaUnmap d -> outcome = DmaCheck.unmap(m, d);
            case FuzzOp.DmaClient d -> outcome = DmaCheck.client(m, d);
            default -> outcome = runSetup(m, op);
        }
        // the state users keep across calls: RAM, dirty bitmaps, TLB entries, caches, mappings
        String where = where(m);
        m.ram.check(where);
        m.dirty.check(m.sys, m.blocks(), where);
        m.dirty.checkOp(where);
        TlbCheck.check(m, outcome.equals("ok"));
        CacheCheck.check(m);
        DmaCheck.check(m);
        VcpuCheck.check(m);
        return outcome;
    }

    /** @return "ok", or the refusal's exception class */
    private static String runSetup(FuzzMachine m, FuzzOp op) {
        List<MemoryRegion> described = described(m);
        StateDigest before = StateDigest.take(m.sys, described, m.log);
        Throwable thrown = null;
        try {
            apply(m, op);
        } catch (AssertionError e) {
            throw e; // a model's check inside the call
        } catch (Throwable t) {
            thrown = t;
        }
        if (thrown != null) {
            if (!typed(thrown)) {
                throw new AssertionError(where(m) + " threw an untyped " + thrown, thrown);
            }
            StateDigest after = StateDigest.take(m.sys, described, m.log);
            String why = where(m) + " was refused (" + thrown + ") but changed ";
            assertEquals(before.system(), after.system(), why + "the system");
            assertEquals(before.regions(), after.regions(), why + "a region");
            assertEquals(before.mtree(), after.mtree(), why + "info mtree");
            assertEquals(before.flat(), after.flat(), why + "info mtree -f");
            assertEquals(before.heard(), after.heard(), why + "what listeners heard: " + m.log.since(before.heard()));
            return thrown.getClass().getSimpleName();
        }
        if (m.sys.transactionDepth() == 0) {
            checkViews(m);
        }
        return "ok";
    }

    private static List<MemoryRegion> described(FuzzMachine m) {
        List<MemoryRegion> all = new java.util.ArrayList<>(m.regions);
        all.addAll(m.foreign);
        return all;
    }

    static String where(FuzzMachine m) {
        return "step " + (m.history.size() - 1) + " " + m.history.getLast();
    }

    /** The engine's typed refusals: its exception classes and the JDK's documented ones, not their subclasses. */
    private static boolean typed(Throwable t) {
        return t instanceof RegionException || t instanceof MemorySystemClosedException
                || t instanceof InvalidRamBlockException || t instanceof DiscardPolicyException
                || t instanceof RamBackendException
                || t.getClass() == IllegalStateException.class || t.getClass() == IllegalArgumentException.class
                || t.getClass() == NoSuchElementException.class;
    }

    private static void apply(FuzzMachine m, FuzzOp op) {
        switch (op) {
            case FuzzOp.Add a -> m.anyRegion(a.parent()).addSubregionOverlap(pick(ADDRS, a.addr()), m.addable(a.child()),
                    PRIORITIES[a.prio() % PRIORITIES.length]);
            case FuzzOp.Del d -> {
                // half the time from its own container, so that regions come free to be added again
                MemoryRegion child = m.anyRegion(d.child());
                MemoryRegion own = child.container();
                (d.parent() % 2 == 0 && own != null ? own : m.region(d.parent() / 2)).delSubregion(child);
            }
            case FuzzOp.SetAddress s -> m.region(s.region()).setAddress(pick(ADDRS, s.addr()));
            case FuzzOp.SetEnabled s -> m.region(s.region()).setEnabled(s.on());
            case FuzzOp.SetReadonly s -> m.region(s.region()).setReadonly(s.on());
            case FuzzOp.SetSize s -> m.region(s.region()).setSize(pick(SIZES, s.size()));
            case FuzzOp.RamResize r -> {
                if (m.region(r.region()) instanceof RamRegion rr) {
                    m.dirty.forget(rr.ramBlock()); // a resize re-dirties the block
                    long before = rr.ramBlock().usedLength();
                    rr.ramResize(pick(SIZES, r.size()));
                    if (rr.ramBlock().usedLength() != before) {
                        m.dirty.resized(rr.ramBlock()); // every page dirty again, for CODE too
                    }
                }
            }
            case FuzzOp.AliasOffset s -> {
                if (m.region(s.region()) instanceof AliasRegion a) {
                    a.setAliasOffset(pick(ADDRS, s.addr()));
                }
            }
            case FuzzOp.SetLog s -> m.region(s.region()).setLog(s.on(), LOG_CLIENTS[s.client() % LOG_CLIENTS.length]);
            case FuzzOp.SetRomd s -> {
                if (m.region(s.region()) instanceof RomDeviceRegion r) {
                    r.setRomd(s.on());
                }
            }
            case FuzzOp.Eventfd e -> {
                MemoryRegion r = m.region(e.region());
                long off = pick(EVENTFD_OFFSETS, e.offset());
                int size = EVENTFD_SIZES[e.size() % EVENTFD_SIZES.length];
                long data = pick(EVENTFD_DATA, e.data());
                var n = m.notifiers[e.notifier() % m.notifiers.length];
                if (e.add()) {
                    r.addEventfd(off, size, e.match(), data, n);
                } else {
                    r.delEventfd(off, size, e.match(), data, n);
                }
            }
            case FuzzOp.AddCoalescing c -> m.region(c.region()).addCoalescing(pick(COALESCED_OFFSETS, c.offset()),
                    pick(COALESCED_SIZES, c.size()));
            case FuzzOp.Coalescing c -> {
                MemoryRegion r = m.region(c.region());
                switch (c.call() % 4) {
                    case 0 -> r.setCoalescing();
                    case 1 -> r.clearCoalescing();
                    case 2 -> r.setFlushCoalesced();
                    default -> r.clearFlushCoalesced();
                }
            }
            case FuzzOp.Transaction t -> {
                if (t.begin()) {
                    if (m.sys.transactionDepth() < MAX_DEPTH) {
                        m.sys.transactionBegin();
                    }
                } else {
                    m.sys.transactionCommit();
                }
            }
            case FuzzOp.Destroy d -> m.region(d.region()).destroy();
            case FuzzOp.Discard d -> discard(m, d);
            case FuzzOp.Listener l -> {
                EventLog.Recorder who = m.listeners.get(l.listener() % m.listeners.size());
                if (l.register()) {
                    AddressSpace as = l.space() == 0 ? null : m.spaces.get((l.space() - 1) % m.spaces.size());
                    m.sys.registerListener(who, as);
                } else {
                    m.sys.unregisterListener(who);
                }
            }
            case FuzzOp.NewRegion n -> newRegion(m, n);
            case FuzzOp.SetFlag f -> {
                if (f.flag() % 2 == 0) {
                    m.region(f.region()).setNonvolatile(f.on());
                } else {
                    m.region(f.region()).setUnmergeable(f.on());
                }
            }
            case FuzzOp.GlobalDirtyLog g -> {
                if (g.start()) {
                    m.sys.globalDirtyLogStart();
                } else {
                    m.sys.globalDirtyLogStop();
                }
            }
            case FuzzOp.Space s -> {
                if (s.create()) {
                    if (m.spaces.size() < FuzzMachine.MAX_SPACES) {
                        m.spaces.add(m.sys.addressSpace(m.region(s.sel()), "as" + m.spaces.size()));
                    }
                } else {
                    m.sys.destroyAddressSpace(m.spaces.get(s.sel() % m.spaces.size()));
                }
            }
            case FuzzOp.Close c -> m.sys.close();
            case FuzzOp.DirtyClear d -> {
                // seven in eight: a region with RAM (else any region, for the refusals)
                List<MemoryRegion> ram = m.regions.stream().filter(x -> x.ramBlock() != null).toList();
                MemoryRegion r = d.region() % 8 == 7 || ram.isEmpty() ? m.region(d.region() / 8)
                        : ram.get((d.region() / 8) % ram.size());
                int client = d.client() % DirtyMemory.DIRTY_MEMORY_NUM;
                long size = d.size() % 3 == 0 ? r.size() : pick(DIRTY_SIZES, d.size());
                DirtyBitmapSnapshot snap = r.snapshotAndClearDirty(pick(DIRTY_OFFSETS, d.offset()), size, client);
                m.dirty.cleared(m.sys, m.blocks(), snap, client, where(m));
            }
            default -> throw new IllegalArgumentException(op + " is no setup call");
        }
    }

    private static void newRegion(FuzzMachine m, FuzzOp.NewRegion n) {
        if (m.regions.size() >= FuzzMachine.MAX_REGIONS) {
            return;
        }
        String name = "new" + m.regions.size();
        long size = pick(SIZES, n.size());
        MemoryRegion r = switch (n.kind() % 4) {
            case 0 -> new AliasRegion(m.sys, null, name, m.anyRegion(n.target()), pick(ADDRS, n.offset()), size);
            case 1 -> new ContainerRegion(m.sys, null, name, size);
            case 2 -> new IoRegion(m.sys, name, FuzzMachine.deviceOps(), name, size);
            default -> RamRegion.allocate(m.sys, null, name, size);
        };
        m.regions.add(r);
        if (r.ramBlock() != null) {
            m.ram.track(r.ramBlock());
        }
    }

    private static void discard(FuzzMachine m, FuzzOp.Discard d) {
        if (!(m.region(d.region()) instanceof RamRegion r)) {
            return;
        }
        m.dirty.forget(r.ramBlock()); // a discard may clear its pages' bits
        switch (d.call() % 3) {
            case 0 -> {
                BitmapRamDiscardManager.attach(r, DISCARD_BLOCKS[d.blockSize() % DISCARD_BLOCKS.length]);
                // attached: the whole region was discarded, so it reads zeros
                m.ram.zero(r.ramBlock(), 0, Math.min(r.size(), r.ramBlock().usedLength()));
            }
            case 1 -> {
                if (r.ramDiscardManager() instanceof BitmapRamDiscardManager mgr) {
                    mgr.detach();
                }
            }
            default -> r.setRamDiscardManager(null);
        }
    }

    private static long pick(long[] from, int sel) {
        return from[sel % from.length];
    }

    /** Every published view equals a full render of its root and the per-address oracle; destroyed spaces show nothing. */
    static void checkViews(FuzzMachine m) {
        List<AddressSpace> live = m.sys.addressSpaces();
        for (AddressSpace as : m.spaces) {
            boolean isLive = live.stream().anyMatch(l -> l == as);
            MemoryRegion key = isLive ? FlatViewRoots.of(as.root()) : null;
            FlatView view = as.currentMap();
            List<FlatRange> ranges = view.ranges();
            String what = where(m) + ": space '" + as.name() + "'";
            assertEquals(key == null ? List.of() : FlatViewRenderer.render(key), ranges,
                    what + " published a view that differs from a full render");
            for (long addr : points(ranges)) {
                Served expected = RenderOracle.serve(key, addr);
                int idx = view.lookup(addr);
                Served actual = null;
                if (idx >= 0) {
                    FlatRange r = view.range(idx);
                    actual = new Served(r.region(), r.offsetInRegion() + (addr - r.start()), r.readonly());
                }
                if (!java.util.Objects.equals(expected, actual)) {
                    fail(what + " at 0x" + Long.toHexString(addr) + ": oracle " + expected + ", view " + actual
                            + " in " + ranges);
                }
            }
        }
    }

    /** Range edges and their neighbours, the edges of 2^63 and 2^64, and the placements. */
    static TreeSet<Long> points(List<FlatRange> ranges) {
        TreeSet<Long> points = new TreeSet<>(Long::compareUnsigned);
        for (long a : new long[] {0, -1L, Long.MIN_VALUE, Long.MAX_VALUE}) {
            points.add(a);
        }
        for (FlatRange r : ranges) {
            points.add(r.start());
            points.add(r.last());
            points.add(r.start() - 1);
            points.add(r.last() + 1);
        }
        for (long a : ADDRS) {
            points.add(a);
            points.add(a - 1);
            points.add(a + 0x1000);
        }
        return points;
    }
}
