//! Snapshot files: `snapshot-<term>-<index>.bin` in one directory.
//!
//! Format (all integers little-endian):
//!
//! ```text
//! magic "CRLSNAP2" | u32 header_len | header (bincode SnapshotHeader) | u32 crc32(header)
//!     | zeros up to the next multiple of 4096 | body
//! ```
//!
//! The header carries the snapshot's Raft metadata (last applied log id,
//! membership) and the body's length and crc32, so a torn or bit-flipped file
//! is detected and skipped. Writing goes tmp file -> fsync -> rename -> fsync
//! directory, so a crash leaves either the old set of files or the new one.
//! Files of the first format (`CRLSNAP1`: the body right after the header's
//! crc) are still read.
//!
//! The body is **streamed** into the file as the application encodes it
//! ([`SnapshotFiles::write_with`]): the space for the header is left at
//! the start, and the header, which needs the body's length and crc32, is
//! written last. So a snapshot of a 1 GB tree never needs another 1 GB of
//! memory (the old way serialized the whole body into a `Vec` first: a
//! second copy of the state, its pages faulted in and zeroed each time).
//!
//! The file is written with `O_DIRECT` where the filesystem allows it
//! ([`BodyWriter`]): a snapshot of a large tree is hundreds of MB that
//! would otherwise be copied into fresh page-cache pages (about a fifth of
//! the server's CPU time under a create load here) and evict what the log
//! and the readers use.
//! The newest [`SNAPSHOTS_KEPT`] files are kept, older ones deleted; the
//! log keeps the entries the oldest one kept needs
//! ([`DurableSnapshots`]), so a server whose newest snapshot is unusable
//! falls back to the one before it and replays the log from there.
//!
//! All file work goes through the log's [`Disk`], so the crash simulator
//! covers snapshots too.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::type_config::SnapshotMeta;
use super::wal::disk::{Disk, DiskFile, Open};
use super::wal::DurableSnapshots;

const MAGIC: &[u8; 8] = b"CRLSNAP2";
/// The first format: no padding between the header and the body.
const MAGIC_V1: &[u8; 8] = b"CRLSNAP1";
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
    disk: Arc<dyn Disk>,
    dir: PathBuf,
    current: Mutex<Option<SnapshotMeta>>,
    tmp_counter: AtomicU64,
    /// Told about every snapshot made durable (and at load).
    durable: Arc<DurableSnapshots>,
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

/// Alignment of `O_DIRECT` buffers, offsets and lengths (the largest
/// logical block size in use).
const DIRECT_ALIGN: usize = 4096;
/// Bytes staged per `O_DIRECT` write.
const DIRECT_CHUNK: usize = 1024 * 1024;

/// Where the bytes of a new file go as they are produced: through an
/// aligned 1 MiB staging window, written with `O_DIRECT` where the
/// filesystem allows it (plain writes elsewhere, e.g. tmpfs), starting at
/// a given aligned offset. Counts their length and crc32.
pub(crate) struct BodyWriter {
    file: Arc<dyn DiskFile>,
    /// A Vec with room to start an aligned window anywhere in it.
    staging: Vec<u8>,
    start: usize,
    filled: usize,
    /// File offset of the window's first byte.
    offset: u64,
    len: u64,
    crc: crc32fast::Hasher,
}

impl BodyWriter {
    /// Creates `path` (which must not exist) for bytes from `offset` on, a
    /// multiple of [`DIRECT_ALIGN`].
    pub(crate) fn create(disk: &dyn Disk, path: &Path, offset: u64) -> io::Result<BodyWriter> {
        debug_assert_eq!(offset % DIRECT_ALIGN as u64, 0);
        let file = disk.open(path, Open::CreateNew { direct: true })?;
        let staging = vec![0u8; DIRECT_CHUNK + DIRECT_ALIGN];
        let start = staging.as_ptr().align_offset(DIRECT_ALIGN);
        Ok(BodyWriter {
            file,
            staging,
            start,
            filled: 0,
            offset,
            len: 0,
            crc: crc32fast::Hasher::new(),
        })
    }

    fn window(&mut self) -> &mut [u8] {
        &mut self.staging[self.start..self.start + DIRECT_CHUNK]
    }

