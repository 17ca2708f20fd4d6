//! Spare segment files: zero-filled ahead of the appends (so an append's
//! `fdatasync` commits no file size or extent change), or purged segments
//! recycled (renamed, not deleted: deleting a 64 MiB file took 15-30 ms on
//! this `discard`-mounted disk). [`LogStore`](super::LogStore) turns a spare
//! into the next segment.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::disk::{Disk, DiskFile, Open};

/// Spare segment files kept ready. Two, so that in steady state (a purge
/// frees about one segment per segment filled) every purged segment is
/// recycled and nothing is zero-filled or deleted: with room for only one,
/// the spare zero-filled while a segment filled up was usually still unused
/// when the next purge came, so the purged 64 MiB file was deleted (15-20
/// ms of discards here) and another 64 MiB zero-filled, for every segment.
pub(crate) const SPARES_KEPT: usize = 2;
/// A file the next segment can be made from: zero-filled, or a purged
/// segment being recycled (its rename to a spare made durable already).
pub(super) struct Spare {
    pub(super) file: Arc<dyn DiskFile>,
    pub(super) path: PathBuf,
    pub(super) bytes: u64,
}

/// Numbers spare files, unique within the process (a thread still filling a
/// spare of a store that was closed and opened again must not remove the
/// new store's spare).
static SPARE_COUNTER: AtomicU64 = AtomicU64::new(0);

pub(super) fn spare_path(dir: &Path) -> PathBuf {
    dir.join(format!(
        "spare-{}",
        SPARE_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

pub(super) fn is_spare_name(name: &str) -> bool {
    name.strip_prefix("spare-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Writes zeros over `[from, to)` of `file` and syncs them (size and
/// extents included), so later writes there change no file metadata.
///
/// Each piece is synced before the next is written: the log's own syncs
/// flush the device's write cache, and a cache full of zeros would hold
/// each of them up (one 64 MiB burst took 35 ms here and tripled the p99 of
/// writes meanwhile).
fn zero_fill(file: &dyn DiskFile, from: u64, to: u64) -> io::Result<()> {
    const PIECE: u64 = 256 * 1024;
    let zeros = vec![0u8; PIECE.min(to.saturating_sub(from)) as usize];
    let mut at = from;
    while at < to {
        let n = (zeros.len() as u64).min(to - at) as usize;
        file.write_all_at(&zeros[..n], at)?;
        file.sync_data()?;
        at += n as u64;
    }
    file.sync_all()
}

/// Creates the zero-filled file `path` of `bytes` bytes (removed again if
/// that fails).
pub(super) fn prepare_spare(
    disk: &dyn Disk,
    path: &Path,
    bytes: u64,
) -> io::Result<Arc<dyn DiskFile>> {
    let file = disk.open(path, Open::CreateNew { direct: false })?;
    if let Err(e) = zero_fill(file.as_ref(), 0, bytes) {
        let _ = disk.remove_file(path);
        return Err(e);
    }
    Ok(file)
}
