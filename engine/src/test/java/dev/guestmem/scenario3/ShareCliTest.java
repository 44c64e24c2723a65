package dev.guestmem.scenario3;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.guestmem.cli.ShareCommand;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code ./guestmem share} as guide section 8 documents it: commands "come from standard input or
 * {@code --do}" and {@code quit} is one of them.
 */
class ShareCliTest {
    record Run(int status, String out, String err) {
    }

    static Run share(String stdin, String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = ShareCommand.run(List.of(args), new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
                new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    static String socket() {
        return Path.of("/tmp", "gm-s3-cli-" + ProcessHandle.current().pid() + "-" + System.nanoTime() + ".sock").toString();
    }

    @Test
    void quitEndsTheCommandsFromDoAsFromStandardInput() throws Exception {
        String sock = socket();
        try {
            Run viaDo = share("", "serve", sock, "--size", "1M", "--do", "write 0x10 hi", "--do", "quit",
                    "--do", "write 0x20 never");
            assertEquals(0, viaDo.status(), viaDo.err());
            assertTrue(viaDo.out().contains("wrote 2 bytes at 0x10"), viaDo.out());
            assertFalse(viaDo.out().contains("0x20"), "nothing after quit runs: " + viaDo.out());

            Run viaStdin = share("write 0x10 hi\nquit\nwrite 0x20 never\n", "serve", sock, "--size", "1M");
            assertEquals(0, viaStdin.status(), viaStdin.err());
            assertFalse(viaStdin.out().contains("0x20"), viaStdin.out());
        } finally {
            Files.deleteIfExists(Path.of(sock));
        }
    }
}