    /// Writes out the last partial window, then `head` (padded with zeros
    /// to the next aligned size, at most [`DIRECT_CHUNK`]) at offset 0, cuts
    /// the file to its length and syncs it. Returns the body's length and
    /// crc32, which `head` may not depend on (see
    /// [`SnapshotFiles::write_with`] for how the header gets them).
    fn finish(mut self, head: impl FnOnce(u64, u32) -> io::Result<Vec<u8>>) -> io::Result<u64> {
        let end = self.offset + self.filled as u64;
        if self.filled > 0 {
            let padded = self.filled.div_ceil(DIRECT_ALIGN) * DIRECT_ALIGN;
            let filled = self.filled;
            self.window()[filled..padded].fill(0);
            let offset = self.offset;
            let window = &self.staging[self.start..self.start + padded];
            self.file.write_all_at(window, offset)?;
        }
        let (len, crc) = (self.len, self.crc.clone().finalize());
        let head = head(len, crc)?;
        if head.len() > DIRECT_CHUNK {
            return Err(invalid("snapshot header too large"));
        }
        let padded = head.len().div_ceil(DIRECT_ALIGN) * DIRECT_ALIGN;
        let window = self.window();
        window[..head.len()].copy_from_slice(&head);
        window[head.len()..padded].fill(0);
        let window = &self.staging[self.start..self.start + padded];
        self.file.write_all_at(window, 0)?;
        self.file.set_len(end)?;
        self.file.sync_all()?;
        Ok(len)
    }
}

impl Write for BodyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.crc.update(buf);
        self.len += buf.len() as u64;
        let mut rest = buf;
        while !rest.is_empty() {
            let n = rest.len().min(DIRECT_CHUNK - self.filled);
            let filled = self.filled;
            self.window()[filled..filled + n].copy_from_slice(&rest[..n]);
            self.filled += n;
            rest = &rest[n..];
            if self.filled == DIRECT_CHUNK {
                let offset = self.offset;
                let window = &self.staging[self.start..self.start + DIRECT_CHUNK];
                self.file.write_all_at(window, offset)?;
                self.offset += DIRECT_CHUNK as u64;
                self.filled = 0;
            }
        }
        Ok(buf.len())
    }

    /// Nothing to do: the window goes out when full, and the rest at
    /// [`BodyWriter::finish`].
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The bytes before the body: magic, header length, header, header crc.
fn encode_prefix(meta: &SnapshotMeta, body_len: u64, body_crc32: u32) -> io::Result<Vec<u8>> {
    let header = bincode::serialize(&SnapshotHeader {
        meta: meta.clone(),
        body_len,
        body_crc32,
    })
    .map_err(|e| io::Error::other(e.to_string()))?;
    let header_len =
        u32::try_from(header.len()).map_err(|_| invalid("snapshot header too large"))?;
    let mut prefix = Vec::with_capacity(16 + header.len());
    prefix.extend_from_slice(MAGIC);
    prefix.extend_from_slice(&header_len.to_le_bytes());
    prefix.extend_from_slice(&header);
    prefix.extend_from_slice(&crc32fast::hash(&header).to_le_bytes());
    Ok(prefix)
}

/// Where the body starts after a prefix of `prefix_len` bytes.
fn body_offset(prefix_len: usize) -> u64 {
    (prefix_len.div_ceil(DIRECT_ALIGN) * DIRECT_ALIGN) as u64
}

impl SnapshotFiles {
    /// Opens (creating) the directory and removes leftover temporary files.
    pub(crate) fn open(
        disk: Arc<dyn Disk>,
        dir: PathBuf,
        durable: Arc<DurableSnapshots>,
    ) -> io::Result<Self> {
        disk.create_dir_all(&dir)?;
        for name in disk.list_dir(&dir)? {
            if name.ends_with(".tmp") {
                disk.remove_file(&dir.join(name))?;
            }
        }
        Ok(Self {
            disk,
            dir,
            current: Mutex::new(None),
            tmp_counter: AtomicU64::new(0),
            durable,
        })
    }

