//! Consensus: the replicated log under the server's state.
//!
//! This is the only module that imports openraft. The rest of the
//! server sees [`Consensus`]: "propose a [`TxnBatch`], get its
//! [`BatchOutcome`] once it is committed and applied here", plus who leads.
//! The replicated state itself lives in the server's [`Application`], which
//! this module drives:
//!
//! ```text
//! propose(batch) -> openraft leader -> append (log segment, one fsync per append)
//!                -> replicate to a quorum (network.rs; nothing for one voter)
//!                -> commit -> Application::apply(batch), in log order, on
//!                   every replica
//!                -> propose() resolves with the outcome (on the leader)
//! ```
//!
//! On disk, under `<data_dir>/raft/`:
//! - `log/`: segment files of log entries, the vote and purge marker
//!   (`wal/`, which documents the format and what recovery decides);
//! - `snapshots/snapshot-<term>-<index>.bin`: the application state every
//!   [`RaftConfig::snapshot_every_entries`] entries or once the log since
//!   the last one outgrows the state, the newest two kept
//!   (`snapshot_files.rs`); the log is purged behind them, keeping
//!   [`RaftConfig::logs_kept_after_snapshot`] entries.
//!
//! Restart = restore the newest valid snapshot into the application, then
//! re-apply the committed log tail (see [`Consensus::start_single`]).
//!
//! Ensembles: every member runs [`Consensus::start`] and [`serve_peers`]
//! on its peer listener (`network.rs`: bincode frames over TCP); one member
//! calls [`Consensus::initialize`] with the voters; observers join with
//! [`Consensus::add_learner`]. Followers answer proposals with
//! [`ProposeError::NotLeader`]; the server forwards to the leader.
//! Node ids map to peer addresses through the membership (the address given
//! in `initialize` / `add_learner`).

mod network;
mod snapshot_files;
mod state_machine;
mod type_config;
pub(crate) mod wal;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{
    CheckIsLeaderError, ClientWriteError, InitializeError, RaftError as OpenRaftError,
};
use openraft::{BasicNode, Raft, ServerState, SnapshotPolicy};

pub use network::{serve_peers, PEER_FRAME_BYTES_MAX};

use crate::txn::{BatchOutcome, TxnBatch};
use network::Network;
use snapshot_files::SnapshotFiles;
use state_machine::{SnapshotDue, StateMachine};
use type_config::TypeConfig;
pub use wal::StorageHealth;
use wal::{DurableSnapshots, Limits, LogStore};

/// Serializes a state captured by [`Application::snapshot`], writing the
/// bytes to the given output as they are encoded (the snapshot file). It
/// may be called again after a failed attempt (a full disk), and must then
/// write the same bytes.
pub type SnapshotSource = Box<dyn Fn(&mut dyn std::io::Write) -> std::io::Result<()> + Send + Sync>;

/// What the server's replicated state must provide to the log.
pub trait Application: Send + Sync + 'static {
    /// Apply one committed batch, in log order, exactly once per entry after
    /// the last snapshot/restore.
    fn apply(&self, batch: TxnBatch) -> BatchOutcome;
    /// Capture the whole state (called between applies, so it is
    /// consistent with the applied index) and return what serializes it.
    /// The capture runs on openraft's state machine task and should be
    /// cheap; the returned closure runs later on a blocking thread while
    /// applying goes on, and writes its bytes into the snapshot file.
    fn snapshot(&self) -> SnapshotSource;
    /// Replace the whole state with a snapshot's: at startup (newest valid
    /// snapshot file, before any apply) and when a lagging follower installs
    /// the leader's snapshot. An error here is fatal to the node.
    fn restore(&self, snapshot: &[u8]) -> Result<(), String>;
    /// About how many bytes a snapshot of the current state would take.
    /// A snapshot is due once the log since the last one is this large
    /// (and at least `snapshot_log_bytes_min`). The default, 0, leaves only
    /// the minimum.
    fn state_bytes(&self) -> u64 {
        0
    }
    /// Sessions seen alive by another server (ZooKeeper's follower pings),
    /// delivered on the leader: each session id with how many ms before the
    /// report its last packet arrived. The default ignores them.
    fn session_activity(&self, _sessions: &[(i64, u64)]) {}
}

