//! openraft's state machine: hands committed batches to the [`Application`]
//! and turns its serialized state into snapshot files.

use std::io::{self, Cursor};
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{
    EntryPayload, ErrorSubject, ErrorVerb, OptionalSend, RaftSnapshotBuilder, Snapshot,
};

use super::snapshot_files::{file_name, SnapshotFiles};
use super::type_config::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};
use super::Application;
use crate::txn::BatchOutcome;

/// The state machine openraft drives; the state itself lives in the
/// application.
pub(crate) struct StateMachine {
    app: Arc<dyn Application>,
    last_applied: Option<LogId>,
    membership: StoredMembership,
    files: Arc<SnapshotFiles>,
}

fn snapshot_err(verb: ErrorVerb) -> impl Fn(io::Error) -> StorageError {
    move |e| StorageError::from_io_error(ErrorSubject::Snapshot(None), verb, e)
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
    ) -> Result<Self, String> {
        let mut sm = Self {
            app,
            last_applied: None,
            membership: StoredMembership::default(),
            files,
        };
        if let Some((meta, body)) = sm.files.load_newest().map_err(|e| e.to_string())? {
            sm.app
                .restore(&body)
                .map_err(|e| format!("restoring snapshot {}: {e}", file_name(&meta)))?;
            tracing::info!(snapshot = %file_name(&meta), "restored snapshot");
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
    body: Vec<u8>,
    files: Arc<SnapshotFiles>,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let files = self.files.clone();
        let meta = self.meta.clone();
        let body = std::mem::take(&mut self.body);
        let (meta, body) = blocking(move || {
            files.write(&meta, &body)?;
            Ok((meta, body))
        })
        .await
        .map_err(snapshot_err(ErrorVerb::Write))?;
        tracing::info!(snapshot = %file_name(&meta), bytes = body.len(), "snapshot written");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(body)),
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
                EntryPayload::Normal(batch) => self.app.apply(batch),
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
        SnapshotBuilder {
            meta: SnapshotMeta {
                last_log_id: self.last_applied,
                last_membership: self.membership.clone(),
                snapshot_id: format!("{term}-{index}"),
            },
            body: self.app.snapshot(),
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
        let body = snapshot.into_inner();
        let files = self.files.clone();
        let file_meta = meta.clone();
        let body = blocking(move || {
            files.write(&file_meta, &body)?;
            Ok(body)
        })
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
