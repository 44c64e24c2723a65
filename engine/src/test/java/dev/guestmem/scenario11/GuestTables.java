package dev.guestmem.scenario11;

import dev.guestmem.access.AddressSpace;

/**
 * The guest driver's side of the IOMMU tables: it writes directory entries and PTEs with CPU stores
 * into RAM (the model reads them back on a walk). Level-0 tables are allocated on first use from the
 * table area and never freed. Not thread-safe: one driver thread.
 */
final class GuestTables {
    static final long READ = 1;
    static final long WRITE = 2;

    private final AddressSpace memory;
    private final long[] roots = new long[PasidIommu.CONTEXTS];
    private long nextTable = IommuMachine.TABLES;

    GuestTables(AddressSpace memory) {
        this.memory = memory;
        for (int ctx = 0; ctx < roots.length; ctx++) {
            roots[ctx] = allocTable();
            memory.stqLe(IommuMachine.DIR + ctx * 8L, roots[ctx] | 1);
        }
    }

    private long allocTable() {
        if (nextTable >= IommuMachine.TABLES_END) {
            throw new IllegalStateException("table area full");
        }
        long t = nextTable;
        nextTable += PasidIommu.PAGE;
        memory.set(t, (byte) 0, PasidIommu.PAGE, dev.guestmem.access.MemTxAttrs.UNSPECIFIED);
        return t;
    }

    /** Writes the PTE of {@code pfn} in {@code ctx} (0 unmaps); the caller invalidates. */
    void setPte(int ctx, long pfn, long pte) {
        long l1Addr = roots[ctx] + (pfn >>> 9) * 8;
        long l1 = memory.ldqLe(l1Addr);
        if ((l1 & 1) == 0) {
            l1 = allocTable() | 1;
            java.lang.invoke.VarHandle.releaseFence(); // the zeroed table before the entry that points at it
            memory.stqLe(l1Addr, l1);
        }
        java.lang.invoke.VarHandle.releaseFence(); // the page's contents before the PTE (a guest's wmb)
        memory.stqLe((l1 & ~0xfffL) + (pfn & 511) * 8, pte);
    }

    /** Points a context's directory entry somewhere else (bad input: a table outside RAM). */
    void setRoot(int ctx, long entry) {
        memory.stqLe(IommuMachine.DIR + ctx * 8L, entry);
    }

    long root(int ctx) {
        return roots[ctx];
    }
}
