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
//!
//! The file is written with `O_DIRECT` where the filesystem allows it
//! ([`write_direct`]): a snapshot of a large tree is hundreds of MB that
//! would otherwise be copied into fresh page-cache pages (about a fifth of
//! the server's CPU time under a create load here) and evict what the log
//! and the readers use.
//! The newest [`SNAPSHOTS_KEPT`] files are kept, older ones deleted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
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

/// Alignment of `O_DIRECT` buffers, offsets and lengths (the largest
/// logical block size in use).
const DIRECT_ALIGN: usize = 4096;
/// Bytes staged per `O_DIRECT` write.
const DIRECT_CHUNK: usize = 1024 * 1024;

/// Creates `path` with the concatenation of `parts`, synced. Uses
/// `O_DIRECT` through an aligned staging buffer (the last block is padded,
/// then the file cut to its length); falls back to buffered writes where
/// the filesystem refuses `O_DIRECT` (tmpfs).
pub(crate) fn write_direct(path: &Path, parts: &[&[u8]]) -> io::Result<()> {
    let direct = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_DIRECT)
        .open(path);
    let file = match direct {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            let mut f = io::BufWriter::new(File::create_new(path)?);
            for part in parts {
                f.write_all(part)?;
            }
            return f.into_inner().map_err(|e| e.into_error())?.sync_all();
        }
        Err(e) => return Err(e),
    };
    // A Vec with room to start an aligned window anywhere in it.
    let mut staging = vec![0u8; DIRECT_CHUNK + DIRECT_ALIGN];
    let start = staging.as_ptr().align_offset(DIRECT_ALIGN);
    let window = &mut staging[start..start + DIRECT_CHUNK];
    let mut filled = 0;
    let mut offset = 0u64;
    let mut total = 0u64;
    for part in parts {
        let mut rest = *part;
        total += rest.len() as u64;
        while !rest.is_empty() {
            let n = rest.len().min(DIRECT_CHUNK - filled);
            window[filled..filled + n].copy_from_slice(&rest[..n]);
            filled += n;
            rest = &rest[n..];
            if filled == DIRECT_CHUNK {
                file.write_all_at(window, offset)?;
                offset += DIRECT_CHUNK as u64;
                filled = 0;
            }
        }
    }
    if filled > 0 {
        let padded = filled.div_ceil(DIRECT_ALIGN) * DIRECT_ALIGN;
        window[filled..padded].fill(0);
        file.write_all_at(&window[..padded], offset)?;
    }
    file.set_len(total)?;
    file.sync_all()
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
        let mut prefix = Vec::with_capacity(16 + header.len());
        prefix.extend_from_slice(MAGIC);
        prefix.extend_from_slice(&header_len.to_le_bytes());
        prefix.extend_from_slice(&header);
        prefix.extend_from_slice(&crc32fast::hash(&header).to_le_bytes());
        write_direct(&tmp, &[&prefix, body])?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_writes_keep_every_byte_of_unaligned_parts() {
        let dir = tempfile::tempdir().unwrap();
        // Sizes around the staging chunk and the alignment, so the last
        // block is padded and cut off again.
        let parts: Vec<Vec<u8>> = [17usize, DIRECT_CHUNK * 2 + 513, DIRECT_ALIGN - 1, 0, 5]
            .iter()
            .enumerate()
            .map(|(i, n)| (0..*n).map(|b| (b * 31 + i) as u8).collect())
            .collect();
        let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
        let path = dir.path().join("f");
        write_direct(&path, &refs).unwrap();
        assert_eq!(fs::read(&path).unwrap(), parts.concat());
        // It never overwrites: snapshot files are created once.
        let err = write_direct(&path, &refs).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    }
}
