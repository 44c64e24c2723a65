package dev.guestmem.cli;

/** Command-line entry point behind the {@code ./guestmem} launcher. */
public final class Main {
    private Main() {
    }

    /**
     * Runs one command.
     *
     * @param args the command and its arguments
     */
    public static void main(String[] args) {
        System.out.println("guestmem: nothing here yet");
    }
}
