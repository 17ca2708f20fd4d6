//! The vote and the purge mark (`meta`), and the commit hint (`committed`).
//!
//! `meta` is two pages (created zeroed as `meta.tmp` and renamed), written
//! in turn in place: each write goes to the
//! page that does not hold the newest copy, with a sequence number one
//! higher, and is `fdatasync`ed. A power loss during a write can garble only
//! the page being written; the other still holds the previous copy. Being
//! written in place, the file never needs new space (a full disk cannot stop
//! a vote) and no rename or directory sync.
//!
//! ```text
//! page = magic "CRLMETA2" | u64 sequence | u32 length | u32 crc32(sequence, length, body) | body
//! body = bincode(Meta)
//! ```
//!
//! `committed` holds the last known commit index, a hint openraft uses to
//! re-apply the committed log at once after a restart: one page written in
//! place, never synced, errors ignored (a missing or damaged hint only means
//! the commit index is learned again from the leader).

use std::io;
use std::path::Path;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::disk::{Disk, DiskFile, Open};
use super::format::{corrupt, other, PAGE};
use crate::raft::type_config::{LogId, Vote};

const META_MAGIC: &[u8; 8] = b"CRLMETA2";
const OLD_META_MAGIC: &[u8; 8] = b"CRLMETA1";
const META_HEADER_BYTES: usize = 24;

/// What `meta` holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub(crate) vote: Option<Vote>,
    pub(crate) purged: Option<LogId>,
}

/// The open `meta` file.
#[derive(Debug)]
pub(crate) struct MetaFile {
    file: Arc<dyn DiskFile>,
    /// Sequence number of the newest copy.
    sequence: u64,
    /// The page holding the newest copy.
    slot: u64,
}

fn encode_page(sequence: u64, meta: &Meta) -> io::Result<Vec<u8>> {
    let body = bincode::serialize(meta).map_err(other)?;
    let mut page = vec![0u8; PAGE as usize];
    page[..8].copy_from_slice(META_MAGIC);
    page[8..16].copy_from_slice(&sequence.to_le_bytes());
    page[16..20].copy_from_slice(&(body.len() as u32).to_le_bytes());
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&page[8..20]);
    hasher.update(&body);
    page[20..24].copy_from_slice(&hasher.finalize().to_le_bytes());
    page[META_HEADER_BYTES..META_HEADER_BYTES + body.len()].copy_from_slice(&body);
    Ok(page)
}

/// A page's `(sequence, meta)`, or why it is not a valid copy.
fn decode_page(page: &[u8]) -> Result<(u64, Meta), &'static str> {
    if page.iter().all(|b| *b == 0) {
        return Err("never written");
    }
    if page.starts_with(OLD_META_MAGIC) {
        return Err("older format");
    }
    if page.len() < META_HEADER_BYTES || &page[..8] != META_MAGIC {
        return Err("damaged");
    }
    let sequence = u64::from_le_bytes(page[8..16].try_into().expect("8 bytes"));
    let len = u32::from_le_bytes(page[16..20].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(page[20..24].try_into().expect("4 bytes"));
    let Some(body) = page.get(META_HEADER_BYTES..META_HEADER_BYTES + len) else {
        return Err("damaged");
    };
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&page[8..20]);
    hasher.update(body);
    if hasher.finalize() != crc {
        return Err("damaged");
    }
    bincode::deserialize(body)
        .map(|m| (sequence, m))
        .map_err(|_| "damaged")
}

