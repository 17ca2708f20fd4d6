//! [`LockQueue`]: the engine under the mutex, the read-write lock, the
//! semaphore's inner lock and leader election, after Curator's
//! `LockInternals` and `StandardLockInternalsDriver`.
//!
//! Each contender creates a protected ephemeral sequential node
//! `<path>/_c_<uuid>-<lock name><seq>`. Contenders are ordered by the text
//! after the lock name (the 10-digit sequence), exactly as Curator's
//! `fixForSorting` orders them, so Rust and Java contenders queue in one
//! line. A contender that does not hold the lock watches only the node
//! it waits behind (no herd effect), with a getData watch, as Curator
//! does (an exists watch on a vanished node would linger).

use std::time::Instant;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::proto::CreateMode;

use super::lease::Lease;
use super::protected::{create_protected, join, name_of, retrying, wait_for_watch};

/// Which contenders may hold at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grant {
    /// The first `n` in order hold (a mutex is 1); each other contender
    /// waits on the one `n` places ahead.
    FirstN(usize),
    /// A reader holds unless a writer is ahead of it; it waits on the
    /// first writer (Curator's `readLockPredicate`).
    Read,
}

/// Curator's write lock name, for the read predicate.
pub(crate) const WRITE_LOCK_NAME: &str = "__WRIT__";
/// Curator's read lock name.
pub(crate) const READ_LOCK_NAME: &str = "__READ__";

/// The sort key of a contender node: the text after the last occurrence
/// of each of `lock_names` in turn (Curator's `fixForSorting`).
pub(crate) fn sort_key<'a>(child: &'a str, lock_names: &[&str]) -> &'a str {
    let mut key = child;
    for name in lock_names {
        if let Some(i) = key.rfind(name) {
            key = &key[i + name.len()..];
        }
    }
    key
}

/// Sorts contender names in Curator's order.
pub(crate) fn sort_contenders(children: &mut [String], lock_names: &[&str]) {
    children.sort_by(|a, b| sort_key(a, lock_names).cmp(sort_key(b, lock_names)));
}

/// A queue of contenders under one path.
#[derive(Debug, Clone)]
pub(crate) struct LockQueue {
    pub(crate) client: Client,
    /// The lock's path, parent of the contender nodes.
    pub(crate) path: String,
    /// This queue's node name (`lock-`, `__READ__`, `latch-`, ...).
    pub(crate) lock_name: String,
    /// The names the nodes under `path` are sorted by.
    pub(crate) sort_names: Vec<&'static str>,
    pub(crate) grant: Grant,
}

impl LockQueue {
    /// The contender node names, in order.
    pub(crate) async fn sorted_children(&self) -> Result<Vec<String>> {
        let names: Vec<&str> = self.sort_names.to_vec();
        let mut children =
            match retrying(&self.client, || self.client.get_children(&self.path)).await {
                Ok(children) => children,
                Err(Error::NoNode { .. }) => Vec::new(),
                Err(err) => return Err(err),
            };
        sort_contenders(&mut children, &names);
        Ok(children)
    }

    /// Joins the queue with `data` in the node and waits for the grant
    /// until `deadline` (forever with `None`). `Ok(None)`: the deadline
    /// passed, the node was removed. Cancelling the future removes the
    /// node too (from a spawned task).
    pub(crate) async fn acquire(
        &self,
        data: &[u8],
        deadline: Option<Instant>,
    ) -> Result<Option<Lease>> {
        let (path, stat) = create_protected(
            &self.client,
            &self.path,
            &self.lock_name,
            data,
            CreateMode::EphemeralSequential,
        )
        .await?;
        // Owned by a lease from now on, so that any exit (an error, a
        // timeout, the caller dropping this future) removes the node.
        let lease = Lease::new(self.client.clone(), path, stat.czxid);
        match self.wait_for_turn(lease.path(), deadline).await {
            Ok(true) => Ok(Some(lease)),
            Ok(false) => {
                lease.release().await?;
                Ok(None)
            }
            Err(err) => {
                let _ = lease.release().await;
                Err(err)
            }
        }
    }

    /// Waits until the node at `our_path` holds; `false` if the deadline
    /// passed first.
    async fn wait_for_turn(&self, our_path: &str, deadline: Option<Instant>) -> Result<bool> {
        let our_name = name_of(our_path);
        loop {
            let children = self.sorted_children().await?;
            let Some(ours) = children.iter().position(|c| c == our_name) else {
                // Our node is gone: the session ended or someone deleted it.
                return Err(Error::NoNode {
                    path: our_path.to_owned(),
                });
            };
            let ahead = match self.grant {
                Grant::FirstN(n) => ours.checked_sub(n.max(1)),
                Grant::Read => children[..ours]
                    .iter()
                    .position(|c| c.contains(WRITE_LOCK_NAME)),
            };
            let Some(ahead) = ahead else {
                return Ok(true);
            };
            let watched = join(&self.path, &children[ahead]);
            match retrying(&self.client, || self.client.get_and_watch_data(&watched)).await {
                Ok((_, _, watcher)) => {
                    if !wait_for_watch(&self.client, watcher, deadline).await? {
                        return Ok(false);
                    }
                }
                // Gone already: look again.
                Err(Error::NoNode { .. }) => {}
                Err(err) => return Err(err),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_like_curator() {
        let mut children = vec![
            "_c_bbbbbbbb-0000-4000-8000-000000000000-lock-0000000003".to_owned(),
            "_c_aaaaaaaa-0000-4000-8000-000000000000-lock-0000000010".to_owned(),
            "lock-0000000001".to_owned(),
        ];
        sort_contenders(&mut children, &["lock-"]);
        assert!(children[0].ends_with("01"));
        assert!(children[1].ends_with("03"));
        assert!(children[2].ends_with("10"));

        let mut rw = vec![
            "_c_x-__WRIT__0000000002".to_owned(),
            "_c_y-__READ__0000000001".to_owned(),
        ];
        sort_contenders(&mut rw, &[READ_LOCK_NAME, WRITE_LOCK_NAME]);
        assert_eq!(rw[0], "_c_y-__READ__0000000001");
    }
}
