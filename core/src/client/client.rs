//! [`Client`]: a cheap, cloneable handle on one session, with every
//! ZooKeeper operation.

use std::fmt;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::connector::Connector;
use super::options::CreateOptions;
use super::session::{AfterReply, Command, Outcome};
use super::shared::Shared;
use super::state::{SessionInfo, SessionState};
use super::watcher::{
    lock, DropNotice, OneshotWatcher, PersistentWatcher, SinkEvent, StateWatcher, WatchKind,
    WatchRegistration, WatchSender, WatchSink,
};
use crate::error::{Error, Result};
use crate::proto::{
    Acl, AddWatchMode, AddWatchRequest, ClientInfo, CreateMode, CreateRequest, CreateTtlRequest,
    DeleteRequest, ExistsRequest, GetAclRequest, GetAllChildrenNumberRequest, GetChildren2Request,
    GetChildrenRequest, GetDataRequest, GetEphemeralsRequest, RemoveWatchesRequest, Request,
    Response, SetAclRequest, SetDataRequest, Stat, SyncRequest, WatcherType,
};

/// A ZooKeeper client: one session, shared by every clone.
///
/// Cloning is cheap (an `Arc`); all clones use the same session,
/// connection and watches. Operations may run concurrently: they are
/// pipelined on the one connection and answered in order.
///
/// Paths are absolute (`/a/b`) and relative to the chroot of the connect
/// string; paths the client returns are too. Every operation fails with
/// [`Error::Timeout`] when no reply comes within the request timeout
/// (waiting for a reconnection included), [`Error::ConnectionLoss`] when the
/// connection broke while it was in flight (it may or may not have been
/// applied), [`Error::SessionExpired`] / [`Error::ClientClosed`] once the
/// client has ended, and [`Error::InvalidPath`] for paths ZooKeeper would
/// refuse.
///
/// Dropping the last handle (or [`detach`](Client::detach)) stops the
/// connection **without** closing the session: its ephemerals stay until
/// the session times out (or until another client resumes it, see
/// [`Connector::session`]). Call [`close`](Client::close) to end the
/// session now.
///
/// ```no_run
/// use corral::client::{Client, CreateOptions};
/// use corral::proto::CreateMode;
///
/// # async fn demo() -> Result<(), corral::Error> {
/// let client = Client::connect("127.0.0.1:2181").await?;
/// let (path, _stat) = client
///     .create("/workers/w-", b"host-1", &CreateOptions::new(CreateMode::EphemeralSequential))
///     .await?;
/// println!("registered as {path}");
/// client.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Handle>,
    /// What this handle's reads promise (see [`Client::with_consistency`]).
    consistency: ReadConsistency,
}

/// What a read promises about the state it returns (per client handle:
/// [`Client::with_consistency`], [`Client::linearizable`]).
///
/// No ZooKeeper client offers this as an option; ZooKeeper's own reads
/// are [`Local`](ReadConsistency::Local).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReadConsistency {
    /// Answered by the connected server from its own state: never older
    /// than this session's own writes and earlier reads, but possibly
    /// behind writes other sessions made through other servers.
    /// ZooKeeper's behaviour and the default.
    #[default]
    Local,
    /// Each read is preceded by a `sync` on the same connection and
    /// answered after it, so it reflects every write committed before the
    /// read started, whichever server it went through.
    ///
    /// Against Corral this is linearizable: a sync is a Raft log entry,
    /// committed only by a leader that still holds a quorum, and the read
    /// is answered once the connected server has applied it. **Against
    /// Apache ZooKeeper it is weaker**: its leader does not confirm it
    /// still leads before answering a sync, so a deposed leader (in a
    /// partition, before it notices) can let a read miss a newer write
    /// (ZOOKEEPER-1675; the ZooKeeper Programmer's Guide calls sync+read
    /// "not strictly" linearizable). [`guarantee_on_zookeeper`] says so
    /// in code. It costs one more round trip per read.
    ///
    /// [`guarantee_on_zookeeper`]: ReadConsistency::guarantee_on_zookeeper
    Linearizable,
}

