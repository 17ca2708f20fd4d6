//! The Raft log, vote and purge marker in one redb file.
//!
//! Layout: table `log` maps the log index to a bincode-encoded
//! [`Entry`]; table `meta` holds `vote`, `purged`
//! (the last purged log id) and `committed` (a hint, see below).
//!
//! Durability: appends, truncations, purges and votes commit with
//! `Durability::Immediate` (an fsync) before openraft is told they are done;
//! for appends, [`LogFlushed`] is completed only after the commit returns.
//! `committed` is written with `Durability::None`: it costs no fsync and
//! becomes durable with the next immediate commit. Losing it only means
//! openraft learns the commit index again from the next election instead of
//! re-applying at startup, which is safe (STACK.md pitfall 3).
//!
//! One `append` call (openraft may pass several entries) is one write
//! transaction and one fsync. There is deliberately no group commit across
//! calls: openraft 0.9's core awaits the flush of each append before it
//! issues the next (`RaftCore::append_to_log` awaits the `LogFlushed`
//! callback), so a writer thread that groups queued appends never sees more
//! than one (measured: every group held exactly one append, no throughput
//! gain). The lever is per-entry batching: put many transactions in one
//! `TxnBatch`. Revisit when moving to openraft 0.10.
//!
//! redb calls block, so every one of them runs on tokio's blocking pool.

use std::fmt::{Debug, Display};
use std::io;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, LogState, OptionalSend, RaftLogReader};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use super::type_config::{Entry, LogId, StorageError, TypeConfig, Vote};

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

const KEY_VOTE: &str = "vote";
const KEY_PURGED: &str = "purged";
const KEY_COMMITTED: &str = "committed";

/// The log store; clones share the same database (the reader openraft asks
/// for is a clone).
#[derive(Clone)]
pub(crate) struct LogStore {
    db: Arc<Database>,
}

fn other<E: Display>(e: E) -> io::Error {
    io::Error::other(e.to_string())
}

