//! [`LeaderLatch`]: a long-lived leadership flag on Curator's `LeaderLatch`
//! layout.

use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::client::{Client, StateWatcher};
use crate::error::{Error, Result};
use crate::proto::CreateMode;

use super::election::{leader_of, participants_of, LeaderObserver, Participant};
use super::lease::{lost, LostReason};
use super::lock_queue::{Grant, LockQueue};
use super::protected::{
    create_protected, delete_quietly, end_error, is_transient, join, name_of, retrying,
    wait_connected_or_end,
};

/// Curator's latch node name (`LeaderLatch.LOCK_NAME`).
pub const LATCH_NAME: &str = "latch-";

/// What a [`LeaderLatch`] currently is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchState {
    /// Taking part, not leading (also while disconnected: leadership is
    /// unknown then, as with Curator's `SUSPENDED`).
    Follower,
    /// Leading; the token is the latch node's czxid, larger for every
    /// later leader of this latch path.
    Leader {
        /// The fencing token (czxid of the latch node).
        fencing_token: i64,
    },
    /// Closed, or the session ended: no longer taking part.
    Closed,
}

/// A leader latch interoperable with Apache Curator's `LeaderLatch`: every
/// participant keeps a protected ephemeral sequential node
/// `<path>/_c_<uuid>-latch-<seq>` holding its id; the lowest leads until
/// its node goes. Unlike [`Election`](super::Election), which hands the
/// caller a lease for one term, a latch stays in the race until closed:
/// a background task (on the tokio runtime that called
/// [`start`](LeaderLatch::start)) follows its predecessor and flips
/// [`has_leadership`](LeaderLatch::has_leadership). If its node is
/// deleted while the session lives, it re-joins with a new node, as
/// Curator does.
///
/// ```no_run
/// use std::time::Duration;
/// use corral::client::Client;
/// use corral::recipes::LeaderLatch;
///
/// # async fn demo() -> Result<(), corral::Error> {
/// let client = Client::connect("127.0.0.1:2181").await?;
/// let latch = LeaderLatch::start(&client, "/services/scheduler/latch", "host-a").await?;
///
/// let token = latch.wait_leadership().await?;
/// println!("leading with fencing token {token}");
/// while latch.has_leadership() {
///     // ... do the leader's work, passing `token` to guarded resources ...
///     # break;
/// }
/// println!("leader: {:?}", latch.leader().await?.map(|p| p.id));
/// latch.close().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct LeaderLatch {
    queue: LockQueue,
    id: String,
    state: watch::Receiver<LatchState>,
    node: watch::Receiver<Option<String>>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl LeaderLatch {
    /// Joins the latch at `path` as `id` (stored in the node's data) and
    /// starts following it. Returns once this participant's node exists.
    pub async fn start(client: &Client, path: &str, id: &str) -> Result<LeaderLatch> {
        let queue = LockQueue {
            client: client.clone(),
            path: path.to_owned(),
            lock_name: LATCH_NAME.to_owned(),
            sort_names: vec![LATCH_NAME],
            grant: Grant::FirstN(1),
        };
        let (node_path, stat) = create_protected(
            client,
            path,
            LATCH_NAME,
            id.as_bytes(),
            CreateMode::EphemeralSequential,
        )
        .await?;
        let (state_tx, state) = watch::channel(LatchState::Follower);
        let (node_tx, node) = watch::channel(Some(node_path.clone()));
        let (stop, stop_rx) = oneshot::channel();
        let runner = Runner {
            queue: queue.clone(),
            id: id.to_owned(),
            state: state_tx,
            node: node_tx,
        };
        let task = tokio::spawn(runner.run(node_path, stat.czxid, stop_rx));
        Ok(LeaderLatch {
            queue,
            id: id.to_owned(),
            state,
            node,
            stop: Some(stop),
            task,
        })
    }

    /// This participant's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The latch's current state.
    pub fn state(&self) -> LatchState {
        *self.state.borrow()
    }

    /// Whether this participant leads right now (as last observed).
    pub fn has_leadership(&self) -> bool {
        matches!(self.state(), LatchState::Leader { .. })
    }

    /// The fencing token while leading.
    pub fn fencing_token(&self) -> Option<i64> {
        match self.state() {
            LatchState::Leader { fencing_token } => Some(fencing_token),
            _ => None,
        }
    }

    /// This participant's node, `None` once closed.
    pub fn node_path(&self) -> Option<String> {
        self.node.borrow().clone()
    }

    /// A receiver of every state change, for `select!` loops.
    pub fn state_receiver(&self) -> watch::Receiver<LatchState> {
        self.state.clone()
    }

    /// Waits until this participant leads (Curator's `await()`) and returns
    /// the fencing token; fails with the session's error if the latch
    /// closes first.
    pub async fn wait_leadership(&self) -> Result<i64> {
        let mut state = self.state.clone();
        let found = state
            .wait_for(|s| !matches!(s, LatchState::Follower))
            .await
            .map(|s| *s);
        match found {
            Ok(LatchState::Leader { fencing_token }) => Ok(fencing_token),
            _ => Err(end_error(self.queue.client.state())),
        }
    }

    /// As [`wait_leadership`](LeaderLatch::wait_leadership), `Ok(None)`
    /// after `timeout`.
    pub async fn wait_leadership_timeout(&self, timeout: Duration) -> Result<Option<i64>> {
        match tokio::time::timeout(timeout, self.wait_leadership()).await {
            Ok(result) => result.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Resolves when leadership is lost after having been held (or at
    /// once if not leading): the latch node was deleted, the session ended,
    /// the client got disconnected, or the latch was closed.
    pub async fn leadership_lost(&self) {
        let mut state = self.state.clone();
        let _ = state
            .wait_for(|s| !matches!(s, LatchState::Leader { .. }))
            .await;
    }

    /// The current leader, `None` when nobody takes part.
    pub async fn leader(&self) -> Result<Option<Participant>> {
        leader_of(&self.queue).await
    }

    /// Every participant in order, the leader first.
    pub async fn participants(&self) -> Result<Vec<Participant>> {
        participants_of(&self.queue).await
    }

    /// A follower of this latch's leader.
    pub fn observe(&self) -> LeaderObserver {
        LeaderObserver::new(self.queue.clone())
    }

    /// Leaves the latch: stops the background task and deletes this
    /// participant's node (another participant then leads).
    pub async fn close(mut self) -> Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
        let node = self.node.borrow().clone();
        match node {
            Some(path) => delete_quietly(&self.queue.client, &path).await,
            None => Ok(()),
        }
    }
}

impl Drop for LeaderLatch {
    fn drop(&mut self) {
        // Dropping without close: stop following; the task deletes the
        // node on its way out.
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The background task of a latch.
struct Runner {
    queue: LockQueue,
    id: String,
    state: watch::Sender<LatchState>,
    node: watch::Sender<Option<String>>,
}

impl Runner {
    async fn run(self, node_path: String, czxid: i64, mut stop: oneshot::Receiver<()>) {
        let result = tokio::select! {
            result = self.follow(node_path, czxid) => result,
            _ = &mut stop => Ok(()),
        };
        if let Err(err) = result {
            tracing::debug!(path = %self.queue.path, %err, "leader latch ended");
        }
        self.state.send_replace(LatchState::Closed);
        // Closed or dropped: leave the race (close() deletes it too; a
        // second delete of a gone node is harmless).
        let node = self.node.borrow().clone();
        if let Some(path) = node {
            if !self.queue.client.state().is_terminal() {
                let _ = delete_quietly(&self.queue.client, &path).await;
            }
        }
    }

    async fn follow(&self, node_path: String, czxid: i64) -> Result<()> {
        let client = &self.queue.client;
        let mut states = client.state_watcher();
        let mut node = (node_path, czxid);
        loop {
            match self.step(&mut node, &mut states).await {
                Ok(()) => {}
                Err(err) if client.state().is_terminal() => return Err(err),
                // A failure past the retries of one step, or a long outage:
                // not leading meanwhile, and the race goes on once
                // connected (the session may well have survived).
                Err(err) if is_transient(&err) => {
                    self.state.send_replace(LatchState::Follower);
                    wait_connected_or_end(client).await?;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// One evaluation of the latch: lead until that changes, or wait on the
    /// predecessor once.
    async fn step(&self, node: &mut (String, i64), states: &mut StateWatcher) -> Result<()> {
        let client = &self.queue.client;
        if !client.state().is_connected() {
            self.state.send_replace(LatchState::Follower);
            wait_connected_or_end(client).await?;
        }
        let children = self.queue.sorted_children().await?;
        let Some(ours) = children.iter().position(|c| c == name_of(&node.0)) else {
            // Our node is gone while the session lives: join again.
            self.state.send_replace(LatchState::Follower);
            if client.state().is_terminal() {
                return Err(end_error(client.state()));
            }
            let (path, stat) = create_protected(
                client,
                &self.queue.path,
                LATCH_NAME,
                self.id.as_bytes(),
                CreateMode::EphemeralSequential,
            )
            .await?;
            *node = (path, stat.czxid);
            self.node.send_replace(Some(node.0.clone()));
            return Ok(());
        };
        if ours == 0 {
            self.state.send_replace(LatchState::Leader {
                fencing_token: node.1,
            });
            tokio::select! {
                reason = lost(client, &node.0) => {
                    if let LostReason::SessionEnded(state) = reason {
                        return Err(end_error(state));
                    }
                }
                // Disconnected: leadership unknown until reconnected.
                state = states.changed() => {
                    if state.is_terminal() {
                        return Err(end_error(state));
                    }
                }
            }
            return Ok(());
        }
        self.state.send_replace(LatchState::Follower);
        let ahead = join(&self.queue.path, &children[ours - 1]);
        match retrying(client, || client.get_and_watch_data(&ahead)).await {
            Ok((_, _, watcher)) => {
                tokio::select! {
                    _ = watcher.changed() => {}
                    state = states.changed() => {
                        if state.is_terminal() {
                            return Err(end_error(state));
                        }
                    }
                }
                Ok(())
            }
            Err(Error::NoNode { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }
}
