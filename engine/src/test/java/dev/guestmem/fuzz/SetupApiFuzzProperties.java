package dev.guestmem.fuzz;

import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.AfterFailureMode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;
import net.jqwik.api.lifecycle.AfterTry;
import net.jqwik.api.state.Action;
import net.jqwik.api.state.ActionChain;
import net.jqwik.api.state.Transformer;

/**
 * A stateful fuzzer of the setup API: random chains of valid and invalid calls (adding a region to
 * itself, to its descendant, twice, from another machine, at addresses wrapping 2^64; every setter
 * with edge values; eventfds, coalescing, transactions, destroy, RAM discard managers, listeners,
 * address spaces, {@code close()}) and guest accesses of every size at edge addresses, on a
 * {@link FuzzMachine}. After every call {@link FuzzStep} checks that a refusal is typed and changed
 * nothing, that a success leaves views equal to the per-address oracle, and that RAM matches its
 * model. It also keeps what users keep across calls (soft-TLB entries, one or two vCPU TLBs with
 * their loads, stores and block entries, caches, DMA mappings and map clients, dirty bitmaps, pages
 * a JIT translated) and checks it after every later call against {@link TlbCheck},
 * {@link VcpuCheck}, {@link CacheCheck}, {@link DmaCheck} and {@link DirtyModel}. Each try's machine
 * is one of four variants: with or without TCG (the CODE dirty client on for RAM), one or two vCPUs.
 * {@code -Dguestmem.property.tries=N} runs it longer (as every property here).
 */
class SetupApiFuzzProperties {
    /** With {@code -Dguestmem.audit=true}, jqwik reports how each kind of call ended. */
    private static final boolean AUDIT = Boolean.getBoolean("guestmem.audit");
    /** Calls per chain. */
    private static final int STEPS = 60;

    /** The machines made by the chains of the current try, closed after it. */
    private final List<FuzzMachine> made = new ArrayList<>();
    /** The variant the current try's machine is made as: TCG-like (CODE on for RAM), two vCPUs. */
    private boolean tcg;
    private boolean twoVcpus;

    @Property(afterFailure = AfterFailureMode.SAMPLE_FIRST)
    void badInputChangesNothing(@ForAll("chains") ActionChain<FuzzMachine> chain, @ForAll boolean tcg,
                                @ForAll boolean twoVcpus) {
        this.tcg = tcg;
        this.twoVcpus = twoVcpus;
        chain.run();
    }

    /** Closing must work whatever the chain did; it frees the machines' memory. */
    @AfterTry
    void closeMachines() {
        try {
            for (FuzzMachine m : made) {
                m.close();
            }
        } finally {
            made.clear();
        }
    }

