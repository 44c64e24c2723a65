package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout.OfByte;
import java.lang.foreign.ValueLayout.OfInt;
import java.lang.foreign.ValueLayout.OfLong;
import java.lang.foreign.ValueLayout.OfShort;

/**
 * struct uffd_msg: one event read from a userfaultfd (packed, 32 bytes). Besides the jextract-
 * style {@code arg} union slice, the union arms are flattened into accessors: {@code flags},
 * {@code address}, {@code ptid} (pagefault), {@code fork_ufd}, {@code remap_from}, {@code
 * remap_to}, {@code remap_len}, {@code remove_start}, {@code remove_end}.
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class uffd_msg {
    /** The C {@code sizeof(struct uffd_msg)} on x86_64. */
    public static final long SIZEOF = 32;

    private uffd_msg() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        Linux.C_CHAR.withName("event"),
        Linux.C_CHAR.withName("reserved1"),
        Linux.C_SHORT.withName("reserved2"),
        Linux.C_INT.withName("reserved3"),
        MemoryLayout.unionLayout(
            MemoryLayout.structLayout(
                Linux.C_LONG_LONG.withName("flags"),
                Linux.C_LONG_LONG.withName("address"),
                MemoryLayout.unionLayout(
                    Linux.C_INT.withName("ptid")).withName("feat"),
                MemoryLayout.paddingLayout(4)).withName("pagefault"),
            MemoryLayout.structLayout(
                Linux.C_INT.withName("ufd")).withName("fork"),
            MemoryLayout.structLayout(
                Linux.C_LONG_LONG.withName("from"),
                Linux.C_LONG_LONG.withName("to"),
                Linux.C_LONG_LONG.withName("len")).withName("remap"),
            MemoryLayout.structLayout(
                Linux.C_LONG_LONG.withName("start"),
                Linux.C_LONG_LONG.withName("end")).withName("remove"),
            MemoryLayout.structLayout(
                Linux.C_LONG_LONG.withName("reserved1"),
                Linux.C_LONG_LONG.withName("reserved2"),
                Linux.C_LONG_LONG.withName("reserved3")).withName("reserved")).withName("arg")).withName("uffd_msg");

    /**
     * Returns the layout of {@code struct uffd_msg}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct uffd_msg)}.
     *
     * @return the size in bytes
     */
    public static long sizeof() {
        return $LAYOUT.byteSize();
    }

    /**
     * Allocates one zero-filled struct.
     *
     * @param allocator where to allocate it
     * @return the new segment, {@link #sizeof()} bytes
     */
    public static MemorySegment allocate(SegmentAllocator allocator) {
        return allocator.allocate($LAYOUT);
    }

    /**
     * Allocates an array of structs.
     *
     * @param count number of elements
     * @param allocator where to allocate it
     * @return the new segment
     */
    public static MemorySegment allocateArray(long count, SegmentAllocator allocator) {
        return allocator.allocate(MemoryLayout.sequenceLayout(count, $LAYOUT));
    }

    /**
     * Returns element {@code index} of an array of structs.
     *
     * @param array the array segment
     * @param index the element index
     * @return a slice of {@link #sizeof()} bytes
     */
    public static MemorySegment asSlice(MemorySegment array, long index) {
        return array.asSlice($LAYOUT.byteSize() * index, $LAYOUT.byteSize());
    }

    /**
     * Views native memory at an address as one struct.
     *
     * @param addr a segment (usually zero-length) holding the address
     * @return a segment of {@link #sizeof()} bytes, global scope
     */
    public static MemorySegment reinterpret(MemorySegment addr) {
        return addr.reinterpret($LAYOUT.byteSize());
    }

    private static final OfByte event$LAYOUT = (OfByte) $LAYOUT.select(groupElement("event"));

    /**
     * Returns the layout of field {@code event}.
     *
     * @return the layout
     */
    public static OfByte event$layout() {
        return event$LAYOUT;
    }

    private static final long event$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code event}.
     *
     * @return the offset
     */
    public static long event$offset() {
        return event$OFFSET;
    }

    /**
     * Reads field {@code event}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static byte event(MemorySegment struct) {
        return struct.get(event$LAYOUT, event$OFFSET);
    }

    /**
     * Writes field {@code event}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void event(MemorySegment struct, byte fieldValue) {
        struct.set(event$LAYOUT, event$OFFSET, fieldValue);
    }

    private static final OfByte reserved1$LAYOUT = (OfByte) $LAYOUT.select(groupElement("reserved1"));

    /**
     * Returns the layout of field {@code reserved1}.
     *
     * @return the layout
     */
    public static OfByte reserved1$layout() {
        return reserved1$LAYOUT;
    }

    private static final long reserved1$OFFSET = 1;

    /**
     * Returns the byte offset of field {@code reserved1}.
     *
     * @return the offset
     */
    public static long reserved1$offset() {
        return reserved1$OFFSET;
    }

    /**
     * Reads field {@code reserved1}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static byte reserved1(MemorySegment struct) {
        return struct.get(reserved1$LAYOUT, reserved1$OFFSET);
    }

    /**
     * Writes field {@code reserved1}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void reserved1(MemorySegment struct, byte fieldValue) {
        struct.set(reserved1$LAYOUT, reserved1$OFFSET, fieldValue);
    }

    private static final OfShort reserved2$LAYOUT = (OfShort) $LAYOUT.select(groupElement("reserved2"));

    /**
     * Returns the layout of field {@code reserved2}.
     *
     * @return the layout
     */
    public static OfShort reserved2$layout() {
        return reserved2$LAYOUT;
    }

    private static final long reserved2$OFFSET = 2;

    /**
     * Returns the byte offset of field {@code reserved2}.
     *
     * @return the offset
     */
    public static long reserved2$offset() {
        return reserved2$OFFSET;
    }

    /**
     * Reads field {@code reserved2}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static short reserved2(MemorySegment struct) {
        return struct.get(reserved2$LAYOUT, reserved2$OFFSET);
    }

    /**
     * Writes field {@code reserved2}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void reserved2(MemorySegment struct, short fieldValue) {
        struct.set(reserved2$LAYOUT, reserved2$OFFSET, fieldValue);
    }

    private static final OfInt reserved3$LAYOUT = (OfInt) $LAYOUT.select(groupElement("reserved3"));

    /**
     * Returns the layout of field {@code reserved3}.
     *
     * @return the layout
     */
    public static OfInt reserved3$layout() {
        return reserved3$LAYOUT;
    }

    private static final long reserved3$OFFSET = 4;

    /**
     * Returns the byte offset of field {@code reserved3}.
     *
     * @return the offset
     */
    public static long reserved3$offset() {
        return reserved3$OFFSET;
    }

    /**
     * Reads field {@code reserved3}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int reserved3(MemorySegment struct) {
        return struct.get(reserved3$LAYOUT, reserved3$OFFSET);
    }

    /**
     * Writes field {@code reserved3}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void reserved3(MemorySegment struct, int fieldValue) {
        struct.set(reserved3$LAYOUT, reserved3$OFFSET, fieldValue);
    }

    private static final GroupLayout arg$LAYOUT = (GroupLayout) $LAYOUT.select(groupElement("arg"));

    /**
     * Returns the layout of field {@code arg}.
     *
     * @return the layout
     */
    public static GroupLayout arg$layout() {
        return arg$LAYOUT;
    }

    private static final long arg$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code arg}.
     *
     * @return the offset
     */
    public static long arg$offset() {
        return arg$OFFSET;
    }

    /**
     * Returns field {@code arg} as a slice of the struct (writes go through).
     *
     * @param struct the struct
     * @return the slice
     */
    public static MemorySegment arg(MemorySegment struct) {
        return struct.asSlice(arg$OFFSET, arg$LAYOUT.byteSize());
    }

    /**
     * Copies {@code fieldValue} into field {@code arg}.
     *
     * @param struct the struct
     * @param fieldValue the bytes to copy, at least the field's size
     */
    public static void arg(MemorySegment struct, MemorySegment fieldValue) {
        MemorySegment.copy(fieldValue, 0L, struct, arg$OFFSET, arg$LAYOUT.byteSize());
    }

    private static final OfLong flags$LAYOUT = (OfLong) $LAYOUT.select(groupElement("arg"), groupElement("pagefault"), groupElement("flags"));

    /**
     * Returns the layout of field {@code arg.pagefault.flags}.
     *
     * @return the layout
     */
    public static OfLong flags$layout() {
        return flags$LAYOUT;
    }

    private static final long flags$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code arg.pagefault.flags}.
     *
     * @return the offset
     */
    public static long flags$offset() {
        return flags$OFFSET;
    }

    /**
     * Reads field {@code arg.pagefault.flags}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long flags(MemorySegment struct) {
        return struct.get(flags$LAYOUT, flags$OFFSET);
    }

    /**
     * Writes field {@code arg.pagefault.flags}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void flags(MemorySegment struct, long fieldValue) {
        struct.set(flags$LAYOUT, flags$OFFSET, fieldValue);
    }

    private static final OfLong address$LAYOUT = (OfLong) $LAYOUT.select(groupElement("arg"), groupElement("pagefault"), groupElement("address"));

    /**
     * Returns the layout of field {@code arg.pagefault.address}.
     *
     * @return the layout
     */
    public static OfLong address$layout() {
        return address$LAYOUT;
    }

    private static final long address$OFFSET = 16;

    /**
     * Returns the byte offset of field {@code arg.pagefault.address}.
     *
     * @return the offset
     */
    public static long address$offset() {
        return address$OFFSET;
    }

    /**
     * Reads field {@code arg.pagefault.address}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long address(MemorySegment struct) {
        return struct.get(address$LAYOUT, address$OFFSET);
    }

    /**
     * Writes field {@code arg.pagefault.address}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void address(MemorySegment struct, long fieldValue) {
        struct.set(address$LAYOUT, address$OFFSET, fieldValue);
    }

    private static final OfInt ptid$LAYOUT = (OfInt) $LAYOUT.select(groupElement("arg"), groupElement("pagefault"), groupElement("feat"), groupElement("ptid"));

    /**
     * Returns the layout of field {@code arg.pagefault.feat.ptid}.
     *
     * @return the layout
     */
    public static OfInt ptid$layout() {
        return ptid$LAYOUT;
    }

    private static final long ptid$OFFSET = 24;

    /**
     * Returns the byte offset of field {@code arg.pagefault.feat.ptid}.
     *
     * @return the offset
     */
    public static long ptid$offset() {
        return ptid$OFFSET;
    }

    /**
     * Reads field {@code arg.pagefault.feat.ptid}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int ptid(MemorySegment struct) {
        return struct.get(ptid$LAYOUT, ptid$OFFSET);
    }

    /**
     * Writes field {@code arg.pagefault.feat.ptid}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void ptid(MemorySegment struct, int fieldValue) {
        struct.set(ptid$LAYOUT, ptid$OFFSET, fieldValue);
    }

    private static final OfInt fork_ufd$LAYOUT = (OfInt) $LAYOUT.select(groupElement("arg"), groupElement("fork"), groupElement("ufd"));

    /**
     * Returns the layout of field {@code arg.fork.ufd}.
     *
     * @return the layout
     */
    public static OfInt fork_ufd$layout() {
        return fork_ufd$LAYOUT;
    }

    private static final long fork_ufd$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code arg.fork.ufd}.
     *
     * @return the offset
     */
    public static long fork_ufd$offset() {
        return fork_ufd$OFFSET;
    }

    /**
     * Reads field {@code arg.fork.ufd}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int fork_ufd(MemorySegment struct) {
        return struct.get(fork_ufd$LAYOUT, fork_ufd$OFFSET);
    }

    /**
     * Writes field {@code arg.fork.ufd}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void fork_ufd(MemorySegment struct, int fieldValue) {
        struct.set(fork_ufd$LAYOUT, fork_ufd$OFFSET, fieldValue);
    }

    private static final OfLong remap_from$LAYOUT = (OfLong) $LAYOUT.select(groupElement("arg"), groupElement("remap"), groupElement("from"));

    /**
     * Returns the layout of field {@code arg.remap.from}.
     *
     * @return the layout
     */
    public static OfLong remap_from$layout() {
        return remap_from$LAYOUT;
    }

    private static final long remap_from$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code arg.remap.from}.
     *
     * @return the offset
     */
    public static long remap_from$offset() {
        return remap_from$OFFSET;
    }

    /**
     * Reads field {@code arg.remap.from}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long remap_from(MemorySegment struct) {
        return struct.get(remap_from$LAYOUT, remap_from$OFFSET);
    }

    /**
     * Writes field {@code arg.remap.from}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void remap_from(MemorySegment struct, long fieldValue) {
        struct.set(remap_from$LAYOUT, remap_from$OFFSET, fieldValue);
    }

    private static final OfLong remap_to$LAYOUT = (OfLong) $LAYOUT.select(groupElement("arg"), groupElement("remap"), groupElement("to"));

    /**
     * Returns the layout of field {@code arg.remap.to}.
     *
     * @return the layout
     */
    public static OfLong remap_to$layout() {
        return remap_to$LAYOUT;
    }

    private static final long remap_to$OFFSET = 16;

    /**
     * Returns the byte offset of field {@code arg.remap.to}.
     *
     * @return the offset
     */
    public static long remap_to$offset() {
        return remap_to$OFFSET;
    }

    /**
     * Reads field {@code arg.remap.to}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long remap_to(MemorySegment struct) {
        return struct.get(remap_to$LAYOUT, remap_to$OFFSET);
    }

    /**
     * Writes field {@code arg.remap.to}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void remap_to(MemorySegment struct, long fieldValue) {
        struct.set(remap_to$LAYOUT, remap_to$OFFSET, fieldValue);
    }

    private static final OfLong remap_len$LAYOUT = (OfLong) $LAYOUT.select(groupElement("arg"), groupElement("remap"), groupElement("len"));

    /**
     * Returns the layout of field {@code arg.remap.len}.
     *
     * @return the layout
     */
    public static OfLong remap_len$layout() {
        return remap_len$LAYOUT;
    }

    private static final long remap_len$OFFSET = 24;

    /**
     * Returns the byte offset of field {@code arg.remap.len}.
     *
     * @return the offset
     */
    public static long remap_len$offset() {
        return remap_len$OFFSET;
    }

    /**
     * Reads field {@code arg.remap.len}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long remap_len(MemorySegment struct) {
        return struct.get(remap_len$LAYOUT, remap_len$OFFSET);
    }

    /**
     * Writes field {@code arg.remap.len}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void remap_len(MemorySegment struct, long fieldValue) {
        struct.set(remap_len$LAYOUT, remap_len$OFFSET, fieldValue);
    }

    private static final OfLong remove_start$LAYOUT = (OfLong) $LAYOUT.select(groupElement("arg"), groupElement("remove"), groupElement("start"));

    /**
     * Returns the layout of field {@code arg.remove.start}.
     *
     * @return the layout
     */
    public static OfLong remove_start$layout() {
        return remove_start$LAYOUT;
    }

    private static final long remove_start$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code arg.remove.start}.
     *
     * @return the offset
     */
    public static long remove_start$offset() {
        return remove_start$OFFSET;
    }

    /**
     * Reads field {@code arg.remove.start}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long remove_start(MemorySegment struct) {
        return struct.get(remove_start$LAYOUT, remove_start$OFFSET);
    }

    /**
     * Writes field {@code arg.remove.start}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void remove_start(MemorySegment struct, long fieldValue) {
        struct.set(remove_start$LAYOUT, remove_start$OFFSET, fieldValue);
    }

    private static final OfLong remove_end$LAYOUT = (OfLong) $LAYOUT.select(groupElement("arg"), groupElement("remove"), groupElement("end"));

    /**
     * Returns the layout of field {@code arg.remove.end}.
     *
     * @return the layout
     */
    public static OfLong remove_end$layout() {
        return remove_end$LAYOUT;
    }

    private static final long remove_end$OFFSET = 16;

    /**
     * Returns the byte offset of field {@code arg.remove.end}.
     *
     * @return the offset
     */
    public static long remove_end$offset() {
        return remove_end$OFFSET;
    }

    /**
     * Reads field {@code arg.remove.end}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long remove_end(MemorySegment struct) {
        return struct.get(remove_end$LAYOUT, remove_end$OFFSET);
    }

    /**
     * Writes field {@code arg.remove.end}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void remove_end(MemorySegment struct, long fieldValue) {
        struct.set(remove_end$LAYOUT, remove_end$OFFSET, fieldValue);
    }
}