impl MetaFile {
    /// Opens `dir/meta`, creating it (two zeroed pages, made durable with
    /// its directory entry) in a new log.
    pub(crate) fn open(disk: &dyn Disk, dir: &Path, exists: bool) -> io::Result<(MetaFile, Meta)> {
        let path = dir.join("meta");
        if !exists {
            // Made as `meta.tmp` and renamed once its zeros are durable: a
            // `meta` whose first write a power loss garbled would read as
            // two damaged copies (the crash simulator found it).
            let tmp = dir.join("meta.tmp");
            match disk.remove_file(&tmp) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            let file = disk.open(&tmp, Open::CreateNew { direct: false })?;
            file.write_all_at(&vec![0u8; 2 * PAGE as usize], 0)?;
            file.sync_all()?;
            disk.rename(&tmp, &path)?;
            disk.sync_dir(dir)?;
            return Ok((
                MetaFile {
                    file,
                    sequence: 0,
                    slot: 1,
                },
                Meta::default(),
            ));
        }
        let file = disk.open(&path, Open::Existing)?;
        let len = file.len()?;
        let mut bytes = vec![0u8; (2 * PAGE).min(len) as usize];
        file.read_exact_at(&mut bytes, 0)?;
        if bytes.starts_with(b"CRLMETA1") {
            return Err(corrupt(format!(
                "{}: written by an older Corral (format CRLMETA1) that this version cannot read: \
                 start this server from an empty data directory",
                path.display()
            )));
        }
        let pages: Vec<Result<(u64, Meta), &str>> = (0..2)
            .map(|i| {
                let start = (i * PAGE) as usize;
                match bytes.get(start..(start + PAGE as usize).min(bytes.len())) {
                    Some(page) if !page.is_empty() => decode_page(page),
                    _ => Err("never written"),
                }
            })
            .collect();
        let newest = pages
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().ok().map(|(seq, m)| (*seq, i as u64, *m)))
            .max_by_key(|(seq, _, _)| *seq);
        match newest {
            Some((sequence, slot, meta)) => Ok((
                MetaFile {
                    file,
                    sequence,
                    slot,
                },
                meta,
            )),
            // Neither page holds a copy: fine only if at least one was never
            // written (the first write was under way at a power loss); two
            // damaged pages are damage, not a crash.
            None if pages.iter().any(|p| matches!(p, Err("never written"))) => Ok((
                MetaFile {
                    file,
                    sequence: 0,
                    slot: 1,
                },
                Meta::default(),
            )),
            None => Err(corrupt(format!(
                "{}: both copies of the vote and purge mark are damaged; refusing to start",
                path.display()
            ))),
        }
    }

    /// Makes `meta` durable (the previous copy stays intact until then).
    pub(crate) fn save(&mut self, meta: &Meta) -> io::Result<()> {
        let sequence = self.sequence + 1;
        let slot = 1 - self.slot;
        self.file
            .write_all_at(&encode_page(sequence, meta)?, slot * PAGE)?;
        self.file.sync_data()?;
        self.sequence = sequence;
        self.slot = slot;
        Ok(())
    }
}

/// The commit hint file.
#[derive(Debug)]
pub(crate) struct CommittedHint {
    file: Option<Arc<dyn DiskFile>>,
}

impl CommittedHint {
    /// Opens (creating) `dir/committed`; a failure leaves no hint, never an
    /// error (the hint is optional).
    pub(crate) fn open(disk: &dyn Disk, dir: &Path) -> CommittedHint {
        match disk.open(&dir.join("committed"), Open::CreateOrExisting) {
            Ok(file) => CommittedHint { file: Some(file) },
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the commit hint; going on without it");
                CommittedHint { file: None }
            }
        }
    }

    /// Records the hint (not synced; see the module docs). Errors are
    /// logged, never returned: a failed hint must not stop the node.
    pub(crate) fn write(&self, committed: Option<LogId>) {
        let Some(file) = &self.file else { return };
        let result = bincode::serialize(&committed)
            .map_err(other)
            .and_then(|bytes| {
                let mut body = Vec::with_capacity(bytes.len() + 8);
                body.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                body.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
                body.extend_from_slice(&bytes);
                file.write_all_at(&body, 0)
            });
        if let Err(e) = result {
            tracing::warn!(error = %e, "writing the commit hint failed (a hint only; going on)");
        }
    }

    /// The hint, if present and intact.
    pub(crate) fn read(&self) -> Option<LogId> {
        let file = self.file.as_ref()?;
        let mut buf = [0u8; 64];
        let n = file.read_at(&mut buf, 0).ok()?;
        if n < 8 {
            return None;
        }
        let len = u32::from_le_bytes(buf[0..4].try_into().ok()?) as usize;
        let crc = u32::from_le_bytes(buf[4..8].try_into().ok()?);
        let body = buf.get(8..8 + len)?;
        if 8 + len > n || crc32fast::hash(body) != crc {
            return None;
        }
        bincode::deserialize::<Option<LogId>>(body).ok().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `meta` page, byte for byte (see the segment format's pinned
    /// bytes in `wal/tests.rs`).
    #[test]
    fn meta_page_bytes_are_pinned() {
        let page = encode_page(
            3,
            &Meta {
                vote: Some(Vote::new(2, 1)),
                purged: None,
            },
        )
        .unwrap();
        let len = META_HEADER_BYTES + u32::from_le_bytes(page[16..20].try_into().unwrap()) as usize;
        let hex: String = page[..len].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, GOLDEN_META);
        assert!(page[len..].iter().all(|b| *b == 0));
        assert_eq!(
            decode_page(&page),
            Ok((
                3,
                Meta {
                    vote: Some(Vote::new(2, 1)),
                    purged: None
                }
            ))
        );
    }

    const GOLDEN_META: &str =
        "43524c4d4554413203000000000000001300000057aa423001020000000000000001000000000000000000";
}
