package dev.guestmem.scenario12;

import dev.guestmem.MemorySystem;
import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxResultHolder;
import dev.guestmem.region.Endianness;
import dev.guestmem.region.IoRegion;
import dev.guestmem.region.MemoryRegionOps;

/**
 * The byte-swapping window of a big-endian host bridge onto a little-endian PCI memory space, the
 * QEMU way: an alias cannot change byte order (only a terminating region's ops have one), so the
 * window is an I/O region whose ops are declared {@link Endianness#BIG} and that forwards every access,
 * whole ({@code valid} and {@code impl} 1 to 8), to the PCI space with the little-endian accessors.
 * A big-endian CPU's {@code stlBe(v)} through it therefore reaches a little-endian PCI device as
 * {@code v} (value-preserving, as a bridge that swaps byte lanes), where a plain alias of the same
 * space would deliver {@code bswap32(v)}. Bytes keep their addresses (QEMU's model is
 * address-invariant). The forward goes through an {@link AddressSpace} over the PCI space, not
 * {@code dispatchRead} on the container, because a container (and RAM behind it, a frame buffer
 * BAR) answers {@code DECODE_ERROR} to {@code memory_region_dispatch_*}.
 */
final class SwappingHostBridge {
    private final AddressSpace pci;
    private final IoRegion window;

    SwappingHostBridge(MemorySystem sys, AddressSpace pci, String name, long size) {
        this.pci = pci;
        MemoryRegionOps ops = MemoryRegionOps.builder()
                .readWithAttrs((addr, size1, attrs, out) -> {
                    MemTxResultHolder res = new MemTxResultHolder();
                    out.value = switch (size1) {
                        case 1 -> pci.ldub(addr, attrs, res);
                        case 2 -> pci.lduwLe(addr, attrs, res);
                        case 4 -> Integer.toUnsignedLong(pci.ldlLe(addr, attrs, res));
                        default -> pci.ldqLe(addr, attrs, res);
                    };
                    return res.get();
                })
                .writeWithAttrs((addr, data, size1, attrs) -> switch (size1) {
                    case 1 -> pci.stb(addr, (int) data, attrs);
                    case 2 -> pci.stwLe(addr, (int) data, attrs);
                    case 4 -> pci.stlLe(addr, (int) data, attrs);
                    default -> pci.stqLe(addr, data, attrs);
                })
                .valid(1, 8, false)
                .impl(1, 8, false)
                .endianness(Endianness.BIG)
                .build();
        window = new IoRegion(sys, this, ops, name, size);
    }

    IoRegion window() {
        return window;
    }

    AddressSpace pciSpace() {
        return pci;
    }
}
