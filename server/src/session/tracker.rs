//! `SessionTracker`: liveness of every replicated session, as seen by the
//! server that decides expiry (the leader).

use std::collections::HashMap;

use super::ExpiryQueue;

/// Tracks the deadline of every session.
#[derive(Debug)]
pub struct SessionTracker {
    timeouts: HashMap<i64, u64>,
    queue: ExpiryQueue<i64>,
}

impl SessionTracker {
    /// An empty tracker checking every `tick_ms`.
    pub fn new(tick_ms: u64) -> SessionTracker {
        SessionTracker {
            timeouts: HashMap::new(),
            queue: ExpiryQueue::new(tick_ms),
        }
    }

    /// Start tracking a session, with a full timeout from `now_ms` (also
    /// used to give every session a fresh timeout after a restart or a
    /// leader change).
    pub fn add(&mut self, session_id: i64, timeout_ms: u64, now_ms: u64) {
        self.timeouts.insert(session_id, timeout_ms);
        self.queue.update(session_id, now_ms, timeout_ms);
    }

    /// Record activity: the session lives another full timeout. Returns
    /// false for an untracked session.
    pub fn touch(&mut self, session_id: i64, now_ms: u64) -> bool {
        match self.timeouts.get(&session_id) {
            Some(&timeout) => {
                self.queue.update(session_id, now_ms, timeout);
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
}
