//! `NativeLock`: core's [`Mutex`] (Curator's `InterProcessMutex` layout)
//! and the [`Lease`] it granted.

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use corral::recipes::{Lease, Mutex};
use corral_embed::{Call, EmbeddedClient, WatchId};
use pyo3::prelude::*;

use crate::error::{raise, to_py, LOCK_TIMEOUT};
use crate::watches::Watches;
use crate::{finish, millis, obj, wait};

/// The native half of `corral.Lock`.
#[pyclass(module = "corral._native")]
pub struct NativeLock {
    client: Arc<EmbeddedClient>,
    mutex: Mutex,
    lease: Arc<StdMutex<Option<Lease>>>,
    /// Called with `(node, reason)` if a held lease is lost.
    on_lost: Option<Py<PyAny>>,
    watches: Arc<Watches>,
    /// The held lease's loss watch.
    lost_watch: Arc<StdMutex<Option<WatchId>>>,
}

impl NativeLock {
    pub fn new(
        py: Python<'_>,
        client: Arc<EmbeddedClient>,
        path: &str,
        identifier: &[u8],
        on_lost: Option<Py<PyAny>>,
        watches: Arc<Watches>,
    ) -> PyResult<NativeLock> {
        let mutex =
            Mutex::new(client.client().map_err(|e| to_py(py, e))?, path).with_data(identifier);
        Ok(NativeLock {
            client,
            mutex,
            lease: Arc::new(StdMutex::new(None)),
            on_lost,
            watches,
            lost_watch: Arc::default(),
        })
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
        let mutex = self.mutex.clone();
        let timeout = millis(timeout_ms);
        let call = self.client.call(move |_| async move {
            match (blocking, timeout) {
                (false, _) => mutex.try_acquire(Duration::ZERO).await,
                (true, Some(timeout)) => mutex.try_acquire(timeout).await,
                (true, None) => mutex.acquire().await.map(Some),
            }
        });
        let (slot, path) = (Arc::clone(&self.lease), self.mutex.path().to_owned());
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
        let mutex = self.mutex.clone();
        wait(
            py,
            self.client
                .call(|_| async move { mutex.participant_nodes().await }),
        )
    }
}