/// Settings of the consensus module.
#[derive(Debug, Clone)]
pub struct RaftConfig {
    /// This server's id in the ensemble (unique, stable across restarts).
    pub node_id: u64,
    /// The server's data directory; the log and snapshots live in
    /// `data_dir/raft`.
    pub data_dir: PathBuf,
    /// The `host:port` other servers reach this one's peer listener at
    /// (recorded in the membership; unused by a single-node server).
    pub peer_addr: String,
    /// Take a snapshot after this many entries since the last one...
    pub snapshot_every_entries: u64,
    /// ...or once the transactions logged since the last one carry as many
    /// bytes as a snapshot of the state now would, and at least this many
    /// (see `state_machine::SnapshotDue`).
    pub snapshot_log_bytes_min: u64,
    /// Log entries kept behind the newest snapshot, so lagging followers
    /// catch up from the log and not a snapshot. Keep it >= 1000
    /// (openraft#2116: a purge/apply race at lower values).
    pub logs_kept_after_snapshot: u64,
    /// Lower bound of the randomized election timeout.
    pub election_timeout_min_ms: u64,
    /// Upper bound of the randomized election timeout.
    pub election_timeout_max_ms: u64,
    /// Leader heartbeat interval.
    pub heartbeat_ms: u64,
    /// Most entries sent in one AppendEntries.
    pub max_payload_entries: u64,
    /// Size of the log's preallocated segment files (64 MiB; tests use
    /// small ones so that segments roll, recycle and are deleted often).
    pub log_segment_bytes: u64,
    /// How long `start_single` waits for the node to lead and catch up.
    pub startup_timeout: Duration,
    /// Local address outgoing peer connections are made from (None: any).
    pub source_ip: Option<std::net::IpAddr>,
}

impl RaftConfig {
    /// Defaults for `node_id` with data in `data_dir`: snapshot every 10,000
    /// entries or when the log since the last snapshot is as large as the
    /// state (at least 64 MiB), 1,000 entries kept behind it, election
    /// timeout 200–250 ms, heartbeat 50 ms. STACK.md pitfall 2 (300–600 ms
    /// timeouts lost leadership under load) was met with the Raft core
    /// sharing the client runtime; it now runs on its own threads
    /// ([`RAFT_THREADS`]), so heartbeats are not queued behind client work.
    /// A follower with a committed vote waits the leader lease
    /// (`election_timeout_max`) plus a random election timeout, 450–500 ms
    /// (9 heartbeats), before a timer election; a closed connection from
    /// the leader elects sooner (`network::LeaderContact`).
    pub fn new(node_id: u64, data_dir: impl Into<PathBuf>) -> Self {
        Self {
            node_id,
            data_dir: data_dir.into(),
            peer_addr: String::new(),
            snapshot_every_entries: 10_000,
            snapshot_log_bytes_min: 64 * 1024 * 1024,
            logs_kept_after_snapshot: 1_000,
            election_timeout_min_ms: 200,
            election_timeout_max_ms: 250,
            heartbeat_ms: 50,
            max_payload_entries: 300,
            log_segment_bytes: wal::SEGMENT_BYTES,
            startup_timeout: Duration::from_secs(60),
            source_ip: None,
        }
    }

    fn openraft_config(&self) -> Result<openraft::Config, RaftError> {
        let config = openraft::Config {
            cluster_name: "corral".to_string(),
            election_timeout_min: self.election_timeout_min_ms,
            election_timeout_max: self.election_timeout_max_ms,
            heartbeat_interval: self.heartbeat_ms,
            install_snapshot_timeout: 10_000,
            max_payload_entries: self.max_payload_entries,
            // Snapshots are asked for by `watch_snapshot_policy`.
            snapshot_policy: SnapshotPolicy::Never,
            max_in_snapshot_log_to_keep: self.logs_kept_after_snapshot,
            ..Default::default()
        };
        config
            .validate()
            .map_err(|e| RaftError::Config(e.to_string()))
    }
}

/// A failure of the consensus module itself: the node cannot go on (or
/// could not start). Distinct from [`ProposeError`], which fails one request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RaftError {
    /// Invalid settings.
    #[error("invalid raft config: {0}")]
    Config(String),
    /// The log or snapshot storage failed or holds unusable data.
    #[error("raft storage: {0}")]
    Storage(String),
    /// Waiting for a condition (leader, catch-up) timed out.
    #[error("timed out: {0}")]
    Timeout(String),
    /// The node has shut down.
    #[error("raft is shut down")]
    Shutdown,
    /// openraft stopped with a fatal error.
    #[error("raft fatal: {0}")]
    Fatal(String),
}

/// Why one proposal failed. The entry was not applied (or, for
/// `Unavailable`, its fate is unknown to this caller).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum ProposeError {
    /// This node does not lead; `leader` is the current leader if known.
    #[error("not the leader (leader: {leader:?})")]
    NotLeader {
        /// The leader's node id, if known.
        leader: Option<u64>,
    },
    /// Consensus is shutting down or failed.
    #[error("consensus unavailable: {0}")]
    Unavailable(String),
}

/// A run-time membership change.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct MembershipChange {
    /// Members to add (or whose address to update).
    pub add: Vec<NewMember>,
    /// Member ids to remove.
    pub remove: Vec<u64>,
}

