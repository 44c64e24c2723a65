package dev.guestmem.fuzz;

import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.MemoryRegionSection;
import java.util.ArrayList;
import java.util.List;

/**
 * What the fuzzer's listeners heard, one line per callback, in order: a refused call must add no
 * line. Each {@link Recorder} is one listener writing here; none throws.
 *
 * <p><b>Thread safety.</b> Callbacks run under the topology lock on the fuzzer's thread.
 */
final class EventLog {
    private final List<String> lines = new ArrayList<>();

    /** @return how many callbacks were heard so far */
    int size() {
        return lines.size();
    }

    /**
     * @param from the first line wanted
     * @return the lines heard since {@code from}
     */
    List<String> since(int from) {
        return List.copyOf(lines.subList(from, lines.size()));
    }

    /**
     * @param name the listener's name in the log
     * @return a new listener recording here
     */
    Recorder recorder(String name) {
        return new Recorder(name);
    }

    /** A listener that records every callback. */
    final class Recorder implements MemoryListener {
        private final String name;

        private Recorder(String name) {
            this.name = name;
        }

        private void log(String what) {
            lines.add(name + " " + what);
        }

        private static String s(MemoryRegionSection s) {
            return s.region() == null ? "<none>" : s.region().name() + "@0x" + Long.toHexString(s.offsetWithinAddressSpace())
                    + "+0x" + Long.toHexString(s.size());
        }

        @Override
        public void begin() {
            log("begin");
        }

        @Override
        public void commit() {
            log("commit");
        }

        @Override
        public void regionAdd(MemoryRegionSection section) {
            log("add " + s(section));
        }

        @Override
        public void regionDel(MemoryRegionSection section) {
            log("del " + s(section));
        }

        @Override
        public void regionNop(MemoryRegionSection section) {
            log("nop " + s(section));
        }

        @Override
        public void logStart(MemoryRegionSection section, int oldMask, int newMask) {
            log("log_start " + s(section) + " " + oldMask + "->" + newMask);
        }

        @Override
        public void logStop(MemoryRegionSection section, int oldMask, int newMask) {
            log("log_stop " + s(section) + " " + oldMask + "->" + newMask);
        }

        @Override
        public void logSync(MemoryRegionSection section) {
            log("log_sync " + s(section));
        }

        @Override
        public void logClear(MemoryRegionSection section) {
            log("log_clear " + s(section));
        }

        @Override
        public void logGlobalStart() {
            log("log_global_start");
        }

        @Override
        public void logGlobalStop() {
            log("log_global_stop");
        }

        @Override
        public void eventfdAdd(Ioeventfd fd) {
            log("eventfd_add 0x" + Long.toHexString(fd.addr()) + "/" + fd.size());
        }

        @Override
        public void eventfdDel(Ioeventfd fd) {
            log("eventfd_del 0x" + Long.toHexString(fd.addr()) + "/" + fd.size());
        }

        @Override
        public void coalescedIoAdd(MemoryRegionSection section, long addr, long size) {
            log("coalesced_add " + s(section) + " 0x" + Long.toHexString(addr) + "+0x" + Long.toHexString(size));
        }

        @Override
        public void coalescedIoDel(MemoryRegionSection section, long addr, long size) {
            log("coalesced_del " + s(section) + " 0x" + Long.toHexString(addr) + "+0x" + Long.toHexString(size));
        }

        @Override
        public String toString() {
            return name;
        }
    }
}
