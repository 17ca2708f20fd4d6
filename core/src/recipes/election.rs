//! [`Election`]: leader election on Curator's `LeaderSelector` layout, and
//! [`LeaderObserver`], which follows who leads an election or a latch.

use std::time::Duration;

use crate::client::{Client, PersistentWatcher, StateWatcher};
use crate::error::{Error, Result};
use crate::proto::{AddWatchMode, EventType};

use super::lease::Lease;
use super::lock_queue::{Grant, LockQueue};
use super::mutex::{Mutex, LOCK_NAME};
use super::protected::{end_error, join, retrying};

/// One contender of an election or a leader latch, as Curator's
/// `Participant` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The participant id: the UTF-8 text of the contender node's data.
    pub id: String,
    /// The contender's node.
    pub path: String,
    /// Whether it leads (the first contender in order whose node could
    /// be read).
    pub is_leader: bool,
}

/// The contenders of `queue` in order, the first readable one leading
/// (Curator's `LeaderSelector.getParticipants`: nodes deleted while being
/// read are skipped).
pub(crate) async fn participants_of(queue: &LockQueue) -> Result<Vec<Participant>> {
    let client = &queue.client;
    let mut participants = Vec::new();
    for child in queue.sorted_children().await? {
        let path = join(&queue.path, &child);
        match retrying(client, || client.get_data(&path)).await {
            Ok((data, _)) => participants.push(Participant {
                id: String::from_utf8_lossy(&data).into_owned(),
                path,
                is_leader: participants.is_empty(),
            }),
            Err(Error::NoNode { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(participants)
}

/// The leader of `queue`, reading contenders in order until one is readable.
pub(crate) async fn leader_of(queue: &LockQueue) -> Result<Option<Participant>> {
    let client = &queue.client;
    for child in queue.sorted_children().await? {
        let path = join(&queue.path, &child);
        match retrying(client, || client.get_data(&path)).await {
            Ok((data, _)) => {
                return Ok(Some(Participant {
                    id: String::from_utf8_lossy(&data).into_owned(),
                    path,
                    is_leader: true,
                }))
            }
            Err(Error::NoNode { .. }) => {}
            Err(err) => return Err(err),
        }
    }
    Ok(None)
}

/// Leader election interoperable with Apache Curator's `LeaderSelector`:
/// the contenders queue on a [`Mutex`] at `path` whose nodes
/// (`_c_<uuid>-lock-<seq>`) carry each participant's id; the lock holder
/// leads.
///
/// [`campaign`](Election::campaign) waits for leadership and returns its
/// [`Lease`]: the fencing token (larger for every later leader), the
/// [`lost`](Lease::lost) signal, and [`release`](Lease::release) to
/// resign. Anyone, contender or not, can see who leads with
/// [`leader`](Election::leader) and follow changes with
/// [`observe`](Election::observe).
///
/// ```no_run
/// use corral::client::Client;
/// use corral::recipes::{Election, LostReason};
///
/// # async fn demo() -> Result<(), corral::Error> {
/// let client = Client::connect("127.0.0.1:2181").await?;
/// let election = Election::new(&client, "/services/billing/leader", "host-a:8080");
///
/// // Followers (and clients that never run) can watch the leader.
/// let mut observer = election.observe();
/// tokio::spawn(async move {
///     while let Ok(leader) = observer.changed().await {
///         println!("leader is now {:?}", leader.map(|p| p.id));
///     }
/// });
///
/// let leadership = election.campaign().await?;
/// println!("leading with token {}", leadership.fencing_token());
/// let reason: LostReason = leadership.lost().await; // lead until lost
/// eprintln!("leadership lost: {reason:?}");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Election {
    mutex: Mutex,
    id: String,
}

impl Election {
    /// An election at `path` in which this client takes part as `id`.
    pub fn new(client: &Client, path: &str, id: &str) -> Election {
        Election {
            mutex: Mutex::with_lock_name(client, path, LOCK_NAME, Grant::FirstN(1))
                .with_data(id.as_bytes()),
            id: id.to_owned(),
        }
    }

    /// This participant's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Waits until this participant leads; the lease is its leadership.
    /// Dropping the future withdraws from the election.
    pub async fn campaign(&self) -> Result<Lease> {
        self.mutex.acquire().await
    }

    /// As [`campaign`](Election::campaign), withdrawing after `timeout`
    /// (`Ok(None)`).
    pub async fn try_campaign(&self, timeout: Duration) -> Result<Option<Lease>> {
        self.mutex.try_acquire(timeout).await
    }

    /// The current leader, `None` when nobody takes part.
    pub async fn leader(&self) -> Result<Option<Participant>> {
        leader_of(self.queue()).await
    }

    /// Every participant in order, the leader first.
    pub async fn participants(&self) -> Result<Vec<Participant>> {
        participants_of(self.queue()).await
    }

    /// A follower of the leader of this election.
    pub fn observe(&self) -> LeaderObserver {
        LeaderObserver::new(self.queue().clone())
    }

    fn queue(&self) -> &LockQueue {
        self.mutex.queue()
    }
}

/// Follows the leader of an [`Election`] or a
/// [`LeaderLatch`](super::LeaderLatch): each [`changed`](LeaderObserver::changed)
/// returns the leader when it differs from the one returned before (the
/// first call returns the current one).
///
/// It keeps a persistent watch on the election's node (which need not
/// exist) and re-reads after every reconnection, since a persistent watch
/// does not replay what changed while disconnected.
#[derive(Debug)]
pub struct LeaderObserver {
    queue: LockQueue,
    watcher: Option<PersistentWatcher>,
    states: StateWatcher,
    last: Option<Option<Participant>>,
}

impl LeaderObserver {
    pub(crate) fn new(queue: LockQueue) -> LeaderObserver {
        let states = queue.client.state_watcher();
        LeaderObserver {
            queue,
            watcher: None,
            states,
            last: None,
        }
    }

    /// The leader last returned by [`changed`](LeaderObserver::changed).
    pub fn current(&self) -> Option<&Participant> {
        self.last.as_ref().and_then(|l| l.as_ref())
    }

    /// Waits until the leader differs from the last one returned, and
    /// returns it (`None`: nobody leads). Fails once the session ends.
    pub async fn changed(&mut self) -> Result<Option<Participant>> {
        loop {
            if self.watcher.is_none() {
                let client = &self.queue.client;
                let path = &self.queue.path;
                let watcher =
                    retrying(client, || client.add_watch(path, AddWatchMode::Persistent)).await?;
                self.watcher = Some(watcher);
            }
            let leader = leader_of(&self.queue).await?;
            if self.last.as_ref() != Some(&leader) {
                self.last = Some(leader.clone());
                return Ok(leader);
            }
            let Some(watcher) = self.watcher.as_mut() else {
                continue;
            };
            tokio::select! {
                event = watcher.changed() => {
                    if event.event_type == EventType::None {
                        return Err(end_error(self.queue.client.state()));
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
