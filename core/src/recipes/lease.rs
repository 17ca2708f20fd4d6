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
/// **Release.** [`release`](Lease::release) deletes the node; after the
/// grant was lost it still succeeds, reporting [`Released::AlreadyLost`]
/// (a `with` block or a `finally` need not tell the two apart). Dropping
/// an unreleased lease deletes the node too, from a task spawned on the
/// runtime the lease was granted on (captured then), so dropping it on
/// any thread releases it: a Python finaliser, a C `free`, a Node
/// garbage collection, a plain thread with no runtime.
pub struct Lease {
    client: Client,
    path: String,
    token: i64,
    released: bool,
    /// The runtime the grant was made on, to release from on drop.
    runtime: Option<tokio::runtime::Handle>,
    /// Set while this lease lives, for the lock object that granted it
    /// (re-acquiring a held lock fails at once).
    held: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// The process the lease was granted in: a copy inherited by a forked
    /// child must not spawn onto the parent's runtime when dropped.
    pid: u32,
}

/// What [`Lease::release`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The grant's node was deleted: released now.
    Deleted,
    /// The grant had already been lost (its node deleted, or the session
    /// ended and took it); nothing was left to release.
    AlreadyLost(LostReason),
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
            runtime: tokio::runtime::Handle::try_current().ok(),
            held: None,
            pid: std::process::id(),
        }
    }

    /// Marks `held` until this lease is released or dropped.
    pub(crate) fn holding(mut self, held: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Lease {
        held.store(true, std::sync::atomic::Ordering::Release);
        self.held = Some(held);
        self
    }

    /// A lease on a node this session already owns, found by path (after
    /// resuming a session in another process, say): the node must exist
    /// and its ephemeral owner must be this client's session. Its release
    /// and loss work as for a lease granted here.
    pub async fn adopt(client: &Client, path: &str) -> Result<Lease> {
        let stat = client.exists(path).await?.ok_or_else(|| Error::NoNode {
            path: path.to_owned(),
        })?;
        if stat.ephemeral_owner == 0 || stat.ephemeral_owner != client.session().id {
            return Err(Error::BadArguments {
                reason: format!(
                    "{path} is not an ephemeral node of this session (owner {:#x})",
                    stat.ephemeral_owner
                ),
            });
        }
        Ok(Lease::new(client.clone(), path.to_owned(), stat.czxid))
    }

    /// A future that resolves when the grant is lost (as
    /// [`lost`](Lease::lost)) but borrows nothing, to run on its own task
    /// (the embedding layer turns it into an event).
    pub fn loss(&self) -> impl std::future::Future<Output = LostReason> + Send + 'static {
        let (client, path) = (self.client.clone(), self.path.clone());
        async move { lost(&client, &path).await }
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
    /// losses). A grant already lost (node gone, session ended) is not an
    /// error: [`Released::AlreadyLost`] says so. Errors are left for what
    /// leaves the node in place (e.g. `NoAuth`, or connection losses past
    /// the retries while the session lives).
    ///
    /// Cancel-safe: if this future is dropped before the delete is known
    /// done, the lease's drop deletes the node (from a task), as for an
    /// unreleased lease.
    pub async fn release(mut self) -> Result<Released> {
        self.clear_held();
        let outcome = self.delete().await;
        self.released = true;
        outcome
    }

    async fn delete(&self) -> Result<Released> {
        let state = self.client.state();
        if state.is_terminal() {
            return Ok(Released::AlreadyLost(LostReason::SessionEnded(state)));
        }
        match self.client.delete(&self.path, None).await {
            Ok(()) => return Ok(Released::Deleted),
            Err(Error::NoNode { .. }) => return Ok(Released::AlreadyLost(LostReason::NodeDeleted)),
            Err(err) if is_session_end(&err) => {
                return Ok(Released::AlreadyLost(LostReason::SessionEnded(ended_by(
                    &err,
                ))))
            }
            Err(_) => {}
        }
        // A transient failure: retry until deleted or known gone.
        match delete_quietly(&self.client, &self.path).await {
            Ok(()) => Ok(Released::Deleted),
            Err(err) if is_session_end(&err) => Ok(Released::AlreadyLost(
                LostReason::SessionEnded(ended_by(&err)),
            )),
            Err(err) => Err(err),
        }
    }

    fn clear_held(&mut self) {
        if let Some(held) = self.held.take() {
            held.store(false, std::sync::atomic::Ordering::Release);
        }
    }
}

/// Whether an error means the session is over (its ephemerals with it).
fn is_session_end(err: &Error) -> bool {
    matches!(
        err,
        Error::SessionExpired | Error::ClientClosed | Error::AuthFailed
    )
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.pid != std::process::id() {
            // Inherited across fork(): the runtime, the session and the
            // node are the parent's. Touch none of them.
            if let Some(runtime) = self.runtime.take() {
                std::mem::forget(runtime);
            }
            std::mem::forget(self.client.clone());
            return;
        }
        self.clear_held();
        if self.released {
            return;
        }
        // The runtime the grant was made on, else the caller's: a lease
        // dropped on a thread with no runtime still releases.
        let Some(runtime) = self
            .runtime
            .take()
            .or_else(|| tokio::runtime::Handle::try_current().ok())
        else {
            tracing::debug!(path = %self.path, "lease dropped with no runtime; the node stays until the session ends");
            return;
        };
        let client = self.client.clone();
        let path = std::mem::take(&mut self.path);
        runtime.spawn(async move {
            let _ = delete_quietly(&client, &path).await;
        });
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
