//! The crash simulator: the real log and snapshot code on a [`SimDisk`],
//! a seeded random workload (appends, truncations, snapshots and purges,
//! snapshot installs past the end of the log, votes, commit hints), power
//! lost at every I/O call in turn (and at random ones), restart, and an
//! oracle:
//!
//! - `open` never refuses a state a crash can produce;
//! - every entry, vote and purge mark acknowledged before the crash is
//!   there; of the operation under way, the result is the state before it
//!   or after it (a truncation may also have removed only some of what it
//!   was removing, from the end: still a prefix of the log before it);
//! - every entry read back is the one written (log id and bytes);
//! - the purge mark is never past the newest snapshot that loads, so the
//!   server could start;
//! - the recovered store goes on working: more operations, then a clean
//!   reopen gives exactly what was acknowledged.
//!
//! It also damages acknowledged bytes on purpose (a flipped byte anywhere
//! in a segment) and checks that `open` either refuses, or returns the log
//! unchanged, or (damage inside the last append only, which is
//! indistinguishable from a torn one) the log without that append: never
//! an entry that is not the one written.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openraft::{CommittedLeaderId, EntryPayload};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::sim_disk::{is_power_loss, SimDisk};
use super::store::segment_name;
use super::{DurableSnapshots, Limits, LogStore, StorageHealth};
use crate::raft::snapshot_files::SnapshotFiles;
use crate::raft::type_config::{Entry, LogId, SnapshotMeta, StoredMembership, Vote};
use crate::txn::{Txn, TxnBatch, TxnOp};

/// What to explore.
#[derive(Debug, Clone, Copy)]
pub struct SimConfig {
    /// First workload seed; workloads use `seed`, `seed + 1`, ...
    pub seed: u64,
    /// Stop once this many crash states have been checked.
    pub crash_states: u64,
    /// Operations per workload.
    pub ops: usize,
    /// Power-loss outcomes tried per crash point.
    pub outcomes_per_crash: u32,
    /// Crash at every I/O call in turn (true) or at random ones.
    pub every_call: bool,
    /// Damage trials per workload.
    pub damage_trials: u32,
}

/// What was explored.
#[derive(Debug, Clone, Copy, Default)]
pub struct Report {
    /// Workloads run.
    pub workloads: u64,
    /// Crash states checked (crash point x power-loss outcome).
    pub crash_states: u64,
    /// Of those, how many cut a torn append at open.
    pub torn_appends_seen: u64,
    /// Segments recycled in the clean runs of the workloads.
    pub recycled_segments: u64,
    /// Damage trials checked.
    pub damage_trials: u64,
    /// Of those, how many `open` refused.
    pub damage_refused: u64,
}

const ROOT: &str = "/data/raft";

fn log_dir() -> PathBuf {
    Path::new(ROOT).join("log")
}

fn snapshot_dir() -> PathBuf {
    Path::new(ROOT).join("snapshots")
}

/// Small segments, no cache, no background threads: many segment rolls and
/// recycles in a few operations, and a deterministic order of I/O calls.
pub(crate) fn sim_limits() -> Limits {
    Limits {
        segment_bytes: 6 * 4096,
        step_bytes: 6 * 4096,
        cache_bytes: 0,
        background: false,
        space_retry: Duration::from_millis(1),
        purge_wait: Duration::ZERO,
    }
}

pub(crate) fn log_id(term: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

/// The entry at `log_id`, its bytes a function of the log id (so a read
/// back can be checked): `data_len` bytes of data.
pub(crate) fn entry(log_id: LogId, data_len: usize) -> Entry {
    let fill = (log_id.index as u8) ^ (log_id.leader_id.term as u8).rotate_left(3);
    Entry {
        log_id,
        payload: EntryPayload::Normal(TxnBatch::new(vec![Txn {
            session_id: log_id.leader_id.term as i64,
            time_ms: log_id.index as i64,
            auth: vec![],
            is_super: false,
            op: TxnOp::SetData {
                path: "/k".into(),
                data: vec![fill; data_len],
                version: -1,
            },
            origin: None,
        }])),
    }
}

fn data_len_of(e: &Entry) -> Option<usize> {
    match &e.payload {
        EntryPayload::Normal(b) => match &b.txns.first()?.op {
            TxnOp::SetData { data, .. } => Some(data.len()),
            _ => None,
        },
        _ => None,
    }
}

/// The acknowledged state.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Model {
    /// Entries above the purge mark: log id and data length.
    entries: BTreeMap<u64, (LogId, usize)>,
    purged: Option<LogId>,
    vote: Option<Vote>,
    /// Newest durable snapshot.
    snapshot: Option<LogId>,
    /// Term of the next appends.
    term: u64,
}

