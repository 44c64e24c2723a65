package dev.guestmem.linux;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout.OfInt;
import java.lang.foreign.ValueLayout.OfLong;

/**
 * struct msghdr: the message sendmsg/recvmsg take, with its control (ancillary) buffer.
 *
 * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from
 * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc
 * by {@code StructLayoutProbeTest}.
 *
 * <p>Thread safety: stateless; accessors read and write the caller's segment with plain
 * (non-volatile) accesses.
 */
public final class msghdr {
    /** The C {@code sizeof(struct msghdr)} on x86_64. */
    public static final long SIZEOF = 56;

    private msghdr() {}

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        Linux.C_POINTER.withName("msg_name"),
        Linux.C_INT.withName("msg_namelen"),
        MemoryLayout.paddingLayout(4),
        Linux.C_POINTER.withName("msg_iov"),
        Linux.C_LONG.withName("msg_iovlen"),
        Linux.C_POINTER.withName("msg_control"),
        Linux.C_LONG.withName("msg_controllen"),
        Linux.C_INT.withName("msg_flags"),
        MemoryLayout.paddingLayout(4)).withName("msghdr");

    /**
     * Returns the layout of {@code struct msghdr}.
     *
     * @return the layout
     */
    public static GroupLayout layout() {
        return $LAYOUT;
    }

    /**
     * Returns {@code sizeof(struct msghdr)}.
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

    private static final AddressLayout msg_name$LAYOUT = (AddressLayout) $LAYOUT.select(groupElement("msg_name"));

    /**
     * Returns the layout of field {@code msg_name}.
     *
     * @return the layout
     */
    public static AddressLayout msg_name$layout() {
        return msg_name$LAYOUT;
    }

    private static final long msg_name$OFFSET = 0;

    /**
     * Returns the byte offset of field {@code msg_name}.
     *
     * @return the offset
     */
    public static long msg_name$offset() {
        return msg_name$OFFSET;
    }

    /**
     * Reads field {@code msg_name}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static MemorySegment msg_name(MemorySegment struct) {
        return struct.get(msg_name$LAYOUT, msg_name$OFFSET);
    }

    /**
     * Writes field {@code msg_name}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void msg_name(MemorySegment struct, MemorySegment fieldValue) {
        struct.set(msg_name$LAYOUT, msg_name$OFFSET, fieldValue);
    }

    private static final OfInt msg_namelen$LAYOUT = (OfInt) $LAYOUT.select(groupElement("msg_namelen"));

    /**
     * Returns the layout of field {@code msg_namelen}.
     *
     * @return the layout
     */
    public static OfInt msg_namelen$layout() {
        return msg_namelen$LAYOUT;
    }

    private static final long msg_namelen$OFFSET = 8;

    /**
     * Returns the byte offset of field {@code msg_namelen}.
     *
     * @return the offset
     */
    public static long msg_namelen$offset() {
        return msg_namelen$OFFSET;
    }

    /**
     * Reads field {@code msg_namelen}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int msg_namelen(MemorySegment struct) {
        return struct.get(msg_namelen$LAYOUT, msg_namelen$OFFSET);
    }

    /**
     * Writes field {@code msg_namelen}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void msg_namelen(MemorySegment struct, int fieldValue) {
        struct.set(msg_namelen$LAYOUT, msg_namelen$OFFSET, fieldValue);
    }

    private static final AddressLayout msg_iov$LAYOUT = (AddressLayout) $LAYOUT.select(groupElement("msg_iov"));

    /**
     * Returns the layout of field {@code msg_iov}.
     *
     * @return the layout
     */
    public static AddressLayout msg_iov$layout() {
        return msg_iov$LAYOUT;
    }

    private static final long msg_iov$OFFSET = 16;

    /**
     * Returns the byte offset of field {@code msg_iov}.
     *
     * @return the offset
     */
    public static long msg_iov$offset() {
        return msg_iov$OFFSET;
    }

    /**
     * Reads field {@code msg_iov}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static MemorySegment msg_iov(MemorySegment struct) {
        return struct.get(msg_iov$LAYOUT, msg_iov$OFFSET);
    }

    /**
     * Writes field {@code msg_iov}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void msg_iov(MemorySegment struct, MemorySegment fieldValue) {
        struct.set(msg_iov$LAYOUT, msg_iov$OFFSET, fieldValue);
    }

    private static final OfLong msg_iovlen$LAYOUT = (OfLong) $LAYOUT.select(groupElement("msg_iovlen"));

    /**
     * Returns the layout of field {@code msg_iovlen}.
     *
     * @return the layout
     */
    public static OfLong msg_iovlen$layout() {
        return msg_iovlen$LAYOUT;
    }

    private static final long msg_iovlen$OFFSET = 24;

    /**
     * Returns the byte offset of field {@code msg_iovlen}.
     *
     * @return the offset
     */
    public static long msg_iovlen$offset() {
        return msg_iovlen$OFFSET;
    }

    /**
     * Reads field {@code msg_iovlen}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long msg_iovlen(MemorySegment struct) {
        return struct.get(msg_iovlen$LAYOUT, msg_iovlen$OFFSET);
    }

    /**
     * Writes field {@code msg_iovlen}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void msg_iovlen(MemorySegment struct, long fieldValue) {
        struct.set(msg_iovlen$LAYOUT, msg_iovlen$OFFSET, fieldValue);
    }

    private static final AddressLayout msg_control$LAYOUT = (AddressLayout) $LAYOUT.select(groupElement("msg_control"));

    /**
     * Returns the layout of field {@code msg_control}.
     *
     * @return the layout
     */
    public static AddressLayout msg_control$layout() {
        return msg_control$LAYOUT;
    }

    private static final long msg_control$OFFSET = 32;

    /**
     * Returns the byte offset of field {@code msg_control}.
     *
     * @return the offset
     */
    public static long msg_control$offset() {
        return msg_control$OFFSET;
    }

    /**
     * Reads field {@code msg_control}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static MemorySegment msg_control(MemorySegment struct) {
        return struct.get(msg_control$LAYOUT, msg_control$OFFSET);
    }

    /**
     * Writes field {@code msg_control}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void msg_control(MemorySegment struct, MemorySegment fieldValue) {
        struct.set(msg_control$LAYOUT, msg_control$OFFSET, fieldValue);
    }

    private static final OfLong msg_controllen$LAYOUT = (OfLong) $LAYOUT.select(groupElement("msg_controllen"));

    /**
     * Returns the layout of field {@code msg_controllen}.
     *
     * @return the layout
     */
    public static OfLong msg_controllen$layout() {
        return msg_controllen$LAYOUT;
    }

    private static final long msg_controllen$OFFSET = 40;

    /**
     * Returns the byte offset of field {@code msg_controllen}.
     *
     * @return the offset
     */
    public static long msg_controllen$offset() {
        return msg_controllen$OFFSET;
    }

    /**
     * Reads field {@code msg_controllen}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static long msg_controllen(MemorySegment struct) {
        return struct.get(msg_controllen$LAYOUT, msg_controllen$OFFSET);
    }

    /**
     * Writes field {@code msg_controllen}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void msg_controllen(MemorySegment struct, long fieldValue) {
        struct.set(msg_controllen$LAYOUT, msg_controllen$OFFSET, fieldValue);
    }

    private static final OfInt msg_flags$LAYOUT = (OfInt) $LAYOUT.select(groupElement("msg_flags"));

    /**
     * Returns the layout of field {@code msg_flags}.
     *
     * @return the layout
     */
    public static OfInt msg_flags$layout() {
        return msg_flags$LAYOUT;
    }

    private static final long msg_flags$OFFSET = 48;

    /**
     * Returns the byte offset of field {@code msg_flags}.
     *
     * @return the offset
     */
    public static long msg_flags$offset() {
        return msg_flags$OFFSET;
    }

    /**
     * Reads field {@code msg_flags}.
     *
     * @param struct the struct
     * @return the field's value
     */
    public static int msg_flags(MemorySegment struct) {
        return struct.get(msg_flags$LAYOUT, msg_flags$OFFSET);
    }

    /**
     * Writes field {@code msg_flags}.
     *
     * @param struct the struct
     * @param fieldValue the new value
     */
    public static void msg_flags(MemorySegment struct, int fieldValue) {
        struct.set(msg_flags$LAYOUT, msg_flags$OFFSET, fieldValue);
    }
}
