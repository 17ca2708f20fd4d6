//! [`Mutex`]: a distributed lock on Curator's `InterProcessMutex` layout.

use std::time::{Duration, Instant};

use crate::client::Client;
use crate::error::Result;

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
/// reentrant (a second [`acquire`](Mutex::acquire) through the same
/// session waits behind the first, forever if the first is never
/// released). Each grant is a [`Lease`] with a fencing token (the node's
/// czxid) and a [`lost`](Lease::lost) signal.
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
///     Some(lease) => lease.release().await?,
///     None => eprintln!("busy"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Mutex {
    queue: LockQueue,
    data: Vec<u8>,
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
        self.queue
            .acquire(&self.data, None)
            .await?
            .ok_or(crate::Error::Timeout)
    }

    /// As [`acquire`](Mutex::acquire), giving up after `timeout`
    /// (`Ok(None)`, the waiting node removed).
    pub async fn try_acquire(&self, timeout: Duration) -> Result<Option<Lease>> {
        self.queue
            .acquire(&self.data, Some(Instant::now() + timeout))
            .await
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
}
