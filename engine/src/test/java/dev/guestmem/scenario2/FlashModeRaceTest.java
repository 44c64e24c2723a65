package dev.guestmem.scenario2;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.region.ContainerRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.RamRegion;
import dev.guestmem.region.RomDeviceRegion;
import dev.guestmem.tlb.GuestTlb;
import dev.guestmem.tlb.TlbEntry;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A vCPU reads the flash (through the address space and through a soft TLB) while another thread
 * switches it between ROMD and command mode: every read answers either the ROM byte or the status
 * register, OK; never unassigned, never another value. Length: {@code guestmem.scenario2.toggles}.
 */
class FlashModeRaceTest {
    static final long FLASH = 0xfff0_0000L;

    @Test
    void readsSeeOneModeOrTheOther() throws Exception {
        int toggles = Integer.getInteger("guestmem.scenario2.toggles", 2000);
        MemorySystem sys = new MemorySystem();
        ContainerRegion system = new ContainerRegion(sys, null, "system", MemoryRegion.SIZE_2_64);
        system.addSubregion(0, RamRegion.allocate(sys, null, "ram", 1 << 20));
        RomDeviceRegion flash = RomDeviceRegion.allocate(sys, "pflash", MemoryRegionOps.builder()
                .read((addr, size) -> 0x80)
                .write((addr, data, size) -> { })
                .valid(1, 4, false)
                .build(), "pflash", 0x10000);
        system.addSubregion(FLASH, flash);
        AddressSpace as = sys.addressSpace(system, "memory");
        as.set(FLASH, (byte) 0x5a, 0x10000, MemTxAttrs.DEBUG);
        assertEquals(0x5a, as.ldub(FLASH + 0x123));

        ConcurrentLinkedQueue<String> bad = new ConcurrentLinkedQueue<>();
        AtomicBoolean done = new AtomicBoolean();
        Thread cpu = new Thread(() -> {
            MemTxResultHolder res = new MemTxResultHolder();
            TlbEntry e = new TlbEntry();
            long n = 0;
            while (!done.get() && bad.size() < 10) {
                long off = (n++ * 0x41) & 0xfffc;
                int v = as.ldub(FLASH + off, MemTxAttrs.UNSPECIFIED, res);
                if ((v != 0x5a && v != 0x80) || res.get() != MemTxResult.OK) {
                    bad.add("as: 0x" + Integer.toHexString(v) + " " + MemTxResult.toString(res.get()));
                }
                if (e.generation() != as.generation() || e.pageAddr() != ((FLASH + off) & ~0xfffL)) {
                    GuestTlb.fill(as, FLASH + off, e);
                }
                int t;
                if (e.readDirect()) {
                    t = e.segment().get(ValueLayout.JAVA_BYTE, e.hostOffset() + (off & 0xfff)) & 0xff;
                } else {
                    t = as.ldub(FLASH + off, MemTxAttrs.UNSPECIFIED, res);
                }
                if (t != 0x5a && t != 0x80) {
                    bad.add("tlb: 0x" + Integer.toHexString(t) + " " + e);
                }
                int w = as.ldlLe(FLASH + off, MemTxAttrs.UNSPECIFIED, res);
                if ((w != 0x5a5a5a5a && w != 0x80) || res.get() != MemTxResult.OK) {
                    bad.add("ldl: 0x" + Integer.toHexString(w) + " " + MemTxResult.toString(res.get()));
                }
            }
        });
        cpu.start();
        for (int i = 0; i < toggles; i++) {
            flash.setRomd((i & 1) != 0);
        }
        done.set(true);
        cpu.join();
        assertEquals("[]", bad.toString());
    }
}
