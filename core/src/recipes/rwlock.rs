//! [`RwLock`]: a distributed read-write lock on Curator's
//! `InterProcessReadWriteLock` layout.

use std::time::Duration;

use crate::client::Client;
use crate::error::Result;

use super::lease::Lease;
use super::lock_queue::{Grant, READ_LOCK_NAME, WRITE_LOCK_NAME};
use super::mutex::Mutex;

/// A read-write lock interoperable with Apache Curator's
/// `InterProcessReadWriteLock` on the same path.
///
/// Readers create `<path>/_c_<uuid>-__READ__<seq>`, writers
/// `<path>/_c_<uuid>-__WRIT__<seq>`, all ordered by sequence. A writer holds
/// when it is first; a reader holds when no writer is ahead of it (so a
/// waiting writer stops later readers: writers are not starved). A waiting
/// writer watches its predecessor; a waiting reader watches the first
/// writer. Grants are [`Lease`]s with fencing tokens (czxids): successive
/// writers' tokens grow.
///
/// Unlike Curator's, this lock is not reentrant and a write holder cannot
/// also take the read lock (it would wait behind itself).
#[derive(Debug, Clone)]
pub struct RwLock {
    read: Mutex,
    write: Mutex,
}

impl RwLock {
    /// A read-write lock on `path` (which need not exist yet).
    pub fn new(client: &Client, path: &str) -> RwLock {
        let mut read = Mutex::with_lock_name(client, path, READ_LOCK_NAME, Grant::Read);
        let mut write = Mutex::with_lock_name(client, path, WRITE_LOCK_NAME, Grant::FirstN(1));
        for mutex in [&mut read, &mut write] {
            mutex.queue_mut().sort_names = vec![READ_LOCK_NAME, WRITE_LOCK_NAME];
        }
        RwLock { read, write }
    }

    /// The same lock, writing `data` into its nodes.
    pub fn with_data(self, data: &[u8]) -> RwLock {
        RwLock {
            read: self.read.with_data(data),
            write: self.write.with_data(data),
        }
    }

    /// Waits for a shared (read) lease.
    pub async fn read(&self) -> Result<Lease> {
        self.read.acquire().await
    }

    /// As [`read`](RwLock::read), `Ok(None)` after `timeout`.
    pub async fn try_read(&self, timeout: Duration) -> Result<Option<Lease>> {
        self.read.try_acquire(timeout).await
    }

    /// Waits for the exclusive (write) lease.
    pub async fn write(&self) -> Result<Lease> {
        self.write.acquire().await
    }

    /// As [`write`](RwLock::write), `Ok(None)` after `timeout`.
    pub async fn try_write(&self, timeout: Duration) -> Result<Option<Lease>> {
        self.write.try_acquire(timeout).await
    }

    /// The contenders' nodes in order, readers and writers.
    pub async fn participant_nodes(&self) -> Result<Vec<String>> {
        self.write.participant_nodes().await
    }
}
