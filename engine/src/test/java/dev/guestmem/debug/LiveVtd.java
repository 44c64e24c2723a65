package dev.guestmem.debug;

import dev.guestmem.share.QtestClient;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * An Intel VT-d IOMMU ({@code -device intel-iommu}) of a live q35, found in the machine's own
 * {@code info mtree} (its register block {@code intel_iommu} in system memory). Setting or clearing
 * translation enable (GCMD.TE) switches every device's DMA address space between the
 * {@code vtd-nodmar} alias and the IOMMU region ({@code vtd_switch_address_space}: enabling only),
 * so the walk's flat views meet IOMMU regions turned on and off.
 *
 * @param qtest the machine's qtest connection
 * @param registers the guest-physical address of the register block
 */
record LiveVtd(QtestClient qtest, long registers) implements LiveKnob {
    /** {@code DMAR_GCMD_REG}. */
    static final int GCMD = 0x18;
    /** {@code VTD_GCMD_TE}: translation enable. */
    static final long TE = 1L << 31;

    /**
     * @param qtest the machine's qtest connection
     * @param doc the machine's {@code info mtree}
     * @return its VT-d, or empty if its system memory shows none
     */
    static Optional<LiveKnob> read(QtestClient qtest, MtreeDocument doc) {
        return doc.addressSpace("memory").flatMap(system -> system.children().stream()
                .filter(n -> !n.isAlias() && n.name().equals("intel_iommu")).findFirst())
                .map(n -> new LiveVtd(qtest, n.start()));
    }

    @Override
    public String name() {
        return "VT-d";
    }

    @Override
    public LivePci.Write turn(SplittableRandom random, List<String> reAdded) {
        long value = random.nextBoolean() ? TE : 0;
        qtest.write(4, registers + GCMD, value);
        return new LivePci.Write(null, GCMD, 4, value, "VT-d GCMD (translation enable) @0x" + Long.toHexString(registers));
    }
}
