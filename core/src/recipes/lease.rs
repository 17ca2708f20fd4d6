//! [`Lease`]: what every lock, semaphore and leadership grant hands its
//! holder: the node that proves the grant, a fencing token, a "lost"
//! signal, and release.

use std::fmt;

use crate::client::{Client, SessionState};
use crate::error::{Error, Result};
use crate::proto::{EventType, KeeperState};

use super::protected::{delete_quietly, is_transient, wait_connected_or_end};

/// Why a [`Lease`] (or a leadership) was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LostReason {
    /// The grant's node was deleted (by an administrator, by another
    /// client, or by [`Lease::release`] from a clone of the client).
    NodeDeleted,
    /// The session ended (`Expired`, `Closed` or `AuthFailed`): its
    /// ephemeral nodes, the grant's included, are gone.
    SessionEnded(SessionState),
}

/// A held grant: the ephemeral node that won a lock, a semaphore lease or
/// a leadership, with its fencing token.
///
/// **Fencing token.** [`fencing_token`](Lease::fencing_token) is the
/// node's `czxid`, the zxid of the transaction that created it. Zxids
/// only grow, across the whole ensemble and across every parent node, so
/// a node created later always has a larger czxid. A grant goes to the
/// oldest waiting node (lowest sequence number, hence lowest czxid among
/// those present), and every node older than the holder's is gone before
/// it holds; so each successive holder's token is larger than every
/// earlier holder's. Unlike the sequence number, the czxid stays
/// monotonic when the lock's container parent is reaped and recreated
/// (which restarts the sequence at 0), and it is comparable across locks.
/// Give it to the guarded resource with every write; the resource rejects
/// a token smaller than the largest it has seen, so a holder that lost its
/// lease without knowing it (a long pause, a partition) cannot overwrite a
/// newer holder's work. A Curator holder has the same token: the czxid of
/// its lock node.
///
/// **Loss.** [`lost`](Lease::lost) resolves when the session ends or the
/// node is deleted. While the client is `Disconnected` the lease may or
/// may not still be held (the session lives on the servers until its
/// timeout): watch [`Client::state_watcher`] to pause work then, as
/// Curator's `SUSPENDED` advises, and rely on the fencing token for safety.
///
/// **Release.** [`release`](Lease::release) deletes the node. Dropping an
/// unreleased lease deletes it too, from a task spawned on the current
/// tokio runtime (best effort; without a runtime the node stays until
/// the session ends).
pub struct Lease {
    client: Client,
    path: String,
    token: i64,
    released: bool,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("path", &self.path)
            .field("fencing_token", &self.token)
            .finish()
    }
}

impl Lease {
    pub(crate) fn new(client: Client, path: String, czxid: i64) -> Lease {
        Lease {
            client,
            path,
            token: czxid,
            released: false,
        }
    }

    /// The node that holds the grant (e.g. `/locks/a/_c_<uuid>-lock-0000000003`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The fencing token: the czxid of the grant's node; larger for every
    /// later holder (see the type's docs).
    pub fn fencing_token(&self) -> i64 {
        self.token
    }

    /// Resolves when the grant is lost: the session ended or the node was
    /// deleted. Resolves at once if that already happened. Cancel-safe;
    /// may be called any number of times.
    pub async fn lost(&self) -> LostReason {
        lost(&self.client, &self.path).await
    }

    /// Whether the grant's node still exists, checked with the server.
    pub async fn is_held(&self) -> Result<bool> {
        Ok(self.client.exists(&self.path).await?.is_some())
    }

    /// Releases the grant: deletes the node (retrying after connection
    /// losses; a node already gone is success).
    pub async fn release(mut self) -> Result<()> {
        self.released = true;
        delete_quietly(&self.client, &self.path).await
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let client = self.client.clone();
            let path = std::mem::take(&mut self.path);
            runtime.spawn(async move {
                let _ = delete_quietly(&client, &path).await;
            });
        }
    }
}

/// Waits until `path` is deleted or the client's session ends.
pub(crate) async fn lost(client: &Client, path: &str) -> LostReason {
    loop {
        let state = client.state();
        if state.is_terminal() {
            return LostReason::SessionEnded(state);
        }
        match client.exists_and_watch(path).await {
            Ok((None, _)) => return LostReason::NodeDeleted,
            Ok((Some(_), watcher)) => {
                let event = watcher.changed().await;
                match event.event_type {
                    EventType::NodeDeleted => return LostReason::NodeDeleted,
                    EventType::None => return LostReason::SessionEnded(ended(event.state)),
                    // A data change, or a removal of the watch: look again.
                    _ => {}
                }
            }
            Err(err) if is_transient(&err) => {
                // However long the disconnection, the lease is not known
                // lost until the session ends.
                if let Err(err) = wait_connected_or_end(client).await {
                    return LostReason::SessionEnded(ended_by(&err));
                }
            }
            // The client fails waiting requests before it publishes its
            // terminal state: read the end from the error itself.
            Err(err) => return LostReason::SessionEnded(ended_by(&err)),
        }
    }
}

/// The terminal state an error reports.
fn ended_by(err: &Error) -> SessionState {
    match err {
        Error::SessionExpired => SessionState::Expired,
        Error::AuthFailed => SessionState::AuthFailed,
        _ => SessionState::Closed,
    }
}

fn ended(state: KeeperState) -> SessionState {
    match state {
        KeeperState::Expired => SessionState::Expired,
        KeeperState::AuthFailed => SessionState::AuthFailed,
        _ => SessionState::Closed,
    }
}
