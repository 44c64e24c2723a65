package dev.guestmem.region;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.MemorySystem;
import dev.guestmem.ram.RamBlock;
import org.junit.jupiter.api.Test;

/**
 * QEMU's {@code memory_region_get_fd}: {@code while (mr->alias) mr = mr->alias;} then the RAM
 * block's fd. guestmem answers -1 where QEMU would dereference a NULL {@code ram_block}.
 */
class RegionFdTest {
    private final MemorySystem sys = new MemorySystem();

    @Test
    void followsAChainOfAliasesToTheBlocksDescriptor() {
        RamBlock block = RamBlock.builder("mem0", 0x4000).memfd().build();
        RamRegion ram = new RamRegion(sys, null, "mem0", block, false, false);
        block.close();
        AliasRegion alias = new AliasRegion(sys, null, "alias", ram, 0x1000, 0x2000);
        AliasRegion aliasOfAlias = new AliasRegion(sys, null, "alias2", alias, 0x1000, 0x1000);
        int fd = ram.ramBlock().fd();
        assertTrue(fd >= 0, "a memfd block has a descriptor");
        assertEquals(fd, ram.fd());
        assertEquals(fd, alias.fd(), "QEMU follows mr->alias; the alias offset does not matter");
        assertEquals(fd, aliasOfAlias.fd());
    }

    @Test
    void isMinusOneWithoutADescriptorOrWithoutARamBlock() {
        RamRegion anon = RamRegion.allocate(sys, null, "anon", 0x1000);
        assertEquals(-1, anon.fd(), "anonymous RAM has no descriptor (ram_block->fd is -1)");
        assertEquals(-1, new AliasRegion(sys, null, "a", anon, 0, 0x1000).fd());
        IoRegion io = new IoRegion(sys, null, null, "io", 0x1000);
        assertEquals(-1, io.fd());
        assertEquals(-1, new AliasRegion(sys, null, "aio", io, 0, 0x1000).fd());
        assertEquals(-1, new ContainerRegion(sys, null, "box", 0x1000).fd());
    }

    @Test
    void aRomDeviceAnswersWithItsBlock() {
        RamBlock block = RamBlock.builder("flash", 0x1000).memfd().build();
        MemoryRegionOps ops = MemoryRegionOps.builder().read((a, s) -> 0).write((a, d, s) -> { }).build();
        RomDeviceRegion flash = new RomDeviceRegion(sys, null, ops, "flash", block);
        block.close();
        assertEquals(flash.ramBlock().fd(), new AliasRegion(sys, null, "f", flash, 0, 0x1000).fd());
    }
}
