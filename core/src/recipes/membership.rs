//! [`Membership`]: group membership and service discovery, on Curator's
//! `GroupMember` layout.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::AbortHandle;

use crate::client::{Client, CreateOptions, PersistentWatcher, SessionState, StateWatcher};
use crate::error::{Error, Result};
use crate::proto::{AddWatchMode, EventType};

use super::lease::{lost, LostReason};
use super::protected::{
    delete_quietly, end_error, ensure_containers, is_transient, join, retrying, wait_connected,
    wait_connected_or_end, RETRIES_MAX,
};

/// The members of a group: id to payload.
pub type Members = BTreeMap<String, Vec<u8>>;

/// A group of live members, interoperable with Apache Curator's
/// `GroupMember`: each member is an ephemeral node `<path>/<id>` whose
/// data is its payload (an address, a JSON document...). A member leaves
/// when it says so or when its session ends.
///
/// While its session lives, a member stays in the group: if its node
/// disappears (deleted by someone else, or gone after a reconnection), a
/// task of the member recreates it with the current payload once
/// connected, as Curator's `PersistentNode` does. When the session
/// expires (or the client is closed) the member is over for good: the
/// client is terminal, and [`Member::lost`] reports
/// [`LostReason::SessionEnded`]; join again from a new client.
///
/// ```no_run
/// # async fn demo(client: corral::client::Client) -> Result<(), corral::Error> {
/// use corral::recipes::Membership;
/// let group = Membership::new(&client, "/services/search");
/// let me = group.join("search-1", b"10.0.0.7:9200").await?;
/// let mut view = group.watch();
/// let members = view.changed().await?; // the current members
/// println!("{} instances: {:?}", members.len(), members.keys());
/// me.leave().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Membership {
    client: Client,
    path: String,
}

/// This client's membership: its node, kept while the session lives, and
/// the [`lost`](Member::lost) signal.
#[derive(Debug)]
pub struct Member {
    id: String,
    path: String,
    client: Client,
    payload: Arc<std::sync::Mutex<Vec<u8>>>,
    /// Set once the membership is over for good.
    ended: watch::Receiver<Option<LostReason>>,
    rejoins: watch::Receiver<u64>,
    keeper: AbortHandle,
    /// The runtime the member joined on, to delete its node from when
    /// dropped on a thread without one.
    runtime: tokio::runtime::Handle,
    left: bool,
}

impl Membership {
    /// The group at `path`.
    pub fn new(client: &Client, path: &str) -> Membership {
        Membership {
            client: client.clone(),
            path: path.to_owned(),
        }
    }

    /// Joins as `id` with `payload`. Fails with `NodeExists` if another
    /// session is a member under that id; rejoining from the same session
    /// updates the payload.
    pub async fn join(&self, id: &str, payload: &[u8]) -> Result<Member> {
        let path = join(&self.path, id);
        let mut attempt = 0;
        loop {
            let err = match self
                .client
                .create(&path, payload, &CreateOptions::ephemeral())
                .await
            {
                Ok(_) => break,
                Err(err) => err,
            };
            match err {
                Error::NoNode { .. } if attempt < RETRIES_MAX => {
                    ensure_containers(&self.client, &self.path).await?;
                }
                Error::NodeExists { .. } => {
                    // Ours already (a retried create after a connection
                    // loss, or a rejoin)?
                    match self.client.exists(&path).await? {
                        Some(stat) if stat.ephemeral_owner == self.client.session().id => {
                            self.client.set_data(&path, payload, None).await?;
                            break;
                        }
                        Some(_) => return Err(Error::NodeExists { path }),
                        None => {}
                    }
                }
                err if is_transient(&err) && attempt < RETRIES_MAX => {
                    wait_connected(&self.client).await?;
                }
                err => return Err(err),
            }
            attempt += 1;
        }
        let payload = Arc::new(std::sync::Mutex::new(payload.to_vec()));
        let (ended_tx, ended) = watch::channel(None);
        let (rejoins_tx, rejoins) = watch::channel(0);
        let keeper = tokio::spawn(keep_member(
            self.client.clone(),
            self.path.clone(),
            path.clone(),
            Arc::clone(&payload),
            ended_tx,
            rejoins_tx,
        ));
        Ok(Member {
            id: id.to_owned(),
            path,
            client: self.client.clone(),
            payload,
            ended,
            rejoins,
            keeper: keeper.abort_handle(),
            runtime: tokio::runtime::Handle::current(),
            left: false,
        })
    }

