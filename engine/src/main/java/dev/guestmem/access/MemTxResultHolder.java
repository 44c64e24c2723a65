package dev.guestmem.access;

/**
 * A reusable out-parameter for the result of a load, as the {@code MemTxResult *result} argument of
 * QEMU's {@code address_space_ldl_le} and friends. Loads return the value and, when given a holder,
 * store the {@link MemTxResult} here, so nothing is allocated per access.
 *
 * <p><b>Thread safety.</b> None: one holder per thread or per call site.
 */
public final class MemTxResultHolder {
    private int result;

    /** Creates a holder whose result is {@link MemTxResult#OK}. */
    public MemTxResultHolder() {
    }

    /** @return the result of the last access that filled this holder */
    public int get() {
        return result;
    }

    /**
     * Stores a result.
     *
     * @param result a {@link MemTxResult} combination
     */
    public void set(int result) {
        this.result = result;
    }

    /** @return whether the last result was {@link MemTxResult#OK} */
    public boolean isOk() {
        return result == MemTxResult.OK;
    }

    @Override
    public String toString() {
        return MemTxResult.toString(result);
    }
}
