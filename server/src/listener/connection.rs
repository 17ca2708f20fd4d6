//! `Connection`: one client's TCP connection — the handshake, the request
//! pipeline that keeps the session's FIFO order, and the writer task.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use corral_wire::proto::{
    decode_request, encode_frame, ConnectRequest, ConnectResponse, DecodeError, ErrorCode,
    FrameDecoder, Id, Reader, Record,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::TcpStream;

use super::outbox::Outbox;
use super::requests::{self, LocalOp, ReplyShape};
use crate::admin;
use crate::client_link::{Applied, ClientLink, Completion, LinkInfo};
use crate::state::{now_ms, Pending, Server};
use crate::tree::Database;
use crate::txn::{OpResult, Txn, TxnOp, TxnOutcome};
use crate::watch::{ConnId, WatchManager};

/// How long a client may take to send its ConnectRequest.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a write to a client socket may stall before the connection is
/// dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a new session may wait for the log.
const CREATE_SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// A request waiting its turn on this connection.
#[derive(Debug)]
pub enum Queued {
    /// A write in the log; its reply is pushed when it applies.
    Write {
        /// The request's xid.
        xid: i32,
        /// When it arrived.
        started: Instant,
    },
    /// A read or session-local op, executed once every request before it
    /// has been answered.
    Local {
        /// The request's xid.
        xid: i32,
        /// What to do.
        op: LocalOp,
        /// When it arrived.
        started: Instant,
    },
}

/// Mutable per-connection state, behind `Connection::state`.
#[derive(Debug, Default)]
pub struct ConnState {
    /// The session, once the handshake is done.
    pub session_id: i64,
    /// Negotiated timeout.
    pub timeout_ms: i32,
    /// Identities for ACL checks: `ip:<address>` plus every addAuth.
    pub auth: Vec<Id>,
    /// Authenticated as the super user.
    pub is_super: bool,
    /// Requests not yet answered, in arrival order.
    pub pipeline: VecDeque<Queued>,
}

/// One client connection, shared by its tasks and the state machine.
#[derive(Debug)]
pub struct Connection {
    /// Server-local id.
    pub id: ConnId,
    /// The client's address.
    pub peer: SocketAddr,
    /// Frames waiting to be written.
    pub outbox: Outbox,
    /// Session, auth and pipeline.
    pub state: Mutex<ConnState>,
    /// Signalled whenever the pipeline shrinks.
    drained: tokio::sync::Notify,
    /// Packets received.
    pub received: AtomicU64,
    /// Packets sent.
    pub sent: AtomicU64,
    /// When the connection was accepted.
    pub established: Instant,
    /// The session moved to another server: requests get SESSIONMOVED.
    moved: std::sync::atomic::AtomicBool,
}

