package dev.guestmem.bench.restore;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * P10b's baseline: the minimal C userfaultfd handler of TARGETS.md (read the message, UFFDIO_COPY),
 * compiled with gcc when the benchmark starts and run as its own process that receives the uffd
 * over a Unix socket with SCM_RIGHTS, exactly as the Java page server does. It copies each faulting
 * page from a raw RAM image mapped {@code MAP_SHARED}, the way the Java server copies from the
 * mapped snapshot file.
 *
 * <p><b>Thread safety.</b> Immutable once built.
 */
final class CPageHandler {
    static final String SOURCE = """
            #define _GNU_SOURCE
            #include <errno.h>
            #include <fcntl.h>
            #include <linux/userfaultfd.h>
            #include <poll.h>
            #include <stdio.h>
            #include <string.h>
            #include <sys/ioctl.h>
            #include <sys/mman.h>
            #include <sys/socket.h>
            #include <sys/un.h>
            #include <unistd.h>

            /* argv[1]: Unix socket to connect to; argv[2]: raw RAM image. Receives "BASE LEN" and the uffd. */
            int main(int argc, char **argv) {
                if (argc != 3) return 2;
                int s = socket(AF_UNIX, SOCK_STREAM, 0);
                struct sockaddr_un a;
                memset(&a, 0, sizeof a);
                a.sun_family = AF_UNIX;
                strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
                if (connect(s, (struct sockaddr *) &a, sizeof a) < 0) { perror("connect"); return 1; }
                char buf[128];
                char cbuf[CMSG_SPACE(sizeof(int))];
                struct iovec iov = { buf, sizeof buf - 1 };
                struct msghdr m;
                memset(&m, 0, sizeof m);
                m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = cbuf; m.msg_controllen = sizeof cbuf;
                ssize_t n = recvmsg(s, &m, 0);
                if (n <= 0) { perror("recvmsg"); return 1; }
                buf[n] = 0;
                struct cmsghdr *c = CMSG_FIRSTHDR(&m);
                if (!c || c->cmsg_type != SCM_RIGHTS) { fprintf(stderr, "no fd\\n"); return 1; }
                int uffd;
                memcpy(&uffd, CMSG_DATA(c), sizeof uffd);
                unsigned long long base, len;
                if (sscanf(buf, "%llu %llu", &base, &len) != 2) { fprintf(stderr, "bad header\\n"); return 1; }
                int img = open(argv[2], O_RDONLY);
                char *src = mmap(NULL, len, PROT_READ, MAP_SHARED, img, 0);
                if (src == MAP_FAILED) { perror("mmap"); return 1; }
                if (write(s, "r", 1) != 1) return 1;
                struct pollfd p[2] = { { uffd, POLLIN, 0 }, { s, POLLIN, 0 } };
                for (;;) {
                    if (poll(p, 2, -1) < 0) { if (errno == EINTR) continue; perror("poll"); return 1; }
                    if (p[1].revents) return 0; /* the benchmark hung up: done */
                    struct uffd_msg msg;
                    if (read(uffd, &msg, sizeof msg) != sizeof msg) { if (errno == EAGAIN) continue; perror("read"); return 1; }
                    if (msg.event != UFFD_EVENT_PAGEFAULT) continue;
                    unsigned long long addr = msg.arg.pagefault.address & ~4095ULL;
                    struct uffdio_copy cp;
                    cp.dst = addr; cp.src = (unsigned long long) (src + (addr - base)); cp.len = 4096; cp.mode = 0; cp.copy = 0;
                    if (ioctl(uffd, UFFDIO_COPY, &cp) < 0 && errno != EEXIST) { perror("UFFDIO_COPY"); return 1; }
                }
            }
            """;

    private final Path binary;

    private CPageHandler(Path binary) {
        this.binary = binary;
    }

    /**
     * Compiles the handler with {@code gcc -O2}.
     *
     * @param dir where the source and binary go
     * @return the handler
     * @throws IOException if gcc is missing or fails (its output is in the message)
     * @throws InterruptedException if interrupted while compiling
     */
    static CPageHandler build(Path dir) throws IOException, InterruptedException {
        Path src = dir.resolve("uffd_handler.c");
        Path bin = dir.resolve("uffd_handler");
        Files.writeString(src, SOURCE);
        Process gcc = new ProcessBuilder("gcc", "-O2", "-o", bin.toString(), src.toString()).redirectErrorStream(true).start();
        String out = new String(gcc.getInputStream().readAllBytes());
        if (!gcc.waitFor(60, TimeUnit.SECONDS) || gcc.exitValue() != 0) {
            throw new IOException("gcc failed: " + out);
        }
        return new CPageHandler(bin);
    }

    /**
     * Starts one handler process.
     *
     * @param socket the socket it connects to
     * @param image the raw RAM image
     * @return the process
     * @throws IOException if it cannot be started
     */
    Process start(String socket, Path image) throws IOException {
        return new ProcessBuilder(binary.toString(), socket, image.toString()).inheritIO().start();
    }
}
