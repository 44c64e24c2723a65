package dev.guestmem.share;

import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.ram.RamBlock;
import java.util.ArrayList;
import java.util.List;

/**
 * A server's layout as a peer received it, and its descriptors until they are mapped: what both
 * {@link SharedMachine#attach} and {@link SharedMachine#attachFollowing} read first, read one way.
 *
 * <p>The rules: a refusal line in place of the layout is a {@link ShareException} with the server's
 * reason; the layout ends at its {@code end} line (what follows is not the layout's), is at most
 * {@link #MAX_LAYOUT_CHARS} long, decodes ({@link ShareProtocol#decode}) and passes the layout checks
 * of a local machine; and exactly one descriptor per region came with it
 * ({@link DescriptorCountException} otherwise). Whatever fails, every descriptor received so far is
 * closed: by {@link #read} once it took them from the stream, by the stream's owner before.
 *
 * <p><b>Thread safety.</b> One thread.
 */
final class ReceivedLayout implements AutoCloseable {
    /** Longest layout message accepted (sixteen region lines are a few hundred bytes). */
    static final int MAX_LAYOUT_CHARS = 1 << 20;

    private final String source;
    private final List<SharedRamRegion> regions;
    /** One per region, in region order; owned until {@link #close()}. */
    private final List<Integer> fds;
    private boolean closed;

    private ReceivedLayout(String source, List<SharedRamRegion> regions, List<Integer> fds) {
        this.source = source;
        this.regions = List.copyOf(regions);
        this.fds = List.copyOf(fds);
    }

    /**
     * Reads the layout, the first thing the server sends, and takes its descriptors from the stream:
     * every descriptor received by the time its {@code end} line is read came with it (a receive
     * ends with the message that carries descriptors). Later lines, and their descriptors, stay in the
     * stream.
     *
     * @param stream the connection; its owner closes it, and the descriptors left in it, on failure
     * @param deadlineNanos a {@link System#nanoTime()} deadline for the whole layout
     * @return the layout with one descriptor per region, which the caller closes
     * @throws DescriptorCountException if more or fewer descriptors than regions came with it (all
     *     closed)
     * @throws ShareException if the server refused this process, hung up, sent something else than
     *     a layout of this protocol, a layout a machine cannot have (overlapping regions, a name
     *     twice), more than {@link #MAX_LAYOUT_CHARS}, or nothing in time
     */
    static ReceivedLayout read(ShareStream stream, long deadlineNanos) {
        String source = stream.path();
        StringBuilder text = new StringBuilder();
        String line;
        do {
            line = nextLine(stream, deadlineNanos);
            if (text.isEmpty()) {
                String refused = ShareProtocol.refusal(line + "\n");
                if (refused != null) {
                    throw new ShareException(source + " refused this process (pid " + LinuxCalls.getpid() + "): " + refused);
                }
            }
            text.append(line).append('\n');
            if (text.length() > MAX_LAYOUT_CHARS) {
                throw new ShareException(source + " sent more than " + MAX_LAYOUT_CHARS + " bytes without ending the layout");
            }
        } while (!line.equals(ShareProtocol.END));
        List<Integer> fds = stream.takeAllFds();
        try {
            List<SharedRamRegion> decoded = checked(source, text.toString());
            if (fds.size() != decoded.size()) {
                throw new DescriptorCountException(source + " sent " + fds.size() + " descriptors with a layout of "
                        + decoded.size() + " region" + (decoded.size() == 1 ? "" : "s")
                        + " (the protocol passes one per region, in region order): none is mapped",
                        decoded.size(), fds.size());
            }
            return new ReceivedLayout(source, decoded, fds);
        } catch (RuntimeException e) {
            fds.forEach(LinuxCalls::close);
            throw e;
        }
    }

    private static List<SharedRamRegion> checked(String source, String text) {
        try {
            List<SharedRamRegion> decoded = ShareProtocol.decode(text);
            SharedMachine.checkLayout(decoded); // the server's layout: its faults are the server's, reported as such
            return decoded;
        } catch (ShareException | IllegalArgumentException e) {
            throw new ShareException(source + " sent a bad layout: " + e.getMessage(), e);
        }
    }

    private static String nextLine(ShareStream stream, long deadlineNanos) {
        String line;
        try {
            line = stream.nextLine(deadlineNanos);
        } catch (ShareException e) {
            throw new ShareException(e.getMessage() + " after " + stream.received() + " bytes of the layout", e);
        }
        if (line == null) {
            throw new ShareException("timed out waiting for the layout from " + stream.path() + " ("
                    + stream.received() + " bytes of it received)");
        }
        return line;
    }

    /** @return the regions, in order */
    List<SharedRamRegion> regions() {
        return regions;
    }

    /**
     * Maps every region over its descriptor ({@link ReceivedBlocks#map}).
     *
     * @return the blocks, in region order, each holding its own duplicate of its descriptor
     * @throws ShareException if a descriptor cannot back its region (the blocks mapped before it are closed)
     */
    List<RamBlock> mapAll() {
        List<RamBlock> blocks = new ArrayList<>();
        try {
            for (int i = 0; i < regions.size(); i++) {
                blocks.add(ReceivedBlocks.map(source, regions.get(i), fds.get(i)));
            }
            return blocks;
        } catch (RuntimeException e) {
            blocks.forEach(RamBlock::close);
            throw e;
        }
    }

    /** Closes the descriptors (mapped blocks hold their own duplicates); later calls do nothing. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            fds.forEach(LinuxCalls::close);
        }
    }
}
