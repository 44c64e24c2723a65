package dev.guestmem.linux;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * The checked Linux calls the engine uses: each calls {@link Linux}, checks the C result and on
 * failure throws {@link NativeCallException} carrying the call, the errno and its
 * {@code strerror} text.
 *
 * <h2 id="names">Call names</h2>
 * {@link NativeCallException#call()} is the C function that failed ({@code "mmap"},
 * {@code "fcntl"}, {@code "accept4"}, {@code "sendmsg"}...), except {@link #userfaultfd(int)}, which
 * reports {@code "userfaultfd"} rather than {@code "syscall"}.
 *
 * <h2 id="eintr">EINTR</h2>
 * Calls that C code conventionally restarts after a signal ({@code read}, {@code write},
 * {@code pread}, {@code pwrite}, {@code poll}, {@code accept4}, {@code sendmsg}, {@code recvmsg})
 * are retried here while they fail with {@code EINTR}; {@link #poll} retries with the time left.
 * {@link #close(int)} is never retried: Linux releases the descriptor even when close reports EINTR.
 *
 * <h2 id="buffers">Buffers</h2>
 * Buffers passed to {@code read}/{@code write}-style calls must be native segments (the downcalls
 * are not linked for heap access) and at least {@code count} bytes long; a shorter buffer is an
 * {@link IndexOutOfBoundsException} before any call is made.
 *
 * <p>Thread safety: every method may be called from any thread. Methods that take strings or build
 * messages allocate a confined arena per call: they are setup paths, not hot paths. x86_64 Linux
 * only, like {@link Linux}.
 */
public final class LinuxCalls {
    private LinuxCalls() {}

    /**
     * What {@link #recvWithFds(int, int, int)} received.
     *
     * @param data the bytes received; empty at end of stream
     * @param fds the descriptors received with SCM_RIGHTS, already close-on-exec; the caller owns them
     * @param controlTruncated true if more descriptors were sent than {@code maxFds}: the ones that
     *     did not fit were closed (by the kernel, {@code MSG_CTRUNC}, or here)
     */
    public record Received(byte[] data, int[] fds, boolean controlTruncated) {
        /** Copies nothing; the record owns the arrays it is given. */
        public Received {
            Objects.requireNonNull(data, "data");
            Objects.requireNonNull(fds, "fds");
        }
    }

    /**
     * The credentials of a Unix socket's peer, as {@link #peerCredentials(int)} reads them.
     *
     * @param pid the peer's process id when it connected; 0 if that process is not visible in
     *     this process's pid namespace
     * @param uid its effective user id then, in this process's user namespace (the overflow uid,
     *     usually 65534, if unmapped there)
     * @param gid its effective group id then, likewise
     */
    public record PeerCredentials(int pid, int uid, int gid) {
    }

    // ------------------------------------------------------------------ memory mappings

    /**
     * Maps memory ({@code mmap(2)}).
     *
     * @param addr the hint or fixed address, {@link MemorySegment#NULL} for none
     * @param length bytes to map
     * @param prot {@code PROT_*} bits
     * @param flags {@code MAP_*} bits
     * @param fd file to map, or -1 with {@code MAP_ANONYMOUS}
     * @param offset offset in the file, a multiple of the page size
     * @return the mapping as a segment of {@code length} bytes in the global scope: it is never
     *     unmapped implicitly, the caller must {@link #munmap} it and must not touch it afterwards
     * @throws NativeCallException if mmap returns {@code MAP_FAILED} (EINVAL for length 0, ...)
     */
    public static MemorySegment mmap(MemorySegment addr, long length, int prot, int flags, int fd, long offset) {
        MemorySegment p = Linux.mmap(addr, length, prot, flags, fd, offset);
        if (p.address() == -1L) {
            throw failed("mmap");
        }
        return p.reinterpret(length);
    }

    /**
     * Unmaps memory ({@code munmap(2)}).
     *
     * @param addr start of the range, page aligned
     * @param length bytes to unmap
     * @throws NativeCallException on failure (EINVAL for an unaligned address or length 0)
     */
    public static void munmap(MemorySegment addr, long length) {
        check("munmap", Linux.munmap(addr, length));
    }

    /**
     * Changes page protection ({@code mprotect(2)}).
     *
     * @param addr start of the range, page aligned
     * @param length bytes
     * @param prot {@code PROT_*} bits
     * @throws NativeCallException on failure
     * @throws IndexOutOfBoundsException if {@code length} exceeds {@code addr}'s size
     */
    public static void mprotect(MemorySegment addr, long length, int prot) {
        checkBuffer(addr, length); // the range must lie in the segment: madvise(DONTNEED) past it drops others' memory
        check("mprotect", Linux.mprotect(addr, length, prot));
    }

    /**
     * Writes a shared mapping back to its file ({@code msync(2)}).
     *
     * @param addr start of the range, page aligned
     * @param length bytes
     * @param flags {@code MS_SYNC} or {@code MS_ASYNC}, optionally {@code MS_INVALIDATE}
     * @throws NativeCallException on failure (ENOMEM if the range is not mapped)
     * @throws IndexOutOfBoundsException if {@code length} exceeds {@code addr}'s size
     */
    public static void msync(MemorySegment addr, long length, int flags) {
        checkBuffer(addr, length); // the range must lie in the segment: madvise(DONTNEED) past it drops others' memory
        check("msync", Linux.msync(addr, length, flags));
    }

    /**
     * Gives advice about a range ({@code madvise(2)}).
     *
     * @param addr start of the range, page aligned
     * @param length bytes
     * @param advice a {@code MADV_*} value
     * @throws NativeCallException on failure (EINVAL for unknown advice)
     * @throws IndexOutOfBoundsException if {@code length} exceeds {@code addr}'s size
     */
    public static void madvise(MemorySegment addr, long length, int advice) {
        checkBuffer(addr, length); // the range must lie in the segment: madvise(DONTNEED) past it drops others' memory
        check("madvise", Linux.madvise(addr, length, advice));
    }

    // ------------------------------------------------------------------ files and memfds

    /**
     * Creates an anonymous memory file ({@code memfd_create(2)}).
     *
     * @param name the name shown in {@code /proc/self/fd} (at most 249 bytes)
     * @param flags {@code MFD_*} bits, usually {@code MFD_CLOEXEC | MFD_ALLOW_SEALING}
     * @return the new descriptor
     * @throws NativeCallException on failure
     */
    public static int memfdCreate(String name, int flags) {
        try (Arena arena = Arena.ofConfined()) {
            return check("memfd_create", Linux.memfd_create(arena.allocateFrom(name), flags));
        }
    }

    /**
     * Sets a file's size ({@code ftruncate(2)}).
     *
     * @param fd the file
     * @param length the new size
     * @throws NativeCallException on failure (EPERM when a seal forbids it, EINVAL for a negative size)
     */
    public static void ftruncate(int fd, long length) {
        check("ftruncate", Linux.ftruncate(fd, length));
    }

    /**
     * Allocates or punches a byte range ({@code fallocate(2)}).
     *
     * @param fd the file
     * @param mode 0 or {@code FALLOC_FL_*} bits
     * @param offset first byte
     * @param length bytes
     * @throws NativeCallException on failure (ENOSPC, EOPNOTSUPP, EPERM under seals...)
     */
    public static void fallocate(int fd, int mode, long offset, long length) {
        check("fallocate", Linux.fallocate(fd, mode, offset, length));
    }

    /**
     * Returns a file's size ({@code fstat(2)}'s {@code st_size}).
     *
     * @param fd the file
     * @return its size in bytes
     * @throws NativeCallException on failure (EBADF)
     */
    public static long fstatSize(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = stat.allocate(arena);
            check("fstat", Linux.fstat(fd, st));
            return stat.st_size(st);
        }
    }

    /**
     * The page size of the file system holding {@code fd}, as QEMU's {@code qemu_fd_getpagesize}:
     * the huge page size on hugetlbfs ({@code fstatfs}: {@code f_type == HUGETLBFS_MAGIC}, then
     * {@code f_bsize}), else the host page size.
     *
     * @param fd an open descriptor
     * @return bytes per page of mappings of {@code fd}
     * @throws NativeCallException from {@code fstatfs}
     */
    public static long fdPageSize(int fd) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment st = statfs.allocate(arena);
            check("fstatfs", Linux.fstatfs(fd, st));
            return statfs.f_type(st) == Linux.HUGETLBFS_MAGIC() ? statfs.f_bsize(st) : pageSize();
        }
    }

    /**
     * File descriptor control with an int argument ({@code fcntl(2)}).
     *
     * @param fd the descriptor
     * @param cmd an {@code F_*} command taking an int (or no) argument
     * @param arg the argument
     * @return fcntl's result
     * @throws NativeCallException on failure
     */
    public static int fcntl(int fd, int cmd, int arg) {
        return check("fcntl", Linux.fcntl(fd, cmd, arg));
    }

    /**
     * Adds seals to a memfd created with {@code MFD_ALLOW_SEALING} ({@code F_ADD_SEALS}).
     *
     * @param fd the memfd
     * @param seals {@code F_SEAL_*} bits
     * @return the seals in force afterwards
     * @throws NativeCallException from {@code fcntl} (EPERM if {@code F_SEAL_SEAL} is set or sealing
     *     is not allowed, EBUSY for {@code F_SEAL_WRITE} while writable mappings exist)
     */
    public static int addSeals(int fd, int seals) {
        fcntl(fd, Linux.F_ADD_SEALS(), seals);
        return getSeals(fd);
    }

    /**
     * Returns a memfd's seals ({@code F_GET_SEALS}).
     *
     * @param fd the memfd
     * @return the {@code F_SEAL_*} bits in force
     * @throws NativeCallException from {@code fcntl} (EINVAL if fd does not support seals)
     */
    public static int getSeals(int fd) {
        return fcntl(fd, Linux.F_GET_SEALS(), 0);
    }

    /**
     * Opens a file ({@code open(2)}).
     *
     * @param path the path
     * @param flags {@code O_*} bits; add {@code O_CLOEXEC} unless the fd should survive exec
     * @param mode permission bits used with {@code O_CREAT}
     * @return the new descriptor
     * @throws NativeCallException on failure (ENOENT, EACCES...)
     */
    public static int open(String path, int flags, int mode) {
        try (Arena arena = Arena.ofConfined()) {
            return check("open", Linux.open(arena.allocateFrom(path), flags, mode));
        }
    }

    /**
     * Closes a descriptor ({@code close(2)}); never retried (see <a href="#eintr">EINTR</a>).
     *
     * @param fd the descriptor
     * @throws NativeCallException on failure (EBADF)
     */
    public static void close(int fd) {
        check("close", Linux.close(fd));
    }

    /**
     * Duplicates a descriptor ({@code dup(2)}); the copy is not close-on-exec.
     *
     * @param fd the descriptor
     * @return the new descriptor
     * @throws NativeCallException on failure (EBADF)
     */
    public static int dup(int fd) {
        return check("dup", Linux.dup(fd));
    }

    /**
     * Reads up to {@code count} bytes ({@code read(2)}), retrying on EINTR.
     *
     * @param fd the descriptor
     * @param buf native buffer of at least {@code count} bytes
     * @param count bytes wanted
     * @return bytes read, 0 at end of file
     * @throws NativeCallException on failure (EBADF, EAGAIN on a non-blocking fd...)
     */
    public static long read(int fd, MemorySegment buf, long count) {
        checkBuffer(buf, count);
        long n;
        do {
            n = Linux.read(fd, buf, count);
        } while (n == -1 && Linux.errno() == Linux.EINTR());
        return check("read", n);
    }

    /**
     * Writes up to {@code count} bytes ({@code write(2)}), retrying on EINTR.
     *
     * @param fd the descriptor
     * @param buf native buffer of at least {@code count} bytes
     * @param count bytes to write
     * @return bytes written (may be fewer than {@code count})
     * @throws NativeCallException on failure
     */
    public static long write(int fd, MemorySegment buf, long count) {
        checkBuffer(buf, count);
        long n;
        do {
            n = Linux.write(fd, buf, count);
        } while (n == -1 && Linux.errno() == Linux.EINTR());
        return check("write", n);
    }

    /**
     * Reads at an offset ({@code pread(2)}), retrying on EINTR.
     *
     * @param fd the descriptor
     * @param buf native buffer of at least {@code count} bytes
     * @param count bytes wanted
     * @param offset file offset
     * @return bytes read, 0 at end of file
     * @throws NativeCallException on failure (ESPIPE on a pipe or socket...)
     */
    public static long pread(int fd, MemorySegment buf, long count, long offset) {
        checkBuffer(buf, count);
        long n;
        do {
            n = Linux.pread(fd, buf, count, offset);
        } while (n == -1 && Linux.errno() == Linux.EINTR());
        return check("pread", n);
    }

    /**
     * Writes at an offset ({@code pwrite(2)}), retrying on EINTR.
     *
     * @param fd the descriptor
     * @param buf native buffer of at least {@code count} bytes
     * @param count bytes to write
     * @param offset file offset
     * @return bytes written
     * @throws NativeCallException on failure
     */
    public static long pwrite(int fd, MemorySegment buf, long count, long offset) {
        checkBuffer(buf, count);
        long n;
        do {
            n = Linux.pwrite(fd, buf, count, offset);
        } while (n == -1 && Linux.errno() == Linux.EINTR());
        return check("pwrite", n);
    }

    /**
     * Waits for events ({@code poll(2)}); on EINTR retries with the time that is left.
     *
     * @param pollfds native array of {@code nfds} {@link pollfd} structs
     * @param nfds number of entries
     * @param timeoutMillis milliseconds to wait, 0 for none, negative for ever
     * @return the number of entries with events, 0 on timeout
     * @throws NativeCallException on failure
     */
    public static int poll(MemorySegment pollfds, long nfds, int timeoutMillis) {
        checkBuffer(pollfds, nfds * pollfd.sizeof());
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        int timeout = timeoutMillis;
        int n;
        while ((n = Linux.poll(pollfds, nfds, timeout)) == -1 && Linux.errno() == Linux.EINTR()) {
            if (timeoutMillis > 0) {
                timeout = (int) Math.max(0, (deadline - System.nanoTime()) / 1_000_000L);
            }
        }
        return check("poll", n);
    }

    /**
     * Creates an eventfd ({@code eventfd(2)}).
     *
     * @param initval the counter's initial value
     * @param flags {@code EFD_*} bits
     * @return the new descriptor
     * @throws NativeCallException on failure
     */
    public static int eventfd(int initval, int flags) {
        return check("eventfd", Linux.eventfd(initval, flags));
    }

    /**
     * Device control with a pointer argument ({@code ioctl(2)}); not retried.
     *
     * @param fd the descriptor
     * @param request the request number, such as {@link Linux#UFFDIO_COPY()}
     * @param arg the argument struct (native)
     * @return ioctl's non-negative result
     * @throws NativeCallException on failure; for userfaultfd ioctls the struct's result field
     *     ({@code copy}, {@code zeropage}...) may say how much was done
     */
    public static int ioctl(int fd, long request, MemorySegment arg) {
        return check("ioctl", Linux.ioctl(fd, request, arg));
    }

    /**
     * Creates a userfaultfd ({@code syscall(SYS_userfaultfd, flags)}).
     *
     * @param flags {@code O_CLOEXEC}, {@code O_NONBLOCK}, {@code UFFD_USER_MODE_ONLY}
     * @return the new descriptor; perform the {@code UFFDIO_API} handshake before anything else
     * @throws NativeCallException named {@code "userfaultfd"} (EPERM when
     *     {@code /proc/sys/vm/unprivileged_userfaultfd} is 0 and the caller lacks CAP_SYS_PTRACE,
     *     ENOSYS when the kernel lacks it)
     */
    public static int userfaultfd(int flags) {
        return (int) check("userfaultfd", Linux.syscall(Linux.SYS_userfaultfd(), flags, 0, 0));
    }

    /**
     * Registers the process for {@link #membarrierPrivateExpedited()}
     * ({@code membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0)}, Linux 4.14+). Idempotent.
     *
     * @throws NativeCallException on failure (ENOSYS, EINVAL: the kernel lacks it; EPERM: a seccomp
     *     filter refuses it)
     */
    public static void membarrierRegisterPrivateExpedited() {
        check("membarrier", Linux.syscall(Linux.SYS_membarrier(), Linux.MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED(), 0, 0));
    }

    /**
     * {@code membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)}: when it returns, every thread of this
     * process that was running has executed a full memory barrier (an asymmetric fence: the caller pays
     * a few microseconds so that other threads need no fence of their own).
     *
     * @throws NativeCallException on failure (EPERM until {@link #membarrierRegisterPrivateExpedited()})
     */
    public static void membarrierPrivateExpedited() {
        check("membarrier", Linux.syscall(Linux.SYS_membarrier(), Linux.MEMBARRIER_CMD_PRIVATE_EXPEDITED(), 0, 0));
    }

    // ------------------------------------------------------------------ Unix sockets

    /**
     * Creates a connected pair of Unix stream sockets, close-on-exec.
     *
     * @return the two descriptors
     * @throws NativeCallException on failure
     */
    public static int[] socketpair() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment sv = arena.allocate(ValueLayout.JAVA_INT, 2);
            check("socketpair", Linux.socketpair(Linux.AF_UNIX(), Linux.SOCK_STREAM() | Linux.SOCK_CLOEXEC(), 0, sv));
            return sv.toArray(ValueLayout.JAVA_INT);
        }
    }

    /**
     * Creates a listening Unix stream socket bound to {@code path}, close-on-exec. A path starting
     * with {@code @} names the abstract namespace (no file is created).
     *
     * @param path the socket path, at most 107 bytes
     * @return the listening descriptor
     * @throws IllegalArgumentException if the path is too long
     * @throws NativeCallException from {@code socket}, {@code bind} (EADDRINUSE if it exists) or
     *     {@code listen}; the socket is closed first
     */
    public static int unixListen(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = sockaddr_un.allocate(arena);
            int len = fillSockaddr(addr, path);
            int fd = check("socket", Linux.socket(Linux.AF_UNIX(), Linux.SOCK_STREAM() | Linux.SOCK_CLOEXEC(), 0));
            try {
                check("bind", Linux.bind(fd, addr, len));
                check("listen", Linux.listen(fd, 128));
                return fd;
            } catch (NativeCallException e) {
                Linux.close(fd);
                throw e;
            }
        }
    }

    /**
     * Accepts one connection ({@code accept4(2)} with {@code SOCK_CLOEXEC}), retrying on EINTR.
     *
     * @param listenFd a descriptor from {@link #unixListen(String)}
     * @return the connected descriptor
     * @throws NativeCallException on failure (EAGAIN on a non-blocking socket with nothing pending)
     */
    public static int unixAccept(int listenFd) {
        int fd;
        do {
            fd = Linux.accept4(listenFd, MemorySegment.NULL, MemorySegment.NULL, Linux.SOCK_CLOEXEC());
        } while (fd == -1 && Linux.errno() == Linux.EINTR());
        return check("accept4", fd);
    }

    /**
     * Connects a close-on-exec Unix stream socket to {@code path} ({@code @} prefix: abstract).
     *
     * @param path the socket path, at most 107 bytes
     * @return the connected descriptor
     * @throws IllegalArgumentException if the path is too long
     * @throws NativeCallException from {@code socket} or {@code connect} (ENOENT, ECONNREFUSED); the
     *     socket is closed first
     */
    public static int unixConnect(String path) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = sockaddr_un.allocate(arena);
            int len = fillSockaddr(addr, path);
            int fd = check("socket", Linux.socket(Linux.AF_UNIX(), Linux.SOCK_STREAM() | Linux.SOCK_CLOEXEC(), 0));
            try {
                check("connect", Linux.connect(fd, addr, len));
                return fd;
            } catch (NativeCallException e) {
                Linux.close(fd);
                throw e;
            }
        }
    }

    /**
     * Sends bytes and, in the same message, descriptors with {@code SCM_RIGHTS}
     * ({@code sendmsg(2)} with {@code MSG_NOSIGNAL}), retrying on EINTR. The descriptors stay open
     * here; the receiver gets duplicates.
     *
     * @param sock a connected Unix socket
     * @param data the bytes; at least one byte when fds are sent (a stream socket drops control
     *     data that has no payload)
     * @param fds descriptors to pass, possibly none
     * @return bytes sent; on a stream socket it may be fewer than {@code data.length}, and the
     *     descriptors went with the first byte
     * @throws IllegalArgumentException if fds are given with no data
     * @throws NativeCallException on failure (EPIPE if the peer closed, EBADF for a bad fd)
     */
    public static long sendWithFds(int sock, byte[] data, int... fds) {
        if (fds.length > 0 && data.length == 0) {
            throw new IllegalArgumentException("SCM_RIGHTS needs at least one data byte on a stream socket");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(Math.max(1, data.length));
            MemorySegment.copy(data, 0, buf, ValueLayout.JAVA_BYTE, 0, data.length);
            MemorySegment iov = iovec.allocate(arena);
            iovec.iov_base(iov, buf);
            iovec.iov_len(iov, data.length);
            MemorySegment msg = msghdr.allocate(arena);
            msghdr.msg_iov(msg, iov);
            msghdr.msg_iovlen(msg, 1);
            if (fds.length > 0) {
                long dataLen = (long) fds.length * Integer.BYTES;
                MemorySegment control = arena.allocate(Linux.CMSG_SPACE(dataLen), Long.BYTES);
                cmsghdr.cmsg_len(control, Linux.CMSG_LEN(dataLen));
                cmsghdr.cmsg_level(control, Linux.SOL_SOCKET());
                cmsghdr.cmsg_type(control, Linux.SCM_RIGHTS());
                MemorySegment.copy(fds, 0, Linux.CMSG_DATA(control), ValueLayout.JAVA_INT, 0, fds.length);
                msghdr.msg_control(msg, control);
                msghdr.msg_controllen(msg, control.byteSize());
            }
            long n;
            do {
                n = Linux.sendmsg(sock, msg, Linux.MSG_NOSIGNAL());
            } while (n == -1 && Linux.errno() == Linux.EINTR());
            return check("sendmsg", n);
        }
    }

    /**
     * Receives up to {@code maxBytes} bytes and up to {@code maxFds} descriptors passed with
     * {@code SCM_RIGHTS} ({@code recvmsg(2)} with {@code MSG_CMSG_CLOEXEC}), retrying on EINTR.
     *
     * @param sock a connected Unix socket
     * @param maxBytes the most bytes to take, at least 1
     * @param maxFds the most descriptors to take; extra ones are closed and reported as
     *     {@link Received#controlTruncated()}
     * @return the bytes (empty at end of stream) and the received descriptors, which the caller owns
     * @throws IllegalArgumentException if {@code maxBytes < 1} or {@code maxFds < 0}
     * @throws NativeCallException on failure
     */
    public static Received recvWithFds(int sock, int maxBytes, int maxFds) {
        if (maxBytes < 1 || maxFds < 0) {
            throw new IllegalArgumentException("maxBytes " + maxBytes + " must be >= 1, maxFds " + maxFds + " >= 0");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(maxBytes);
            MemorySegment iov = iovec.allocate(arena);
            iovec.iov_base(iov, buf);
            iovec.iov_len(iov, maxBytes);
            MemorySegment msg = msghdr.allocate(arena);
            msghdr.msg_iov(msg, iov);
            msghdr.msg_iovlen(msg, 1);
            MemorySegment control = MemorySegment.NULL;
            if (maxFds > 0) {
                control = arena.allocate(Linux.CMSG_SPACE((long) maxFds * Integer.BYTES), Long.BYTES);
                msghdr.msg_control(msg, control);
                msghdr.msg_controllen(msg, control.byteSize());
            }
            long n;
            do {
                n = Linux.recvmsg(sock, msg, Linux.MSG_CMSG_CLOEXEC());
            } while (n == -1 && Linux.errno() == Linux.EINTR());
            check("recvmsg", n);
            int[] fds = maxFds > 0 ? receivedFds(control, msghdr.msg_controllen(msg)) : new int[0];
            boolean truncated = (msghdr.msg_flags(msg) & Linux.MSG_CTRUNC()) != 0;
            if (fds.length > maxFds) {
                // CMSG_SPACE rounds up to 8 bytes, so the kernel may fit one more fd than asked for:
                // keep the promise of at most maxFds and close the extras.
                for (int i = maxFds; i < fds.length; i++) {
                    Linux.close(fds[i]);
                }
                fds = Arrays.copyOf(fds, maxFds);
                truncated = true;
            }
            return new Received(buf.asSlice(0, n).toArray(ValueLayout.JAVA_BYTE), fds, truncated);
        }
    }

    /**
     * Reads who is at the other end of a connected Unix socket ({@code getsockopt(SOL_SOCKET,
     * SO_PEERCRED)}): the kernel records the peer's pid, effective uid and effective gid when it
     * called {@code connect} (or {@code socketpair}), so the peer cannot forge them; a later
     * {@code setuid} or hand-over of the socket to another process does not change them.
     *
     * @param sock a connected Unix socket
     * @return the peer's credentials
     * @throws NativeCallException on failure (ENOTSOCK, EBADF)
     */
    public static PeerCredentials peerCredentials(int sock) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cred = ucred.allocate(arena);
            MemorySegment len = arena.allocate(Linux.C_INT);
            len.set(Linux.C_INT, 0, (int) ucred.sizeof());
            check("getsockopt", Linux.getsockopt(sock, Linux.SOL_SOCKET(), Linux.SO_PEERCRED(), cred, len));
            return new PeerCredentials(ucred.pid(cred), ucred.uid(cred), ucred.gid(cred));
        }
    }

    // ------------------------------------------------------------------ process

    /**
     * Returns the page size ({@code sysconf(_SC_PAGESIZE)}).
     *
     * @return bytes in a base page, 4096 on x86_64
     */
    public static long pageSize() {
        return PageSize.VALUE;
    }

    /**
     * Returns the text of an errno value ({@code strerror(3)}).
     *
     * @param errno the value
     * @return its text, such as "Bad file descriptor"
     */
    public static String strerror(int errno) {
        return Linux.strerror(errno).getString(0);
    }

    /**
     * Returns the process id ({@code getpid(2)}).
     *
     * @return the pid
     */
    public static int getpid() {
        return Linux.getpid();
    }

    /**
     * Returns the effective user id ({@code geteuid(2)}): the uid {@link #peerCredentials} reports
     * for this process to the processes it connects to.
     *
     * @return the uid (unsigned in C; uids above 2^31 are negative here)
     */
    public static int geteuid() {
        return Linux.geteuid();
    }

    // ------------------------------------------------------------------ helpers

    // Racy-free lazy holder: the class initialiser runs once, under the JVM's init lock.
    private static final class PageSize {
        static final long VALUE = check("sysconf", Linux.sysconf(Linux._SC_PAGESIZE()));
    }

    private static int fillSockaddr(MemorySegment addr, String path) {
        boolean abstractName = path.startsWith("@");
        byte[] bytes = path.getBytes(StandardCharsets.UTF_8);
        long max = sockaddr_un.sun_path$layout().byteSize() - (abstractName ? 0 : 1);
        if (bytes.length > max) {
            throw new IllegalArgumentException("Unix socket path longer than " + max + " bytes: " + path);
        }
        sockaddr_un.sun_family(addr, (short) Linux.AF_UNIX());
        MemorySegment sunPath = sockaddr_un.sun_path(addr);
        MemorySegment.copy(bytes, 0, sunPath, ValueLayout.JAVA_BYTE, 0, bytes.length);
        if (abstractName) {
            sunPath.set(ValueLayout.JAVA_BYTE, 0, (byte) 0);
            return (int) (sockaddr_un.sun_path$offset() + bytes.length);
        }
        return (int) sockaddr_un.sizeof();
    }

    private static int[] receivedFds(MemorySegment control, long controlLen) {
        int[] fds = new int[0];
        long hdr = cmsghdr.sizeof();
        long off = 0;
        while (off + hdr <= controlLen) {
            MemorySegment cmsg = control.asSlice(off);
            long len = cmsghdr.cmsg_len(cmsg);
            if (len < Linux.CMSG_LEN(0) || off + len > controlLen) {
                break;
            }
            if (cmsghdr.cmsg_level(cmsg) == Linux.SOL_SOCKET() && cmsghdr.cmsg_type(cmsg) == Linux.SCM_RIGHTS()) {
                int count = (int) ((len - Linux.CMSG_LEN(0)) / Integer.BYTES);
                int[] more = Linux.CMSG_DATA(cmsg).asSlice(0, (long) count * Integer.BYTES).toArray(ValueLayout.JAVA_INT);
                int old = fds.length;
                fds = Arrays.copyOf(fds, old + count);
                System.arraycopy(more, 0, fds, old, count);
            }
            off += Linux.CMSG_ALIGN(len);
        }
        return fds;
    }

    private static void checkBuffer(MemorySegment buf, long count) {
        Objects.checkFromIndexSize(0L, count, buf.byteSize());
    }

    private static int check(String call, int result) {
        if (result == -1) {
            throw failed(call);
        }
        return result;
    }

    private static long check(String call, long result) {
        if (result == -1) {
            throw failed(call);
        }
        return result;
    }

    /** Builds the exception from the errno the calling thread's last call left. */
    private static NativeCallException failed(String call) {
        int errno = Linux.errno(); // read before strerror, which is itself a captured call
        return new NativeCallException(call, errno, strerror(errno));
    }
}
