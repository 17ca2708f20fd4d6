//! The Raft log: segment files, the vote and purge mark, the commit hint,
//! and the openraft adapter over them.
//!
//! ```text
//! disk.rs      the file-system calls, behind a trait (real disk, fault injection)
//! sim_disk.rs  a simulated disk that loses, tears, reorders and garbles
//!              what was not made durable (tests and the crash simulator)
//! format.rs    segment header, groups, frames, the recovery scan
//! meta.rs      vote + purge mark (two pages written in turn), commit hint
//! spares.rs    spare segment files: zero-filled ahead, or recycled
//! store.rs     LogStore: open/recover, append, truncate, purge, cache
//! adapter.rs   openraft's RaftLogReader / RaftLogStorage on LogStore
//! ```
//!
//! Layout of the log directory (`<data_dir>/raft/log`):
//!
//! ```text
//! LOCK                           held (flock) while a process has the log open
//! meta                           vote + last purged log id (2 pages)
//! committed                      commit index hint (1 page, never synced)
//! wal-<first index, 20 digits>   segment files, in index order
//! spare-<n>                      zero-filled or recycled files, the next segments
//! torn-wal-<...>-<n>             a last segment whose only append was torn by a
//!                                crash, kept aside for inspection (never read)
//! ```
//!
//! ## Segment format (`CRLWAL03`)
//!
//! All integers little-endian; `crc` is crc32 of the segment's salt (a
//! random u64 chosen each time a file becomes a segment) followed by the
//! bytes it covers, so bytes left in a **recycled** file from its previous
//! use never check out.
//!
//! ```text
//! page 0:  "CRLWAL03" | u64 first index | u64 salt | u32 crc32(bytes 0..24) | zeros
//! group:   u32 crc(bytes 4..32) | u32 entry count | u64 first index | u64 prev_end
//!          | u32 body length | u32 kind (1 entries, 2 truncation mark)
//!          | frames | zeros to the next page
//! frame:   u32 body length | u32 crc(body) | body = bincode(LogId) ++ bincode(EntryPayload)
//! ```
//!
//! **One append is one group** (a follower's append of more than 1 GiB
//! becomes several), written with one `pwrite` at a page boundary and
//! `fdatasync`ed before openraft is told the entries are durable. No append
//! writes into a page that holds bytes of an earlier one, so a power loss
//! during an append (which may lose, tear or reorder the sectors being
//! written and garble whole pages being written) can damage only that
//! append's pages, never an acknowledged one. Each group records where the
//! group before it ended (`prev_end`), and the next group starts at the
//! next page: recovery follows this chain from the header page.
//!
//! ## What recovery decides ([`LogStore::open`])
//!
//! The chain of a segment ends at the first page that holds no valid group
//! that follows on. In the **last** segment, every later page is then read
//! (the look-ahead): a valid group header anywhere after the end, other
//! than a group right at the end whose body does not check out (the torn
//! append, never acknowledged), proves that acknowledged appends follow
//! damaged bytes: open refuses with the file and offset. A torn append is
//! left in place and the segment is sealed (the next append starts a new
//! segment); a last segment whose only group was torn is renamed aside. A
//! segment before the last must end exactly where the next one begins.
//! Nothing is written before all segments are judged. The only damage that
//! cannot be told from a torn append is damage to the very last append,
//! if it was acknowledged and nothing followed it: it is cut as torn, as in
//! every write-ahead log (a replica then gets it again from the leader).
//!
//! **Truncation** (a follower dropping entries that conflict with a new
//! leader) deletes later segments (durably), then appends a truncation mark
//! to the segment holding the first removed entry: nothing is cut or
//! rewritten in place. **Purging** records the purge mark in `meta` (only
//! once a snapshot covering it is durable), then recycles or deletes
//! segments older than the oldest snapshot kept.
//!
//! Segments are **preallocated with zeros** (a background thread prepares
//! the next one; purged ones are recycled), so an append's `fdatasync`
//! commits no file size or extent change (half the sync time on ext4 here).
//!
//! **Storage errors**: a failed write or `fdatasync` stops the store for
//! good (nothing is retried after a failed sync; openraft then stops, and
//! the server exits non-zero). A full disk is waited out instead: the write
//! that needs space (a new segment, a truncation mark) is retried every
//! [`Limits::space_retry`] while [`StorageHealth`] tells the server to
//! refuse new writes, and writes resume by themselves once space is freed.

mod adapter;
pub(crate) mod disk;
mod format;
mod meta;
#[cfg(any(test, feature = "simulation"))]
pub(crate) mod sim_disk;
mod spares;
mod store;

#[cfg(any(test, feature = "simulation"))]
pub(crate) mod crash_sim;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

pub(crate) use store::{Limits, LogStore, PREALLOC_STEP_BYTES, SEGMENT_BYTES};

/// Whether the log can take writes, shared with the server: while the disk
/// is full the server refuses new writes with a clear error (ZooKeeper's
/// read-only answer) and keeps serving reads.
#[derive(Debug, Default)]
pub struct StorageHealth {
    out_of_space: AtomicBool,
}

impl StorageHealth {
    /// Whether writes are refused for lack of disk space now.
    pub fn out_of_space(&self) -> bool {
        self.out_of_space.load(Ordering::SeqCst)
    }

    /// Sets the flag; returns whether it changed.
    pub(crate) fn set_out_of_space(&self, value: bool) -> bool {
        self.out_of_space.swap(value, Ordering::SeqCst) != value
    }
}

/// The snapshots that are durable, as the snapshot files report them to
/// the log: a purge waits for a snapshot covering it, and keeps the log
/// the oldest snapshot kept needs.
#[derive(Debug, Default)]
pub(crate) struct DurableSnapshots {
    /// `(newest, oldest kept)` last indexes.
    state: Mutex<(Option<u64>, Option<u64>)>,
    changed: Condvar,
}

impl DurableSnapshots {
    /// Records the durable snapshots: the newest and the oldest one kept.
    pub(crate) fn set(&self, newest: Option<u64>, oldest_kept: Option<u64>) {
        *self.state.lock().expect("snapshot floor lock") = (newest, oldest_kept);
        self.changed.notify_all();
    }

    /// The oldest snapshot kept.
    pub(crate) fn oldest_kept(&self) -> Option<u64> {
        self.state.lock().expect("snapshot floor lock").1
    }

    /// Waits (at most `timeout`) until a durable snapshot covers `index`.
    pub(crate) fn wait_covering(&self, index: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().expect("snapshot floor lock");
        loop {
            if state.0.is_some_and(|newest| newest >= index) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, deadline - now)
                .expect("snapshot floor lock")
                .0;
        }
    }
}
