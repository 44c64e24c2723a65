package dev.guestmem.scenario12;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.guestmem.access.AddressSpace;
import dev.guestmem.access.MemTxAttrs;
import dev.guestmem.access.MemTxResult;
import dev.guestmem.access.MemTxResultHolder;
import java.lang.foreign.ValueLayout;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The big-endian board's MMIO, access by access: the calls each device's callbacks see and the value
 * the CPU gets, each worked out by hand from QEMU's {@code access_with_adjusted_size} (big-endian
 * chunk {@code i} at bit {@code 8(size - access - i)}, a negative shift shifting right; little-endian
 * at bit {@code 8i}; no realignment) and {@code adjust_endianness} (swap when the access's order is not
 * the device's). Every register file holds bytes {@code 01 02 03 ...} from offset 0.
 */
class BeBoardMmioTest {
    private BeBoard b;
    private AddressSpace as;
    private final MemTxResultHolder res = new MemTxResultHolder();

    @BeforeEach
    void build() {
        b = new BeBoard();
        as = b.memory;
        for (RegisterBytes r : List.of(b.beRegs, b.leRegs, b.nativeRegs, b.leBytes, b.nic)) {
            r.fillPattern();
        }
    }

    @AfterEach
    void close() {
        b.close();
    }

    @Test
    void bigEndianDeviceWithSixteenBitCallbacks() {
        assertEquals(0x0102030405060708L, as.ldqBe(BeBoard.BE_REGS));
        assertEquals(List.of("r@0/2=102", "r@2/2=304", "r@4/2=506", "r@6/2=708"), b.beRegs.takeCalls());
        assertEquals(0x0807060504030201L, as.ldqLe(BeBoard.BE_REGS)); // same calls, then swapped
        assertEquals(4, b.beRegs.takeCalls().size());
        assertEquals(0x02, as.ldub(BeBoard.BE_REGS + 1)); // widened: bytes 1-2, the high one kept
        assertEquals(List.of("r@1/2=203"), b.beRegs.takeCalls());
        assertEquals(MemTxResult.OK, as.stb(BeBoard.BE_REGS + 0x11, 0xaa));
        assertEquals(List.of("w@17/2=aa00"), b.beRegs.takeCalls()); // the byte after is written 0
        assertEquals(MemTxResult.OK, as.stlBe(BeBoard.BE_REGS + 0x20, 0x11223344));
        assertEquals(List.of("w@32/2=1122", "w@34/2=3344"), b.beRegs.takeCalls());
        assertEquals(MemTxResult.OK, as.stlLe(BeBoard.BE_REGS + 0x20, 0x11223344));
        assertEquals(List.of("w@32/2=4433", "w@34/2=2211"), b.beRegs.takeCalls());
        assertEquals(0x11223344, as.stl(BeBoard.BE_REGS + 0x24, 0x11223344) == MemTxResult.OK
                ? as.ldl(BeBoard.BE_REGS + 0x24) : -1); // the unsuffixed forms are big-endian here
        assertEquals(List.of("w@36/2=1122", "w@38/2=3344", "r@36/2=1122", "r@38/2=3344"), b.beRegs.takeCalls());
    }

    @Test
    void littleEndianDeviceWithThirtyTwoBitCallbacks() {
        assertEquals(0x0102030405060708L, as.ldqBe(BeBoard.LE_REGS));
        assertEquals(List.of("r@0/4=4030201", "r@4/4=8070605"), b.leRegs.takeCalls());
        assertEquals(0x03, as.ldub(BeBoard.LE_REGS + 2)); // widened to 4 at offset 2, low byte kept
        assertEquals(List.of("r@2/4=6050403"), b.leRegs.takeCalls());
        assertEquals(0x0506, as.lduwBe(BeBoard.LE_REGS + 4));
        assertEquals(List.of("r@4/4=8070605"), b.leRegs.takeCalls());
        assertEquals(MemTxResult.OK, as.stwBe(BeBoard.LE_REGS + 0x10, 0xabcd));
        assertEquals(List.of("w@16/4=cdab"), b.leRegs.takeCalls()); // swapped, widened: two zero bytes
        assertEquals(0x04030201, as.ldlLe(BeBoard.LE_REGS)); // lwbrx: the register's own value
    }

    @Test
    void nativeDeviceIsBigEndianOnThisBoard() {
        assertEquals(0x0102030405060708L, as.ldqBe(BeBoard.NATIVE_REGS));
        assertEquals(List.of("r@0/8=102030405060708"), b.nativeRegs.takeCalls());
        assertEquals(0x0102030405060708L, as.ldq(BeBoard.NATIVE_REGS));
        b.nativeRegs.takeCalls();
        assertEquals(0x04, as.ldub(BeBoard.NATIVE_REGS + 3)); // widened to 4, the top byte
        assertEquals(List.of("r@3/4=4050607"), b.nativeRegs.takeCalls());
        assertEquals(MemTxResult.OK, as.stw(BeBoard.NATIVE_REGS + 0x10, 0xbeef));
        assertEquals(List.of("w@16/4=beef0000"), b.nativeRegs.takeCalls());
        assertEquals(0x0807, as.lduwLe(BeBoard.NATIVE_REGS + 6));
    }

    @Test
    void littleEndianByteWideDevice() {
        assertEquals(0x0102030405060708L, as.ldqBe(BeBoard.LE_BYTES));
        assertEquals(List.of("r@0/1=1", "r@1/1=2", "r@2/1=3", "r@3/1=4", "r@4/1=5", "r@5/1=6", "r@6/1=7", "r@7/1=8"),
                b.leBytes.takeCalls());
        assertEquals(MemTxResult.OK, as.stlBe(BeBoard.LE_BYTES + 0x10, 0x11223344));
        assertEquals(List.of("w@16/1=11", "w@17/1=22", "w@18/1=33", "w@19/1=44"), b.leBytes.takeCalls());
    }

    @Test
    void invalidAccessesReachNoCallback() {
        assertEquals(0, as.ldlBe(BeBoard.BE_REGS + 2, MemTxAttrs.UNSPECIFIED, res)); // unaligned
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        assertEquals(MemTxResult.DECODE_ERROR, as.stwLe(BeBoard.LE_REGS + 1, 0x1234));
        assertEquals(MemTxResult.DECODE_ERROR, as.stwBe(BeBoard.DMA, 1)); // valid 4 only
        assertEquals(List.of(), b.beRegs.takeCalls());
        assertEquals(List.of(), b.leRegs.takeCalls());
    }

    @Test
    void theSwappingBridgePreservesValuesWhereThePlainAliasSwapsThem() {
        // the NIC's register 0 holds 0x04030201 (little-endian bytes 01 02 03 04)
        assertEquals(0x04030201, as.ldlBe(BeBoard.PCI_SWAPPED + BeBoard.NIC));
        assertEquals(List.of("r@0/4=4030201"), b.nic.takeCalls());
        assertEquals(0x01020304, as.ldlBe(BeBoard.PCI_DIRECT + BeBoard.NIC)); // the driver would need lwbrx
        assertEquals(0x04030201, as.ldlLe(BeBoard.PCI_DIRECT + BeBoard.NIC));
        b.nic.takeCalls();
        assertEquals(MemTxResult.OK, as.stlBe(BeBoard.PCI_SWAPPED + BeBoard.NIC + 0x10, 0xcafef00d));
        assertEquals(MemTxResult.OK, as.stlBe(BeBoard.PCI_DIRECT + BeBoard.NIC + 0x14, 0xcafef00d));
        assertEquals(List.of("w@16/4=cafef00d", "w@20/4=df0feca"), b.nic.takeCalls());
        assertEquals(0x0201, as.lduwBe(BeBoard.PCI_SWAPPED + BeBoard.NIC)); // widened inside the NIC
        assertEquals(List.of("r@0/4=4030201"), b.nic.takeCalls());
        assertEquals(0x01, as.ldub(BeBoard.PCI_SWAPPED + BeBoard.NIC)); // bytes keep their addresses
        b.nic.takeCalls();
        // a frame-buffer BAR behind the bridge: RAM, reached through the PCI address space
        b.vram.ramBlock().segment().set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 0, 0x01020304);
        assertEquals(0x04030201, as.ldlBe(BeBoard.PCI_SWAPPED + BeBoard.VRAM));
        assertEquals(0x01020304, as.ldlBe(BeBoard.PCI_DIRECT + BeBoard.VRAM));
        // a hole of the PCI space answers through the bridge as it does directly
        assertEquals(0, as.ldlBe(BeBoard.PCI_SWAPPED + 0x800_0000L, MemTxAttrs.UNSPECIFIED, res));
        assertEquals(MemTxResult.DECODE_ERROR, res.get());
        assertEquals(MemTxResult.DECODE_ERROR, as.stlBe(BeBoard.PCI_SWAPPED + 2, 1)); // the bridge refuses unaligned
    }
}
