/**
 * Sharing guest RAM with other processes: a {@link dev.guestmem.share.SharedMachine} describes
 * memfd- or file-backed blocks and their guest addresses, {@link dev.guestmem.share.RamShareServer}
 * hands their descriptors out over a Unix socket ({@link dev.guestmem.share.ShareProtocol},
 * {@code SCM_RIGHTS}) and {@link dev.guestmem.share.MappedMachine} maps them on the other side. The
 * serving side plugs and unplugs regions at run time ({@link dev.guestmem.share.SharedMachine#plug},
 * {@link dev.guestmem.share.SharedMachine#unplug}); the server hands each new peer the current layout,
 * and pushes each change to the peers that follow it
 * ({@link dev.guestmem.share.SharedMachine#attachFollowing}). QEMU
 * can be a peer ({@link dev.guestmem.share.QemuProcess}, {@link dev.guestmem.share.QmpClient},
 * {@link dev.guestmem.share.QtestClient}); {@link dev.guestmem.share.MemoryDump} prints memory as
 * QEMU's {@code xp} does.
 */
package dev.guestmem.share;