    @Provide
    Arbitrary<ActionChain<FuzzMachine>> chains() {
        return ActionChain.<FuzzMachine>startWith(this::newMachine)
                .withAction(24, action(Combinators.combine(sel(), sel(), sel(), sel(), sel(), bool(), Arbitraries.longs())
                        .as(FuzzOp.Access::new)))
                .withAction(12, action(Combinators.combine(sel(), sel(), sel(), sel()).as(FuzzOp.Add::new)))
                .withAction(8, action(Combinators.combine(sel(), sel()).as(FuzzOp.Del::new)))
                .withAction(6, action(Combinators.combine(sel(), sel()).as(FuzzOp.SetAddress::new)))
                .withAction(4, action(Combinators.combine(sel(), bool()).as(FuzzOp.SetEnabled::new)))
                .withAction(4, action(Combinators.combine(sel(), bool()).as(FuzzOp.SetReadonly::new)))
                .withAction(4, action(Combinators.combine(sel(), sel()).as(FuzzOp.SetSize::new)))
                .withAction(4, action(Combinators.combine(sel(), sel()).as(FuzzOp.RamResize::new)))
                .withAction(4, action(Combinators.combine(sel(), sel()).as(FuzzOp.AliasOffset::new)))
                .withAction(4, action(Combinators.combine(sel(), bool(), sel()).as(FuzzOp.SetLog::new)))
                .withAction(2, action(Combinators.combine(sel(), bool()).as(FuzzOp.SetRomd::new)))
                .withAction(6, action(Combinators.combine(bool(), sel(), sel(), sel(), bool(), sel(), sel())
                        .as(FuzzOp.Eventfd::new)))
                .withAction(4, action(Combinators.combine(sel(), sel(), sel()).as(FuzzOp.AddCoalescing::new)))
                .withAction(4, action(Combinators.combine(sel(), sel()).as(FuzzOp.Coalescing::new)))
                .withAction(6, action(bool().map(FuzzOp.Transaction::new)))
                .withAction(4, action(sel().map(FuzzOp.Destroy::new)))
                .withAction(4, action(Combinators.combine(sel(), sel(), sel()).as(FuzzOp.Discard::new)))
                .withAction(4, action(Combinators.combine(bool(), sel(), sel()).as(FuzzOp.Listener::new)))
                .withAction(6, action(Combinators.combine(sel(), sel(), sel(), sel()).as(FuzzOp.NewRegion::new)))
                .withAction(2, action(Combinators.combine(sel(), sel(), bool()).as(FuzzOp.SetFlag::new)))
                .withAction(2, action(bool().map(FuzzOp.GlobalDirtyLog::new)))
                .withAction(4, action(Combinators.combine(bool(), sel()).as(FuzzOp.Space::new)))
                .withAction(1, action(Arbitraries.just(new FuzzOp.Close())))
                .withAction(6, action(Combinators.combine(sel(), sel(), sel()).as(FuzzOp.TlbFill::new)))
                .withAction(2, action(Combinators.combine(sel(), sel(), sel(), sel(), bool()).as(FuzzOp.FreshVcpuLoad::new)))
                .withAction(6, action(Combinators.combine(sel(), sel(), sel(), sel(), bool()).as(FuzzOp.VcpuLoad::new)))
                .withAction(6, action(Combinators.combine(sel(), sel(), sel(), sel(), bool(), Arbitraries.longs())
                        .as(FuzzOp.VcpuStore::new)))
                .withAction(8, action(sel().map(FuzzOp.VcpuEnterBlock::new)))
                .withAction(1, action(sel().map(FuzzOp.VcpuFlush::new)))
                .withAction(3, action(Combinators.combine(sel(), sel(), sel(), bool()).as(FuzzOp.Translate::new)))
                .withAction(6, action(Combinators.combine(sel(), sel(), sel(), sel(), sel(), bool())
                        .as(FuzzOp.CacheInit::new)))
                .withAction(6, action(Combinators.combine(sel(), sel(), sel(), sel(), Arbitraries.longs())
                        .as(FuzzOp.CacheAccess::new)))
                .withAction(2, action(Combinators.combine(sel(), bool(), sel(), sel()).as(FuzzOp.CacheEnd::new)))
                .withAction(5, action(Combinators.combine(sel(), sel(), sel(), sel(), bool()).as(FuzzOp.DmaMap::new)))
                .withAction(3, action(Combinators.combine(sel(), sel(), sel(), Arbitraries.longs())
                        .as(FuzzOp.DmaUse::new)))
                .withAction(4, action(Combinators.combine(sel(), sel()).as(FuzzOp.DmaUnmap::new)))
                .withAction(2, action(Combinators.combine(sel(), sel(), sel()).as(FuzzOp.DmaClient::new)))
                .withAction(3, action(Combinators.combine(sel(), sel(), sel(), sel()).as(FuzzOp.DirtyClear::new)))
                .withMaxTransformations(STEPS);
    }

    private FuzzMachine newMachine() {
        FuzzMachine m = new FuzzMachine(tcg, twoVcpus);
        made.add(m);
        return m;
    }

    private static Arbitrary<Integer> sel() {
        return Arbitraries.integers().between(0, 255);
    }

    private static Arbitrary<Boolean> bool() {
        return Arbitraries.of(true, false);
    }

    private static Action.Independent<FuzzMachine> action(Arbitrary<? extends FuzzOp> ops) {
        return () -> ops.map(op -> Transformer.mutate(op.toString(), m -> {
            String outcome = FuzzStep.run(m, op);
            if (AUDIT) { // what the calls did: how many were refused, and how
                Statistics.collect(op.getClass().getSimpleName(), m.sys.isClosed() ? "closed " + outcome : outcome);
            }
        }));
    }
}
