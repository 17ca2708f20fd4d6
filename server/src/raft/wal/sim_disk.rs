//! A simulated disk for the log's crash tests: files and directories in
//! memory, with what a power loss does to what was not yet made durable.
//!
//! Every file keeps its durable bytes (as of its last sync) and the writes
//! and length changes since. Every directory keeps its durable entries and
//! the creations, renames and removals since its last sync. At a power
//! loss ([`SimDisk::power_loss`]):
//! - each write not yet synced survives sector by sector (512 bytes), each
//!   sector independently: lost, kept, or kept while an earlier one is
//!   lost (writes reordered between syncs); a length change survives or not;
//! - each 4 KiB page that an unsynced write touched may instead be garbled
//!   whole, including bytes of that page synced earlier (a device that
//!   rewrites the page and loses power halfway);
//! - in each directory, a prefix of the operations since its last sync
//!   survives (the journal commits them in order), the rest is undone;
//!   files no directory names any more are gone.
//!
//! The power loss itself is scheduled: [`SimDisk::crash_at`] makes the
//! n-th I/O call (counting every call of [`Disk`] and [`DiskFile`]) and
//! every later one fail, as if the machine stopped there. Faults that the
//! process lives through are scheduled the same way: an `EIO` at one call,
//! or a space limit beyond which writes fail with `ENOSPC`.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::rngs::StdRng;
use rand::Rng;

use super::disk::{Disk, DiskFile, Open};

const SECTOR: usize = 512;
const PAGE: usize = 4096;

/// The error of every call at and after a scheduled power loss.
pub(crate) fn is_power_loss(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Other && e.to_string() == POWER_LOSS
}

const POWER_LOSS: &str = "simulated power loss";

#[derive(Debug, Clone)]
enum FileOp {
    Write { offset: u64, data: Vec<u8> },
    SetLen(u64),
}

#[derive(Debug, Default)]
struct Inode {
    /// What reads see.
    current: Vec<u8>,
    /// What survives a power loss for certain.
    durable: Vec<u8>,
    /// Changes since the last sync, in order.
    pending: Vec<FileOp>,
}

#[derive(Debug, Clone)]
enum DirOp {
    Link(String, u64),
    Unlink(String),
    Rename(String, String),
}

#[derive(Debug, Default)]
struct Dir {
    current: BTreeMap<String, u64>,
    durable: BTreeMap<String, u64>,
    pending: Vec<DirOp>,
}

fn apply_dir_op(entries: &mut BTreeMap<String, u64>, op: &DirOp) {
    match op {
        DirOp::Link(name, inode) => {
            entries.insert(name.clone(), *inode);
        }
        DirOp::Unlink(name) => {
            entries.remove(name);
        }
        DirOp::Rename(from, to) => {
            if let Some(inode) = entries.remove(from) {
                entries.insert(to.clone(), inode);
            }
        }
    }
}

#[derive(Debug, Default)]
struct State {
    inodes: HashMap<u64, Inode>,
    dirs: BTreeMap<PathBuf, Dir>,
    next_inode: u64,
    /// I/O calls made so far.
    calls: u64,
    /// The call at which power is lost.
    crash_at: Option<u64>,
    crashed: bool,
    /// Calls that fail with EIO (the process lives on).
    eio_at: Vec<u64>,
    /// Most bytes all files may hold together.
    space_limit: Option<u64>,
    locked: Vec<PathBuf>,
    /// Renames of a `wal-` file to a `spare-` one (segments recycled).
    recycled: u64,
    /// How long each read takes (a slow disk, for races with readers).
    read_delay: std::time::Duration,
}

/// The simulated disk; clones share it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SimDisk {
    state: Arc<Mutex<State>>,
}

fn split(path: &Path) -> io::Result<(PathBuf, String)> {
    let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "bad file name"))?;
    Ok((parent, name.to_string()))
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: no such file", path.display()),
    )
}

impl State {
    /// Counts one I/O call and fails it if a fault is scheduled there.
    fn call(&mut self) -> io::Result<()> {
        if self.crashed {
            return Err(io::Error::other(POWER_LOSS));
        }
        self.calls += 1;
        if self.crash_at.is_some_and(|at| self.calls >= at) {
            self.crashed = true;
            return Err(io::Error::other(POWER_LOSS));
        }
        if self.eio_at.contains(&self.calls) {
            return Err(io::Error::from_raw_os_error(libc::EIO));
        }
        Ok(())
    }

