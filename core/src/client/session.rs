//! The session task: owns the socket, pipelines requests, matches replies
//! in FIFO order, delivers watch events in socket order, pings, and
//! reconnects with the same session until it ends.
//!
//! One connection's life:
//!
//! ```text
//! TCP connect -> ConnectRequest{last zxid, session id, password}
//!   -> ConnectResponse (timeout <= 0: expired, the end)
//!   -> auth packets (xid -4), SetWatches2 (xid -8), queued requests
//!   -> serve: requests out, replies and notifications in, pings when idle
//!   -> socket error / read timeout: in-flight requests fail with
//!      ConnectionLoss, try the next host
//! ```

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, timeout, Instant};
use tracing::{debug, info, warn};

use super::shared::Shared;
use super::state::{SessionInfo, SessionState};
use super::watcher::{lock, DropNotice, WatchKind, WatchRegistration, WatchedEvent};
use crate::error::Error;
use crate::proto::{
    decode_reply_header, encode_frame, encode_request, AuthPacket, ConnectRequest, ConnectResponse,
    ErrorCode, EventType, FrameDecoder, KeeperState, OpCode, Record, RemoveWatchesRequest, Request,
    Response, SetWatches, SetWatches2, WatcherEvent, WatcherType, AUTH_XID, NOTIFICATION_XID,
    PING_XID, SET_WATCHES_XID,
};

/// Largest reply the client accepts. Above ZooKeeper's 1 MiB `jute.maxbuffer`
/// because a reply carries a header and stat around a node's data.
pub(crate) const REPLY_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Largest SetWatches packet; more watches go in several packets
/// (ZooKeeper's `ClientCnxn.SET_WATCHES_MAX_LENGTH`).
const SET_WATCHES_BYTES_MAX: usize = 128 * 1024;

/// Queued frames are coalesced into writes of about this size.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// Free space offered to each socket read.
const READ_BATCH_BYTES: usize = 64 * 1024;

/// Shortest wait for one connection attempt.
const ATTEMPT_TIMEOUT_MIN: Duration = Duration::from_millis(500);

/// Default longest pause after every host failed once
/// ([`Connector::reconnect_backoff`](super::Connector::reconnect_backoff)).
pub(crate) const BACKOFF_MAX_DEFAULT: Duration = Duration::from_millis(1000);

/// Shortest pause after every host failed once (unless the longest is
/// set lower).
const BACKOFF_MIN: Duration = Duration::from_millis(50);

/// What a request's caller gets back from the session task.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The server's reply.
    Reply(Response),
    /// The server's error code (the caller adds the path).
    Code(i32),
    /// A client-side failure.
    Failed(Error),
}

/// Work a reply triggers in the session task, before the caller sees it,
/// so that registry changes and events keep socket order.
#[derive(Debug)]
pub(crate) enum AfterReply {
    Nothing,
    /// Register this watch on success (exists: as an exist watch on NONODE).
    Watch(WatchRegistration),
    /// End local watchers of this kind on success.
    RemoveWatches {
        path: String,
        watcher_type: WatcherType,
    },
}

/// From client handles to the session task.
#[derive(Debug)]
pub(crate) enum Command {
    Request {
        request: Request,
        after: AfterReply,
        reply: oneshot::Sender<Outcome>,
    },
    Auth {
        scheme: String,
        auth: Vec<u8>,
        reply: oneshot::Sender<Outcome>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
    /// Stop without closing the session (hand-over).
    Detach {
        reply: oneshot::Sender<()>,
    },
}

/// A host of the connect string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HostPort {
    pub(crate) host: String,
    pub(crate) port: u16,
}

/// Settings the task runs with.
#[derive(Debug)]
pub(crate) struct SessionConfig {
    pub(crate) hosts: Vec<HostPort>,
    pub(crate) session_timeout: Duration,
    pub(crate) read_only: bool,
    pub(crate) auth: Vec<(String, Vec<u8>)>,
    pub(crate) resume: Option<SessionInfo>,
    /// Longest pause after every host failed once; each pause is random
    /// between [`BACKOFF_MIN`] (or this, if lower) and this.
    pub(crate) backoff_max: Duration,
}

