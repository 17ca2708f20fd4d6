//! [`Semaphore`]: a counting semaphore on Curator's
//! `InterProcessSemaphoreV2` layout.

use std::time::{Duration, Instant};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::proto::CreateMode;

use super::lease::Lease;
use super::mutex::Mutex;
use super::protected::{create_protected, join, name_of, retrying, wait_for_watch};

/// Curator's lease node name (`InterProcessSemaphoreV2.LEASE_BASE_NAME`).
pub const LEASE_NAME: &str = "lease-";
/// Curator's child holding the semaphore's inner lock.
pub const LOCK_PARENT: &str = "locks";
/// Curator's child holding the leases.
pub const LEASE_PARENT: &str = "leases";

/// A counting semaphore interoperable with Apache Curator's
/// `InterProcessSemaphoreV2` (with a fixed lease count): at most
/// `max_leases` [`Lease`]s are held at once across all clients.
///
/// To acquire, a client takes the inner [`Mutex`] at `<path>/locks`,
/// creates `<path>/leases/_c_<uuid>-lease-<seq>` (ephemeral sequential)
/// and, still under the inner lock, waits until at most `max_leases` lease
/// nodes exist; then it releases the inner lock. Releasing a lease deletes
/// its node, which wakes the waiter. Every participant must agree on
/// `max_leases`, as with Curator.
#[derive(Debug, Clone)]
pub struct Semaphore {
    client: Client,
    path: String,
    max_leases: usize,
    lock: Mutex,
    data: Vec<u8>,
}

impl Semaphore {
    /// A semaphore at `path` with `max_leases` leases.
    pub fn new(client: &Client, path: &str, max_leases: usize) -> Semaphore {
        Semaphore {
            client: client.clone(),
            path: path.to_owned(),
            max_leases: max_leases.max(1),
            lock: Mutex::new(client, &join(path, LOCK_PARENT)).without_held_check(),
            data: Vec::new(),
        }
    }

    /// The same semaphore, writing `data` into its lease nodes.
    pub fn with_data(mut self, data: &[u8]) -> Semaphore {
        self.data = data.to_vec();
        self
    }

    /// Waits for a lease.
    pub async fn acquire(&self) -> Result<Lease> {
        self.acquire_until(None).await?.ok_or(Error::Timeout)
    }

    /// As [`acquire`](Semaphore::acquire), `Ok(None)` after `timeout`.
    pub async fn try_acquire(&self, timeout: Duration) -> Result<Option<Lease>> {
        self.acquire_until(Some(Instant::now() + timeout)).await
    }

    /// The lease nodes present (held, and at most one waiting), sorted.
    pub async fn lease_nodes(&self) -> Result<Vec<String>> {
        let leases = join(&self.path, LEASE_PARENT);
        let mut children = match retrying(&self.client, || self.client.get_children(&leases)).await
        {
            Ok(children) => children,
            Err(Error::NoNode { .. }) => Vec::new(),
            Err(err) => return Err(err),
        };
        super::lock_queue::sort_contenders(&mut children, &[LEASE_NAME]);
        Ok(children.iter().map(|c| join(&leases, c)).collect())
    }

    async fn acquire_until(&self, deadline: Option<Instant>) -> Result<Option<Lease>> {
        let inner = match deadline {
            None => Some(self.lock.acquire().await?),
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                self.lock.try_acquire(left).await?
            }
        };
        let Some(inner) = inner else {
            return Ok(None);
        };
        let result = self.lease_under_lock(deadline).await;
        inner.release().await?;
        result
    }

    async fn lease_under_lock(&self, deadline: Option<Instant>) -> Result<Option<Lease>> {
        let leases = join(&self.path, LEASE_PARENT);
        let (path, stat) = create_protected(
            &self.client,
            &leases,
            LEASE_NAME,
            &self.data,
            CreateMode::EphemeralSequential,
        )
        .await?;
        let lease = Lease::new(self.client.clone(), path, stat.czxid);
        let ours = name_of(lease.path()).to_owned();
        loop {
            let (children, _, watcher) =
                retrying(&self.client, || self.client.get_and_watch_children(&leases)).await?;
            if !children.contains(&ours) {
                return Err(Error::NoNode {
                    path: lease.path().to_owned(),
                });
            }
            if children.len() <= self.max_leases {
                return Ok(Some(lease));
            }
            if !wait_for_watch(&self.client, watcher, deadline).await? {
                lease.release().await?;
                return Ok(None);
            }
        }
    }
}
