//! The Raft log: append-only segment files, plus the vote and purge marker.
//!
//! Layout of the log directory (`<data_dir>/raft/log`):
//!
//! ```text
//! LOCK                           held (flock) while a process has the log open
//! meta                           vote + last purged log id (see below)
//! wal-<first index, 20 digits>   segment files, in index order
//! ```
//!
//! A segment starts with a 24-byte header: magic `CRLWAL02`, the index of its
//! first entry and a random salt (u64s, little-endian), followed by frames:
//!
//! ```text
//! u32 len | u32 crc32(salt ++ body) | body = bincode(LogId) ++ bincode(EntryPayload)
//! ```
//!
//! The salt is new each time a file becomes a segment, so frames left in a
//! **recycled** file from its previous use never check out: purged segments
//! are renamed into spares (up to [`SPARES_KEPT`]) instead of being deleted
//! (deleting a 64 MiB file took 15-30 ms on this `discard`-mounted disk and
//! stalled the appends; a recycled file also needs no zero-filling). Under
//! steady load the same few files go round: nothing is zero-filled or
//! deleted.
//!
//! Entries in a segment have consecutive indexes from the one in its name.
//! An append writes every entry of the call as one `pwrite` at the end of the
//! active segment and then `fdatasync`s it before openraft is told the entries
//! are durable: one sync per append, and nothing else is written on this
//! path (the earlier redb log wrote about ten pages per commit and took 4-7
//! times as long per append; see docs/benchmarks.md).
//!
//! Segments are **preallocated with zeros**: the appends overwrite blocks
//! that are already written and synced, so their `fdatasync` has no file
//! size or extent change to commit to the filesystem journal. On ext4 here
//! that halves the sync (90 KB `pwrite` + `fdatasync`: p50 177 us vs 309 us
//! idle, 104-127 us vs 216-278 us with both cores busy; see
//! docs/benchmarks.md). A segment is closed once its preallocated space is
//! used. The next one is normally a recycled segment, or a spare of
//! [`SEGMENT_BYTES`] that a background thread zero-filled while the active
//! segment filled up (when none was ready past its half); if none is
//! ready, the appender creates one of [`PREALLOC_STEP_BYTES`]
//! itself. A segment file only gets its `wal-` name once its header is
//! durable (written into the spare, synced, then renamed; directory
//! synced), so a `wal-` file never has a missing header. Zeros end the
//! frames of a segment (a frame's length is never 0).
//!
//! Recovery ([`LogStore::open`]) reads each segment's frames up to the first
//! zero or bad frame. A bad frame at the end of the last segment (a crash
//! mid-append, never acknowledged) is cut off with whatever follows it, and
//! the last segment gets fresh zeroed space after its last entry, so nothing
//! written before the restart can be taken for a frame later. Segments
//! before the last must end exactly where the next one begins; a gap means
//! acknowledged entries are damaged, an error.
//!
//! `meta` holds the vote and the last purged log id; it is replaced as a
//! whole (tmp file, fsync, rename, fsync directory) and carries a crc32.
//! The commit index is not stored (openraft's default): a restarted node
//! learns it again from the leader, or a single node from its own election
//! (STACK.md pitfall 3).
//!
//! Purging deletes whole segments whose every entry is purged; entries at or
//! below the purge mark that share a segment with later ones stay on disk
//! and are skipped at open. Truncating cuts the segment holding the first
//! removed entry and deletes every later segment.
//!
//! Recent entries stay decoded in memory ([`CACHE_BYTES`]), so openraft's
//! reads right after an append (to apply, or to replicate) cost a clone of a
//! shared batch rather than a disk read and a decode. File work runs on
//! tokio's blocking pool.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::{Debug, Display};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::ops::{Bound, RangeBounds};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{EntryPayload, ErrorSubject, ErrorVerb, LogState, OptionalSend, RaftLogReader};
use serde::{Deserialize, Serialize};

use super::type_config::{Entry, LogId, StorageError, TypeConfig, Vote};

/// Size of the preallocated segments a background thread prepares.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Zeroed space given to a segment that the appender or recovery has to
/// preallocate itself (a brand-new log, no spare ready, after a restart):
/// small enough not to hold up the append or the start for long.
pub(crate) const PREALLOC_STEP_BYTES: u64 = 4 * 1024 * 1024;
/// Spare segment files kept ready. Two, so that in steady state (a purge
/// frees about one segment per segment filled) every purged segment is
/// recycled and nothing is zero-filled or deleted: with room for only one,
/// the spare zero-filled while a segment filled up was usually still unused
/// when the next purge came, so the purged 64 MiB file was deleted (15-20
/// ms of discards here) and another 64 MiB zero-filled, for every segment.
pub(crate) const SPARES_KEPT: usize = 2;
/// Largest append buffer kept for the next append.
const ENCODE_BUF_KEPT: usize = 8 * 1024 * 1024;
/// Encoded bytes of recent entries kept decoded in memory.
pub(crate) const CACHE_BYTES: usize = 4 * 1024 * 1024;
/// The largest frame body accepted when reading (a batch is capped at 4 MiB
/// of payload by the proposer; this leaves room for encoding overhead).
const FRAME_BYTES_MAX: u32 = 64 * 1024 * 1024;