/// How the session ended.
#[derive(Debug)]
enum End {
    Closed(Option<oneshot::Sender<()>>),
    Expired,
    AuthFailed,
}

struct InFlight {
    xid: i32,
    op: OpCode,
    after: AfterReply,
    reply: Option<oneshot::Sender<Outcome>>,
}

struct AuthWaiter {
    /// Credentials to remember (and re-send on reconnects) once accepted.
    entry: Option<(String, Vec<u8>)>,
    reply: Option<oneshot::Sender<Outcome>>,
}

/// One live connection.
struct Connection {
    out: mpsc::UnboundedSender<Vec<u8>>,
    writer: tokio::task::JoinHandle<()>,
    in_flight: VecDeque<InFlight>,
    auth_waiters: VecDeque<AuthWaiter>,
    last_send: Instant,
    last_recv: Instant,
    closing: Option<(Option<oneshot::Sender<()>>, Instant)>,
}

impl Connection {
    fn send(&mut self, frame: Vec<u8>) {
        self.last_send = Instant::now();
        // A failed send means the writer stopped: the read side sees the
        // broken socket too and ends the connection.
        let _ = self.out.send(frame);
    }
}

pub(crate) struct SessionTask {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_closed: bool,
    drops: mpsc::UnboundedReceiver<DropNotice>,
    hosts: Vec<HostPort>,
    next_host: usize,
    session_timeout: Duration,
    read_only: bool,
    auth: Vec<(String, Vec<u8>)>,
    backoff_max: Duration,
    backlog: VecDeque<Command>,
    xid: i32,
    session: SessionInfo,
}

impl SessionTask {
    pub(crate) fn new(
        shared: Arc<Shared>,
        commands: mpsc::UnboundedReceiver<Command>,
        drops: mpsc::UnboundedReceiver<DropNotice>,
        config: SessionConfig,
    ) -> SessionTask {
        let session = config.resume.unwrap_or(SessionInfo {
            id: 0,
            password: Vec::new(),
            timeout: config.session_timeout,
        });
        SessionTask {
            shared,
            commands,
            commands_closed: false,
            drops,
            hosts: config.hosts,
            next_host: 0,
            session_timeout: config.session_timeout,
            read_only: config.read_only,
            auth: config.auth,
            backoff_max: config.backoff_max,
            backlog: VecDeque::new(),
            xid: 0,
            session,
        }
    }

    #[tracing::instrument(name = "session", skip_all, fields(session_id = tracing::field::Empty))]
    pub(crate) async fn run(mut self) {
        let end = loop {
            let (stream, buf, state) = match self.establish().await {
                Ok(conn) => conn,
                Err(end) => break end,
            };
            match self.serve(stream, buf, state).await {
                Ok(()) => {
                    info!(session_id = %format_args!("{:#x}", self.session.id), "disconnected");
                    self.shared.set_state(SessionState::Disconnected);
                }
                Err(end) => break end,
            }
        };
        self.finish(end);
    }

    fn next_xid(&mut self) -> i32 {
        self.xid = if self.xid >= i32::MAX - 1 {
            1
        } else {
            self.xid + 1
        };
        self.xid
    }

    /// Runs `fut` while queueing commands that arrive meanwhile; a close (or
    /// every handle dropped) interrupts it.
    async fn queueing<F: Future>(&mut self, fut: F) -> Result<F::Output, End> {
        tokio::pin!(fut);
        loop {
            tokio::select! {
                output = &mut fut => return Ok(output),
                command = self.commands.recv(), if !self.commands_closed => match command {
                    Some(Command::Close { reply } | Command::Detach { reply }) => {
                        return Err(End::Closed(Some(reply)))
                    }
                    Some(command) => self.backlog.push_back(command),
                    None => {
                        self.commands_closed = true;
                        return Err(End::Closed(None));
                    }
                },
            }
        }
    }

