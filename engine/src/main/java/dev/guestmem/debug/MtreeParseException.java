package dev.guestmem.debug;

/**
 * Thrown when {@code info mtree} text cannot be read. The message names the line number (1-based)
 * and repeats the offending line, so a user can find it.
 *
 * <p><b>Thread safety.</b> Immutable.
 */
public final class MtreeParseException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** 1-based line number, 0 when the problem is not tied to one line. */
    private final int lineNumber;
    /** The offending line (without line terminator), or empty. */
    private final String lineText;

    /**
     * Creates the exception.
     *
     * @param lineNumber 1-based line number, or 0 when the problem concerns the whole text
     * @param lineText the offending line, or null
     * @param reason what is wrong with it
     */
    public MtreeParseException(int lineNumber, String lineText, String reason) {
        super(format(lineNumber, lineText, reason));
        this.lineNumber = lineNumber;
        this.lineText = lineText == null ? "" : lineText;
    }

    private static String format(int lineNumber, String lineText, String reason) {
        if (lineNumber <= 0) {
            return reason;
        }
        return "line " + lineNumber + ": " + reason + ": \"" + (lineText == null ? "" : lineText) + "\"";
    }

    /** @return the 1-based line number, or 0 when the problem concerns the whole text */
    public int lineNumber() {
        return lineNumber;
    }

    /** @return the offending line, or the empty string */
    public String lineText() {
        return lineText;
    }
}