    fn used_bytes(&self) -> u64 {
        self.inodes.values().map(|i| i.current.len() as u64).sum()
    }

    fn check_space(&self, inode: u64, new_len: u64) -> io::Result<()> {
        let Some(limit) = self.space_limit else {
            return Ok(());
        };
        let old = self
            .inodes
            .get(&inode)
            .map_or(0, |i| i.current.len() as u64);
        if new_len > old && self.used_bytes() + (new_len - old) > limit {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        Ok(())
    }

    fn lookup(&self, path: &Path) -> io::Result<u64> {
        let (dir, name) = split(path)?;
        self.dirs
            .get(&dir)
            .and_then(|d| d.current.get(&name))
            .copied()
            .ok_or_else(|| not_found(path))
    }

    fn dir_mut(&mut self, dir: &Path) -> io::Result<&mut Dir> {
        self.dirs.get_mut(dir).ok_or_else(|| not_found(dir))
    }
}

#[derive(Debug)]
struct SimFile {
    disk: SimDisk,
    inode: u64,
}

impl SimDisk {
    /// An empty disk.
    pub(crate) fn new() -> SimDisk {
        SimDisk::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().expect("sim disk lock")
    }

    /// A copy of the disk as it is now, files, directories and what is not
    /// yet durable included, that goes its own way.
    pub(crate) fn fork(&self) -> SimDisk {
        let s = self.state();
        let copy = State {
            inodes: s
                .inodes
                .iter()
                .map(|(id, i)| {
                    (
                        *id,
                        Inode {
                            current: i.current.clone(),
                            durable: i.durable.clone(),
                            pending: i.pending.clone(),
                        },
                    )
                })
                .collect(),
            dirs: s
                .dirs
                .iter()
                .map(|(p, d)| {
                    (
                        p.clone(),
                        Dir {
                            current: d.current.clone(),
                            durable: d.durable.clone(),
                            pending: d.pending.clone(),
                        },
                    )
                })
                .collect(),
            next_inode: s.next_inode,
            calls: s.calls,
            crash_at: s.crash_at,
            crashed: s.crashed,
            eio_at: s.eio_at.clone(),
            space_limit: s.space_limit,
            locked: Vec::new(),
            recycled: s.recycled,
            read_delay: s.read_delay,
        };
        SimDisk {
            state: Arc::new(Mutex::new(copy)),
        }
    }

    #[cfg(test)]
    /// Makes every read take `delay` (outside the disk's own lock).
    pub(crate) fn slow_reads(&self, delay: std::time::Duration) {
        self.state().read_delay = delay;
    }

    /// Segments recycled as spares so far.
    pub(crate) fn recycled(&self) -> u64 {
        self.state().recycled
    }

    /// I/O calls made so far.
    pub(crate) fn calls(&self) -> u64 {
        self.state().calls
    }

    /// Power is lost at the `call`-th I/O call from the start (that call
    /// and every later one fail with the power-loss error).
    pub(crate) fn crash_at(&self, call: u64) {
        self.state().crash_at = Some(call);
    }

    #[cfg(test)]
    /// The `call`-th I/O call from the start fails with `EIO`.
    pub(crate) fn fail_with_eio_at(&self, call: u64) {
        self.state().eio_at.push(call);
    }

    #[cfg(test)]
    /// Writes that would make the files hold more than `bytes` in all fail
    /// with `ENOSPC` (`None`: no limit).
    pub(crate) fn limit_space(&self, bytes: Option<u64>) {
        self.state().space_limit = bytes;
    }

    #[cfg(test)]
    /// Bytes all files hold.
    pub(crate) fn used_bytes(&self) -> u64 {
        self.state().used_bytes()
    }

    /// Loses power now (if not already lost at a scheduled call) and
    /// comes back: what was not durable survives or not as `rng` decides
    /// (see the module docs); I/O calls work again, counting from zero,
    /// with no fault scheduled.
    pub(crate) fn power_loss(&self, rng: &mut StdRng) {
        self.power_loss_with(rng, false);
    }

