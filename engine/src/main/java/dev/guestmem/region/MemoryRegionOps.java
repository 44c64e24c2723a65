package dev.guestmem.region;

import dev.guestmem.access.MemTxAttrs;

/**
 * The callbacks and access rules of an MMIO region, as QEMU's {@code MemoryRegionOps}.
 *
 * <p>Exactly one of {@code read}/{@code readWithAttrs} and one of {@code write}/{@code writeWithAttrs}
 * is used (the plain one when both are set, as QEMU does). A missing callback is a decode error, not a
 * crash (QEMU's CVE-2020-15469 class). {@code valid} says which accesses the device accepts at all;
 * {@code impl} says which sizes the callbacks implement, and the access path splits or widens accesses
 * to fit ({@code access_with_adjusted_size}).
 *
 * <p>Immutable and thread-safe; build once with {@link #builder()}.
 */
public final class MemoryRegionOps {
    /** Plain read callback: returns the value in the low {@code size} bytes. */
    @FunctionalInterface
    public interface Read {
        /**
         * Reads a register.
         *
         * @param addr offset in the region
         * @param size access size in bytes (1, 2, 4 or 8)
         * @return the value, in the device's byte order
         */
        long read(long addr, int size);
    }

    /** Plain write callback. */
    @FunctionalInterface
    public interface Write {
        /**
         * Writes a register.
         *
         * @param addr offset in the region
         * @param data the value, in the device's byte order, in the low {@code size} bytes
         * @param size access size in bytes
         */
        void write(long addr, long data, int size);
    }

    /** Read callback that sees the attributes and can fail. */
    @FunctionalInterface
    public interface ReadWithAttrs {
        /**
         * Reads a register.
         *
         * @param addr offset in the region
         * @param size access size in bytes
         * @param attrs the transaction's attributes
         * @param out receives the value
         * @return a {@link dev.guestmem.access.MemTxResult}
         */
        int read(long addr, int size, MemTxAttrs attrs, MmioValue out);
    }

    /** Write callback that sees the attributes and can fail. */
    @FunctionalInterface
    public interface WriteWithAttrs {
        /**
         * Writes a register.
         *
         * @param addr offset in the region
         * @param data the value
         * @param size access size in bytes
         * @param attrs the transaction's attributes
         * @return a {@link dev.guestmem.access.MemTxResult}
         */
        int write(long addr, long data, int size, MemTxAttrs attrs);
    }

    /** QEMU's {@code valid.accepts}: may veto any access before size checks. */
    @FunctionalInterface
    public interface Accepts {
        /**
         * Decides whether the device takes an access.
         *
         * @param addr offset in the region
         * @param size access size in bytes
         * @param isWrite whether it is a write
         * @param attrs the transaction's attributes
         * @return false to reject it (decode error)
         */
        boolean accepts(long addr, int size, boolean isWrite, MemTxAttrs attrs);
    }

    private final Read read;
    private final Write write;
    private final ReadWithAttrs readWithAttrs;
    private final WriteWithAttrs writeWithAttrs;
    private final Endianness endianness;
    private final int validMinAccessSize;
    private final int validMaxAccessSize;
    private final boolean validUnaligned;
    private final Accepts accepts;
    private final int implMinAccessSize;
    private final int implMaxAccessSize;
    private final boolean implUnaligned;
    private final int plainReadSizes;
    private final int plainWriteSizes;

    /** A copy of {@code o} in byte order {@code endianness}. */
    private MemoryRegionOps(MemoryRegionOps o, Endianness endianness) {
        this.read = o.read;
        this.write = o.write;
        this.readWithAttrs = o.readWithAttrs;
        this.writeWithAttrs = o.writeWithAttrs;
        this.endianness = endianness;
        this.validMinAccessSize = o.validMinAccessSize;
        this.validMaxAccessSize = o.validMaxAccessSize;
        this.validUnaligned = o.validUnaligned;
        this.accepts = o.accepts;
        this.implMinAccessSize = o.implMinAccessSize;
        this.implMaxAccessSize = o.implMaxAccessSize;
        this.implUnaligned = o.implUnaligned;
        this.plainReadSizes = o.plainReadSizes;
        this.plainWriteSizes = o.plainWriteSizes;
    }