fn encode<T: serde::Serialize>(value: &T) -> io::Result<Vec<u8>> {
    bincode::serialize(value).map_err(other)
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> io::Result<T> {
    bincode::deserialize(bytes)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

impl LogStore {
    /// Opens (or creates) the log database at `path`.
    pub(crate) fn open(path: &Path) -> io::Result<Self> {
        let db = Database::create(path).map_err(other)?;
        let mut w = db.begin_write().map_err(other)?;
        w.set_durability(Durability::Immediate).map_err(other)?;
        {
            w.open_table(LOG).map_err(other)?;
            w.open_table(META).map_err(other)?;
        }
        w.commit().map_err(other)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs a blocking redb operation on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> io::Result<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(other)?
    }

    fn read_meta<T: serde::de::DeserializeOwned>(
        db: &Database,
        key: &str,
    ) -> io::Result<Option<T>> {
        let r = db.begin_read().map_err(other)?;
        let t = r.open_table(META).map_err(other)?;
        match t.get(key).map_err(other)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    fn write_meta(
        db: &Database,
        key: &str,
        value: Vec<u8>,
        durability: Durability,
    ) -> io::Result<()> {
        let mut w = db.begin_write().map_err(other)?;
        w.set_durability(durability).map_err(other)?;
        {
            let mut t = w.open_table(META).map_err(other)?;
            t.insert(key, value.as_slice()).map_err(other)?;
        }
        w.commit().map_err(other)
    }

    /// `(last purged, last present)` log ids, read synchronously.
    pub(crate) fn log_state_blocking(db: &Database) -> io::Result<(Option<LogId>, Option<LogId>)> {
        let purged: Option<LogId> = Self::read_meta(db, KEY_PURGED)?;
        let r = db.begin_read().map_err(other)?;
        let t = r.open_table(LOG).map_err(other)?;
        let last = match t.last().map_err(other)? {
            Some((_, v)) => Some(decode::<Entry>(v.value())?.log_id),
            None => purged,
        };
        Ok((purged, last))
    }

    /// `(last purged, last present)` log ids.
    pub(crate) async fn log_state(&self) -> io::Result<(Option<LogId>, Option<LogId>)> {
        self.blocking(Self::log_state_blocking).await
    }
}

fn log_err(verb: ErrorVerb) -> impl Fn(io::Error) -> StorageError {
    move |e| StorageError::from_io_error(ErrorSubject::Logs, verb, e)
}

fn vote_err(verb: ErrorVerb) -> impl Fn(io::Error) -> StorageError {
    move |e| StorageError::from_io_error(ErrorSubject::Vote, verb, e)
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = range.start_bound().cloned();
        let end = range.end_bound().cloned();
        self.blocking(move |db| {
            let r = db.begin_read().map_err(other)?;
            let t = r.open_table(LOG).map_err(other)?;
            let mut out = Vec::new();
            for item in t.range::<u64>((start, end)).map_err(other)? {
                let (_, v) = item.map_err(other)?;
                out.push(decode::<Entry>(v.value())?);
            }
            Ok(out)
        })
        .await
        .map_err(log_err(ErrorVerb::Read))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let (last_purged_log_id, last_log_id) =
            self.log_state().await.map_err(log_err(ErrorVerb::Read))?;
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let bytes = encode(vote).map_err(vote_err(ErrorVerb::Write))?;
        self.blocking(move |db| Self::write_meta(db, KEY_VOTE, bytes, Durability::Immediate))
            .await
            .map_err(vote_err(ErrorVerb::Write))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        self.blocking(|db| Self::read_meta(db, KEY_VOTE))
            .await
            .map_err(vote_err(ErrorVerb::Read))
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let bytes = encode(&committed).map_err(log_err(ErrorVerb::Write))?;
        // Not durable on purpose (module docs): no fsync per commit.
        self.blocking(move |db| Self::write_meta(db, KEY_COMMITTED, bytes, Durability::None))
            .await
            .map_err(log_err(ErrorVerb::Write))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let committed: Option<Option<LogId>> = self
            .blocking(|db| Self::read_meta(db, KEY_COMMITTED))
            .await
            .map_err(log_err(ErrorVerb::Read))?;
        Ok(committed.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let batch = entries
            .into_iter()
            .map(|e| Ok((e.log_id.index, encode(&e)?)))
            .collect::<io::Result<Vec<(u64, Vec<u8>)>>>();
        let result = match batch {
            Ok(batch) => {
                self.blocking(move |db| {
                    let mut w = db.begin_write().map_err(other)?;
                    w.set_durability(Durability::Immediate).map_err(other)?;
                    {
                        let mut t = w.open_table(LOG).map_err(other)?;
                        for (index, bytes) in &batch {
                            t.insert(*index, bytes.as_slice()).map_err(other)?;
                        }
                    }
                    w.commit().map_err(other)
                })
                .await
            }
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                callback.log_io_completed(Err(io::Error::new(e.kind(), e.to_string())));
                Err(log_err(ErrorVerb::Write)(e))
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.blocking(move |db| {
            let mut w = db.begin_write().map_err(other)?;
            w.set_durability(Durability::Immediate).map_err(other)?;
            {
                let mut t = w.open_table(LOG).map_err(other)?;
                t.retain_in(log_id.index.., |_, _| false).map_err(other)?;
            }
            w.commit().map_err(other)
        })
        .await
        .map_err(log_err(ErrorVerb::Delete))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let bytes = encode(&log_id).map_err(log_err(ErrorVerb::Delete))?;
        self.blocking(move |db| {
            let mut w = db.begin_write().map_err(other)?;
            w.set_durability(Durability::Immediate).map_err(other)?;
            {
                let mut m = w.open_table(META).map_err(other)?;
                m.insert(KEY_PURGED, bytes.as_slice()).map_err(other)?;
                let mut t = w.open_table(LOG).map_err(other)?;
                t.retain_in(..=log_id.index, |_, _| false).map_err(other)?;
            }
            w.commit().map_err(other)
        })
        .await
        .map_err(log_err(ErrorVerb::Delete))
    }
}
