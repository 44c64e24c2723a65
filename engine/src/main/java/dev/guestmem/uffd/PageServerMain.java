package dev.guestmem.uffd;

import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.snapshot.SnapshotFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The userfaultfd handler process (ARCHITECTURE.md hazard 1: faults must not be served by a Java
 * thread of the faulting JVM). Started by {@link PageServerProcess} with one argument, the guest's
 * Unix socket; it connects, receives the userfaultfd with SCM_RIGHTS and the layout as text, then
 * serves every fault with UFFDIO_COPY (UFFDIO_ZEROPAGE for zero pages) from its {@link PageSource},
 * prefetching the rest in the background when idle.
 *
 * <h2>Discarded pages</h2>
 * A page the guest discards ({@code MADV_DONTNEED}/{@code MADV_REMOVE}, e.g.
 * {@code RamBlock.discard}) while its range is registered is missing again. The userfaultfd is
 * opened with {@code UFFD_FEATURE_EVENT_REMOVE}, so the discard first queues a REMOVE event and
 * waits until this process has read it; only then does the kernel drop the pages. Pages wholly
 * discarded before they were served are never copied from the source afterwards (no old contents
 * come back over the zeros the guest asked for), and any fault on a page already served (or so
 * discarded) is answered with zeros (UFFDIO_ZEROPAGE), as an unrestored discarded page reads.
 * A page partly discarded before it was served is copied with the discarded part zeroed. Reading
 * the queue only records what an event says (no copy is ever made while reading it, so the reads
 * never nest). While an event is unread, the kernel answers every fill with EAGAIN: the fill loop
 * then reads the queue and tries again, the event possibly having changed the answer, backing off
 * (spin, yield, then a short sleep) while no new event comes. A copy cut short, even inside a page
 * larger than the base page, is finished before the page counts as present.
 *
 * <h2>Control protocol (lines, tab-separated fields)</h2>
 * Every field is escaped ({@link Wire#escape}: backslash, tab, newline, carriage return), so block
 * names, paths and reasons may hold any character. Guest to server, in the message carrying the
 * fd: {@code source snapshot PATH [PATH...]} followed by {@code headers HEX [HEX...]} (each
 * file's header as the guest opened it: a file found at PATH with another header is refused), or
 * {@code source remote SOCKET}, one
 * {@code block NAME ADDRESS LENGTH PAGESIZE} per block, {@code prefetch 0|1},
 * {@code verify 0|1}, {@code layout}. The server opens and checks its source and answers
 * {@code configured}, or {@code error REASON} if it refuses the layout; the guest has touched no
 * block until then. It then drops and registers the blocks and sends
 * {@code zeropage Z...} (per block, 1 if UFFDIO_ZEROPAGE is allowed there) and {@code go} (or
 * {@code quit}). Later: {@code stats}, {@code quit}. Server to guest:
 * {@code ready}, {@code done METRICS} once every page is present, {@code broken REASON} when the
 * page source fails, {@code lost REASON} when a page it never installed is found there already
 * (populated through another mapping; the restore breaks as on a source failure), {@code stats METRICS} per request. Before the layout, {@code preload PATH [PATH...]} may come alone (answered
 * {@code preloaded} or {@code error REASON}).
 *
 * <h2>Failure</h2>
 * If the page source fails (remote source gone, checksum mismatch), the server poisons every page
 * never served (UFFDIO_POISON) and answers later faults on such pages with poison; a page the guest
 * discarded, served or not, before or after the failure, still reads zeros: each faulting thread gets
 * SIGBUS, which the JVM turns into an {@code InternalError} at the access, instead of waiting for
 * ever or reading invented bytes. The guest is told {@code broken}.
 *
 * <h2>Parts</h2>
 * This class connects, takes preloads and the layout ({@link ServerLayout}) and hands over to the
 * serve loop ({@link FaultServer}), which reads the queue through {@link QueueReader}, puts pages
 * in with {@link PageInstaller} (poisoning once the source fails), prefetches with
 * {@link Prefetcher}, and counts in {@link FaultStats}; {@link ServedPages} holds what is present.
 *
 * <p>Thread safety: single-threaded.
 */
public final class PageServerMain {
    private static List<SnapshotFile> preloaded;
    private static List<Path> preloadedPaths;

    private PageServerMain() {
    }

    /**
     * Runs the handler.
     *
     * @param args the guest's control socket path
     */
    public static void main(String[] args) {
        PageServerWarmUp.run();
        int sock = LinuxCalls.unixConnect(args[0]);
        // the userfaultfd, and the server's end of the guardian's liveness pair: held, never used,
        // so that it closes (and the guardian acts) exactly when this process ends
        LinuxCalls.Received first = LinuxCalls.recvWithFds(sock, 65536, 2);
        // a preload ahead of the restore (PageServerProcess.preload): open and check the snapshot
        // files now, so the restore's start does not pay for it
        while (first.fds().length == 0 && first.data().length > 0) {
            String text = new String(first.data(), java.nio.charset.StandardCharsets.UTF_8);
            // only the line terminator, as Wire.readLine: a field (a path) may end in whitespace
            if (text.endsWith("\n")) {
                text = text.substring(0, text.length() - 1);
            }
            Wire w = new Wire(sock);
            if (text.startsWith("preload\t")) {
                try {
                    List<Path> paths = new ArrayList<>();
                    List<String> fields = Wire.fields(text);
                    for (String f : fields.subList(1, fields.size())) {
                        paths.add(Path.of(f));
                    }
                    if (preloaded != null) {
                        preloaded.forEach(SnapshotFile::close);
                    }
                    preloaded = null;
                    preloaded = SnapshotPageSource.openFiles(paths);
                    preloadedPaths = paths;
                    w.sendLine("preloaded");
                } catch (RuntimeException e) {
                    w.sendLine(Wire.line("error", String.valueOf(e.getMessage())));
                }
            } else {
                w.sendLine(Wire.line("error", "unexpected message before the userfaultfd: " + text));
            }
            first = LinuxCalls.recvWithFds(sock, 65536, 2);
        }
        if (first.fds().length < 1) {
            System.err.println("page server: no userfaultfd received");
            System.exit(2);
        }
        Wire ctl = new Wire(sock);
        ctl.push(first.data());
        List<String> lines = new ArrayList<>();
        for (String line = ctl.readLine(); line != null && !line.equals("layout"); line = ctl.readLine()) {
            lines.add(line);
        }
        ServerLayout layout = null;
        PageSource source = null;
        try {
            List<List<String>> parsed = new ArrayList<>();
            for (String l : lines) {
                parsed.add(Wire.fields(l));
            }
            layout = ServerLayout.parse(parsed);
            source = layout.openSource(preloaded, preloadedPaths);
        } catch (RuntimeException e) {
            ctl.sendLine(Wire.line("error", String.valueOf(e.getMessage())));
            System.exit(3);
        }
        // the guest drops and registers its blocks only now: a refusal above changed nothing there
        ctl.sendLine("configured");
        for (String line = ctl.readLine(); line == null || !line.equals("go"); line = ctl.readLine()) {
            if (line == null || line.equals("quit")) {
                System.exit(0); // the guest gave up before the blocks were registered
            }
            layout.registered(Wire.fields(line));
        }
        try (FaultServer server = new FaultServer(new Uffd(first.fds()[0]), ctl, layout, source, FaultServer.STALL_AFTER)) {
            server.run();
        }
        System.exit(0);
    }
}
