package dev.guestmem.scenario8;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * Which 4 KiB pages of a host range are resident, from {@code mincore(2)}: the evidence a
 * throughput measurer wants before timing, so that page faults are not what gets measured.
 */
final class Residency {
    private static final MethodHandle MINCORE = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().findOrThrow("mincore"),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));
    static final long PAGE = 4096;

    private Residency() {
    }

    /** @return how many of the range's 4 KiB pages are resident (the range is page aligned) */
    static long residentPages(MemorySegment range) {
        long pages = (range.byteSize() + PAGE - 1) / PAGE;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment vec = a.allocate(pages);
            int rc = (int) MINCORE.invokeExact(MemorySegment.ofAddress(range.address()), range.byteSize(), vec);
            if (rc != 0) {
                throw new IllegalStateException("mincore failed on 0x" + Long.toHexString(range.address()));
            }
            long n = 0;
            for (long i = 0; i < pages; i++) {
                n += vec.get(ValueLayout.JAVA_BYTE, i) & 1;
            }
            return n;
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }

    /** @return the smaps "VmFlags" line of the mapping holding {@code address}, or "" */
    static String vmFlags(long address) throws java.io.IOException {
        boolean inside = false;
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/smaps"))) {
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash > 0 && space > dash && line.substring(0, dash).matches("[0-9a-f]+")) {
                long lo = Long.parseUnsignedLong(line.substring(0, dash), 16);
                long hi = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                inside = Long.compareUnsigned(address, lo) >= 0 && Long.compareUnsigned(address, hi) < 0;
            } else if (inside && line.startsWith("VmFlags:")) {
                return line;
            }
        }
        return "";
    }
}