impl Connection {
    fn new(id: ConnId, peer: SocketAddr) -> Connection {
        Connection {
            id,
            peer,
            outbox: Outbox::new(),
            state: Mutex::new(ConnState {
                auth: vec![Id::new("ip", peer.ip().to_string())],
                ..ConnState::default()
            }),
            drained: tokio::sync::Notify::new(),
            received: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            established: Instant::now(),
            moved: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The session was attached to another server.
    pub fn mark_moved(&self) {
        self.moved.store(true, Ordering::Release);
    }

    /// The session id (0 before the handshake).
    pub fn session_id(&self) -> i64 {
        self.state.lock().expect("conn lock").session_id
    }

    /// Number of requests waiting for an answer.
    pub fn outstanding(&self) -> usize {
        self.state.lock().expect("conn lock").pipeline.len()
    }

    fn push(&self, server: &Server, frame: Bytes) {
        if self.outbox.push(frame) {
            server.metrics.sent(1);
            self.sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The state machine applied this connection's oldest write: answer it,
    /// then every read queued behind it (up to the next write). Runs under
    /// the db write lock, so those reads see exactly the state after the
    /// write.
    pub fn complete_write(
        &self,
        server: &Server,
        db: &Database,
        watches: &mut WatchManager,
        out: &TxnOutcome,
        shape: &ReplyShape,
    ) {
        let mut st = self.state.lock().expect("conn lock");
        // Reads queued before this write were answered as soon as they
        // reached the head of the pipeline, before this write applied, so
        // the head is this write.
        let (xid, started) = match st.pipeline.pop_front() {
            Some(Queued::Write { xid, started }) => (xid, started),
            other => {
                // The pipeline order is this file's invariant; a mismatch
                // means replies would be misattributed, so drop the client.
                tracing::error!(?other, "write completed out of order; closing connection");
                self.outbox.close();
                return;
            }
        };
        let (frame, close) = requests::write_reply(xid, out, shape);
        self.push(server, frame);
        server.metrics.request_done(started.elapsed());
        if close {
            self.outbox.close();
            return;
        }
        self.drain_locals(server, db, watches, &mut st);
    }

    /// Run the reads (and other local ops) at the head of the pipeline: the
    /// session's writes before them are answered, so they see those writes.
    /// Other sessions' writes still in the log do not hold them up (as in
    /// ZooKeeper's CommitProcessor): per-session FIFO is the guarantee.
    fn drain_locals(
        &self,
        server: &Server,
        db: &Database,
        watches: &mut WatchManager,
        st: &mut ConnState,
    ) {
        while let Some(Queued::Local { .. }) = st.pipeline.front() {
            let Some(Queued::Local {
                xid, op, started, ..
            }) = st.pipeline.pop_front()
            else {
                unreachable!("front was a local op");
            };
            let reply = requests::execute_local(server, db, watches, self, st, xid, op);
            for frame in reply.frames {
                self.push(server, frame);
            }
            server.metrics.request_done(started.elapsed());
            if reply.close {
                self.outbox.close();
                break;
            }
        }
        self.drained.notify_one();
    }

    /// Queue a local op, or run it now if nothing is ahead of it.
    fn submit_local(&self, server: &Server, xid: i32, op: LocalOp) {
        let started = Instant::now();
        let (db, mut watches) = server.db_and_watches();
        let mut st = self.state.lock().expect("conn lock");
        st.pipeline.push_back(Queued::Local { xid, op, started });
        if st.pipeline.len() == 1 {
            self.drain_locals(server, &db, &mut watches, &mut st);
        }
    }

    /// Queue a write and hand it to the log.
    async fn submit_write(
        self: &Arc<Connection>,
        server: &Arc<Server>,
        xid: i32,
        op: TxnOp,
        shape: ReplyShape,
    ) -> Result<(), ErrorCode> {
        if server.writes_refused() {
            // The log's disk is full: refuse the write at once, as a
            // ZooKeeper server without a quorum does (NOTREADONLY), if
            // nothing of this session is ahead of it (replies go in order;
            // otherwise it waits in the log like the writes before it).
            // The database before the connection's lock (the lock order:
            // applying holds the database while it completes writes).
            let zxid = server.db().last_zxid();
            let st = self.state.lock().expect("conn lock");
            if st.pipeline.is_empty() {
                let refused = TxnOutcome {
                    zxid,
                    result: Err(ErrorCode::NotReadOnly),
                };
                let (frame, close) = requests::write_reply(xid, &refused, &shape);
                drop(st);
                self.push(server, frame);
                if close {
                    self.outbox.close();
                }
                return Ok(());
            }
        }
        let txn = {
            let mut st = self.state.lock().expect("conn lock");
            st.pipeline.push_back(Queued::Write {
                xid,
                started: Instant::now(),
            });
            Txn {
                session_id: st.session_id,
                time_ms: now_ms(),
                auth: st.auth.clone(),
                is_super: st.is_super,
                op,
                origin: None,
            }
        };
        let pending = Pending::Request(Box::new(WriteCompletion {
            server: Arc::clone(server),
            conn: Arc::clone(self),
            shape,
        }));
        server.propose(txn, pending).await
    }

    /// Wait until fewer than `max` requests are outstanding.
    async fn wait_below(&self, max: usize) {
        loop {
            let drained = self.drained.notified();
            if self.outstanding() < max || self.outbox.is_closing() {
                return;
            }
            drained.await;
        }
    }
}

/// A client write waiting for its transaction: answered by the connection
/// once the state machine has applied it here.
struct WriteCompletion {
    server: Arc<Server>,
    conn: Arc<Connection>,
    shape: ReplyShape,
}

impl Completion for WriteCompletion {
    fn complete(self: Box<Self>, applied: &mut Applied<'_>, out: &TxnOutcome) {
        self.conn
            .complete_write(&self.server, applied.db, applied.watches, out, &self.shape);
    }

    fn fail(self: Box<Self>) {
        self.conn.outbox.close();
    }
}

impl ClientLink for Connection {
    fn id(&self) -> ConnId {
        self.id
    }

    fn push_event(&self, frame: Bytes) {
        self.outbox.push(frame);
    }

    fn close(&self) {
        self.outbox.close();
    }

    fn mark_moved(&self) {
        Connection::mark_moved(self);
    }

    fn outstanding(&self) -> usize {
        Connection::outstanding(self)
    }

    fn info(&self) -> LinkInfo {
        let st = self.state.lock().expect("conn lock");
        LinkInfo {
            peer: self.peer,
            queued: st.pipeline.len(),
            received: self.received.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            session_id: st.session_id,
            timeout_ms: st.timeout_ms,
            established: self.established,
        }
    }
}

/// Serve one accepted client socket until it closes.
pub async fn serve(server: Arc<Server>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let (mut reader, writer) = stream.into_split();
    let mut first = [0u8; 4];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, reader.read_exact(&mut first)).await {
        Ok(Ok(_)) => {}
        _ => return,
    }
    // Four-letter words arrive instead of a length prefix.
    if let Ok(word) = std::str::from_utf8(&first) {
        if let Some(text) = admin::four_letter_word(&server, word) {
            let mut writer = writer;
            let _ = tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(text.as_bytes())).await;
            let _ = writer.shutdown().await;
            return;
        }
    }
    let conn = Arc::new(Connection::new(server.next_conn_id(), peer));
    server
        .conns()
        .insert(conn.id, Arc::clone(&conn) as Arc<dyn ClientLink>);
    server.metrics.connection_accepted();
    let writer_task = tokio::spawn(write_loop(Arc::clone(&conn), writer));

    let mut buf = BytesMut::with_capacity(4096);
    buf.extend_from_slice(&first);
    let result = read_loop(&server, &conn, reader, buf).await;
    if let Err(reason) = result {
        tracing::debug!(conn = conn.id, %peer, reason, "closing connection");
    }
    conn.outbox.close();
    let _ = writer_task.await;
    server.remove_connection(conn.id, conn.session_id());
}

async fn read_loop(
    server: &Arc<Server>,
    conn: &Arc<Connection>,
    mut reader: tokio::net::tcp::OwnedReadHalf,
    mut buf: BytesMut,
) -> Result<(), String> {
    let frames = FrameDecoder::new(server.config.max_packet_bytes);
    let connect = tokio::time::timeout(
        HANDSHAKE_TIMEOUT,
        read_frame(&frames, &mut reader, &mut buf),
    )
    .await
    .map_err(|_| "handshake timed out".to_string())??;
    let Some(connect) = connect else {
        return Ok(());
    };
    let timeout = handshake(server, conn, &connect).await?;
    let idle_max = Duration::from_millis(u64::try_from(timeout).unwrap_or(0).max(1));
    let outstanding_max = server.config.outstanding_per_connection_max;
    loop {
        conn.wait_below(outstanding_max).await;
        let frame = tokio::select! {
            r = tokio::time::timeout(idle_max, read_frame(&frames, &mut reader, &mut buf)) => {
                r.map_err(|_| "session timeout without traffic".to_string())??
            }
            _ = conn.outbox.closed() => return Ok(()),
        };
        let Some(frame) = frame else {
            return Ok(());
        };
        server.metrics.received();
        conn.received.fetch_add(1, Ordering::Relaxed);
        server.touch_session(conn.session_id());
        handle_packet(server, conn, &frame).await?;
    }
}

async fn handle_packet(
    server: &Arc<Server>,
    conn: &Arc<Connection>,
    frame: &[u8],
) -> Result<(), String> {
    let (xid, request) = match decode_request(frame) {
        Ok((header, request)) => (header.xid, request),
        Err(e) => {
            // Answer what can be attributed to an xid; a packet without a
            // readable header cannot be answered, so the connection goes.
            let mut r = Reader::new(frame);
            let (Ok(xid), Ok(_)) = (r.read_i32(), r.read_i32()) else {
                return Err(format!("unreadable request header: {e}"));
            };
            // ZooKeeper answers an unknown opcode with UNIMPLEMENTED and
            // drops the connection; a malformed body gets MARSHALLINGERROR
            // and the session goes on.
            let op = match e {
                DecodeError::UnknownOpCode(_) => LocalOp::Fatal(ErrorCode::Unimplemented),
                _ => LocalOp::Error(ErrorCode::MarshallingError),
            };
            tracing::debug!(conn = conn.id, xid, error = %e, "bad request");
            conn.submit_local(server, xid, op);
            return Ok(());
        }
    };
    if conn.moved.load(Ordering::Acquire) {
        // As ZooKeeper: the request fails, and the connection goes.
        conn.submit_local(server, xid, LocalOp::Error(ErrorCode::SessionMoved));
        conn.outbox.close();
        return Ok(());
    }
    match requests::classify(&server.config, request) {
        requests::Kind::Write(op, shape) => conn
            .submit_write(server, xid, op, shape)
            .await
            .map_err(|code| format!("log unavailable: {code}")),
        requests::Kind::Local(op) => {
            conn.submit_local(server, xid, op);
            Ok(())
        }
        requests::Kind::Reconfig(r) => {
            // Rare and slow: this session's earlier requests are answered
            // first and no later one is read until it is done, which keeps
            // the session's order without a place in the log for it.
            conn.wait_below(1).await;
            let (auth, is_super) = {
                let st = conn.state.lock().expect("conn lock");
                (st.auth.clone(), st.is_super)
            };
            let result = super::reconfig::reconfig(server, &r, &auth, is_super).await;
            conn.submit_local(server, xid, LocalOp::Done(result));
            Ok(())
        }
    }
}

/// Read one frame; None at a clean end of stream.
async fn read_frame(
    frames: &FrameDecoder,
    reader: &mut tokio::net::tcp::OwnedReadHalf,
    buf: &mut BytesMut,
) -> Result<Option<Bytes>, String> {
    loop {
        match frames.decode(buf) {
            Ok(Some(frame)) => return Ok(Some(frame)),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "refusing packet");
                return Err(e.to_string());
            }
        }
        let n = reader
            .read_buf(buf)
            .await
            .map_err(|e| format!("read failed: {e}"))?;
        if n == 0 {
            return if buf.is_empty() {
                Ok(None)
            } else {
                Err("connection closed mid-packet".to_string())
            };
        }
    }
}

