//! Snapshot files: `snapshot-<term>-<index>.bin` in one directory.
//!
//! Format (all integers little-endian):
//!
//! ```text
//! magic "CRLSNAP1" | u32 header_len | header (bincode SnapshotHeader) | u32 crc32(header) | body
//! ```
//!
//! The header carries the snapshot's Raft metadata (last applied log id,
//! membership) and the body's length and crc32, so a torn or bit-flipped file
//! is detected and skipped. Writing goes tmp file -> fsync -> rename -> fsync
//! directory, so a crash leaves either the old set of files or the new one.
//! The newest [`SNAPSHOTS_KEPT`] files are kept, older ones deleted.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::type_config::SnapshotMeta;

const MAGIC: &[u8; 8] = b"CRLSNAP1";
/// How many snapshot files survive pruning.
pub(crate) const SNAPSHOTS_KEPT: usize = 2;
const HEADER_BYTES_MAX: u32 = 64 * 1024 * 1024;

#[derive(Serialize, Deserialize)]
struct SnapshotHeader {
    meta: SnapshotMeta,
    body_len: u64,
    body_crc32: u32,
}

/// The snapshot directory and the metadata of the newest snapshot in it.
pub(crate) struct SnapshotFiles {
    dir: PathBuf,
    current: Mutex<Option<SnapshotMeta>>,
    tmp_counter: AtomicU64,
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// `(term, index)` of a snapshot; `(0, 0)` for one covering no entry.
fn position(meta: &SnapshotMeta) -> (u64, u64) {
    meta.last_log_id
        .map(|l| (l.leader_id.term, l.index))
        .unwrap_or((0, 0))
}

/// The file name for a snapshot.
pub(crate) fn file_name(meta: &SnapshotMeta) -> String {
    let (term, index) = position(meta);
    format!("snapshot-{term}-{index}.bin")
}

/// Parses `snapshot-<term>-<index>.bin` into `(index, term)` (sort key).
fn parse_name(name: &str) -> Option<(u64, u64)> {
    let rest = name.strip_prefix("snapshot-")?.strip_suffix(".bin")?;
    let (term, index) = rest.split_once('-')?;
    Some((index.parse().ok()?, term.parse().ok()?))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl SnapshotFiles {
    /// Opens (creating) the directory and removes leftover temporary files.
    pub(crate) fn open(dir: PathBuf) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                fs::remove_file(entry.path())?;
            }
        }
        Ok(Self {
            dir,
            current: Mutex::new(None),
            tmp_counter: AtomicU64::new(0),
        })
    }

    /// Snapshot files, newest first: `(index, term, path)`.
    fn list(&self) -> io::Result<Vec<(u64, u64, PathBuf)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            if let Some((index, term)) = parse_name(&entry.file_name().to_string_lossy()) {
                out.push((index, term, entry.path()));
            }
        }
        out.sort_by_key(|b| std::cmp::Reverse((b.0, b.1)));
        Ok(out)
    }

    /// The metadata of the newest snapshot written or loaded.
    pub(crate) fn current(&self) -> Option<SnapshotMeta> {
        self.current
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Loads the newest valid snapshot, skipping (with a warning) files whose
    /// header or body does not check out, and makes it the current one.
    pub(crate) fn load_newest(&self) -> io::Result<Option<(SnapshotMeta, Vec<u8>)>> {
        for (_, _, path) in self.list()? {
            match read_file(&path) {
                Ok((meta, body)) => {
                    *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(meta.clone());
                    return Ok(Some((meta, body)));
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping unusable snapshot file")
                }
            }
        }
        Ok(None)
    }

    /// Reads the current snapshot back.
    pub(crate) fn read_current(&self) -> io::Result<Option<(SnapshotMeta, Vec<u8>)>> {
        match self.current() {
            Some(meta) => read_file(&self.dir.join(file_name(&meta))).map(Some),
            None => Ok(None),
        }
    }

    /// Writes a snapshot durably, makes it current if it is the newest, and
    /// prunes old files.
    pub(crate) fn write(&self, meta: &SnapshotMeta, body: &[u8]) -> io::Result<()> {
        let header = bincode::serialize(&SnapshotHeader {
            meta: meta.clone(),
            body_len: body.len() as u64,
            body_crc32: crc32fast::hash(body),
        })
        .map_err(|e| io::Error::other(e.to_string()))?;
        let header_len =
            u32::try_from(header.len()).map_err(|_| invalid("snapshot header too large"))?;
        let name = file_name(meta);
        let tmp = self.dir.join(format!(
            "{name}.{}.tmp",
            self.tmp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        {
            let mut f = io::BufWriter::new(File::create(&tmp)?);
            f.write_all(MAGIC)?;
            f.write_all(&header_len.to_le_bytes())?;
            f.write_all(&header)?;
            f.write_all(&crc32fast::hash(&header).to_le_bytes())?;
            f.write_all(body)?;
            let f = f.into_inner().map_err(|e| e.into_error())?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.dir.join(&name))?;
        sync_dir(&self.dir)?;
        {
            let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
            let newer = match current.as_ref() {
                Some(c) => {
                    let (t, i) = position(meta);
                    let (ct, ci) = position(c);
                    (i, t) >= (ci, ct)
                }
                None => true,
            };
            if newer {
                *current = Some(meta.clone());
            }
        }
        self.prune()
    }

    /// Deletes all but the newest [`SNAPSHOTS_KEPT`] files, never the current one.
    fn prune(&self) -> io::Result<()> {
        let keep = self.current().map(|m| file_name(&m));
        for (_, _, path) in self.list()?.into_iter().skip(SNAPSHOTS_KEPT) {
            if keep.as_deref() == path.file_name().and_then(|n| n.to_str()) {
                continue;
            }
            fs::remove_file(&path)?;
        }
        Ok(())
    }
}

/// Reads and verifies one snapshot file.
pub(crate) fn read_file(path: &Path) -> io::Result<(SnapshotMeta, Vec<u8>)> {
    let mut bytes = Vec::new();
    File::open(path)?.read_to_end(&mut bytes)?;
    let rest = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| invalid("bad magic"))?;
    let (len, rest) = rest
        .split_at_checked(4)
        .ok_or_else(|| invalid("truncated header"))?;
    let header_len = u32::from_le_bytes(len.try_into().map_err(|_| invalid("truncated header"))?);
    if header_len > HEADER_BYTES_MAX {
        return Err(invalid("header length out of range"));
    }
    let (header, rest) = rest
        .split_at_checked(header_len as usize)
        .ok_or_else(|| invalid("truncated header"))?;
    let (crc, body) = rest
        .split_at_checked(4)
        .ok_or_else(|| invalid("truncated header"))?;
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| invalid("truncated header"))?);
    if crc32fast::hash(header) != crc {
        return Err(invalid("header crc mismatch"));
    }
    let header: SnapshotHeader =
        bincode::deserialize(header).map_err(|e| invalid(e.to_string()))?;
    if header.body_len != body.len() as u64 {
        return Err(invalid(format!(
            "body length {} != header's {}",
            body.len(),
            header.body_len
        )));
    }
    if crc32fast::hash(body) != header.body_crc32 {
        return Err(invalid("body crc mismatch"));
    }
    Ok((header.meta, body.to_vec()))
}
