//! `NativeClient`: an [`EmbeddedClient`] with kazoo's verbs. Every
//! method extracts its arguments, calls embed or core, waits with the GIL
//! released ([`crate::wait`]) and converts the result.

use std::sync::{Arc, Mutex};

use corral::client::{CreateOptions, MultiOpResult};
use corral::proto::{AddWatchMode, CreateMode, Stat};
use corral_embed::{Delivery, EmbeddedClient, Options, SessionToken};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes};

use crate::error::to_py;
use crate::lock::NativeLock;
use crate::watches::Watches;
use crate::{millis, wait};

/// kazoo's `ZnodeStat` field order.
pub type StatTuple = (i64, i64, i64, i64, i32, i32, i32, i64, i32, i32, i64);

pub fn stat_tuple(stat: &Stat) -> StatTuple {
    (
        stat.czxid,
        stat.mzxid,
        stat.ctime,
        stat.mtime,
        stat.version,
        stat.cversion,
        stat.aversion,
        stat.ephemeral_owner,
        stat.data_length,
        stat.num_children,
        stat.pzxid,
    )
}

/// kazoo's `version=-1` means "any version".
fn any_version(version: i32) -> Option<i32> {
    (version != -1).then_some(version)
}

fn create_options(ephemeral: bool, sequence: bool) -> CreateOptions {
    CreateOptions::new(match (ephemeral, sequence) {
        (false, false) => CreateMode::Persistent,
        (true, false) => CreateMode::Ephemeral,
        (false, true) => CreateMode::PersistentSequential,
        (true, true) => CreateMode::EphemeralSequential,
    })
}

/// The native half of `corral.Client`.
#[pyclass(module = "corral._native")]
pub struct NativeClient {
    options: Options,
    client: Mutex<Option<Arc<EmbeddedClient>>>,
    /// The client `stop()` closed, kept so that its event forwarding is
    /// not aborted (dropping an `EmbeddedClient` ends its queue) before the
    /// final state reaches the listeners.
    stopped: Mutex<Option<Arc<EmbeddedClient>>>,
    watches: Arc<Watches>,
}

impl NativeClient {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Arc<EmbeddedClient>>> {
        self.client.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The connected client, or `ConnectionClosedError` (code CLOSING)
    /// before `start()` and after `stop()`.
    pub fn embedded(&self, py: Python<'_>) -> PyResult<Arc<EmbeddedClient>> {
        self.slot()
            .clone()
            .ok_or_else(|| to_py(py, corral_embed::Error::Client(corral::Error::ClientClosed)))
    }
}

#[pymethods]
impl NativeClient {
    /// `hosts`: `host:port,...[/chroot]`; `session_timeout_ms`: the session
    /// timeout to ask for; `session`: a session token to resume.
    #[new]
    #[pyo3(signature = (hosts, session_timeout_ms=None, request_timeout_ms=None, session=None))]
    fn new(
        hosts: &str,
        session_timeout_ms: Option<u64>,
        request_timeout_ms: Option<u64>,
        session: Option<&str>,
    ) -> PyResult<NativeClient> {
        let mut options = Options::new(hosts);
        options.session_timeout = millis(session_timeout_ms);
        options.request_timeout = millis(request_timeout_ms);
        options.resume = session
            .map(|token| token.parse::<SessionToken>())
            .transpose()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(NativeClient {
            options,
            client: Mutex::new(None),
            stopped: Mutex::new(None),
            watches: Arc::default(),
        })
    }

    /// Connects (at most `timeout_ms`); a no-op when connected.
    #[pyo3(signature = (timeout_ms=None))]
    fn start(&self, py: Python<'_>, timeout_ms: Option<u64>) -> PyResult<()> {
        if self.slot().is_some() {
            return Ok(());
        }
        let mut options = self.options.clone();
        options.connect_timeout = millis(timeout_ms);
        let watches = Arc::clone(&self.watches);
        let delivery = Delivery::Callback(Box::new(move |event| watches.deliver(event)));
        let client = wait(py, EmbeddedClient::connect(options, delivery))?;
        *self.slot() = Some(Arc::new(client));
        Ok(())
    }