impl ReadConsistency {
    /// Whether reads with this consistency are linearizable against an
    /// Apache ZooKeeper ensemble: never (see
    /// [`Linearizable`](ReadConsistency::Linearizable)); against Corral,
    /// `Linearizable` is.
    pub fn guarantee_on_zookeeper(self) -> &'static str {
        match self {
            ReadConsistency::Local => "local (per-session order only)",
            ReadConsistency::Linearizable => {
                "sync then read: sees writes committed before the sync unless the leader was deposed"
            }
        }
    }
}

/// What the handles share; dropping it (the last `Client`) ends the task.
struct Handle {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let session = self.shared().session();
        f.debug_struct("Client")
            .field("session_id", &format_args!("{:#x}", session.id))
            .field("state", &self.state())
            .field("chroot", &self.shared().chroot)
            .finish()
    }
}

fn unexpected(what: &str) -> Error {
    Error::Protocol(format!("unexpected reply to {what}"))
}

impl Client {
    /// Connects with default settings; see [`Connector`] for the others.
    pub async fn connect(connect_string: &str) -> Result<Client> {
        Connector::new(connect_string).connect().await
    }

    /// A [`Connector`] for `connect_string`.
    pub fn connector(connect_string: &str) -> Connector {
        Connector::new(connect_string)
    }

