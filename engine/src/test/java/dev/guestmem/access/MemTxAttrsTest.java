package dev.guestmem.access;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The attributes' requester ID and PASID are the widths a bus carries: 16 and 20 bits. */
class MemTxAttrsTest {
    @ParameterizedTest
    @ValueSource(ints = {0, 1, 0x0100, 0xffff})
    void everySixteenBitRequesterIdIsTaken(int rid) {
        assertEquals(rid, new MemTxAttrs(false, false, false, false, false, rid).requesterId());
        assertEquals(rid, MemTxAttrs.dma(rid, 0).requesterId());
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 0x10000, Integer.MIN_VALUE, Integer.MAX_VALUE})
    void aRequesterIdWiderThanSixteenBitsIsRefused(int rid) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new MemTxAttrs(false, false, false, false, false, rid));
        assertTrue(e.getMessage().contains("16 bits"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MemTxAttrs.dma(rid, 0));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 0xff, 0x100, 0xf_ffff})
    void everyTwentyBitPasidIsTaken(int pid) {
        assertEquals(pid, MemTxAttrs.dma(0x0010, pid).pid());
    }

    @ParameterizedTest
    @ValueSource(ints = {-1, 0x10_0000, Integer.MIN_VALUE, Integer.MAX_VALUE})
    void aPasidWiderThanTwentyBitsIsRefused(int pid) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MemTxAttrs.dma(0x0010, pid));
        assertTrue(e.getMessage().contains("20 bits"), e.getMessage());
    }
}
