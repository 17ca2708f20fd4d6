//! [`Mutex`]: a distributed lock on Curator's `InterProcessMutex` layout.

use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::client::Client;
use crate::error::{Error, Result};

use super::lease::Lease;
use super::lock_queue::{Grant, LockQueue};

/// Curator's lock node name (`InterProcessMutex.LOCK_NAME`).
pub const LOCK_NAME: &str = "lock-";

/// A distributed mutual-exclusion lock, interoperable with Apache
/// Curator's `InterProcessMutex` on the same path.
///
/// Each acquirer creates an ephemeral sequential node
/// `<path>/_c_<uuid>-lock-<seq>` (missing parents become containers); the
/// lowest sequence holds the lock and every other acquirer watches only
/// the node just ahead of it. A Java service calling
/// `new InterProcessMutex(client, path).acquire()` queues in the same line.
///
/// The lock is held by the *session*, not by a task: it is not
/// reentrant. A second [`acquire`](Mutex::acquire) through the same
/// `Mutex` object (or a clone) while a lease it granted is alive fails at
/// once with [`Error::LockHeld`](crate::Error::LockHeld) rather than
/// waiting behind its own node forever (Curator's `InterProcessMutex` is
/// reentrant per thread instead; async code has no thread to key on).
/// Another `Mutex` object on the same session and path still queues
/// behind the first. Each grant is a [`Lease`] with a fencing token (the
/// node's czxid) and a [`lost`](Lease::lost) signal.
///
/// ```no_run
/// use std::time::Duration;
/// use corral::client::Client;
/// use corral::recipes::Mutex;
///
/// # async fn demo() -> Result<(), corral::Error> {
/// let client = Client::connect("127.0.0.1:2181").await?;
/// let mutex = Mutex::new(&client, "/locks/invoices");
///
/// let lease = mutex.acquire().await?;
/// // Hand the token to the guarded resource with every write: it refuses
/// // writes carrying a token smaller than one it has seen.
/// println!("holding with fencing token {}", lease.fencing_token());
/// tokio::select! {
///     reason = lease.lost() => eprintln!("lock lost: {reason:?}"),
///     _ = tokio::time::sleep(Duration::from_secs(1)) => {}
/// }
/// lease.release().await?;
///
/// // Or give up after a while:
/// match mutex.try_acquire(Duration::from_secs(5)).await? {
///     Some(lease) => {
///         lease.release().await?;
///     }
///     None => eprintln!("busy"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Mutex {
    queue: LockQueue,
    data: Vec<u8>,
    /// For an exclusive lock: set while a lease this object (or a clone)
    /// granted lives. `None` where one object may hold several grants
    /// (read locks, a semaphore's inner lock used by concurrent acquires).
    held: Option<Arc<AtomicBool>>,
}

impl Mutex {
    /// A mutex on `path` (which need not exist yet).
    pub fn new(client: &Client, path: &str) -> Mutex {
        Mutex::with_lock_name(client, path, LOCK_NAME, Grant::FirstN(1))
    }

    pub(crate) fn with_lock_name(
        client: &Client,
        path: &str,
        lock_name: &str,
        grant: Grant,
    ) -> Mutex {
        Mutex {
            queue: LockQueue {
                client: client.clone(),
                path: path.to_owned(),
                lock_name: lock_name.to_owned(),
                sort_names: vec![LOCK_NAME],
                grant,
            },
            data: Vec::new(),
            held: (grant == Grant::FirstN(1)).then(|| Arc::new(AtomicBool::new(false))),
        }
    }

    pub(crate) fn queue(&self) -> &LockQueue {
        &self.queue
    }

    pub(crate) fn queue_mut(&mut self) -> &mut LockQueue {
        &mut self.queue
    }

    /// The same mutex, writing `data` into its lock nodes (Curator writes
    /// the host's address by default; `LeaderSelector` its participant id).
    pub fn with_data(mut self, data: &[u8]) -> Mutex {
        self.data = data.to_vec();
        self
    }

    /// The lock's path.
    pub fn path(&self) -> &str {
        &self.queue.path
    }

    /// Waits until the lock is held. Fails with the client's error if the
    /// session ends, or `NoNode` if the waiting node is deleted under us.
    /// Dropping the future gives up and removes the waiting node.
    pub async fn acquire(&self) -> Result<Lease> {
        // Without a deadline the queue never gives up, so `None` cannot
        // come back; map it to a timeout rather than panic regardless.
        self.check_not_held()?;
        let lease = self
            .queue
            .acquire(&self.data, None)
            .await?
            .ok_or(crate::Error::Timeout)?;
        Ok(self.mark_held(lease))
    }

    /// As [`acquire`](Mutex::acquire), giving up after `timeout`
    /// (`Ok(None)`, the waiting node removed).
    pub async fn try_acquire(&self, timeout: Duration) -> Result<Option<Lease>> {
        self.check_not_held()?;
        let lease = self
            .queue
            .acquire(&self.data, Some(Instant::now() + timeout))
            .await?;
        Ok(lease.map(|lease| self.mark_held(lease)))
    }

    /// The full paths of the contenders' nodes, holder first (Curator's
    /// `getParticipantNodes`).
    pub async fn participant_nodes(&self) -> Result<Vec<String>> {
        let children = self.queue.sorted_children().await?;
        Ok(children
            .iter()
            .map(|c| super::protected::join(&self.queue.path, c))
            .collect())
    }

    /// Fails at once if a lease of this lock object is alive: waiting
    /// behind our own node would never end.
    fn check_not_held(&self) -> Result<()> {
        if self
            .held
            .as_ref()
            .is_some_and(|h| h.load(Ordering::Acquire))
        {
            return Err(Error::LockHeld {
                path: self.queue.path.clone(),
            });
        }
        Ok(())
    }

    fn mark_held(&self, lease: Lease) -> Lease {
        match &self.held {
            Some(held) => lease.holding(Arc::clone(held)),
            None => lease,
        }
    }

    /// This lock without the re-acquire check, for a semaphore whose one
    /// object serves concurrent acquires through it.
    pub(crate) fn without_held_check(mut self) -> Mutex {
        self.held = None;
        self
    }
}
