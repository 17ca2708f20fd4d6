//! `WatchManager`: who watches which path, and who a change notifies.

use std::collections::{HashMap, HashSet};

use corral_wire::proto::{EventType, WatcherType};

/// Identifies one client connection on this server.
pub type ConnId = u64;

/// The kind of a watch registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchKind {
    /// One-shot data watch (getData, or exists on an existing node) or exist
    /// watch (exists on a missing node): ZooKeeper keeps both in one table.
    Data,
    /// One-shot child watch (getChildren).
    Child,
    /// Persistent watch (addWatch mode 0): data, deletion and child events
    /// of one node, until removed.
    Persistent,
    /// Persistent-recursive watch (addWatch mode 1): creation, data change
    /// and deletion of the node and every descendant, until removed.
    PersistentRecursive,
}

impl WatchKind {
    fn bit(self) -> u8 {
        match self {
            WatchKind::Data => 1,
            WatchKind::Child => 2,
            WatchKind::Persistent => 4,
            WatchKind::PersistentRecursive => 8,
        }
    }
}

const DATA: u8 = 1;
const CHILD: u8 = 2;
const PERSISTENT: u8 = 4;
const RECURSIVE: u8 = 8;

/// Watch registrations of every connection on this server.
#[derive(Debug, Default)]
pub struct WatchManager {
    /// path -> connection -> bit set of `WatchKind`s.
    by_path: HashMap<String, HashMap<ConnId, u8>>,
    /// connection -> paths it watches, to drop everything on disconnect.
    by_conn: HashMap<ConnId, HashSet<String>>,
    /// Number of (path, connection) pairs with a recursive watch: when zero,
    /// a change never needs to look at its ancestors.
    recursive_count: usize,
}

impl WatchManager {
    /// An empty manager.
    pub fn new() -> WatchManager {
        WatchManager::default()
    }

    /// Register a watch.
    pub fn add(&mut self, conn: ConnId, path: &str, kind: WatchKind) {
        let bits = self
            .by_path
            .entry(path.to_string())
            .or_default()
            .entry(conn)
            .or_insert(0);
        if kind == WatchKind::PersistentRecursive && *bits & RECURSIVE == 0 {
            self.recursive_count += 1;
        }
        *bits |= kind.bit();
        self.by_conn
            .entry(conn)
            .or_default()
            .insert(path.to_string());
    }

    /// Whether `conn` has a watch of `watcher_type` on `path` (checkWatches).
    pub fn contains(&self, conn: ConnId, path: &str, watcher_type: WatcherType) -> bool {
        let bits = self
            .by_path
            .get(path)
            .and_then(|m| m.get(&conn))
            .copied()
            .unwrap_or(0);
        bits & check_mask_of(watcher_type) != 0
    }

    /// Remove `conn`'s watches of `watcher_type` on `path` (removeWatches);
    /// false if it had none (the caller answers NoWatcher).
    pub fn remove(&mut self, conn: ConnId, path: &str, watcher_type: WatcherType) -> bool {
        let mask = mask_of(watcher_type);
        let Some(conns) = self.by_path.get_mut(path) else {
            return false;
        };
        let Some(bits) = conns.get_mut(&conn) else {
            return false;
        };
        if *bits & mask == 0 {
            return false;
        }
        if *bits & mask & RECURSIVE != 0 {
            self.recursive_count -= 1;
        }
        *bits &= !mask;
        if *bits == 0 {
            conns.remove(&conn);
            if conns.is_empty() {
                self.by_path.remove(path);
            }
            if let Some(paths) = self.by_conn.get_mut(&conn) {
                paths.remove(path);
            }
        }
        true
    }

    /// Drop every watch of a connection that went away.
    pub fn remove_connection(&mut self, conn: ConnId) {
        let Some(paths) = self.by_conn.remove(&conn) else {
            return;
        };
        for path in paths {
            if let Some(conns) = self.by_path.get_mut(&path) {
                if let Some(bits) = conns.remove(&conn) {
                    if bits & RECURSIVE != 0 {
                        self.recursive_count -= 1;
                    }
                }
                if conns.is_empty() {
                    self.by_path.remove(&path);
                }
            }
        }
    }

