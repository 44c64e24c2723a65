package dev.guestmem.linux;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Success and failure paths (with the exact errno) of every {@link LinuxCalls} method. */
class LinuxCallsTest {
    static final long PAGE = LinuxCalls.pageSize();

    @TempDir
    Path tmp;

    /** Asserts that {@code body} throws a NativeCallException for {@code call} with {@code errno}. */
    static NativeCallException assertFails(String call, int errno, Executable body) {
        NativeCallException e = assertThrows(NativeCallException.class, body);
        assertEquals(call, e.call(), e.getMessage());
        assertEquals(errno, e.errno(), e.getMessage());
        assertTrue(e.getMessage().contains(LinuxCalls.strerror(errno)), e.getMessage());
        return e;
    }

    static MemorySegment anon(long length) {
        return LinuxCalls.mmap(MemorySegment.NULL, length, Linux.PROT_READ() | Linux.PROT_WRITE(),
                Linux.MAP_PRIVATE() | Linux.MAP_ANONYMOUS(), -1, 0);
    }

    static int closedFd() {
        int fd = LinuxCalls.eventfd(0, Linux.EFD_CLOEXEC());
        LinuxCalls.close(fd);
        return fd;
    }

    @Test
    void pageSizeAndPid() {
        assertEquals(4096, PAGE);
        assertEquals(Linux.getpagesize(), PAGE);
        assertEquals(ProcessHandle.current().pid(), LinuxCalls.getpid());
    }

    @Test
    void strerrorText() {
        assertEquals("Bad file descriptor", LinuxCalls.strerror(Linux.EBADF()));
        assertEquals("No such file or directory", LinuxCalls.strerror(Linux.ENOENT()));
    }

    @Test
    void errnoIsPerThread() throws Exception {
        assertEquals(-1, Linux.close(-1));
        assertEquals(Linux.EBADF(), Linux.errno());
        int[] other = new int[1];
        Thread t = Thread.ofPlatform().start(() -> {
            Linux.munmap(MemorySegment.ofAddress(1), PAGE); // unaligned: EINVAL
            other[0] = Linux.errno();
        });
        t.join(10_000);
        assertEquals(Linux.EINVAL(), other[0]);
        assertEquals(Linux.EBADF(), Linux.errno(), "another thread's call must not change this thread's errno");
    }

    @Test
    void mmapMunmap() {
        MemorySegment m = anon(2 * PAGE);
        assertEquals(2 * PAGE, m.byteSize());
        assertEquals(0, m.address() % PAGE);
        m.set(ValueLayout.JAVA_LONG, PAGE, 0x1122334455667788L);
        assertEquals(0x1122334455667788L, m.get(ValueLayout.JAVA_LONG, PAGE));
        LinuxCalls.munmap(m, 2 * PAGE);
    }

    @Test
    void mmapFailures() {
        assertFails("mmap", Linux.EINVAL(), () -> anon(0));
        assertFails("mmap", Linux.EBADF(), () -> LinuxCalls.mmap(MemorySegment.NULL, PAGE, Linux.PROT_READ(),
                Linux.MAP_SHARED(), closedFd(), 0));
        assertFails("munmap", Linux.EINVAL(), () -> LinuxCalls.munmap(MemorySegment.ofAddress(PAGE + 1), PAGE));
    }

    @Test
    void mprotect() {
        MemorySegment m = anon(PAGE);
        LinuxCalls.mprotect(m, PAGE, Linux.PROT_READ());
        LinuxCalls.mprotect(m, PAGE, Linux.PROT_READ() | Linux.PROT_WRITE());
        m.set(ValueLayout.JAVA_BYTE, 0, (byte) 1);
        assertFails("mprotect", Linux.EINVAL(), () -> LinuxCalls.mprotect(m.asSlice(1), 1, Linux.PROT_READ()));
        LinuxCalls.munmap(m, PAGE);
    }

    @Test
    void madvise() {
        MemorySegment m = anon(PAGE);
        m.set(ValueLayout.JAVA_INT, 0, 42);
        LinuxCalls.madvise(m, PAGE, Linux.MADV_DONTNEED());
        assertEquals(0, m.get(ValueLayout.JAVA_INT, 0), "MADV_DONTNEED on private anonymous memory zero-fills");
        assertFails("madvise", Linux.EINVAL(), () -> LinuxCalls.madvise(m, PAGE, 12345));
        LinuxCalls.munmap(m, PAGE);
    }

