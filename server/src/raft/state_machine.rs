//! openraft's state machine: hands committed batches to the [`Application`]
//! and turns its serialized state into snapshot files.

use std::io::{self, Cursor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder, Snapshot,
};

use super::snapshot_files::{file_name, SnapshotFiles};
use super::type_config::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use super::wal::disk::is_no_space;
use super::{Application, SnapshotSource};
use crate::txn::BatchOutcome;

/// The state machine openraft drives; the state itself lives in the
/// application.
pub(crate) struct StateMachine {
    app: Arc<dyn Application>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    files: Arc<SnapshotFiles>,
    policy: Arc<SnapshotDue>,
}

/// When to take the next snapshot: after `every_entries` log entries, or
/// once the log written since the last snapshot is as large as a snapshot
/// of the state now would be ([`Application::state_bytes`]), and at least
/// `log_bytes_min`. (Against the state now, not the last snapshot: after a
/// large state is deleted, a log as large as its old snapshot would be
/// replayed and purged for nothing.) The second rule keeps the work
/// of snapshotting proportional to the write volume (a big state is not
/// rewritten every few seconds under a heavy write load) while still
/// bounding the log a restart replays to about the size of the state.
/// The state machine counts; [`SnapshotDue::wait`] wakes the task that asks
/// openraft for the snapshot.
pub(crate) struct SnapshotDue {
    every_entries: u64,
    log_bytes_min: u64,
    entries: AtomicU64,
    bytes: AtomicU64,
    due: tokio::sync::Notify,
}

impl SnapshotDue {
    pub(crate) fn new(every_entries: u64, log_bytes_min: u64) -> SnapshotDue {
        SnapshotDue {
            every_entries: every_entries.max(1),
            log_bytes_min,
            entries: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            due: tokio::sync::Notify::new(),
        }
    }

    /// One entry of `bytes` applied; `state_bytes` (asked only once the log
    /// since the last snapshot passes the minimum) estimates the size of a
    /// snapshot of the state now.
    fn applied(&self, bytes: u64, state_bytes: impl FnOnce() -> u64) {
        let entries = self.entries.fetch_add(1, Ordering::Relaxed) + 1;
        let bytes = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if entries >= self.every_entries || (bytes >= self.log_bytes_min && bytes >= state_bytes())
        {
            self.due.notify_one();
        }
    }

    /// A snapshot captured the state: count from zero again.
    fn started(&self) {
        self.entries.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
    }

    /// Resolves when a snapshot is due.
    pub(crate) async fn wait(&self) {
        self.due.notified().await;
    }
}

fn snapshot_err(verb: ErrorVerb) -> impl Fn(io::Error) -> StorageError {
    move |e| StorageError::from_io_error(ErrorSubject::Snapshot(None), verb, e)
}