    /// The current members.
    pub async fn members(&self) -> Result<Members> {
        members_of(&self.client, &self.path).await
    }

    /// A live view of the members.
    pub fn watch(&self) -> MembershipWatcher {
        MembershipWatcher {
            client: self.client.clone(),
            path: self.path.clone(),
            watcher: None,
            states: self.client.state_watcher(),
            last: None,
        }
    }
}

async fn members_of(client: &Client, path: &str) -> Result<Members> {
    let children = match retrying(client, || client.get_children(path)).await {
        Ok(children) => children,
        Err(Error::NoNode { .. }) => return Ok(Members::new()),
        Err(err) => return Err(err),
    };
    let mut members = Members::new();
    for child in children {
        let member = join(path, &child);
        match retrying(client, || client.get_data(&member)).await {
            Ok((data, _)) => {
                members.insert(child, data);
            }
            Err(Error::NoNode { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(members)
}

impl Member {
    /// The member id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The member's node.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Replaces the payload (also the one a recreated node gets).
    pub async fn set_payload(&self, payload: &[u8]) -> Result<()> {
        *self.payload.lock().unwrap_or_else(|e| e.into_inner()) = payload.to_vec();
        retrying(&self.client, || {
            self.client.set_data(&self.path, payload, None)
        })
        .await
        .map(|_| ())
    }

    /// How many times the member's node was recreated after it
    /// disappeared while the session lived.
    pub fn rejoins(&self) -> u64 {
        *self.rejoins.borrow()
    }

    /// Waits until the node has been recreated more than `count` times in
    /// all; fails once the membership is over.
    pub async fn rejoined(&self, count: u64) -> Result<u64> {
        let mut rejoins = self.rejoins.clone();
        let mut ended = self.ended.clone();
        loop {
            let now = *rejoins.borrow_and_update();
            if now > count {
                return Ok(now);
            }
            if let Some(reason) = *ended.borrow_and_update() {
                return Err(lost_error(reason, &self.path));
            }
            tokio::select! {
                changed = rejoins.changed() => if changed.is_err() { return Err(Error::ClientClosed) },
                changed = ended.changed() => if changed.is_err() { return Err(Error::ClientClosed) },
            }
        }
    }

    /// Resolves when the membership is over for good: the session ended
    /// (expired, closed), or another session took this member id while
    /// the node was gone ([`LostReason::NodeDeleted`]). A node deleted
    /// while the session lives is recreated, not a loss.
    pub async fn lost(&self) -> LostReason {
        let mut ended = self.ended.clone();
        loop {
            if let Some(reason) = *ended.borrow_and_update() {
                return reason;
            }
            if ended.changed().await.is_err() {
                return LostReason::SessionEnded(SessionState::Closed);
            }
        }
    }

    /// Leaves the group: stops keeping the node and deletes it.
    pub async fn leave(mut self) -> Result<()> {
        self.keeper.abort();
        self.left = true;
        match delete_quietly(&self.client, &self.path).await {
            Ok(()) | Err(Error::SessionExpired) | Err(Error::ClientClosed) => Ok(()),
            Err(err) => Err(err),
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.keeper.abort();
        if self.left {
            return;
        }
        let (client, path) = (self.client.clone(), std::mem::take(&mut self.path));
        self.runtime.spawn(async move {
            let _ = delete_quietly(&client, &path).await;
        });
    }
}

fn lost_error(reason: LostReason, path: &str) -> Error {
    match reason {
        LostReason::NodeDeleted => Error::NodeExists {
            path: path.to_owned(),
        },
        LostReason::SessionEnded(state) => end_error(state),
    }
}

/// Keeps a member's node while the session lives: recreates it (after
/// the connection is back) whenever it disappears; reports the end.
async fn keep_member(
    client: Client,
    group: String,
    path: String,
    payload: Arc<std::sync::Mutex<Vec<u8>>>,
    ended: watch::Sender<Option<LostReason>>,
    rejoins: watch::Sender<u64>,
) {
    loop {
        if let LostReason::SessionEnded(state) = lost(&client, &path).await {
            let _ = ended.send(Some(LostReason::SessionEnded(state)));
            return;
        }
        // The node is gone but the session may live: recreate it once
        // connected (a session that ended ends the member).
        if let Err(err) = wait_connected_or_end(&client).await {
            let state = match err {
                Error::SessionExpired => SessionState::Expired,
                Error::AuthFailed => SessionState::AuthFailed,
                _ => SessionState::Closed,
            };
            let _ = ended.send(Some(LostReason::SessionEnded(state)));
            return;
        }
        let data = payload.lock().unwrap_or_else(|e| e.into_inner()).clone();
        match client
            .create(&path, &data, &CreateOptions::ephemeral())
            .await
        {
            Ok(_) => {
                tracing::info!(%path, "member node recreated");
                rejoins.send_modify(|n| *n += 1);
            }
            Err(Error::NoNode { .. }) => {
                let _ = ensure_containers(&client, &group).await;
            }
            Err(Error::NodeExists { .. }) => match client.exists(&path).await {
                // Our own create, applied before a connection loss.
                Ok(Some(stat)) if stat.ephemeral_owner == client.session().id => {
                    rejoins.send_modify(|n| *n += 1);
                }
                // Another session joined under this id meanwhile.
                Ok(Some(_)) => {
                    let _ = ended.send(Some(LostReason::NodeDeleted));
                    return;
                }
                _ => {}
            },
            // Transient: look again once connected.
            Err(err) if is_transient(&err) => {}
            // The session ended (a close deletes the node first, which is
            // how we got here): the member is over, for that reason.
            Err(Error::ClientClosed) | Err(Error::SessionExpired) | Err(Error::AuthFailed) => {
                let state = client.state();
                let state = if state.is_terminal() {
                    state
                } else {
                    SessionState::Closed
                };
                let _ = ended.send(Some(LostReason::SessionEnded(state)));
                return;
            }
            Err(err) => {
                tracing::warn!(%path, error = %err, "member node could not be recreated");
                let _ = ended.send(Some(LostReason::NodeDeleted));
                return;
            }
        }
    }
}

/// A live view of a [`Membership`]: [`changed`](MembershipWatcher::changed)
/// returns the members whenever they differ from the last view returned
/// (the first call returns the current members). Kept by a
/// persistent-recursive watch on the group, re-read after reconnections.
#[derive(Debug)]
pub struct MembershipWatcher {
    client: Client,
    path: String,
    watcher: Option<PersistentWatcher>,
    states: StateWatcher,
    last: Option<Members>,
}

impl MembershipWatcher {
    /// The last view returned.
    pub fn current(&self) -> Option<&Members> {
        self.last.as_ref()
    }

    /// Waits until the members differ from the last view, and returns them.
    pub async fn changed(&mut self) -> Result<Members> {
        loop {
            if self.watcher.is_none() {
                let (client, path) = (&self.client, &self.path);
                let watcher = retrying(client, || {
                    client.add_watch(path, AddWatchMode::PersistentRecursive)
                })
                .await?;
                self.watcher = Some(watcher);
            }
            let members = members_of(&self.client, &self.path).await?;
            if self.last.as_ref() != Some(&members) {
                self.last = Some(members.clone());
                return Ok(members);
            }
            let Some(watcher) = self.watcher.as_mut() else {
                continue;
            };
            tokio::select! {
                event = watcher.changed() => {
                    if event.event_type == EventType::None {
                        return Err(end_error(self.client.state()));
                    }
                    if event.is_terminal() {
                        self.watcher = None;
                    }
                }
                state = self.states.changed() => {
                    if state.is_terminal() {
                        return Err(end_error(state));
                    }
                }
            }
        }
    }
}
