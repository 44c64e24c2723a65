package dev.guestmem.ram;

import dev.guestmem.linux.LinuxCalls;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The second process of {@link RamSharingTest}: maps RAM shared by the test JVM (a memfd received
 * over a Unix socket with SCM_RIGHTS, or a file by path), checks the parent's pattern, writes its
 * own. Exit status 0 when everything matched; the first mismatch is printed.
 */
public final class RamPeer {
    private RamPeer() {
    }

    /** Parent's pattern at page {@code off}. */
    static long parentValue(long off) {
        return off * 3 + 1;
    }

    /** Peer's pattern at page {@code off} + 8. */
    static long peerValue(long off) {
        return off * 5 + 2;
    }

    /** The byte at {@code i} of the msync test file. */
    static byte fileByte(long i) {
        return (byte) (i * 7 + (i >>> 12));
    }

    /**
     * Entry point: {@code memfd SOCKET SIZE}, {@code file PATH SIZE} or {@code readfile PATH SIZE}.
     *
     * @param args the mode and its arguments
     * @throws IOException if the file cannot be read
     */
    public static void main(String[] args) throws IOException {
        long size = Long.parseLong(args[2]);
        switch (args[0]) {
            case "memfd" -> {
                int sock = LinuxCalls.unixConnect(args[1]);
                LinuxCalls.Received got = LinuxCalls.recvWithFds(sock, 16, 1);
                if (got.fds().length != 1) {
                    fail("expected one fd, got " + got.fds().length);
                }
                // The Fd backend dups the received fd, so close ours once the block has its copy.
                try (RamBlock b = RamBlock.builder("peer.memfd", size).fd(got.fds()[0], 0).build()) {
                    LinuxCalls.close(got.fds()[0]);
                    checkAndWrite(b, size);
                }
                LinuxCalls.sendWithFds(sock, new byte[] {'k'});
                LinuxCalls.close(sock);
            }
            case "file" -> {
                try (RamBlock b = RamBlock.builder("peer.file", size).file(Path.of(args[1]), 0).shared(true).build()) {
                    checkAndWrite(b, size);
                }
            }
            case "readfile" -> {
                byte[] bytes = Files.readAllBytes(Path.of(args[1]));
                if (bytes.length != size) {
                    fail("file has " + bytes.length + " bytes, expected " + size);
                }
                for (int i = 0; i < bytes.length; i++) {
                    if (bytes[i] != fileByte(i)) {
                        fail("byte " + i + " is " + bytes[i] + ", expected " + fileByte(i));
                    }
                }
            }
            default -> fail("unknown mode " + args[0]);
        }
        System.exit(0);
    }

    private static void checkAndWrite(RamBlock b, long size) {
        for (long off = 0; off < size; off += 4096) {
            long v = b.ldqHe(off);
            if (v != parentValue(off)) {
                fail("at " + off + " read " + v + ", expected " + parentValue(off));
            }
            b.stqHe(off + 8, peerValue(off));
        }
    }

    private static void fail(String why) {
        System.out.println("RamPeer: " + why);
        System.exit(3);
    }
}
