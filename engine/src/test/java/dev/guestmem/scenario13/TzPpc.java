package dev.guestmem.scenario13;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegion;
import dev.guestmem.region.MemoryRegionOps;
import dev.guestmem.region.MmioValue;

/**
 * QEMU's TrustZone peripheral protection controller ({@code hw/misc/tz-ppc.c}): per port, an
 * upstream I/O region the bus maps, whose with-attrs callbacks check the access's world and
 * privilege against the port's configuration and forward a passing access to the peripheral through
 * a downstream address space ({@code address_space_ld*_le} with the same attributes). A blocked
 * access raises the interrupt and answers {@code ERROR}, or reads zero and drops the write, as the
 * {@code cfg_sec_resp} line says.
 *
 * <p>The configuration lines ({@code cfg_nonsec[n]}, {@code cfg_ap[n]}, {@code cfg_sec_resp}),
 * which QEMU wires to a security controller's registers, are setters here.
 */
final class TzPpc {
    private final AddressSpace[] downstream;
    private final IoRegion[] upstream;
    private final boolean[] nonsec;
    private final boolean[] ap;
    private volatile boolean secResp;
    private volatile boolean irqStatus;

    TzPpc(MemorySystem sys, String name, MemoryRegion... peripherals) {
        int n = peripherals.length;
        downstream = new AddressSpace[n];
        upstream = new IoRegion[n];
        nonsec = new boolean[n];
        ap = new boolean[n];
        for (int i = 0; i < n; i++) {
            int port = i;
            downstream[i] = sys.addressSpace(peripherals[i], name + "-port" + i);
            MemoryRegionOps ops = MemoryRegionOps.builder()
                    .readWithAttrs((addr, size, attrs, out) -> read(port, addr, size, attrs, out))
                    .writeWithAttrs((addr, data, size, attrs) -> write(port, addr, data, size, attrs))
                    .valid(1, 8, false)
                    .impl(1, 8, false)
                    .endianness(Endianness.LITTLE)
                    .build();
            upstream[i] = new IoRegion(sys, this, ops, name + "-port[" + i + "]", peripherals[i].size());
            ap[i] = true;
        }
    }

    IoRegion port(int n) {
        return upstream[n];
    }

    /** {@code cfg_nonsec[n]}: the port is for the non-secure world (else secure only). */
    synchronized void setNonSecure(int port, boolean ns) {
        nonsec[port] = ns;
    }

    /** {@code cfg_ap[n]}: unprivileged accesses may pass. */
    synchronized void setUnprivilegedAllowed(int port, boolean allowed) {
        ap[port] = allowed;
    }

    /** {@code cfg_sec_resp}: blocked accesses answer ERROR (else read zero, writes ignored). */
    void setSecResp(boolean error) {
        secResp = error;
    }

    boolean irqStatus() {
        return irqStatus;
    }

    void clearIrq() {
        irqStatus = false;
    }

    /** {@code tz_ppc_check}: a port configured non-secure refuses secure accesses and vice versa. */
    private synchronized boolean allowed(int port, MemTxAttrs attrs) {
        if (attrs.secure() == nonsec[port] || attrs.user() && !ap[port]) {
            irqStatus = true;
            return false;
        }
        return true;
    }

    private int read(int port, long addr, int size, MemTxAttrs attrs, MmioValue out) {
        if (!allowed(port, attrs)) {
            out.value = 0;
            return secResp ? MemTxResult.ERROR : MemTxResult.OK;
        }
        AddressSpace as = downstream[port];
        MemTxResultHolder res = new MemTxResultHolder();
        out.value = switch (size) {
            case 1 -> as.ldub(addr, attrs, res);
            case 2 -> as.lduwLe(addr, attrs, res);
            case 4 -> as.ldlLe(addr, attrs, res) & 0xffffffffL;
            default -> as.ldqLe(addr, attrs, res);
        };
        return res.get();
    }

    private int write(int port, long addr, long data, int size, MemTxAttrs attrs) {
        if (!allowed(port, attrs)) {
            return secResp ? MemTxResult.ERROR : MemTxResult.OK;
        }
        AddressSpace as = downstream[port];
        return switch (size) {
            case 1 -> as.stb(addr, (int) data, attrs);
            case 2 -> as.stwLe(addr, (int) data, attrs);
            case 4 -> as.stlLe(addr, (int) data, attrs);
            default -> as.stqLe(addr, data, attrs);
        };
    }
}