/// Open or resume the session; returns the negotiated timeout.
async fn handshake(
    server: &Arc<Server>,
    conn: &Arc<Connection>,
    frame: &[u8],
) -> Result<i32, String> {
    let request = ConnectRequest::decode(&mut Reader::new(frame))
        .map_err(|e| format!("bad connect request: {e}"))?;
    let last_zxid = server.db().last_zxid();
    if request.last_zxid_seen > last_zxid {
        // The client has seen a newer state than ours: serving it would go
        // back in time (ZooKeeper refuses the same way).
        tracing::info!(
            client_zxid = format!("0x{:x}", request.last_zxid_seen),
            our_zxid = format!("0x{last_zxid:x}"),
            "refusing session: client has seen a newer zxid"
        );
        return Err("client ahead of server".to_string());
    }
    let timeout = server.config.negotiate_timeout_ms(request.timeout_ms);
    let (session_id, password, timeout) = if request.session_id == 0 {
        let password: [u8; 16] = rand::random();
        let txn = Txn {
            session_id: 0,
            time_ms: now_ms(),
            auth: Vec::new(),
            is_super: false,
            op: TxnOp::CreateSession {
                timeout_ms: timeout,
                password,
            },
            origin: None,
        };
        let outcome = tokio::time::timeout(CREATE_SESSION_TIMEOUT, server.propose_and_wait(txn))
            .await
            .map_err(|_| "session creation timed out".to_string())?
            .map_err(|code| format!("session creation failed: {code}"))?;
        match outcome.result {
            Ok(OpResult::SessionCreated { session_id }) => (session_id, password, timeout),
            other => return Err(format!("session creation failed: {other:?}")),
        }
    } else {
        // Like ZooKeeper, a request for a session detaches it from any
        // other connection of this server at once, before the password is
        // checked.
        let previous = server.session_conns().remove(&request.session_id);
        if let Some(old) = previous.filter(|&old| old != conn.id) {
            if let Some(old) = server.conns().get(&old) {
                old.close();
            }
        }
        let known = server
            .db()
            .session(request.session_id)
            .map(|s| (s.password, s.owner));
        match known {
            Some((password, owner)) if password[..] == request.password[..] => {
                if owner != server.config.server_id {
                    attach_session(server, request.session_id).await?;
                }
                (request.session_id, password, timeout)
            }
            _ => {
                // Unknown or expired session, or a wrong password: ZooKeeper
                // answers with a zero timeout, which the client reports as
                // SESSION_EXPIRED, then closes.
                let response = ConnectResponse {
                    protocol_version: 0,
                    timeout_ms: 0,
                    session_id: 0,
                    password: vec![0; 16],
                    read_only: false,
                };
                conn.push(server, connect_frame(&response));
                return Err("session expired or unknown".to_string());
            }
        }
    };
    {
        let mut st = conn.state.lock().expect("conn lock");
        st.session_id = session_id;
        st.timeout_ms = timeout;
    }
    let previous = server.session_conns().insert(session_id, conn.id);
    if let Some(old) = previous.filter(|&old| old != conn.id) {
        // The session moved to this connection: the old one must stop
        // acting for it.
        if let Some(old) = server.conns().get(&old) {
            old.close();
        }
    }
    let now = u64::try_from(now_ms()).unwrap_or(0);
    {
        let mut tracker = server.tracker();
        if !tracker.touch(session_id, now) {
            tracker.add(session_id, u64::try_from(timeout).unwrap_or(0), now);
        }
    }
    let response = ConnectResponse {
        protocol_version: 0,
        timeout_ms: timeout,
        session_id,
        password: password.to_vec(),
        read_only: false,
    };
    conn.push(server, connect_frame(&response));
    tracing::debug!(
        conn = conn.id,
        session_id = format!("0x{session_id:x}"),
        timeout_ms = timeout,
        "session established"
    );
    Ok(timeout)
}

