package dev.guestmem.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads a text file a user names on the command line ({@code -} is standard input), in at most
 * {@link #LIMIT} bytes, and says in words why it cannot: an {@code info mtree} text is kilobytes, so
 * a bigger or endless input ({@code /dev/zero}) is a wrong path, not text to read until the heap
 * runs out.
 *
 * <p><b>Thread safety.</b> Stateless.
 */
final class TextInput {
    /** The most bytes read: far above any {@code info mtree} text. */
    static final int LIMIT = 64 << 20;

    /** Why a file cannot be used, as one line for the user. */
    static final class UnusableException extends Exception {
        private static final long serialVersionUID = 1L;

        UnusableException(String message) {
            super(message);
        }
    }

    private TextInput() {
    }

    /**
     * Reads UTF-8 text.
     *
     * @param name the path, or {@code -} for {@code stdin}
     * @param stdin standard input
     * @return the text
     * @throws UnusableException with a message that starts with the name
     */
    static String read(String name, InputStream stdin) throws UnusableException {
        byte[] bytes;
        try {
            if (name.equals("-")) {
                bytes = stdin.readNBytes(LIMIT + 1);
            } else {
                Path p = Path.of(name);
                if (Files.isDirectory(p)) {
                    throw new UnusableException(name + " is a directory, not a file");
                }
                try (InputStream in = Files.newInputStream(p)) {
                    bytes = in.readNBytes(LIMIT + 1); // a length check alone misses /dev/zero and FIFOs
                }
            }
        } catch (IOException e) {
            throw new UnusableException("cannot read " + name + ": " + describe(e));
        }
        if (bytes.length > LIMIT) {
            throw new UnusableException(name + " is larger than " + (LIMIT >> 20) + " MiB: not an 'info mtree' text");
        }
        try {
            return StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new UnusableException(name + " is not UTF-8 text (a binary file?)");
        }
    }

    /**
     * Says what went wrong with a file in words (Java's messages are often just the path).
     *
     * @param e the failure
     * @return a short phrase
     */
    static String describe(IOException e) {
        return switch (e) {
            case NoSuchFileException x -> "no such file";
            case AccessDeniedException x -> "permission denied";
            default -> e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        };
    }
}