    /// [`SimDisk::power_loss`], with every directory operation not yet
    /// synced undone when `undo_dir_ops` (the worst case for renames).
    pub(crate) fn power_loss_with(&self, rng: &mut StdRng, undo_dir_ops: bool) {
        let mut s = self.state();
        // Directories first: which files still exist.
        for dir in s.dirs.values_mut() {
            let keep = if dir.pending.is_empty() || undo_dir_ops {
                0
            } else {
                rng.gen_range(0..=dir.pending.len())
            };
            let pending = std::mem::take(&mut dir.pending);
            for op in &pending[..keep] {
                apply_dir_op(&mut dir.durable, op);
            }
            dir.current = dir.durable.clone();
        }
        let linked: std::collections::HashSet<u64> = s
            .dirs
            .values()
            .flat_map(|d| d.durable.values().copied())
            .collect();
        s.inodes.retain(|id, _| linked.contains(id));
        // Unsynced writes: sector by sector, and maybe a garbled page.
        for inode in s.inodes.values_mut() {
            let mut bytes = inode.durable.clone();
            let mut touched_pages = std::collections::BTreeSet::new();
            for op in std::mem::take(&mut inode.pending) {
                match op {
                    FileOp::SetLen(len) => {
                        if rng.gen_bool(0.5) {
                            bytes.resize(len as usize, 0);
                        }
                    }
                    FileOp::Write { offset, data } => {
                        let offset = offset as usize;
                        let mut at = offset;
                        while at < offset + data.len() {
                            let end = ((at / SECTOR + 1) * SECTOR).min(offset + data.len());
                            touched_pages.insert(at / PAGE);
                            if rng.gen_bool(0.5) {
                                if bytes.len() < end {
                                    bytes.resize(end, 0);
                                }
                                bytes[at..end].copy_from_slice(&data[at - offset..end - offset]);
                            }
                            at = end;
                        }
                    }
                }
            }
            for page in touched_pages {
                if rng.gen_ratio(1, 8) {
                    let start = page * PAGE;
                    let end = (start + PAGE).min(bytes.len());
                    if start < end {
                        rng.fill(&mut bytes[start..end]);
                    }
                }
            }
            inode.durable = bytes.clone();
            inode.current = bytes;
        }
        s.calls = 0;
        s.crash_at = None;
        s.crashed = false;
        s.eio_at.clear();
        s.locked.clear();
    }

    /// The durable and current bytes of `path` (tests that damage files
    /// on purpose).
    pub(crate) fn read_file(&self, path: &Path) -> io::Result<Vec<u8>> {
        let s = self.state();
        let inode = s.lookup(path)?;
        Ok(s.inodes[&inode].current.clone())
    }

    /// Overwrites bytes of `path` durably, as media damage would.
    pub(crate) fn damage(&self, path: &Path, offset: u64, bytes: &[u8]) -> io::Result<()> {
        let mut s = self.state();
        let inode = s.lookup(path)?;
        let file = s.inodes.get_mut(&inode).expect("linked inode");
        for data in [&mut file.current, &mut file.durable] {
            let end = offset as usize + bytes.len();
            if data.len() < end {
                data.resize(end, 0);
            }
            data[offset as usize..end].copy_from_slice(bytes);
        }
        Ok(())
    }

    /// Names in `dir` (no I/O call counted).
    pub(crate) fn names(&self, dir: &Path) -> Vec<String> {
        self.state()
            .dirs
            .get(dir)
            .map(|d| d.current.keys().cloned().collect())
            .unwrap_or_default()
    }
}

impl Disk for SimDisk {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.state();
        s.call()?;
        // Directories are made durable at once: the real implementation
        // syncs the parent of every directory it creates.
        let mut at = Some(dir);
        while let Some(d) = at {
            s.dirs.entry(d.to_path_buf()).or_default();
            at = d.parent().filter(|p| !p.as_os_str().is_empty());
        }
        Ok(())
    }

