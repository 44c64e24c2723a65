/**
 * RAM snapshots: a versioned file format ({@link dev.guestmem.snapshot.SnapshotFormat}) with a
 * block table, zero pages not stored and CRC32C checksums; full and incremental writers
 * ({@link dev.guestmem.snapshot.SnapshotWriter}, fed by {@link dev.guestmem.snapshot.DirtyPages});
 * a checked reader ({@link dev.guestmem.snapshot.SnapshotFile}), chains of increments
 * ({@link dev.guestmem.snapshot.SnapshotChain}) and eager restore
 * ({@link dev.guestmem.snapshot.SnapshotRestorer}). Lazy restore lives in {@code dev.guestmem.uffd}.
 */
package dev.guestmem.snapshot;
