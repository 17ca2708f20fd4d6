//! Tests of the consensus module on a single node (and the snapshot files).

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::txn::{OpResult, Txn, TxnOp, TxnOutcome};

/// A test application: remembers the marker (`time_ms`) of every applied
/// transaction in order and numbers transactions like zxids.
#[derive(Default)]
struct Recorder {
    state: Mutex<(i64, Vec<i64>)>,
    restores: AtomicUsize,
    applies: AtomicUsize,
}

impl Recorder {
    fn markers(&self) -> Vec<i64> {
        self.state.lock().unwrap().1.clone()
    }
}

impl Application for Recorder {
    fn apply(&self, batch: TxnBatch) -> BatchOutcome {
        self.applies.fetch_add(1, Ordering::SeqCst);
        let mut state = self.state.lock().unwrap();
        let mut outcomes = Vec::new();
        for txn in batch.txns.iter() {
            state.0 += 1;
            state.1.push(txn.time_ms);
            outcomes.push(TxnOutcome {
                zxid: state.0,
                result: Ok(OpResult::Done),
            });
        }
        BatchOutcome { outcomes }
    }

    fn snapshot(&self) -> SnapshotSource {
        let bytes = bincode::serialize(&*self.state.lock().unwrap()).unwrap();
        Box::new(move |out| out.write_all(&bytes))
    }

    fn restore(&self, snapshot: &[u8]) -> Result<(), String> {
        self.restores.fetch_add(1, Ordering::SeqCst);
        *self.state.lock().unwrap() = bincode::deserialize(snapshot).map_err(|e| e.to_string())?;
        Ok(())
    }
}

fn batch(marker: i64) -> TxnBatch {
    TxnBatch::new(vec![Txn {
        session_id: 0,
        time_ms: marker,
        auth: vec![],
        is_super: false,
        op: TxnOp::Noop,
        origin: None,
    }])
}

fn config(dir: &Path) -> RaftConfig {
    let mut c = RaftConfig::new(1, dir);
    // Tests run on a busy machine; the defaults' timeouts are fine.
    c.startup_timeout = Duration::from_secs(60);
    c
}