impl Model {
    fn last(&self) -> Option<LogId> {
        self.entries
            .last_key_value()
            .map(|(_, (l, _))| *l)
            .or(self.purged)
    }

    fn next_index(&self) -> u64 {
        self.last().map_or(0, |l| l.index + 1)
    }

    fn first_present(&self) -> Option<u64> {
        self.entries.keys().next().copied()
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Append { count: u64, data_len: usize },
    Truncate { pick: u64 },
    SnapshotAndPurge { pick: u64, keep: u64 },
    InstallSnapshot { ahead: u64 },
    Vote,
    Hint { pick: u64 },
}

fn random_op(rng: &mut StdRng) -> Op {
    match rng.gen_range(0..100) {
        0..=59 => Op::Append {
            count: rng.gen_range(1..=4),
            data_len: *[0usize, 40, 300, 1500, 5000]
                .get(rng.gen_range(0..5))
                .expect("in range"),
        },
        60..=67 => Op::Truncate { pick: rng.gen() },
        68..=77 => Op::SnapshotAndPurge {
            pick: rng.gen(),
            keep: rng.gen_range(0..4),
        },
        78..=81 => Op::InstallSnapshot {
            ahead: rng.gen_range(1..6),
        },
        82..=89 => Op::Vote,
        _ => Op::Hint { pick: rng.gen() },
    }
}

/// The store and snapshot files on the simulated disk.
struct Node {
    log: LogStore,
    files: SnapshotFiles,
}

fn open_node(disk: &SimDisk) -> io::Result<Node> {
    let durable = Arc::new(DurableSnapshots::default());
    let files = SnapshotFiles::open(Arc::new(disk.clone()), snapshot_dir(), durable.clone())?;
    files.load_newest()?;
    let log = LogStore::open(
        Arc::new(disk.clone()),
        &log_dir(),
        sim_limits(),
        Arc::new(StorageHealth::default()),
        Some(durable),
    )?;
    Ok(Node { log, files })
}

fn snapshot_meta(last: LogId) -> SnapshotMeta {
    SnapshotMeta {
        last_log_id: Some(last),
        last_membership: StoredMembership::default(),
        snapshot_id: format!("{}-{}", last.leader_id.term, last.index),
    }
}

/// Applies `op` to the node, updating `model` as each step is
/// acknowledged. Returns the error that stopped it, if any.
fn apply(node: &Node, model: &mut Model, op: Op) -> io::Result<()> {
    match op {
        Op::Append { count, data_len } => {
            let first = model.next_index();
            let term = model.term.max(model.last().map_or(0, |l| l.leader_id.term));
            let entries: Vec<Entry> = (first..first + count)
                .map(|i| entry(log_id(term, i), data_len))
                .collect();
            node.log.append_blocking(entries)?;
            for i in first..first + count {
                model.entries.insert(i, (log_id(term, i), data_len));
            }
        }
        Op::Truncate { pick } => {
            let Some(first) = model.first_present() else {
                return Ok(());
            };
            let from = first + pick % (model.next_index() - first);
            node.log.truncate_blocking(from)?;
            model.entries.split_off(&from);
            // A new leader's entries follow.
            model.term = model.last().map_or(0, |l| l.leader_id.term) + 1;
        }
        Op::SnapshotAndPurge { pick, keep } => {
            let Some(first) = model.first_present() else {
                return Ok(());
            };
            let index = first + pick % (model.next_index() - first);
            let last = model.entries[&index].0;
            if model.snapshot.is_some_and(|s| s.index >= index) {
                return Ok(());
            }
            let body = vec![index as u8; 100 + (index as usize % 5000)];
            node.files.write(&snapshot_meta(last), &body)?;
            model.snapshot = Some(last);
            let upto = index.saturating_sub(keep);
            if model.purged.is_some_and(|p| p.index >= upto) || upto < first {
                return Ok(());
            }
            let upto_id = model.entries[&upto].0;
            node.log.purge_blocking(upto_id)?;
            model.purged = Some(upto_id);
            model.entries = model.entries.split_off(&(upto + 1));
        }
        Op::InstallSnapshot { ahead } => {
            // The leader's snapshot, past the end of this log: written, then
            // the log purged up to it (openraft's order; the purge waits for
            // the file).
            let term = model.term.max(model.last().map_or(0, |l| l.leader_id.term)) + 1;
            let last = log_id(term, model.next_index() + ahead);
            node.files.write(&snapshot_meta(last), b"installed")?;
            model.snapshot = Some(last);
            node.log.purge_blocking(last)?;
            model.purged = Some(last);
            model.entries.clear();
            model.term = term;
        }
        Op::Vote => {
            let term = model.term.max(model.vote.map_or(0, |v| v.leader_id.term)) + 1;
            let vote = Vote::new(term, 1);
            node.log.save_vote_blocking(vote)?;
            model.vote = Some(vote);
            model.term = term;
        }
        Op::Hint { pick } => {
            if let Some(first) = model.first_present() {
                let index = first + pick % (model.next_index() - first);
                node.log.shared.hint.write(Some(model.entries[&index].0));
            }
        }
    }
    Ok(())
}

/// What reopening found: the state, checked against the bytes written.
fn observe(node: &Node) -> Result<Model, String> {
    let (purged, last) = node.log.log_state();
    let end = last.map_or(0, |l| l.index + 1);
    let start = purged.map_or(0, |p| p.index + 1);
    let read = node
        .log
        .read_range(start, end)
        .map_err(|e| format!("reading back the log: {e}"))?;
    let mut entries = BTreeMap::new();
    for (i, e) in read.iter().enumerate() {
        if e.log_id.index != start + i as u64 {
            return Err(format!(
                "read back index {} where {} was expected",
                e.log_id.index,
                start + i as u64
            ));
        }
        let len = data_len_of(e).ok_or("an entry of another shape")?;
        let expected = entry(e.log_id, len);
        if *e != expected {
            return Err(format!("entry {} read back changed", e.log_id));
        }
        entries.insert(e.log_id.index, (e.log_id, len));
    }
    if entries.len() as u64 != end - start {
        return Err(format!(
            "log state says {start}..{end} but {} entries read back",
            entries.len()
        ));
    }
    let vote = node.log.state().vote;
    let snapshot = node.files.current().and_then(|m| m.last_log_id);
    if purged.is_some() && purged.map(|p| p.index) > snapshot.map(|s| s.index) {
        return Err(format!(
            "the purge mark {purged:?} is past the newest snapshot that loads ({snapshot:?}): \
             the server could not start"
        ));
    }
    Ok(Model {
        entries,
        purged,
        vote,
        snapshot,
        term: 0,
    })
}

/// Checks the recovered state against the states before and after the
/// operation that the power loss interrupted.
fn check_recovered(got: &Model, before: &Model, after: &Model, op: Op) -> Result<(), String> {
    let vote_ok = got.vote == before.vote || got.vote == after.vote;
    if !vote_ok {
        return Err(format!(
            "vote {:?}, expected {:?} or {:?}",
            got.vote, before.vote, after.vote
        ));
    }
    let snap_ok = got.snapshot.map(|s| s.index) >= before.snapshot.map(|s| s.index);
    if !snap_ok {
        return Err(format!(
            "newest snapshot {:?}, but {:?} was durable",
            got.snapshot, before.snapshot
        ));
    }
    let same_log = |m: &Model| got.entries == m.entries && got.purged == m.purged;
    if same_log(before) || same_log(after) {
        return Ok(());
    }
    if let Op::Truncate { .. } = op {
        // Part of the removal may be durable (later segments deleted,
        // the mark not yet written): a prefix of the log before, holding
        // at least the log after.
        let prefix = got.purged == before.purged
            && got
                .entries
                .iter()
                .all(|(i, v)| before.entries.get(i) == Some(v))
            && after
                .entries
                .iter()
                .all(|(i, v)| got.entries.get(i) == Some(v))
            && got
                .entries
                .keys()
                .zip(before.entries.keys())
                .all(|(a, b)| a == b);
        if prefix {
            return Ok(());
        }
    }
    Err(format!(
        "during {op:?}: log {:?} purged {:?}; before: {:?} purged {:?}; after: {:?} purged {:?}",
        got.entries.keys().collect::<Vec<_>>(),
        got.purged,
        before.entries.keys().collect::<Vec<_>>(),
        before.purged,
        after.entries.keys().collect::<Vec<_>>(),
        after.purged
    ))
}

fn workload(seed: u64, ops: usize) -> Vec<Op> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..ops).map(|_| random_op(&mut rng)).collect()
}