/// A member being added.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewMember {
    /// Its id.
    pub id: u64,
    /// Its advertised peer address.
    pub peer_addr: String,
    /// Whether it joins as a non-voting observer.
    pub observer: bool,
}

/// A node's role in the ensemble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts proposals.
    Leader,
    /// A voter following a leader.
    Follower,
    /// A voter campaigning.
    Candidate,
    /// A non-voting replica (ZooKeeper's observer).
    Learner,
    /// Stopped.
    Shutdown,
}

/// A snapshot of the node's consensus state (indexes are Raft log indexes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// This node.
    pub node_id: u64,
    /// Its role.
    pub role: Role,
    /// The current term.
    pub current_term: u64,
    /// The leader, if known.
    pub leader: Option<u64>,
    /// The last log index present (appended, maybe not committed).
    pub last_log_index: Option<u64>,
    /// The last index applied to the application.
    pub last_applied_index: Option<u64>,
    /// The last index covered by the newest snapshot.
    pub snapshot_index: Option<u64>,
    /// The last index purged from the log.
    pub purged_index: Option<u64>,
    /// Voting members.
    pub voters: Vec<u64>,
    /// Every member, voters and learners, with its peer address.
    pub members: BTreeMap<u64, String>,
    /// On the leader: each other member and the last log index known to be
    /// replicated to it.
    pub replication: BTreeMap<u64, Option<u64>>,
    /// Log index of the membership in effect (the config version).
    pub membership_index: u64,
}

/// The consensus handle: cheap to clone.
#[derive(Clone)]
pub struct Consensus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Consensus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consensus")
            .field("node_id", &self.inner.node_id)
            .finish_non_exhaustive()
    }
}

struct Inner {
    raft: Raft<TypeConfig>,
    node_id: u64,
    shut_down: AtomicBool,
    app: Arc<dyn Application>,
    /// The connection followers use to forward proposals, read-index
    /// requests and session activity to the leader; one at a time, so
    /// forwarded batches reach the leader in the order they were proposed.
    leader_link: tokio::sync::Mutex<Option<network::Peer>>,
    /// See [`RaftConfig::source_ip`].
    source_ip: Option<std::net::IpAddr>,
    /// Whether the log can take writes (a full disk refuses them).
    health: Arc<StorageHealth>,
    /// The log, told when the node closes (a write waiting for disk space
    /// gives up).
    log: LogStore,
    /// When the leader's appends last arrived, to elect at once when its
    /// connection closes (see `network::LeaderContact`).
    leader_contact: network::LeaderContact,
    /// The threads openraft's core, replication streams, state machine and
    /// served peer connections run on (see [`RAFT_THREADS`]).
    runtime: RaftRuntime,
}

/// Worker threads of the runtime the Raft core and peer I/O of an ensemble
/// member run on, apart from the client runtime: a heartbeat or vote is
/// never queued behind client requests, so short election timeouts stay
/// stable under load. (A single-node server has no heartbeats and keeps
/// the Raft core on the caller's runtime.)
pub const RAFT_THREADS: usize = 2;

/// The runtime the Raft core runs on: its own, shut down without blocking
/// when the node is dropped (dropping a runtime inside another one's task
/// would panic), or the caller's.
struct RaftRuntime {
    own: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
}

impl RaftRuntime {
    fn new(dedicated: bool) -> Result<RaftRuntime, RaftError> {
        if !dedicated {
            return Ok(RaftRuntime {
                own: None,
                handle: tokio::runtime::Handle::current(),
            });
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RAFT_THREADS)
            .thread_name("corral-raft")
            .enable_all()
            .build()
            .map_err(|e| RaftError::Fatal(format!("cannot start the raft runtime: {e}")))?;
        Ok(RaftRuntime {
            handle: runtime.handle().clone(),
            own: Some(runtime),
        })
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        &self.handle
    }
}

impl Drop for RaftRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.own.take() {
            runtime.shutdown_background();
        }
    }
}

/// How long a request forwarded to the leader may take.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(30);
/// Pause before asking again while no leader takes a forwarded request
/// (during a failover: short, so the first write after an election is not
/// held back by it).
const LEADER_RETRY_DELAY: Duration = Duration::from_millis(10);

fn fatal(e: impl std::fmt::Display) -> RaftError {
    RaftError::Fatal(e.to_string())
}

