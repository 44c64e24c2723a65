package dev.guestmem.dispatch;

import dev.guestmem.flat.FlatView;

/**
 * The lookup structure of one {@link FlatView}: QEMU's {@code AddressSpaceDispatch} (radix page map,
 * sections, subpages, MRU section). Placeholder until the dispatch package lands.
 */
public final class AddressSpaceDispatch {
    private final FlatView view;

    private AddressSpaceDispatch(FlatView view) {
        this.view = view;
    }

    /**
     * Builds the dispatch table of a view.
     *
     * @param view the view
     * @return its dispatch table
     */
    public static AddressSpaceDispatch build(FlatView view) {
        return new AddressSpaceDispatch(view);
    }

    /** @return the view this table serves */
    public FlatView view() {
        return view;
    }
}
