package dev.guestmem.uffd;

import dev.guestmem.linux.Linux;
import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.pollfd;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * The guardian process of a lazy restore: the part of hazard 1's answer that covers the page
 * server's death. Started by {@link PageServerProcess} next to the page server, it receives from
 * the guest, with SCM_RIGHTS, a duplicate of the restore's userfaultfd and one end of a socket pair
 * whose other end only the page server holds, plus the registered ranges. It then sleeps in
 * {@code poll}. When the page server dies (its end closes: EOF or hang-up on ours, whatever
 * killed it, SIGKILL included) while the restore is armed, the guardian poisons every page still
 * missing (UFFDIO_POISON per range; EEXIST on a present page is stepped over), which wakes every
 * thread waiting on a fault with SIGBUS, and tells the guest {@code poisoned N}. It then stays, the
 * userfaultfd's only reader, answering every later fault with poison (a served page discarded since
 * is missing again) and reading every other event (a discard waits for its REMOVE event to be read),
 * until the guest disarms it or hangs up. That covers the moments before the guest's watchdog has
 * poisoned too and unregistered the ranges (after which a discarded page reads zeros, kernel alone).
 *
 * <p>Why a process of its own: a Java thread of the guest JVM cannot be relied on to do this,
 * because a safepoint requested while a guest thread waits on a fault stops every Java thread of
 * that JVM, a watchdog included, until the fault is resolved. This process shares no safepoint
 * with the guest; its own JVM never touches guest memory, so nothing here can wait on a fault.
 *
 * <h2>Protocol (lines)</h2>
 * Lines of tab-separated fields, escaped as {@link Wire} says. Guest to guardian, in the message
 * carrying the two descriptors: one {@code range START LENGTH PAGESIZE} per block, then
 * {@code arm}. Later: {@code disarm} (the restore completed or is being closed: exit without
 * poisoning). Guardian to guest: {@code armed}, {@code poisoned N [ERROR]} after a server death,
 * {@code error REASON}. EOF from the guest (its JVM
 * died) makes the guardian exit without touching anything.
 *
 * <p>Thread safety: single-threaded.
 */
public final class GuardianMain {
    private static final boolean DEBUG = Boolean.getBoolean("guestmem.uffd.debug");
    /** Test hook (negative control): take the server's death and do nothing, from {@code guestmem.uffd.test.inertGuardian}. */
    private static final boolean INERT = Boolean.getBoolean("guestmem.uffd.test.inertGuardian");

    private GuardianMain() {
    }