async fn start(config: RaftConfig) -> (Consensus, Arc<Recorder>) {
    let app = Arc::new(Recorder::default());
    // The previous instance's redb file lock is released once its last task
    // has dropped the database; retry briefly.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Consensus::start_single(config.clone(), app.clone()).await {
            Ok(c) => return (c, app),
            Err(RaftError::Storage(e))
                if e.contains("already open") && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("start_single: {e}"),
        }
    }
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn snapshot_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join("raft/snapshots"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn propose_applies_in_order_and_returns_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let (consensus, app) = start(config(dir.path())).await;
    assert!(consensus.is_leader());
    assert_eq!(consensus.role(), Role::Leader);

    for i in 1..=20 {
        let outcome = consensus.propose(batch(i)).await.unwrap();
        assert_eq!(
            outcome.outcomes,
            vec![TxnOutcome {
                zxid: i,
                result: Ok(OpResult::Done)
            }]
        );
    }
    // An empty batch is a valid entry too.
    assert_eq!(
        consensus.propose(TxnBatch::default()).await.unwrap(),
        BatchOutcome::default()
    );
    assert_eq!(app.markers(), (1..=20).collect::<Vec<_>>());
    let read = consensus.read_index().await.unwrap();
    assert!(read >= 21, "read index {read} behind the last proposal");
    consensus
        .wait_applied(read, Duration::from_secs(60))
        .await
        .unwrap();

    let status = consensus.status();
    assert_eq!(status.node_id, 1);
    assert_eq!(status.leader, Some(1));
    assert_eq!(status.voters, vec![1]);
    // Metrics are published asynchronously: poll.
    eventually("status catches up", || {
        let s = consensus.status();
        s.last_applied_index == s.last_log_index && s.last_log_index >= Some(21)
    })
    .await;
    consensus.shutdown().await.unwrap();
    consensus.shutdown().await.unwrap();
    assert!(matches!(
        consensus.propose(batch(99)).await,
        Err(ProposeError::Unavailable(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_proposals_all_apply() {
    let dir = tempfile::tempdir().unwrap();
    let (consensus, app) = start(config(dir.path())).await;
    let proposals = (0..400).map(|i| {
        let c = consensus.clone();
        tokio::spawn(async move { c.propose(batch(i)).await })
    });
    let mut zxids = BTreeSet::new();
    for p in futures::future::join_all(proposals).await {
        let outcome = p.unwrap().unwrap();
        assert!(zxids.insert(outcome.outcomes[0].zxid));
    }
    assert_eq!(zxids, (1..=400).collect());
    let applied: BTreeSet<i64> = app.markers().into_iter().collect();
    assert_eq!(applied, (0..400).collect());
    // Fewer applies than proposals would mean nothing; but each batch is
    // applied exactly once.
    assert_eq!(app.applies.load(Ordering::SeqCst), 400);
    consensus.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_recovers_every_acknowledged_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (consensus, app) = start(config(dir.path())).await;
    for i in 0..50 {
        consensus.propose(batch(i)).await.unwrap();
    }
    let before = app.markers();
    let last = consensus.status().last_log_index;
    consensus.shutdown().await.unwrap();
    drop(consensus);

    let (consensus, app) = start(config(dir.path())).await;
    // Caught up on return, no snapshot involved.
    assert_eq!(app.markers(), before);
    assert_eq!(app.restores.load(Ordering::SeqCst), 0);
    assert!(consensus.status().last_applied_index >= last);
    // And it goes on where it left off.
    let outcome = consensus.propose(batch(50)).await.unwrap();
    assert_eq!(outcome.outcomes[0].zxid, 51);
    consensus.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_without_shutdown_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let (consensus, app) = start(config(dir.path())).await;
    for i in 0..30 {
        consensus.propose(batch(i)).await.unwrap();
    }
    let before = app.markers();
    // No shutdown: the core stops once its last handle is gone.
    drop(consensus);
    let (consensus, app) = start(config(dir.path())).await;
    assert_eq!(app.markers(), before);
    consensus.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn snapshot_purge_and_restart_from_snapshot_plus_tail() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.snapshot_every_entries = 50;
    cfg.logs_kept_after_snapshot = 10;
    let (consensus, app) = start(cfg.clone()).await;
    for i in 0..230 {
        consensus.propose(batch(i)).await.unwrap();
    }
    eventually("a snapshot and a purge", || {
        let s = consensus.status();
        s.snapshot_index >= Some(150) && s.purged_index.is_some()
    })
    .await;
    let status = consensus.status();
    assert!(status.purged_index < status.snapshot_index);
    eventually("old snapshot files pruned", || {
        snapshot_files(dir.path()).len() <= 2
    })
    .await;
    let before = app.markers();
    consensus.shutdown().await.unwrap();
    drop(consensus);

    let (consensus, app) = start(cfg).await;
    assert_eq!(app.restores.load(Ordering::SeqCst), 1);
    assert_eq!(app.markers(), before);
    // Only the tail after the snapshot was applied (not everything again).
    assert!(app.applies.load(Ordering::SeqCst) < 50);
    let outcome = consensus.propose(batch(230)).await.unwrap();
    assert_eq!(outcome.outcomes[0].zxid, 231);
    consensus.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn corrupt_newest_snapshot_falls_back_to_older_one_and_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.snapshot_every_entries = 40;
    // The log is purged well past the older snapshot, and segments are
    // small enough to be deleted: the fallback works only because the log
    // keeps the segments the oldest snapshot kept needs (it used to pass
    // only because nothing was ever purged).
    cfg.logs_kept_after_snapshot = 5;
    cfg.log_segment_bytes = 8192;
    let (consensus, app) = start(cfg.clone()).await;
    for i in 0..170 {
        consensus.propose(batch(i)).await.unwrap();
    }
    eventually("two snapshots and a purge past the older one", || {
        let s = consensus.status();
        s.snapshot_index >= Some(120)
            && snapshot_files(dir.path()).len() == 2
            && s.purged_index >= Some(100)
    })
    .await;
    let before = app.markers();
    let purged = consensus.status().purged_index.unwrap();
    consensus.shutdown().await.unwrap();
    drop(consensus);

    // Flip one byte of the newest snapshot's body.
    let files = snapshot_files(dir.path());
    let index_of = |name: &String| -> u64 {
        name.trim_end_matches(".bin")
            .rsplit('-')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let older = files.iter().map(index_of).min().unwrap();
    assert!(
        purged > older,
        "the purge mark ({purged}) must be past the older snapshot ({older})"
    );
    let newest = files.iter().max_by_key(|n| index_of(n)).unwrap();
    let path = dir.path().join("raft/snapshots").join(newest);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).unwrap();

    let (consensus, app) = start(cfg).await;
    assert_eq!(app.restores.load(Ordering::SeqCst), 1);
    assert_eq!(app.markers(), before);
    consensus.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn unusable_snapshots_with_purged_log_refuse_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.snapshot_every_entries = 30;
    cfg.logs_kept_after_snapshot = 5;
    // Small segments, so that purged entries are really gone from disk.
    cfg.log_segment_bytes = 8192;
    let (consensus, _app) = start(cfg.clone()).await;
    for i in 0..100 {
        consensus.propose(batch(i)).await.unwrap();
    }
    eventually("a purge", || consensus.status().purged_index >= Some(40)).await;
    consensus.shutdown().await.unwrap();
    drop(consensus);
    for name in snapshot_files(dir.path()) {
        std::fs::write(dir.path().join("raft/snapshots").join(name), b"garbage").unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match Consensus::start_single(cfg.clone(), Arc::new(Recorder::default())).await {
            Err(RaftError::Storage(e))
                if e.contains("already open") && Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(RaftError::Storage(e)) => {
                assert!(e.contains("purged"), "{e}");
                break;
            }
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("started without the purged entries"),
        }
    }
}

mod files {
    use super::super::snapshot_files::{read_file, SnapshotFiles};
    use super::super::type_config::{LogId, SnapshotMeta, StoredMembership};
    use super::super::wal::disk::OsDisk;
    use openraft::CommittedLeaderId;

    fn meta(term: u64, index: u64) -> SnapshotMeta {
        SnapshotMeta {
            last_log_id: Some(LogId::new(CommittedLeaderId::new(term, 1), index)),
            last_membership: StoredMembership::default(),
            snapshot_id: format!("{term}-{index}"),
        }
    }

    #[test]
    fn write_read_prune_and_detect_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let files = SnapshotFiles::open(
            OsDisk::shared(),
            dir.path().to_path_buf(),
            Default::default(),
        )
        .unwrap();
        assert!(files.load_newest().unwrap().is_none());
        for (i, index) in [10u64, 20, 30].into_iter().enumerate() {
            files.write(&meta(1, index), &[i as u8; 100]).unwrap();
        }
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["snapshot-1-20.bin", "snapshot-1-30.bin"]);
        let (m, body) = files.read_current().unwrap().unwrap();
        assert_eq!(m, meta(1, 30));
        assert_eq!(body, vec![2u8; 100]);

        // Truncated newest: skipped in favour of the older one.
        let newest = dir.path().join("snapshot-1-30.bin");
        let bytes = std::fs::read(&newest).unwrap();
        std::fs::write(&newest, &bytes[..bytes.len() - 1]).unwrap();
        assert!(read_file(OsDisk::shared().as_ref(), &newest).is_err());
        let reopened = SnapshotFiles::open(
            OsDisk::shared(),
            dir.path().to_path_buf(),
            Default::default(),
        )
        .unwrap();
        let (m, body) = reopened.load_newest().unwrap().unwrap();
        assert_eq!(m, meta(1, 20));
        assert_eq!(body, vec![1u8; 100]);

        // A flipped header byte is caught by the header crc.
        let older = dir.path().join("snapshot-1-20.bin");
        let mut bytes = std::fs::read(&older).unwrap();
        bytes[14] ^= 1;
        std::fs::write(&older, bytes).unwrap();
        assert!(read_file(OsDisk::shared().as_ref(), &older)
            .unwrap_err()
            .to_string()
            .contains("crc"));
    }
}

mod ensemble {
    use super::*;
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    struct Member {
        consensus: Consensus,
        app: Arc<Recorder>,
        addr: String,
        stop_peers: Option<oneshot::Sender<()>>,
        _dir: tempfile::TempDir,
    }

    async fn member(node_id: u64) -> Member {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let mut cfg = config(dir.path());
        cfg.node_id = node_id;
        cfg.peer_addr = addr.clone();
        cfg.snapshot_every_entries = 20;
        cfg.logs_kept_after_snapshot = 5;
        let app = Arc::new(Recorder::default());
        let consensus = Consensus::start(cfg, app.clone()).await.unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve_peers(listener, consensus.clone(), async move {
            let _ = stopped.await;
        }));
        Member {
            consensus,
            app,
            addr,
            stop_peers: Some(stop),
            _dir: dir,
        }
    }

    async fn leader_of(members: &[&Member]) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(m) = members.iter().find(|m| m.consensus.is_leader()) {
                return m.consensus.status().node_id;
            }
            assert!(Instant::now() < deadline, "no leader elected");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Proposes through whichever member leads, following NotLeader hints.
    async fn propose_anywhere(members: &[&Member], marker: i64) -> BatchOutcome {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let leader = leader_of(members).await;
            let m = members
                .iter()
                .find(|m| m.consensus.status().node_id == leader)
                .unwrap();
            match m.consensus.propose(batch(marker)).await {
                Ok(outcome) => return outcome,
                Err(e) => {
                    assert!(Instant::now() < deadline, "propose kept failing: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn peer_port_survives_bad_input() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let m = member(1).await;
        m.consensus
            .initialize(BTreeMap::from([(1, m.addr.clone())]))
            .await
            .unwrap();
        m.consensus
            .wait_leader(Duration::from_secs(60))
            .await
            .unwrap();
        let bad_frames: [&[u8]; 3] = [
            &[0xff, 0xff, 0xff, 0xff],          // length over the limit
            &[0, 0, 0, 3, 9, 9, 9],             // not a request
            &[0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0], // truncated
        ];
        for frame in bad_frames {
            let mut s = tokio::net::TcpStream::connect(&m.addr).await.unwrap();
            s.write_all(frame).await.unwrap();
            let _ = s.shutdown().await;
            let mut rest = Vec::new();
            let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut rest)).await;
        }
        m.consensus.propose(batch(1)).await.unwrap();
        assert_eq!(m.app.markers(), vec![1]);
        m.consensus.shutdown().await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn three_nodes_replicate_catch_up_a_learner_by_snapshot_and_fail_over() {
        let mut members = Vec::new();
        for id in 1..=3 {
            members.push(member(id).await);
        }
        let voters = members
            .iter()
            .enumerate()
            .map(|(i, m)| (i as u64 + 1, m.addr.clone()))
            .collect::<BTreeMap<_, _>>();
        members[0]
            .consensus
            .initialize(voters.clone())
            .await
            .unwrap();
        // Initializing again (or elsewhere, with the same voters) is harmless.
        members[0].consensus.initialize(voters).await.unwrap();

        let all: Vec<&Member> = members.iter().collect();
        let leader = leader_of(&all).await;
        for m in &members {
            m.consensus
                .wait_leader(Duration::from_secs(60))
                .await
                .unwrap();
        }
        for i in 0..60 {
            let outcome = propose_anywhere(&all, i).await;
            assert_eq!(outcome.outcomes[0].zxid, i + 1);
        }
        // A follower forwards read-index requests (and proposals, below)
        // to the leader.
        let follower = members
            .iter()
            .find(|m| m.consensus.status().node_id != leader)
            .unwrap();
        let read = follower.consensus.read_index().await.unwrap();
        assert!(read >= 60, "read index {read} covers the writes");
        let leader_member = members
            .iter()
            .find(|m| m.consensus.status().node_id == leader)
            .unwrap();
        let read = leader_member.consensus.read_index().await.unwrap();
        follower
            .consensus
            .wait_applied(read, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(follower.app.markers().len(), 60);
        for m in &members {
            eventually("followers apply", || m.app.markers().len() == 60).await;
            assert_eq!(m.app.markers(), (0..60).collect::<Vec<_>>());
        }
        let leader_member = members
            .iter()
            .find(|m| m.consensus.status().node_id == leader)
            .unwrap();
        eventually("leader purges its log", || {
            leader_member.consensus.status().purged_index >= Some(30)
        })
        .await;

        // A new learner can only catch up through a snapshot now.
        let learner = member(4).await;
        leader_member
            .consensus
            .add_learner(4, learner.addr.clone())
            .await
            .unwrap();
        eventually("learner catches up", || learner.app.markers().len() == 60).await;
        assert_eq!(learner.app.markers(), (0..60).collect::<Vec<_>>());
        assert!(learner.app.restores.load(Ordering::SeqCst) >= 1);
        assert_eq!(learner.consensus.role(), Role::Learner);

        // Kill the leader; the other two elect a new one and go on.
        let mut old = members.remove(
            members
                .iter()
                .position(|m| m.consensus.status().node_id == leader)
                .unwrap(),
        );
        old.consensus.shutdown().await.unwrap();
        let _ = old.stop_peers.take().unwrap().send(());
        let survivors: Vec<&Member> = members.iter().collect();
        let new_leader = leader_of(&survivors).await;
        assert_ne!(new_leader, leader);
        for i in 60..70 {
            propose_anywhere(&survivors, i).await;
        }
        for m in members.iter().chain([&learner]) {
            eventually("survivors apply", || m.app.markers().len() == 70).await;
            assert_eq!(m.app.markers(), (0..70).collect::<Vec<_>>());
        }
        // A follower's proposal is forwarded to the (new) leader and
        // applied everywhere.
        let leader = leader_of(&survivors).await;
        let follower = survivors
            .iter()
            .find(|m| m.consensus.status().node_id != leader)
            .unwrap();
        let forwarded = follower.consensus.propose(batch(70)).await.unwrap();
        assert_eq!(forwarded.outcomes[0].zxid, 71);
        for m in &survivors {
            eventually("forwarded write applies", || m.app.markers().len() == 71).await;
        }
        for m in members.iter().chain([&learner]) {
            m.consensus.shutdown().await.unwrap();
        }
    }
}

mod suite {
    use super::super::snapshot_files::SnapshotFiles;
    use super::super::state_machine::{SnapshotDue, StateMachine};
    use super::super::type_config::{StorageError, TypeConfig};
    use super::super::wal::disk::OsDisk;
    use super::super::wal::{DurableSnapshots, Limits, LogStore, StorageHealth};
    use super::Recorder;
    use openraft::testing::{StoreBuilder, Suite};
    use openraft::{ErrorSubject, ErrorVerb};
    use std::sync::Arc;

    struct Builder;

    impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
        async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
            let err = |e: std::io::Error| {
                StorageError::from_io_error(ErrorSubject::Store, ErrorVerb::Write, e)
            };
            let dir = tempfile::tempdir().map_err(err)?;
            // No snapshot floor: the suite purges without snapshots.
            let log = LogStore::open(
                OsDisk::shared(),
                &dir.path().join("log"),
                Limits::default(),
                Arc::new(StorageHealth::default()),
                None,
            )
            .map_err(err)?;
            let files = SnapshotFiles::open(
                OsDisk::shared(),
                dir.path().join("snapshots"),
                Arc::new(DurableSnapshots::default()),
            )
            .map_err(err)?;
            let sm = StateMachine::open(
                Arc::new(Recorder::default()),
                Arc::new(files),
                Arc::new(SnapshotDue::new(10_000, 64 << 20)),
            )
            .map_err(|e| err(std::io::Error::other(e)))?;
            Ok((dir, log, sm))
        }
    }

    /// openraft's own conformance suite for storage implementations.
    #[test]
    fn openraft_storage_suite() {
        Suite::test_all(Builder).unwrap();
    }
}