const SEGMENT_MAGIC: &[u8; 8] = b"CRLWAL02";
const SEGMENT_HEADER_BYTES: u64 = 24;
const FRAME_HEADER_BYTES: u64 = 8;
const META_MAGIC: &[u8; 8] = b"CRLMETA1";

/// The log store; clones share the same state (the reader openraft asks
/// for is a clone).
#[derive(Clone)]
pub(crate) struct LogStore {
    shared: Arc<Shared>,
}

struct Shared {
    dir: PathBuf,
    limits: Limits,
    state: Mutex<State>,
    /// The buffer appends encode their frames into, kept from one append
    /// to the next (up to [`ENCODE_BUF_KEPT`] bytes): a new ~100 KB buffer
    /// per append came from fresh pages that the kernel zeroed, 5% of the
    /// server's CPU samples under create load.
    encode_buf: Mutex<Vec<u8>>,
    /// Held for the life of the store: a second process on the same data
    /// directory would corrupt the log.
    _lock: File,
}

/// Sizes (tests use small ones to exercise segment rolls and cache misses).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// See [`SEGMENT_BYTES`].
    pub(crate) segment_bytes: u64,
    /// See [`PREALLOC_STEP_BYTES`].
    pub(crate) step_bytes: u64,
    /// See [`CACHE_BYTES`].
    pub(crate) cache_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            segment_bytes: SEGMENT_BYTES,
            step_bytes: PREALLOC_STEP_BYTES,
            cache_bytes: CACHE_BYTES,
        }
    }
}

/// Where an entry lives.
#[derive(Debug, Clone, Copy)]
struct Location {
    log_id: LogId,
    /// First index of the segment holding it.
    segment: u64,
    /// Offset of its frame header in the segment.
    offset: u64,
    /// Body length.
    len: u32,
}

struct Segment {
    file: Arc<File>,
    /// Mixed into every frame's crc (see the module docs).
    salt: u64,
    /// Bytes in use (the next frame is written here).
    len: u64,
    /// Appends go to a new segment once `len` reaches this: the end of the
    /// zeroed space (or where a truncation cut the segment).
    capacity: u64,
    /// The index the next entry appended to this segment must have.
    next_index: u64,
}

struct State {
    /// Segments by first index.
    segments: BTreeMap<u64, Segment>,
    /// Every entry present (above the purge mark), by index.
    entries: BTreeMap<u64, Location>,
    /// Recent entries, decoded, oldest first, with their encoded size.
    cache: VecDeque<(Entry, usize)>,
    cache_bytes: usize,
    vote: Option<Vote>,
    purged: Option<LogId>,
    /// `committed`: the last known commit index, a hint (see
    /// `save_committed`).
    committed_file: File,
    /// Files ready to become the next segments (at most [`SPARES_KEPT`]).
    spares: Vec<Spare>,
    /// Whether a background thread is zero-filling one.
    preparing_spare: bool,
}

/// A file the next segment can be made from: zero-filled, or a purged
/// segment being recycled.
struct Spare {
    file: Arc<File>,
    path: PathBuf,
    bytes: u64,
}

#[derive(Serialize, Deserialize, Default)]
struct Meta {
    vote: Option<Vote>,
    purged: Option<LogId>,
}

fn other<E: Display>(e: E) -> io::Error {
    io::Error::other(e.to_string())
}

