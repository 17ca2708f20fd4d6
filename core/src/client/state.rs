//! [`SessionState`] and [`SessionInfo`]: what a client's session is doing,
//! and what it takes to resume it elsewhere.

use std::fmt;
use std::time::Duration;

use crate::proto::KeeperState;

/// The state of a client's session, as observed through
/// [`Client::state`](super::Client::state) and
/// [`StateWatcher`](super::StateWatcher).
///
/// ```text
/// Connecting -> Connected <-> Disconnected -> Connected ...
///                   |               |
///                   +-> Closed / Expired / AuthFailed (terminal)
/// ```
///
/// `Disconnected` is not the end: the client keeps trying the hosts with
/// the same session, which lives on the servers until its timeout passes
/// without a connection. Only the three terminal states end a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SessionState {
    /// The first connection is being established.
    Connecting,
    /// Connected to a server that serves reads and writes.
    Connected,
    /// Connected to a read-only server (writes fail with `NotReadOnly`).
    ConnectedReadOnly,
    /// The connection was lost; the client is reconnecting with the same
    /// session. In-flight requests failed with `ConnectionLoss`; new ones wait.
    Disconnected,
    /// The server expired the session: its ephemerals and watches are gone
    /// and the client is finished (terminal).
    Expired,
    /// The client was closed (or every handle dropped) (terminal).
    Closed,
    /// The server refused the client's credentials (terminal).
    AuthFailed,
}

impl SessionState {
    /// Whether the client is connected (read-write or read-only).
    pub fn is_connected(self) -> bool {
        matches!(
            self,
            SessionState::Connected | SessionState::ConnectedReadOnly
        )
    }

    /// Whether the state is final: `Expired`, `Closed` or `AuthFailed`.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SessionState::Expired | SessionState::Closed | SessionState::AuthFailed
        )
    }

    /// ZooKeeper's `KeeperState` for this state (`Connecting` reports as
    /// `Disconnected`, as the Java client does).
    pub fn keeper_state(self) -> KeeperState {
        match self {
            SessionState::Connecting | SessionState::Disconnected => KeeperState::Disconnected,
            SessionState::Connected => KeeperState::SyncConnected,
            SessionState::ConnectedReadOnly => KeeperState::ConnectedReadOnly,
            SessionState::Expired => KeeperState::Expired,
            SessionState::Closed => KeeperState::Closed,
            SessionState::AuthFailed => KeeperState::AuthFailed,
        }
    }
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            SessionState::Connecting => "connecting",
            SessionState::Connected => "connected",
            SessionState::ConnectedReadOnly => "connected read-only",
            SessionState::Disconnected => "disconnected",
            SessionState::Expired => "expired",
            SessionState::Closed => "closed",
            SessionState::AuthFailed => "auth failed",
        };
        f.write_str(name)
    }
}

/// A session's identity: what another client needs to resume it with
/// [`Connector::session`](super::Connector::session).
///
/// Whoever holds the id and password can take the session over, with its
/// ephemeral nodes: treat the password as a secret.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionInfo {
    /// The session id the server assigned (0 before the first connection).
    pub id: i64,
    /// The session password (16 bytes from ZooKeeper).
    pub password: Vec<u8>,
    /// The negotiated session timeout.
    pub timeout: Duration,
}

impl fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password is a bearer credential: keep it out of logs.
        f.debug_struct("SessionInfo")
            .field("id", &format_args!("{:#x}", self.id))
            .field("password", &"<redacted>")
            .field("timeout", &self.timeout)
            .finish()
    }
}
