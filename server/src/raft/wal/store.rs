//! [`LogStore`]: the segment files, their recovery, appends, truncation,
//! purging, spare segments and the cache of recent entries. Blocking file
//! work; `adapter.rs` runs it for openraft on tokio's blocking pool.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use super::disk::{is_no_space, Disk, DiskFile, Open};
use super::format::{
    align_up, corrupt, decode_body, read_frame, scan_segment, segment_header, truncation_mark,
    EncodedGroups, Location, GROUP_HEADER_BYTES, PAGE, SEGMENT_HEADER_BYTES,
};
use super::meta::{CommittedHint, Meta, MetaFile};
use super::spares::{is_spare_name, prepare_spare, spare_path, Spare, SPARES_KEPT};
use super::{DurableSnapshots, StorageHealth};
use crate::raft::type_config::{Entry, LogId, Vote};

/// Size of the preallocated segments a background thread prepares.
pub(crate) const SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// Zeroed space given to a segment that the appender has to make itself
/// (a brand-new log, no spare ready): small enough not to hold up the
/// append for long.
pub(crate) const PREALLOC_STEP_BYTES: u64 = 4 * 1024 * 1024;
/// Largest append buffer kept for the next append.
const ENCODE_BUF_KEPT: usize = 8 * 1024 * 1024;
/// Encoded bytes of recent entries kept decoded in memory.
pub(crate) const CACHE_BYTES: usize = 4 * 1024 * 1024;

/// Sizes and pacing (tests use small segments and no background threads).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// See [`SEGMENT_BYTES`].
    pub(crate) segment_bytes: u64,
    /// See [`PREALLOC_STEP_BYTES`].
    pub(crate) step_bytes: u64,
    /// See [`CACHE_BYTES`].
    pub(crate) cache_bytes: usize,
    /// Prepare spares and delete purged segments on threads of their own
    /// (false: inline, so that the order of I/O calls is deterministic).
    pub(crate) background: bool,
    /// How often a write waiting for disk space tries again.
    pub(crate) space_retry: Duration,
    /// How long a purge waits for the snapshot that covers it to be
    /// durable.
    pub(crate) purge_wait: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            segment_bytes: SEGMENT_BYTES,
            step_bytes: PREALLOC_STEP_BYTES,
            cache_bytes: CACHE_BYTES,
            background: true,
            space_retry: Duration::from_millis(500),
            purge_wait: Duration::from_secs(120),
        }
    }
}

/// The log store; clones share the same state (the reader openraft asks
/// for is a clone).
#[derive(Clone)]
pub(crate) struct LogStore {
    pub(super) shared: Arc<Shared>,
}

pub(super) struct Shared {
    disk: Arc<dyn Disk>,
    dir: PathBuf,
    limits: Limits,
    state: Mutex<State>,
    /// The buffer appends encode their frames into, kept from one append
    /// to the next (up to [`ENCODE_BUF_KEPT`] bytes): a new ~100 KB buffer
    /// per append came from fresh pages that the kernel zeroed, 5% of the
    /// server's CPU samples under create load.
    encode_buf: Mutex<Vec<u8>>,
    /// Why the store stopped writing, once a write or sync failed: after a
    /// failed `fdatasync` the kernel may have dropped the dirty pages and a
    /// retry could report success for bytes that are not on disk, so
    /// nothing is written again in this process (fail stop).
    failed: Mutex<Option<String>>,
    /// Set when the store is closing: a write waiting for space gives up.
    closing: AtomicBool,
    pub(super) hint: CommittedHint,
    health: Arc<StorageHealth>,
    snapshots: Option<Arc<DurableSnapshots>>,
    /// Held for the life of the store: a second process on the same data
    /// directory would corrupt the log.
    _lock: Box<dyn Any + Send + Sync>,
}