    /**
     * These ops as a region of a machine whose target has {@code targetOrder} holds them:
     * {@link Endianness#NATIVE} resolved to that order ({@code devend_big_endian}), anything else
     * unchanged (this same object).
     *
     * @param targetOrder the target's byte order
     * @return ops whose endianness is {@link Endianness#LITTLE} or {@link Endianness#BIG}
     */
    MemoryRegionOps forTarget(java.nio.ByteOrder targetOrder) {
        return endianness == Endianness.NATIVE ? new MemoryRegionOps(this, Endianness.of(targetOrder)) : this;
    }

    private MemoryRegionOps(Builder b) {
        this.read = b.read;
        this.write = b.write;
        this.readWithAttrs = b.readWithAttrs;
        this.writeWithAttrs = b.writeWithAttrs;
        this.endianness = b.endianness;
        this.validMinAccessSize = b.validMin;
        this.validMaxAccessSize = b.validMax;
        this.validUnaligned = b.validUnaligned;
        this.accepts = b.accepts;
        this.implMinAccessSize = b.implMin;
        this.implMaxAccessSize = b.implMax;
        this.implUnaligned = b.implUnaligned;
        int reads = 0;
        int writes = 0;
        for (int size = 1; size <= 8; size <<= 1) {
            boolean valid = validMaxAccessSize == 0 || (size <= validMaxAccessSize && size >= validMinAccessSize);
            boolean oneCall = accepts == null && valid && size >= implMinAccessSize() && size <= implMaxAccessSize();
            if (read != null && oneCall) {
                reads |= size;
            }
            if (write != null && oneCall) {
                writes |= size;
            }
        }
        this.plainReadSizes = reads;
        this.plainWriteSizes = writes;
    }

    /**
     * The access sizes (bit {@code size} for 1, 2, 4, 8) whose reads are one call of the plain
     * {@link #read()} callback with no {@link #accepts()} hook and no size adjustment: the MMIO fast
     * path's precomputed decision (TARGETS P4). Alignment is still checked per access.
     *
     * @return the size mask
     */
    public int plainReadSizes() {
        return plainReadSizes;
    }

    /**
     * The access sizes whose writes are one call of the plain {@link #write()} callback, as
     * {@link #plainReadSizes()} for reads (the MMIO store fast path of a soft TLB's device page).
     *
     * @return the size mask
     */
    public int plainWriteSizes() {
        return plainWriteSizes;
    }

    /**
     * @return a builder with QEMU's defaults for an ops struct that leaves the fields unset: byte
     *     order {@link Endianness#NATIVE} ({@code DEVICE_NATIVE_ENDIAN}, the enum's zero: the
     *     target's order, little-endian unless the system was made for a big-endian target), any
     *     valid size, impl 1..4
     */
    public static Builder builder() {
        return new Builder();
    }

    /** @return the plain read callback, or null */
    public Read read() {
        return read;
    }

    /** @return the plain write callback, or null */
    public Write write() {
        return write;
    }

    /** @return the read callback with attributes, or null */
    public ReadWithAttrs readWithAttrs() {
        return readWithAttrs;
    }

    /** @return the write callback with attributes, or null */
    public WriteWithAttrs writeWithAttrs() {
        return writeWithAttrs;
    }

    /** @return the device's byte order */
    public Endianness endianness() {
        return endianness;
    }

    /** @return {@code valid.min_access_size} as given (0 = unset) */
    public int validMinAccessSize() {
        return validMinAccessSize;
    }

    /** @return {@code valid.max_access_size} as given (0 = any size is valid) */
    public int validMaxAccessSize() {
        return validMaxAccessSize;
    }

    /** @return {@code valid.unaligned} */
    public boolean validUnaligned() {
        return validUnaligned;
    }

