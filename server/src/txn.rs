//! Transactions: what the Raft log carries and what applying them yields.
//!
//! One log entry is a [`TxnBatch`]: many client transactions proposed
//! together (group commit). The state machine gives every transaction of a
//! batch its own zxid, so a batch of 100 writes costs one append and one
//! fsync but still looks like 100 ZooKeeper transactions to clients.
//!
//! Everything non-deterministic (time, session ids' passwords, the caller's
//! authenticated identities) is decided by the proposer and carried here, so
//! every replica applying the same batch computes the same results.

use corral_wire::proto::{Acl, CreateMode, ErrorCode, EventType, Id, Stat};
use serde::{Deserialize, Serialize};

/// One Raft log entry's payload: transactions applied in order.
///
/// Shared, not copied, when cloned: the log keeps recent entries in memory
/// and hands out clones to apply and to replicate.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TxnBatch {
    /// The transactions, in proposal order.
    pub txns: std::sync::Arc<[Txn]>,
}

impl TxnBatch {
    /// A batch of these transactions.
    pub fn new(txns: Vec<Txn>) -> TxnBatch {
        TxnBatch { txns: txns.into() }
    }
}

/// One client (or server-internal) transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Txn {
    /// The session on whose behalf the change is made (0 for server-internal
    /// transactions such as the container reaper).
    pub session_id: i64,
    /// Wall-clock time stamped by the proposer, milliseconds since the epoch:
    /// becomes ctime/mtime; replicas never read their own clock.
    pub time_ms: i64,
    /// Identities the caller is authenticated as (`ip:...`, `digest:...`),
    /// against which ACLs are checked at apply time.
    pub auth: Vec<Id>,
    /// Whether the caller authenticated as the configured super user (every
    /// ACL check passes).
    pub is_super: bool,
    /// What to do.
    pub op: TxnOp,
    /// Which pending request on which server waits for this transaction's
    /// result (None for server-internal transactions). Only the server that
    /// proposed it recognises it; everyone else ignores it.
    pub origin: Option<Origin>,
}

impl Txn {
    /// Approximate size of what the transaction carries (data, paths,
    /// ACLs), to bound batches.
    pub fn payload_bytes(&self) -> usize {
        64 + self
            .auth
            .iter()
            .map(|id| id.id.len() + id.scheme.len())
            .sum::<usize>()
            + self.op.payload_bytes()
    }
}

impl TxnOp {
    fn payload_bytes(&self) -> usize {
        let acl_bytes = |acl: &[Acl]| {
            acl.iter()
                .map(|a| 8 + a.id.id.len() + a.id.scheme.len())
                .sum::<usize>()
        };
        match self {
            TxnOp::Create {
                path, data, acl, ..
            } => path.len() + data.len() + acl_bytes(acl),
            TxnOp::SetData { path, data, .. } => path.len() + data.len(),
            TxnOp::CreateWithNullData { path, acl, .. } => path.len() + acl_bytes(acl),
            TxnOp::SetNullData { path, .. } => path.len(),
            TxnOp::SetAcl { path, acl, .. } => path.len() + acl_bytes(acl),
            TxnOp::Delete { path, .. } | TxnOp::Check { path, .. } => path.len(),
            TxnOp::Multi(ops) => ops.iter().map(TxnOp::payload_bytes).sum(),
            TxnOp::Reap { paths } => paths.iter().map(String::len).sum(),
            TxnOp::ExpireSessions { session_ids } => 8 * session_ids.len(),
            TxnOp::CreateSession { .. }
            | TxnOp::CloseSession
            | TxnOp::AttachSession { .. }
            | TxnOp::Noop => 16,
        }
    }
}

/// The proposer of a transaction, so that the server holding the client's
/// connection can answer it the moment it applies the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The proposing server's id.
    pub server_id: u64,
    /// Random per process start, so that request ids of an earlier run
    /// found in the log are never mistaken for current ones.
    pub incarnation: u64,
    /// The request's id on that server.
    pub request_id: u64,
}