    /// Connects to the hosts in turn until a server accepts the session.
    async fn establish(&mut self) -> Result<(TcpStream, BytesMut, SessionState), End> {
        let mut failures_in_round = 0;
        loop {
            let host = self.hosts[self.next_host].clone();
            self.next_host = (self.next_host + 1) % self.hosts.len();
            let request = ConnectRequest {
                protocol_version: 0,
                last_zxid_seen: self.shared.last_zxid(),
                timeout_ms: millis_i32(self.session_timeout),
                session_id: self.session.id,
                password: self.session.password.clone(),
                read_only: self.read_only,
            };
            let per_host = self.session.timeout.max(self.session_timeout)
                / u32::try_from(self.hosts.len()).unwrap_or(u32::MAX);
            let attempt_timeout = per_host.max(ATTEMPT_TIMEOUT_MIN);
            let attempt = timeout(attempt_timeout, handshake(host.clone(), request));
            match self.queueing(attempt).await? {
                Ok(Ok((stream, response, buf))) => {
                    if response.timeout_ms <= 0 {
                        warn!(session_id = %format_args!("{:#x}", self.session.id), "session expired");
                        return Err(End::Expired);
                    }
                    self.session = SessionInfo {
                        id: response.session_id,
                        password: response.password,
                        timeout: Duration::from_millis(response.timeout_ms as u64),
                    };
                    self.shared.set_session(self.session.clone());
                    tracing::Span::current()
                        .record("session_id", format_args!("{:#x}", self.session.id));
                    info!(
                        host = %host.host, port = host.port,
                        session_id = %format_args!("{:#x}", self.session.id),
                        timeout_ms = response.timeout_ms, read_only = response.read_only,
                        "connected"
                    );
                    let state = if response.read_only {
                        SessionState::ConnectedReadOnly
                    } else {
                        SessionState::Connected
                    };
                    return Ok((stream, buf, state));
                }
                Ok(Err(err)) => {
                    debug!(host = %host.host, port = host.port, error = %err, "connection attempt failed");
                }
                Err(_) => {
                    debug!(host = %host.host, port = host.port, "connection attempt timed out");
                }
            }
            failures_in_round += 1;
            if failures_in_round >= self.hosts.len() {
                failures_in_round = 0;
                let pause = self
                    .backoff_max
                    .mul_f64(rand::random::<f64>())
                    .max(BACKOFF_MIN.min(self.backoff_max));
                self.queueing(tokio::time::sleep(pause)).await?;
            }
        }
    }
}