impl Consensus {
    /// Opens (or creates) the log in `data_dir/raft`, restores the newest
    /// valid snapshot into `app`, and for a brand-new data dir initializes a
    /// one-voter cluster `{node_id}`.
    ///
    /// When the membership is the single voter `{node_id}` (a single-node
    /// server), it returns only once this node leads and has applied every
    /// entry present in the log at open, so every batch acknowledged before a
    /// crash is in `app`. Otherwise (a data dir of an ensemble) it returns
    /// once openraft runs; the application catches up as the ensemble
    /// commits (see [`Consensus::wait_applied`]).
    pub async fn start_single(
        config: RaftConfig,
        app: Arc<dyn Application>,
    ) -> Result<Consensus, RaftError> {
        let startup_timeout = config.startup_timeout;
        let node_id = config.node_id;
        let peer_addr = config.peer_addr.clone();
        // One voter has no heartbeats to protect: the Raft core shares the
        // caller's runtime (about 7% more set throughput than on its own).
        let (consensus, last_at_open) = Self::open(config, app, false).await?;
        let raft = &consensus.inner.raft;

        let initialized = raft.is_initialized().await.map_err(fatal)?;
        if !initialized {
            let members = BTreeMap::from([(node_id, BasicNode::new(peer_addr))]);
            raft.initialize(members).await.map_err(fatal)?;
            tracing::info!(node_id, "initialized a new single-node cluster");
        }

        // Ask the core (metrics may lag behind `initialize`).
        let single = raft
            .with_raft_state(move |st| st.membership_state.effective().voter_ids().eq([node_id]))
            .await
            .map_err(fatal)?;
        if single {
            let wait_for = last_at_open;
            raft.wait(Some(startup_timeout))
                .metrics(
                    move |m| {
                        m.current_leader == Some(node_id)
                            && m.last_applied.map(|l| l.index) >= wait_for
                    },
                    "single-node leader caught up with its log",
                )
                .await
                .map_err(|e| RaftError::Timeout(e.to_string()))?;
        }
        Ok(consensus)
    }

    /// Opens (or creates) the log in `data_dir/raft` and restores the newest
    /// valid snapshot like [`Consensus::start_single`], but never initializes
    /// a cluster and returns as soon as openraft runs: for a member of an
    /// ensemble, whose peers reach it through [`serve_peers`]. The
    /// application catches up as the ensemble commits (committed entries
    /// known from before a restart are re-applied before this returns).
    /// A brand-new ensemble is formed by calling [`Consensus::initialize`] on
    /// one member.
    pub async fn start(
        config: RaftConfig,
        app: Arc<dyn Application>,
    ) -> Result<Consensus, RaftError> {
        Ok(Self::open(config, app, true).await?.0)
    }