/// The operations a transaction can carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOp {
    /// Open a new session. The id is assigned by the state machine from its
    /// replicated counter (unique across leaders); the password is chosen by
    /// the proposer.
    CreateSession {
        /// Negotiated timeout.
        timeout_ms: i32,
        /// The 16-byte session password.
        password: [u8; 16],
    },
    /// Close `Txn::session_id` (explicit close), deleting its ephemerals.
    CloseSession,
    /// `Txn::session_id`'s client reconnected to server `owner`: from now
    /// on only that server may write for the session.
    AttachSession {
        /// The server the client is now connected to.
        owner: u64,
    },
    /// Expire sessions (decided by the leader's session tracker), deleting
    /// their ephemerals.
    ExpireSessions {
        /// The sessions that expired.
        session_ids: Vec<i64>,
    },
    /// Create a node (create, create2, createContainer, createTTL).
    Create {
        /// Path as requested (without sequence suffix).
        path: String,
        /// Data (null data is [`TxnOp::CreateWithNullData`]).
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        /// ACL as requested (`auth` ids are expanded at apply time).
        acl: Vec<Acl>,
        /// Mode.
        mode: CreateMode,
        /// TTL in milliseconds for TTL modes, otherwise 0.
        ttl_ms: i64,
    },
    /// Delete a node (version -1 = any).
    Delete {
        /// Path.
        path: String,
        /// Expected version.
        version: i32,
    },
    /// Set a node's data (version -1 = any).
    SetData {
        /// Path.
        path: String,
        /// New data (null data is [`TxnOp::SetNullData`]).
        #[serde(with = "serde_bytes")]
        data: Vec<u8>,
        /// Expected version.
        version: i32,
    },
    /// Set a node's ACL (version -1 = any, compared with aversion).
    SetAcl {
        /// Path.
        path: String,
        /// New ACL.
        acl: Vec<Acl>,
        /// Expected aversion.
        version: i32,
    },
    /// Check a node's version (only inside multi).
    Check {
        /// Path.
        path: String,
        /// Expected version.
        version: i32,
    },
    /// Apply every op or none.
    Multi(Vec<TxnOp>),
    /// Remove empty containers and expired TTL nodes found by the periodic
    /// check. Each is re-checked at apply time, so a node that gained a
    /// child or was modified since the check stays.
    Reap {
        /// Candidate paths.
        paths: Vec<String>,
    },
    /// A no-op that only takes a zxid (used by sync and as a barrier).
    Noop,
    /// [`TxnOp::Create`] with null data (a client's length -1, which
    /// ZooKeeper returns as null, not empty). Variants of their own, added
    /// last, so that the log encoding of the others is unchanged.
    CreateWithNullData {
        /// Path as requested (without sequence suffix).
        path: String,
        /// ACL as requested.
        acl: Vec<Acl>,
        /// Mode.
        mode: CreateMode,
        /// TTL in milliseconds for TTL modes, otherwise 0.
        ttl_ms: i64,
    },
    /// [`TxnOp::SetData`] with null data.
    SetNullData {
        /// Path.
        path: String,
        /// Expected version.
        version: i32,
    },
}

/// What a successfully applied operation returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpResult {
    /// A session was opened with this id.
    SessionCreated {
        /// The new session id.
        session_id: i64,
    },
    /// Sessions closed (explicit close or expiry).
    SessionsClosed,
    /// A node was created; `path` has the sequence suffix if any.
    Created {
        /// Actual path.
        path: String,
        /// Its stat.
        stat: Stat,
    },
    /// A node was deleted.
    Deleted,
    /// Data was set.
    DataSet {
        /// New stat.
        stat: Stat,
    },
    /// The ACL was set.
    AclSet {
        /// New stat.
        stat: Stat,
    },
    /// A version check passed.
    Checked,
    /// A multi succeeded: one result per op.
    Multi(Vec<OpResult>),
    /// A multi failed and was rolled back: per op, `Ok` for the ones before
    /// the failing op, its error, then `RuntimeInconsistency` after it.
    MultiFailed(Vec<ErrorCode>),
    /// Reaping removed these paths.
    Reaped {
        /// Removed paths.
        paths: Vec<String>,
    },
    /// Nothing to return.
    Done,
}

/// The result of one transaction: the zxid it was given and its outcome.
///
/// ZooKeeper errors are data here (part of the replicated result), never a
/// reason to stop the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnOutcome {
    /// The zxid assigned to this transaction.
    pub zxid: i64,
    /// Success value or ZooKeeper error.
    pub result: Result<OpResult, ErrorCode>,
}

/// The results of one applied batch, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// One per transaction of the batch.
    pub outcomes: Vec<TxnOutcome>,
}

/// A change that may fire watches: ZooKeeper's `triggerWatch(path, type)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchTrigger {
    /// The node the event is about.
    pub path: String,
    /// What happened to it.
    pub event: EventType,
    /// The zxid of the transaction that caused it.
    pub zxid: i64,
}