    @Test
    void msync() {
        int fd = LinuxCalls.memfdCreate("msync", Linux.MFD_CLOEXEC());
        LinuxCalls.ftruncate(fd, PAGE);
        MemorySegment m = LinuxCalls.mmap(MemorySegment.NULL, PAGE, Linux.PROT_READ() | Linux.PROT_WRITE(),
                Linux.MAP_SHARED(), fd, 0);
        m.set(ValueLayout.JAVA_INT, 0, 7);
        LinuxCalls.msync(m, PAGE, Linux.MS_SYNC());
        assertFails("msync", Linux.EINVAL(), () -> LinuxCalls.msync(m, PAGE, Linux.MS_SYNC() | Linux.MS_ASYNC()));
        LinuxCalls.munmap(m, PAGE);
        assertFails("msync", Linux.ENOMEM(), () -> LinuxCalls.msync(m, PAGE, Linux.MS_SYNC()));
        LinuxCalls.close(fd);
    }

    @Test
    void memfdSizeAndFallocate() {
        int fd = LinuxCalls.memfdCreate("guestmem-test", Linux.MFD_CLOEXEC());
        assertTrue(fd >= 0);
        assertEquals(0, LinuxCalls.fstatSize(fd));
        LinuxCalls.ftruncate(fd, 3 * PAGE);
        assertEquals(3 * PAGE, LinuxCalls.fstatSize(fd));
        LinuxCalls.fallocate(fd, 0, 0, 5 * PAGE);
        assertEquals(5 * PAGE, LinuxCalls.fstatSize(fd));
        LinuxCalls.fallocate(fd, Linux.FALLOC_FL_PUNCH_HOLE() | Linux.FALLOC_FL_KEEP_SIZE(), 0, PAGE);
        assertEquals(5 * PAGE, LinuxCalls.fstatSize(fd));
        assertFails("fallocate", Linux.EOPNOTSUPP(), () -> LinuxCalls.fallocate(fd, Linux.FALLOC_FL_PUNCH_HOLE(), 0, PAGE));
        assertFails("ftruncate", Linux.EINVAL(), () -> LinuxCalls.ftruncate(fd, -1));
        LinuxCalls.close(fd);
        assertFails("fstat", Linux.EBADF(), () -> LinuxCalls.fstatSize(fd));
        assertFails("ftruncate", Linux.EBADF(), () -> LinuxCalls.ftruncate(fd, 0));
        assertFails("fallocate", Linux.EBADF(), () -> LinuxCalls.fallocate(fd, 0, 0, PAGE));
    }

    @Test
    void memfdCreateFailure() {
        assertFails("memfd_create", Linux.EINVAL(), () -> LinuxCalls.memfdCreate("bad-flags", 0x7000_0000));
    }

