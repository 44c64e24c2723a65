package dev.guestmem.iommu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.guestmem.MemorySystem;
import dev.guestmem.region.AliasRegion;
import dev.guestmem.region.IommuRegion;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * {@code memory_region_iommu_get_attr}: {@code -EINVAL} when the class has no {@code get_attr},
 * else the model's answer (sPAPR answers {@code IOMMU_ATTR_SPAPR_TCE_FD} with its table's fd).
 */
class IommuAttributeTest {
    private static final IommuOps NO_TRANSLATION = (addr, flag, idx, out) -> { };

    private final MemorySystem sys = new MemorySystem();

    /** sPAPR's {@code spapr_tce_get_attr}: the TCE fd, nothing else. */
    private static IommuOps tceTable(int fd) {
        return new IommuOps() {
            @Override
            public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            }

            @Override
            public <T> Optional<T> attribute(IommuRegion iommu, IommuAttribute<T> attr) {
                return attr == IommuAttribute.SPAPR_TCE_FD ? attr.of(fd) : Optional.empty();
            }
        };
    }

    @Test
    void isNotSupportedByDefaultAndWithoutAModel() {
        IommuRegion withModel = new IommuRegion(sys, null, "iommu", 0x10000, NO_TRANSLATION);
        assertEquals(Optional.empty(), withModel.attribute(IommuAttribute.SPAPR_TCE_FD), "get_attr NULL: -EINVAL");
        IommuRegion none = new IommuRegion(sys, null, "bare", 0x10000);
        assertEquals(Optional.empty(), none.attribute(IommuAttribute.SPAPR_TCE_FD));
    }

    /** A null attribute is refused with its name, model or not. */
    @Test
    void aNullAttributeIsRefusedWithAMessage() {
        IommuRegion iommu = new IommuRegion(sys, null, "tce", 0x10000, tceTable(17));
        NullPointerException e = assertThrows(NullPointerException.class, () -> iommu.attribute(null));
        assertEquals("attr", e.getMessage());
    }

    @Test
    void aModelAnswersWithATypedValue() {
        IommuRegion iommu = new IommuRegion(sys, null, "tce", 0x10000, tceTable(17));
        Optional<Integer> fd = iommu.attribute(IommuAttribute.SPAPR_TCE_FD);
        assertEquals(Optional.of(17), fd);
        AliasRegion alias = new AliasRegion(sys, null, "window", iommu, 0, 0x1000);
        assertEquals(Optional.of(17), IommuNotifiers.of(alias).attribute(IommuAttribute.SPAPR_TCE_FD),
                "vfio reaches the IOMMU through memory_region_get_iommu, which follows aliases");
        iommu.setIommuOps(NO_TRANSLATION);
        assertEquals(Optional.empty(), iommu.attribute(IommuAttribute.SPAPR_TCE_FD), "the model's, read at the call");
    }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void aWronglyTypedOrNullAnswerFailsAtTheQuery() {
        IommuOps rawModel = new IommuOps() {
            @Override
            public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            }

            @Override
            public Optional attribute(IommuRegion iommu, IommuAttribute attr) {
                return Optional.of("not an fd");
            }
        };
        IommuRegion iommu = new IommuRegion(sys, null, "raw", 0x10000, rawModel);
        assertThrows(ClassCastException.class, () -> iommu.attribute(IommuAttribute.SPAPR_TCE_FD));
        iommu.setIommuOps(new IommuOps() {
            @Override
            public void translate(long addr, int flag, int iommuIdx, IommuTlbEntry out) {
            }

            @Override
            public <T> Optional<T> attribute(IommuRegion r, IommuAttribute<T> attr) {
                return null;
            }
        });
        assertThrows(NullPointerException.class, () -> iommu.attribute(IommuAttribute.SPAPR_TCE_FD));
        assertThrows(ClassCastException.class, () -> IommuAttribute.SPAPR_TCE_FD.of("x"));
        assertEquals("IOMMU_ATTR_SPAPR_TCE_FD", IommuAttribute.SPAPR_TCE_FD.toString());
        assertEquals(Integer.class, IommuAttribute.SPAPR_TCE_FD.type());
    }
}
