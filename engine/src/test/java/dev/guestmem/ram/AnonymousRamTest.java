package dev.guestmem.ram;

/** {@link RamBackendContract} for anonymous private memory. */
class AnonymousRamTest extends RamBackendContract {
    @Override
    protected RamBlock create(String idstr, long size) {
        return RamBlock.anonymous(idstr, size);
    }

    @Override
    protected boolean hasFd() {
        return false;
    }

    @Override
    protected boolean isShared() {
        return false;
    }
}
