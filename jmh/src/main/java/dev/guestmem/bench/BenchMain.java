package dev.guestmem.bench;

/** Runs the JMH benchmarks of a group and prints one target line per measured target. */
public final class BenchMain {
    private BenchMain() {
    }

    /**
     * Entry point.
     *
     * @param args {@code GROUP [--quick]}
     */
    public static void main(String[] args) {
        System.out.println("no groups yet");
    }
}