/// How often a snapshot that met a full disk is tried again.
const SNAPSHOT_SPACE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Runs `write` (a snapshot file write) on the blocking pool, trying again
/// while the disk is full: a snapshot is not a reason to stop a node whose
/// log is healthy, and the log cannot be purged without one. Other errors
/// are returned.
async fn write_waiting_for_space<T: Send + 'static>(
    what: &str,
    write: impl Fn() -> io::Result<T> + Send + Sync + 'static,
) -> io::Result<T> {
    let write = Arc::new(write);
    let mut warned = false;
    loop {
        let attempt = Arc::clone(&write);
        match blocking(move || attempt()).await {
            Err(e) if is_no_space(&e) => {
                if !warned {
                    tracing::error!(error = %e, what,
                        "snapshot disk full: trying again every second until space is freed");
                    warned = true;
                }
                tokio::time::sleep(SNAPSHOT_SPACE_RETRY).await;
            }
            result => {
                if warned && result.is_ok() {
                    tracing::info!(what, "snapshot written after the disk had space again");
                }
                return result;
            }
        }
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(io::Error::other)?
}

impl StateMachine {
    /// Loads the newest valid snapshot into `app` (before openraft starts, so
    /// `applied_state` reports it).
    pub(crate) fn open(
        app: Arc<dyn Application>,
        files: Arc<SnapshotFiles>,
        policy: Arc<SnapshotDue>,
    ) -> Result<Self, String> {
        let mut sm = Self {
            app,
            last_applied: None,
            membership: StoredMembership::default(),
            files,
            policy,
        };
        if let Some((meta, body)) = sm.files.load_newest().map_err(|e| e.to_string())? {
            sm.app
                .restore(&body)
                .map_err(|e| format!("restoring snapshot {}: {e}", file_name(&meta)))?;
            tracing::info!(snapshot = %file_name(&meta), "restored snapshot");
            sm.policy.started();
            sm.last_applied = meta.last_log_id;
            sm.membership = meta.last_membership;
        }
        Ok(sm)
    }

    /// The last log id the restored snapshot covers.
    pub(crate) fn last_applied(&self) -> Option<LogId> {
        self.last_applied
    }
}

/// Builds one snapshot from state captured between two applies.
pub(crate) struct SnapshotBuilder {
    meta: SnapshotMeta,
    source: Option<SnapshotSource>,
    files: Arc<SnapshotFiles>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let files = self.files.clone();
        let meta = self.meta.clone();
        let source = self.source.take().ok_or_else(|| {
            snapshot_err(ErrorVerb::Write)(io::Error::other("snapshot already built"))
        })?;
        let started = std::time::Instant::now();
        let (meta, bytes) = write_waiting_for_space("build", move || {
            let bytes = files.write_with(&meta, |out| source(out))?;
            Ok((meta.clone(), bytes))
        })
        .await
        .map_err(snapshot_err(ErrorVerb::Write))?;
        tracing::info!(snapshot = %file_name(&meta), bytes,
            ms = started.elapsed().as_millis() as u64,
            "snapshot serialized and written (applying went on meanwhile)");
        // The body went straight to the file and is not kept: openraft 0.9
        // keeps only the metadata of a snapshot it asked for
        // (`sm::worker::Worker::build_snapshot`), and a follower that needs
        // it gets the file's bytes from `get_current_snapshot`.
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(Vec::new())),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<BatchOutcome>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut out = Vec::new();
        for entry in entries {
            // Applying out of order would silently diverge from the other
            // replicas: crash instead.
            assert!(
                Some(entry.log_id) > self.last_applied,
                "apply out of order: {} after {:?}",
                entry.log_id,
                self.last_applied
            );
            self.last_applied = Some(entry.log_id);
            let outcome = match entry.payload {
                EntryPayload::Normal(batch) => {
                    let bytes = batch.txns.iter().map(|t| t.payload_bytes() as u64).sum();
                    let outcome = self.app.apply(batch);
                    let app = &self.app;
                    self.policy.applied(bytes, || app.state_bytes());
                    outcome
                }
                EntryPayload::Membership(m) => {
                    self.membership = StoredMembership::new(Some(entry.log_id), m);
                    BatchOutcome::default()
                }
                EntryPayload::Blank => BatchOutcome::default(),
            };
            out.push(outcome);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        // Called on the state machine task between applies, so the state is
        // consistent with `last_applied`; writing the file happens later.
        let (term, index) = self
            .last_applied
            .map(|l| (l.leader_id.term, l.index))
            .unwrap_or((0, 0));
        let started = std::time::Instant::now();
        let source = self.app.snapshot();
        self.policy.started();
        tracing::debug!(
            capture_us = started.elapsed().as_micros() as u64,
            "state captured for a snapshot"
        );
        SnapshotBuilder {
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.membership.clone(),
                snapshot_id: format!("{term}-{index}"),
            },
            source: Some(source),
            files: self.files.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let body = Arc::new(snapshot.into_inner());
        let files = self.files.clone();
        let file_meta = meta.clone();
        let written = Arc::clone(&body);
        write_waiting_for_space("install", move || files.write(&file_meta, &written))
            .await
            .map_err(snapshot_err(ErrorVerb::Write))?;
        self.app.restore(&body).map_err(|e| {
            StorageError::from_io_error(
                ErrorSubject::Snapshot(Some(meta.signature())),
                ErrorVerb::Write,
                io::Error::other(e),
            )
        })?;
        tracing::info!(snapshot = %file_name(meta), "installed snapshot from leader");
        self.policy.started();
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let files = self.files.clone();
        match blocking(move || files.read_current()).await {
            Ok(Some((meta, body))) => Ok(Some(Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(body)),
            })),
            Ok(None) => Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "current snapshot unreadable; reporting none");
                Ok(None)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use futures::FutureExt;

    use super::SnapshotDue;

    fn due(policy: &SnapshotDue) -> bool {
        policy.wait().now_or_never().is_some()
    }

    #[test]
    fn snapshot_is_due_by_entries_or_by_log_bytes_against_the_state_size() {
        let policy = SnapshotDue::new(3, 100);
        policy.applied(10, || 0);
        policy.applied(10, || 0);
        assert!(!due(&policy));
        policy.applied(10, || 0);
        assert!(due(&policy), "third entry");

        // With a 1,000-byte state the byte rule waits for 1,000 bytes of
        // log, not the 100-byte minimum.
        let policy = SnapshotDue::new(1_000, 100);
        policy.applied(600, || 1_000);
        assert!(!due(&policy));
        policy.applied(400, || 1_000);
        assert!(due(&policy), "log as large as the state");
        // The state shrank (its nodes deleted): the log it takes follows
        // the state now, not the size of the last snapshot.
        policy.started();
        policy.applied(99, || panic!("not asked below the minimum"));
        assert!(!due(&policy), "below the minimum");
        policy.applied(1, || 10);
        assert!(due(&policy), "minimum reached, state small");
    }
}
