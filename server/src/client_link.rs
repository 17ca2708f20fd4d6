//! What the replicated state needs from this server's client connections,
//! defined below both: `state` (the state machine) depends on these traits,
//! `listener` implements them, and neither imports the other's types.
//!
//! ```text
//! listener ──implements──▶ client_link ◀──uses── state
//!     └──────────────── uses ──────────────────────┘
//! ```

use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;

use crate::tree::Database;
use crate::txn::TxnOutcome;
use crate::watch::{ConnId, WatchManager};

/// The locked state a completion runs under: the database as of the
/// transaction just applied (held for writing by the state machine) and the
/// watch manager, so that what the completion answers, and the reads queued
/// behind it, see exactly that state.
pub struct Applied<'a> {
    /// The database right after the transaction.
    pub db: &'a Database,
    /// This server's watches.
    pub watches: &'a mut WatchManager,
}

/// Whoever waits for a client request's transaction on this server (the
/// listener's connection, with how to encode its reply).
pub trait Completion: Send {
    /// The transaction was applied here: answer it.
    fn complete(self: Box<Self>, applied: &mut Applied<'_>, out: &TxnOutcome);
    /// The log could not take it, or its outcome is unknown: the client
    /// loses its connection (and retries elsewhere or later).
    fn fail(self: Box<Self>);
}

/// A client connection as the state machine and the admin words see it.
pub trait ClientLink: Send + Sync + std::fmt::Debug {
    /// Server-local id.
    fn id(&self) -> ConnId;
    /// Queue a frame (a watch event) for the client; in order with replies.
    fn push_event(&self, frame: Bytes);
    /// Close the connection once what is queued is written.
    fn close(&self);
    /// The session moved to another server: later requests get SESSIONMOVED.
    fn mark_moved(&self);
    /// Requests not answered yet.
    fn outstanding(&self) -> usize;
    /// Counters for `cons`/`stat`.
    fn info(&self) -> LinkInfo;
}

/// What `cons` and `stat` report of one connection.
#[derive(Debug, Clone)]
pub struct LinkInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// Requests waiting for an answer.
    pub queued: usize,
    /// Packets received.
    pub received: u64,
    /// Packets sent.
    pub sent: u64,
    /// The session (0 before the handshake).
    pub session_id: i64,
    /// Negotiated session timeout.
    pub timeout_ms: i32,
    /// When the connection was accepted.
    pub established: Instant,
}
