//! openraft's log traits on [`LogStore`]: file work runs on tokio's
//! blocking pool; reads of recent entries come from the cache without it.

use std::fmt::Debug;
use std::io;
use std::ops::{Bound, RangeBounds};

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, LogState, OptionalSend, RaftLogReader};

use super::format::other;
use super::LogStore;
use crate::raft::type_config::{Entry, LogId, StorageError, TypeConfig, Vote};

impl LogStore {
    /// Runs blocking file work on the blocking pool.
    async fn blocking<T, F>(&self, f: F) -> io::Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&LogStore) -> io::Result<T> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(other)?
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
        let start = match range.start_bound() {
            Bound::Included(i) => *i,
            Bound::Excluded(i) => i.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = match range.end_bound() {
            Bound::Included(i) => i.saturating_add(1),
            Bound::Excluded(i) => *i,
            Bound::Unbounded => u64::MAX,
        };
        if start >= end {
            return Ok(Vec::new());
        }
        // The usual read (the entries just appended) is all in the cache.
        let all_cached = {
            let s = self.state();
            s.entries
                .range(start..end)
                .next()
                .is_none_or(|(i, _)| s.cached(*i).is_some())
        };
        let result = if all_cached {
            self.read_range(start, end)
        } else {
            self.blocking(move |log| log.read_range(start, end)).await
        };
        result.map_err(log_err(ErrorVerb::Read))
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let (last_purged_log_id, last_log_id) = self.log_state();
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let vote = *vote;
        self.blocking(move |log| log.save_vote_blocking(vote))
            .await
            .map_err(vote_err(ErrorVerb::Write))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.state().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        // Not synced (STACK.md pitfall 3: an fsync per commit costs 3x), and
        // never an error: a hint only (see meta.rs).
        self.shared.hint.write(committed);
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let committed = self.shared.hint.read();
        // Never claim more than the log holds.
        let last = self.state().last_log_id();
        Ok(committed.filter(|c| Some(*c) <= last))
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
        let entries: Vec<Entry> = entries.into_iter().collect();
        let result = self.blocking(move |log| log.append_blocking(entries)).await;
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
        let from = log_id.index;
        self.blocking(move |log| log.truncate_blocking(from))
            .await
            .map_err(log_err(ErrorVerb::Delete))
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.blocking(move |log| log.purge_blocking(log_id))
            .await
            .map_err(log_err(ErrorVerb::Delete))
    }
}