/// Record through the log that the session is now served here.
async fn attach_session(server: &Arc<Server>, session_id: i64) -> Result<(), String> {
    let txn = Txn {
        session_id,
        time_ms: now_ms(),
        auth: Vec::new(),
        is_super: false,
        op: TxnOp::AttachSession {
            owner: server.config.server_id,
        },
        origin: None,
    };
    let outcome = tokio::time::timeout(CREATE_SESSION_TIMEOUT, server.propose_and_wait(txn))
        .await
        .map_err(|_| "session move timed out".to_string())?
        .map_err(|code| format!("session move failed: {code}"))?;
    outcome
        .result
        .map(|_| ())
        .map_err(|code| format!("session move refused: {code}"))
}

fn connect_frame(response: &ConnectResponse) -> Bytes {
    let mut body = Vec::with_capacity(40);
    response.encode(&mut body);
    Bytes::from(encode_frame(&body))
}

async fn write_loop(conn: Arc<Connection>, mut writer: OwnedWriteHalf) {
    while let Some(frames) = conn.outbox.next_batch().await {
        let total: usize = frames.iter().map(|f| f.len()).sum();
        let mut out = Vec::with_capacity(total);
        for f in &frames {
            out.extend_from_slice(f);
        }
        match tokio::time::timeout(WRITE_TIMEOUT, writer.write_all(&out)).await {
            Ok(Ok(())) => {}
            _ => {
                conn.outbox.close();
                break;
            }
        }
    }
    let _ = writer.shutdown().await;
}
