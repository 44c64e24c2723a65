/**
 * Linux system calls and kernel struct layouts for guestmem, written in the shape jextract
 * generates: one header class of static downcall wrappers and one class per struct.
 */
module dev.guestmem.linux {
    exports dev.guestmem.linux;
}
