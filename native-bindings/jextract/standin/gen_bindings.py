#!/usr/bin/env python3
"""Stand-in for jextract: writes dev.guestmem.linux's Linux.java and struct classes.

jextract cannot be installed where guestmem was written, so this script emits the same shape
jextract 22+ would (header class with name$descriptor/$handle/$address companions, one class per
struct with layout()/sizeof()/allocate() and per-field $layout/$offset/getter/setter). Constant
values are read from the real C headers with gcc, so they are never typed by hand; struct offsets
are computed here from x86_64 SysV alignment rules and checked against gcc by StructLayoutProbeTest.

Run from native-bindings/:  python3 jextract/standin/gen_bindings.py
When jextract is available, prefer jextract/regenerate.sh (see README.md).
"""
import os
import subprocess
import sys
import tempfile
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))
NB = os.path.abspath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(NB, "src", "main", "java", "dev", "guestmem", "linux")
HEADER = os.path.join(NB, "jextract", "guestmem_linux.h")

# ----------------------------------------------------------------------------------------------
# symbols.txt is the single list: functions, structs and constants (with the Java type of each).
# ----------------------------------------------------------------------------------------------


def read_symbols():
    funcs, structs, consts = [], [], []
    with open(os.path.join(NB, "jextract", "symbols.txt")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            opt, name = line.split()
            if opt == "--include-function":
                funcs.append(name)
            elif opt == "--include-struct":
                structs.append(name)
            elif opt == "--include-constant":
                consts.append(name)
    return funcs, structs, consts


# Constants whose C type is 64-bit (or that the kernel reads as __u64) are Java longs.
LONG_CONSTANTS_PREFIXES = ("UFFD_API", "UFFDIO_", "UFFD_FEATURE_", "HUGETLBFS_MAGIC")


def const_type(name):
    if name.startswith("_UFFDIO_"):
        return "int"
    if name.startswith(LONG_CONSTANTS_PREFIXES):
        return "long"
    return "int"


def constant_values(consts):
    src = ['#include "guestmem_linux.h"', "#include <stdio.h>", "int main(void) {"]
    for c in consts:
        src.append('  printf("%%s %%lld\\n", "%s", (long long)(%s));' % (c, c))
    src.append("  return 0;\n}")
    with tempfile.TemporaryDirectory() as d:
        c_file = os.path.join(d, "consts.c")
        with open(c_file, "w") as f:
            f.write("\n".join(src))
        exe = os.path.join(d, "consts")
        subprocess.check_call(["gcc", "-Wall", "-Werror", "-I", os.path.dirname(HEADER), c_file, "-o", exe])
        out = subprocess.check_output([exe]).decode()
    vals = {}
    for line in out.splitlines():
        n, v = line.split()
        vals[n] = int(v)
    return vals


# ----------------------------------------------------------------------------------------------
# Functions: C return type, parameters (C type, name), first variadic index or None, critical.
# Types: int, uint, long, ulong, size_t, ssize_t, off_t, ptr, socklen_t, nfds_t, mode_t.
# ----------------------------------------------------------------------------------------------
CRIT = True
FUNCS = {
    "mmap": ("void *", [("void *", "addr"), ("size_t", "length"), ("int", "prot"), ("int", "flags"), ("int", "fd"), ("off_t", "offset")], None, False,
             "Maps files or devices into memory; returns MAP_FAILED ((void *) -1) on error."),
    "munmap": ("int", [("void *", "addr"), ("size_t", "length")], None, False,
               "Unmaps a range of the address space."),
    "mprotect": ("int", [("void *", "addr"), ("size_t", "length"), ("int", "prot")], None, CRIT,
                 "Changes the protection of a range of pages."),
    "msync": ("int", [("void *", "addr"), ("size_t", "length"), ("int", "flags")], None, False,
              "Writes a shared file mapping back to its file (may block on I/O)."),
    "madvise": ("int", [("void *", "addr"), ("size_t", "length"), ("int", "advice")], None, False,
                "Gives the kernel advice about a range (MADV_DONTNEED, MADV_REMOVE, ...)."),
    "memfd_create": ("int", [("const char *", "name"), ("unsigned int", "flags")], None, CRIT,
                     "Creates an anonymous memory-backed file."),
    "ftruncate": ("int", [("int", "fd"), ("off_t", "length")], None, False,
                  "Sets a file's size."),
    "fallocate": ("int", [("int", "fd"), ("int", "mode"), ("off_t", "offset"), ("off_t", "len")], None, False,
                  "Allocates, punches or zeroes a byte range of a file."),
    "fstat": ("int", [("int", "fd"), ("struct stat *", "statbuf")], None, CRIT,
              "Fills a struct stat for an open file descriptor."),
    "fstatfs": ("int", [("int", "fd"), ("struct statfs *", "buf")], None, CRIT,
                "Fills a struct statfs for the file system holding an open file descriptor."),
    "open": ("int", [("const char *", "pathname"), ("int", "flags"), ("mode_t", "mode")], 2, False,
             "Opens a file (variadic in C: the mode argument is passed as the first variadic argument)."),
    "close": ("int", [("int", "fd")], None, False,
              "Closes a file descriptor (not critical: closing a socket may linger)."),
    "read": ("ssize_t", [("int", "fd"), ("void *", "buf"), ("size_t", "count")], None, False,
             "Reads from a file descriptor; may block."),
    "write": ("ssize_t", [("int", "fd"), ("const void *", "buf"), ("size_t", "count")], None, False,
              "Writes to a file descriptor; may block."),
    "pread": ("ssize_t", [("int", "fd"), ("void *", "buf"), ("size_t", "count"), ("off_t", "offset")], None, False,
              "Reads at a file offset without moving the file position; may block."),
    "pwrite": ("ssize_t", [("int", "fd"), ("const void *", "buf"), ("size_t", "count"), ("off_t", "offset")], None, False,
               "Writes at a file offset without moving the file position; may block."),
    "poll": ("int", [("struct pollfd *", "fds"), ("nfds_t", "nfds"), ("int", "timeout")], None, False,
             "Waits for events on file descriptors; blocks up to timeout milliseconds."),
    "eventfd": ("int", [("unsigned int", "initval"), ("int", "flags")], None, CRIT,
                "Creates an eventfd counter."),
    "ioctl": ("int", [("int", "fd"), ("unsigned long", "request"), ("void *", "arg")], 2, False,
              "Device control (variadic in C: arg is passed as the first variadic argument). Never critical: "
              "ioctls on a userfaultfd may wait for page-cache I/O."),
    "syscall": ("long", [("long", "number"), ("long", "arg0"), ("long", "arg1"), ("long", "arg2")], 1, False,
                "Raw system call with up to three arguments (variadic in C: arg0 is the first variadic argument; "
                "pass 0 for arguments the call does not take); guestmem uses it for SYS_userfaultfd and "
                "SYS_membarrier."),
    "fcntl": ("int", [("int", "fd"), ("int", "cmd"), ("int", "arg")], 2, False,
              "File descriptor control (variadic in C: arg is the first variadic argument). Not critical: "
              "F_SETLKW blocks."),
    "socket": ("int", [("int", "domain"), ("int", "type"), ("int", "protocol")], None, CRIT,
               "Creates a socket."),
    "socketpair": ("int", [("int", "domain"), ("int", "type"), ("int", "protocol"), ("int *", "sv")], None, CRIT,
                   "Creates a pair of connected sockets; sv receives the two descriptors."),
    "bind": ("int", [("int", "sockfd"), ("const struct sockaddr *", "addr"), ("socklen_t", "addrlen")], None, False,
             "Binds a name to a socket."),
    "listen": ("int", [("int", "sockfd"), ("int", "backlog")], None, CRIT,
               "Marks a socket as accepting connections."),
    "accept": ("int", [("int", "sockfd"), ("struct sockaddr *", "addr"), ("socklen_t *", "addrlen")], None, False,
               "Accepts a connection; blocks."),
    "accept4": ("int", [("int", "sockfd"), ("struct sockaddr *", "addr"), ("socklen_t *", "addrlen"), ("int", "flags")], None, False,
                "Accepts a connection with SOCK_CLOEXEC/SOCK_NONBLOCK flags; blocks."),
    "connect": ("int", [("int", "sockfd"), ("const struct sockaddr *", "addr"), ("socklen_t", "addrlen")], None, False,
                "Connects a socket; may block."),
    "sendmsg": ("ssize_t", [("int", "sockfd"), ("const struct msghdr *", "msg"), ("int", "flags")], None, False,
                "Sends a message with ancillary data (SCM_RIGHTS); may block."),
    "recvmsg": ("ssize_t", [("int", "sockfd"), ("struct msghdr *", "msg"), ("int", "flags")], None, False,
                "Receives a message with ancillary data; blocks."),
    "getpagesize": ("int", [], None, CRIT, "Returns the page size."),
    "sysconf": ("long", [("int", "name")], None, CRIT, "Returns a configuration value such as _SC_PAGESIZE."),
    "strerror": ("char *", [("int", "errnum")], None, CRIT,
                 "Returns the text of an errno value (a static or thread-local string)."),
    "getpid": ("int", [], None, CRIT, "Returns the calling process's id."),
    "geteuid": ("unsigned int", [], None, CRIT, "Returns the calling process's effective user id (the uid SO_PEERCRED reports to its peers)."),
    "getsockopt": ("int", [("int", "sockfd"), ("int", "level"), ("int", "optname"), ("void *", "optval"), ("socklen_t *", "optlen")], None, False,
                   "Reads a socket option, such as SO_PEERCRED's struct ucred."),
    "dup": ("int", [("int", "oldfd")], None, CRIT, "Duplicates a file descriptor (without FD_CLOEXEC)."),
}

C2J = {  # C type -> (Java type, layout constant)
    "int": ("int", "C_INT"), "unsigned int": ("int", "C_INT"), "mode_t": ("int", "C_INT"),
    "socklen_t": ("int", "C_INT"),
    "long": ("long", "C_LONG"), "unsigned long": ("long", "C_LONG"), "size_t": ("long", "C_LONG"),
    "ssize_t": ("long", "C_LONG"), "off_t": ("long", "C_LONG"), "nfds_t": ("long", "C_LONG"),
}


def jtype(ctype):
    if "*" in ctype:
        return ("MemorySegment", "C_POINTER")
    return C2J[ctype]


# ----------------------------------------------------------------------------------------------
# Structs. Field kinds: scalar type name, ("struct", name), ("array", scalar, n), ("union", [...]),
# ("anon", [...]) for an anonymous struct inside a union. Aliases flatten union arms.
# ----------------------------------------------------------------------------------------------
SCALARS = {  # name -> (size, Java type, layout constant, ValueLayout class)
    "u8": (1, "byte", "C_CHAR", "OfByte"),
    "char": (1, "byte", "C_CHAR", "OfByte"),
    "u16": (2, "short", "C_SHORT", "OfShort"),
    "short": (2, "short", "C_SHORT", "OfShort"),
    "int": (4, "int", "C_INT", "OfInt"),
    "u32": (4, "int", "C_INT", "OfInt"),
    "long": (8, "long", "C_LONG", "OfLong"),
    "u64": (8, "long", "C_LONG_LONG", "OfLong"),
    "s64": (8, "long", "C_LONG_LONG", "OfLong"),
    "ptr": (8, "MemorySegment", "C_POINTER", "AddressLayout"),
}

STRUCTS = {
    "timespec": ("struct timespec: seconds and nanoseconds, as in struct stat's time stamps.",
                 [("tv_sec", "long"), ("tv_nsec", "long")], []),
    "stat": ("struct stat as x86_64 glibc lays it out (fstat's result).",
             [("st_dev", "u64"), ("st_ino", "u64"), ("st_nlink", "u64"), ("st_mode", "u32"), ("st_uid", "u32"),
              ("st_gid", "u32"), ("__pad0", "int"), ("st_rdev", "u64"), ("st_size", "long"), ("st_blksize", "long"),
              ("st_blocks", "long"), ("st_atim", ("struct", "timespec")), ("st_mtim", ("struct", "timespec")),
              ("st_ctim", ("struct", "timespec")), ("__glibc_reserved", ("array", "long", 3))], []),
    "statfs": ("struct statfs as x86_64 glibc lays it out (fstatfs's result; f_type is the file "
               "system's magic, f_bsize its block size: the huge page size on hugetlbfs).",
               [("f_type", "long"), ("f_bsize", "long"), ("f_blocks", "u64"), ("f_bfree", "u64"),
                ("f_bavail", "u64"), ("f_files", "u64"), ("f_ffree", "u64"), ("f_fsid", ("array", "int", 2)),
                ("f_namelen", "long"), ("f_frsize", "long"), ("f_flags", "long"), ("f_spare", ("array", "long", 4))], []),
    "pollfd": ("struct pollfd: one entry of poll's array.",
               [("fd", "int"), ("events", "short"), ("revents", "short")], []),
    "iovec": ("struct iovec: one buffer of a scatter/gather list.",
              [("iov_base", "ptr"), ("iov_len", "long")], []),
    "msghdr": ("struct msghdr: the message sendmsg/recvmsg take, with its control (ancillary) buffer.",
               [("msg_name", "ptr"), ("msg_namelen", "u32"), ("msg_iov", "ptr"), ("msg_iovlen", "long"),
                ("msg_control", "ptr"), ("msg_controllen", "long"), ("msg_flags", "int")], []),
    "cmsghdr": ("struct cmsghdr: header of one control message; data follows at Linux.CMSG_LEN(0).",
                [("cmsg_len", "long"), ("cmsg_level", "int"), ("cmsg_type", "int")], []),
    "sockaddr_un": ("struct sockaddr_un: a Unix domain socket address (path up to 107 bytes plus NUL).",
                    [("sun_family", "u16"), ("sun_path", ("array", "char", 108))], []),
    "ucred": ("struct ucred: a Unix socket peer's process id, effective user id and effective group id when "
              "it connected (getsockopt SO_PEERCRED), as seen from the caller's pid and user namespaces.",
              [("pid", "int"), ("uid", "u32"), ("gid", "u32")], []),
    "uffdio_api": ("struct uffdio_api: the UFFDIO_API handshake (requested api and features in, "
                   "available features and ioctls out).",
                   [("api", "u64"), ("features", "u64"), ("ioctls", "u64")], []),
    "uffdio_range": ("struct uffdio_range: a start address and length.",
                     [("start", "u64"), ("len", "u64")], []),
    "uffdio_register": ("struct uffdio_register: UFFDIO_REGISTER's argument; ioctls comes back as the "
                        "bit set {@code 1L << _UFFDIO_*} allowed on the range.",
                        [("range", ("struct", "uffdio_range")), ("mode", "u64"), ("ioctls", "u64")], []),
    "uffdio_copy": ("struct uffdio_copy: UFFDIO_COPY's argument; copy receives the bytes copied or a "
                    "negated errno.",
                    [("dst", "u64"), ("src", "u64"), ("len", "u64"), ("mode", "u64"), ("copy", "s64")], []),
    "uffdio_zeropage": ("struct uffdio_zeropage: UFFDIO_ZEROPAGE's argument; zeropage receives the bytes "
                        "mapped or a negated errno.",
                        [("range", ("struct", "uffdio_range")), ("mode", "u64"), ("zeropage", "s64")], []),
    "uffdio_writeprotect": ("struct uffdio_writeprotect: UFFDIO_WRITEPROTECT's argument.",
                            [("range", ("struct", "uffdio_range")), ("mode", "u64")], []),
    "uffdio_continue": ("struct uffdio_continue: UFFDIO_CONTINUE's argument (minor faults); mapped "
                        "receives the bytes mapped or a negated errno.",
                        [("range", ("struct", "uffdio_range")), ("mode", "u64"), ("mapped", "s64")], []),
    "uffd_msg": ("struct uffd_msg: one event read from a userfaultfd (packed, 32 bytes). Besides the "
                 "jextract-style {@code arg} union slice, the union arms are flattened into accessors: "
                 "{@code flags}, {@code address}, {@code ptid} (pagefault), {@code fork_ufd}, "
                 "{@code remap_from}, {@code remap_to}, {@code remap_len}, {@code remove_start}, "
                 "{@code remove_end}.",
                 [("event", "u8"), ("reserved1", "u8"), ("reserved2", "u16"), ("reserved3", "u32"),
                  ("arg", ("union", [
                      ("pagefault", ("anon", [("flags", "u64"), ("address", "u64"),
                                              ("feat", ("union", [("ptid", "u32")]))])),
                      ("fork", ("anon", [("ufd", "u32")])),
                      ("remap", ("anon", [("from", "u64"), ("to", "u64"), ("len", "u64")])),
                      ("remove", ("anon", [("start", "u64"), ("end", "u64")])),
                      ("reserved", ("anon", [("reserved1", "u64"), ("reserved2", "u64"), ("reserved3", "u64")])),
                  ]))],
                 [("flags", ["arg", "pagefault", "flags"]), ("address", ["arg", "pagefault", "address"]),
                  ("ptid", ["arg", "pagefault", "feat", "ptid"]), ("fork_ufd", ["arg", "fork", "ufd"]),
                  ("remap_from", ["arg", "remap", "from"]), ("remap_to", ["arg", "remap", "to"]),
                  ("remap_len", ["arg", "remap", "len"]), ("remove_start", ["arg", "remove", "start"]),
                  ("remove_end", ["arg", "remove", "end"])]),
}


def size_align(kind):
    if isinstance(kind, str):
        s = SCALARS[kind][0]
        return s, s
    tag = kind[0]
    if tag == "struct":
        return struct_size_align(STRUCTS[kind[1]][1])
    if tag == "array":
        s, a = size_align(kind[1])
        return s * kind[2], a
    if tag == "anon":
        return struct_size_align(kind[1])
    if tag == "union":
        size, align = 0, 1
        for _, k in kind[1]:
            s, a = size_align(k)
            size, align = max(size, s), max(align, a)
        return (size + align - 1) // align * align, align
    raise ValueError(kind)


def struct_size_align(fields):
    off, align = 0, 1
    for _, k in fields:
        s, a = size_align(k)
        off = (off + a - 1) // a * a + s
        align = max(align, a)
    return (off + align - 1) // align * align, align


def layout_expr(kind, name, indent):
    """Java expression of the layout of a member called name."""
    if isinstance(kind, str):
        return '%s.withName("%s")' % ("Linux." + SCALARS[kind][2], name)
    tag = kind[0]
    if tag == "struct":
        return '%s.layout().withName("%s")' % (kind[1], name)
    if tag == "array":
        return 'MemoryLayout.sequenceLayout(%d, Linux.%s).withName("%s")' % (kind[2], SCALARS[kind[1]][2], name)
    if tag == "anon":
        return group_expr("structLayout", kind[1], indent) + '.withName("%s")' % name
    if tag == "union":
        return group_expr("unionLayout", kind[1], indent) + '.withName("%s")' % name
    raise ValueError(kind)


def group_expr(factory, fields, indent):
    pad = " " * indent
    parts, off = [], 0
    is_union = factory == "unionLayout"
    total, _ = (size_align(("union", fields)) if is_union else struct_size_align(fields))
    parts, off = [], 0
    for name, k in fields:
        s, a = size_align(k)
        if not is_union:
            aligned = (off + a - 1) // a * a
            if aligned != off:
                parts.append("MemoryLayout.paddingLayout(%d)" % (aligned - off))
            off = aligned + s
        else:
            off = max(off, s)
        parts.append(layout_expr(k, name, indent + 4))
    if off != total:
        parts.append("MemoryLayout.paddingLayout(%d)" % (total - off))
    inner = (",\n" + pad + "    ").join(parts)
    return "MemoryLayout.%s(\n%s    %s)" % (factory, pad, inner)


def path_offset(fields, path):
    off = 0
    kind = ("anon", fields)
    for p in path:
        members = kind[1] if kind[0] in ("anon", "union") else STRUCTS[kind[1]][1]
        is_union = kind[0] == "union"
        o = 0
        for name, k in members:
            s, a = size_align(k)
            if not is_union:
                o = (o + a - 1) // a * a
            if name == p:
                off += o
                kind = k
                break
            if not is_union:
                o += s
        else:
            raise KeyError(path)
    return off, kind


def c_comment(text):
    return text.replace("*/", "*&#47;")


def gen_struct(cname):
    doc, fields, aliases = STRUCTS[cname]
    size, _ = struct_size_align(fields)
    L = []
    L.append("package dev.guestmem.linux;\n")
    L.append("import static java.lang.foreign.MemoryLayout.PathElement.groupElement;\n")
    L.append("import java.lang.foreign.AddressLayout;")
    L.append("import java.lang.foreign.GroupLayout;")
    L.append("import java.lang.foreign.MemoryLayout;")
    L.append("import java.lang.foreign.MemorySegment;")
    L.append("import java.lang.foreign.SegmentAllocator;")
    L.append("import java.lang.foreign.SequenceLayout;")
    L.append("import java.lang.foreign.ValueLayout.OfByte;")
    L.append("import java.lang.foreign.ValueLayout.OfInt;")
    L.append("import java.lang.foreign.ValueLayout.OfLong;")
    L.append("import java.lang.foreign.ValueLayout.OfShort;\n")
    L.append("/**")
    L.extend(" * " + l for l in textwrap.wrap(doc, 96))
    L.append(" *")
    L.append(" * <p>Generated in jextract's shape by {@code jextract/standin/gen_bindings.py} from")
    L.append(" * {@code jextract/guestmem_linux.h}; x86_64 Linux layout ({@value #SIZEOF} bytes), checked against gcc")
    L.append(" * by {@code StructLayoutProbeTest}.")
    L.append(" *")
    L.append(" * <p>Thread safety: stateless; accessors read and write the caller's segment with plain")
    L.append(" * (non-volatile) accesses.")
    L.append(" */")
    L.append("public final class %s {" % cname)
    L.append("    /** The C {@code sizeof(struct %s)} on x86_64. */" % cname)
    L.append("    public static final long SIZEOF = %d;\n" % size)
    L.append("    private %s() {}\n" % cname)
    L.append("    private static final GroupLayout $LAYOUT = %s.withName(\"%s\");\n"
             % (group_expr("structLayout", fields, 4), cname))
    L.append("    /**\n     * Returns the layout of {@code struct %s}.\n     *\n     * @return the layout\n     */" % cname)
    L.append("    public static GroupLayout layout() {\n        return $LAYOUT;\n    }\n")
    L.append("    /**\n     * Returns {@code sizeof(struct %s)}.\n     *\n     * @return the size in bytes\n     */" % cname)
    L.append("    public static long sizeof() {\n        return $LAYOUT.byteSize();\n    }\n")
    L.append("    /**\n     * Allocates one zero-filled struct.\n     *\n     * @param allocator where to allocate it\n"
             "     * @return the new segment, {@link #sizeof()} bytes\n     */")
    L.append("    public static MemorySegment allocate(SegmentAllocator allocator) {\n"
             "        return allocator.allocate($LAYOUT);\n    }\n")
    L.append("    /**\n     * Allocates an array of structs.\n     *\n     * @param count number of elements\n"
             "     * @param allocator where to allocate it\n     * @return the new segment\n     */")
    L.append("    public static MemorySegment allocateArray(long count, SegmentAllocator allocator) {\n"
             "        return allocator.allocate(MemoryLayout.sequenceLayout(count, $LAYOUT));\n    }\n")
    L.append("    /**\n     * Returns element {@code index} of an array of structs.\n     *\n"
             "     * @param array the array segment\n     * @param index the element index\n"
             "     * @return a slice of {@link #sizeof()} bytes\n     */")
    L.append("    public static MemorySegment asSlice(MemorySegment array, long index) {\n"
             "        return array.asSlice($LAYOUT.byteSize() * index, $LAYOUT.byteSize());\n    }\n")
    L.append("    /**\n     * Views native memory at an address as one struct.\n     *\n"
             "     * @param addr a segment (usually zero-length) holding the address\n"
             "     * @return a segment of {@link #sizeof()} bytes, global scope\n     */")
    L.append("    public static MemorySegment reinterpret(MemorySegment addr) {\n"
             "        return addr.reinterpret($LAYOUT.byteSize());\n    }")

    accessors = [(name, [name]) for name, _ in fields] + aliases
    for jname, path in accessors:
        off, kind = path_offset(fields, path)
        cpath = ".".join(path)
        sel = ", ".join('groupElement("%s")' % p for p in path)
        L.append("")
        if isinstance(kind, str):
            _, jt, _, lcls = SCALARS[kind]
            L.append("    private static final %s %s$LAYOUT = (%s) $LAYOUT.select(%s);\n" % (lcls, jname, lcls, sel))
            L.append("    /**\n     * Returns the layout of field {@code %s}.\n     *\n     * @return the layout\n     */" % cpath)
            L.append("    public static %s %s$layout() {\n        return %s$LAYOUT;\n    }\n" % (lcls, jname, jname))
            L.append("    private static final long %s$OFFSET = %d;\n" % (jname, off))
            L.append("    /**\n     * Returns the byte offset of field {@code %s}.\n     *\n     * @return the offset\n     */" % cpath)
            L.append("    public static long %s$offset() {\n        return %s$OFFSET;\n    }\n" % (jname, jname))
            L.append("    /**\n     * Reads field {@code %s}.\n     *\n     * @param struct the struct\n"
                     "     * @return the field's value\n     */" % cpath)
            L.append("    public static %s %s(MemorySegment struct) {\n"
                     "        return struct.get(%s$LAYOUT, %s$OFFSET);\n    }\n" % (jt, jname, jname, jname))
            L.append("    /**\n     * Writes field {@code %s}.\n     *\n     * @param struct the struct\n"
                     "     * @param fieldValue the new value\n     */" % cpath)
            L.append("    public static void %s(MemorySegment struct, %s fieldValue) {\n"
                     "        struct.set(%s$LAYOUT, %s$OFFSET, fieldValue);\n    }" % (jname, jt, jname, jname))
        else:
            lcls = "SequenceLayout" if kind[0] == "array" else "GroupLayout"
            L.append("    private static final %s %s$LAYOUT = (%s) $LAYOUT.select(%s);\n" % (lcls, jname, lcls, sel))
            L.append("    /**\n     * Returns the layout of field {@code %s}.\n     *\n     * @return the layout\n     */" % cpath)
            L.append("    public static %s %s$layout() {\n        return %s$LAYOUT;\n    }\n" % (lcls, jname, jname))
            L.append("    private static final long %s$OFFSET = %d;\n" % (jname, off))
            L.append("    /**\n     * Returns the byte offset of field {@code %s}.\n     *\n     * @return the offset\n     */" % cpath)
            L.append("    public static long %s$offset() {\n        return %s$OFFSET;\n    }\n" % (jname, jname))
            L.append("    /**\n     * Returns field {@code %s} as a slice of the struct (writes go through).\n     *\n"
                     "     * @param struct the struct\n     * @return the slice\n     */" % cpath)
            L.append("    public static MemorySegment %s(MemorySegment struct) {\n"
                     "        return struct.asSlice(%s$OFFSET, %s$LAYOUT.byteSize());\n    }\n" % (jname, jname, jname))
            L.append("    /**\n     * Copies {@code fieldValue} into field {@code %s}.\n     *\n"
                     "     * @param struct the struct\n     * @param fieldValue the bytes to copy, at least the field's size\n"
                     "     */" % cpath)
            L.append("    public static void %s(MemorySegment struct, MemorySegment fieldValue) {\n"
                     "        MemorySegment.copy(fieldValue, 0L, struct, %s$OFFSET, %s$LAYOUT.byteSize());\n    }"
                     % (jname, jname, jname))
    L.append("}")
    text = "\n".join(L) + "\n"
    # drop imports that are not used (javac -Xlint:all does not warn, but keep files tidy)
    for imp, tok in (("AddressLayout", "AddressLayout "), ("SequenceLayout", "SequenceLayout "),
                     ("ValueLayout.OfByte", "OfByte "), ("ValueLayout.OfInt", "OfInt "),
                     ("ValueLayout.OfLong", "OfLong "), ("ValueLayout.OfShort", "OfShort ")):
        body = text.split("/**", 1)[1]
        if tok not in body:
            text = text.replace("import java.lang.foreign.%s;\n" % imp, "")
    return text


def gen_header(funcs, consts, vals):
    L = []
    L.append(open(os.path.join(HERE, "Linux.prologue.txt")).read().rstrip("\n"))
    for f in funcs:
        ret, params, variadic, critical, doc = FUNCS[f]
        jret, lret = jtype(ret)
        csig = "%s%s%s(%s%s)" % (ret, "" if ret.endswith("*") else " ", f,
                                 ", ".join("%s%s%s" % (t, "" if t.endswith("*") else " ", n)
                                           for i, (t, n) in enumerate(params) if variadic is None or i < variadic),
                                 ", ..." if variadic is not None else "")
        largs = ", ".join(jtype(t)[1] for t, _ in params)
        desc = ("FunctionDescriptor.of(%s%s)" % (lret, (", " + largs) if largs else "")) if jret != "void" else \
            "FunctionDescriptor.ofVoid(%s)" % largs
        opts = []
        if variadic is not None:
            opts.append("Linker.Option.firstVariadicArg(%d)" % variadic)
        if critical:
            opts.append("Linker.Option.critical(false)")
        L.append("")
        L.append("    private static final class %s {" % f)
        L.append("        static final FunctionDescriptor DESC = %s;" % desc)
        L.append('        static final MemorySegment ADDR = findOrThrow("%s");' % f)
        L.append("        static final MethodHandle HANDLE = downcall(ADDR, DESC%s);" % "".join(", " + o for o in opts))
        L.append("    }\n")
        note = []
        if variadic is not None:
            note.append("Bound with {@code firstVariadicArg(%d)} for this one argument shape (jextract would"
                        " emit a {@code makeInvoker(MemoryLayout...)} factory)." % variadic)
        note.append("Bound with {@code captureCallState(\"errno\")}%s." %
                    (" and {@code critical(false)} (short, never blocks)" if critical else ""))
        L.append("    /**\n     * Function descriptor for:\n     * {@snippet lang=c :\n     * %s\n     * }\n"
                 "     *\n     * @return the descriptor (without the leading errno capture segment)\n     */" % csig)
        L.append("    public static FunctionDescriptor %s$descriptor() {\n        return %s.DESC;\n    }\n" % (f, f))
        L.append("    /**\n     * Downcall handle for {@code %s}. Its first parameter is the errno capture segment"
                 "\n     * ({@link Linker.Option#captureStateLayout()}), then the C parameters.\n     *\n"
                 "     * @return the handle\n     */" % f)
        L.append("    public static MethodHandle %s$handle() {\n        return %s.HANDLE;\n    }\n" % (f, f))
        L.append("    /**\n     * Address of {@code %s} in the C library.\n     *\n     * @return the symbol's address\n"
                 "     */" % f)
        L.append("    public static MemorySegment %s$address() {\n        return %s.ADDR;\n    }\n" % (f, f))
        jparams = ", ".join("%s %s" % (jtype(t)[0], n) for t, n in params)
        jargs = ", ".join(n for _, n in params)
        pdoc = "".join("\n     * @param %s C {@code %s}" % (n, t) for t, n in params)
        rdoc = "\n     * @return the C result; on failure read {@link #errno()}" if jret != "void" else ""
        L.append("    /**\n     * %s\n     * {@snippet lang=c :\n     * %s\n     * }\n     * %s\n     *%s%s\n     */"
                 % (doc, csig, " ".join(note), pdoc, rdoc))
        L.append("    public static %s %s(%s) {" % (jret, f, jparams))
        L.append("        var mh$ = %s.HANDLE;" % f)
        L.append("        try {")
        call = "mh$.invokeExact(errnoCapture()%s)" % ((", " + jargs) if jargs else "")
        if jret == "void":
            L.append("            %s;" % call)
        else:
            L.append("            return (%s) %s;" % (jret, call))
        L.append("        } catch (RuntimeException | Error ex$) {")
        L.append("            throw ex$;")
        L.append("        } catch (Throwable ex$) {")
        L.append('            throw new AssertionError("should not reach here", ex$);')
        L.append("        }")
        L.append("    }")
    L.append("\n    // ------------------------------------------------------------------ constants")
    for c in consts:
        t = const_type(c)
        v = vals[c]
        if t == "int" and not -2**31 <= v < 2**31:
            sys.exit("%s = %d does not fit an int" % (c, v))
        lit = ("%dL" if t == "long" else "%d") % v
        L.append("")
        L.append("    private static final %s %s = %s;\n" % (t, c, lit))
        L.append("    /**\n     * Returns the value of the C macro {@code %s}.\n     * {@snippet lang=c :\n     * #define %s %d\n     * }\n     *\n"
                 "     * @return %s\n     */" % (c, c, v, v))
        L.append("    public static %s %s() {\n        return %s;\n    }" % (t, c, c))
    L.append("}")
    return "\n".join(L) + "\n"


def main():
    funcs, structs, consts = read_symbols()
    missing = [f for f in funcs if f not in FUNCS] + [s for s in structs if s not in STRUCTS]
    if missing:
        sys.exit("no spec for: %s" % missing)
    vals = constant_values(consts)
    with open(os.path.join(OUT, "Linux.java"), "w") as f:
        f.write(gen_header(funcs, consts, vals))
    for s in structs:
        with open(os.path.join(OUT, s + ".java"), "w") as f:
            f.write(gen_struct(s))


if __name__ == "__main__":
    main()
