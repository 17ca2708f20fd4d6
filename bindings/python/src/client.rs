//! `NativeClient`: an [`EmbeddedClient`] with kazoo's verbs. Every
//! method extracts its arguments, calls embed or core, waits with the GIL
//! released ([`crate::wait`]) and converts the result.

use std::sync::{Arc, Mutex};

use corral::client::{CreateOptions, MultiOpResult};
use corral::proto::{Acl, AddWatchMode, CreateMode, Id, Stat};
use corral_embed::{Call, Delivery, EmbeddedClient, Options, SessionToken};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use pyo3::IntoPyObjectExt;

use crate::error::to_py;
use crate::lock::{Grantor, NativeLock};
use crate::watches::Watches;
use crate::{finish, millis, obj, wait};
use corral::recipes::{Barrier, Election, Mutex as CoreMutex, Semaphore};

use crate::barrier::NativeBarrier;

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

/// An ACL entry as Python passes it: `(perms, scheme, id)`.
pub type AclTuple = (i32, String, String);

fn acl_from(acl: Vec<AclTuple>) -> Vec<Acl> {
    acl.into_iter()
        .map(|(perms, scheme, id)| Acl {
            perms,
            id: Id { scheme, id },
        })
        .collect()
}

fn acl_tuples(acl: Vec<Acl>) -> Vec<AclTuple> {
    acl.into_iter()
        .map(|a| (a.perms, a.id.scheme, a.id.id))
        .collect()
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
    client: Arc<Mutex<Option<Arc<EmbeddedClient>>>>,
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
    #[pyo3(signature = (hosts, session_timeout_ms=None, request_timeout_ms=None, session=None, auth_data=None, read_only=false))]
    fn new(
        hosts: &str,
        session_timeout_ms: Option<u64>,
        request_timeout_ms: Option<u64>,
        session: Option<&str>,
        auth_data: Option<Vec<(String, Vec<u8>)>>,
        read_only: bool,
    ) -> PyResult<NativeClient> {
        let mut options = Options::new(hosts);
        options.auth = auth_data.unwrap_or_default();
        options.read_only = read_only;
        options.session_timeout = millis(session_timeout_ms);
        options.request_timeout = millis(request_timeout_ms);
        options.resume = session
            .map(|token| token.parse::<SessionToken>())
            .transpose()
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(NativeClient {
            options,
            client: Arc::new(Mutex::new(None)),
            stopped: Mutex::new(None),
            watches: Arc::default(),
        })
    }

    /// Connects (at most `timeout_ms`); a no-op when connected.
    #[pyo3(signature = (timeout_ms=None, done=None))]
    fn start(
        &self,
        py: Python<'_>,
        timeout_ms: Option<u64>,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if self.slot().is_some() {
            return finish(py, Call::spawn(async { Ok(()) }), done, |py, ()| {
                Ok(py.None())
            });
        }
        let mut options = self.options.clone();
        options.connect_timeout = millis(timeout_ms);
        let watches = Arc::clone(&self.watches);
        let delivery = Delivery::Callback(Box::new(move |event| watches.deliver(event)));
        let slot = Arc::clone(&self.client);
        finish(
            py,
            EmbeddedClient::connect(options, delivery),
            done,
            move |py, client| {
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(client));
                Ok(py.None())
            },
        )
    }

    /// Closes the session (its ephemerals go) and the connection; a no-op
    /// when not connected.
    #[pyo3(signature = (done=None))]
    fn stop(&self, py: Python<'_>, done: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let Some(client) = self.slot().take() else {
            return finish(py, Call::spawn(async { Ok(()) }), done, |py, ()| {
                Ok(py.None())
            });
        };
        let close = client.close();
        *self.stopped.lock().unwrap_or_else(|p| p.into_inner()) = Some(client);
        finish(py, close, done, |py, ()| Ok(py.None()))
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

    #[pyo3(signature = (path, value, ephemeral=false, sequence=false, makepath=false, acl=None, done=None))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        &self,
        py: Python<'_>,
        path: String,
        value: Vec<u8>,
        ephemeral: bool,
        sequence: bool,
        makepath: bool,
        acl: Option<Vec<AclTuple>>,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let mut options = create_options(ephemeral, sequence);
        if let Some(acl) = acl {
            options = options.with_acl(acl_from(acl));
        }
        let client = self.embedded(py)?;
        let call = client.call(move |c| async move {
            let created = if makepath {
                c.create_with_parents(&path, &value, &options).await
            } else {
                c.create(&path, &value, &options).await
            };
            created.map(|(path, _)| path)
        });
        finish(py, call, done, |py, path: String| path.into_py_any(py))
    }

    #[pyo3(signature = (path, done=None))]
    fn ensure_path(
        &self,
        py: Python<'_>,
        path: String,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.embedded(py)?;
        let call = client.call(|c| async move { c.ensure_path(&path).await });
        finish(py, call, done, |py, ()| Ok(py.None()))
    }

    /// The data and stat; with `watch`, a one-shot data watch whose event
    /// calls `watch(event_tuple)` on the client's event thread.
    #[pyo3(signature = (path, watch=None, done=None))]
    fn get(
        &self,
        py: Python<'_>,
        path: &str,
        watch: Option<Py<PyAny>>,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.embedded(py)?;
        let Some(callback) = watch else {
            return finish(py, client.get_data(path), done, |py, (data, stat)| {
                obj(py, (PyBytes::new(py, &data), stat_tuple(&stat)))
            });
        };
        let watches = Arc::clone(&self.watches);
        finish(
            py,
            client.get_and_watch_data(path),
            done,
            move |py, (data, stat, id)| {
                watches.register(py, id, callback, false);
                obj(py, (PyBytes::new(py, &data), stat_tuple(&stat)))
            },
        )
    }

    #[pyo3(signature = (path, value, version=-1, done=None))]
    fn set(
        &self,
        py: Python<'_>,
        path: &str,
        value: Vec<u8>,
        version: i32,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.embedded(py)?;
        let call = client.set_data(path, &value, any_version(version));
        finish(py, call, done, |py, stat| obj(py, stat_tuple(&stat)))
    }

    #[pyo3(signature = (path, version=-1, recursive=false, done=None))]
    fn delete(
        &self,
        py: Python<'_>,
        path: String,
        version: i32,
        recursive: bool,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.embedded(py)?;
        let call = if recursive {
            client.call(|c| async move { c.delete_recursive(&path).await })
        } else {
            client.delete(&path, any_version(version))
        };
        finish(py, call, done, |py, ()| Ok(py.None()))
    }

    /// The stat or None; with `watch`, a one-shot watch on the node's
    /// creation, change or deletion.
    #[pyo3(signature = (path, watch=None, done=None))]
    fn exists(
        &self,
        py: Python<'_>,
        path: &str,
        watch: Option<Py<PyAny>>,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.embedded(py)?;
        let Some(callback) = watch else {
            return finish(py, client.exists(path), done, |py, stat| {
                obj(py, stat.as_ref().map(stat_tuple))
            });
        };
        let watches = Arc::clone(&self.watches);
        finish(
            py,
            client.exists_and_watch(path),
            done,
            move |py, (stat, id)| {
                watches.register(py, id, callback, false);
                obj(py, stat.as_ref().map(stat_tuple))
            },
        )
    }

    /// The children's names (with `include_data`: and the stat); with
    /// `watch`, a one-shot child watch.
    #[pyo3(signature = (path, watch=None, include_data=false, done=None))]
    fn get_children(
        &self,
        py: Python<'_>,
        path: String,
        watch: Option<Py<PyAny>>,
        include_data: bool,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.embedded(py)?;
        let result = move |py: Python<'_>, children: Vec<String>, stat: Stat| {
            if include_data {
                obj(py, (children, stat_tuple(&stat)))
            } else {
                obj(py, children)
            }
        };
        let Some(callback) = watch else {
            let call = client.call(|c| async move { c.get_children_with_stat(&path).await });
            return finish(py, call, done, move |py, (children, stat)| {
                result(py, children, stat)
            });
        };
        let watches = Arc::clone(&self.watches);
        finish(
            py,
            client.get_and_watch_children(&path),
            done,
            move |py, (children, stat, id)| {
                watches.register(py, id, callback, false);
                result(py, children, stat)
            },
        )
    }

    #[pyo3(signature = (path, done=None))]
    fn sync(&self, py: Python<'_>, path: String, done: Option<Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let client = self.embedded(py)?;
        let call = client.call(|c| async move { c.sync(&path).await });
        finish(py, call, done, |py, ()| Ok(py.None()))
    }

    /// Adds credentials to the session (`digest`, `user:password`).
    #[pyo3(signature = (scheme, credential, done=None))]
    fn add_auth(
        &self,
        py: Python<'_>,
        scheme: String,
        credential: Vec<u8>,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.embedded(py)?;
        let call = client.call(|c| async move { c.add_auth(&scheme, &credential).await });
        finish(py, call, done, |py, ()| Ok(py.None()))
    }

    /// The node's ACL as `(perms, scheme, id)` tuples, and its stat.
    #[pyo3(signature = (path, done=None))]
    fn get_acls(
        &self,
        py: Python<'_>,
        path: String,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.embedded(py)?;
        let call = client.call(|c| async move { c.get_acl(&path).await });
        finish(py, call, done, |py, (acl, stat)| {
            obj(py, (acl_tuples(acl), stat_tuple(&stat)))
        })
    }

    /// Replaces the node's ACL (`version`: the expected ACL version).
    #[pyo3(signature = (path, acl, version=-1, done=None))]
    fn set_acls(
        &self,
        py: Python<'_>,
        path: String,
        acl: Vec<AclTuple>,
        version: i32,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let client = self.embedded(py)?;
        let acl = acl_from(acl);
        let call =
            client.call(move |c| async move { c.set_acl(&path, &acl, any_version(version)).await });
        finish(py, call, done, |py, stat| obj(py, stat_tuple(&stat)))
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
    #[pyo3(signature = (ops, done=None))]
    fn multi(
        &self,
        py: Python<'_>,
        ops: Vec<(String, String, Vec<u8>, i32, bool, bool)>,
        done: Option<Py<PyAny>>,
    ) -> PyResult<Py<PyAny>> {
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
        finish(py, call, done, |py, results| {
            let results = results
                .into_iter()
                .map(|result| match result {
                    MultiOpResult::Create { path, .. } => obj(py, path),
                    MultiOpResult::SetData { stat } => obj(py, stat_tuple(&stat)),
                    _ => obj(py, true),
                })
                .collect::<PyResult<Vec<_>>>()?;
            obj(py, results)
        })
    }

    /// A Curator-layout lock on `path` whose nodes hold `identifier`;
    /// `on_lost(node, reason)` is called (on the event thread) if a held
    /// lease is lost (`NODE_DELETED`, `SESSION_EXPIRED`, `SESSION_CLOSED`).
    #[pyo3(signature = (path, identifier, on_lost=None))]
    fn new_lock(
        &self,
        py: Python<'_>,
        path: &str,
        identifier: Vec<u8>,
        on_lost: Option<Py<PyAny>>,
    ) -> PyResult<NativeLock> {
        let client = self.embedded(py)?;
        let core = client.client().map_err(|e| to_py(py, e))?;
        let grantor = Grantor::Mutex(CoreMutex::new(core, path).with_data(&identifier));
        Ok(NativeLock::new(
            client,
            grantor,
            on_lost,
            Arc::clone(&self.watches),
        ))
    }

    /// A semaphore of `max_leases` leases on `path` (Curator's
    /// `InterProcessSemaphoreV2` layout); lease nodes hold `identifier`.
    #[pyo3(signature = (path, identifier, max_leases, on_lost=None))]
    fn new_semaphore(
        &self,
        py: Python<'_>,
        path: &str,
        identifier: Vec<u8>,
        max_leases: usize,
        on_lost: Option<Py<PyAny>>,
    ) -> PyResult<NativeLock> {
        let client = self.embedded(py)?;
        let core = client.client().map_err(|e| to_py(py, e))?;
        let semaphore = Semaphore::new(core, path, max_leases).with_data(&identifier);
        let grantor = Grantor::Semaphore(semaphore, path.to_owned());
        Ok(NativeLock::new(
            client,
            grantor,
            on_lost,
            Arc::clone(&self.watches),
        ))
    }

    /// A leader election on `path` (Curator's `LeaderSelector` layout) as
    /// participant `identifier`: the lease is the leadership.
    #[pyo3(signature = (path, identifier, on_lost=None))]
    fn new_election(
        &self,
        py: Python<'_>,
        path: &str,
        identifier: &str,
        on_lost: Option<Py<PyAny>>,
    ) -> PyResult<NativeLock> {
        let client = self.embedded(py)?;
        let core = client.client().map_err(|e| to_py(py, e))?;
        let grantor = Grantor::Election(Election::new(core, path, identifier), path.to_owned());
        Ok(NativeLock::new(
            client,
            grantor,
            on_lost,
            Arc::clone(&self.watches),
        ))
    }

    /// A barrier on `path` (Curator's `DistributedBarrier`).
    fn new_barrier(&self, py: Python<'_>, path: &str) -> PyResult<NativeBarrier> {
        let client = self.embedded(py)?;
        let barrier = Barrier::new(client.client().map_err(|e| to_py(py, e))?, path);
        Ok(NativeBarrier::new(client, barrier))
    }
}
