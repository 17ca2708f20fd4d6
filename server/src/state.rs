//! `Server`: the state one server process shares between its connections,
//! its proposer, its background checks and the state machine.
//!
//! The locks are private and taken through accessors, which take them in
//! one order, always: `db` → `watches` → `conns` → (a connection's own
//! `state` → its outbox, inside the listener) → `tracker` →
//! `session_conns` → `pending`. An accessor returning two guards takes
//! both in that order; a caller holds the guards of one accessor at a time.
//! The state machine applies a batch holding `db` for writing and pushes,
//! in zxid order, each transaction's watch events and then its reply; a
//! read holds `db` for reading while it registers its watch and queues its
//! reply. So a client sees an event before any reply that reflects the
//! change, and never a reply from a state older than one it was already
//! told about.
//!
//! The state knows connections only as [`ClientLink`]s and waiting requests
//! as [`Completion`]s (`client_link.rs`), so it does not depend on the
//! listener that implements them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use corral_wire::proto::{
    encode_notification, encode_reply, ErrorCode, EventType, KeeperState, WatcherEvent,
};
use tokio::sync::{mpsc, oneshot};

use crate::client_link::{Applied, ClientLink, Completion};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::raft::{Application, Consensus};
use crate::session::{SessionTracker, EXPIRY_GRANULARITY_MS};
use crate::tree::Database;
use crate::txn::{BatchOutcome, OpResult, Origin, Txn, TxnBatch, TxnOp, TxnOutcome};
use crate::watch::{ConnId, WatchManager};

/// Who waits for a proposed transaction's outcome.
pub enum Pending {
    /// A client request on one of this server's connections.
    Request(Box<dyn Completion>),
    /// A task of this server (session creation, expiry, reaping).
    Waiter(oneshot::Sender<TxnOutcome>),
}

/// This server's open client connections.
pub type Conns = HashMap<ConnId, Arc<dyn ClientLink>>;

/// The shared state of one server process.
pub struct Server {
    /// Effective configuration.
    pub config: Config,
    /// Random per start; see [`Origin::incarnation`].
    incarnation: u64,
    /// The replicated state: tree, sessions, last zxid.
    db: RwLock<Database>,
    /// Watches of this server's connections.
    watches: Mutex<WatchManager>,
    /// Open connections.
    conns: Mutex<Conns>,
    /// Session id -> the connection it is attached to on this server.
    session_conns: Mutex<HashMap<i64, ConnId>>,
    /// Liveness of sessions (expiry is decided by the leader).
    tracker: Mutex<SessionTracker>,
    /// Proposed transactions whose outcome someone here awaits.
    pending: Mutex<HashMap<u64, Pending>>,
    /// Ids of this server's proposals: assigned in submission order (under
    /// `submit`), so the log applies them in id order.
    next_request_id: AtomicU64,
    /// Serialises id assignment with the queueing of the proposal.
    submit: tokio::sync::Mutex<()>,
    next_conn_id: AtomicU64,
    proposals: mpsc::Sender<Txn>,
    consensus: OnceLock<Consensus>,
    /// Sessions with traffic since the last report to the leader, with
    /// when their last packet arrived.
    touched: Mutex<HashMap<i64, Instant>>,
    /// Request and latency counters.
    pub metrics: Metrics,
    /// When this process started.
    pub started: Instant,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Server {
    /// A server with an empty database; returns the receiving end of the
    /// proposal queue for the proposer task.
    pub fn new(config: Config) -> (Arc<Server>, mpsc::Receiver<Txn>) {
        let (tx, rx) = mpsc::channel(config.batch_txns_max * 4);
        let server = Arc::new(Server {
            config,
            incarnation: rand::random(),
            db: RwLock::new(Database::new()),
            watches: Mutex::new(WatchManager::new()),
            conns: Mutex::new(HashMap::new()),
            session_conns: Mutex::new(HashMap::new()),
            tracker: Mutex::new(SessionTracker::new(EXPIRY_GRANULARITY_MS)),
            pending: Mutex::new(HashMap::new()),
            next_request_id: AtomicU64::new(1),
            submit: tokio::sync::Mutex::new(()),
            next_conn_id: AtomicU64::new(1),
            proposals: tx,
            consensus: OnceLock::new(),
            touched: Mutex::new(HashMap::new()),
            metrics: Metrics::default(),
            started: Instant::now(),
        });
        (server, rx)
    }

    /// The database, for reading (first in the lock order).
    pub fn db(&self) -> RwLockReadGuard<'_, Database> {
        self.db.read().expect("db lock")
    }