/// Runs `ops` on a fresh disk; with a power loss scheduled at `crash_at`,
/// returns the index of the interrupted op and the models around it.
fn run_ops(disk: &SimDisk, ops: &[Op]) -> Result<Option<(usize, Model, Model)>, String> {
    let node = open_node(disk).map_err(|e| {
        if is_power_loss(&e) {
            "power loss".to_string()
        } else {
            format!("first open failed: {e}")
        }
    });
    let node = match node {
        Ok(n) => n,
        Err(e) if e == "power loss" => return Ok(Some((0, Model::default(), Model::default()))),
        Err(e) => return Err(e),
    };
    let mut model = Model::default();
    for (i, op) in ops.iter().enumerate() {
        let before = model.clone();
        let mut after = model.clone();
        match apply(&node, &mut after, *op) {
            Ok(()) => model = after,
            Err(e) if is_power_loss(&e) => {
                // What the op would have made had it completed.
                let full = expected_after(&before, *op);
                return Ok(Some((i, before, full)));
            }
            Err(e) => return Err(format!("op {i} {op:?} failed: {e}")),
        }
    }
    Ok(None)
}

/// The state an op leads to from `before` (recomputed on a scratch
/// disk, since the interrupted run stopped part way).
fn expected_after(before: &Model, op: Op) -> Model {
    // The ops' effect on the model does not depend on the disk: run the
    // model part alone through a node on a scratch disk that holds the
    // same acknowledged state would be costly; instead mirror `apply`.
    let mut m = before.clone();
    match op {
        Op::Append { count, data_len } => {
            let first = m.next_index();
            let term = m.term.max(m.last().map_or(0, |l| l.leader_id.term));
            for i in first..first + count {
                m.entries.insert(i, (log_id(term, i), data_len));
            }
        }
        Op::Truncate { pick } => {
            if let Some(first) = m.first_present() {
                let from = first + pick % (m.next_index() - first);
                m.entries.split_off(&from);
                m.term = m.last().map_or(0, |l| l.leader_id.term) + 1;
            }
        }
        Op::SnapshotAndPurge { pick, keep } => {
            if let Some(first) = m.first_present() {
                let index = first + pick % (m.next_index() - first);
                let last = m.entries[&index].0;
                if m.snapshot.is_none_or(|s| s.index < index) {
                    m.snapshot = Some(last);
                    let upto = index.saturating_sub(keep);
                    if !(m.purged.is_some_and(|p| p.index >= upto) || upto < first) {
                        let upto_id = m.entries[&upto].0;
                        m.purged = Some(upto_id);
                        m.entries = m.entries.split_off(&(upto + 1));
                    }
                }
            }
        }
        Op::InstallSnapshot { ahead } => {
            let term = m.term.max(m.last().map_or(0, |l| l.leader_id.term)) + 1;
            let last = log_id(term, m.next_index() + ahead);
            m.snapshot = Some(last);
            m.purged = Some(last);
            m.entries.clear();
            m.term = term;
        }
        Op::Vote => {
            let term = m.term.max(m.vote.map_or(0, |v| v.leader_id.term)) + 1;
            m.vote = Some(Vote::new(term, 1));
            m.term = term;
        }
        Op::Hint { .. } => {}
    }
    m
}