    /** @return {@code valid.accepts}, or null */
    public Accepts accepts() {
        return accepts;
    }

    /** @return {@code impl.min_access_size} with QEMU's default applied (1 when unset) */
    public int implMinAccessSize() {
        return implMinAccessSize == 0 ? 1 : implMinAccessSize;
    }

    /** @return {@code impl.max_access_size} with QEMU's default applied (4 when unset) */
    public int implMaxAccessSize() {
        return implMaxAccessSize == 0 ? 4 : implMaxAccessSize;
    }

    /** @return {@code impl.unaligned} */
    public boolean implUnaligned() {
        return implUnaligned;
    }

    /** Builds {@link MemoryRegionOps}; sizes must be 0 (unset) or 1, 2, 4 or 8. */
    public static final class Builder {
        private Read read;
        private Write write;
        private ReadWithAttrs readWithAttrs;
        private WriteWithAttrs writeWithAttrs;
        private Endianness endianness = Endianness.NATIVE; // QEMU: an unset .endianness is DEVICE_NATIVE_ENDIAN
        private int validMin;
        private int validMax;
        private boolean validUnaligned;
        private Accepts accepts;
        private int implMin;
        private int implMax;
        private boolean implUnaligned;

        private Builder() {
        }

        /**
         * @param fn plain read callback
         * @return this builder
         */
        public Builder read(Read fn) {
            this.read = fn;
            return this;
        }

        /**
         * @param fn plain write callback
         * @return this builder
         */
        public Builder write(Write fn) {
            this.write = fn;
            return this;
        }

        /**
         * @param fn read callback with attributes
         * @return this builder
         */
        public Builder readWithAttrs(ReadWithAttrs fn) {
            this.readWithAttrs = fn;
            return this;
        }

        /**
         * @param fn write callback with attributes
         * @return this builder
         */
        public Builder writeWithAttrs(WriteWithAttrs fn) {
            this.writeWithAttrs = fn;
            return this;
        }

        /**
         * @param e the device's byte order
         * @return this builder
         */
        public Builder endianness(Endianness e) {
            this.endianness = java.util.Objects.requireNonNull(e, "endianness");
            return this;
        }

        /**
         * QEMU's {@code .valid}.
         *
         * @param min minimum access size the device accepts (0 = unset)
         * @param max maximum access size the device accepts (0 = any)
         * @param unaligned whether unaligned accesses are accepted
         * @return this builder
         */
        public Builder valid(int min, int max, boolean unaligned) {
            this.validMin = checkSize("valid.min", min);
            this.validMax = checkSize("valid.max", max);
            this.validUnaligned = unaligned;
            return this;
        }

        /**
         * @param fn QEMU's {@code valid.accepts}
         * @return this builder
         */
        public Builder accepts(Accepts fn) {
            this.accepts = fn;
            return this;
        }

        /**
         * QEMU's {@code .impl}.
         *
         * @param min smallest size the callbacks implement (0 = default 1)
         * @param max largest size the callbacks implement (0 = default 4)
         * @param unaligned whether the callbacks handle unaligned accesses
         * @return this builder
         */
        public Builder impl(int min, int max, boolean unaligned) {
            this.implMin = checkSize("impl.min", min);
            this.implMax = checkSize("impl.max", max);
            this.implUnaligned = unaligned;
            return this;
        }

        /** @return the ops */
        public MemoryRegionOps build() {
            if (validMin != 0 && validMax != 0 && validMin > validMax) {
                throw new IllegalArgumentException("valid.min " + validMin + " > valid.max " + validMax);
            }
            if (implMin != 0 && implMax != 0 && implMin > implMax) {
                throw new IllegalArgumentException("impl.min " + implMin + " > impl.max " + implMax);
            }
            return new MemoryRegionOps(this);
        }

        private static int checkSize(String what, int size) {
            if (size != 0 && size != 1 && size != 2 && size != 4 && size != 8) {
                throw new IllegalArgumentException(what + " must be 0, 1, 2, 4 or 8, not " + size);
            }
            return size;
        }
    }
}