    fn open(&self, path: &Path, how: Open) -> io::Result<Arc<dyn DiskFile>> {
        let mut s = self.state();
        s.call()?;
        let (dir, name) = split(path)?;
        let existing = s.dirs.get(&dir).and_then(|d| d.current.get(&name)).copied();
        let inode = match (existing, how) {
            (Some(inode), Open::Existing | Open::CreateOrExisting) => inode,
            (Some(_), Open::CreateNew { .. }) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{}: exists", path.display()),
                ))
            }
            (None, Open::Existing) => return Err(not_found(path)),
            (None, Open::CreateOrExisting | Open::CreateNew { .. }) => {
                s.next_inode += 1;
                let inode = s.next_inode;
                let d = s.dir_mut(&dir)?;
                d.current.insert(name.clone(), inode);
                d.pending.push(DirOp::Link(name, inode));
                s.inodes.insert(inode, Inode::default());
                inode
            }
        };
        Ok(Arc::new(SimFile {
            disk: self.clone(),
            inode,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.state();
        s.call()?;
        let (from_dir, from_name) = split(from)?;
        let (to_dir, to_name) = split(to)?;
        if from_dir != to_dir {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "the simulated disk renames within one directory only",
            ));
        }
        let d = s.dir_mut(&from_dir)?;
        let inode = d
            .current
            .remove(&from_name)
            .ok_or_else(|| not_found(from))?;
        d.current.insert(to_name.clone(), inode);
        let recycled = from_name.starts_with("wal-") && to_name.starts_with("spare-");
        d.pending.push(DirOp::Rename(from_name, to_name));
        s.recycled += u64::from(recycled);
        Ok(())
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        let mut s = self.state();
        s.call()?;
        let (dir, name) = split(path)?;
        let d = s.dir_mut(&dir)?;
        d.current.remove(&name).ok_or_else(|| not_found(path))?;
        d.pending.push(DirOp::Unlink(name));
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.state();
        s.call()?;
        let d = s.dir_mut(dir)?;
        d.durable = d.current.clone();
        d.pending.clear();
        Ok(())
    }

    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut s = self.state();
        s.call()?;
        Ok(s.dir_mut(dir)?.current.keys().cloned().collect())
    }

    fn lock(&self, path: &Path) -> io::Result<Box<dyn Any + Send + Sync>> {
        let mut s = self.state();
        s.call()?;
        if s.locked.iter().any(|p| p == path) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        s.locked.push(path.to_path_buf());
        Ok(Box::new(SimLock {
            disk: self.clone(),
            path: path.to_path_buf(),
        }))
    }
}

struct SimLock {
    disk: SimDisk,
    path: PathBuf,
}

impl Drop for SimLock {
    fn drop(&mut self) {
        self.disk.state().locked.retain(|p| *p != self.path);
    }
}

impl DiskFile for SimFile {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        let delay = self.disk.state().read_delay;
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let mut s = self.disk.state();
        s.call()?;
        let data = &s.inodes.get(&self.inode).ok_or_else(stale)?.current;
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
        let mut s = self.disk.state();
        s.call()?;
        s.check_space(self.inode, offset + buf.len() as u64)?;
        let file = s.inodes.get_mut(&self.inode).ok_or_else(stale)?;
        let end = offset as usize + buf.len();
        if file.current.len() < end {
            file.current.resize(end, 0);
        }
        file.current[offset as usize..end].copy_from_slice(buf);
        file.pending.push(FileOp::Write {
            offset,
            data: buf.to_vec(),
        });
        Ok(())
    }

    fn sync_data(&self) -> io::Result<()> {
        let mut s = self.disk.state();
        s.call()?;
        let file = s.inodes.get_mut(&self.inode).ok_or_else(stale)?;
        // Replay the changes rather than copy the file: syncs stay cheap
        // however large the file grows.
        for op in std::mem::take(&mut file.pending) {
            match op {
                FileOp::SetLen(len) => file.durable.resize(len as usize, 0),
                FileOp::Write { offset, data } => {
                    let end = offset as usize + data.len();
                    if file.durable.len() < end {
                        file.durable.resize(end, 0);
                    }
                    file.durable[offset as usize..end].copy_from_slice(&data);
                }
            }
        }
        debug_assert_eq!(file.durable.len(), file.current.len());
        Ok(())
    }

    fn sync_all(&self) -> io::Result<()> {
        self.sync_data()
    }

    fn set_len(&self, len: u64) -> io::Result<()> {
        let mut s = self.disk.state();
        s.call()?;
        s.check_space(self.inode, len)?;
        let file = s.inodes.get_mut(&self.inode).ok_or_else(stale)?;
        file.current.resize(len as usize, 0);
        file.pending.push(FileOp::SetLen(len));
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        let mut s = self.disk.state();
        s.call()?;
        Ok(s.inodes.get(&self.inode).ok_or_else(stale)?.current.len() as u64)
    }
}

/// A handle whose file a power loss removed (it was never durable).
fn stale() -> io::Error {
    io::Error::other("stale handle: the file is gone")
}
