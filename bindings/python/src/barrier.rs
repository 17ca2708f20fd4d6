//! `NativeBarrier`: core's [`Barrier`] (Curator's `DistributedBarrier`:
//! waiters block while the node exists).

use std::sync::Arc;

use corral::recipes::Barrier;
use corral_embed::EmbeddedClient;
use pyo3::prelude::*;

use pyo3::IntoPyObjectExt;

use crate::{finish, millis};

/// The native half of `corral.Barrier`.
#[pyclass(module = "corral._native")]
pub struct NativeBarrier {
    client: Arc<EmbeddedClient>,
    barrier: Barrier,
}

impl NativeBarrier {
    pub fn new(client: Arc<EmbeddedClient>, barrier: Barrier) -> NativeBarrier {
        NativeBarrier { client, barrier }
    }
}

#[pymethods]
impl NativeBarrier {
    /// Raises the barrier (creates its node; a no-op if raised).
    #[pyo3(signature = (done=None))]
    fn create(&self, py: Python<'_>, done: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let barrier = self.barrier.clone();
        let call = self.client.call(|_| async move { barrier.set().await });
        finish(py, call, done, |py, ()| Ok(py.None()))
    }

    /// Lowers the barrier (deletes its node; a no-op if lowered).
    #[pyo3(signature = (done=None))]
    fn remove(&self, py: Python<'_>, done: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let barrier = self.barrier.clone();
        let call = self.client.call(|_| async move { barrier.remove().await });
        finish(py, call, done, |py, ()| Ok(py.None()))
    }

    /// Waits until the barrier is lowered: True, or False when
    /// `timeout_ms` passed first.
    #[pyo3(signature = (timeout_ms=None, done=None))]
    fn wait(
        &self,
        py: Python<'_>,
        timeout_ms: Option<u64>,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let barrier = self.barrier.clone();
        let call = self.client.call(move |_| async move {
            match millis(timeout_ms) {
                None => barrier.wait().await.map(|()| true),
                Some(timeout) => barrier.wait_timeout(timeout).await,
            }
        });
        finish(py, call, done, |py, lowered: bool| lowered.into_py_any(py))
    }
}
