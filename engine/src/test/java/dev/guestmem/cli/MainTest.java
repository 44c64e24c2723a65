package dev.guestmem.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class MainTest {
    @Test
    void runsOnJava25() {
        assertEquals(25, Runtime.version().feature());
    }
}