    /// Closes the session (its ephemerals go) and the connection; a no-op
    /// when not connected.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        let Some(client) = self.slot().take() else {
            return Ok(());
        };
        let closed = wait(py, client.close());
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
        closed
    }

    /// Drops the connection but keeps the session on the servers, for
    /// another process to resume with its token.
    fn detach(&self, py: Python<'_>) -> PyResult<()> {
        let Some(client) = self.slot().take() else {
            return Ok(());
        };
        wait(
            py,
            client.call(|c| async move {
                c.detach().await;
                Ok(())
            }),
        )
    }

    #[getter]
    fn connected(&self, py: Python<'_>) -> PyResult<bool> {
        match self.slot().clone() {
            Some(client) => Ok(client.state().map_err(|e| to_py(py, e))?.is_connected()),
            None => Ok(false),
        }
    }

    #[pyo3(signature = (path, value, ephemeral=false, sequence=false, makepath=false))]
    fn create(
        &self,
        py: Python<'_>,
        path: String,
        value: Vec<u8>,
        ephemeral: bool,
        sequence: bool,
        makepath: bool,
    ) -> PyResult<String> {
        let options = create_options(ephemeral, sequence);
        let client = self.embedded(py)?;
        let call = client.call(move |c| async move {
            let created = if makepath {
                c.create_with_parents(&path, &value, &options).await
            } else {
                c.create(&path, &value, &options).await
            };
            created.map(|(path, _)| path)
        });
        wait(py, call)
    }

    fn ensure_path(&self, py: Python<'_>, path: String) -> PyResult<()> {
        let client = self.embedded(py)?;
        wait(
            py,
            client.call(|c| async move { c.ensure_path(&path).await }),
        )
    }

    /// The data and stat; with `watch`, a one-shot data watch whose event
    /// calls `watch(event_tuple)` on the client's event thread.
    #[pyo3(signature = (path, watch=None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        path: &str,
        watch: Option<Py<PyAny>>,
    ) -> PyResult<(Bound<'py, PyBytes>, StatTuple)> {
        let client = self.embedded(py)?;
        let (data, stat) = match watch {
            None => wait(py, client.get_data(path))?,
            Some(callback) => {
                let (data, stat, id) = wait(py, client.get_and_watch_data(path))?;
                self.watches.register(py, id, callback, false);
                (data, stat)
            }
        };
        Ok((PyBytes::new(py, &data), stat_tuple(&stat)))
    }

    #[pyo3(signature = (path, value, version=-1))]
    fn set(&self, py: Python<'_>, path: &str, value: Vec<u8>, version: i32) -> PyResult<StatTuple> {
        let client = self.embedded(py)?;
        let stat = wait(py, client.set_data(path, &value, any_version(version)))?;
        Ok(stat_tuple(&stat))
    }

    #[pyo3(signature = (path, version=-1, recursive=false))]
    fn delete(&self, py: Python<'_>, path: String, version: i32, recursive: bool) -> PyResult<()> {
        let client = self.embedded(py)?;
        if recursive {
            wait(
                py,
                client.call(|c| async move { c.delete_recursive(&path).await }),
            )
        } else {
            wait(py, client.delete(&path, any_version(version)))
        }
    }

    fn exists(&self, py: Python<'_>, path: &str) -> PyResult<Option<StatTuple>> {
        let client = self.embedded(py)?;
        Ok(wait(py, client.exists(path))?.as_ref().map(stat_tuple))
    }

    fn get_children(&self, py: Python<'_>, path: &str) -> PyResult<Vec<String>> {
        let client = self.embedded(py)?;
        wait(py, client.get_children(path))
    }

    fn get_children_with_stat(
        &self,
        py: Python<'_>,
        path: String,
    ) -> PyResult<(Vec<String>, StatTuple)> {
        let client = self.embedded(py)?;
        let (children, stat) = wait(
            py,
            client.call(|c| async move { c.get_children_with_stat(&path).await }),
        )?;
        Ok((children, stat_tuple(&stat)))
    }

    fn sync(&self, py: Python<'_>, path: String) -> PyResult<()> {
        let client = self.embedded(py)?;
        wait(py, client.call(|c| async move { c.sync(&path).await }))
    }

    /// A persistent (or persistent recursive) watch calling `callback`
    /// for every event until `remove_watch(id)`; returns its id.
    #[pyo3(signature = (path, callback, recursive=false))]
    fn add_watch(
        &self,
        py: Python<'_>,
        path: &str,
        callback: Py<PyAny>,
        recursive: bool,
    ) -> PyResult<u64> {
        let client = self.embedded(py)?;
        let mode = if recursive {
            AddWatchMode::PersistentRecursive
        } else {
            AddWatchMode::Persistent
        };
        let id = wait(py, client.add_watch(path, mode))?;
        self.watches.register(py, id, callback, true);
        Ok(id)
    }

    fn remove_watch(&self, py: Python<'_>, id: u64) -> PyResult<()> {
        let client = self.embedded(py)?;
        client.remove_watch(id);
        drop(self.watches.unregister(id));
        Ok(())
    }

    fn add_listener(&self, listener: Py<PyAny>) {
        self.watches.add_listener(listener);
    }

    fn remove_listener(&self, listener: &Bound<'_, PyAny>) -> bool {
        self.watches.remove_listener(listener)
    }

    /// `(session id, password)`, as kazoo's `client_id`.
    #[getter]
    fn client_id<'py>(&self, py: Python<'py>) -> PyResult<Option<(i64, Bound<'py, PyBytes>)>> {
        let Some(client) = self.slot().clone() else {
            return Ok(None);
        };
        let session = client.client().map_err(|e| to_py(py, e))?.session();
        Ok(Some((session.id, PyBytes::new(py, &session.password))))
    }

    /// The session as core's versioned text token (`v1:...`).
    #[getter]
    fn session_token(&self, py: Python<'_>) -> PyResult<String> {
        let client = self.embedded(py)?;
        Ok(client
            .session_token()
            .map_err(|e| to_py(py, e))?
            .to_string())
    }

    /// Commits `ops` atomically. Each op is `(kind, path, data, version,
    /// ephemeral, sequence)` with kind `create`, `delete`, `set_data` or
    /// `check`. Results in order: the created path, True, the new stat,
    /// True. A failed op raises its exception with `.index`.
    fn multi(
        &self,
        py: Python<'_>,
        ops: Vec<(String, String, Vec<u8>, i32, bool, bool)>,
    ) -> PyResult<Vec<Py<PyAny>>> {
        let client = self.embedded(py)?;
        let call = client.call(move |c| async move {
            let mut multi = c.multi();
            for (kind, path, data, version, ephemeral, sequence) in &ops {
                multi = match kind.as_str() {
                    "create" => multi.create(path, data, &create_options(*ephemeral, *sequence)),
                    "delete" => multi.delete(path, any_version(*version)),
                    "set_data" => multi.set_data(path, data, any_version(*version)),
                    "check" => multi.check(path, *version),
                    other => {
                        return Err(corral::Error::BadArguments {
                            reason: format!("unknown transaction op {other:?}"),
                        })
                    }
                };
            }
            multi.commit().await
        });
        let results = wait(py, call)?;
        results
            .into_iter()
            .map(|result| {
                Ok(match result {
                    MultiOpResult::Create { path, .. } => {
                        path.into_pyobject(py)?.into_any().unbind()
                    }
                    MultiOpResult::SetData { stat } => {
                        stat_tuple(&stat).into_pyobject(py)?.into_any().unbind()
                    }
                    _ => PyBool::new(py, true).to_owned().into_any().unbind(),
                })
            })
            .collect()
    }

    /// A Curator-layout lock on `path` whose nodes hold `identifier`.
    fn new_lock(&self, py: Python<'_>, path: &str, identifier: Vec<u8>) -> PyResult<NativeLock> {
        NativeLock::new(py, self.embedded(py)?, path, &identifier)
    }
}
