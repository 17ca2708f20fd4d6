//! `ExpiryQueue`: items that expire at a deadline rounded up to a tick, so
//! that one check per tick finds every expired item without a scan.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::Hash;

/// Items bucketed by their deadline rounded up to the next tick (ms).
#[derive(Debug)]
pub struct ExpiryQueue<T: Eq + Hash + Copy> {
    tick_ms: u64,
    buckets: BTreeMap<u64, HashSet<T>>,
    deadline_of: HashMap<T, u64>,
}

impl<T: Eq + Hash + Copy> ExpiryQueue<T> {
    /// An empty queue with the given tick.
    pub fn new(tick_ms: u64) -> ExpiryQueue<T> {
        assert!(tick_ms > 0, "tick must be positive");
        ExpiryQueue {
            tick_ms,
            buckets: BTreeMap::new(),
            deadline_of: HashMap::new(),
        }
    }

    /// Set `item` to expire `timeout_ms` after `now_ms` (rounded up to a
    /// tick), moving it if it was already queued.
    pub fn update(&mut self, item: T, now_ms: u64, timeout_ms: u64) {
        let deadline = (now_ms + timeout_ms).div_ceil(self.tick_ms) * self.tick_ms;
        if let Some(old) = self.deadline_of.insert(item, deadline) {
            if old == deadline {
                return;
            }
            self.remove_from_bucket(item, old);
        }
        self.buckets.entry(deadline).or_default().insert(item);
    }

    /// The deadline `item` is queued for, if any.
    pub fn deadline(&self, item: T) -> Option<u64> {
        self.deadline_of.get(&item).copied()
    }

    /// Forget `item`.
    pub fn remove(&mut self, item: T) {
        if let Some(old) = self.deadline_of.remove(&item) {
            self.remove_from_bucket(item, old);
        }
    }

    /// Remove and return every item whose deadline is at or before `now_ms`.
    pub fn poll_expired(&mut self, now_ms: u64) -> Vec<T> {
        let mut expired = Vec::new();
        while let Some((&deadline, _)) = self.buckets.first_key_value() {
            if deadline > now_ms {
                break;
            }
            let (_, items) = self.buckets.pop_first().expect("bucket present");
            for item in items {
                self.deadline_of.remove(&item);
                expired.push(item);
            }
        }
        expired
    }

    /// Number of queued items.
    pub fn len(&self) -> usize {
        self.deadline_of.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.deadline_of.is_empty()
    }

    fn remove_from_bucket(&mut self, item: T, deadline: u64) {
        if let Some(set) = self.buckets.get_mut(&deadline) {
            set.remove(&item);
            if set.is_empty() {
                self.buckets.remove(&deadline);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_at_rounded_deadline() {
        let mut q = ExpiryQueue::new(100);
        q.update(1u64, 1000, 250); // 1250 -> 1300
        assert!(q.poll_expired(1299).is_empty());
        assert_eq!(q.poll_expired(1300), vec![1]);
        assert!(q.is_empty());
    }

    #[test]
    fn touch_moves_deadline() {
        let mut q = ExpiryQueue::new(100);
        q.update(1u64, 0, 1000);
        q.update(2u64, 0, 1000);
        q.update(1u64, 900, 1000);
        assert_eq!(q.poll_expired(1000), vec![2]);
        assert!(q.poll_expired(1800).is_empty());
        assert_eq!(q.poll_expired(1900), vec![1]);
    }

    #[test]
    fn removed_items_never_expire() {
        let mut q = ExpiryQueue::new(10);
        q.update(5u64, 0, 10);
        q.remove(5);
        assert!(q.poll_expired(1_000).is_empty());
        assert_eq!(q.len(), 0);
    }
}
