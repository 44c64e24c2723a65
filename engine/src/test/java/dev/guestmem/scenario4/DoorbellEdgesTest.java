package dev.guestmem.scenario4;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.ioeventfd.Ioeventfd;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The doorbell in the corners a virtio-pci port meets: a reset while the BAR is unmapped, a BAR
 * partly covered by another region, and the legacy I/O-port notify (QEMU's notify_pio) forwarding
 * to the modern notify region of the same device with {@code dispatchWrite}.
 */
class DoorbellEdgesTest {
    static final long BAR = 0xfebf_0000L;
    VirtioMachine m;
    VirtioPciBlk dev;
    VirtioDriver drv;

    @BeforeEach
    void machine() {
        m = new VirtioMachine();
        dev = m.plug(m.as);
        m.enumerate(BAR);
        drv = new VirtioDriver(m.as, BAR, 0x10000, 0x11000, 0x12000);
        drv.init(VirtioMachine.MSI, 1);
    }

    @AfterEach
    void close() throws InterruptedException {
        m.close();
    }

    List<Long> doorbells() {
        return m.sys.ioeventfds(m.as).stream().map(Ioeventfd::addr).toList();
    }

    @Test
    void aResetWhileTheBarIsUnmappedLeavesNoDoorbellWhenItComesBack() {
        m.configWritew(VirtioPciBlk.PCI_COMMAND, 0);
        dev.resetFromMachine(); // system_reset: the device drops its ioeventfds
        m.configWritew(VirtioPciBlk.PCI_COMMAND, VirtioPciBlk.CMD_MEMORY);
        assertEquals(List.of(), doorbells());
        assertTrue(m.as.stwLe(BAR + VirtioPciBlk.NOTIFY, 0) == MemTxResult.OK);
        assertEquals(1, dev.slowNotifies.get(), "without its eventfd the doorbell is the callback's");
    }

    @Test
    void aDoorbellUnderAHigherPriorityRegionIsNotListed() {
        RamRegion cover = RamRegion.allocate(m.sys, null, "cover", 0x1000);
        m.system.addSubregionOverlap(BAR + VirtioPciBlk.NOTIFY, cover, 10);
        assertEquals(List.of(), doorbells());
        assertEquals(MemTxResult.OK, m.as.stwLe(BAR + VirtioPciBlk.NOTIFY, 0));
        assertEquals(0, m.as.lduwLe(BAR + VirtioPciBlk.NOTIFY + 2));
        m.system.delSubregion(cover);
        assertEquals(List.of(BAR + VirtioPciBlk.NOTIFY), doorbells());
    }

    @Test
    void theLegacyPortForwardsToTheModernDoorbellOfTheSameDevice() throws InterruptedException {
        // notify_pio: owned by the same proxy as the notify region; the forward is one access
        IoRegion pio = new IoRegion(m.sys, dev, MemoryRegionOps.builder()
                .read((a, s) -> 0)
                .write((a, d, s) -> dev.notify.dispatchWrite(d * VirtioPciBlk.NOTIFY_MULTIPLIER, d, 2, false,
                        MemTxAttrs.UNSPECIFIED))
                .valid(2, 2, false).build(), "virtio-pci-notify-pio", 4);
        m.io.root().addSubregion(0xc000, pio);
        drv.header(0x20000, BlkBackend.T_IN, 0);
        drv.post(0x20000, 16, 0, 0x30000, 512, 1, 0x21000, 1, 1);
        assertEquals(MemTxResult.OK, m.io.stwLe(0xc000, 0));
        assertTrue(dev.interruptRaised.tryAcquire(5, TimeUnit.SECONDS), "the forwarded write signalled the eventfd");
        assertEquals(0, dev.slowNotifies.get());
        assertEquals(1, drv.usedIdx());
    }
}
