package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.ValueLayout.OfInt;
import java.lang.foreign.ValueLayout.OfLong;

/**
 * struct stat as x86_64 glibc lays it out (fstat's result).
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class stat {
    /** The C {@code sizeof(struct stat)} on x86_64. */
    public static final long SIZEOF = 144;

    private stat() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        Linux.C_LONG_LONG.withName("st_dev"),
        Linux.C_LONG_LONG.withName("st_ino"),
        Linux.C_LONG_LONG.withName("st_nlink"),
        Linux.C_INT.withName("st_mode"),
        Linux.C_INT.withName("st_uid"),
        Linux.C_INT.withName("st_gid"),
        Linux.C_INT.withName("__pad0"),
        Linux.C_LONG_LONG.withName("st_rdev"),
        Linux.C_LONG.withName("st_size"),
        Linux.C_LONG.withName("st_blksize"),
        Linux.C_LONG.withName("st_blocks"),
        timespec.layout().withName("st_atim"),
        timespec.layout().withName("st_mtim"),
        timespec.layout().withName("st_ctim"),
        MemoryLayout.sequenceLayout(3, Linux.C_LONG).withName("__glibc_reserved")).withName("stat");

    /**
     * Returns the layout of {@code struct stat}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct stat)}.
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

    private static final OfLong st_dev$LAYOUT = (OfLong) $LAYOUT.select(groupElement("st_dev"));

    /**
     * Returns the layout of field {@code st_dev}.
     *
     * @return the layout
     */
    public static OfLong st_dev$layout() {
        return st_dev$LAYOUT;
    }

    private static final long st_dev$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code st_dev}.
     *
     * @return the offset
     */
    public static long st_dev$offset() {
        return st_dev$OFFSET;
    }

    /**
     * Reads field {@code st_dev}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long st_dev(MemorySegment struct) {
        return struct.get(st_dev$LAYOUT, st_dev$OFFSET);
    }

    /**
     * Writes field {@code st_dev}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void st_dev(MemorySegment struct, long fieldValue) {
        struct.set(st_dev$LAYOUT, st_dev$OFFSET, fieldValue);
    }

    private static final OfLong st_ino$LAYOUT = (OfLong) $LAYOUT.select(groupElement("st_ino"));

    /**
     * Returns the layout of field {@code st_ino}.
     *
     * @return the layout
     */
    public static OfLong st_ino$layout() {
        return st_ino$LAYOUT;
    }

    private static final long st_ino$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code st_ino}.
     *
     * @return the offset
     */
    public static long st_ino$offset() {
        return st_ino$OFFSET;
    }

    /**
     * Reads field {@code st_ino}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long st_ino(MemorySegment struct) {
        return struct.get(st_ino$LAYOUT, st_ino$OFFSET);
    }

    /**
     * Writes field {@code st_ino}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void st_ino(MemorySegment struct, long fieldValue) {
        struct.set(st_ino$LAYOUT, st_ino$OFFSET, fieldValue);
    }

    private static final OfLong st_nlink$LAYOUT = (OfLong) $LAYOUT.select(groupElement("st_nlink"));

    /**
     * Returns the layout of field {@code st_nlink}.
     *
     * @return the layout
     */
    public static OfLong st_nlink$layout() {
        return st_nlink$LAYOUT;
    }

    private static final long st_nlink$OFFSET = 16;

    /**
     * Returns the byte offset of field {@code st_nlink}.
     *
     * @return the offset
     */
    public static long st_nlink$offset() {
        return st_nlink$OFFSET;
    }

    /**
     * Reads field {@code st_nlink}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long st_nlink(MemorySegment struct) {
        return struct.get(st_nlink$LAYOUT, st_nlink$OFFSET);
    }

    /**
     * Writes field {@code st_nlink}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void st_nlink(MemorySegment struct, long fieldValue) {
        struct.set(st_nlink$LAYOUT, st_nlink$OFFSET, fieldValue);
    }

    private static final OfInt st_mode$LAYOUT = (OfInt) $LAYOUT.select(groupElement("st_mode"));

    /**
     * Returns the layout of field {@code st_mode}.
     *
     * @return the layout
     */
    public static OfInt st_mode$layout() {
        return st_mode$LAYOUT;
    }

    private static final long st_mode$OFFSET = 24;

    /**
     * Returns the byte offset of field {@code st_mode}.
     *
     * @return the offset
     */
    public static long st_mode$offset() {
        return st_mode$OFFSET;
    }

    /**
     * Reads field {@code st_mode}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int st_mode(MemorySegment struct) {
        return struct.get(st_mode$LAYOUT, st_mode$OFFSET);
    }

    /**
     * Writes field {@code st_mode}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void st_mode(MemorySegment struct, int fieldValue) {
        struct.set(st_mode$LAYOUT, st_mode$OFFSET, fieldValue);
    }

    private static final OfInt st_uid$LAYOUT = (OfInt) $LAYOUT.select(groupElement("st_uid"));

    /**
     * Returns the layout of field {@code st_uid}.
     *
     * @return the layout
     */
    public static OfInt st_uid$layout() {
        return st_uid$LAYOUT;
    }

    private static final long st_uid$OFFSET = 28;

    /**
     * Returns the byte offset of field {@code st_uid}.
     *
     * @return the offset
     */
    public static long st_uid$offset() {
        return st_uid$OFFSET;
    }

    /**
     * Reads field {@code st_uid}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int st_uid(MemorySegment struct) {
        return struct.get(st_uid$LAYOUT, st_uid$OFFSET);
    }

    /**
     * Writes field {@code st_uid}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void st_uid(MemorySegment struct, int fieldValue) {
        struct.set(st_uid$LAYOUT, st_uid$OFFSET, fieldValue);
    }

    private static final OfInt st_gid$LAYOUT = (OfInt) $LAYOUT.select(groupElement("st_gid"));

    /**
     * Returns the layout of field {@code st_gid}.
     *
     * @return the layout
     */
    public static OfInt st_gid$layout() {
        return st_gid$LAYOUT;
    }

    private static final long st_gid$OFFSET = 32;

    /**
     * Returns the byte offset of field {@code st_gid}.
     *
     * @return the offset
     */
    public static long st_gid$offset() {
        return st_gid$OFFSET;
    }

    /**
     * Reads field {@code st_gid}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int st_gid(MemorySegment struct) {
        return struct.get(st_gid$LAYOUT, st_gid$OFFSET);
    }

    /**
     * Writes field {@code st_gid}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void st_gid(MemorySegment struct, int fieldValue) {
        struct.set(st_gid$LAYOUT, st_gid$OFFSET, fieldValue);
    }

    private static final OfInt __pad0$LAYOUT = (OfInt) $LAYOUT.select(groupElement("__pad0"));

    /**
     * Returns the layout of field {@code __pad0}.
     *
     * @return the layout
     */
    public static OfInt __pad0$layout() {
        return __pad0$LAYOUT;
    }

    private static final long __pad0$OFFSET = 36;

    /**
     * Returns the byte offset of field {@code __pad0}.
     *
     * @return the offset
     */
    public static long __pad0$offset() {
        return __pad0$OFFSET;
    }

    /**
     * Reads field {@code __pad0}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int __pad0(MemorySegment struct) {
        return struct.get(__pad0$LAYOUT, __pad0$OFFSET);
    }

    /**
     * Writes field {@code __pad0}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void __pad0(MemorySegment struct, int fieldValue) {
        struct.set(__pad0$LAYOUT, __pad0$OFFSET, fieldValue);
    }

    private static final OfLong st_rdev$LAYOUT = (OfLong) $LAYOUT.select(groupElement("st_rdev"));

    /**
     * Returns the layout of field {@code st_rdev}.
     *
     * @return the layout
     */
    public static OfLong st_rdev$layout() {
        return st_rdev$LAYOUT;
    }

    private static final long st_rdev$OFFSET = 40;

    /**
     * Returns the byte offset of field {@code st_rdev}.
     *
     * @return the offset
     */
    public static long st_rdev$offset() {
        return st_rdev$OFFSET;
    }

    /**
     * Reads field {@code st_rdev}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long st_rdev(MemorySegment struct) {
        return struct.get(st_rdev$LAYOUT, st_rdev$OFFSET);
    }

    /**
     * Writes field {@code st_rdev}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void st_rdev(MemorySegment struct, long fieldValue) {
        struct.set(st_rdev$LAYOUT, st_rdev$OFFSET, fieldValue);
    }

    private static final OfLong st_size$LAYOUT = (OfLong) $LAYOUT.select(groupElement("st_size"));

    /**
     * Returns the layout of field {@code st_size}.
     *
     * @return the layout
     */
    public static OfLong st_size$layout() {
        return st_size$LAYOUT;
    }

    private static final long st_size$OFFSET = 48;

    /**
     * Returns the byte offset of field {@code st_size}.
     *
     * @return the offset
     */
    public static long st_size$offset() {
        return st_size$OFFSET;
    }

    /**
     * Reads field {@code st_size}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long st_size(MemorySegment struct) {
        return struct.get(st_size$LAYOUT, st_size$OFFSET);
    }

    /**
     * Writes field {@code st_size}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void st_size(MemorySegment struct, long fieldValue) {
        struct.set(st_size$LAYOUT, st_size$OFFSET, fieldValue);
    }

    private static final OfLong st_blksize$LAYOUT = (OfLong) $LAYOUT.select(groupElement("st_blksize"));

    /**
     * Returns the layout of field {@code st_blksize}.
     *
     * @return the layout
     */
    public static OfLong st_blksize$layout() {
        return st_blksize$LAYOUT;
    }

    private static final long st_blksize$OFFSET = 56;

    /**
     * Returns the byte offset of field {@code st_blksize}.
     *
     * @return the offset
     */
    public static long st_blksize$offset() {
        return st_blksize$OFFSET;
    }

    /**
     * Reads field {@code st_blksize}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long st_blksize(MemorySegment struct) {
        return struct.get(st_blksize$LAYOUT, st_blksize$OFFSET);
    }

    /**
     * Writes field {@code st_blksize}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void st_blksize(MemorySegment struct, long fieldValue) {
        struct.set(st_blksize$LAYOUT, st_blksize$OFFSET, fieldValue);
    }

    private static final OfLong st_blocks$LAYOUT = (OfLong) $LAYOUT.select(groupElement("st_blocks"));

    /**
     * Returns the layout of field {@code st_blocks}.
     *
     * @return the layout
     */
    public static OfLong st_blocks$layout() {
        return st_blocks$LAYOUT;
    }

    private static final long st_blocks$OFFSET = 64;

    /**
     * Returns the byte offset of field {@code st_blocks}.
     *
     * @return the offset
     */
    public static long st_blocks$offset() {
        return st_blocks$OFFSET;
    }

    /**
     * Reads field {@code st_blocks}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long st_blocks(MemorySegment struct) {
        return struct.get(st_blocks$LAYOUT, st_blocks$OFFSET);
    }

    /**
     * Writes field {@code st_blocks}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void st_blocks(MemorySegment struct, long fieldValue) {
        struct.set(st_blocks$LAYOUT, st_blocks$OFFSET, fieldValue);
    }

    private static final GroupLayout st_atim$LAYOUT = (GroupLayout) $LAYOUT.select(groupElement("st_atim"));

    /**
     * Returns the layout of field {@code st_atim}.
     *
     * @return the layout
     */
    public static GroupLayout st_atim$layout() {
        return st_atim$LAYOUT;
    }

    private static final long st_atim$OFFSET = 72;

    /**
     * Returns the byte offset of field {@code st_atim}.
     *
     * @return the offset
     */
    public static long st_atim$offset() {
        return st_atim$OFFSET;
    }

    /**
     * Returns field {@code st_atim} as a slice of the struct (writes go through).
     *
     * @param struct the struct
     * @return the slice
     */
    public static MemorySegment st_atim(MemorySegment struct) {
        return struct.asSlice(st_atim$OFFSET, st_atim$LAYOUT.byteSize());
    }

    /**
     * Copies {@code fieldValue} into field {@code st_atim}.
     *
     * @param struct the struct
     * @param fieldValue the bytes to copy, at least the field's size
     */
    public static void st_atim(MemorySegment struct, MemorySegment fieldValue) {
        MemorySegment.copy(fieldValue, 0L, struct, st_atim$OFFSET, st_atim$LAYOUT.byteSize());
    }

    private static final GroupLayout st_mtim$LAYOUT = (GroupLayout) $LAYOUT.select(groupElement("st_mtim"));

    /**
     * Returns the layout of field {@code st_mtim}.
     *
     * @return the layout
     */
    public static GroupLayout st_mtim$layout() {
        return st_mtim$LAYOUT;
    }

    private static final long st_mtim$OFFSET = 88;

    /**
     * Returns the byte offset of field {@code st_mtim}.
     *
     * @return the offset
     */
    public static long st_mtim$offset() {
        return st_mtim$OFFSET;
    }

    /**
     * Returns field {@code st_mtim} as a slice of the struct (writes go through).
     *
     * @param struct the struct
     * @return the slice
     */
    public static MemorySegment st_mtim(MemorySegment struct) {
        return struct.asSlice(st_mtim$OFFSET, st_mtim$LAYOUT.byteSize());
    }

    /**
     * Copies {@code fieldValue} into field {@code st_mtim}.
     *
     * @param struct the struct
     * @param fieldValue the bytes to copy, at least the field's size
     */
    public static void st_mtim(MemorySegment struct, MemorySegment fieldValue) {
        MemorySegment.copy(fieldValue, 0L, struct, st_mtim$OFFSET, st_mtim$LAYOUT.byteSize());
    }

    private static final GroupLayout st_ctim$LAYOUT = (GroupLayout) $LAYOUT.select(groupElement("st_ctim"));

    /**
     * Returns the layout of field {@code st_ctim}.
     *
     * @return the layout
     */
    public static GroupLayout st_ctim$layout() {
        return st_ctim$LAYOUT;
    }

    private static final long st_ctim$OFFSET = 104;

    /**
     * Returns the byte offset of field {@code st_ctim}.
     *
     * @return the offset
     */
    public static long st_ctim$offset() {
        return st_ctim$OFFSET;
    }

    /**
     * Returns field {@code st_ctim} as a slice of the struct (writes go through).
     *
     * @param struct the struct
     * @return the slice
     */
    public static MemorySegment st_ctim(MemorySegment struct) {
        return struct.asSlice(st_ctim$OFFSET, st_ctim$LAYOUT.byteSize());
    }

    /**
     * Copies {@code fieldValue} into field {@code st_ctim}.
     *
     * @param struct the struct
     * @param fieldValue the bytes to copy, at least the field's size
     */
    public static void st_ctim(MemorySegment struct, MemorySegment fieldValue) {
        MemorySegment.copy(fieldValue, 0L, struct, st_ctim$OFFSET, st_ctim$LAYOUT.byteSize());
    }

    private static final SequenceLayout __glibc_reserved$LAYOUT = (SequenceLayout) $LAYOUT.select(groupElement("__glibc_reserved"));

    /**
     * Returns the layout of field {@code __glibc_reserved}.
     *
     * @return the layout
     */
    public static SequenceLayout __glibc_reserved$layout() {
        return __glibc_reserved$LAYOUT;
    }

    private static final long __glibc_reserved$OFFSET = 120;

    /**
     * Returns the byte offset of field {@code __glibc_reserved}.
     *
     * @return the offset
     */
    public static long __glibc_reserved$offset() {
        return __glibc_reserved$OFFSET;
    }

    /**
     * Returns field {@code __glibc_reserved} as a slice of the struct (writes go through).
     *
     * @param struct the struct
     * @return the slice
     */
    public static MemorySegment __glibc_reserved(MemorySegment struct) {
        return struct.asSlice(__glibc_reserved$OFFSET, __glibc_reserved$LAYOUT.byteSize());
    }

    /**
     * Copies {@code fieldValue} into field {@code __glibc_reserved}.
     *
     * @param struct the struct
     * @param fieldValue the bytes to copy, at least the field's size
     */
    public static void __glibc_reserved(MemorySegment struct, MemorySegment fieldValue) {
        MemorySegment.copy(fieldValue, 0L, struct, __glibc_reserved$OFFSET, __glibc_reserved$LAYOUT.byteSize());
    }
}
