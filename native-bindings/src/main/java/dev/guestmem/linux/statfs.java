package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.ValueLayout.OfLong;

/**
 * struct statfs as x86_64 glibc lays it out (fstatfs's result; f_type is the file system's magic,
 * f_bsize its block size: the huge page size on hugetlbfs).
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class statfs {
    /** The C {@code sizeof(struct statfs)} on x86_64. */
    public static final long SIZEOF = 120;

    private statfs() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        Linux.C_LONG.withName("f_type"),
        Linux.C_LONG.withName("f_bsize"),
        Linux.C_LONG_LONG.withName("f_blocks"),
        Linux.C_LONG_LONG.withName("f_bfree"),
        Linux.C_LONG_LONG.withName("f_bavail"),
        Linux.C_LONG_LONG.withName("f_files"),
        Linux.C_LONG_LONG.withName("f_ffree"),
        MemoryLayout.sequenceLayout(2, Linux.C_INT).withName("f_fsid"),
        Linux.C_LONG.withName("f_namelen"),
        Linux.C_LONG.withName("f_frsize"),
        Linux.C_LONG.withName("f_flags"),
        MemoryLayout.sequenceLayout(4, Linux.C_LONG).withName("f_spare")).withName("statfs");

    /**
     * Returns the layout of {@code struct statfs}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct statfs)}.
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

    private static final OfLong f_type$LAYOUT = (OfLong) $LAYOUT.select(groupElement("f_type"));

    /**
     * Returns the layout of field {@code f_type}.
     *
     * @return the layout
     */
    public static OfLong f_type$layout() {
        return f_type$LAYOUT;
    }

    private static final long f_type$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code f_type}.
     *
     * @return the offset
     */
    public static long f_type$offset() {
        return f_type$OFFSET;
    }

    /**
     * Reads field {@code f_type}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long f_type(MemorySegment struct) {
        return struct.get(f_type$LAYOUT, f_type$OFFSET);
    }

    /**
     * Writes field {@code f_type}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void f_type(MemorySegment struct, long fieldValue) {
        struct.set(f_type$LAYOUT, f_type$OFFSET, fieldValue);
    }

    private static final OfLong f_bsize$LAYOUT = (OfLong) $LAYOUT.select(groupElement("f_bsize"));

    /**
     * Returns the layout of field {@code f_bsize}.
     *
     * @return the layout
     */
    public static OfLong f_bsize$layout() {
        return f_bsize$LAYOUT;
    }

    private static final long f_bsize$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code f_bsize}.
     *
     * @return the offset
     */
    public static long f_bsize$offset() {
        return f_bsize$OFFSET;
    }

    /**
     * Reads field {@code f_bsize}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long f_bsize(MemorySegment struct) {
        return struct.get(f_bsize$LAYOUT, f_bsize$OFFSET);
    }

    /**
     * Writes field {@code f_bsize}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void f_bsize(MemorySegment struct, long fieldValue) {
        struct.set(f_bsize$LAYOUT, f_bsize$OFFSET, fieldValue);
    }

    private static final OfLong f_blocks$LAYOUT = (OfLong) $LAYOUT.select(groupElement("f_blocks"));

    /**
     * Returns the layout of field {@code f_blocks}.
     *
     * @return the layout
     */
    public static OfLong f_blocks$layout() {
        return f_blocks$LAYOUT;
    }

    private static final long f_blocks$OFFSET = 16;

    /**
     * Returns the byte offset of field {@code f_blocks}.
     *
     * @return the offset
     */
    public static long f_blocks$offset() {
        return f_blocks$OFFSET;
    }

    /**
     * Reads field {@code f_blocks}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long f_blocks(MemorySegment struct) {
        return struct.get(f_blocks$LAYOUT, f_blocks$OFFSET);
    }

    /**
     * Writes field {@code f_blocks}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void f_blocks(MemorySegment struct, long fieldValue) {
        struct.set(f_blocks$LAYOUT, f_blocks$OFFSET, fieldValue);
    }

    private static final OfLong f_bfree$LAYOUT = (OfLong) $LAYOUT.select(groupElement("f_bfree"));

    /**
     * Returns the layout of field {@code f_bfree}.
     *
     * @return the layout
     */
    public static OfLong f_bfree$layout() {
        return f_bfree$LAYOUT;
    }

    private static final long f_bfree$OFFSET = 24;

    /**
     * Returns the byte offset of field {@code f_bfree}.
     *
     * @return the offset
     */
    public static long f_bfree$offset() {
        return f_bfree$OFFSET;
    }

    /**
     * Reads field {@code f_bfree}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long f_bfree(MemorySegment struct) {
        return struct.get(f_bfree$LAYOUT, f_bfree$OFFSET);
    }

    /**
     * Writes field {@code f_bfree}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void f_bfree(MemorySegment struct, long fieldValue) {
        struct.set(f_bfree$LAYOUT, f_bfree$OFFSET, fieldValue);
    }

    private static final OfLong f_bavail$LAYOUT = (OfLong) $LAYOUT.select(groupElement("f_bavail"));

    /**
     * Returns the layout of field {@code f_bavail}.
     *
     * @return the layout
     */
    public static OfLong f_bavail$layout() {
        return f_bavail$LAYOUT;
    }

    private static final long f_bavail$OFFSET = 32;

    /**
     * Returns the byte offset of field {@code f_bavail}.
     *
     * @return the offset
     */
    public static long f_bavail$offset() {
        return f_bavail$OFFSET;
    }

    /**
     * Reads field {@code f_bavail}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long f_bavail(MemorySegment struct) {
        return struct.get(f_bavail$LAYOUT, f_bavail$OFFSET);
    }

    /**
     * Writes field {@code f_bavail}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void f_bavail(MemorySegment struct, long fieldValue) {
        struct.set(f_bavail$LAYOUT, f_bavail$OFFSET, fieldValue);
    }

    private static final OfLong f_files$LAYOUT = (OfLong) $LAYOUT.select(groupElement("f_files"));

    /**
     * Returns the layout of field {@code f_files}.
     *
     * @return the layout
     */
    public static OfLong f_files$layout() {
        return f_files$LAYOUT;
    }

    private static final long f_files$OFFSET = 40;

    /**
     * Returns the byte offset of field {@code f_files}.
     *
     * @return the offset
     */
    public static long f_files$offset() {
        return f_files$OFFSET;
    }

    /**
     * Reads field {@code f_files}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long f_files(MemorySegment struct) {
        return struct.get(f_files$LAYOUT, f_files$OFFSET);
    }

    /**
     * Writes field {@code f_files}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void f_files(MemorySegment struct, long fieldValue) {
        struct.set(f_files$LAYOUT, f_files$OFFSET, fieldValue);
    }

    private static final OfLong f_ffree$LAYOUT = (OfLong) $LAYOUT.select(groupElement("f_ffree"));

    /**
     * Returns the layout of field {@code f_ffree}.
     *
     * @return the layout
     */
    public static OfLong f_ffree$layout() {
        return f_ffree$LAYOUT;
    }

    private static final long f_ffree$OFFSET = 48;

    /**
     * Returns the byte offset of field {@code f_ffree}.
     *
     * @return the offset
     */
    public static long f_ffree$offset() {
        return f_ffree$OFFSET;
    }

    /**
     * Reads field {@code f_ffree}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long f_ffree(MemorySegment struct) {
        return struct.get(f_ffree$LAYOUT, f_ffree$OFFSET);
    }

    /**
     * Writes field {@code f_ffree}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void f_ffree(MemorySegment struct, long fieldValue) {
        struct.set(f_ffree$LAYOUT, f_ffree$OFFSET, fieldValue);
    }

    private static final SequenceLayout f_fsid$LAYOUT = (SequenceLayout) $LAYOUT.select(groupElement("f_fsid"));

    /**
     * Returns the layout of field {@code f_fsid}.
     *
     * @return the layout
     */
    public static SequenceLayout f_fsid$layout() {
        return f_fsid$LAYOUT;
    }

    private static final long f_fsid$OFFSET = 56;

    /**
     * Returns the byte offset of field {@code f_fsid}.
     *
     * @return the offset
     */
    public static long f_fsid$offset() {
        return f_fsid$OFFSET;
    }

    /**
     * Returns field {@code f_fsid} as a slice of the struct (writes go through).
     *
     * @param struct the struct
     * @return the slice
     */
    public static MemorySegment f_fsid(MemorySegment struct) {
        return struct.asSlice(f_fsid$OFFSET, f_fsid$LAYOUT.byteSize());
    }

    /**
     * Copies {@code fieldValue} into field {@code f_fsid}.
     *
     * @param struct the struct
     * @param fieldValue the bytes to copy, at least the field's size
     */
    public static void f_fsid(MemorySegment struct, MemorySegment fieldValue) {
        MemorySegment.copy(fieldValue, 0L, struct, f_fsid$OFFSET, f_fsid$LAYOUT.byteSize());
    }

    private static final OfLong f_namelen$LAYOUT = (OfLong) $LAYOUT.select(groupElement("f_namelen"));

    /**
     * Returns the layout of field {@code f_namelen}.
     *
     * @return the layout
     */
    public static OfLong f_namelen$layout() {
        return f_namelen$LAYOUT;
    }

    private static final long f_namelen$OFFSET = 64;

    /**
     * Returns the byte offset of field {@code f_namelen}.
     *
     * @return the offset
     */
    public static long f_namelen$offset() {
        return f_namelen$OFFSET;
    }

    /**
     * Reads field {@code f_namelen}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long f_namelen(MemorySegment struct) {
        return struct.get(f_namelen$LAYOUT, f_namelen$OFFSET);
    }

    /**
     * Writes field {@code f_namelen}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void f_namelen(MemorySegment struct, long fieldValue) {
        struct.set(f_namelen$LAYOUT, f_namelen$OFFSET, fieldValue);
    }

    private static final OfLong f_frsize$LAYOUT = (OfLong) $LAYOUT.select(groupElement("f_frsize"));

    /**
     * Returns the layout of field {@code f_frsize}.
     *
     * @return the layout
     */
    public static OfLong f_frsize$layout() {
        return f_frsize$LAYOUT;
    }

    private static final long f_frsize$OFFSET = 72;

    /**
     * Returns the byte offset of field {@code f_frsize}.
     *
     * @return the offset
     */
    public static long f_frsize$offset() {
        return f_frsize$OFFSET;
    }

    /**
     * Reads field {@code f_frsize}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long f_frsize(MemorySegment struct) {
        return struct.get(f_frsize$LAYOUT, f_frsize$OFFSET);
    }

    /**
     * Writes field {@code f_frsize}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void f_frsize(MemorySegment struct, long fieldValue) {
        struct.set(f_frsize$LAYOUT, f_frsize$OFFSET, fieldValue);
    }

    private static final OfLong f_flags$LAYOUT = (OfLong) $LAYOUT.select(groupElement("f_flags"));

    /**
     * Returns the layout of field {@code f_flags}.
     *
     * @return the layout
     */
    public static OfLong f_flags$layout() {
        return f_flags$LAYOUT;
    }

    private static final long f_flags$OFFSET = 80;

    /**
     * Returns the byte offset of field {@code f_flags}.
     *
     * @return the offset
     */
    public static long f_flags$offset() {
        return f_flags$OFFSET;
    }

    /**
     * Reads field {@code f_flags}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long f_flags(MemorySegment struct) {
        return struct.get(f_flags$LAYOUT, f_flags$OFFSET);
    }

    /**
     * Writes field {@code f_flags}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void f_flags(MemorySegment struct, long fieldValue) {
        struct.set(f_flags$LAYOUT, f_flags$OFFSET, fieldValue);
    }

    private static final SequenceLayout f_spare$LAYOUT = (SequenceLayout) $LAYOUT.select(groupElement("f_spare"));

    /**
     * Returns the layout of field {@code f_spare}.
     *
     * @return the layout
     */
    public static SequenceLayout f_spare$layout() {
        return f_spare$LAYOUT;
    }

    private static final long f_spare$OFFSET = 88;

    /**
     * Returns the byte offset of field {@code f_spare}.
     *
     * @return the offset
     */
    public static long f_spare$offset() {
        return f_spare$OFFSET;
    }

    /**
     * Returns field {@code f_spare} as a slice of the struct (writes go through).
     *
     * @param struct the struct
     * @return the slice
     */
    public static MemorySegment f_spare(MemorySegment struct) {
        return struct.asSlice(f_spare$OFFSET, f_spare$LAYOUT.byteSize());
    }

    /**
     * Copies {@code fieldValue} into field {@code f_spare}.
     *
     * @param struct the struct
     * @param fieldValue the bytes to copy, at least the field's size
     */
    public static void f_spare(MemorySegment struct, MemorySegment fieldValue) {
        MemorySegment.copy(fieldValue, 0L, struct, f_spare$OFFSET, f_spare$LAYOUT.byteSize());
    }
}
