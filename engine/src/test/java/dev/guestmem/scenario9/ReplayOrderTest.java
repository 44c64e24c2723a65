package dev.guestmem.scenario9;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.listener.MemoryListener;
import dev.guestmem.region.MemoryRegionSection;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What an accelerator registered (or removed) in the middle of a migration hears, against QEMU's
 * {@code listener_add_address_space} and {@code listener_del_address_space}: begin, log_global_start,
 * per range region_add, coalesced_io_add and log_start(0, mask), the eventfds, commit; and on removal
 * per range log_stop(mask, 0), coalesced_io_del, region_del, then the eventfds, commit.
 */
class ReplayOrderTest {
    /** Records the calls for the VGA low-memory window, the high RAM range and the eventfds. */
    private static final class Recorder implements MemoryListener {
        final List<String> calls = new ArrayList<>();

        private boolean watched(MemoryRegionSection s) {
            return s.offsetWithinAddressSpace() == 0xa0000L || s.offsetWithinAddressSpace() == PcLikeMachine.HIGH;
        }

        private String at(MemoryRegionSection s) {
            return "@" + Long.toHexString(s.offsetWithinAddressSpace());
        }

        @Override
        public void begin() {
            calls.add("begin");
        }

        @Override
        public void commit() {
            calls.add("commit");
        }

        @Override
        public void logGlobalStart() {
            calls.add("log_global_start");
        }

        @Override
        public void logGlobalStop() {
            calls.add("log_global_stop");
        }

        @Override
        public void regionAdd(MemoryRegionSection s) {
            if (watched(s)) {
                calls.add("add" + at(s));
            }
        }

        @Override
        public void regionDel(MemoryRegionSection s) {
            if (watched(s)) {
                calls.add("del" + at(s));
            }
        }

        @Override
        public void logStart(MemoryRegionSection s, int oldMask, int newMask) {
            if (watched(s)) {
                calls.add("log_start" + at(s) + " " + oldMask + "->" + newMask);
            }
        }

        @Override
        public void logStop(MemoryRegionSection s, int oldMask, int newMask) {
            if (watched(s)) {
                calls.add("log_stop" + at(s) + " " + oldMask + "->" + newMask);
            }
        }

        @Override
        public void coalescedIoAdd(MemoryRegionSection s, long addr, long size) {
            calls.add("coalesced_add@" + Long.toHexString(addr));
        }

        @Override
        public void coalescedIoDel(MemoryRegionSection s, long addr, long size) {
            calls.add("coalesced_del@" + Long.toHexString(addr));
        }

        @Override
        public void eventfdAdd(Ioeventfd fd) {
            calls.add("eventfd_add@" + Long.toHexString(fd.addr()));
        }

        @Override
        public void eventfdDel(Ioeventfd fd) {
            calls.add("eventfd_del@" + Long.toHexString(fd.addr()));
        }
    }

    @Test
    void registrationAndRemovalDuringMigrationReplayAsQemu() {
        try (PcLikeMachine m = new PcLikeMachine()) {
            m.nic.clearCoalescing();
            m.toggleDoorbell(new java.util.Random(0));
            m.sys.globalDirtyLogStart();
            Recorder r = new Recorder();
            m.sys.registerListener(r, m.as);
            assertEquals(List.of("begin", "log_global_start", "add@a0000", "coalesced_add@a0000",
                    "add@100000000", "log_start@100000000 0->4", "eventfd_add@c0500000", "commit"), r.calls);
            r.calls.clear();
            m.sys.unregisterListener(r);
            assertEquals(List.of("begin", "coalesced_del@a0000", "del@a0000",
                    "log_stop@100000000 4->0", "del@100000000", "eventfd_del@c0500000", "commit"), r.calls);
            m.sys.globalDirtyLogStop();
        }
    }
}
