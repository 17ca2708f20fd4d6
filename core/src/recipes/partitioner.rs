//! [`Partitioner`]: workers share a fixed set of partitions (row ranges,
//! shards, tenants), each claimed with an ephemeral node; a dead worker's
//! claims free up and the others take them.

use std::collections::{BTreeSet, HashSet};

use tokio::sync::{oneshot, watch};

use crate::client::{Client, CreateOptions};
use crate::error::{Error, Result};
use crate::proto::EventType;

use super::protected::{
    delete_quietly, end_error, ensure_containers, is_transient, join, retrying, wait_connected,
    wait_connected_or_end, RETRIES_MAX,
};

/// The child of the partitioner's path listing the live workers.
pub const MEMBERS_NODE: &str = "members";
/// The child of the partitioner's path holding the claims.
pub const CLAIMS_NODE: &str = "claims";

/// One worker of a work partitioner.
///
/// Layout under `path`: `members/<worker id>` (ephemeral, one per live
/// worker) and `claims/<partition>` (ephemeral, data = the claiming
/// worker's id). A claim is exclusive because ZooKeeper allows one node
/// per name, and it frees itself when its worker's session ends.
///
/// Each worker aims at a fair share, `ceil(partitions / live workers)`:
/// it claims free partitions while below it and releases extras while
/// above it (after a new worker joins). Since the shares add up to at
/// least the number of partitions, whenever a partition is free some
/// worker is below its share and claims it, so every partition ends up
/// claimed; no partition is ever claimed twice. The background task
/// (spawned on the runtime that called [`start`](Partitioner::start))
/// re-evaluates whenever the members or the claims change.
///
/// [`owned`](Partitioner::owned) is always a subset of the claims this
/// worker's session holds: a partition is added after its claim is
/// created and removed before its claim is deleted. Stop working on a
/// partition when it leaves the set (use [`owned_receiver`](Partitioner::owned_receiver)).
/// While the client is `Disconnected` the set is kept, but the session,
/// and with it the claims, may be expiring: pause work on
/// [`Client::state_watcher`]'s `Disconnected` if a second worker on the
/// same partition for up to a session timeout is unacceptable.
///
/// ```no_run
/// # async fn demo(client: corral::client::Client) -> Result<(), corral::Error> {
/// use corral::recipes::Partitioner;
/// let ranges: Vec<String> = (0..12).map(|i| format!("rows-{}-{}", i * 10 + 1, i * 10 + 10)).collect();
/// let worker = Partitioner::start(&client, "/jobs/import", "worker-a", &ranges).await?;
/// let mut owned = worker.owned_receiver();
/// loop {
///     println!("working on {:?}", *owned.borrow_and_update());
///     if owned.changed().await.is_err() { break; }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Partitioner {
    client: Client,
    path: String,
    worker_id: String,
    owned: watch::Receiver<BTreeSet<String>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Partitioner {
    /// Joins the partitioner at `path` as `worker_id` and starts claiming
    /// among `partitions` (every worker must pass the same names; a name
    /// is a node name, so no `/`).
    pub async fn start(
        client: &Client,
        path: &str,
        worker_id: &str,
        partitions: &[String],
    ) -> Result<Partitioner> {
        let worker = Worker {
            client: client.clone(),
            members: join(path, MEMBERS_NODE),
            claims: join(path, CLAIMS_NODE),
            worker_id: worker_id.to_owned(),
            partitions: partitions.to_vec(),
            owned: watch::Sender::new(BTreeSet::new()),
        };
        for node in [&worker.members, &worker.claims] {
            ensure_containers(client, path).await?;
            let persistent = CreateOptions::persistent();
            match retrying(client, || client.create(node, b"", &persistent)).await {
                Ok(_) | Err(Error::NodeExists { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        worker
            .create_ephemeral(&join(&worker.members, worker_id))
            .await?;
        let owned = worker.owned.subscribe();
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(worker.run(stop_rx));
        Ok(Partitioner {
            client: client.clone(),
            path: path.to_owned(),
            worker_id: worker_id.to_owned(),
            owned,
            stop: Some(stop),
            task,
        })
    }

    /// This worker's id.
    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// The partitions this worker holds now.
    pub fn owned(&self) -> BTreeSet<String> {
        self.owned.borrow().clone()
    }

    /// A receiver of this worker's partitions, updated on every change;
    /// it ends (an error from `changed`) when the worker stops.
    pub fn owned_receiver(&self) -> watch::Receiver<BTreeSet<String>> {
        self.owned.clone()
    }

    /// Every claim: partition to worker id.
    pub async fn claims(&self) -> Result<Vec<(String, String)>> {
        let claims = join(&self.path, CLAIMS_NODE);
        let mut children = retrying(&self.client, || self.client.get_children(&claims)).await?;
        children.sort();
        let mut out = Vec::new();
        for child in children {
            let node = join(&claims, &child);
            match retrying(&self.client, || self.client.get_data(&node)).await {
                Ok((data, _)) => out.push((child, String::from_utf8_lossy(&data).into_owned())),
                Err(Error::NoNode { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(out)
    }

    /// Stops: releases every claim and leaves the members.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        Ok(())
    }
}

impl Drop for Partitioner {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The background task of a worker.
struct Worker {
    client: Client,
    members: String,
    claims: String,
    worker_id: String,
    partitions: Vec<String>,
    owned: watch::Sender<BTreeSet<String>>,
}

impl Worker {
    async fn run(self, mut stop: oneshot::Receiver<()>) {
        let result = tokio::select! {
            result = self.balance_until_end() => result,
            _ = &mut stop => Ok(()),
        };
        if let Err(err) = &result {
            tracing::debug!(worker = %self.worker_id, %err, "partitioner stopped");
        }
        // Give every claim back (if the session is gone, they are gone).
        // Stopping may have cancelled a claim between its create and its
        // entry in `owned`, so look for this session's claims on the server.
        self.owned.send_replace(BTreeSet::new());
        if !self.client.state().is_terminal() {
            let _ = self.release_session_claims().await;
            let _ = delete_quietly(&self.client, &join(&self.members, &self.worker_id)).await;
        }
    }

    async fn release_session_claims(&self) -> Result<()> {
        let client = &self.client;
        let session = client.session().id;
        for claim in retrying(client, || client.get_children(&self.claims)).await? {
            let path = join(&self.claims, &claim);
            if let Some(stat) = retrying(client, || client.exists(&path)).await? {
                if stat.ephemeral_owner == session {
                    delete_quietly(client, &path).await?;
                }
            }
        }
        Ok(())
    }

    /// Creates an ephemeral node with this worker's id; `false` if another
    /// session has it.
    async fn create_ephemeral(&self, path: &str) -> Result<bool> {
        let mut attempt = 0;
        loop {
            let err = match self
                .client
                .create(path, self.worker_id.as_bytes(), &CreateOptions::ephemeral())
                .await
            {
                Ok(_) => return Ok(true),
                Err(err) => err,
            };
            match err {
                Error::NodeExists { .. } => {
                    // Ours, if a create lost to a connection loss was applied.
                    return match self.client.exists(path).await? {
                        Some(stat) => Ok(stat.ephemeral_owner == self.client.session().id),
                        None => Ok(false),
                    };
                }
                err if is_transient(&err) && attempt < RETRIES_MAX => {
                    wait_connected(&self.client).await?;
                }
                err => return Err(err),
            }
            attempt += 1;
        }
    }

    /// The rotation of the partitions this worker tries first, so that
    /// workers starting together do not all race for the same names.
    fn preference(&self) -> Vec<String> {
        let offset = self
            .worker_id
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
        let n = self.partitions.len().max(1);
        (0..self.partitions.len())
            .map(|i| self.partitions[(i + offset) % n].clone())
            .collect()
    }

    /// Balances until the session ends; a step failing past its retries
    /// (a long outage) resumes once connected, since the session and its
    /// claims may have survived.
    async fn balance_until_end(&self) -> Result<()> {
        loop {
            match self.balance().await {
                Err(err) if !self.client.state().is_terminal() && is_transient(&err) => {
                    wait_connected_or_end(&self.client).await?;
                }
                other => return other,
            }
        }
    }

    async fn balance(&self) -> Result<()> {
        let client = &self.client;
        let mut states = client.state_watcher();
        let preference = self.preference();
        loop {
            if !client.state().is_connected() {
                wait_connected_or_end(client).await?;
            }
            let (members, _, members_watch) =
                retrying(client, || client.get_and_watch_children(&self.members)).await?;
            let (claims, _, claims_watch) =
                retrying(client, || client.get_and_watch_children(&self.claims)).await?;
            if !members.contains(&self.worker_id) {
                // Our member node is gone while the session lives: rejoin.
                self.create_ephemeral(&join(&self.members, &self.worker_id))
                    .await?;
                continue;
            }
            let claimed: HashSet<&String> = claims.iter().collect();
            // A claim of ours deleted by someone else is no longer ours.
            self.owned.send_if_modified(|owned| {
                let before = owned.len();
                owned.retain(|p| claimed.contains(p));
                owned.len() != before
            });
            let share = self.partitions.len().div_ceil(members.len().max(1));
            let mine = self.owned.borrow().len();
            let mut acted = false;
            if mine > share {
                let extras: Vec<String> = self.owned.borrow().iter().skip(share).cloned().collect();
                for partition in extras {
                    // Out of the set before the claim goes.
                    self.owned.send_modify(|owned| {
                        owned.remove(&partition);
                    });
                    delete_quietly(client, &join(&self.claims, &partition)).await?;
                    acted = true;
                }
            } else if mine < share {
                let mut wanted = share - mine;
                for partition in preference.iter().filter(|p| !claimed.contains(p)) {
                    if wanted == 0 {
                        break;
                    }
                    if self
                        .create_ephemeral(&join(&self.claims, partition))
                        .await?
                    {
                        self.owned.send_modify(|owned| {
                            owned.insert(partition.clone());
                        });
                        wanted -= 1;
                        acted = true;
                    }
                }
            }
            if acted {
                continue;
            }
            tokio::select! {
                event = members_watch.changed() => {
                    if event.event_type == EventType::None {
                        return Err(end_error(client.state()));
                    }
                }
                event = claims_watch.changed() => {
                    if event.event_type == EventType::None {
                        return Err(end_error(client.state()));
                    }
                }
                state = states.changed() => {
                    if state.is_terminal() {
                        return Err(end_error(state));
                    }
                }
            }
        }
    }
}