/// After a crash and a successful recovery: more operations, a clean
/// reopen, and the state must be exactly what was acknowledged.
fn go_on(disk: &SimDisk, node: Node, mut model: Model, rng: &mut StdRng) -> Result<(), String> {
    model.term = model
        .last()
        .map_or(0, |l| l.leader_id.term)
        .max(model.vote.map_or(0, |v| v.leader_id.term));
    for _ in 0..3 {
        let op = random_op(rng);
        apply(&node, &mut model, op).map_err(|e| format!("after recovery, {op:?} failed: {e}"))?;
    }
    drop(node);
    let node = open_node(disk).map_err(|e| format!("clean reopen after recovery failed: {e}"))?;
    let mut got = observe(&node)?;
    got.term = model.term;
    if got.entries != model.entries || got.purged != model.purged || got.vote != model.vote {
        return Err(format!(
            "clean reopen after recovery: log {:?} purged {:?}, expected {:?} purged {:?}",
            got.entries.keys().collect::<Vec<_>>(),
            got.purged,
            model.entries.keys().collect::<Vec<_>>(),
            model.purged
        ));
    }
    Ok(())
}

/// Explores crash states until `config.crash_states` are checked; the
/// first violated property is the error (with the seed and crash point to
/// reproduce it).
pub fn run(config: SimConfig) -> Result<Report, String> {
    let mut report = Report::default();
    let mut seed = config.seed;
    while report.crash_states < config.crash_states {
        let ops = workload(seed, config.ops);
        // A clean run: how many I/O calls, and the damage trials.
        let disk = SimDisk::new();
        if let Some(stop) = run_ops(&disk, &ops)? {
            return Err(format!("seed {seed}: a clean run stopped at op {}", stop.0));
        }
        let calls = disk.calls();
        report.recycled_segments += disk.recycled();
        damage_trials(seed, &ops, config.damage_trials, &mut report)?;
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let points: Vec<u64> = if config.every_call {
            (1..=calls).collect()
        } else {
            (0..calls.min(64))
                .map(|_| rng.gen_range(1..=calls))
                .collect()
        };
        for crash_at in points {
            let disk = SimDisk::new();
            disk.crash_at(crash_at);
            let Some((i, before, after)) = run_ops(&disk, &ops)? else {
                continue;
            };
            for outcome in 0..config.outcomes_per_crash {
                let fork = disk.fork();
                let mut loss_rng = StdRng::seed_from_u64(
                    seed.wrapping_mul(1_000_003) ^ (crash_at << 8) ^ u64::from(outcome),
                );
                fork.power_loss(&mut loss_rng);
                let at = |e: String| {
                    format!("seed {seed}, crash at I/O call {crash_at} (op {i}: {:?}), outcome {outcome}: {e}", ops.get(i))
                };
                let node = open_node(&fork).map_err(|e| {
                    let names = fork.names(&log_dir());
                    at(format!(
                        "open refused a crash state: {e}; log files after the crash: {names:?}"
                    ))
                })?;
                let got = observe(&node).map_err(at)?;
                let op = ops.get(i).copied().unwrap_or(Op::Vote);
                check_recovered(&got, &before, &after, op).map_err(at)?;
                if fork
                    .names(&log_dir())
                    .iter()
                    .any(|n| n.starts_with("torn-"))
                {
                    report.torn_appends_seen += 1;
                }
                go_on(&fork, node, got, &mut loss_rng).map_err(at)?;
                report.crash_states += 1;
            }
        }
        report.workloads += 1;
        seed += 1;
    }
    Ok(report)
}

