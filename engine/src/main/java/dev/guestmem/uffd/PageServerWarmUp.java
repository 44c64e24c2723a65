package dev.guestmem.uffd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.pollfd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** The page server's warm-up of its fault path, before it connects. */
final class PageServerWarmUp {
    private static final boolean DEBUG = Boolean.getBoolean("guestmem.uffd.debug");

    private PageServerWarmUp() {
    }

    /**
     * Runs the fault path's system calls (poll, read of the message queue, UFFDIO_COPY into a
     * registered range, metrics clock) on a scratch region of this process, before the server
     * connects, so that the first faults of a restore are served by compiled code and linked
     * downcalls rather than by the interpreter (the server starts ahead of the restore, so this
     * time is not the guest's). Best effort: any failure just skips it.
     */
    static void run() {
        long len = 1L << 20;
        MemorySegment region = null;
        Uffd u = null;
        try (Arena a = Arena.ofConfined()) {
            u = Uffd.open(new long[1], false); // no REMOVE events: the madvise below would wait for this thread
            region = LinuxCalls.mmap(MemorySegment.NULL, len, Linux.PROT_READ() | Linux.PROT_WRITE(),
                    Linux.MAP_PRIVATE() | Linux.MAP_ANONYMOUS(), -1, 0);
            u.registerMissing(region.address(), len);
            MemorySegment src = a.allocate(4096, 4096);
            src.fill((byte) 1);
            MemorySegment msgs = a.allocate(Uffd.MSG_SIZE * 64L, 8);
            MemorySegment pfd = pollfd.allocate(a);
            pollfd.fd(pfd, u.fd);
            pollfd.events(pfd, (short) Linux.POLLIN());
            long sink = 0;
            for (int round = 0; round < 48; round++) {
                for (long off = 0; off < len; off += 4096) {
                    LinuxCalls.poll(pfd, 1, 0);
                    sink += Linux.read(u.fd, msgs, msgs.byteSize()); // EAGAIN: nothing queued
                    long t0 = System.nanoTime();
                    sink += u.copy(region.address() + off, src.address(), 4096);
                    sink += System.nanoTime() - t0;
                }
                LinuxCalls.madvise(region, len, Linux.MADV_DONTNEED());
            }
            if (DEBUG) {
                System.err.println("page server: warmed up (" + sink + ")");
            }
        } catch (RuntimeException e) {
            if (DEBUG) {
                System.err.println("page server: warm-up skipped: " + e);
            }
        } finally {
            if (region != null) {
                LinuxCalls.munmap(region, len);
            }
            if (u != null) {
                u.close();
            }
        }
    }
}
