package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout.OfInt;

/**
 * struct ucred: a Unix socket peer's process id, effective user id and effective group id when it
 * connected (getsockopt SO_PEERCRED), as seen from the caller's pid and user namespaces.
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class ucred {
    /** The C {@code sizeof(struct ucred)} on x86_64. */
    public static final long SIZEOF = 12;

    private ucred() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        Linux.C_INT.withName("pid"),
        Linux.C_INT.withName("uid"),
        Linux.C_INT.withName("gid")).withName("ucred");

    /**
     * Returns the layout of {@code struct ucred}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct ucred)}.
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

    private static final OfInt pid$LAYOUT = (OfInt) $LAYOUT.select(groupElement("pid"));

    /**
     * Returns the layout of field {@code pid}.
     *
     * @return the layout
     */
    public static OfInt pid$layout() {
        return pid$LAYOUT;
    }

    private static final long pid$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code pid}.
     *
     * @return the offset
     */
    public static long pid$offset() {
        return pid$OFFSET;
    }

    /**
     * Reads field {@code pid}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int pid(MemorySegment struct) {
        return struct.get(pid$LAYOUT, pid$OFFSET);
    }

    /**
     * Writes field {@code pid}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void pid(MemorySegment struct, int fieldValue) {
        struct.set(pid$LAYOUT, pid$OFFSET, fieldValue);
    }

    private static final OfInt uid$LAYOUT = (OfInt) $LAYOUT.select(groupElement("uid"));

    /**
     * Returns the layout of field {@code uid}.
     *
     * @return the layout
     */
    public static OfInt uid$layout() {
        return uid$LAYOUT;
    }

    private static final long uid$OFFSET = 4;

    /**
     * Returns the byte offset of field {@code uid}.
     *
     * @return the offset
     */
    public static long uid$offset() {
        return uid$OFFSET;
    }

    /**
     * Reads field {@code uid}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int uid(MemorySegment struct) {
        return struct.get(uid$LAYOUT, uid$OFFSET);
    }

    /**
     * Writes field {@code uid}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void uid(MemorySegment struct, int fieldValue) {
        struct.set(uid$LAYOUT, uid$OFFSET, fieldValue);
    }

    private static final OfInt gid$LAYOUT = (OfInt) $LAYOUT.select(groupElement("gid"));

    /**
     * Returns the layout of field {@code gid}.
     *
     * @return the layout
     */
    public static OfInt gid$layout() {
        return gid$LAYOUT;
    }

    private static final long gid$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code gid}.
     *
     * @return the offset
     */
    public static long gid$offset() {
        return gid$OFFSET;
    }

    /**
     * Reads field {@code gid}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int gid(MemorySegment struct) {
        return struct.get(gid$LAYOUT, gid$OFFSET);
    }

    /**
     * Writes field {@code gid}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void gid(MemorySegment struct, int fieldValue) {
        struct.set(gid$LAYOUT, gid$OFFSET, fieldValue);
    }
}