/// Flips a byte somewhere in the segments of a finished workload; open
/// must refuse, or give the log unchanged, or the log without its last
/// append when the byte is inside that append.
fn damage_trials(seed: u64, ops: &[Op], trials: u32, report: &mut Report) -> Result<(), String> {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xda3a6e);
    for trial in 0..trials {
        let disk = SimDisk::new();
        run_ops(&disk, ops)?;
        let node = open_node(&disk).map_err(|e| format!("seed {seed}: clean reopen: {e}"))?;
        let model = observe(&node)?;
        // Where the last append starts: its group header precedes the
        // frame of its first entry.
        let last_group = node.log.last_group();
        drop(node);
        let segments: Vec<String> = disk
            .names(&log_dir())
            .into_iter()
            .filter(|n| n.starts_with("wal-"))
            .collect();
        if segments.is_empty() {
            continue;
        }
        let name = &segments[rng.gen_range(0..segments.len())];
        let path = log_dir().join(name);
        let bytes = disk.read_file(&path).map_err(|e| e.to_string())?;
        // Damage where data is: the header page or within the written groups.
        let written = bytes.iter().rposition(|b| *b != 0).unwrap_or(0) as u64 + 1;
        let offset = rng.gen_range(0..written.max(1));
        let flipped = [bytes[offset as usize] ^ (1 << rng.gen_range(0..8))];
        disk.damage(&path, offset, &flipped)
            .map_err(|e| e.to_string())?;
        report.damage_trials += 1;
        let what = format!("seed {seed}, damage trial {trial}: byte {offset} of {name}");
        match open_node(&disk) {
            Err(e) if e.kind() == io::ErrorKind::InvalidData => report.damage_refused += 1,
            Err(e) => return Err(format!("{what}: open failed oddly: {e}")),
            Ok(node) => {
                let got = observe(&node).map_err(|e| format!("{what}: {e}"))?;
                if got.entries == model.entries && got.purged == model.purged {
                    continue;
                }
                let in_last_append = last_group.is_some_and(|(segment, start, _)| {
                    *name == segment_name(segment) && offset >= start
                });
                let lost: Vec<u64> = model
                    .entries
                    .keys()
                    .filter(|i| !got.entries.contains_key(i))
                    .copied()
                    .collect();
                // Damage inside the last append reads as a torn append: the
                // log as it was before that append (entries it truncated come
                // back, entries it added go). Everything before it stays.
                let before_last = last_group.map_or(0, |(_, _, first)| first);
                let only_last_append_lost = got.purged == model.purged
                    && model
                        .entries
                        .range(..before_last)
                        .all(|(i, v)| got.entries.get(i) == Some(v));
                if !(in_last_append && only_last_append_lost) {
                    return Err(format!(
                        "{what}: opened with acknowledged entries lost: {lost:?} (last append at {last_group:?})"
                    ));
                }
            }
        }
    }
    Ok(())
}