    /// Snapshot files, newest first: `(index, term, path)`.
    fn list(&self) -> io::Result<Vec<(u64, u64, PathBuf)>> {
        let mut out = Vec::new();
        for name in self.disk.list_dir(&self.dir)? {
            if let Some((index, term)) = parse_name(&name) {
                out.push((index, term, self.dir.join(name)));
            }
        }
        out.sort_by_key(|b| std::cmp::Reverse((b.0, b.1)));
        Ok(out)
    }

    /// Tells the log which snapshots are durable: the current one (the
    /// newest written or loaded) and the oldest file kept.
    fn report_durable(&self) -> io::Result<()> {
        let newest = self.current().map(|m| position(&m).1);
        let oldest = self.list()?.last().map(|(index, _, _)| *index);
        self.durable.set(newest, oldest.min(newest).or(newest));
        Ok(())
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
            match read_file(self.disk.as_ref(), &path) {
                Ok((meta, body)) => {
                    *self.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(meta.clone());
                    self.report_durable()?;
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
            Some(meta) => read_file(self.disk.as_ref(), &self.dir.join(file_name(&meta))).map(Some),
            None => Ok(None),
        }
    }

    /// Writes a snapshot durably, makes it current if it is the newest, and
    /// prunes old files.
    pub(crate) fn write(&self, meta: &SnapshotMeta, body: &[u8]) -> io::Result<()> {
        self.write_with(meta, |out| out.write_all(body)).map(|_| ())
    }

    /// [`write`](Self::write) with the body streamed: `body` writes it to
    /// the file as it is produced. Returns the body's length.
    pub(crate) fn write_with(
        &self,
        meta: &SnapshotMeta,
        body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<u64> {
        let name = file_name(meta);
        let tmp = self.dir.join(format!(
            "{name}.{}.tmp",
            self.tmp_counter.fetch_add(1, Ordering::Relaxed)
        ));
        // bincode writes integers at fixed width, so the prefix has the
        // same length once the body's length and crc32 are known.
        let reserved = encode_prefix(meta, 0, 0)?.len();
        let written = BodyWriter::create(self.disk.as_ref(), &tmp, body_offset(reserved)).and_then(
            |mut out| {
                body(&mut out)?;
                out.finish(|len, crc| {
                    let prefix = encode_prefix(meta, len, crc)?;
                    if prefix.len() != reserved {
                        return Err(io::Error::other("snapshot header changed size"));
                    }
                    Ok(prefix)
                })
            },
        );
        let body_len = match written {
            Ok(n) => n,
            Err(e) => {
                let _ = self.disk.remove_file(&tmp);
                return Err(e);
            }
        };
        self.disk.rename(&tmp, &self.dir.join(&name))?;
        self.disk.sync_dir(&self.dir)?;
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
        self.prune()?;
        self.report_durable()?;
        Ok(body_len)
    }

    /// Deletes all but the newest [`SNAPSHOTS_KEPT`] files, never the current one.
    fn prune(&self) -> io::Result<()> {
        let keep = self.current().map(|m| file_name(&m));
        for (_, _, path) in self.list()?.into_iter().skip(SNAPSHOTS_KEPT) {
            if keep.as_deref() == path.file_name().and_then(|n| n.to_str()) {
                continue;
            }
            self.disk.remove_file(&path)?;
        }
        Ok(())
    }
}

/// Reads and verifies one snapshot file.
pub(crate) fn read_file(disk: &dyn Disk, path: &Path) -> io::Result<(SnapshotMeta, Vec<u8>)> {
    let file = disk.open(path, Open::Existing)?;
    let mut bytes = vec![0u8; file.len()? as usize];
    file.read_exact_at(&mut bytes, 0)?;
    let padded = if bytes.starts_with(MAGIC) {
        true
    } else if bytes.starts_with(MAGIC_V1) {
        false
    } else {
        return Err(invalid("bad magic"));
    };
    let rest = &bytes[MAGIC.len()..];
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
    let (crc, _) = rest
        .split_at_checked(4)
        .ok_or_else(|| invalid("truncated header"))?;
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| invalid("truncated header"))?);
    if crc32fast::hash(header) != crc {
        return Err(invalid("header crc mismatch"));
    }
    let header: SnapshotHeader =
        bincode::deserialize(header).map_err(|e| invalid(e.to_string()))?;
    let prefix_len = MAGIC.len() + 4 + header_len as usize + 4;
    let start = if padded {
        body_offset(prefix_len) as usize
    } else {
        prefix_len
    };
    let body = bytes
        .get(start..)
        .ok_or_else(|| invalid("truncated before the body"))?;
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
    bytes.drain(..start);
    Ok((header.meta, bytes))
}

