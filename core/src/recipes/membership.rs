//! [`Membership`]: group membership and service discovery, on Curator's
//! `GroupMember` layout.

use std::collections::BTreeMap;

use crate::client::{Client, CreateOptions, PersistentWatcher, StateWatcher};
use crate::error::{Error, Result};
use crate::proto::{AddWatchMode, EventType};

use super::lease::{Lease, LostReason};
use super::protected::{
    end_error, ensure_containers, is_transient, join, retrying, wait_connected, RETRIES_MAX,
};

/// The members of a group: id to payload.
pub type Members = BTreeMap<String, Vec<u8>>;

/// A group of live members, interoperable with Apache Curator's
/// `GroupMember`: each member is an ephemeral node `<path>/<id>` whose
/// data is its payload (an address, a JSON document...). A member leaves
/// when it says so or when its session ends.
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

/// This client's membership: its node, the [`lost`](Member::lost) signal.
#[derive(Debug)]
pub struct Member {
    id: String,
    lease: Lease,
    client: Client,
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
        let czxid = loop {
            let err = match self
                .client
                .create(&path, payload, &CreateOptions::ephemeral())
                .await
            {
                Ok((_, stat)) => break stat.czxid,
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
                            break stat.czxid;
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
        };
        Ok(Member {
            id: id.to_owned(),
            lease: Lease::new(self.client.clone(), path, czxid),
            client: self.client.clone(),
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
        self.lease.path()
    }

    /// Replaces the payload.
    pub async fn set_payload(&self, payload: &[u8]) -> Result<()> {
        retrying(&self.client, || {
            self.client.set_data(self.lease.path(), payload, None)
        })
        .await
        .map(|_| ())
    }

    /// Resolves when the membership is lost (node deleted, session ended).
    pub async fn lost(&self) -> LostReason {
        self.lease.lost().await
    }

    /// Leaves the group (deletes the node).
    pub async fn leave(self) -> Result<()> {
        self.lease.release().await.map(|_| ())
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
