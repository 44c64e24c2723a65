package dev.guestmem.share;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The layout message: exact text, round trip, and rejection of what is not a message. */
class ShareProtocolTest {
    @Test
    void encodesTheDocumentedText() {
        byte[] b = ShareProtocol.encode(List.of(new SharedRamRegion("pc.ram", 0, 0x8000000L),
                new SharedRamRegion("hi", 0x100000000L, 0x1000)));
        assertEquals("guestmem-share 1\nregion pc.ram 0 8000000\nregion hi 100000000 1000\nend\n",
                new String(b, StandardCharsets.US_ASCII));
    }

    @Test
    void decodesWhatItEncodes() {
        List<SharedRamRegion> l = List.of(new SharedRamRegion("a", 0xfffffffffffff000L, 0x1000), new SharedRamRegion("b", 0, 1));
        assertEquals(l, ShareProtocol.decode(new String(ShareProtocol.encode(l), StandardCharsets.US_ASCII)));
    }

    @Test
    void rejectsOtherText() {
        assertThrows(ShareException.class, () -> ShareProtocol.decode("hello\nend\n"));
        assertThrows(ShareException.class, () -> ShareProtocol.decode("guestmem-share 1\nend\n"));
        assertThrows(ShareException.class, () -> ShareProtocol.decode("guestmem-share 1\nregion a 0 10\n"));
        assertThrows(ShareException.class, () -> ShareProtocol.decode("guestmem-share 1\nregion a 0 0\nend\n"));
        assertThrows(ShareException.class, () -> ShareProtocol.decode("guestmem-share 1\nregion a zz 10\nend\n"));
        assertThrows(IllegalArgumentException.class, () -> new SharedRamRegion("a b", 0, 1));
        assertThrows(IllegalArgumentException.class, () -> new SharedRamRegion("a", -4096, 8192));
        assertThrows(IllegalArgumentException.class, () -> ShareProtocol.encode(List.of()));
    }

    @Test
    void overlappingLayoutsAreRefusedBeforeAnythingIsMapped() {
        assertThrows(IllegalArgumentException.class, () -> SharedMachine.createMemfd(List.of(
                new SharedRamRegion("a", 0, 0x2000), new SharedRamRegion("b", 0x1000, 0x1000))));
    }
}