fn millis_i32(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

/// TCP connect, send the ConnectRequest, read the ConnectResponse.
async fn handshake(
    host: HostPort,
    request: ConnectRequest,
) -> std::io::Result<(TcpStream, ConnectResponse, BytesMut)> {
    let mut stream = TcpStream::connect((host.host.as_str(), host.port)).await?;
    stream.set_nodelay(true)?;
    stream.write_all(&encode_frame(&request.to_bytes())).await?;
    let decoder = FrameDecoder::new(REPLY_BYTES_MAX);
    let mut buf = BytesMut::with_capacity(4096);
    loop {
        if let Some(frame) = decoder.decode(&mut buf)? {
            let response = ConnectResponse::from_bytes(&frame)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
            return Ok((stream, response, buf));
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
}

impl SessionTask {
    /// Serves one connection. `Ok` when it broke (reconnect), `Err` when the
    /// session ended.
    async fn serve(
        &mut self,
        stream: TcpStream,
        mut buf: BytesMut,
        state: SessionState,
    ) -> Result<(), End> {
        let (mut reader, writer) = stream.into_split();
        let (out, out_rx) = mpsc::unbounded_channel();
        let now = Instant::now();
        let mut conn = Connection {
            out,
            writer: tokio::spawn(write_loop(writer, out_rx)),
            in_flight: VecDeque::new(),
            auth_waiters: VecDeque::new(),
            last_send: now,
            last_recv: now,
            closing: None,
        };
        let result = self
            .serve_connection(&mut conn, &mut reader, &mut buf, state)
            .await;
        // Whatever is in flight can no longer be answered on this connection.
        for entry in conn.in_flight.drain(..) {
            if let Some(reply) = entry.reply {
                let _ = reply.send(Outcome::Failed(Error::ConnectionLoss));
            }
        }
        for waiter in conn.auth_waiters.drain(..) {
            if let Some(reply) = waiter.reply {
                let _ = reply.send(Outcome::Failed(Error::ConnectionLoss));
            }
        }
        if let Err(End::Closed(_)) = &result {
            // Let the writer flush (closeSession included), bounded.
            drop(conn.out);
            if !conn.writer.is_finished() {
                let _ = timeout(Duration::from_secs(1), &mut conn.writer).await;
            }
        }
        conn.writer.abort();
        result
    }

    async fn serve_connection(
        &mut self,
        conn: &mut Connection,
        reader: &mut tokio::net::tcp::OwnedReadHalf,
        buf: &mut BytesMut,
        state: SessionState,
    ) -> Result<(), End> {
        // Notices of watchers dropped while disconnected are moot: the
        // SetWatches below only carries the watchers still alive.
        while self.drops.try_recv().is_ok() {}
        // Credentials first, so that watches and requests are checked
        // against them (the Java client's `primeConnection` order).
        for (scheme, auth) in self.auth.clone() {
            conn.send(auth_frame(&scheme, &auth));
            conn.auth_waiters.push_back(AuthWaiter {
                entry: None,
                reply: None,
            });
        }
        self.send_set_watches(conn);
        self.shared.set_state(state);
        while let Some(command) = self.backlog.pop_front() {
            self.dispatch(conn, command);
            if conn.closing.is_some() {
                break;
            }
        }
        let decoder = FrameDecoder::new(REPLY_BYTES_MAX);
        let timeout_total = self.session.timeout;
        let read_timeout = timeout_total * 2 / 3;
        let ping_interval = timeout_total / 3;
        loop {
            // Frames already buffered (the handshake may have read some).
            loop {
                let frame = match decoder.decode(buf) {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(err) => {
                        warn!(error = %err, "bad frame from server");
                        return Ok(());
                    }
                };
                conn.last_recv = Instant::now();
                if let Err(err) = self.handle_frame(conn, frame)? {
                    warn!(error = %err, "protocol error, reconnecting");
                    return Ok(());
                }
            }
            if let Some((_, deadline)) = &conn.closing {
                if Instant::now() >= *deadline {
                    return Err(End::Closed(conn.closing.take().and_then(|c| c.0)));
                }
            }
            let ping_at = conn.last_send + ping_interval;
            let dead_at = conn.last_recv + read_timeout;
            let close_at = conn.closing.as_ref().map(|c| c.1);
            let wake_at = close_at.map_or(ping_at.min(dead_at), |c| c.min(ping_at).min(dead_at));
            // Room for many replies per read: pipelined replies then cost
            // one syscall per batch instead of one per few KiB.
            buf.reserve(READ_BATCH_BYTES);
            tokio::select! {
                read = reader.read_buf(buf) => match read {
                    Ok(0) | Err(_) => {
                        if conn.closing.is_some() {
                            return Err(End::Closed(conn.closing.take().and_then(|c| c.0)));
                        }
                        debug!("connection closed by server");
                        return Ok(());
                    }
                    Ok(_) => {}
                },
                _ = &mut conn.writer, if !conn.writer.is_finished() => {
                    if conn.closing.is_some() {
                        return Err(End::Closed(conn.closing.take().and_then(|c| c.0)));
                    }
                    debug!("write failed");
                    return Ok(());
                }
                command = self.commands.recv(), if conn.closing.is_none() && !self.commands_closed => {
                    match command {
                        Some(command) => self.dispatch(conn, command),
                        None => {
                            // Every handle was dropped: stop without closing
                            // the session (documented on `Client`).
                            self.commands_closed = true;
                            return Err(End::Closed(None));
                        }
                    }
                }
                notice = self.drops.recv() => {
                    if let Some(notice) = notice {
                        self.remove_dropped(conn, notice);
                    }
                }
                _ = sleep_until(wake_at) => {
                    let now = Instant::now();
                    if now >= conn.last_recv + read_timeout {
                        warn!(timeout_ms = read_timeout.as_millis() as u64, "no reply from server, reconnecting");
                        return Ok(());
                    }
                    if now >= conn.last_send + ping_interval {
                        conn.send(encode_request(PING_XID, &Request::Ping));
                    }
                }
            }
        }
    }

    /// Sends one command on the connection.
    fn dispatch(&mut self, conn: &mut Connection, command: Command) {
        match command {
            Command::Request {
                request,
                after,
                reply,
            } => {
                if reply.is_closed() {
                    // The caller gave up (timeout) while it was queued.
                    return;
                }
                let xid = self.next_xid();
                conn.send(encode_request(xid, &request));
                conn.in_flight.push_back(InFlight {
                    xid,
                    op: request.op_code(),
                    after,
                    reply: Some(reply),
                });
            }
            Command::Auth {
                scheme,
                auth,
                reply,
            } => {
                conn.send(auth_frame(&scheme, &auth));
                conn.auth_waiters.push_back(AuthWaiter {
                    entry: Some((scheme, auth)),
                    reply: Some(reply),
                });
            }
            Command::Close { reply } => {
                let xid = self.next_xid();
                conn.send(encode_request(xid, &Request::CloseSession));
                conn.in_flight.push_back(InFlight {
                    xid,
                    op: OpCode::CloseSession,
                    after: AfterReply::Nothing,
                    reply: None,
                });
                let bound = self.shared.request_timeout.min(self.session.timeout);
                conn.closing = Some((Some(reply), Instant::now() + bound));
            }
            Command::Detach { reply } => {
                // Ends the connection at once, without closeSession.
                conn.closing = Some((Some(reply), Instant::now()));
            }
        }
    }

    /// Re-registers every local watch, in batches (SetWatches2 only when
    /// persistent watches exist, for servers before 3.6).
    fn send_set_watches(&mut self, conn: &mut Connection) {
        let paths = lock(&self.shared.registry).paths();
        if paths.is_empty() {
            return;
        }
        let chroot = self.shared.chroot.clone();
        let server = |list: Vec<String>| -> VecDeque<String> {
            list.iter()
                .map(|p| crate::path::apply_chroot(&chroot, p))
                .collect()
        };
        let with_persistent =
            !paths.persistent.is_empty() || !paths.persistent_recursive.is_empty();
        let mut lists = [
            server(paths.data),
            server(paths.exist),
            server(paths.child),
            server(paths.persistent),
            server(paths.persistent_recursive),
        ];
        let relative_zxid = self.shared.last_zxid();
        while lists.iter().any(|l| !l.is_empty()) {
            let mut batch: [Vec<String>; 5] = Default::default();
            let mut bytes = 0;
            'fill: for (list, out) in lists.iter_mut().zip(batch.iter_mut()) {
                while let Some(path) = list.front() {
                    if bytes > 0 && bytes + path.len() + 4 > SET_WATCHES_BYTES_MAX {
                        break 'fill;
                    }
                    bytes += path.len() + 4;
                    out.push(list.pop_front().expect("front exists"));
                }
            }
            let [data_watches, exist_watches, child_watches, persistent_watches, persistent_recursive_watches] =
                batch;
            let request = if with_persistent {
                Request::SetWatches2(SetWatches2 {
                    relative_zxid,
                    data_watches,
                    exist_watches,
                    child_watches,
                    persistent_watches,
                    persistent_recursive_watches,
                })
            } else {
                Request::SetWatches(SetWatches {
                    relative_zxid,
                    data_watches,
                    exist_watches,
                    child_watches,
                })
            };
            conn.send(encode_request(SET_WATCHES_XID, &request));
            conn.in_flight.push_back(InFlight {
                xid: SET_WATCHES_XID,
                op: request.op_code(),
                after: AfterReply::Nothing,
                reply: None,
            });
        }
    }

    /// A dropped persistent watcher was the last of its kind on its path:
    /// remove the server's watch, unless a new one was set or is being set.
    ///
    /// ZooKeeper before 3.9 has no per-mode removal (`WatcherType` 4 and 5
    /// are refused) and keeps one watch per connection and path, whatever
    /// its mode; so the client removes `Any`, and only when no local
    /// watcher of any kind is left on the path. Otherwise the server's
    /// watch stays and the registry drops the events nobody wants.
    fn remove_dropped(&mut self, conn: &mut Connection, notice: DropNotice) {
        let kinds = [
            WatchKind::Data,
            WatchKind::Exist,
            WatchKind::Child,
            WatchKind::Persistent,
            WatchKind::PersistentRecursive,
        ];
        {
            let registry = lock(&self.shared.registry);
            if kinds.iter().any(|k| registry.has(&notice.path, *k)) {
                return;
            }
        }
        let being_added = conn.in_flight.iter().any(
            |entry| matches!(&entry.after, AfterReply::Watch(w) if w.path == notice.path),
        ) || self.backlog.iter().any(|c| {
            matches!(c, Command::Request { after: AfterReply::Watch(w), .. } if w.path == notice.path)
        });
        if being_added {
            return;
        }
        debug!(path = %notice.path, kind = ?notice.kind, "removing the watch of dropped watchers");
        let watcher_type = WatcherType::Any;
        let xid = self.next_xid();
        let request = Request::RemoveWatches(RemoveWatchesRequest {
            path: crate::path::apply_chroot(&self.shared.chroot, &notice.path),
            watcher_type: watcher_type.code(),
        });
        conn.send(encode_request(xid, &request));
        conn.in_flight.push_back(InFlight {
            xid,
            op: OpCode::RemoveWatches,
            after: AfterReply::Nothing,
            reply: None,
        });
    }

    /// Handles one frame from the server. The outer error ends the session;
    /// the inner one is a protocol violation that drops the connection.
    fn handle_frame(
        &mut self,
        conn: &mut Connection,
        frame: Bytes,
    ) -> Result<Result<(), Error>, End> {
        let (header, body) = match decode_reply_header(&frame) {
            Ok(decoded) => decoded,
            Err(err) => return Ok(Err(Error::Protocol(err.to_string()))),
        };
        match header.xid {
            NOTIFICATION_XID => {
                let event = match WatcherEvent::from_bytes(body) {
                    Ok(event) => event,
                    Err(err) => return Ok(Err(Error::Protocol(err.to_string()))),
                };
                self.deliver(event);
                Ok(Ok(()))
            }
            PING_XID => Ok(Ok(())),
            AUTH_XID => {
                let waiter = conn.auth_waiters.pop_front();
                if header.err == ErrorCode::AuthFailed.code() {
                    if let Some(reply) = waiter.and_then(|w| w.reply) {
                        let _ = reply.send(Outcome::Code(header.err));
                    }
                    return Err(End::AuthFailed);
                }
                if let Some(waiter) = waiter {
                    let outcome = if header.err == 0 {
                        if let Some(entry) = waiter.entry {
                            self.auth.push(entry);
                        }
                        Outcome::Reply(Response::Empty)
                    } else {
                        Outcome::Code(header.err)
                    };
                    if let Some(reply) = waiter.reply {
                        let _ = reply.send(outcome);
                    }
                }
                Ok(Ok(()))
            }
            xid => {
                if header.zxid > 0 {
                    self.shared.see_zxid(header.zxid);
                }
                let Some(entry) = conn.in_flight.pop_front() else {
                    return Ok(Err(Error::Protocol(format!("reply to unknown xid {xid}"))));
                };
                if entry.xid != xid {
                    let expected = entry.xid;
                    // Put it back: it fails with ConnectionLoss like the rest.
                    conn.in_flight.push_front(entry);
                    return Ok(Err(Error::Protocol(format!(
                        "reply xid {xid} out of order, expected {expected}"
                    ))));
                }
                if entry.op == OpCode::CloseSession {
                    return Err(End::Closed(conn.closing.take().and_then(|c| c.0)));
                }
                let outcome = if header.err != 0 {
                    Outcome::Code(header.err)
                } else {
                    match Response::decode(entry.op, body) {
                        Ok(response) => Outcome::Reply(response),
                        Err(err) => Outcome::Failed(Error::Protocol(err.to_string())),
                    }
                };
                if xid == SET_WATCHES_XID && header.err != 0 {
                    warn!(err = header.err, "server refused to re-register watches");
                }
                self.after_reply(entry.after, &outcome, entry.reply.as_ref());
                if let Some(reply) = entry.reply {
                    let _ = reply.send(outcome);
                }
                Ok(Ok(()))
            }
        }
    }

    fn after_reply(
        &mut self,
        after: AfterReply,
        outcome: &Outcome,
        reply: Option<&oneshot::Sender<Outcome>>,
    ) {
        match after {
            AfterReply::Nothing => {}
            AfterReply::Watch(mut registration) => {
                if reply.is_some_and(|r| r.is_closed()) {
                    return;
                }
                match outcome {
                    Outcome::Reply(_) => {}
                    Outcome::Code(code)
                        if *code == ErrorCode::NoNode.code()
                            && registration.kind == WatchKind::Data
                            && matches!(outcome, Outcome::Code(_)) =>
                    {
                        // Only exists leaves a watch on a missing node; the
                        // client asks for Data and learns it is an exist watch.
                        registration.kind = WatchKind::Exist;
                    }
                    _ => return,
                }
                lock(&self.shared.registry).register(registration);
            }
            AfterReply::RemoveWatches { path, watcher_type } => {
                if let Outcome::Reply(_) = outcome {
                    lock(&self.shared.registry).remove(&path, watcher_type);
                }
            }
        }
    }

    fn deliver(&mut self, event: WatcherEvent) {
        let (Some(event_type), Some(state)) = (
            EventType::from_code(event.event_type),
            KeeperState::from_code(event.state),
        ) else {
            warn!(
                event_type = event.event_type,
                state = event.state,
                "unknown watch event"
            );
            return;
        };
        if event_type == EventType::None {
            return;
        }
        let event = WatchedEvent {
            event_type,
            state,
            path: crate::path::strip_chroot(&self.shared.chroot, &event.path),
        };
        debug!(path = %event.path, event_type = ?event.event_type, "watch event");
        lock(&self.shared.registry).dispatch(&event);
    }

    /// Ends the client: every waiting request fails, every watcher gets the
    /// final event, the state becomes terminal.
    fn finish(mut self, end: End) {
        let (state, error, close_reply) = match end {
            End::Closed(reply) => (SessionState::Closed, Error::ClientClosed, reply),
            End::Expired => (SessionState::Expired, Error::SessionExpired, None),
            End::AuthFailed => (SessionState::AuthFailed, Error::AuthFailed, None),
        };
        info!(state = %state, "session ended");
        // Publish the end (error, then state) before failing anything, so
        // that a caller whose request fails with SessionExpired already
        // reads Expired.
        self.shared.set_end(error.clone());
        self.shared.set_state(state);
        self.commands.close();
        let mut waiting: Vec<Command> = self.backlog.drain(..).collect();
        while let Ok(command) = self.commands.try_recv() {
            waiting.push(command);
        }
        let mut close_replies: Vec<oneshot::Sender<()>> = close_reply.into_iter().collect();
        for command in waiting {
            match command {
                Command::Request { reply, .. } | Command::Auth { reply, .. } => {
                    let _ = reply.send(Outcome::Failed(error.clone()));
                }
                Command::Close { reply } | Command::Detach { reply } => close_replies.push(reply),
            }
        }
        lock(&self.shared.registry).terminate(state.keeper_state());
        for reply in close_replies {
            let _ = reply.send(());
        }
    }
}

fn auth_frame(scheme: &str, auth: &[u8]) -> Vec<u8> {
    encode_request(
        AUTH_XID,
        &Request::Auth(AuthPacket {
            auth_type: 0,
            scheme: scheme.to_owned(),
            auth: auth.to_vec(),
        }),
    )
}

/// Writes frames in order until the channel closes or the socket fails.
async fn write_loop(mut writer: OwnedWriteHalf, mut frames: mpsc::UnboundedReceiver<Vec<u8>>) {
    // Frames queued meanwhile go out in one write: with many requests in
    // flight this saves a syscall and a TCP segment per request (the
    // sender's largest CPU cost under pipelined load).
    let mut batch = Vec::with_capacity(WRITE_BATCH_BYTES);
    while let Some(frame) = frames.recv().await {
        batch.clear();
        batch.extend_from_slice(&frame);
        while batch.len() < WRITE_BATCH_BYTES {
            match frames.try_recv() {
                Ok(frame) => batch.extend_from_slice(&frame),
                Err(_) => break,
            }
        }
        if writer.write_all(&batch).await.is_err() {
            return;
        }
        if batch.capacity() > 4 * WRITE_BATCH_BYTES {
            batch = Vec::with_capacity(WRITE_BATCH_BYTES);
        }
    }
    let _ = writer.shutdown().await;
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