    /// The connections `event` on `path` notifies, each once, consuming
    /// the one-shot watches that fire (ZooKeeper's `triggerWatch`).
    pub fn trigger(&mut self, path: &str, event: EventType) -> Vec<ConnId> {
        let (fires, consumes) = match event {
            EventType::NodeCreated | EventType::NodeDataChanged => {
                (DATA | PERSISTENT | RECURSIVE, DATA)
            }
            EventType::NodeDeleted => (DATA | CHILD | PERSISTENT | RECURSIVE, DATA | CHILD),
            EventType::NodeChildrenChanged => (CHILD | PERSISTENT, CHILD),
            _ => return Vec::new(),
        };
        let mut notified = Vec::new();
        let mut emptied = Vec::new();
        if let Some(conns) = self.by_path.get_mut(path) {
            for (&conn, bits) in conns.iter_mut() {
                if *bits & fires != 0 {
                    notified.push(conn);
                    *bits &= !consumes;
                    if *bits == 0 {
                        emptied.push(conn);
                    }
                }
            }
            for conn in &emptied {
                conns.remove(conn);
                if let Some(paths) = self.by_conn.get_mut(conn) {
                    paths.remove(path);
                }
            }
            if conns.is_empty() {
                self.by_path.remove(path);
            }
        }
        // Recursive watches on ancestors see creations, data changes and
        // deletions below them, never child-list changes.
        if self.recursive_count > 0 && event != EventType::NodeChildrenChanged {
            let mut ancestor = path;
            while let Some(parent) = corral_wire::path::parent(ancestor) {
                if let Some(conns) = self.by_path.get(parent) {
                    for (&conn, &bits) in conns {
                        if bits & RECURSIVE != 0 && !notified.contains(&conn) {
                            notified.push(conn);
                        }
                    }
                }
                ancestor = parent;
            }
        }
        notified
    }

    /// Number of (path, connection) watch registrations.
    pub fn watch_count(&self) -> usize {
        self.by_path.values().map(|m| m.len()).sum()
    }

    /// Number of distinct watched paths.
    pub fn path_count(&self) -> usize {
        self.by_path.len()
    }

    /// Number of connections with at least one watch.
    pub fn connection_count(&self) -> usize {
        self.by_conn.values().filter(|p| !p.is_empty()).count()
    }