pub(super) struct Segment {
    file: Arc<dyn DiskFile>,
    /// Mixed into every crc (see `format.rs`).
    salt: u64,
    /// Where the next group goes (page aligned).
    write_pos: u64,
    /// Where the last group ended (the next group's `prev_end`).
    end: u64,
    /// Appends go to a new segment once a group would pass this: the end
    /// of the zeroed space, or `write_pos` for a segment sealed after a
    /// torn append.
    capacity: u64,
    /// The index the next entry appended to this segment must have.
    next_index: u64,
    /// The last group written: its offset and first index.
    last_group: Option<(u64, u64)>,
}

pub(super) struct State {
    /// Segments by first index.
    segments: BTreeMap<u64, Segment>,
    /// Every entry present (above the purge mark), by index.
    pub(super) entries: BTreeMap<u64, Location>,
    /// Recent entries, decoded, oldest first, with their encoded size.
    cache: VecDeque<(Entry, usize)>,
    cache_bytes: usize,
    pub(super) vote: Option<Vote>,
    pub(super) purged: Option<LogId>,
    meta: MetaFile,
    /// Files ready to become the next segments (at most [`SPARES_KEPT`]).
    pub(super) spares: Vec<Spare>,
    /// Whether a background thread is zero-filling one.
    pub(super) preparing_spare: bool,
    /// Changes whenever entries are removed (truncation, purge): a reader
    /// that sees it change stops, so that it never returns entries of two
    /// versions of the log.
    generation: u64,
}

/// A read of a range of entries under way (see [`LogStore::read_step`]).
pub(crate) struct RangeRead {
    next: u64,
    end: u64,
    /// The log's generation when the read began.
    generation: Option<u64>,
    pub(crate) out: Vec<Entry>,
}

impl RangeRead {
    pub(crate) fn new(start: u64, end: u64) -> RangeRead {
        RangeRead {
            next: start,
            end,
            generation: None,
            out: Vec::new(),
        }
    }
}

pub(crate) fn segment_name(first_index: u64) -> String {
    format!("wal-{first_index:020}")
}

