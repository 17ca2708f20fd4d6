//! `SessionTracker`: liveness of every replicated session, as seen by the
//! server that decides expiry (the leader).

use std::collections::HashMap;

use super::ExpiryQueue;

/// Deadlines are rounded up to this many ms: the expiry check runs about
/// this often, so a session expires at most about twice this past its
/// timeout (ZooKeeper rounds to its tick, 2 s by default).
pub const EXPIRY_GRANULARITY_MS: u64 = 10;

/// Tracks the deadline of every session.
#[derive(Debug)]
pub struct SessionTracker {
    timeouts: HashMap<i64, u64>,
    queue: ExpiryQueue<i64>,
}

impl SessionTracker {
    /// An empty tracker whose deadlines are rounded up to `granularity_ms`
    /// (see [`EXPIRY_GRANULARITY_MS`]).
    pub fn new(granularity_ms: u64) -> SessionTracker {
        SessionTracker {
            timeouts: HashMap::new(),
            queue: ExpiryQueue::new(granularity_ms),
        }
    }

    /// Start tracking a session, with a full timeout from `now_ms` (also
    /// used to give every session a fresh timeout after a restart or a
    /// leader change).
    pub fn add(&mut self, session_id: i64, timeout_ms: u64, now_ms: u64) {
        self.timeouts.insert(session_id, timeout_ms);
        self.queue.update(session_id, now_ms, timeout_ms);
    }

    /// Record activity seen at `at_ms`: the session lives a full timeout
    /// from then. A report older than what is known already (activity
    /// relayed late by another server) never shortens the deadline.
    /// Returns false for an untracked session.
    pub fn touch(&mut self, session_id: i64, at_ms: u64) -> bool {
        match self.timeouts.get(&session_id) {
            Some(&timeout) => {
                if self
                    .queue
                    .deadline(session_id)
                    .is_none_or(|d| d < at_ms + timeout)
                {
                    self.queue.update(session_id, at_ms, timeout);
                }
                true
            }
            None => false,
        }
    }

    /// Stop tracking a session (closed or expired).
    pub fn remove(&mut self, session_id: i64) {
        self.timeouts.remove(&session_id);
        self.queue.remove(session_id);
    }

    /// Sessions whose deadline has passed; they stay tracked until removed
    /// (their close is proposed through the log), but are not reported again
    /// unless touched.
    pub fn expired(&mut self, now_ms: u64) -> Vec<i64> {
        self.queue.poll_expired(now_ms)
    }

    /// Number of tracked sessions.
    pub fn len(&self) -> usize {
        self.timeouts.len()
    }

    /// Whether no session is tracked.
    pub fn is_empty(&self) -> bool {
        self.timeouts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untouched_session_expires_touched_one_lives() {
        let mut t = SessionTracker::new(100);
        t.add(1, 4000, 0);
        t.add(2, 4000, 0);
        t.touch(2, 3000);
        assert_eq!(t.expired(4000), vec![1]);
        assert!(t.expired(6900).is_empty());
        assert_eq!(t.expired(7000), vec![2]);
        assert!(!t.touch(3, 0));
    }

    #[test]
    fn late_reports_never_shorten_a_deadline() {
        let mut t = SessionTracker::new(10);
        t.add(1, 4000, 1000);
        t.touch(1, 3000);
        // Activity relayed late, from before the last one known.
        t.touch(1, 2000);
        assert!(t.expired(6990).is_empty());
        assert_eq!(t.expired(7000), vec![1]);
    }

    #[test]
    fn expires_within_the_granularity_never_before() {
        let mut t = SessionTracker::new(EXPIRY_GRANULARITY_MS);
        t.add(1, 4000, 1_003);
        assert!(t.expired(5_002).is_empty());
        let at = 5_003..=5_003 + EXPIRY_GRANULARITY_MS;
        let expired_at = at.clone().find(|&now| !t.expired(now).is_empty());
        assert!(expired_at.is_some_and(|now| at.contains(&now)));
    }
}