    /// Forms a brand-new cluster of these voters (node id -> peer address,
    /// this node included). A no-op if this node already has a log or a vote
    /// (it was initialized or joined before). Initializing several nodes with
    /// the same voters is safe; with different voters it splits the brain.
    pub async fn initialize(&self, voters: BTreeMap<u64, String>) -> Result<(), RaftError> {
        let members: BTreeMap<u64, BasicNode> = voters
            .into_iter()
            .map(|(id, addr)| (id, BasicNode::new(addr)))
            .collect();
        match self.inner.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(OpenRaftError::APIError(InitializeError::NotAllowed(_))) => Ok(()),
            Err(OpenRaftError::APIError(e)) => Err(RaftError::Config(e.to_string())),
            Err(OpenRaftError::Fatal(e)) => Err(fatal(e)),
        }
    }

    /// Adds (or updates the address of) a non-voting member (ZooKeeper's
    /// observer), returning once it has caught up with the leader's log.
    /// Leader only.
    pub async fn add_learner(&self, node_id: u64, peer_addr: String) -> Result<(), ProposeError> {
        let r = self
            .inner
            .raft
            .add_learner(node_id, BasicNode::new(peer_addr), true)
            .await;
        r.map(|_| ()).map_err(propose_error)
    }

    /// Change the membership at run time (ZooKeeper's `reconfig`): add
    /// members (each catches up as a learner first, then voters join the
    /// voting set through joint consensus) and remove others. Works from
    /// any member: a follower forwards the change to the leader. Returns
    /// once the new membership is committed, with the log index of its last
    /// membership entry (the new config version).
    pub async fn reconfigure(&self, change: MembershipChange) -> Result<u64, ProposeError> {
        if !self.is_leader() {
            return match self
                .forward(network::PeerRequestBody::Reconfigure(change))
                .await?
            {
                network::PeerResponse::Reconfigure(r) => r,
                _ => Err(ProposeError::Unavailable(
                    "mismatched leader response".into(),
                )),
            };
        }
        self.reconfigure_local(change).await
    }

    /// The leader's side of [`Consensus::reconfigure`].
    pub(crate) async fn reconfigure_local(
        &self,
        change: MembershipChange,
    ) -> Result<u64, ProposeError> {
        use openraft::ChangeMembers;
        let raft = &self.inner.raft;
        // The log index of the last membership entry written.
        let mut last = 0;
        for m in &change.add {
            let r = raft
                .add_learner(m.id, BasicNode::new(m.peer_addr.clone()), true)
                .await
                .map_err(propose_error)?;
            last = last.max(r.log_id.index);
        }
        let voters: BTreeSet<u64> = change
            .add
            .iter()
            .filter(|m| !m.observer)
            .map(|m| m.id)
            .collect();
        if !voters.is_empty() {
            let r = raft
                .change_membership(ChangeMembers::AddVoterIds(voters), false)
                .await
                .map_err(propose_error)?;
            last = last.max(r.log_id.index);
        }
        let remove: BTreeSet<u64> = change.remove.iter().copied().collect();
        if !remove.is_empty() {
            let current: BTreeSet<u64> = {
                let m = raft.metrics();
                let m = m.borrow();
                m.membership_config.membership().voter_ids().collect()
            };
            let leaving_voters: BTreeSet<u64> = remove.intersection(&current).copied().collect();
            if !leaving_voters.is_empty() {
                if leaving_voters.len() == current.len() {
                    return Err(ProposeError::Unavailable(
                        "cannot remove every voter".into(),
                    ));
                }
                let r = raft
                    .change_membership(ChangeMembers::RemoveVoters(leaving_voters), false)
                    .await
                    .map_err(propose_error)?;
                last = last.max(r.log_id.index);
            }
            let learners: BTreeSet<u64> = {
                let m = raft.metrics();
                let m = m.borrow();
                let membership = m.membership_config.membership();
                remove
                    .iter()
                    .copied()
                    .filter(|id| membership.get_node(id).is_some())
                    .collect()
            };
            if !learners.is_empty() {
                let r = raft
                    .change_membership(ChangeMembers::RemoveNodes(learners), false)
                    .await
                    .map_err(propose_error)?;
                last = last.max(r.log_id.index);
            }
        }
        Ok(last)
    }

    /// Makes `voters` the voting members (joint consensus); members not in
    /// `voters` stay as learners. Every voter must have been added as a
    /// learner first. Leader only.
    pub async fn change_membership(&self, voters: BTreeSet<u64>) -> Result<(), ProposeError> {
        let r = self.inner.raft.change_membership(voters, true).await;
        r.map(|_| ()).map_err(propose_error)
    }

    /// Opens storage and starts openraft, on its own runtime if
    /// `dedicated_runtime` (see [`RAFT_THREADS`]); returns the last log index
    /// present.
    async fn open(
        config: RaftConfig,
        app: Arc<dyn Application>,
        dedicated_runtime: bool,
    ) -> Result<(Consensus, Option<u64>), RaftError> {
        let raft_config = Arc::new(config.openraft_config()?);
        let app_handle = Arc::clone(&app);
        let dir = config.data_dir.join("raft");
        let storage = |e: std::io::Error| RaftError::Storage(e.to_string());

        let policy = Arc::new(SnapshotDue::new(
            config.snapshot_every_entries,
            config.snapshot_log_bytes_min,
        ));
        let policy_sm = Arc::clone(&policy);
        let health = Arc::new(StorageHealth::default());
        let health_log = Arc::clone(&health);
        let limits = Limits {
            segment_bytes: config.log_segment_bytes.max(2 * 4096),
            step_bytes: wal::PREALLOC_STEP_BYTES.min(config.log_segment_bytes.max(2 * 4096)),
            ..Limits::default()
        };
        let (log_store, state_machine) = tokio::task::spawn_blocking(move || {
            let disk = wal::disk::OsDisk::shared();
            disk.create_dir_all(&dir).map_err(storage)?;
            if dir.join("log.redb").exists() {
                return Err(RaftError::Storage(format!(
                    "{} holds a log in the redb format of an earlier pre-release Corral; \
                     this version cannot read it: start from an empty data directory",
                    dir.join("log.redb").display()
                )));
            }
            let durable = Arc::new(DurableSnapshots::default());
            let log_store = LogStore::open(
                disk.clone(),
                &dir.join("log"),
                limits,
                health_log,
                Some(durable.clone()),
            )
            .map_err(storage)?;
            let files =
                SnapshotFiles::open(disk, dir.join("snapshots"), durable).map_err(storage)?;
            let state_machine =
                StateMachine::open(app, Arc::new(files), policy_sm).map_err(RaftError::Storage)?;
            // The newest snapshot may have been unusable and an older one
            // restored: the log then has to give back the entries after it
            // (it keeps them for this; see `LogStore::purge_blocking`).
            let restored = state_machine.last_applied();
            if !log_store.unpurge_to(restored).map_err(storage)? {
                let (purged, _) = log_store.log_state();
                return Err(RaftError::Storage(format!(
                    "the log is purged up to {} but the newest usable snapshot covers only {:?}, \
                     and the entries between are no longer on disk: state lost (refusing to start; \
                     restore the data directory from a replica or a backup)",
                    purged.map(|l| l.index).unwrap_or_default(),
                    restored.map(|l| l.index)
                )));
            }
            Ok::<_, RaftError>((log_store, state_machine))
        })
        .await
        .map_err(fatal)??;

        let (_, last) = log_store.log_state();

        // openraft spawns its core, replication streams and state machine
        // worker on the runtime it is created on.
        let runtime = RaftRuntime::new(dedicated_runtime)?;
        let election_timeout_max = Duration::from_millis(raft_config.election_timeout_max);
        let raft = runtime
            .handle()
            .spawn(Raft::new(
                config.node_id,
                raft_config,
                Network::new(config.source_ip),
                log_store.clone(),
                state_machine,
            ))
            .await
            .map_err(fatal)?
            .map_err(fatal)?;
        let consensus = Consensus {
            inner: Arc::new(Inner {
                raft,
                node_id: config.node_id,
                shut_down: AtomicBool::new(false),
                app: app_handle,
                leader_link: tokio::sync::Mutex::new(None),
                source_ip: config.source_ip,
                health,
                log: log_store,
                leader_contact: network::LeaderContact::new(election_timeout_max),
                runtime,
            }),
        };
        tokio::spawn(watch_snapshot_policy(
            Arc::downgrade(&consensus.inner),
            policy,
        ));
        Ok((consensus, last.map(|l| l.index)))
    }

    /// Propose one batch; resolves with its outcome once committed on a
    /// quorum and applied locally.
    ///
    /// Many proposals may be in flight; they are appended in arrival order.
    /// openraft 0.9 writes (and fsyncs) each proposal as its own log append,
    /// so concurrency adds little throughput: group transactions into one
    /// [`TxnBatch`] instead (see `wal/`).
    ///
    /// On a follower or observer the batch is forwarded to the leader, which
    /// proposes it; the outcome comes back once the leader has applied it
    /// (this node applies it when replication reaches it).
    pub async fn propose(&self, batch: TxnBatch) -> Result<BatchOutcome, ProposeError> {
        // Around a leader change a follower may know no leader yet, or ask
        // one that has just stepped down. Both answers are definite (the
        // batch was not appended), so it is safe to try again until a
        // leader takes it; any other failure may hide an append and is
        // returned (a retry could apply the writes twice).
        let deadline = tokio::time::Instant::now() + FORWARD_TIMEOUT;
        loop {
            self.check_running()?;
            if self.is_leader() {
                return self.propose_local(batch).await;
            }
            let result = match self
                .forward(network::PeerRequestBody::Propose(batch.clone()))
                .await
            {
                Ok(network::PeerResponse::Propose(r)) => r,
                Ok(_) => Err(ProposeError::Unavailable(
                    "mismatched leader response".into(),
                )),
                Err(e) => Err(e),
            };
            match result {
                Err(ProposeError::NotLeader { .. }) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(LEADER_RETRY_DELAY).await;
                }
                r => return r,
            }
        }
    }

    /// Hands `batch` to the log and returns as soon as it is queued behind
    /// every batch submitted before it (on the leader) or, elsewhere, once
    /// the leader has answered for it; the returned [`Proposal`] resolves
    /// with the outcome. Unlike [`Consensus::propose`], a caller can keep
    /// several batches in the log pipeline: openraft appends and fsyncs the
    /// next one while the state machine applies the previous one, and the
    /// submission order is the log order.
    pub async fn submit(&self, batch: TxnBatch) -> Proposal {
        if let Err(e) = self.check_running() {
            return Proposal(ProposalState::Done(Err(e)));
        }
        if self.is_leader() {
            match self.inner.raft.client_write_ff(batch).await {
                Ok(rx) => return Proposal(ProposalState::Queued(rx)),
                Err(e) => {
                    return Proposal(ProposalState::Done(Err(ProposeError::Unavailable(
                        e.to_string(),
                    ))))
                }
            }
        }
        Proposal(ProposalState::Done(self.propose(batch).await))
    }

    /// Propose on this node only (the leader's side of a forwarded batch).
    pub(crate) async fn propose_local(
        &self,
        batch: TxnBatch,
    ) -> Result<BatchOutcome, ProposeError> {
        match self.inner.raft.client_write(batch).await {
            Ok(response) => Ok(response.data),
            Err(e) => Err(propose_error(e)),
        }
    }

    /// Report sessions seen alive here to the leader (delivered to its
    /// [`Application::session_activity`]); on the leader, delivered at once.
    /// `sessions` holds each session id with the age in ms of its last
    /// packet.
    pub async fn report_session_activity(
        &self,
        sessions: Vec<(i64, u64)>,
    ) -> Result<(), ProposeError> {
        if sessions.is_empty() {
            return Ok(());
        }
        if self.is_leader() {
            self.inner.app.session_activity(&sessions);
            return Ok(());
        }
        self.forward(network::PeerRequestBody::SessionActivity(sessions))
            .await
            .map(|_| ())
    }

    /// Deliver session activity reported by another server.
    pub(crate) fn deliver_session_activity(&self, sessions: &[(i64, u64)]) {
        self.inner.app.session_activity(sessions);
    }

    fn check_running(&self) -> Result<(), ProposeError> {
        if self.inner.shut_down.load(Ordering::SeqCst) {
            return Err(ProposeError::Unavailable("consensus is shut down".into()));
        }
        Ok(())
    }

    /// Send a request to the current leader over the leader link.
    async fn forward(
        &self,
        body: network::PeerRequestBody,
    ) -> Result<network::PeerResponse, ProposeError> {
        let (leader, addr) = {
            let m = self.inner.raft.metrics();
            let m = m.borrow();
            let leader = m
                .current_leader
                .ok_or(ProposeError::NotLeader { leader: None })?;
            let addr = m
                .membership_config
                .membership()
                .get_node(&leader)
                .map(|n| n.addr.clone())
                .unwrap_or_default();
            (leader, addr)
        };
        if leader == self.inner.node_id {
            return Err(ProposeError::NotLeader {
                leader: Some(leader),
            });
        }
        let mut link = self.inner.leader_link.lock().await;
        if link.as_ref().is_none_or(|p| !p.is(leader, &addr)) {
            *link = Some(network::Peer::new(leader, addr, self.inner.source_ip));
        }
        let peer = link.as_mut().expect("link set above");
        match peer.request(body, FORWARD_TIMEOUT).await {
            Ok(response) => Ok(response),
            // Nothing reached the leader (it is down, or not yet known to
            // be replaced): a definite answer, safe to try again.
            Err(network::RequestError::NotSent(e)) => {
                tracing::debug!(leader, error = %e, "leader unreachable");
                Err(ProposeError::NotLeader { leader: None })
            }
            // The request may have reached it: its outcome is unknown.
            Err(network::RequestError::Lost(e)) => Err(ProposeError::Unavailable(format!(
                "leader {leader} unreachable: {e}"
            ))),
        }
    }

    /// Confirms leadership with a quorum round (on the leader, asked through
    /// the leader link from elsewhere) and returns the log index a
    /// linearizable read must see applied (ZooKeeper's `sync`:
    /// then [`Consensus::wait_applied`] here, or on the follower that asked).
    pub async fn read_index(&self) -> Result<u64, ProposeError> {
        self.check_running()?;
        if !self.is_leader() {
            return match self.forward(network::PeerRequestBody::ReadIndex).await? {
                network::PeerResponse::ReadIndex(r) => r,
                _ => Err(ProposeError::Unavailable(
                    "mismatched leader response".into(),
                )),
            };
        }
        self.read_index_local().await
    }

    /// The leader's side of [`Consensus::read_index`].
    pub(crate) async fn read_index_local(&self) -> Result<u64, ProposeError> {
        match self.inner.raft.get_read_log_id().await {
            Ok((read, _applied)) => Ok(read.map(|l| l.index).unwrap_or(0)),
            Err(OpenRaftError::APIError(CheckIsLeaderError::ForwardToLeader(f))) => {
                Err(ProposeError::NotLeader {
                    leader: f.leader_id,
                })
            }
            Err(OpenRaftError::APIError(e)) => Err(ProposeError::Unavailable(e.to_string())),
            Err(OpenRaftError::Fatal(e)) => Err(ProposeError::Unavailable(e.to_string())),
        }
    }

    /// Whether this node currently leads.
    pub fn is_leader(&self) -> bool {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        m.state == ServerState::Leader && m.current_leader == Some(self.inner.node_id)
    }

    /// This node's role.
    pub fn role(&self) -> Role {
        let m = self.inner.raft.metrics();
        let state = m.borrow().state;
        role_of(state)
    }

    /// The node's consensus state, as last published by openraft's metrics:
    /// it may trail by a moment (a `propose` that returned may not show in
    /// `last_applied_index` yet; use [`Consensus::wait_applied`] to wait).
    pub fn status(&self) -> Status {
        let m = self.inner.raft.metrics();
        let m = m.borrow();
        Status {
            node_id: self.inner.node_id,
            role: role_of(m.state),
            current_term: m.current_term,
            leader: m.current_leader,
            last_log_index: m.last_log_index,
            last_applied_index: m.last_applied.map(|l| l.index),
            snapshot_index: m.snapshot.map(|l| l.index),
            purged_index: m.purged.map(|l| l.index),
            voters: m.membership_config.membership().voter_ids().collect(),
            members: m
                .membership_config
                .membership()
                .nodes()
                .map(|(id, node)| (*id, node.addr.clone()))
                .collect(),
            membership_index: m.membership_config.log_id().map_or(0, |l| l.index),
            replication: m
                .replication
                .as_ref()
                .map(|r| {
                    r.iter()
                        .filter(|(id, _)| **id != self.inner.node_id)
                        .map(|(id, log)| (*id, log.map(|l| l.index)))
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// Waits until some node is known to lead.
    pub async fn wait_leader(&self, timeout: Duration) -> Result<(), RaftError> {
        self.inner
            .raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "a leader is known")
            .await
            .map(|_| ())
            .map_err(wait_error)
    }

    /// Waits until the application has applied log index `index`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Result<(), RaftError> {
        self.inner
            .raft
            .wait(Some(timeout))
            .applied_index_at_least(Some(index), "applied")
            .await
            .map(|_| ())
            .map_err(wait_error)
    }

    /// Stops openraft (idempotent). Proposals in flight fail with
    /// [`ProposeError::Unavailable`]. Storage is closed once the last clone of
    /// this handle is dropped.
    pub async fn shutdown(&self) -> Result<(), RaftError> {
        if self.inner.shut_down.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        self.inner.log.close();
        self.inner.raft.shutdown().await.map_err(fatal)
    }

    /// Whether writes are refused now because the log's disk is full (they
    /// resume by themselves once space is freed; reads go on meanwhile).
    pub fn writes_refused(&self) -> bool {
        self.inner.health.out_of_space()
    }

    /// Resolves with the reason once the consensus core has stopped with a
    /// fatal error (a failed write or sync of the log, among others): the
    /// node cannot take part any more, and the server must stop rather than
    /// linger half alive.
    pub async fn failed(&self) -> String {
        let mut metrics = self.inner.raft.metrics();
        loop {
            if let Err(fatal) = &metrics.borrow().running_state {
                return fatal.to_string();
            }
            if metrics.changed().await.is_err() {
                return "the consensus core stopped".to_string();
            }
        }
    }
}

/// A batch handed to the log by [`Consensus::submit`]; await
/// [`Proposal::outcome`] for its result.
pub struct Proposal(ProposalState);

enum ProposalState {
    /// Queued in the local log; yields the outcome once applied.
    Queued(tokio::sync::oneshot::Receiver<openraft::raft::ClientWriteResult<TypeConfig>>),
    /// Already answered (forwarded to the leader, or refused).
    Done(Result<BatchOutcome, ProposeError>),
}

impl Proposal {
    /// The batch's outcome, once it is committed and applied locally.
    pub async fn outcome(self) -> Result<BatchOutcome, ProposeError> {
        match self.0 {
            ProposalState::Done(r) => r,
            ProposalState::Queued(rx) => match rx.await {
                Ok(Ok(response)) => Ok(response.data),
                Ok(Err(ClientWriteError::ForwardToLeader(f))) => Err(ProposeError::NotLeader {
                    leader: f.leader_id,
                }),
                Ok(Err(e)) => Err(ProposeError::Unavailable(e.to_string())),
                Err(_) => Err(ProposeError::Unavailable(
                    "the log dropped the proposal (shutting down)".into(),
                )),
            },
        }
    }
}

/// Asks openraft for a snapshot whenever the policy says one is due (a
/// request while one is being built is ignored by openraft); ends when the
/// node shuts down or its last handle is gone (it must not keep the node,
/// and so the log's lock, alive).
async fn watch_snapshot_policy(node: std::sync::Weak<Inner>, policy: Arc<SnapshotDue>) {
    loop {
        policy.wait().await;
        let Some(inner) = node.upgrade() else {
            return;
        };
        if inner.raft.trigger().snapshot().await.is_err() {
            return;
        }
    }
}

fn propose_error(e: OpenRaftError<u64, ClientWriteError<u64, BasicNode>>) -> ProposeError {
    match e {
        OpenRaftError::APIError(ClientWriteError::ForwardToLeader(f)) => ProposeError::NotLeader {
            leader: f.leader_id,
        },
        OpenRaftError::APIError(e) => ProposeError::Unavailable(e.to_string()),
        OpenRaftError::Fatal(e) => ProposeError::Unavailable(e.to_string()),
    }
}

fn wait_error(e: openraft::metrics::WaitError) -> RaftError {
    match e {
        openraft::metrics::WaitError::ShuttingDown => RaftError::Shutdown,
        e => RaftError::Timeout(e.to_string()),
    }
}

fn role_of(state: ServerState) -> Role {
    match state {
        ServerState::Leader => Role::Leader,
        ServerState::Follower => Role::Follower,
        ServerState::Candidate => Role::Candidate,
        ServerState::Learner => Role::Learner,
        ServerState::Shutdown => Role::Shutdown,
    }
}

#[cfg(test)]
mod tests;