fn corrupt(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

fn segment_name(first_index: u64) -> String {
    format!("wal-{first_index:020}")
}

fn segment_first_index(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Numbers spare files, unique within the process (a thread still filling a
/// spare of a store that was closed and opened again must not remove the
/// new store's spare).
static SPARE_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Deletes files (gone already is fine) and syncs their directory.
fn remove_files(dir: &Path, paths: &[PathBuf]) -> io::Result<()> {
    for path in paths {
        match fs::remove_file(path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    sync_dir(dir)
}

fn spare_path(dir: &Path) -> PathBuf {
    dir.join(format!(
        "spare-{}",
        SPARE_COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

fn is_spare_name(name: &str) -> bool {
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
fn zero_fill(file: &File, from: u64, to: u64) -> io::Result<()> {
    const PIECE: usize = 256 * 1024;
    let zeros = vec![0u8; PIECE.min(usize::try_from(to.saturating_sub(from)).unwrap_or(PIECE))];
    let mut at = from;
    while at < to {
        let n = zeros
            .len()
            .min(usize::try_from(to - at).unwrap_or(usize::MAX));
        file.write_all_at(&zeros[..n], at)?;
        file.sync_data()?;
        at += n as u64;
    }
    file.sync_all()
}

/// Creates the zero-filled file `path` of `bytes` bytes.
fn prepare_spare(path: &Path, bytes: u64) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    if let Err(e) = zero_fill(&file, 0, bytes) {
        let _ = fs::remove_file(path);
        return Err(e);
    }
    Ok(file)
}

/// Turns a spare (zero-filled or recycled) into segment `first_index` with
/// a fresh salt: header written and synced first, then the rename made
/// durable.
fn install_segment(
    dir: &Path,
    file: Arc<File>,
    spare_path: &Path,
    bytes: u64,
    first_index: u64,
) -> io::Result<Segment> {
    let salt = rand::random::<u64>();
    file.write_all_at(&segment_header(first_index, salt), 0)?;
    file.sync_data()?;
    fs::rename(spare_path, dir.join(segment_name(first_index)))?;
    sync_dir(dir)?;
    Ok(Segment {
        file,
        salt,
        len: SEGMENT_HEADER_BYTES,
        capacity: bytes.max(SEGMENT_HEADER_BYTES),
        next_index: first_index,
    })
}

fn segment_header(first_index: u64, salt: u64) -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    header[..8].copy_from_slice(SEGMENT_MAGIC);
    header[8..16].copy_from_slice(&first_index.to_le_bytes());
    header[16..].copy_from_slice(&salt.to_le_bytes());
    header
}

/// crc32 of a frame body in a segment with `salt`.
fn frame_crc(salt: u64, body: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&salt.to_le_bytes());
    hasher.update(body);
    hasher.finalize()
}

/// One entry as a frame (header and body); its crc is filled in by
/// [`seal_frame`] once the segment (and so the salt) is known.
fn encode_frame(entry: &Entry, out: &mut Vec<u8>) -> io::Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES as usize]);
    bincode::serialize_into(&mut *out, &entry.log_id).map_err(other)?;
    bincode::serialize_into(&mut *out, &entry.payload).map_err(other)?;
    let body = &out[start + FRAME_HEADER_BYTES as usize..];
    let len = u32::try_from(body.len())
        .ok()
        .filter(|l| *l <= FRAME_BYTES_MAX)
        .ok_or_else(|| other(format!("log entry of {} bytes is too large", body.len())))?;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

/// Writes the crc of the encoded frame `frame` for a segment with `salt`.
fn seal_frame(frame: &mut [u8], salt: u64) {
    let crc = frame_crc(salt, &frame[FRAME_HEADER_BYTES as usize..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
}

fn decode_log_id(body: &[u8]) -> io::Result<LogId> {
    // bincode writes the tuple's fields back to back, and the top-level
    // functions accept trailing bytes: the LogId is a prefix of the body.
    bincode::deserialize(body).map_err(|e| corrupt(format!("bad log id: {e}")))
}

fn decode_body(body: &[u8]) -> io::Result<Entry> {
    let (log_id, payload): (LogId, EntryPayload<TypeConfig>) =
        bincode::deserialize(body).map_err(|e| corrupt(format!("bad log entry: {e}")))?;
    Ok(Entry { log_id, payload })
}

/// Reads and checks one frame body at `offset` of a segment with `salt`.
fn read_frame(file: &File, salt: u64, offset: u64, len: u32) -> io::Result<Vec<u8>> {
    let mut header = [0u8; FRAME_HEADER_BYTES as usize];
    file.read_exact_at(&mut header, offset)?;
    let stored_len = u32::from_le_bytes(header[0..4].try_into().expect("4 bytes"));
    let crc = u32::from_le_bytes(header[4..8].try_into().expect("4 bytes"));
    if stored_len != len {
        return Err(corrupt(format!("frame at {offset}: length changed")));
    }
    let mut body = vec![0u8; len as usize];
    file.read_exact_at(&mut body, offset + FRAME_HEADER_BYTES)?;
    if frame_crc(salt, &body) != crc {
        return Err(corrupt(format!("frame at {offset}: checksum mismatch")));
    }
    Ok(body)
}

/// What scanning one segment found.
struct Scan {
    /// Entries in order, with the body offset of each.
    frames: Vec<Location>,
    /// End of the last good frame.
    good_len: u64,
    /// Length of the file.
    file_len: u64,
    /// The salt in its header (0 if there is no header).
    salt: u64,
    /// Why the scan stopped before the end of the file other than at zeros
    /// (preallocated space), if it did.
    damage: Option<String>,
}

/// Reads the frames of one segment up to the end of the file, a zero frame
/// header (preallocated space) or a bad frame. Reads as it goes, so the
/// zeroed rest of a segment is not read.
fn scan_segment(path: &Path, first_index: u64) -> io::Result<Scan> {
    let file = File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut reader = io::BufReader::with_capacity(1024 * 1024, file);
    let mut scan = Scan {
        frames: Vec::new(),
        good_len: 0,
        file_len,
        salt: 0,
        damage: None,
    };
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    if file_len < SEGMENT_HEADER_BYTES {
        scan.damage = Some("short segment header".into());
        return Ok(scan);
    }
    reader.read_exact(&mut header)?;
    if header.iter().all(|b| *b == 0) {
        scan.damage = Some("segment header never written".into());
        return Ok(scan);
    }
    let salt = u64::from_le_bytes(header[16..].try_into().expect("8 bytes"));
    if header != segment_header(first_index, salt) {
        return Err(corrupt(format!(
            "{}: not a Corral log segment for index {first_index} (or one of an older format)",
            path.display()
        )));
    }
    scan.salt = salt;
    let mut offset = SEGMENT_HEADER_BYTES;
    scan.good_len = offset;
    let mut expected = first_index;
    let mut body = Vec::new();
    while offset < file_len {
        if file_len - offset < FRAME_HEADER_BYTES {
            scan.damage = Some(format!("torn frame header at {offset}"));
            break;
        }
        let mut frame_header = [0u8; FRAME_HEADER_BYTES as usize];
        reader.read_exact(&mut frame_header)?;
        if frame_header == [0u8; FRAME_HEADER_BYTES as usize] {
            break;
        }
        let len = u32::from_le_bytes(frame_header[0..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(frame_header[4..8].try_into().expect("4 bytes"));
        let end = offset + FRAME_HEADER_BYTES + u64::from(len);
        if len == 0 || len > FRAME_BYTES_MAX || end > file_len {
            scan.damage = Some(format!("torn frame at {offset}"));
            break;
        }
        body.resize(len as usize, 0);
        reader.read_exact(&mut body)?;
        if frame_crc(salt, &body) != crc {
            scan.damage = Some(format!("checksum mismatch at {offset}"));
            break;
        }
        let log_id = decode_log_id(&body)?;
        if log_id.index != expected {
            return Err(corrupt(format!(
                "{}: entry {} where {expected} was expected",
                path.display(),
                log_id.index
            )));
        }
        scan.frames.push(Location {
            log_id,
            segment: first_index,
            offset,
            len,
        });
        offset = end;
        expected += 1;
        scan.good_len = offset;
    }
    Ok(scan)
}

fn read_meta(dir: &Path) -> io::Result<Meta> {
    let bytes = match fs::read(dir.join("meta")) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Meta::default()),
        Err(e) => return Err(e),
    };
    if bytes.len() < 12 || &bytes[..8] != META_MAGIC {
        return Err(corrupt("log meta file: bad header"));
    }
    let crc = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if crc32fast::hash(&bytes[12..]) != crc {
        return Err(corrupt("log meta file: checksum mismatch"));
    }
    bincode::deserialize(&bytes[12..]).map_err(|e| corrupt(format!("log meta file: {e}")))
}

fn write_meta(dir: &Path, meta: &Meta) -> io::Result<()> {
    let body = bincode::serialize(meta).map_err(other)?;
    let mut bytes = Vec::with_capacity(12 + body.len());
    bytes.extend_from_slice(META_MAGIC);
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&body);
    let tmp = dir.join("meta.tmp");
    {
        let f = File::create(&tmp)?;
        f.write_all_at(&bytes, 0)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join("meta"))?;
    sync_dir(dir)
}

impl State {
    fn last_log_id(&self) -> Option<LogId> {
        self.entries
            .last_key_value()
            .map(|(_, l)| l.log_id)
            .or(self.purged)
    }

    fn cache_push(&mut self, entry: Entry, size: usize, budget: usize) {
        self.cache_bytes += size;
        self.cache.push_back((entry, size));
        while self.cache_bytes > budget && !self.cache.is_empty() {
            if let Some((_, s)) = self.cache.pop_front() {
                self.cache_bytes -= s;
            }
        }
    }

    /// Drops cached entries with index >= `from` (truncation).
    fn cache_truncate(&mut self, from: u64) {
        while self
            .cache
            .back()
            .is_some_and(|(e, _)| e.log_id.index >= from)
        {
            let (_, s) = self.cache.pop_back().expect("checked");
            self.cache_bytes -= s;
        }
    }

    /// Drops cached entries with index <= `upto` (purge).
    fn cache_purge(&mut self, upto: u64) {
        while self
            .cache
            .front()
            .is_some_and(|(e, _)| e.log_id.index <= upto)
        {
            let (_, s) = self.cache.pop_front().expect("checked");
            self.cache_bytes -= s;
        }
    }

    /// The cached entry at `index`. The cache holds consecutive indexes
    /// (appends are consecutive; truncation and purging trim its ends).
    fn cached(&self, index: u64) -> Option<&Entry> {
        let first = self.cache.front()?.0.log_id.index;
        let (e, _) = self
            .cache
            .get(usize::try_from(index.checked_sub(first)?).ok()?)?;
        (e.log_id.index == index).then_some(e)
    }
}

impl LogStore {
    /// Opens (or creates) the log in directory `dir`, recovering what the
    /// segments hold.
    pub(crate) fn open(dir: &Path) -> io::Result<Self> {
        Self::open_with(dir, Limits::default())
    }

    /// [`LogStore::open`] with other sizes.
    pub(crate) fn open_with(dir: &Path, limits: Limits) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join("LOCK"))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    format!(
                        "the log in {} is already open in another process",
                        dir.display()
                    ),
                ))
            }
            Err(fs::TryLockError::Error(e)) => return Err(e),
        }
        let meta = read_meta(dir)?;
        let mut firsts: Vec<u64> = Vec::new();
        for item in fs::read_dir(dir)? {
            let name = item?.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(first) = segment_first_index(name) {
                firsts.push(first);
            } else if is_spare_name(name) {
                // Left by a run that stopped while preparing it.
                fs::remove_file(dir.join(name))?;
            }
        }
        firsts.sort_unstable();
        let purged_index = meta.purged.map(|l| l.index);
        let mut state = State {
            segments: BTreeMap::new(),
            entries: BTreeMap::new(),
            cache: VecDeque::new(),
            cache_bytes: 0,
            vote: meta.vote,
            purged: meta.purged,
            committed_file: OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(dir.join("committed"))?,
            spares: Vec::new(),
            preparing_spare: false,
        };
        let mut prev_next_index: Option<u64> = None;
        for (i, &first) in firsts.iter().enumerate() {
            let path = dir.join(segment_name(first));
            let last_segment = i + 1 == firsts.len();
            let mut scan = scan_segment(&path, first)?;
            // A segment's frames end at zeros or at the first frame that
            // does not check out: a torn append, or in a recycled file the
            // frames of its previous use. Damage to a segment before the
            // last one shows as a gap before the next segment (below).
            if let (true, Some(damage)) = (last_segment, &scan.damage) {
                tracing::info!(segment = %path.display(), %damage, kept = scan.frames.len(),
                    "the log ends here; what follows (an unfinished append or a recycled file's old frames) is cut off");
            }
            let file = OpenOptions::new().read(true).write(true).open(&path)?;
            let len = scan.good_len.max(SEGMENT_HEADER_BYTES);
            // Segments before the last are sealed.
            let mut capacity = len;
            if last_segment {
                if scan.good_len < SEGMENT_HEADER_BYTES {
                    // A segment whose header never made it to disk.
                    scan.salt = rand::random::<u64>();
                    file.write_all_at(&segment_header(first, scan.salt), 0)?;
                }
                // Whatever follows the last entry goes (a torn append, or
                // zeroed space that might hide one), and fresh zeros take
                // its place.
                if scan.file_len > len {
                    file.set_len(len)?;
                }
                if len < limits.segment_bytes {
                    capacity = (len + limits.step_bytes).min(limits.segment_bytes);
                }
                zero_fill(&file, len, capacity)?;
            }
            let next_index = first + scan.frames.len() as u64;
            // Each segment continues the one before it, except after a
            // purge past the end of the log (a snapshot installed from the
            // leader), when everything before the gap is purged.
            if let Some(prev_next) = prev_next_index {
                let behind_purge = purged_index.is_some_and(|p| {
                    prev_next <= p.saturating_add(1) && first <= p.saturating_add(1)
                });
                if first != prev_next && !behind_purge {
                    return Err(corrupt(format!(
                        "{}: starts at {first}, but the segment before it ends before {prev_next}",
                        path.display()
                    )));
                }
            }
            prev_next_index = Some(next_index);
            for loc in scan.frames {
                if Some(loc.log_id.index) > purged_index {
                    state.entries.insert(loc.log_id.index, loc);
                }
            }
            state.segments.insert(
                first,
                Segment {
                    file: Arc::new(file),
                    salt: scan.salt,
                    len,
                    capacity,
                    next_index,
                },
            );
        }
        Ok(Self {
            shared: Arc::new(Shared {
                dir: dir.to_path_buf(),
                limits,
                state: Mutex::new(state),
                encode_buf: Mutex::new(Vec::new()),
                _lock: lock,
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().expect("log state lock")
    }

    /// `(last purged, last present)` log ids.
    pub(crate) fn log_state(&self) -> (Option<LogId>, Option<LogId>) {
        let s = self.state();
        (s.purged, s.last_log_id())
    }

    /// Runs blocking file work on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&LogStore) -> io::Result<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(other)?
    }

    /// Entries in `[start, end)` (clamped to what is present): from the
    /// cache when there, else read back from their segment.
    ///
    /// A frame is read from disk while the state lock is held, so a
    /// truncation (which cuts the file and lets the next append reuse those
    /// bytes) cannot change it under the reader: a replication task of a
    /// leader that is stepping down may read while the follower it is
    /// becoming truncates. Entries removed meanwhile end the result early;
    /// openraft's replication accepts a shorter result. The lock is taken
    /// per frame, so appends wait for at most one frame read.
    fn read_range(&self, start: u64, end: u64) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        let mut next = start;
        while next < end {
            let body = {
                let s = self.state();
                let Some((&index, loc)) = s.entries.range(next..end).next() else {
                    break;
                };
                if s.cached(index).is_some() {
                    // The cache holds a suffix of the log: the rest is there.
                    out.extend(
                        s.entries
                            .range(index..end)
                            .filter_map(|(i, _)| s.cached(*i).cloned()),
                    );
                    break;
                }
                let seg = s
                    .segments
                    .get(&loc.segment)
                    .ok_or_else(|| corrupt(format!("entry {index}: segment missing")))?;
                let body = read_frame(&seg.file, seg.salt, loc.offset, loc.len)?;
                next = index + 1;
                (loc.log_id, body)
            };
            let (log_id, body) = body;
            let entry = decode_body(&body)?;
            if entry.log_id != log_id {
                return Err(corrupt(format!(
                    "entry {}: read back a different entry",
                    log_id.index
                )));
            }
            out.push(entry);
        }
        Ok(out)
    }

    /// Appends encoded entries durably; returns once they are synced.
    fn append_blocking(&self, entries: Vec<Entry>) -> io::Result<()> {
        let Some(first) = entries.first().map(|e| e.log_id.index) else {
            return Ok(());
        };
        let mut buf = std::mem::take(&mut *self.encode_buf());
        buf.clear();
        let mut frames = Vec::with_capacity(entries.len());
        for e in &entries {
            let start = buf.len();
            encode_frame(e, &mut buf)?;
            frames.push((start as u64, (buf.len() - start) as u64));
        }
        // Pick the segment: the active one if it continues there and the
        // frames fit in its zeroed space (or it is empty), else a new one
        // starting at `first`. The new one is made without the state lock
        // (a header sync, a rename and a directory sync: readers of cached
        // entries need not wait for them); openraft never runs two appends,
        // truncations or purges at once, so nothing else adds segments.
        let spare = {
            let mut s = self.state();
            let active = s
                .segments
                .last_key_value()
                .map(|(f, seg)| (*f, seg.next_index, seg.len, seg.capacity));
            let fits = |len: u64, capacity: u64| {
                len + buf.len() as u64 <= capacity || len == SEGMENT_HEADER_BYTES
            };
            match active {
                Some((_, next, len, cap)) if next == first && fits(len, cap) => None,
                _ => Some(s.spares.pop()),
            }
        };
        if let Some(spare) = spare {
            let seg = self.new_segment(spare, first)?;
            self.state().segments.insert(first, seg);
        }
        let (segment_first, file, offset, salt) = {
            let s = self.state();
            let (f, seg) = s.segments.last_key_value().expect("a segment");
            (*f, seg.file.clone(), seg.len, seg.salt)
        };
        for (start, size) in &frames {
            seal_frame(&mut buf[*start as usize..(*start + *size) as usize], salt);
        }
        if let Err(e) = file
            .write_all_at(&buf, offset)
            .and_then(|()| file.sync_data())
        {
            // Leave no partial frame behind for a later append to follow
            // (the failed entries were never acknowledged), and no more
            // appends in this segment.
            let _ = file.set_len(offset);
            if let Some(seg) = self.state().segments.get_mut(&segment_first) {
                seg.capacity = offset;
            }
            return Err(e);
        }
        let mut s = self.state();
        let seg = s
            .segments
            .get_mut(&segment_first)
            .expect("only the appender removes segments");
        seg.len = offset + buf.len() as u64;
        seg.next_index = first + entries.len() as u64;
        let half_full = seg.len >= seg.capacity / 2;
        for (e, (start, size)) in entries.into_iter().zip(frames) {
            let loc = Location {
                log_id: e.log_id,
                segment: segment_first,
                offset: offset + start,
                len: (size - FRAME_HEADER_BYTES) as u32,
            };
            s.entries.insert(e.log_id.index, loc);
            s.cache_push(e, size as usize, self.shared.limits.cache_bytes);
        }
        if half_full && s.spares.is_empty() && !s.preparing_spare {
            self.start_spare(&mut s);
        }
        drop(s);
        if buf.capacity() <= ENCODE_BUF_KEPT {
            *self.encode_buf() = buf;
        }
        Ok(())
    }

    fn encode_buf(&self) -> MutexGuard<'_, Vec<u8>> {
        self.shared.encode_buf.lock().expect("encode buffer lock")
    }

    /// A new segment starting at `first`: from `spare`, else with
    /// [`Limits::step_bytes`] of zeroed space made now.
    fn new_segment(&self, spare: Option<Spare>, first: u64) -> io::Result<Segment> {
        let dir = &self.shared.dir;
        if let Some(Spare { file, path, bytes }) = spare {
            return install_segment(dir, file, &path, bytes, first);
        }
        tracing::debug!(
            first,
            "no spare log segment ready: zero-filling a small one now"
        );
        let path = spare_path(dir);
        let bytes = self.shared.limits.step_bytes;
        let file = prepare_spare(&path, bytes)?;
        install_segment(dir, Arc::new(file), &path, bytes, first)
    }

    /// Starts zero-filling a spare segment of [`Limits::segment_bytes`] on a
    /// thread of its own (about 40 ms of disk writes for 64 MiB here).
    fn start_spare(&self, s: &mut State) {
        let path = spare_path(&self.shared.dir);
        let bytes = self.shared.limits.segment_bytes;
        let shared: Weak<Shared> = Arc::downgrade(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("corral-log-spare".into())
            .spawn(move || {
                let result = prepare_spare(&path, bytes);
                let Some(shared) = shared.upgrade() else {
                    let _ = fs::remove_file(&path);
                    return;
                };
                let mut s = shared.state.lock().expect("log state lock");
                s.preparing_spare = false;
                match result {
                    // Purges may have recycled enough segments meanwhile.
                    Ok(_) if s.spares.len() >= SPARES_KEPT => {
                        let _ = fs::remove_file(&path);
                    }
                    Ok(file) => s.spares.push(Spare {
                        file: Arc::new(file),
                        path,
                        bytes,
                    }),
                    Err(e) => {
                        tracing::warn!(spare = %path.display(), error = %e,
                            "could not prepare a spare log segment; the next segment is made when needed");
                    }
                }
            });
        match spawned {
            Ok(_) => s.preparing_spare = true,
            Err(e) => tracing::warn!(error = %e, "could not start preparing a spare log segment"),
        }
    }

    /// Removes entries with index >= `from`.
    fn truncate_blocking(&self, from: u64) -> io::Result<()> {
        let mut s = self.state();
        let Some(loc) = s.entries.get(&from).copied() else {
            return Ok(());
        };
        // Later segments go entirely; the one holding `from` is cut.
        let doomed: Vec<u64> = s
            .segments
            .range(loc.segment + 1..)
            .map(|(f, _)| *f)
            .collect();
        for f in doomed.iter().rev() {
            s.segments.remove(f);
            fs::remove_file(self.shared.dir.join(segment_name(*f)))?;
        }
        let mut removed = !doomed.is_empty();
        if loc.segment == from {
            // Nothing stays in it: it goes, and the next append makes a
            // segment of that name again.
            s.segments.remove(&from);
            fs::remove_file(self.shared.dir.join(segment_name(from)))?;
            removed = true;
        } else {
            // Cut and sealed: the next append starts a new segment.
            let seg = s.segments.get_mut(&loc.segment).expect("entry's segment");
            seg.file.set_len(loc.offset)?;
            seg.file.sync_all()?;
            seg.len = loc.offset;
            seg.capacity = loc.offset;
            seg.next_index = from;
        }
        if removed {
            sync_dir(&self.shared.dir)?;
        }
        s.entries.split_off(&from);
        s.cache_truncate(from);
        Ok(())
    }

    /// Records `log_id` as purged (durably) and drops what it covers.
    ///
    /// Segment files whose entries are all purged are deleted afterwards, on
    /// a thread of its own when `in_background` (freeing a 64 MiB file took
    /// 15-30 ms here, and openraft awaits the purge before it goes on
    /// writing). Deleting them late is safe: the purge mark is durable
    /// first, a segment left by a crash is skipped at open and deleted by the
    /// next purge, and no later segment can take a deleted one's name (new
    /// segments start after the purge mark, deleted ones at or before it).
    fn purge_blocking(&self, log_id: LogId, in_background: bool) -> io::Result<()> {
        let mut s = self.state();
        let vote = s.vote;
        self.save_meta(&mut s, vote, Some(log_id))?;
        s.entries = s.entries.split_off(&(log_id.index + 1));
        s.cache_purge(log_id.index);
        // A segment whose entries are all purged goes, unless it is the
        // last one and the log continues right after it.
        // Segments of full size become spares while fewer than
        // SPARES_KEPT are ready (recycled: renamed, not deleted, see the
        // module docs).
        let firsts: Vec<u64> = s.segments.keys().copied().collect();
        let mut doomed = Vec::new();
        for (i, first) in firsts.iter().enumerate() {
            let next_index = s.segments[first].next_index;
            let all_purged = next_index <= log_id.index + 1;
            let continues_here = i + 1 == firsts.len() && next_index == log_id.index + 1;
            if !all_purged || continues_here {
                continue;
            }
            let seg = s.segments.remove(first).expect("listed");
            let path = self.shared.dir.join(segment_name(*first));
            let bytes = seg.file.metadata().map(|m| m.len()).unwrap_or(0);
            let recycle = s.spares.len() < SPARES_KEPT && bytes >= self.shared.limits.segment_bytes;
            if recycle {
                let spare = spare_path(&self.shared.dir);
                // A crash before the rename is durable leaves the file as a
                // purged segment (skipped at open) or as a spare (deleted
                // at open); `install_segment` syncs the directory before
                // the file holds a new entry.
                match fs::rename(&path, &spare) {
                    Ok(()) => {
                        s.spares.push(Spare {
                            file: seg.file,
                            path: spare,
                            bytes,
                        });
                        continue;
                    }
                    Err(e) => tracing::warn!(segment = %path.display(), error = %e,
                        "could not recycle a purged log segment; deleting it"),
                }
            }
            doomed.push(path);
        }
        drop(s);
        if doomed.is_empty() {
            return Ok(());
        }
        if in_background {
            let (dir, job) = (self.shared.dir.clone(), doomed.clone());
            let spawned = std::thread::Builder::new()
                .name("corral-log-purge".into())
                .spawn(move || {
                    if let Err(e) = remove_files(&dir, &job) {
                        tracing::warn!(error = %e,
                            "deleting purged log segments failed; they are skipped and deleted after a restart");
                    }
                });
            if spawned.is_ok() {
                return Ok(());
            }
        }
        remove_files(&self.shared.dir, &doomed)
    }

    /// Makes `vote` and `purged` durable in the meta file, then current.
    fn save_meta(
        &self,
        s: &mut State,
        vote: Option<Vote>,
        purged: Option<LogId>,
    ) -> io::Result<()> {
        write_meta(&self.shared.dir, &Meta { vote, purged })?;
        s.vote = vote;
        s.purged = purged;
        Ok(())
    }

    fn save_vote_blocking(&self, vote: Vote) -> io::Result<()> {
        let mut s = self.state();
        let purged = s.purged;
        self.save_meta(&mut s, Some(vote), purged)
    }
}

fn log_err(verb: ErrorVerb) -> impl Fn(io::Error) -> StorageError {
    move |e| StorageError::from_io_error(ErrorSubject::Logs, verb, e)
}

fn vote_err(verb: ErrorVerb) -> impl Fn(io::Error) -> StorageError {
    move |e| StorageError::from_io_error(ErrorSubject::Vote, verb, e)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => i.saturating_add(1),
            Bound::Excluded(i) => *i,
            Bound::Unbounded => u64::MAX,
        };
        if start >= end {
            return Ok(Vec::new());
        }
        // The usual read (the entries just appended) is all in the cache.
        let all_cached = {
            let s = self.state();
            s.entries
                .range(start..end)
                .next()
                .is_none_or(|(i, _)| s.cached(*i).is_some())
        };
        let result = if all_cached {
            self.read_range(start, end)
        } else {
            self.blocking(move |log| log.read_range(start, end)).await
        };
        result.map_err(log_err(ErrorVerb::Read))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let (last_purged_log_id, last_log_id) = self.log_state();
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let vote = *vote;
        self.blocking(move |log| log.save_vote_blocking(vote))
            .await
            .map_err(vote_err(ErrorVerb::Write))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.state().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not synced (STACK.md pitfall 3: an fsync per commit costs 3x);
        // it reaches the disk with the next append's fdatasync or the
        // page cache's writeback. A restarted node then re-applies its
        // committed log at once instead of waiting for a leader to tell it
        // the commit index; losing the hint is safe.
        let bytes =
            bincode::serialize(&committed).map_err(|e| log_err(ErrorVerb::Write)(other(e)))?;
        let mut body = Vec::with_capacity(bytes.len() + 4);
        body.extend_from_slice(&crc32fast::hash(&bytes).to_le_bytes());
        body.extend_from_slice(&bytes);
        let s = self.state();
        s.committed_file
            .write_all_at(&body, 0)
            .map_err(log_err(ErrorVerb::Write))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let s = self.state();
        let mut buf = [0u8; 64];
        let n = s.committed_file.read_at(&mut buf, 0).unwrap_or(0);
        if n < 5 {
            return Ok(None);
        }
        let crc = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes"));
        // A torn or stale hint is ignored: the commit index is then learned
        // from the leader (or, on a single node, from its own election).
        let committed: Option<Option<LogId>> = (1..=n - 4).rev().find_map(|len| {
            let body = &buf[4..4 + len];
            (crc32fast::hash(body) == crc)
                .then(|| bincode::deserialize::<Option<LogId>>(body).ok())
                .flatten()
        });
        let committed = committed.flatten();
        // Never claim more than the log holds.
        Ok(committed.filter(|c| Some(*c) <= s.last_log_id()))
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<Entry> = entries.into_iter().collect();
        let result = self.blocking(move |log| log.append_blocking(entries)).await;
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(io::Error::new(e.kind(), e.to_string())));
                Err(log_err(ErrorVerb::Write)(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let from = log_id.index;
        self.blocking(move |log| log.truncate_blocking(from))
            .await
            .map_err(log_err(ErrorVerb::Delete))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.blocking(move |log| log.purge_blocking(log_id, true))
            .await
            .map_err(log_err(ErrorVerb::Delete))
    }
}

#[cfg(test)]
#[path = "log_store_tests.rs"]
mod tests;