    /// The paths `conn` watches (sorted), for `wchc`-style reports.
    pub fn paths_of(&self, conn: ConnId) -> Vec<String> {
        let mut v: Vec<String> = self
            .by_conn
            .get(&conn)
            .map(|p| p.iter().cloned().collect())
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// What checkWatches of a type finds. ZooKeeper keeps persistent watches in
/// its data table (and, non-recursive ones, in its child table too), so
/// `Data` finds them.
fn check_mask_of(watcher_type: WatcherType) -> u8 {
    match watcher_type {
        WatcherType::Children => CHILD | PERSISTENT,
        WatcherType::Data => DATA | PERSISTENT | RECURSIVE,
        _ => mask_of(watcher_type),
    }
}

/// What removeWatches of a type removes.
fn mask_of(watcher_type: WatcherType) -> u8 {
    match watcher_type {
        WatcherType::Children => CHILD,
        WatcherType::Data => DATA,
        WatcherType::Any => DATA | CHILD | PERSISTENT | RECURSIVE,
        WatcherType::Persistent => PERSISTENT,
        WatcherType::PersistentRecursive => RECURSIVE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<ConnId>) -> Vec<ConnId> {
        v.sort();
        v
    }

    #[test]
    fn one_shot_data_watch_fires_once() {
        let mut w = WatchManager::new();
        w.add(1, "/a", WatchKind::Data);
        assert_eq!(w.trigger("/a", EventType::NodeDataChanged), vec![1]);
        assert!(w.trigger("/a", EventType::NodeDataChanged).is_empty());
        assert_eq!(w.watch_count(), 0);
    }

    #[test]
    fn child_watch_ignores_data_changes_and_fires_on_delete() {
        let mut w = WatchManager::new();
        w.add(1, "/a", WatchKind::Child);
        assert!(w.trigger("/a", EventType::NodeDataChanged).is_empty());
        assert_eq!(w.trigger("/a", EventType::NodeDeleted), vec![1]);
        assert_eq!(w.watch_count(), 0);
    }

    #[test]
    fn data_and_child_watch_on_delete_notify_once() {
        let mut w = WatchManager::new();
        w.add(1, "/a", WatchKind::Data);
        w.add(1, "/a", WatchKind::Child);
        assert_eq!(w.trigger("/a", EventType::NodeDeleted), vec![1]);
        assert_eq!(w.watch_count(), 0);
    }

    #[test]
    fn persistent_watch_stays_and_sees_children() {
        let mut w = WatchManager::new();
        w.add(7, "/p", WatchKind::Persistent);
        for _ in 0..3 {
            assert_eq!(w.trigger("/p", EventType::NodeDataChanged), vec![7]);
            assert_eq!(w.trigger("/p", EventType::NodeChildrenChanged), vec![7]);
        }
        assert!(w.trigger("/p/c", EventType::NodeCreated).is_empty());
        assert_eq!(w.watch_count(), 1);
    }

    #[test]
    fn recursive_watch_sees_descendants_but_not_child_lists() {
        let mut w = WatchManager::new();
        w.add(3, "/r", WatchKind::PersistentRecursive);
        w.add(4, "/", WatchKind::PersistentRecursive);
        assert_eq!(
            sorted(w.trigger("/r/a/b", EventType::NodeCreated)),
            vec![3, 4]
        );
        assert_eq!(
            sorted(w.trigger("/r", EventType::NodeDataChanged)),
            vec![3, 4]
        );
        assert!(w.trigger("/r", EventType::NodeChildrenChanged).is_empty());
        assert_eq!(w.trigger("/other", EventType::NodeDeleted), vec![4]);
        assert!(w.trigger("/rx", EventType::NodeCreated) == vec![4]);
    }

    #[test]
    fn remove_and_check_by_type() {
        let mut w = WatchManager::new();
        w.add(1, "/a", WatchKind::Data);
        w.add(1, "/a", WatchKind::PersistentRecursive);
        assert!(w.contains(1, "/a", WatcherType::Data));
        assert!(!w.contains(1, "/a", WatcherType::Children));
        assert!(!w.remove(1, "/a", WatcherType::Children));
        assert!(w.remove(1, "/a", WatcherType::Data));
        // The recursive watch stays, and ZooKeeper finds it as a data watch.
        assert!(w.contains(1, "/a", WatcherType::Data));
        assert_eq!(w.trigger("/a", EventType::NodeDataChanged), vec![1]);
        assert!(w.contains(1, "/a", WatcherType::Any));
        assert!(w.remove(1, "/a", WatcherType::Any));
        assert_eq!(w.watch_count(), 0);
        assert!(w.trigger("/a/b", EventType::NodeCreated).is_empty());
    }

    #[test]
    fn connection_close_drops_everything() {
        let mut w = WatchManager::new();
        w.add(1, "/a", WatchKind::Data);
        w.add(1, "/b", WatchKind::PersistentRecursive);
        w.add(2, "/a", WatchKind::Data);
        w.remove_connection(1);
        assert_eq!(w.trigger("/a", EventType::NodeDeleted), vec![2]);
        assert!(w.trigger("/b/c", EventType::NodeCreated).is_empty());
        assert_eq!(w.watch_count(), 0);
        assert_eq!(w.connection_count(), 0);
    }
}
