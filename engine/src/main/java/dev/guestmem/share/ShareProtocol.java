package dev.guestmem.share;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The text a {@link RamShareServer} sends to each peer, with one descriptor per region passed by
 * {@code SCM_RIGHTS} on the first byte, in region order:
 * <pre>
 * guestmem-share 1
 * region NAME GUESTADDR SIZE        (hex, no 0x; one line per region)
 * end
 * </pre>
 * A peer in any language can read it: receive with {@code recvmsg}, take the descriptors, read
 * lines until {@code end}, {@code mmap(MAP_SHARED)} each descriptor with the region's size
 * ({@code PROT_READ} only when the descriptor is open read-only or a memfd sealed against writes:
 * the server shares that RAM read-only). Every descriptor covers its region; a peer must not resize it.
 * The message is the layout at the moment the peer connected, and for a one-shot peer the last thing
 * the server sends: a later plug or unplug ({@link SharedMachine#plug}) reaches it only if it connects again.
 *
 * <p><b>Following.</b> A peer that wants every later plug and unplug writes {@link #FOLLOW} as soon
 * as it has connected, before reading (a server hangs up on a peer that has said nothing within
 * {@link #HANDSHAKE_MILLIS} of its layout, as it always hung up after the layout). After the layout the
 * server then answers {@link #FOLLOWING} and keeps the connection, sending each change of the layout
 * as it is made, in order, every change after the layout exactly once:
 * <pre>
 * following
 * plug NAME GUESTADDR SIZE          (hex; the block's descriptor on the line's first byte)
 * unplug NAME
 * </pre>
 * A server that does not know {@link #FOLLOW} (an older one) hangs up after the layout instead of
 * answering. The server never waits for a follower: one whose socket is full (it stopped reading) or
 * gone is disconnected, and sees the end of the stream.
 *
 * <p>A peer the server's {@link PeerPolicy} refuses gets one line instead, and no descriptor:
 * <pre>
 * guestmem-share refused: REASON
 * </pre>
 * The same line follows the layout, in place of {@link #FOLLOWING}, when the server hangs up on a peer
 * before reading its request (more changes came meanwhile than it keeps for the peer, or it cannot
 * start waiting for the request); a one-shot peer reading to the end of the stream may see it too.
 *
 * <p><b>Thread safety.</b> Stateless.
 */
public final class ShareProtocol {
    /** First line of every message. */
    public static final String MAGIC = "guestmem-share 1";
    /** Last line of every message. */
    public static final String END = "end";
    /** Start of the one line a refused peer receives, followed by the reason. */
    public static final String REFUSED = "guestmem-share refused: ";
    /** Most regions (and descriptors) in one message. */
    public static final int MAX_REGIONS = 16;
    /** The line a peer writes, right after connecting, to follow the layout. */
    public static final String FOLLOW = "guestmem-share follow";
    /** The line a server sends after the layout to a peer it will tell of every change. */
    public static final String FOLLOWING = "following";
    /** How long a server waits, after the layout, for a peer's {@link #FOLLOW} before hanging up. */
    public static final long HANDSHAKE_MILLIS = 2000;

    private ShareProtocol() {
    }

    /**
     * Encodes a layout.
     *
     * @param regions the regions, at most {@link #MAX_REGIONS}
     * @return the message bytes
     * @throws IllegalArgumentException if there are no regions or too many
     */
    public static byte[] encode(List<SharedRamRegion> regions) {
        if (regions.isEmpty() || regions.size() > MAX_REGIONS) {
            throw new IllegalArgumentException(regions.size() + " regions; between 1 and " + MAX_REGIONS + " can be shared");
        }
        StringBuilder sb = new StringBuilder(MAGIC).append('\n');
        for (SharedRamRegion r : regions) {
            sb.append("region ").append(r.name()).append(' ').append(Long.toHexString(r.guestAddr())).append(' ')
                    .append(Long.toHexString(r.size())).append('\n');
        }
        sb.append(END).append('\n');
        return sb.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Encodes a pushed change: {@code plug NAME GUESTADDR SIZE} (sent with the block's descriptor)
     * or {@code unplug NAME}.
     *
     * @param change the change
     * @return the line's bytes
     */
    public static byte[] encodeChange(LayoutChange change) {
        SharedRamRegion r = change.region();
        String line = switch (change.kind()) {
            case PLUGGED -> "plug " + r.name() + ' ' + Long.toHexString(r.guestAddr()) + ' ' + Long.toHexString(r.size());
            case UNPLUGGED -> "unplug " + r.name();
        };
        return (line + "\n").getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Whether the line starting at {@code start} of {@code text} is a plug, which comes with one
     * descriptor (any other line with none).
     *
     * @param text received text
     * @param start where the line starts
     * @return true for a {@code plug} line
     */
    static boolean isPlug(CharSequence text, int start) {
        String plug = "plug ";
        if (text.length() - start < plug.length()) {
            return false;
        }
        for (int i = 0; i < plug.length(); i++) {
            if (text.charAt(start + i) != plug.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /**
     * Decodes one pushed line (without its end).
     *
     * @param line the line
     * @param layout the peer's layout before the change: an unplug names one of its regions
     * @return the change
     * @throws ShareException if the line is not a change of this protocol, or unplugs a region the
     *     layout does not have
     */
    public static LayoutChange decodeChange(String line, List<SharedRamRegion> layout) {
        String[] f = line.split(" ");
        try {
            if (f.length == 4 && f[0].equals("plug")) {
                return new LayoutChange(LayoutChange.Kind.PLUGGED,
                        new SharedRamRegion(f[1], Long.parseUnsignedLong(f[2], 16), Long.parseUnsignedLong(f[3], 16)));
            }
        } catch (IllegalArgumentException e) {
            throw new ShareException("bad change '" + line + "': " + e.getMessage());
        }
        if (f.length == 2 && f[0].equals("unplug")) {
            for (SharedRamRegion r : layout) {
                if (r.name().equals(f[1])) {
                    return new LayoutChange(LayoutChange.Kind.UNPLUGGED, r);
                }
            }
            throw new ShareException("change '" + line + "' names no region of the layout");
        }
        throw new ShareException("bad change '" + line + "'");
    }

    /**
     * Encodes a refusal.
     *
     * @param reason why, on one line
     * @return the message bytes
     */
    public static byte[] encodeRefusal(String reason) {
        return (REFUSED + reason.replace('\n', ' ') + "\n").getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * Reads a refusal.
     *
     * @param text what was received so far
     * @return the reason, or null if the text is not a complete refusal line
     */
    public static String refusal(String text) {
        int nl = text.indexOf('\n');
        return text.startsWith(REFUSED) && nl >= 0 ? text.substring(REFUSED.length(), nl) : null;
    }

    /**
     * Decodes a complete message (everything up to and including the {@code end} line).
     *
     * @param text the message
     * @return the regions in order
     * @throws ShareException if the text is not a message of this protocol
     */
    public static List<SharedRamRegion> decode(String text) {
        String[] lines = text.split("\n");
        if (lines.length < 2 || !lines[0].equals(MAGIC)) {
            throw new ShareException("not a guestmem-share message (first line '" + (lines.length > 0 ? lines[0] : "") + "')");
        }
        List<SharedRamRegion> out = new ArrayList<>();
        for (int i = 1; i < lines.length; i++) {
            String[] f = lines[i].split(" ");
            if (f.length == 1 && f[0].equals(END)) {
                if (out.isEmpty()) {
                    throw new ShareException("message shares no region");
                }
                return out;
            }
            if (f.length != 4 || !f[0].equals("region")) {
                throw new ShareException("bad line " + (i + 1) + " '" + lines[i] + "'");
            }
            if (out.size() == MAX_REGIONS) {
                throw new ShareException("message shares more than " + MAX_REGIONS + " regions (as encode refuses)");
            }
            try {
                out.add(new SharedRamRegion(f[1], Long.parseUnsignedLong(f[2], 16), Long.parseUnsignedLong(f[3], 16)));
            } catch (IllegalArgumentException e) {
                throw new ShareException("bad line " + (i + 1) + " '" + lines[i] + "': " + e.getMessage());
            }
        }
        throw new ShareException("message ends without '" + END + "'");
    }
}
