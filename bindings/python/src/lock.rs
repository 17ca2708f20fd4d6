//! `NativeLock`: a lease-granting recipe of core (a [`Mutex`], Curator's
//! `InterProcessMutex` layout; a [`Semaphore`], `InterProcessSemaphoreV2`;
//! an [`Election`], `LeaderSelector`) and the [`Lease`] it granted.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use corral::recipes::{Election, Lease, Mutex, Semaphore};
use corral_embed::{Call, EmbeddedClient, WatchId};
use pyo3::prelude::*;

use crate::error::{raise, to_py, LOCK_TIMEOUT};
use crate::watches::Watches;
use crate::{finish, millis, obj, wait};

/// What grants the lease.
#[derive(Clone)]
pub enum Grantor {
    /// An exclusive lock.
    Mutex(Mutex),
    /// A semaphore (one lease per `NativeLock`).
    Semaphore(Semaphore, String),
    /// A leader election: the lease is the leadership.
    Election(Election, String),
}

impl Grantor {
    fn path(&self) -> &str {
        match self {
            Grantor::Mutex(m) => m.path(),
            Grantor::Semaphore(_, path) | Grantor::Election(_, path) => path,
        }
    }

    /// A lease, or `None` when `timeout` passed.
    async fn acquire(&self, timeout: Option<Duration>) -> corral::Result<Option<Lease>> {
        match (self, timeout) {
            (Grantor::Mutex(m), None) => m.acquire().await.map(Some),
            (Grantor::Mutex(m), Some(t)) => m.try_acquire(t).await,
            (Grantor::Semaphore(s, _), None) => s.acquire().await.map(Some),
            (Grantor::Semaphore(s, _), Some(t)) => s.try_acquire(t).await,
            (Grantor::Election(e, _), None) => e.campaign().await.map(Some),
            (Grantor::Election(e, _), Some(t)) => e.try_campaign(t).await,
        }
    }

    /// The contenders: lock nodes (holder first), lease nodes, or
    /// participant ids (leader first).
    async fn contenders(&self) -> corral::Result<Vec<String>> {
        match self {
            Grantor::Mutex(m) => m.participant_nodes().await,
            Grantor::Semaphore(s, _) => s.lease_nodes().await,
            Grantor::Election(e, _) => {
                Ok(e.participants().await?.into_iter().map(|p| p.id).collect())
            }
        }
    }
}

/// The native half of `corral.Lock`, `Semaphore` and `Election`.
#[pyclass(module = "corral._native")]
pub struct NativeLock {
    client: Arc<EmbeddedClient>,
    grantor: Grantor,
    lease: Arc<StdMutex<Option<Lease>>>,
    /// Called with `(node, reason)` if a held lease is lost.
    on_lost: Option<Py<PyAny>>,
    watches: Arc<Watches>,
    /// The held lease's loss watch.
    lost_watch: Arc<StdMutex<Option<WatchId>>>,
}

impl NativeLock {
    pub fn new(
        client: Arc<EmbeddedClient>,
        grantor: Grantor,
        on_lost: Option<Py<PyAny>>,
        watches: Arc<Watches>,
    ) -> NativeLock {
        NativeLock {
            client,
            grantor,
            lease: Arc::new(StdMutex::new(None)),
            on_lost,
            watches,
            lost_watch: Arc::default(),
        }
    }

    fn lease(&self) -> std::sync::MutexGuard<'_, Option<Lease>> {
        self.lease.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl NativeLock {
    /// Waits for the lock: `blocking=False` tries once; `timeout_ms`
    /// raises `LockTimeout` when it passes. True once held.
    #[pyo3(signature = (blocking=true, timeout_ms=None, done=None))]
    fn acquire(
        &self,
        py: Python<'_>,
        blocking: bool,
        timeout_ms: Option<u64>,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if self.lease().is_some() {
            // One lease per object (a second one would replace, and so
            // release, the first).
            let held = corral::Error::LockHeld {
                path: self.grantor.path().to_owned(),
            };
            return Err(to_py(py, held.into()));
        }
        let grantor = self.grantor.clone();
        let timeout = millis(timeout_ms);
        let call = self.client.call(move |_| async move {
            let timeout = if blocking {
                timeout
            } else {
                Some(Duration::ZERO)
            };
            grantor.acquire(timeout).await
        });
        let (slot, path) = (Arc::clone(&self.lease), self.grantor.path().to_owned());
        let on_lost = self.on_lost.as_ref().map(|c| c.clone_ref(py));
        let (client, watches) = (Arc::clone(&self.client), Arc::clone(&self.watches));
        let lost_watch = Arc::clone(&self.lost_watch);
        finish(py, call, done, move |py, lease| {
            let held = lease.is_some();
            if let (true, false, Some(timeout)) = (blocking, held, timeout) {
                return Err(raise(
                    py,
                    LOCK_TIMEOUT,
                    format!("lock {path} not acquired within {timeout:?}"),
                    None,
                    Some(&path),
                ));
            }
            if let (Some(lease), Some(on_lost)) = (&lease, on_lost) {
                let id = client.watch_lease(lease).map_err(|e| to_py(py, e))?;
                watches.register(py, id, on_lost, false);
                *lost_watch.lock().unwrap_or_else(|p| p.into_inner()) = Some(id);
            }
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = lease;
            obj(py, held)
        })
    }

    /// Deletes the lock's node; False if it was not held.
    #[pyo3(signature = (done=None))]
    fn release(&self, py: Python<'_>, done: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let Some(lease) = self.lease().take() else {
            return finish(py, Call::spawn(async { Ok(()) }), done, |py, ()| {
                obj(py, false)
            });
        };
        // A release is no loss: stop watching for one first.
        let lost_watch = self
            .lost_watch
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(id) = lost_watch {
            self.client.remove_watch(id);
            drop(self.watches.unregister(id));
        }
        let call = self
            .client
            .call(|_| async move { lease.release().await.map(|_| ()) });
        finish(py, call, done, |py, ()| obj(py, true))
    }

    #[getter]
    fn is_acquired(&self) -> bool {
        self.lease().is_some()
    }

    /// The held lease's fencing token (its node's czxid), or None.
    #[getter]
    fn fencing_token(&self) -> Option<i64> {
        self.lease().as_ref().map(Lease::fencing_token)
    }

    /// The held lease's node, or None.
    #[getter]
    fn node(&self) -> Option<String> {
        self.lease().as_ref().map(|l| l.path().to_owned())
    }

    /// The contenders' nodes, holder first.
    fn contenders(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let grantor = self.grantor.clone();
        wait(
            py,
            self.client
                .call(|_| async move { grantor.contenders().await }),
        )
    }
}