    @Test
    void memfdSealsAndSharedMapping() {
        int fd = LinuxCalls.memfdCreate("sealed", Linux.MFD_CLOEXEC() | Linux.MFD_ALLOW_SEALING());
        LinuxCalls.ftruncate(fd, 2 * PAGE);
        assertEquals(0, LinuxCalls.getSeals(fd));
        int seals = LinuxCalls.addSeals(fd, Linux.F_SEAL_SHRINK() | Linux.F_SEAL_GROW());
        assertEquals(Linux.F_SEAL_SHRINK() | Linux.F_SEAL_GROW(), seals);
        assertFails("ftruncate", Linux.EPERM(), () -> LinuxCalls.ftruncate(fd, PAGE));
        assertFails("ftruncate", Linux.EPERM(), () -> LinuxCalls.ftruncate(fd, 4 * PAGE));
        LinuxCalls.ftruncate(fd, 2 * PAGE); // same size is allowed under both seals

        MemorySegment m = LinuxCalls.mmap(MemorySegment.NULL, 2 * PAGE, Linux.PROT_READ() | Linux.PROT_WRITE(),
                Linux.MAP_SHARED(), fd, 0);
        m.set(ValueLayout.JAVA_LONG, PAGE + 8, 0xCAFEBABEL);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8);
            assertEquals(8, LinuxCalls.pread(fd, buf, 8, PAGE + 8));
            assertEquals(0xCAFEBABEL, buf.get(ValueLayout.JAVA_LONG, 0));
            buf.set(ValueLayout.JAVA_LONG, 0, 0xF00DL);
            assertEquals(8, LinuxCalls.pwrite(fd, buf, 8, 16));
            assertEquals(0xF00DL, m.get(ValueLayout.JAVA_LONG, 16), "pwrite shows through the shared mapping");
        }
        // F_SEAL_WRITE is refused while a writable shared mapping exists
        assertFails("fcntl", Linux.EBUSY(), () -> LinuxCalls.addSeals(fd, Linux.F_SEAL_WRITE()));
        LinuxCalls.munmap(m, 2 * PAGE);
        LinuxCalls.addSeals(fd, Linux.F_SEAL_SEAL());
        assertFails("fcntl", Linux.EPERM(), () -> LinuxCalls.addSeals(fd, Linux.F_SEAL_WRITE()));
        LinuxCalls.close(fd);
    }

    @Test
    void sealsNeedAllowSealing() {
        int fd = LinuxCalls.memfdCreate("unsealable", Linux.MFD_CLOEXEC());
        assertEquals(Linux.F_SEAL_SEAL(), LinuxCalls.getSeals(fd), "without MFD_ALLOW_SEALING F_SEAL_SEAL is preset");
        assertFails("fcntl", Linux.EPERM(), () -> LinuxCalls.addSeals(fd, Linux.F_SEAL_SHRINK()));
        LinuxCalls.close(fd);
        assertFails("fcntl", Linux.EBADF(), () -> LinuxCalls.getSeals(fd));
    }

    @Test
    void fcntlFlags() {
        int fd = LinuxCalls.eventfd(0, Linux.EFD_CLOEXEC());
        assertEquals(Linux.FD_CLOEXEC(), LinuxCalls.fcntl(fd, Linux.F_GETFD(), 0));
        LinuxCalls.fcntl(fd, Linux.F_SETFD(), 0);
        assertEquals(0, LinuxCalls.fcntl(fd, Linux.F_GETFD(), 0));
        assertFails("fcntl", Linux.EINVAL(), () -> LinuxCalls.fcntl(fd, 99999, 0));
        LinuxCalls.close(fd);
    }

    @Test
    void closeAndDup() {
        assertFails("close", Linux.EBADF(), () -> LinuxCalls.close(-1));
        int fd = LinuxCalls.eventfd(0, Linux.EFD_CLOEXEC());
        int copy = LinuxCalls.dup(fd);
        assertNotEquals(fd, copy);
        assertEquals(0, LinuxCalls.fcntl(copy, Linux.F_GETFD(), 0), "dup does not copy FD_CLOEXEC");
        LinuxCalls.close(fd);
        LinuxCalls.close(copy);
        assertFails("close", Linux.EBADF(), () -> LinuxCalls.close(fd));
        assertFails("dup", Linux.EBADF(), () -> LinuxCalls.dup(fd));
    }

    @Test
    void openReadWrite() throws Exception {
        Path file = tmp.resolve("data.bin");
        Files.write(file, "hello guest".getBytes(StandardCharsets.US_ASCII));
        int fd = LinuxCalls.open(file.toString(), Linux.O_RDWR() | Linux.O_CLOEXEC(), 0);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(64);
            assertEquals(11, LinuxCalls.read(fd, buf, 64));
            assertEquals("hello guest", new String(buf.asSlice(0, 11).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.US_ASCII));
            assertEquals(0, LinuxCalls.read(fd, buf, 64), "end of file");
            buf.setString(0, "!", StandardCharsets.US_ASCII);
            assertEquals(1, LinuxCalls.write(fd, buf, 1));
            assertThrows(IndexOutOfBoundsException.class, () -> LinuxCalls.read(fd, buf, 65));
        }
        assertEquals(12, LinuxCalls.fstatSize(fd));
        LinuxCalls.close(fd);
        assertEquals("hello guest!", Files.readString(file));

        int created = LinuxCalls.open(tmp.resolve("new").toString(),
                Linux.O_RDWR() | Linux.O_CREAT() | Linux.O_EXCL() | Linux.O_CLOEXEC(), 0600);
        LinuxCalls.close(created);
        assertFails("open", Linux.EEXIST(), () -> LinuxCalls.open(tmp.resolve("new").toString(),
                Linux.O_RDWR() | Linux.O_CREAT() | Linux.O_EXCL(), 0600));
        assertFails("open", Linux.ENOENT(), () -> LinuxCalls.open(tmp.resolve("missing").toString(), Linux.O_RDONLY(), 0));
        assertFails("open", Linux.ENOTDIR(), () -> LinuxCalls.open(file + "/x", Linux.O_RDONLY(), 0));
    }

    @Test
    void readWriteFailures() {
        int fd = closedFd();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(8);
            assertFails("read", Linux.EBADF(), () -> LinuxCalls.read(fd, buf, 8));
            assertFails("write", Linux.EBADF(), () -> LinuxCalls.write(fd, buf, 8));
            assertFails("pread", Linux.EBADF(), () -> LinuxCalls.pread(fd, buf, 8, 0));
            assertFails("pwrite", Linux.EBADF(), () -> LinuxCalls.pwrite(fd, buf, 8, 0));
            int[] pair = LinuxCalls.socketpair();
            assertFails("pread", Linux.ESPIPE(), () -> LinuxCalls.pread(pair[0], buf, 8, 0));
            assertFails("pwrite", Linux.ESPIPE(), () -> LinuxCalls.pwrite(pair[0], buf, 8, 0));
            LinuxCalls.close(pair[0]);
            assertFails("write", Linux.EPIPE(), () -> LinuxCalls.write(pair[1], buf, 8));
            LinuxCalls.close(pair[1]);
        }
    }

    @Test
    void eventfdPollReadWrite() {
        int efd = LinuxCalls.eventfd(0, Linux.EFD_CLOEXEC() | Linux.EFD_NONBLOCK());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = pollfd.allocateArray(1, arena);
            pollfd.fd(fds, efd);
            pollfd.events(fds, (short) Linux.POLLIN());
            assertEquals(0, LinuxCalls.poll(fds, 1, 0), "nothing to read yet");
            MemorySegment counter = arena.allocate(ValueLayout.JAVA_LONG);
            assertFails("read", Linux.EAGAIN(), () -> LinuxCalls.read(efd, counter, 8));
            counter.set(ValueLayout.JAVA_LONG, 0, 5);
            assertEquals(8, LinuxCalls.write(efd, counter, 8));
            assertEquals(1, LinuxCalls.poll(fds, 1, 1000));
            assertEquals(Linux.POLLIN(), pollfd.revents(fds));
            counter.set(ValueLayout.JAVA_LONG, 0, 0);
            assertEquals(8, LinuxCalls.read(efd, counter, 8));
            assertEquals(5, counter.get(ValueLayout.JAVA_LONG, 0));
            assertThrows(IndexOutOfBoundsException.class, () -> LinuxCalls.poll(fds, 2, 0));
            MemorySegment unbounded = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);
            assertFails("poll", Linux.EFAULT(), () -> LinuxCalls.poll(unbounded, 1, 0)); // pollfds at NULL
        }
        LinuxCalls.close(efd);
        assertFails("eventfd", Linux.EINVAL(), () -> LinuxCalls.eventfd(0, 0x7000_0000));
    }

    @Test
    void ioctlFailures() {
        int efd = LinuxCalls.eventfd(0, Linux.EFD_CLOEXEC());
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment api = uffdio_api.allocate(arena);
            assertFails("ioctl", Linux.ENOTTY(), () -> LinuxCalls.ioctl(efd, Linux.UFFDIO_API(), api));
            LinuxCalls.close(efd);
            assertFails("ioctl", Linux.EBADF(), () -> LinuxCalls.ioctl(efd, Linux.UFFDIO_API(), api));
        }
    }

    @Test
    void userfaultfdFailure() {
        assertFails("userfaultfd", Linux.EINVAL(), () -> LinuxCalls.userfaultfd(0x4000_0000));
    }

    @Test
    void socketpairStreams() {
        int[] pair = LinuxCalls.socketpair();
        assertEquals(2, pair.length);
        assertEquals(Linux.FD_CLOEXEC(), LinuxCalls.fcntl(pair[0], Linux.F_GETFD(), 0));
        assertEquals(3, LinuxCalls.sendWithFds(pair[0], new byte[] {1, 2, 3}));
        LinuxCalls.Received r = LinuxCalls.recvWithFds(pair[1], 16, 4);
        assertArrayEquals(new byte[] {1, 2, 3}, r.data());
        assertEquals(0, r.fds().length);
        assertFalse(r.controlTruncated());
        LinuxCalls.close(pair[0]);
        assertEquals(0, LinuxCalls.recvWithFds(pair[1], 16, 0).data().length, "end of stream");
        assertFails("sendmsg", Linux.EPIPE(), () -> LinuxCalls.sendWithFds(pair[1], new byte[] {1}));
        LinuxCalls.close(pair[1]);
        assertFails("sendmsg", Linux.EBADF(), () -> LinuxCalls.sendWithFds(pair[1], new byte[] {1}));
        assertFails("recvmsg", Linux.EBADF(), () -> LinuxCalls.recvWithFds(pair[1], 1, 1));
        assertThrows(IllegalArgumentException.class, () -> LinuxCalls.sendWithFds(pair[0], new byte[0], 1));
    }

    /** SO_PEERCRED names this process at both ends of a pair, with the ids /proc reports as effective. */
    @Test
    void peerCredentialsOfAConnectedSocket() throws Exception {
        int[] pair = LinuxCalls.socketpair();
        try {
            LinuxCalls.PeerCredentials c = LinuxCalls.peerCredentials(pair[1]);
            assertEquals(LinuxCalls.getpid(), c.pid());
            assertEquals(effectiveId("Uid:"), c.uid());
            assertEquals(effectiveId("Gid:"), c.gid());
            assertEquals(c.uid(), LinuxCalls.geteuid());
        } finally {
            LinuxCalls.close(pair[0]);
            LinuxCalls.close(pair[1]);
        }
        int notSocket = LinuxCalls.eventfd(0, Linux.EFD_CLOEXEC());
        try {
            assertFails("getsockopt", Linux.ENOTSOCK(), () -> LinuxCalls.peerCredentials(notSocket));
        } finally {
            LinuxCalls.close(notSocket);
        }
        assertFails("getsockopt", Linux.EBADF(), () -> LinuxCalls.peerCredentials(closedFd()));
    }

    /** The effective id on a {@code Uid:} or {@code Gid:} line of /proc/self/status (real, effective, saved, fs). */
    private static int effectiveId(String line) throws Exception {
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (l.startsWith(line)) {
                return Integer.parseUnsignedInt(l.substring(line.length()).trim().split("\\s+")[1]);
            }
        }
        throw new AssertionError("no " + line + " in /proc/self/status");
    }

    @Test
    void unixListenAcceptConnect() throws Exception {
        String path = tmp.resolve("s.sock").toString();
        assertFails("connect", Linux.ENOENT(), () -> LinuxCalls.unixConnect(path));
        int listener = LinuxCalls.unixListen(path);
        assertFails("bind", Linux.EADDRINUSE(), () -> LinuxCalls.unixListen(path));
        int client = LinuxCalls.unixConnect(path);
        int server = LinuxCalls.unixAccept(listener);
        assertEquals(Linux.FD_CLOEXEC(), LinuxCalls.fcntl(server, Linux.F_GETFD(), 0));
        LinuxCalls.sendWithFds(client, "ping".getBytes(StandardCharsets.US_ASCII));
        assertEquals("ping", new String(LinuxCalls.recvWithFds(server, 4, 0).data(), StandardCharsets.US_ASCII));
        LinuxCalls.close(client);
        LinuxCalls.close(server);
        LinuxCalls.close(listener);
        assertFails("accept4", Linux.EBADF(), () -> LinuxCalls.unixAccept(listener));
        assertThrows(IllegalArgumentException.class, () -> LinuxCalls.unixListen("/" + "x".repeat(107)));

        String abstractName = "@guestmem-test-" + LinuxCalls.getpid();
        int abstractListener = LinuxCalls.unixListen(abstractName);
        int c2 = LinuxCalls.unixConnect(abstractName);
        int s2 = LinuxCalls.unixAccept(abstractListener);
        LinuxCalls.close(c2);
        LinuxCalls.close(s2);
        LinuxCalls.close(abstractListener);
    }

    @Test
    void fdPassingSharesMemory() {
        int[] pair = LinuxCalls.socketpair();
        int memfd = LinuxCalls.memfdCreate("shared-ram", Linux.MFD_CLOEXEC() | Linux.MFD_ALLOW_SEALING());
        LinuxCalls.ftruncate(memfd, PAGE);
        int efd = LinuxCalls.eventfd(0, Linux.EFD_CLOEXEC());
        assertEquals(1, LinuxCalls.sendWithFds(pair[0], new byte[] {42}, memfd, efd));
        LinuxCalls.Received r = LinuxCalls.recvWithFds(pair[1], 8, 4);
        assertArrayEquals(new byte[] {42}, r.data());
        assertEquals(2, r.fds().length);
        assertFalse(r.controlTruncated());
        int received = r.fds()[0];
        assertNotEquals(memfd, received);
        assertEquals(Linux.FD_CLOEXEC(), LinuxCalls.fcntl(received, Linux.F_GETFD(), 0), "MSG_CMSG_CLOEXEC");
        assertEquals(PAGE, LinuxCalls.fstatSize(received));

        int rw = Linux.PROT_READ() | Linux.PROT_WRITE();
        MemorySegment a = LinuxCalls.mmap(MemorySegment.NULL, PAGE, rw, Linux.MAP_SHARED(), memfd, 0);
        MemorySegment b = LinuxCalls.mmap(MemorySegment.NULL, PAGE, rw, Linux.MAP_SHARED(), received, 0);
        assertNotEquals(a.address(), b.address());
        a.set(ValueLayout.JAVA_LONG, 0, 0x0123456789ABCDEFL);
        assertEquals(0x0123456789ABCDEFL, b.get(ValueLayout.JAVA_LONG, 0));
        b.set(ValueLayout.JAVA_INT, 100, 77);
        assertEquals(77, a.get(ValueLayout.JAVA_INT, 100));
        LinuxCalls.munmap(a, PAGE);
        LinuxCalls.munmap(b, PAGE);

        // more fds than maxFds: at most maxFds arrive, the rest are closed and reported
        LinuxCalls.sendWithFds(pair[0], new byte[] {1}, memfd, efd); // fits CMSG_SPACE(4): no MSG_CTRUNC
        LinuxCalls.Received extra = LinuxCalls.recvWithFds(pair[1], 8, 1);
        assertTrue(extra.controlTruncated());
        assertEquals(1, extra.fds().length);
        LinuxCalls.close(extra.fds()[0]);
        LinuxCalls.sendWithFds(pair[0], new byte[] {1}, memfd, efd, memfd); // kernel MSG_CTRUNC
        LinuxCalls.Received truncated = LinuxCalls.recvWithFds(pair[1], 8, 1);
        assertTrue(truncated.controlTruncated());
        assertEquals(1, truncated.fds().length);

        for (int fd : new int[] {pair[0], pair[1], memfd, efd, received, r.fds()[1], truncated.fds()[0]}) {
            LinuxCalls.close(fd);
        }
    }

    @Test
    void membarrierNeedsRegistrationThenSucceeds() {
        // registration is per process and idempotent; the expedited barrier then returns 0
        LinuxCalls.membarrierRegisterPrivateExpedited();
        LinuxCalls.membarrierRegisterPrivateExpedited();
        LinuxCalls.membarrierPrivateExpedited();
        long mask = Linux.syscall(Linux.SYS_membarrier(), Linux.MEMBARRIER_CMD_QUERY(), 0, 0);
        assertTrue((mask & Linux.MEMBARRIER_CMD_PRIVATE_EXPEDITED()) != 0, "the kernel lists the command");
    }

    @Test
    void rangeCallsRefuseALengthBeyondTheirSegment() {
        MemorySegment map = LinuxCalls.mmap(MemorySegment.NULL, 2 * PAGE, Linux.PROT_READ() | Linux.PROT_WRITE(),
                Linux.MAP_PRIVATE() | Linux.MAP_ANONYMOUS(), -1, 0);
        try {
            map.set(java.lang.foreign.ValueLayout.JAVA_BYTE, PAGE, (byte) 7);
            MemorySegment first = map.asSlice(0, PAGE);
            // DONTNEED over 2 pages through a 1-page segment would zero the neighbour's page
            assertThrows(IndexOutOfBoundsException.class,
                    () -> LinuxCalls.madvise(first, 2 * PAGE, Linux.MADV_DONTNEED()));
            assertThrows(IndexOutOfBoundsException.class, () -> LinuxCalls.msync(first, 2 * PAGE, Linux.MS_SYNC()));
            assertThrows(IndexOutOfBoundsException.class, () -> LinuxCalls.mprotect(first, 2 * PAGE, Linux.PROT_READ()));
            assertEquals(7, map.get(java.lang.foreign.ValueLayout.JAVA_BYTE, PAGE));
        } finally {
            LinuxCalls.munmap(map, 2 * PAGE);
        }
    }
}