    pub(crate) fn from_parts(
        shared: Arc<Shared>,
        commands: mpsc::UnboundedSender<Command>,
    ) -> Client {
        Client {
            inner: Arc::new(Handle { shared, commands }),
            consistency: ReadConsistency::Local,
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// This client (same session, same connection) whose reads
    /// (`get_data`, `exists`, `get_children`, `get_children_with_stat`,
    /// `get_acl`, `get_all_children_number`, `get_ephemerals`) promise
    /// `consistency`. Watching reads stay local (the watch, not the
    /// read, tells of later changes).
    pub fn with_consistency(&self, consistency: ReadConsistency) -> Client {
        Client {
            inner: Arc::clone(&self.inner),
            consistency,
        }
    }

    /// [`with_consistency`](Client::with_consistency)`(Linearizable)`.
    pub fn linearizable(&self) -> Client {
        self.with_consistency(ReadConsistency::Linearizable)
    }

    /// What this handle's reads promise.
    pub fn read_consistency(&self) -> ReadConsistency {
        self.consistency
    }

    /// Before a read: nothing for `Local`; a sync on the same connection
    /// for `Linearizable` (the read is sent after its reply, so the
    /// server answers it from a state at least that new).
    async fn read_barrier(&self, path: &str) -> Result<()> {
        match self.consistency {
            ReadConsistency::Local => Ok(()),
            ReadConsistency::Linearizable => self.sync(path).await,
        }
    }

    /// Validates a client path and gives its server path.
    pub(crate) fn checked_path(&self, path: &str, sequential: bool) -> Result<String> {
        let checked = if sequential {
            crate::path::validate_sequential_path(path)
        } else {
            crate::path::validate_path(path)
        };
        checked.map_err(|e| Error::InvalidPath {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(crate::path::apply_chroot(&self.shared().chroot, path))
    }

    fn client_path(&self, server_path: &str) -> String {
        crate::path::strip_chroot(&self.shared().chroot, server_path)
    }

    /// The request for a create at `path` (a server path).
    pub(crate) fn create_request(
        path: String,
        data: Option<&[u8]>,
        options: &CreateOptions,
    ) -> Result<Request> {
        let flags = options.mode.flag();
        let acl = options.acl.clone();
        let data = data.map(<[u8]>::to_vec);
        match (options.mode.is_ttl(), options.ttl) {
            (true, Some(ttl)) => Ok(Request::CreateTtl(CreateTtlRequest {
                path,
                data,
                acl,
                flags,
                ttl: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
            })),
            (true, None) => Err(Error::BadArguments {
                reason: format!("{:?} needs a ttl", options.mode),
            }),
            (false, Some(_)) => Err(Error::BadArguments {
                reason: format!("{:?} takes no ttl", options.mode),
            }),
            (false, None) => {
                let request = CreateRequest {
                    path,
                    data,
                    acl,
                    flags,
                };
                Ok(if options.mode == CreateMode::Container {
                    Request::CreateContainer(request)
                } else {
                    Request::Create2(request)
                })
            }
        }
    }

    /// Sends a command and waits for its outcome, within the request timeout.
    async fn submit(
        &self,
        command: impl FnOnce(oneshot::Sender<Outcome>) -> Command,
    ) -> Result<Outcome> {
        let (tx, rx) = oneshot::channel();
        if self.inner.commands.send(command(tx)).is_err() {
            return Err(self.shared().end_error());
        }
        match tokio::time::timeout(self.shared().request_timeout, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            // Dropped unanswered: the client ended, or (defensively) the
            // request was lost with its connection.
            Ok(Err(_)) if self.shared().has_ended() => Err(self.shared().end_error()),
            Ok(Err(_)) => Err(Error::ConnectionLoss),
            Err(_) => Err(Error::Timeout),
        }
    }

    async fn call_after(
        &self,
        request: Request,
        path: &str,
        after: AfterReply,
    ) -> Result<Response> {
        let outcome = self
            .submit(|reply| Command::Request {
                request,
                after,
                reply,
            })
            .await?;
        match outcome {
            Outcome::Reply(response) => Ok(response),
            Outcome::Code(code) => Err(Error::from_wire(code, path)),
            Outcome::Failed(err) => Err(err),
        }
    }

    /// Sends `request` (about the client path `path`, for errors).
    pub(crate) async fn call(&self, request: Request, path: &str) -> Result<Response> {
        self.call_after(request, path, AfterReply::Nothing).await
    }

    fn oneshot_registration(
        &self,
        path: &str,
        kind: WatchKind,
    ) -> (
        WatchRegistration,
        oneshot::Receiver<crate::client::WatchedEvent>,
    ) {
        let (tx, rx) = oneshot::channel();
        let id = lock(&self.shared().registry).next_id();
        let registration = WatchRegistration {
            id,
            path: path.to_owned(),
            kind,
            sender: WatchSender::Oneshot(tx),
        };
        (registration, rx)
    }

    /// Creates a node; returns its path (with the sequence suffix for
    /// sequential modes, relative to the chroot) and stat.
    ///
    /// Uses create2, createContainer or createTTL as the mode requires. TTL
    /// modes need `options.ttl` (and a server with TTLs enabled, else
    /// [`Error::Unimplemented`]); other modes refuse one
    /// ([`Error::BadArguments`]). Fails with `NodeExists`, `NoNode` (no
    /// parent), `NoChildrenForEphemerals`, `InvalidAcl`, `NoAuth`.
    pub async fn create(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions,
    ) -> Result<(String, Stat)> {
        self.create_nullable(path, Some(data), options).await
    }

    /// As [`create`](Client::create), with `None` for null data (as
    /// ZooKeeper's Java client's `create(path, null, ...)`), which
    /// [`get_data_nullable`](Client::get_data_nullable) tells from empty
    /// data. For the C ABI, whose callers can pass `NULL`.
    pub async fn create_nullable(
        &self,
        path: &str,
        data: Option<&[u8]>,
        options: &CreateOptions,
    ) -> Result<(String, Stat)> {
        let server = self.checked_path(path, options.mode.is_sequential())?;
        let request = Client::create_request(server, data, options)?;
        match self.call(request, path).await? {
            Response::Create2(r) => Ok((self.client_path(&r.path), r.stat)),
            _ => Err(unexpected("create")),
        }
    }

    /// Creates `path` and every missing ancestor as empty persistent nodes
    /// with the open ACL (kazoo's `ensure_path`); nodes that already exist
    /// are left alone.
    pub async fn ensure_path(&self, path: &str) -> Result<()> {
        self.checked_path(path, false)?;
        if path == "/" || self.exists(path).await?.is_some() {
            return Ok(());
        }
        let mut prefix = String::new();
        for segment in path.split('/').skip(1) {
            prefix.push('/');
            prefix.push_str(segment);
            match self
                .create(&prefix, b"", &CreateOptions::persistent())
                .await
            {
                Ok(_) | Err(Error::NodeExists { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// As [`create`](Client::create), first creating missing ancestors as
    /// empty persistent nodes (kazoo's `create(..., makepath=True)`).
    pub async fn create_with_parents(
        &self,
        path: &str,
        data: &[u8],
        options: &CreateOptions,
    ) -> Result<(String, Stat)> {
        match self.create(path, data, options).await {
            Err(Error::NoNode { .. }) => {
                if let Some(parent) = crate::path::parent(path) {
                    self.ensure_path(parent).await?;
                }
                self.create(path, data, options).await
            }
            other => other,
        }
    }

    /// Deletes `path` and everything under it, deepest nodes first (kazoo's
    /// `delete(path, recursive=True)`). Not atomic: nodes created under it
    /// meanwhile make it fail with `NotEmpty`; nodes deleted meanwhile are
    /// fine. Fails with `NoNode` if `path` does not exist.
    pub async fn delete_recursive(&self, path: &str) -> Result<()> {
        self.checked_path(path, false)?;
        // Breadth-first listing; deleting it in reverse order removes
        // every child before its parent.
        let mut nodes = vec![path.to_owned()];
        let mut next = 0;
        while next < nodes.len() {
            let children = match self.get_children(&nodes[next]).await {
                Ok(children) => children,
                Err(Error::NoNode { .. }) if next > 0 => Vec::new(),
                Err(err) => return Err(err),
            };
            let parent = nodes[next].clone();
            nodes.extend(children.iter().map(|c| crate::path::join(&parent, c)));
            next += 1;
        }
        for (i, node) in nodes.iter().enumerate().rev() {
            match self.delete(node, None).await {
                Err(Error::NoNode { .. }) if i > 0 => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Deletes a node; `version` is the expected data version (`None`: any).
    /// Fails with `NoNode`, `BadVersion`, `NotEmpty`.
    pub async fn delete(&self, path: &str, version: Option<i32>) -> Result<()> {
        let request = Request::Delete(DeleteRequest {
            path: self.checked_path(path, false)?,
            version: version.unwrap_or(-1),
        });
        self.call(request, path).await.map(|_| ())
    }

    /// The node's stat, `None` if it does not exist.
    pub async fn exists(&self, path: &str) -> Result<Option<Stat>> {
        self.read_barrier(path).await?;
        let request = Request::Exists(ExistsRequest {
            path: self.checked_path(path, false)?,
            watch: false,
        });
        match self.call(request, path).await {
            Ok(Response::Exists(r)) => Ok(Some(r.stat)),
            Ok(_) => Err(unexpected("exists")),
            Err(Error::NoNode { .. }) => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// As [`exists`](Client::exists), leaving a one-shot watch that fires
    /// on the node's creation (if absent), data change or deletion.
    pub async fn exists_and_watch(&self, path: &str) -> Result<(Option<Stat>, OneshotWatcher)> {
        let request = Request::Exists(ExistsRequest {
            path: self.checked_path(path, false)?,
            watch: true,
        });
        let (registration, rx) = self.oneshot_registration(path, WatchKind::Data);
        let id = registration.id;
        let stat = match self
            .call_after(request, path, AfterReply::Watch(registration))
            .await
        {
            Ok(Response::Exists(r)) => Some(r.stat),
            Ok(_) => return Err(unexpected("exists")),
            Err(Error::NoNode { .. }) => None,
            Err(err) => return Err(err),
        };
        let watcher = OneshotWatcher::new(rx, id, path.to_owned(), self.shared().clone());
        Ok((stat, watcher))
    }

    /// The node's data and stat. Fails with `NoNode`, `NoAuth`.
    pub async fn get_data(&self, path: &str) -> Result<(Vec<u8>, Stat)> {
        self.read_barrier(path).await?;
        let request = Request::GetData(GetDataRequest {
            path: self.checked_path(path, false)?,
            watch: false,
        });
        match self.call(request, path).await? {
            // Null data reads as empty here (ZooKeeper's Java client gives
            // null; this API has no null).
            Response::GetData(r) => Ok((r.data.unwrap_or_default(), r.stat)),
            _ => Err(unexpected("getData")),
        }
    }

    /// As [`get_data`](Client::get_data), telling null data (`None`) from
    /// empty data, as ZooKeeper's Java and C clients do.
    pub async fn get_data_nullable(&self, path: &str) -> Result<(Option<Vec<u8>>, Stat)> {
        self.read_barrier(path).await?;
        let request = Request::GetData(GetDataRequest {
            path: self.checked_path(path, false)?,
            watch: false,
        });
        match self.call(request, path).await? {
            Response::GetData(r) => Ok((r.data, r.stat)),
            _ => Err(unexpected("getData")),
        }
    }

    /// As [`get_data`](Client::get_data), leaving a one-shot watch that
    /// fires on the node's next data change or deletion.
    pub async fn get_and_watch_data(&self, path: &str) -> Result<(Vec<u8>, Stat, OneshotWatcher)> {
        let request = Request::GetData(GetDataRequest {
            path: self.checked_path(path, false)?,
            watch: true,
        });
        let (registration, rx) = self.oneshot_registration(path, WatchKind::Data);
        let id = registration.id;
        match self
            .call_after(request, path, AfterReply::Watch(registration))
            .await?
        {
            Response::GetData(r) => {
                let watcher = OneshotWatcher::new(rx, id, path.to_owned(), self.shared().clone());
                Ok((r.data.unwrap_or_default(), r.stat, watcher))
            }
            _ => Err(unexpected("getData")),
        }
    }

    /// Replaces the node's data; `version` is the expected data version
    /// (`None`: any). Returns the new stat. Fails with `NoNode`, `BadVersion`.
    pub async fn set_data(&self, path: &str, data: &[u8], version: Option<i32>) -> Result<Stat> {
        let request = Request::SetData(SetDataRequest {
            path: self.checked_path(path, false)?,
            data: Some(data.to_vec()),
            version: version.unwrap_or(-1),
        });
        match self.call(request, path).await? {
            Response::SetData(r) => Ok(r.stat),
            _ => Err(unexpected("setData")),
        }
    }

    /// A [`WatchSink`]: one ordered channel for the session's state
    /// changes and the events of every watch set into it, with the state
    /// now. The receiver gets `SinkEvent::State` for each later change and
    /// `SinkEvent::Watch` for each event of its watches, in the order the
    /// session task produced them; it closes when the session ends and
    /// every sink handle and watch is gone.
    pub fn watch_sink(&self) -> (WatchSink, mpsc::UnboundedReceiver<SinkEvent>, SessionState) {
        let (tx, rx, current) = self.shared().subscribe_sink();
        (WatchSink { tx }, rx, current)
    }

    /// As [`get_and_watch_data`](Client::get_and_watch_data), delivering
    /// the one-shot watch's event into `sink`; returns the watch's id.
    pub async fn get_and_watch_data_into(
        &self,
        path: &str,
        sink: &WatchSink,
    ) -> Result<(Vec<u8>, Stat, u64)> {
        let request = Request::GetData(GetDataRequest {
            path: self.checked_path(path, false)?,
            watch: true,
        });
        let id = lock(&self.shared().registry).next_id();
        let registration = WatchRegistration {
            id,
            path: path.to_owned(),
            kind: WatchKind::Data,
            sender: WatchSender::Sink {
                id,
                persistent: false,
                tx: sink.tx.clone(),
            },
        };
        match self
            .call_after(request, path, AfterReply::Watch(registration))
            .await?
        {
            Response::GetData(r) => Ok((r.data.unwrap_or_default(), r.stat, id)),
            _ => Err(unexpected("getData")),
        }
    }

    /// A one-shot watch registration delivering into `sink`.
    fn sink_registration(
        &self,
        path: &str,
        kind: WatchKind,
        sink: &WatchSink,
    ) -> WatchRegistration {
        let id = lock(&self.shared().registry).next_id();
        WatchRegistration {
            id,
            path: path.to_owned(),
            kind,
            sender: WatchSender::Sink {
                id,
                persistent: false,
                tx: sink.tx.clone(),
            },
        }
    }

    /// As [`exists_and_watch`](Client::exists_and_watch), delivering the
    /// one-shot watch's event into `sink`; returns the stat and the
    /// watch's id.
    pub async fn exists_and_watch_into(
        &self,
        path: &str,
        sink: &WatchSink,
    ) -> Result<(Option<Stat>, u64)> {
        let request = Request::Exists(ExistsRequest {
            path: self.checked_path(path, false)?,
            watch: true,
        });
        let registration = self.sink_registration(path, WatchKind::Data, sink);
        let id = registration.id;
        match self
            .call_after(request, path, AfterReply::Watch(registration))
            .await
        {
            Ok(Response::Exists(r)) => Ok((Some(r.stat), id)),
            Ok(_) => Err(unexpected("exists")),
            Err(Error::NoNode { .. }) => Ok((None, id)),
            Err(err) => Err(err),
        }
    }

    /// As [`get_and_watch_children`](Client::get_and_watch_children),
    /// delivering the one-shot watch's event into `sink`; returns the
    /// children, the stat and the watch's id.
    pub async fn get_and_watch_children_into(
        &self,
        path: &str,
        sink: &WatchSink,
    ) -> Result<(Vec<String>, Stat, u64)> {
        let request = Request::GetChildren2(GetChildren2Request {
            path: self.checked_path(path, false)?,
            watch: true,
        });
        let registration = self.sink_registration(path, WatchKind::Child, sink);
        let id = registration.id;
        match self
            .call_after(request, path, AfterReply::Watch(registration))
            .await?
        {
            Response::GetChildren2(r) => Ok((r.children, r.stat, id)),
            _ => Err(unexpected("getChildren2")),
        }
    }

    /// As [`add_watch`](Client::add_watch), delivering the watch's events
    /// into `sink`; returns the watch's id.
    pub async fn add_watch_into(
        &self,
        path: &str,
        mode: AddWatchMode,
        sink: &WatchSink,
    ) -> Result<u64> {
        let request = Request::AddWatch(AddWatchRequest {
            path: self.checked_path(path, false)?,
            mode: mode.code(),
        });
        let id = lock(&self.shared().registry).next_id();
        let registration = WatchRegistration {
            id,
            path: path.to_owned(),
            kind: WatchKind::from_mode(mode),
            sender: WatchSender::Sink {
                id,
                persistent: true,
                tx: sink.tx.clone(),
            },
        };
        self.call_after(request, path, AfterReply::Watch(registration))
            .await?;
        Ok(id)
    }

    /// Stops delivering watch `id` into its sink (as dropping a watcher
    /// does: the server's watch is removed once no local watcher is left
    /// on the path). Unknown ids are ignored.
    pub fn remove_sink_watch(&self, id: u64) {
        let removed = lock(&self.shared().registry).unregister_id(id);
        if let Some((path, kind)) = removed {
            let remaining = lock(&self.shared().registry).has(&path, kind);
            if !remaining {
                let _ = self.shared().drops.send(DropNotice { path, kind });
            }
        }
    }

    /// The node's ACL and stat.
    pub async fn get_acl(&self, path: &str) -> Result<(Vec<Acl>, Stat)> {
        self.read_barrier(path).await?;
        let request = Request::GetAcl(GetAclRequest {
            path: self.checked_path(path, false)?,
        });
        match self.call(request, path).await? {
            Response::GetAcl(r) => Ok((r.acl, r.stat)),
            _ => Err(unexpected("getACL")),
        }
    }

    /// Replaces the node's ACL; `version` is the expected ACL version
    /// (`aversion`; `None`: any). Returns the new stat.
    pub async fn set_acl(&self, path: &str, acl: &[Acl], version: Option<i32>) -> Result<Stat> {
        let request = Request::SetAcl(SetAclRequest {
            path: self.checked_path(path, false)?,
            acl: acl.to_vec(),
            version: version.unwrap_or(-1),
        });
        match self.call(request, path).await? {
            Response::SetAcl(r) => Ok(r.stat),
            _ => Err(unexpected("setACL")),
        }
    }

    /// The names of the node's children (unsorted, as the server sends them).
    pub async fn get_children(&self, path: &str) -> Result<Vec<String>> {
        self.read_barrier(path).await?;
        let request = Request::GetChildren(GetChildrenRequest {
            path: self.checked_path(path, false)?,
            watch: false,
        });
        match self.call(request, path).await? {
            Response::GetChildren(r) => Ok(r.children),
            _ => Err(unexpected("getChildren")),
        }
    }

    /// The names of the node's children and the node's stat.
    pub async fn get_children_with_stat(&self, path: &str) -> Result<(Vec<String>, Stat)> {
        self.read_barrier(path).await?;
        let request = Request::GetChildren2(GetChildren2Request {
            path: self.checked_path(path, false)?,
            watch: false,
        });
        match self.call(request, path).await? {
            Response::GetChildren2(r) => Ok((r.children, r.stat)),
            _ => Err(unexpected("getChildren2")),
        }
    }

    /// As [`get_children_with_stat`](Client::get_children_with_stat),
    /// leaving a one-shot watch that fires when a child is created or
    /// deleted (`NodeChildrenChanged`) or the node is deleted.
    pub async fn get_and_watch_children(
        &self,
        path: &str,
    ) -> Result<(Vec<String>, Stat, OneshotWatcher)> {
        let request = Request::GetChildren2(GetChildren2Request {
            path: self.checked_path(path, false)?,
            watch: true,
        });
        let (registration, rx) = self.oneshot_registration(path, WatchKind::Child);
        let id = registration.id;
        match self
            .call_after(request, path, AfterReply::Watch(registration))
            .await?
        {
            Response::GetChildren2(r) => {
                let watcher = OneshotWatcher::new(rx, id, path.to_owned(), self.shared().clone());
                Ok((r.children, r.stat, watcher))
            }
            _ => Err(unexpected("getChildren2")),
        }
    }

    /// The number of descendants of the node (not counting itself).
    pub async fn get_all_children_number(&self, path: &str) -> Result<i32> {
        self.read_barrier(path).await?;
        let request = Request::GetAllChildrenNumber(GetAllChildrenNumberRequest {
            path: self.checked_path(path, false)?,
        });
        match self.call(request, path).await? {
            Response::GetAllChildrenNumber(r) => Ok(r.total_number),
            _ => Err(unexpected("getAllChildrenNumber")),
        }
    }

    /// The paths of this session's ephemeral nodes whose path starts with
    /// `prefix` (a string prefix: `/app/w` matches `/app/worker-1`), chroot
    /// stripped. `"/"` lists them all.
    pub async fn get_ephemerals(&self, prefix: &str) -> Result<Vec<String>> {
        self.read_barrier(prefix).await?;
        let request = Request::GetEphemerals(GetEphemeralsRequest {
            prefix_path: self.checked_path(prefix, false)?,
        });
        match self.call(request, prefix).await? {
            Response::GetEphemerals(r) => {
                Ok(r.ephemerals.iter().map(|p| self.client_path(p)).collect())
            }
            _ => Err(unexpected("getEphemerals")),
        }
    }

    /// Waits until the connected server has caught up with the leader, so
    /// that later reads see every write committed before this call.
    pub async fn sync(&self, path: &str) -> Result<()> {
        let request = Request::Sync(SyncRequest {
            path: self.checked_path(path, false)?,
        });
        self.call(request, path).await.map(|_| ())
    }

    /// Adds a persistent (or, with `PersistentRecursive`, recursive) watch
    /// on `path`, which need not exist; see [`PersistentWatcher`].
    ///
    /// ```no_run
    /// # async fn demo(client: corral::client::Client) -> Result<(), corral::Error> {
    /// use corral::proto::{AddWatchMode, EventType};
    /// let mut watcher = client.add_watch("/config", AddWatchMode::PersistentRecursive).await?;
    /// loop {
    ///     let event = watcher.changed().await;
    ///     if event.is_terminal() {
    ///         break; // removed, or the session ended
    ///     }
    ///     if event.event_type == EventType::NodeDataChanged {
    ///         let (data, _) = client.get_data(&event.path).await?;
    ///         println!("{} = {:?}", event.path, data);
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn add_watch(&self, path: &str, mode: AddWatchMode) -> Result<PersistentWatcher> {
        let request = Request::AddWatch(AddWatchRequest {
            path: self.checked_path(path, false)?,
            mode: mode.code(),
        });
        let (tx, rx) = mpsc::unbounded_channel();
        let id = lock(&self.shared().registry).next_id();
        let registration = WatchRegistration {
            id,
            path: path.to_owned(),
            kind: WatchKind::from_mode(mode),
            sender: WatchSender::Persistent(tx),
        };
        self.call_after(request, path, AfterReply::Watch(registration))
            .await?;
        Ok(PersistentWatcher::new(
            rx,
            id,
            path.to_owned(),
            mode,
            self.shared().clone(),
        ))
    }

    /// Removes this session's watches of `watcher_type` on `path`, on the
    /// server and locally: each local watcher removed ends with a
    /// `DataWatchRemoved`, `ChildWatchRemoved` or `PersistentWatchRemoved`
    /// event. `Data` covers exists and getData watches; `Any` every kind.
    /// Fails with `NoWatcher` when the server has none.
    pub async fn remove_watches(&self, path: &str, watcher_type: WatcherType) -> Result<()> {
        let request = Request::RemoveWatches(RemoveWatchesRequest {
            path: self.checked_path(path, false)?,
            watcher_type: watcher_type.code(),
        });
        let after = AfterReply::RemoveWatches {
            path: path.to_owned(),
            watcher_type,
        };
        self.call_after(request, path, after).await.map(|_| ())
    }

    /// Adds credentials to the session (e.g. `("digest", b"user:password")`);
    /// they are re-sent on every reconnection. A scheme the server does
    /// not know fails with [`Error::AuthFailed`], which ends the client
    /// (state `AuthFailed`), as in ZooKeeper.
    pub async fn add_auth(&self, scheme: &str, auth: &[u8]) -> Result<()> {
        let outcome = self
            .submit(|reply| Command::Auth {
                scheme: scheme.to_owned(),
                auth: auth.to_vec(),
                reply,
            })
            .await?;
        match outcome {
            Outcome::Reply(_) => Ok(()),
            Outcome::Code(code) => Err(Error::from_wire(code, "")),
            Outcome::Failed(err) => Err(err),
        }
    }

    /// The identities the session is authenticated as (ZooKeeper 3.7+).
    pub async fn who_am_i(&self) -> Result<Vec<ClientInfo>> {
        match self.call(Request::WhoAmI, "").await? {
            Response::WhoAmI(r) => Ok(r.client_info),
            _ => Err(unexpected("whoAmI")),
        }
    }

    /// Ends the session: sends closeSession after every request already
    /// issued, waits for its reply (at most the request timeout), and
    /// closes the connection. The session's ephemerals are deleted, every
    /// watcher ends with a `Closed` event, and later calls fail with
    /// [`Error::ClientClosed`]. Closing a client that has already ended does
    /// nothing. While disconnected, only the local side is closed: the
    /// session then expires on the servers after its timeout.
    pub async fn close(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Close { reply: tx })
            .is_err()
        {
            return Ok(());
        }
        let bound = self.shared().request_timeout + std::time::Duration::from_secs(2);
        match tokio::time::timeout(bound, rx).await {
            Ok(_) => Ok(()),
            Err(_) => Err(Error::Timeout),
        }
    }

    /// Stops this client **without** ending its session, for a hand-over:
    /// the connection is dropped, watchers end with a `Closed` event, later
    /// calls fail with [`Error::ClientClosed`], but the session and its
    /// ephemerals live on until another client resumes it
    /// ([`Connector::session`] with [`session`](Client::session)) or its
    /// timeout passes. Dropping every handle does the same; `detach` also
    /// works while clones are alive (recipes, bindings).
    pub async fn detach(&self) {
        let (tx, rx) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Detach { reply: tx })
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// The session's id, password and negotiated timeout, to resume it
    /// from another client with [`Connector::session`].
    pub fn session(&self) -> SessionInfo {
        self.shared().session()
    }

    /// The highest zxid seen in a reply (0 before the first).
    pub fn last_zxid(&self) -> i64 {
        self.shared().last_zxid()
    }

    /// The current session state.
    pub fn state(&self) -> SessionState {
        self.shared().state()
    }

    /// A watcher of every later state change.
    pub fn state_watcher(&self) -> StateWatcher {
        let (rx, current) = self.shared().subscribe();
        StateWatcher::new(rx, current)
    }

    /// The chroot of the connect string (`""` for none).
    pub fn chroot(&self) -> &str {
        &self.shared().chroot
    }
}