    /**
     * Links the downcalls the guardian uses (on descriptor -1: each fails at once with EBADF) so
     * that arming and poisoning run without first-call linking; done before it connects.
     */
    private static void warmUp() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment buf = a.allocate(64);
            MemorySegment pfd = pollfd.allocate(a);
            pollfd.fd(pfd, -1);
            pollfd.events(pfd, (short) Linux.POLLIN());
            LinuxCalls.poll(pfd, 1, 0);
            Linux.read(-1, buf, 1);
            Linux.write(-1, buf, 1);
            Uffd u = new Uffd(-1);
            u.poison(0, 4096);
            u.arenaClose();
        } catch (RuntimeException e) {
            // best effort
        }
    }

    /**
     * Runs the guardian.
     *
     * @param args the guest's guardian socket name
     * @throws InterruptedException never (the inert test hook sleeps)
     */
    public static void main(String[] args) throws InterruptedException {
        warmUp();
        int sock = LinuxCalls.unixConnect(args[0]);
        Wire ctl = new Wire(sock);
        LinuxCalls.Received first = LinuxCalls.recvWithFds(sock, 65536, 2);
        if (first.data().length == 0) {
            System.exit(0); // the guest hung up before any restore: nothing to guard
        }
        if (first.fds().length != 2) {
            ctl.sendLine(Wire.line("error", "expected the userfaultfd and the server's liveness socket, got " + first.fds().length
                    + " descriptors"));
            System.exit(2);
        }
        ctl.push(first.data());
        Uffd uffd = new Uffd(first.fds()[0]);
        int liveness = first.fds()[1];
        List<long[]> ranges = new ArrayList<>();
        for (String line = ctl.readLine(); line != null && !line.equals("arm"); line = ctl.readLine()) {
            List<String> f = Wire.fields(line);
            if (f.getFirst().equals("range")) {
                ranges.add(new long[] {Long.parseLong(f.get(1)), Long.parseLong(f.get(2)), Long.parseLong(f.get(3))});
            }
        }
        ctl.sendLine("armed");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pfds = pollfd.allocateArray(2, arena);
            MemorySegment p1 = pfds.asSlice(pollfd.sizeof());
            pollfd.fd(pfds, sock);
            pollfd.events(pfds, (short) Linux.POLLIN());
            pollfd.fd(p1, liveness);
            pollfd.events(p1, (short) Linux.POLLIN());
            MemorySegment one = arena.allocate(64);
            while (true) {
                LinuxCalls.poll(pfds, 2, -1);
                // the guest's line first: a disarm written before the server was told to quit is
                // already here when the server's hang-up arrives
                if ((pollfd.revents(pfds) & (Linux.POLLIN() | Linux.POLLHUP() | Linux.POLLERR())) != 0) {
                    String line = ctl.readLine();
                    if (line == null || line.equals("disarm")) {
                        System.exit(0);
                    }
                }
                if ((pollfd.revents(p1) & (Linux.POLLIN() | Linux.POLLHUP() | Linux.POLLERR())) != 0) {
                    long n = Linux.read(liveness, one, one.byteSize());
                    if (n > 0) {
                        continue; // the server never writes on it; ignore
                    }
                    if (INERT) {
                        Thread.sleep(60_000); // long enough for the test to see the hang; then go
                    }
                    long poisoned = 0;
                    String err = null;
                    for (long[] r : ranges) {
                        try {
                            poisoned += uffd.poisonMissing(r[0], r[1], r[2]);
                        } catch (RuntimeException e) {
                            err = e.getMessage(); // unregistered meanwhile (closed): nothing waits there
                        }
                    }
                    if (DEBUG) {
                        System.err.println("guardian: page server gone, " + poisoned + " pages poisoned" + (err != null ? " (" + err + ")" : ""));
                    }
                    try {
                        ctl.sendLine(err != null ? Wire.line("poisoned", Long.toString(poisoned), err)
                                : Wire.line("poisoned", Long.toString(poisoned)));
                    } catch (RuntimeException e) {
                        System.exit(0); // the guest is gone too
                    }
                    answerUntilReleased(ctl, sock, uffd, arena);
                    System.exit(0);
                }
            }
        }
    }

    /**
     * After the server's death the guardian is the queue's only reader: it goes on answering, until
     * the guest disarms or hangs up (its restore closes), every fault with poison (a page served and
     * later discarded is missing again, and its thread would otherwise wait for ever, holding up
     * every safepoint of its JVM), and reads every other event (a discard waits until its REMOVE
     * event is read).
     */
    private static void answerUntilReleased(Wire ctl, int sock, Uffd uffd, Arena arena) {
        MemorySegment pfds = pollfd.allocateArray(2, arena);
        MemorySegment p1 = pfds.asSlice(pollfd.sizeof());
        pollfd.fd(pfds, sock);
        pollfd.events(pfds, (short) Linux.POLLIN());
        pollfd.fd(p1, uffd.fd);
        pollfd.events(p1, (short) Linux.POLLIN());
        List<Long> faults = new ArrayList<>();
        while (true) {
            LinuxCalls.poll(pfds, 2, -1);
            if ((pollfd.revents(pfds) & (Linux.POLLIN() | Linux.POLLHUP() | Linux.POLLERR())) != 0) {
                String line;
                try {
                    line = ctl.readLine();
                } catch (RuntimeException e) {
                    return;
                }
                if (line == null || line.equals("disarm")) {
                    return;
                }
            }
            short r = pollfd.revents(p1);
            if ((r & (Linux.POLLERR() | Linux.POLLHUP() | Linux.POLLNVAL())) != 0) {
                return; // the userfaultfd is gone
            }
            if ((r & Linux.POLLIN()) != 0) {
                faults.clear();
                uffd.drainEvents(faults::add);
                long n = uffd.poisonFaults(faults);
                if (DEBUG && n > 0) {
                    System.err.println("guardian: " + n + " late faults poisoned");
                }
            }
        }
    }
}
