package dev.guestmem.share;

import java.time.Duration;

/**
 * A minimal QMP client ({@code -qmp unix:PATH}) for {@code human-monitor-command}: runs HMP
 * commands such as {@code xp /4xw 0x1000} or {@code info mtree} and returns their text. Events
 * that arrive in between are skipped.
 *
 * <p><b>Thread safety.</b> One thread at a time.
 */
public final class QmpClient implements AutoCloseable {
    private final LineSocket socket;

    /**
     * Connects, reads the greeting and leaves capabilities negotiation mode.
     *
     * @param path QEMU's QMP socket
     * @param timeout bound on connecting and on each reply (beyond a century: no limit)
     * @throws ShareException if QEMU does not answer as QMP
     */
    public QmpClient(String path, Duration timeout) {
        this.socket = new LineSocket(path, timeout);
        try {
            String greeting = socket.readLine();
            if (!greeting.contains("\"QMP\"")) {
                throw new ShareException(path + " is not a QMP socket: " + greeting);
            }
            reply("{\"execute\":\"qmp_capabilities\"}");
        } catch (RuntimeException e) {
            socket.close();
            throw e;
        }
    }

    /**
     * Runs an HMP command.
     *
     * @param commandLine the command as typed at the monitor
     * @return its output, lines ended by {@code \r\n} as QEMU prints them
     * @throws ShareException if QMP reports an error
     */
    public String hmp(String commandLine) {
        String r = reply("{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":" + quote(commandLine) + "}}");
        int i = r.indexOf("\"return\":");
        int q = r.indexOf('"', i + 9);
        return unquote(r, q);
    }

    private String reply(String json) {
        socket.writeLine(json);
        while (true) {
            String line = socket.readLine();
            if (line.startsWith("{\"return\"")) {
                return line;
            }
            if (line.startsWith("{\"error\"")) {
                throw new ShareException("QMP error for " + json + ": " + line);
            }
            // {"event": ...}: not ours
        }
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }

    /** Decodes the JSON string starting at the quote at {@code q}. */
    private static String unquote(String s, int q) {
        StringBuilder sb = new StringBuilder();
        for (int i = q + 1; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"') {
                return sb.toString();
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            char e = s.charAt(++i);
            switch (e) {
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'u' -> {
                    sb.append((char) Integer.parseInt(s.substring(i + 1, i + 5), 16));
                    i += 4;
                }
                default -> sb.append(e);
            }
        }
        throw new ShareException("unterminated JSON string in " + s);
    }

    @Override
    public void close() {
        socket.close();
    }
}
