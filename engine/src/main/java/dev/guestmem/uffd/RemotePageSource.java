package dev.guestmem.uffd;

import dev.guestmem.linux.LinuxCalls;
import dev.guestmem.linux.NativeCallException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Pages fetched from another process over a Unix socket, as postcopy migration fetches them from
 * the source host: the client side of {@link PageSourceServer}'s protocol.
 *
 * <p>Protocol: on connect the client sends one line {@code blocks NAME NAME...} (tab-separated
 * fields escaped as {@link Wire#escape} says); the server answers {@code ok} or
 * {@code error MESSAGE}. Then each request is 16 bytes (u32 block index,
 * u32 0, u64 page index, native order) and each answer a 16-byte head (u32 status: 0 data, 1 zero,
 * 2 error; u32 0; u64 length) followed by {@code length} bytes (the page, or an error message).
 * End of stream or any error fails the page with {@link PageSourceException}.
 *
 * <p>Thread safety: one thread at a time.
 */
public final class RemotePageSource implements PageSource {
    private final Wire wire;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment request = arena.allocate(16, 8);
    private final MemorySegment head = arena.allocate(16, 8);
    private final MemorySegment page;
    private final String socketPath;

    /**
     * Connects and names the blocks.
     *
     * @param socketPath the server's socket ({@code @name} for the abstract namespace)
     * @param blockNames the layout's block names, in order
     * @param maxPageSize the largest page size of those blocks
     * @throws PageSourceException if the server cannot be reached or refuses the blocks
     */
    public RemotePageSource(String socketPath, List<String> blockNames, long maxPageSize) {
        this.socketPath = socketPath;
        this.page = arena.allocate(maxPageSize, 4096);
        int fd;
        try {
            fd = LinuxCalls.unixConnect(socketPath);
        } catch (NativeCallException e) {
            arena.close();
            throw new PageSourceException("cannot connect to page source " + socketPath + ": " + e.getMessage(), e);
        }
        this.wire = new Wire(fd);
        List<String> hello = new java.util.ArrayList<>(List.of("blocks"));
        hello.addAll(blockNames);
        wire.sendLine(Wire.line(hello.toArray(String[]::new)));
        String answer = wire.readLine();
        if (!"ok".equals(answer)) {
            close();
            throw new PageSourceException("page source " + socketPath + " refused the layout: "
                    + (answer == null ? "closed the connection" : String.join(" ", Wire.fields(answer))));
        }
    }

    @Override
    public MemorySegment page(int block, long pageIndex) {
        try {
            request.set(ValueLayout.JAVA_INT, 0, block);
            request.set(ValueLayout.JAVA_INT, 4, 0);
            request.set(ValueLayout.JAVA_LONG, 8, pageIndex);
            Wire.writeFully(wire.fd, request, 16);
            if (!Wire.readFully(wire.fd, head, 16)) {
                throw new PageSourceException("page source " + socketPath + " closed the connection (block " + block
                        + " page " + pageIndex + " was requested)");
            }
            int status = head.get(ValueLayout.JAVA_INT, 0);
            long len = head.get(ValueLayout.JAVA_LONG, 8);
            if (status == 1) {
                return null;
            }
            if (len < 0 || len > page.byteSize()) {
                throw new PageSourceException("page source " + socketPath + " sent a bad length " + len);
            }
            Wire.readFully(wire.fd, page, len);
            if (status == 0) {
                return page.asSlice(0, len);
            }
            throw new PageSourceException("page source " + socketPath + ": "
                    + new String(page.asSlice(0, len).toArray(ValueLayout.JAVA_BYTE), java.nio.charset.StandardCharsets.UTF_8));
        } catch (NativeCallException e) {
            throw new PageSourceException("page source " + socketPath + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        wire.close();
        arena.close();
    }
}