#[cfg(test)]
mod tests {
    use super::super::wal::disk::OsDisk;
    use super::*;
    use std::fs;

    #[test]
    fn streamed_writes_keep_every_byte_of_unaligned_parts() {
        let dir = tempfile::tempdir().unwrap();
        // Sizes around the staging chunk and the alignment, so windows fill
        // mid-write and the last block is padded and cut off again.
        let parts: Vec<Vec<u8>> = [17usize, DIRECT_CHUNK * 2 + 513, DIRECT_ALIGN - 1, 0, 5]
            .iter()
            .enumerate()
            .map(|(i, n)| (0..*n).map(|b| (b * 31 + i) as u8).collect())
            .collect();
        let body = parts.concat();
        let path = dir.path().join("f");
        let disk = OsDisk::shared();
        let mut out = BodyWriter::create(disk.as_ref(), &path, DIRECT_ALIGN as u64).unwrap();
        for part in &parts {
            out.write_all(part).unwrap();
        }
        let len = out
            .finish(|len, crc| {
                assert_eq!(len, body.len() as u64);
                assert_eq!(crc, crc32fast::hash(&body));
                Ok(b"head".to_vec())
            })
            .unwrap();
        assert_eq!(len, body.len() as u64);
        let bytes = fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], b"head");
        assert!(bytes[4..DIRECT_ALIGN].iter().all(|b| *b == 0));
        assert_eq!(&bytes[DIRECT_ALIGN..], &body[..]);
        // It never overwrites: snapshot files are created once.
        let err = BodyWriter::create(disk.as_ref(), &path, 0).err().unwrap();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    }

    #[test]
    fn files_of_the_first_format_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let meta = SnapshotMeta::default();
        let body = b"the body".to_vec();
        let mut prefix = encode_prefix(&meta, body.len() as u64, crc32fast::hash(&body)).unwrap();
        prefix[..8].copy_from_slice(MAGIC_V1);
        let path = dir.path().join("snapshot-0-0.bin");
        fs::write(&path, [prefix, body.clone()].concat()).unwrap();
        let (read_meta, read_body) = read_file(OsDisk::shared().as_ref(), &path).unwrap();
        assert_eq!((read_meta, read_body), (meta, body));
    }

    #[test]
    fn a_failed_stream_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(
            OsDisk::shared(),
            dir.path().to_path_buf(),
            Arc::new(DurableSnapshots::default()),
        )
        .unwrap();
        let err = files
            .write_with(&SnapshotMeta::default(), |out| {
                out.write_all(&[1u8; 5000])?;
                Err(io::Error::other("encoder failed"))
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "encoder failed");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(files.current().is_none());
    }

    /// Defect: `open(O_CREAT|O_EXCL|O_DIRECT)` on a file system that refuses
    /// O_DIRECT created the file and failed with EINVAL, so the buffered
    /// retry met EEXIST and every snapshot failed there. tmpfs refuses
    /// O_DIRECT; `/dev/shm` is a tmpfs on Linux.
    #[test]
    fn snapshots_are_written_where_o_direct_is_refused() {
        let shm = Path::new("/dev/shm");
        assert!(
            shm.is_dir(),
            "this test needs /dev/shm (a tmpfs, which refuses O_DIRECT)"
        );
        let dir = tempfile::tempdir_in(shm).unwrap();
        let durable = Arc::new(DurableSnapshots::default());
        let files =
            SnapshotFiles::open(OsDisk::shared(), dir.path().to_path_buf(), durable.clone())
                .unwrap();
        let meta = SnapshotMeta::default();
        files.write(&meta, &[7u8; 10_000]).unwrap();
        let (read_meta, body) = files.read_current().unwrap().unwrap();
        assert_eq!((read_meta, body), (meta, vec![7u8; 10_000]));
        assert!(durable.wait_covering(0, std::time::Duration::ZERO));
    }
}