    /// The database and the watches, for a read that may leave a watch.
    pub fn db_and_watches(&self) -> (RwLockReadGuard<'_, Database>, MutexGuard<'_, WatchManager>) {
        let db = self.db.read().expect("db lock");
        let watches = self.watches.lock().expect("watches lock");
        (db, watches)
    }

    /// The watches alone.
    pub fn watches(&self) -> MutexGuard<'_, WatchManager> {
        self.watches.lock().expect("watches lock")
    }

    /// The watches and the open connections, in that order.
    pub fn watches_and_conns(&self) -> (MutexGuard<'_, WatchManager>, MutexGuard<'_, Conns>) {
        let watches = self.watches.lock().expect("watches lock");
        let conns = self.conns.lock().expect("conns lock");
        (watches, conns)
    }

    /// The open connections.
    pub fn conns(&self) -> MutexGuard<'_, Conns> {
        self.conns.lock().expect("conns lock")
    }

    /// The session liveness tracker.
    pub fn tracker(&self) -> MutexGuard<'_, SessionTracker> {
        self.tracker.lock().expect("tracker lock")
    }

    /// Which connection of this server each session is attached to.
    pub fn session_conns(&self) -> MutexGuard<'_, HashMap<i64, ConnId>> {
        self.session_conns.lock().expect("session conns lock")
    }

    /// A connection is gone: forget it, its watches and its session's
    /// attachment to it.
    pub fn remove_connection(&self, conn_id: ConnId, session_id: i64) {
        self.conns().remove(&conn_id);
        self.watches().remove_connection(conn_id);
        if session_id != 0 {
            let mut sessions = self.session_conns();
            if sessions.get(&session_id) == Some(&conn_id) {
                sessions.remove(&session_id);
            }
        }
    }

    /// Attach the consensus engine once it has started.
    pub fn set_consensus(&self, consensus: Consensus) {
        if self.consensus.set(consensus).is_err() {
            panic!("consensus attached twice");
        }
    }

    /// The consensus engine (None while starting).
    pub fn consensus(&self) -> Option<&Consensus> {
        self.consensus.get()
    }

    /// Whether new writes are refused because the log's disk is full (they
    /// are answered with ZooKeeper's read-only error; reads go on).
    pub fn writes_refused(&self) -> bool {
        self.consensus().is_some_and(|c| c.writes_refused())
    }

    /// Whether this server decides expiry and reaping (the Raft leader).
    pub fn is_leader(&self) -> bool {
        self.consensus().is_some_and(|c| c.is_leader())
    }

    /// Record traffic of a session: it lives another full timeout.
    pub fn touch_session(&self, session_id: i64) {
        if session_id == 0 {
            return;
        }
        let now = u64::try_from(now_ms()).unwrap_or(0);
        self.tracker
            .lock()
            .expect("tracker lock")
            .touch(session_id, now);
        self.touched
            .lock()
            .expect("touched lock")
            .insert(session_id, Instant::now());
    }

    /// The sessions touched since the last call, each with the age in ms
    /// of its last packet.
    pub fn take_touched_sessions(&self) -> Vec<(i64, u64)> {
        let now = Instant::now();
        self.touched
            .lock()
            .expect("touched lock")
            .drain()
            .map(|(id, at)| {
                let age = now.saturating_duration_since(at).as_millis();
                (id, u64::try_from(age).unwrap_or(u64::MAX))
            })
            .collect()
    }

    /// Give every replicated session a full timeout from now (a new
    /// leader's grace period).
    pub fn renew_all_sessions(&self) {
        let now = u64::try_from(now_ms()).unwrap_or(0);
        let db = self.db.read().expect("db lock");
        let mut tracker = SessionTracker::new(EXPIRY_GRANULARITY_MS);
        for (&id, info) in db.sessions() {
            tracker.add(id, u64::try_from(info.timeout_ms).unwrap_or(0), now);
        }
        *self.tracker.lock().expect("tracker lock") = tracker;
    }

    /// A fresh connection id.
    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Queue a transaction for the log; the outcome goes to `pending`.
    /// Fails only when the server is shutting down.
    pub async fn propose(&self, mut txn: Txn, pending: Pending) -> Result<(), ErrorCode> {
        let _order = self.submit.lock().await;
        let request_id = self.next_request_id.fetch_add(1, Ordering::Relaxed);
        txn.origin = Some(Origin {
            server_id: self.config.server_id,
            incarnation: self.incarnation,
            request_id,
        });
        self.pending
            .lock()
            .expect("pending lock")
            .insert(request_id, pending);
        if self.proposals.send(txn).await.is_err() {
            self.pending
                .lock()
                .expect("pending lock")
                .remove(&request_id);
            return Err(ErrorCode::ConnectionLoss);
        }
        Ok(())
    }

    /// Propose a server-internal transaction and wait for its outcome.
    pub async fn propose_and_wait(&self, txn: Txn) -> Result<TxnOutcome, ErrorCode> {
        let (tx, rx) = oneshot::channel();
        self.propose(txn, Pending::Waiter(tx)).await?;
        rx.await.map_err(|_| ErrorCode::ConnectionLoss)
    }

    /// The log could not take these transactions: whoever waits for them
    /// loses its connection (the client will retry elsewhere or later).
    pub fn fail_proposals(&self, origins: &[Origin]) {
        for origin in origins {
            let Some(origin) = self.own_request(origin) else {
                continue;
            };
            let pending = self.pending.lock().expect("pending lock").remove(&origin);
            match pending {
                Some(Pending::Request(completion)) => completion.fail(),
                Some(Pending::Waiter(_)) | None => {}
            }
        }
    }

    fn own_origin(&self, txn: &Txn) -> Option<u64> {
        self.own_request(txn.origin.as_ref()?)
    }

    /// The request id, if this process proposed it.
    fn own_request(&self, o: &Origin) -> Option<u64> {
        (o.server_id == self.config.server_id && o.incarnation == self.incarnation)
            .then_some(o.request_id)
    }

    /// A server-internal transaction stamped now.
    pub fn internal_txn(&self, op: TxnOp) -> Txn {
        Txn {
            session_id: 0,
            time_ms: now_ms(),
            auth: Vec::new(),
            is_super: true,
            op,
            origin: None,
        }
    }

    /// Apply one committed batch: the state machine's only entry point.
    ///
    /// Transaction by transaction: apply it, push its watch events, answer
    /// its request, then the reads its session queued behind it. So every
    /// reply reflects exactly the transactions before it in the log (a read
    /// never sees a later write, not even its own session's), and every
    /// event precedes any reply that reflects its change.
    fn apply_batch(&self, batch: TxnBatch) -> BatchOutcome {
        let mut db = self.db.write().expect("db lock");
        let mut watches = self.watches.lock().expect("watches lock");
        let conns = self.conns.lock().expect("conns lock");
        let mut triggers = Vec::new();
        let mut outcomes = Vec::with_capacity(batch.txns.len());
        for txn in batch.txns.iter() {
            let out = db.apply_next(txn, &mut triggers);
            for t in triggers.drain(..) {
                let notified = watches.trigger(&t.path, t.event);
                if notified.is_empty() {
                    continue;
                }
                let event = WatcherEvent {
                    event_type: t.event.code(),
                    state: KeeperState::SyncConnected.code(),
                    path: t.path,
                };
                // ZooKeeper 3.8 sends notifications with zxid -1.
                let frame = Bytes::from(encode_notification(-1, &event));
                for conn_id in notified {
                    if let Some(conn) = conns.get(&conn_id) {
                        conn.push_event(frame.clone());
                    }
                }
            }
            self.session_bookkeeping(txn, &out, &conns);
            if let Some(request_id) = self.own_origin(txn) {
                let pending = self
                    .pending
                    .lock()
                    .expect("pending lock")
                    .remove(&request_id);
                match pending {
                    Some(Pending::Request(completion)) => {
                        let mut applied = Applied {
                            db: &db,
                            watches: &mut watches,
                        };
                        completion.complete(&mut applied, &out);
                    }
                    Some(Pending::Waiter(tx)) => {
                        let _ = tx.send(out.clone());
                    }
                    None => {}
                }
            }
            outcomes.push(out);
        }
        BatchOutcome { outcomes }
    }

    /// Keep the liveness tracker and connections in line with sessions
    /// opened and closed by the log.
    fn session_bookkeeping(
        &self,
        txn: &Txn,
        out: &TxnOutcome,
        conns: &HashMap<ConnId, Arc<dyn ClientLink>>,
    ) {
        let now = u64::try_from(now_ms()).unwrap_or(0);
        let closed: Vec<i64> = match (&txn.op, &out.result) {
            (
                TxnOp::CreateSession { timeout_ms, .. },
                Ok(OpResult::SessionCreated { session_id }),
            ) => {
                let timeout = u64::try_from(*timeout_ms).unwrap_or(0);
                self.tracker
                    .lock()
                    .expect("tracker lock")
                    .add(*session_id, timeout, now);
                return;
            }
            (TxnOp::AttachSession { owner }, Ok(_)) => {
                if *owner != self.config.server_id {
                    // The client went to another server: whatever is left
                    // of its connection here answers SESSIONMOVED.
                    let conn_id = self
                        .session_conns
                        .lock()
                        .expect("session conns lock")
                        .remove(&txn.session_id);
                    if let Some(conn) = conn_id.and_then(|id| conns.get(&id)) {
                        conn.mark_moved();
                    }
                }
                return;
            }
            (TxnOp::CloseSession, Ok(_)) => vec![txn.session_id],
            (TxnOp::ExpireSessions { session_ids }, Ok(_)) => session_ids.clone(),
            _ => return,
        };
        let mut tracker = self.tracker.lock().expect("tracker lock");
        let mut session_conns = self.session_conns.lock().expect("session conns lock");
        for session_id in closed {
            tracker.remove(session_id);
            if let Some(conn_id) = session_conns.remove(&session_id) {
                // An explicit close is answered first (see complete_write),
                // then the connection closes; an expired session's
                // connection just closes, as in ZooKeeper.
                if let Some(conn) = conns.get(&conn_id) {
                    if matches!(txn.op, TxnOp::ExpireSessions { .. }) {
                        tracing::info!(session_id = format!("0x{session_id:x}"), "session expired");
                        conn.close();
                    }
                }
            }
        }
    }

    /// Replace the database with a snapshot's, and track its sessions with
    /// a fresh timeout each (a restart or new leader expires nobody early).
    fn restore(&self, snapshot: &[u8]) -> Result<(), String> {
        let restored = Database::from_snapshot(snapshot)?;
        let now = u64::try_from(now_ms()).unwrap_or(0);
        let mut tracker = SessionTracker::new(EXPIRY_GRANULARITY_MS);
        for (&id, info) in restored.sessions() {
            tracker.add(id, u64::try_from(info.timeout_ms).unwrap_or(0), now);
        }
        *self.db.write().expect("db lock") = restored;
        *self.tracker.lock().expect("tracker lock") = tracker;
        Ok(())
    }

    /// Answer every notification-free reply: reads, pings and local ops
    /// reply with the last applied zxid.
    pub fn reply_frame(
        xid: i32,
        zxid: i64,
        err: ErrorCode,
        resp: &corral_wire::proto::Response,
    ) -> Bytes {
        Bytes::from(encode_reply(xid, zxid, err.code(), resp))
    }

    /// A `NodeDeleted`-style event frame for SetWatches catch-up.
    pub fn event_frame(path: &str, event: EventType) -> Bytes {
        let e = WatcherEvent {
            event_type: event.code(),
            state: KeeperState::SyncConnected.code(),
            path: path.to_string(),
        };
        Bytes::from(encode_notification(-1, &e))
    }
}

/// The state machine seen by the Raft log.
pub struct App(pub Arc<Server>);

impl Application for App {
    fn session_activity(&self, sessions: &[(i64, u64)]) {
        // The report's transit time makes the activity look later than it
        // was, so a session never expires before its timeout on its account.
        let now = u64::try_from(now_ms()).unwrap_or(0);
        let mut tracker = self.0.tracker.lock().expect("tracker lock");
        for &(id, age_ms) in sessions {
            tracker.touch(id, now.saturating_sub(age_ms));
        }
    }

    fn apply(&self, batch: TxnBatch) -> BatchOutcome {
        self.0.apply_batch(batch)
    }

    fn snapshot(&self) -> crate::raft::SnapshotSource {
        let frozen = self.0.db.read().expect("db lock").freeze();
        Box::new(move |out| frozen.write_snapshot(out))
    }

    fn restore(&self, snapshot: &[u8]) -> Result<(), String> {
        self.0.restore(snapshot)
    }

    fn state_bytes(&self) -> u64 {
        let db = self.0.db.read().expect("db lock");
        // Paths and data plus ~100 bytes of stat, ACL and framing a node
        // (as `Database::to_snapshot` estimates).
        db.approximate_data_size() + 100 * db.node_count() as u64
    }
}