fn segment_first_index(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("wal-")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

impl State {
    pub(super) fn last_log_id(&self) -> Option<LogId> {
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
    pub(super) fn cached(&self, index: u64) -> Option<&Entry> {
        let first = self.cache.front()?.0.log_id.index;
        let (e, _) = self
            .cache
            .get(usize::try_from(index.checked_sub(first)?).ok()?)?;
        (e.log_id.index == index).then_some(e)
    }
}

impl LogStore {
    /// Opens (or creates) the log in `dir` on `disk`, recovering what the
    /// segments hold. Nothing is changed on disk before every segment has
    /// been read and judged: damage to acknowledged entries refuses to open
    /// (an `InvalidData` error naming the file and offset), and the only
    /// things changed afterwards are leftover spares (deleted) and a last
    /// segment whose only group was torn (renamed `torn-…`, kept).
    pub(crate) fn open(
        disk: Arc<dyn Disk>,
        dir: &Path,
        limits: Limits,
        health: Arc<StorageHealth>,
        snapshots: Option<Arc<DurableSnapshots>>,
    ) -> io::Result<Self> {
        disk.create_dir_all(dir)?;
        let lock = match disk.lock(&dir.join("LOCK")) {
            Ok(lock) => lock,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(io::Error::new(
                    io::ErrorKind::ResourceBusy,
                    format!(
                        "the log in {} is already open in another process",
                        dir.display()
                    ),
                ))
            }
            Err(e) => return Err(e),
        };
        let names = disk.list_dir(dir)?;
        let mut firsts: Vec<u64> = names
            .iter()
            .filter_map(|n| segment_first_index(n))
            .collect();
        firsts.sort_unstable();
        let has_meta = names.iter().any(|n| n == "meta");
        if !has_meta && !firsts.is_empty() {
            return Err(corrupt(format!(
                "{}: log segments but no meta file (vote and purge mark): refusing to start",
                dir.display()
            )));
        }
        let (meta_file, meta) = MetaFile::open(disk.as_ref(), dir, has_meta)?;
        let purged_index = meta.purged.map(|l| l.index);
        let behind_purge = |next: u64| purged_index.is_some_and(|p| next <= p.saturating_add(1));

        // Read and judge every segment first.
        let mut scanned = Vec::new();
        for (i, &first) in firsts.iter().enumerate() {
            let path = dir.join(segment_name(first));
            let what = path.display().to_string();
            let last = i + 1 == firsts.len();
            let file = disk.open(&path, Open::Existing)?;
            // A segment whose entries are all purged (the next segment starts
            // at or before the purge mark) is not needed: damage there is
            // reported but does not refuse.
            let purged_whole = firsts.get(i + 1).is_some_and(|next| behind_purge(*next));
            match scan_segment(file.as_ref(), first, last, &what) {
                Ok(scan) => scanned.push((first, file, scan)),
                Err(e) if purged_whole && e.kind() == io::ErrorKind::InvalidData => {
                    tracing::warn!(segment = %what, error = %e,
                        "a purged log segment is unreadable; skipping it");
                }
                Err(e) => return Err(e),
            }
        }
        let mut prev_next: Option<u64> = None;
        for (first, _, scan) in &scanned {
            if let Some(prev) = prev_next {
                // Each segment continues the one before it, except after a
                // purge past the end of the log (a snapshot installed from
                // the leader), when everything before the gap is purged.
                if *first != prev && !(behind_purge(prev) && behind_purge(*first)) {
                    return Err(corrupt(format!(
                        "{}: starts at index {first}, but the segment before it ends before index \
                         {prev}: acknowledged entries are missing or damaged (refusing to start)",
                        dir.join(segment_name(*first)).display()
                    )));
                }
            }
            prev_next = Some(scan.next_index);
        }

        // Decided: now the changes.
        for name in names.iter().filter(|n| is_spare_name(n)) {
            // Left by a run that stopped while preparing or recycling it.
            disk.remove_file(&dir.join(name))?;
        }
        let mut state = State {
            segments: BTreeMap::new(),
            entries: BTreeMap::new(),
            cache: VecDeque::new(),
            cache_bytes: 0,
            vote: meta.vote,
            purged: meta.purged,
            meta: meta_file,
            spares: Vec::new(),
            preparing_spare: false,
            generation: 0,
        };
        let count = scanned.len();
        for (i, (first, file, scan)) in scanned.into_iter().enumerate() {
            let last = i + 1 == count;
            let path = dir.join(segment_name(first));
            let mut capacity = align_up(scan.end);
            if last {
                match &scan.torn_tail {
                    Some(torn) if scan.groups == 0 => {
                        // Its only append never completed: nothing in it was
                        // acknowledged. Kept aside under another name, which
                        // frees the name for the next segment.
                        let aside = dir.join(format!(
                            "torn-{}-{}",
                            segment_name(first),
                            rand::random::<u32>()
                        ));
                        tracing::warn!(segment = %path.display(), %torn, kept_as = %aside.display(),
                            "the log's last append was torn by a crash (never acknowledged)");
                        disk.rename(&path, &aside)?;
                        disk.sync_dir(dir)?;
                        continue;
                    }
                    Some(torn) => {
                        // Sealed: its bytes after the last complete group stay
                        // as they are, and the next append starts a segment.
                        tracing::warn!(segment = %path.display(), %torn, end = scan.end,
                            "the log's last append was torn by a crash (never acknowledged); \
                             the log ends before it, its bytes are left in place");
                    }
                    None => capacity = file.len()?.max(capacity),
                }
            }
            for loc in &scan.entries {
                if Some(loc.log_id.index) > purged_index {
                    state.entries.insert(loc.log_id.index, *loc);
                }
            }
            state.segments.insert(
                first,
                Segment {
                    file,
                    salt: scan.salt,
                    write_pos: align_up(scan.end),
                    end: scan.end,
                    capacity,
                    next_index: scan.next_index,
                    last_group: scan.last_group,
                },
            );
        }
        Ok(Self {
            shared: Arc::new(Shared {
                disk: disk.clone(),
                dir: dir.to_path_buf(),
                limits,
                hint: CommittedHint::open(disk.as_ref(), dir),
                state: Mutex::new(state),
                encode_buf: Mutex::new(Vec::new()),
                failed: Mutex::new(None),
                closing: AtomicBool::new(false),
                health,
                snapshots,
                _lock: lock,
            }),
        })
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.shared.state.lock().expect("log state lock")
    }

    /// `(last purged, last present)` log ids.
    pub(crate) fn log_state(&self) -> (Option<LogId>, Option<LogId>) {
        let s = self.state();
        (s.purged, s.last_log_id())
    }

    /// Makes a write waiting for disk space give up (the node is closing).
    pub(crate) fn close(&self) {
        self.shared.closing.store(true, Ordering::SeqCst);
    }

    /// Fails at once if an earlier write or sync failed.
    fn check_failed(&self) -> io::Result<()> {
        match &*self.shared.failed.lock().expect("failed lock") {
            Some(why) => Err(io::Error::other(format!(
                "the log stopped writing after an earlier failure: {why}"
            ))),
            None => Ok(()),
        }
    }

    /// Records a write or sync failure: no more writes (see `failed`).
    fn fail(&self, what: &str, e: io::Error) -> io::Error {
        let why = format!("{what}: {e}");
        tracing::error!(error = %e, what, "log storage failed; this node stops writing");
        let mut failed = self.shared.failed.lock().expect("failed lock");
        failed.get_or_insert(why);
        e
    }

    /// Waits out a full disk: writes are refused meanwhile (see
    /// [`StorageHealth`]); returns once it is time to try again, or the
    /// error if the store is closing.
    fn wait_for_space(&self, what: &str, e: io::Error) -> io::Result<()> {
        if self.shared.closing.load(Ordering::SeqCst) {
            return Err(e);
        }
        if self.shared.health.set_out_of_space(true) {
            tracing::error!(error = %e, what,
                "log disk full: writes are refused until space is freed (reads go on)");
        }
        std::thread::sleep(self.shared.limits.space_retry);
        Ok(())
    }

    fn space_is_back(&self) {
        if self.shared.health.set_out_of_space(false) {
            tracing::info!("log disk has space again: taking writes");
        }
    }

    /// Entries in `[start, end)` (clamped to what is present): from the
    /// cache when there, else read back from their segment.
    ///
    /// The result is always a run of consecutive indexes of one version of
    /// the log, or shorter: each frame is read while the state lock is
    /// held, and the read stops as soon as a truncation or purge happened
    /// since it began (the generation changed) or the next index is not
    /// there. A replication task of a leader that is stepping down may read
    /// while the follower it is becoming truncates and appends the new
    /// leader's entries; openraft's replication accepts a shorter result.
    /// The lock is taken per frame, so appends wait for one frame read at
    /// most.
    pub(crate) fn read_range(&self, start: u64, end: u64) -> io::Result<Vec<Entry>> {
        let mut read = RangeRead::new(start, end);
        while self.read_step(&mut read)? {}
        Ok(read.out)
    }

    /// One step of a [`LogStore::read_range`]: the next frame (or the rest
    /// from the cache) under one hold of the state lock. Returns whether
    /// the read goes on.
    pub(crate) fn read_step(&self, read: &mut RangeRead) -> io::Result<bool> {
        if read.next >= read.end {
            return Ok(false);
        }
        let (log_id, body) = {
            let s = self.state();
            if *read.generation.get_or_insert(s.generation) != s.generation {
                // A truncation or purge since the read began: what follows
                // may belong to another version of the log.
                return Ok(false);
            }
            if read.out.is_empty() {
                // Clamp the start to the first entry present.
                match s.entries.range(read.next..read.end).next() {
                    Some((&first, _)) => read.next = first,
                    None => return Ok(false),
                }
            }
            let Some(loc) = s.entries.get(&read.next).copied() else {
                return Ok(false);
            };
            if s.cached(read.next).is_some() {
                // The cache holds a suffix of the log: the rest is there.
                while read.next < read.end {
                    match s.cached(read.next) {
                        Some(e) => read.out.push(e.clone()),
                        None => break,
                    }
                    read.next += 1;
                }
                return Ok(false);
            }
            let seg = s
                .segments
                .get(&loc.segment)
                .ok_or_else(|| corrupt(format!("entry {}: segment missing", read.next)))?;
            let body = read_frame(seg.file.as_ref(), seg.salt, loc.offset, loc.len)?;
            read.next += 1;
            (loc.log_id, body)
        };
        let entry = decode_body(&body)?;
        if entry.log_id != log_id {
            return Err(corrupt(format!(
                "entry {}: read back a different entry",
                log_id.index
            )));
        }
        read.out.push(entry);
        Ok(true)
    }

    /// Appends entries durably; returns once they are synced.
    pub(crate) fn append_blocking(&self, entries: Vec<Entry>) -> io::Result<()> {
        self.check_failed()?;
        let Some(first) = entries.first().map(|e| e.log_id.index) else {
            return Ok(());
        };
        let buf = std::mem::take(&mut *self.encode_buf());
        let mut groups = EncodedGroups::encode(&entries, buf)?;
        // Pick the segment: the active one if it continues there and the
        // groups fit in its zeroed space (or it is empty), else a new one
        // starting at `first`. The new one is made without the state lock
        // (a header sync, a rename and a directory sync: readers of cached
        // entries need not wait for them); openraft never runs two appends,
        // truncations or purges at once, so nothing else adds segments.
        loop {
            let spare = {
                let mut s = self.state();
                let active = s
                    .segments
                    .last_key_value()
                    .map(|(_, seg)| (seg.next_index, seg.write_pos, seg.capacity));
                match active {
                    Some((next, pos, cap))
                        if next == first
                            && (pos + groups.buf.len() as u64 <= cap
                                || (pos == SEGMENT_HEADER_BYTES && cap > pos)) =>
                    {
                        break
                    }
                    _ => s.spares.pop(),
                }
            };
            match self.new_segment(spare, first) {
                Ok(seg) => {
                    self.state().segments.insert(first, seg);
                    break;
                }
                Err(e) if is_no_space(&e) => self.wait_for_space("new log segment", e)?,
                Err(e) => return Err(self.fail("making a log segment", e)),
            }
        }
        let (segment_first, file, base, prev_end, salt) = {
            let s = self.state();
            let (f, seg) = s.segments.last_key_value().expect("a segment");
            (*f, seg.file.clone(), seg.write_pos, seg.end, seg.salt)
        };
        groups.seal(salt, base, prev_end);
        loop {
            match file.write_all_at(&groups.buf, base) {
                Ok(()) => break,
                // Nothing acknowledged is in these pages, and nothing was
                // synced: writing them again once there is space is safe.
                Err(e) if is_no_space(&e) => self.wait_for_space("log append", e)?,
                Err(e) => return Err(self.fail("writing a log append", e)),
            }
        }
        if let Err(e) = file.sync_data() {
            return Err(self.fail("syncing a log append", e));
        }
        self.space_is_back();
        let end = groups.end(base);
        let mut s = self.state();
        let seg = s
            .segments
            .get_mut(&segment_first)
            .expect("only the appender removes segments");
        seg.write_pos = align_up(end);
        seg.end = end;
        seg.next_index = first + entries.len() as u64;
        if let Some(&(start, first_index, _, _)) = groups.groups.last() {
            seg.last_group = Some((base + start as u64, first_index));
        }
        let half_full = seg.write_pos >= seg.capacity / 2;
        for (e, &(frame_at, len)) in entries.into_iter().zip(&groups.frames) {
            let loc = Location {
                log_id: e.log_id,
                segment: segment_first,
                offset: base + frame_at as u64,
                len,
            };
            s.entries.insert(e.log_id.index, loc);
            s.cache_push(
                e,
                len as usize + super::format::FRAME_HEADER_BYTES as usize,
                self.shared.limits.cache_bytes,
            );
        }
        let want_spare = half_full && s.spares.is_empty() && !s.preparing_spare;
        drop(s);
        if want_spare {
            self.start_spare();
        }
        if groups.buf.capacity() <= ENCODE_BUF_KEPT {
            *self.encode_buf() = groups.buf;
        }
        Ok(())
    }

    fn encode_buf(&self) -> MutexGuard<'_, Vec<u8>> {
        self.shared.encode_buf.lock().expect("encode buffer lock")
    }

    /// A new segment starting at `first`: from `spare`, else with
    /// [`Limits::step_bytes`] of zeroed space made now. Its header page is
    /// written and synced before the file gets its `wal-` name, and the
    /// rename is made durable before it holds an entry.
    fn new_segment(&self, spare: Option<Spare>, first: u64) -> io::Result<Segment> {
        let (disk, dir) = (&self.shared.disk, &self.shared.dir);
        let Spare { file, path, bytes } = match spare {
            Some(spare) => spare,
            None => {
                tracing::debug!(
                    first,
                    "no spare log segment ready: zero-filling a small one now"
                );
                let path = spare_path(dir);
                let bytes = self.shared.limits.step_bytes;
                let file = prepare_spare(disk.as_ref(), &path, bytes)?;
                Spare { file, path, bytes }
            }
        };
        let salt = rand::random::<u64>();
        let header = file
            .write_all_at(&segment_header(first, salt), 0)
            .and_then(|()| file.sync_data());
        if let Err(e) = header {
            if is_no_space(&e) {
                // Still a spare (its header is rewritten when it is used).
                self.state().spares.push(Spare { file, path, bytes });
            }
            return Err(e);
        }
        disk.rename(&path, &dir.join(segment_name(first)))?;
        disk.sync_dir(dir)?;
        Ok(Segment {
            file,
            salt,
            write_pos: SEGMENT_HEADER_BYTES,
            end: SEGMENT_HEADER_BYTES,
            capacity: bytes.max(SEGMENT_HEADER_BYTES),
            next_index: first,
            last_group: None,
        })
    }

    /// Zero-fills a spare segment of [`Limits::segment_bytes`] (about 40 ms
    /// of disk writes for 64 MiB here), on a thread of its own when
    /// [`Limits::background`].
    fn start_spare(&self) {
        let path = spare_path(&self.shared.dir);
        let bytes = self.shared.limits.segment_bytes;
        let shared: Weak<Shared> = Arc::downgrade(&self.shared);
        let job = move || {
            let Some(shared) = shared.upgrade() else {
                return;
            };
            let result = prepare_spare(shared.disk.as_ref(), &path, bytes);
            let mut s = shared.state.lock().expect("log state lock");
            s.preparing_spare = false;
            match result {
                // Purges may have recycled enough segments meanwhile.
                Ok(_) if s.spares.len() >= SPARES_KEPT => {
                    drop(s);
                    let _ = shared.disk.remove_file(&path);
                }
                Ok(file) => s.spares.push(Spare { file, path, bytes }),
                Err(e) => {
                    tracing::warn!(spare = %path.display(), error = %e,
                        "could not prepare a spare log segment; the next segment is made when needed");
                }
            }
        };
        self.state().preparing_spare = true;
        if !self.shared.limits.background {
            job();
            return;
        }
        let spawned = std::thread::Builder::new()
            .name("corral-log-spare".into())
            .spawn(job);
        if let Err(e) = spawned {
            self.state().preparing_spare = false;
            tracing::warn!(error = %e, "could not start preparing a spare log segment");
        }
    }

    /// Removes entries with index >= `from`.
    ///
    /// Later segments are deleted (and the deletions made durable) first;
    /// then, unless `from` is the first entry of its segment (which goes
    /// too), a truncation mark is appended to that segment: nothing
    /// acknowledged is rewritten or cut, so a power loss at any point
    /// leaves the log as it was or as it is to be.
    pub(crate) fn truncate_blocking(&self, from: u64) -> io::Result<()> {
        self.check_failed()?;
        let mut s = self.state();
        let Some(loc) = s.entries.get(&from).copied() else {
            return Ok(());
        };
        s.generation += 1;
        s.entries.split_off(&from);
        s.cache_truncate(from);
        let dir = &self.shared.dir;
        let disk = &self.shared.disk;
        // The segments that go entirely, the one holding `from` too if it
        // is its first entry. Deleted last first: a power loss may keep any
        // prefix of the deletions, and each prefix must leave a log without
        // a gap (the simulator found the ascending order's gap).
        let first_doomed = if loc.segment == from {
            loc.segment
        } else {
            loc.segment + 1
        };
        let doomed: Vec<u64> = s.segments.range(first_doomed..).map(|(f, _)| *f).collect();
        if !doomed.is_empty() {
            for f in doomed.iter().rev() {
                s.segments.remove(f);
                disk.remove_file(&dir.join(segment_name(*f)))
                    .map_err(|e| self.fail("deleting a truncated log segment", e))?;
            }
            disk.sync_dir(dir)
                .map_err(|e| self.fail("syncing the log directory", e))?;
        }
        if loc.segment == from {
            return Ok(());
        }
        let seg = s.segments.get_mut(&loc.segment).expect("entry's segment");
        let mark = truncation_mark(seg.salt, from, seg.end);
        let (file, at) = (seg.file.clone(), seg.write_pos);
        drop(s);
        loop {
            match file.write_all_at(&mark, at) {
                Ok(()) => break,
                Err(e) if is_no_space(&e) => self.wait_for_space("log truncation", e)?,
                Err(e) => return Err(self.fail("writing a truncation mark", e)),
            }
        }
        file.sync_data()
            .map_err(|e| self.fail("syncing a truncation mark", e))?;
        self.space_is_back();
        let mut s = self.state();
        let seg = s.segments.get_mut(&loc.segment).expect("entry's segment");
        seg.end = at + GROUP_HEADER_BYTES;
        seg.write_pos = at + PAGE;
        seg.next_index = from;
        seg.capacity = seg.capacity.max(seg.write_pos);
        seg.last_group = Some((at, from));
        Ok(())
    }

    /// Records `log_id` as purged (durably) and drops what it covers.
    ///
    /// First waits until a snapshot covering `log_id` is durable (a
    /// follower installing the leader's snapshot is told to purge before
    /// the snapshot file is written; a purge mark past the newest durable
    /// snapshot would leave a node that cannot start). Segment files whose
    /// entries are all purged, and older than the oldest snapshot kept (so
    /// that falling back to it at startup still finds its log), are then
    /// recycled as spares or deleted, afterwards, on a thread of their own
    /// when [`Limits::background`]: deleting them late is safe, since the
    /// purge mark is durable first and a segment left by a crash is
    /// skipped at open and deleted by the next purge.
    pub(crate) fn purge_blocking(&self, log_id: LogId) -> io::Result<()> {
        self.check_failed()?;
        if let Some(snapshots) = &self.shared.snapshots {
            if !snapshots.wait_covering(log_id.index, self.shared.limits.purge_wait) {
                return Err(self.fail(
                    "purging the log",
                    io::Error::other(format!(
                        "no durable snapshot covers index {} after {:?}",
                        log_id.index, self.shared.limits.purge_wait
                    )),
                ));
            }
        }
        let mut s = self.state();
        let vote = s.vote;
        s.meta
            .save(&Meta {
                vote,
                purged: Some(log_id),
            })
            .map_err(|e| self.fail("saving the purge mark", e))?;
        s.purged = Some(log_id);
        s.generation += 1;
        s.entries = s.entries.split_off(&(log_id.index + 1));
        s.cache_purge(log_id.index);
        let floor = self
            .shared
            .snapshots
            .as_ref()
            .and_then(|d| d.oldest_kept())
            .map_or(log_id.index, |oldest| oldest.min(log_id.index));
        // A segment whose entries are all at or below the floor goes, unless
        // it is the last one and the log continues right after it.
        // Segments of full size become spares while fewer than SPARES_KEPT
        // are ready (recycled: renamed, not deleted).
        let firsts: Vec<u64> = s.segments.keys().copied().collect();
        let (dir, disk) = (&self.shared.dir, &self.shared.disk);
        let mut doomed = Vec::new();
        let mut renamed = Vec::new();
        for (i, first) in firsts.iter().enumerate() {
            let next_index = s.segments[first].next_index;
            let all_gone = next_index <= floor + 1;
            let continues_here = i + 1 == firsts.len() && next_index == log_id.index + 1;
            if !all_gone || continues_here {
                continue;
            }
            let seg = s.segments.remove(first).expect("listed");
            let path = dir.join(segment_name(*first));
            let bytes = seg.file.len().unwrap_or(0);
            let recycle = s.spares.len() + renamed.len() < SPARES_KEPT
                && bytes >= self.shared.limits.segment_bytes;
            if recycle {
                let spare = spare_path(dir);
                match disk.rename(&path, &spare) {
                    Ok(()) => {
                        renamed.push(Spare {
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
        if !renamed.is_empty() {
            // Durable before the file's header is ever rewritten: otherwise a
            // power loss could leave `wal-<old>` holding another index's
            // header.
            match disk.sync_dir(dir) {
                Ok(()) => self.state().spares.extend(renamed),
                Err(e) => {
                    tracing::warn!(error = %e, "could not make recycled segments durable; dropping them");
                    doomed.extend(renamed.into_iter().map(|r| r.path));
                }
            }
        }
        if doomed.is_empty() {
            return Ok(());
        }
        let job = {
            let (disk, dir) = (disk.clone(), dir.clone());
            move || {
                let removed = doomed.iter().try_for_each(|p| match disk.remove_file(p) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                    _ => Ok(()),
                });
                if let Err(e) = removed.and_then(|()| disk.sync_dir(&dir)) {
                    tracing::warn!(error = %e,
                        "deleting purged log segments failed; they are skipped and deleted after a restart");
                }
            }
        };
        if self.shared.limits.background {
            if let Err(e) = std::thread::Builder::new()
                .name("corral-log-purge".into())
                .spawn(job)
            {
                tracing::warn!(error = %e, "could not start deleting purged segments");
            }
        } else {
            job();
        }
        Ok(())
    }

    /// Makes `vote` durable.
    pub(crate) fn save_vote_blocking(&self, vote: Vote) -> io::Result<()> {
        self.check_failed()?;
        let mut s = self.state();
        let purged = s.purged;
        s.meta
            .save(&Meta {
                vote: Some(vote),
                purged,
            })
            .map_err(|e| self.fail("saving the vote", e))?;
        s.vote = Some(vote);
        Ok(())
    }

    /// Makes the entries above the snapshot `to` (older than the purge
    /// mark) the log again, if every one of them is still on disk: at
    /// startup, when the newest snapshot is unusable and an older one is
    /// restored instead. Returns whether it could.
    pub(crate) fn unpurge_to(&self, to: Option<LogId>) -> io::Result<bool> {
        let mut s = self.state();
        if to >= s.purged {
            return Ok(true);
        }
        let from = to.map_or(0, |l| l.index + 1);
        let purged = s.purged.map_or(0, |l| l.index);
        // Scan the segments again for the entries between.
        let mut found = BTreeMap::new();
        for (first, seg) in &s.segments {
            let what = self.shared.dir.join(segment_name(*first));
            let Ok(scan) = scan_segment(
                seg.file.as_ref(),
                *first,
                false,
                &what.display().to_string(),
            ) else {
                continue;
            };
            for loc in scan.entries {
                if loc.log_id.index >= from && loc.log_id.index <= purged {
                    found.insert(loc.log_id.index, loc);
                }
            }
        }
        if (from..=purged).any(|i| !found.contains_key(&i)) {
            return Ok(false);
        }
        let vote = s.vote;
        s.meta.save(&Meta { vote, purged: to })?;
        s.purged = to;
        s.generation += 1;
        s.entries.extend(found);
        Ok(true)
    }

    /// The last group of the last segment: `(segment, offset, first
    /// index)` (the crash simulator's damage trials).
    #[cfg(any(test, feature = "simulation"))]
    pub(crate) fn last_group(&self) -> Option<(u64, u64, u64)> {
        let s = self.state();
        let (first, seg) = s.segments.last_key_value()?;
        seg.last_group.map(|(at, index)| (*first, at, index))
    }

    /// Segment files, first indexes in order (tests).
    #[cfg(test)]
    pub(crate) fn segment_firsts(&self) -> Vec<u64> {
        self.state().segments.keys().copied().collect()
    }
}
