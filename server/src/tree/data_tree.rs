//! The znode tree (ZooKeeper's `DataTree`): nodes by path, the indexes that
//! session close and the reaper need, and an undo journal that lets a failed
//! multi roll back without copying the tree.
//!
//! The mutators here do no checking beyond what keeps the tree consistent:
//! ZooKeeper's request rules (versions, ACLs, error precedence) live in
//! `Database`. Everything is ordered (`BTreeMap`/`BTreeSet`), so iteration
//! order, snapshots and listings are the same on every replica.
//!
//! The nodes live in a persistent ordered map (`imbl::OrdMap`, a B-tree
//! whose chunks are shared until written): [`DataTree::freeze`] takes an
//! O(1) copy that a snapshot serializes in the background while the tree
//! goes on changing; the first write to a shared chunk copies that chunk.
//! Lookups and inserts cost about what `std`'s `BTreeMap` does.

use super::ephemeral_type::EphemeralType;
use super::node::{Node, StatPersisted};
use corral_wire::path;
use corral_wire::proto::{Acl, Stat};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Paths ZooKeeper creates itself and refuses to delete
/// (`DataTree.isSpecialPath`).
pub const SPECIAL_PATHS: [&str; 4] = ["/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"];

/// One reversible change, recorded while a journal is open.
#[derive(Debug, Clone)]
enum Undo {
    /// A node was inserted; undo removes it.
    Created(String),
    /// A (childless) node was removed; undo puts it back.
    Deleted(String, Node),
    /// A node's stat changed.
    Stat(String, StatPersisted),
    /// A node's data and stat changed.
    Data(String, Option<Vec<u8>>, StatPersisted),
    /// A node's ACL and stat changed.
    Acl(String, Arc<Vec<Acl>>, StatPersisted),
}

/// A node as stored in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SnapshotNode {
    pub(crate) path: String,
    // As bytes, not a sequence of u8 (same bincode encoding, many times
    // faster to write and read).
    #[serde(with = "serde_bytes")]
    pub(crate) data: Vec<u8>,
    pub(crate) acl: Vec<Acl>,
    pub(crate) stat: StatPersisted,
}

/// A node as written to a snapshot, borrowed from the tree; encodes like
/// [`SnapshotNode`].
#[derive(Debug, serde::Serialize)]
pub(crate) struct SnapshotNodeRef<'a> {
    pub(crate) path: &'a str,
    #[serde(with = "serde_bytes")]
    pub(crate) data: &'a [u8],
    pub(crate) acl: &'a [Acl],
    pub(crate) stat: StatPersisted,
}

/// Bytes of node data (null data has none).
fn data_len(data: &Option<Vec<u8>>) -> usize {
    data.as_ref().map_or(0, Vec::len)
}

/// The znode tree.
#[derive(Debug, Clone)]
pub struct DataTree {
    nodes: imbl::OrdMap<String, Node>,
    /// Ephemeral paths per owning session.
    ephemerals: BTreeMap<i64, BTreeSet<String>>,
    containers: BTreeSet<String>,
    ttls: BTreeSet<String>,
    /// Sum of path and data lengths (`DataTree.approximateDataSize`).
    data_size: u64,
    /// Open undo journal (inside a multi).
    journal: Option<Vec<Undo>>,
}

impl Default for DataTree {
    fn default() -> Self {
        DataTree::new()
    }
}

impl DataTree {
    /// The tree of a fresh ZooKeeper 3.8 server: `/`, `/zookeeper`,
    /// `/zookeeper/quota` and `/zookeeper/config`, all with zeroed stats
    /// (czxid 0, times 0) and open ACLs, except `/zookeeper/config`, which is
    /// world-readable only and has aversion -1 because ZooKeeper sets its ACL
    /// with `setACL(path, READ_ACL_UNSAFE, -1)` (ZOOKEEPER-2014).
    pub fn new() -> DataTree {
        let mut tree = DataTree {
            nodes: imbl::OrdMap::new(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            data_size: 0,
            journal: None,
        };
        let open = Arc::new(Acl::open_unsafe());
        for p in ["/", "/zookeeper", "/zookeeper/quota"] {
            tree.insert(
                p.to_owned(),
                Some(Vec::new()),
                open.clone(),
                StatPersisted::default(),
            );
        }
        let config_stat = StatPersisted {
            aversion: -1,
            ..StatPersisted::default()
        };
        tree.insert(
            "/zookeeper/config".to_owned(),
            Some(Vec::new()),
            Arc::new(Acl::read_unsafe()),
            config_stat,
        );
        tree
    }

    /// The node at `path`.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// Number of nodes, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the tree is empty (never: the root always exists).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Sum of path and data lengths over all nodes.
    pub fn data_size(&self) -> u64 {
        self.data_size
    }

    /// Number of ephemeral nodes.
    pub fn ephemeral_count(&self) -> usize {
        self.ephemerals.values().map(BTreeSet::len).sum()
    }

    /// The ephemeral paths of a session, sorted.
    pub fn ephemerals_of(&self, session_id: i64) -> impl Iterator<Item = &str> + '_ {
        self.ephemerals
            .get(&session_id)
            .into_iter()
            .flat_map(|s| s.iter().map(String::as_str))
    }

    /// Every container path, sorted.
    pub fn containers(&self) -> impl Iterator<Item = &str> + '_ {
        self.containers.iter().map(String::as_str)
    }

    /// Every TTL node path, sorted.
    pub fn ttls(&self) -> impl Iterator<Item = &str> + '_ {
        self.ttls.iter().map(String::as_str)
    }

    /// Every node, sorted by path.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> + '_ {
        self.nodes.iter().map(|(p, n)| (p.as_str(), n))
    }

    /// Number of descendants of `path` (`DataTree.getAllChildrenNumber`),
    /// `None` if there is no such node.
    pub fn all_children_number(&self, path: &str) -> Option<usize> {
        self.nodes.get(path)?;
        if path == "/" {
            return Some(self.nodes.len() - 1);
        }
        // Descendants are exactly the keys in [path + "/", path + "0"):
        // '0' is the byte after '/'.
        let start = format!("{path}/");
        let end = format!("{path}0");
        Some(self.nodes.range(start..end).count())
    }

    /// Inserts a node under an existing parent, maintaining the parent's
    /// child set and the indexes. No stat change to the parent.
    fn insert(
        &mut self,
        path: String,
        data: Option<Vec<u8>>,
        acl: Arc<Vec<Acl>>,
        stat: StatPersisted,
    ) {
        if let Some(parent) = path::parent(&path) {
            let parent = self
                .nodes
                .get_mut(parent)
                .expect("insert: parent must exist");
            parent.children.insert(path::name(&path).to_owned());
        }
        self.insert_unlinked(path, data, acl, stat);
    }

    /// [`insert`](Self::insert) for a caller that has already added the
    /// name to the parent's child set; returns the new node's client stat.
    fn insert_unlinked(
        &mut self,
        path: String,
        data: Option<Vec<u8>>,
        acl: Arc<Vec<Acl>>,
        stat: StatPersisted,
    ) -> Stat {
        match EphemeralType::of(stat.ephemeral_owner) {
            EphemeralType::Normal => {
                self.ephemerals
                    .entry(stat.ephemeral_owner)
                    .or_default()
                    .insert(path.clone());
            }
            EphemeralType::Container => {
                self.containers.insert(path.clone());
            }
            EphemeralType::Ttl => {
                self.ttls.insert(path.clone());
            }
            EphemeralType::Void => {}
        }
        self.data_size += (path.len() + data_len(&data)) as u64;
        let node = Node {
            data,
            acl,
            stat,
            children: imbl::OrdSet::new(),
        };
        let client_stat = node.stat();
        let old = self.nodes.insert(path, node);
        assert!(old.is_none(), "insert: node already exists");
        client_stat
    }

    /// Removes a childless node, maintaining the parent's child set and the
    /// indexes. No stat change to the parent.
    fn remove(&mut self, path: &str) -> Node {
        let node = self.nodes.remove(path).expect("remove: node must exist");
        assert!(node.children.is_empty(), "remove: node has children");
        if let Some(parent) = path::parent(path) {
            if let Some(parent) = self.nodes.get_mut(parent) {
                parent.children.remove(path::name(path));
            }
        }
        let owner = node.stat.ephemeral_owner;
        match EphemeralType::of(owner) {
            EphemeralType::Normal => {
                if let Some(set) = self.ephemerals.get_mut(&owner) {
                    set.remove(path);
                    if set.is_empty() {
                        self.ephemerals.remove(&owner);
                    }
                }
            }
            EphemeralType::Container => {
                self.containers.remove(path);
            }
            EphemeralType::Ttl => {
                self.ttls.remove(path);
            }
            EphemeralType::Void => {}
        }
        self.data_size -= (path.len() + data_len(&node.data)) as u64;
        node
    }

    fn record(&mut self, undo: impl FnOnce() -> Undo) {
        if let Some(journal) = self.journal.as_mut() {
            journal.push(undo());
        }
    }

    fn node_mut(&mut self, path: &str) -> &mut Node {
        self.nodes.get_mut(path).expect("node must exist")
    }

    /// Creates `path` (whose parent exists and which does not) and bumps the
    /// parent's child counter and pzxid (`DataTree.createNode`). Returns the
    /// new node's client stat.
    pub fn create_node(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        acl: Vec<Acl>,
        ephemeral_owner: i64,
        zxid: i64,
        time: i64,
    ) -> Stat {
        let parent_path = path::parent(path).expect("create_node: not the root");
        // One lookup of the parent for its ACL, stat and child set (the
        // map's keys share long prefixes, so lookups are what creates cost).
        let parent = self.node_mut(parent_path);
        let old = parent.stat;
        // Children usually carry their parent's ACL: share it.
        let acl = if *parent.acl == acl {
            parent.acl.clone()
        } else {
            Arc::new(acl)
        };
        parent.stat.cversion = parent.stat.cversion.wrapping_add(1);
        parent.stat.pzxid = zxid;
        parent.children.insert(path::name(path).to_owned());
        self.record(|| Undo::Stat(parent_path.to_owned(), old));
        self.record(|| Undo::Created(path.to_owned()));
        self.insert_unlinked(
            path.to_owned(),
            data,
            acl,
            StatPersisted::created(zxid, time, ephemeral_owner),
        )
    }

    /// Deletes childless `path` and moves the parent's pzxid forward
    /// (`DataTree.deleteNode`; the stored child counter is unchanged, which
    /// is why the client cversion still grows).
    pub fn delete_node(&mut self, path: &str, zxid: i64) {
        let parent_path = path::parent(path).expect("delete_node: not the root");
        let old = self.nodes[parent_path].stat;
        self.record(|| Undo::Stat(parent_path.to_owned(), old));
        let parent = self.node_mut(parent_path);
        if zxid > parent.stat.pzxid {
            parent.stat.pzxid = zxid;
        }
        let node = self.remove(path);
        self.record(|| Undo::Deleted(path.to_owned(), node));
    }

    /// Replaces the data of `path`, with its new version, mzxid and mtime.
    pub fn set_data(
        &mut self,
        path: &str,
        data: Option<Vec<u8>>,
        version: i32,
        zxid: i64,
        time: i64,
    ) -> Stat {
        let node = self.node_mut(path);
        let old_stat = node.stat;
        let old_len = data_len(&node.data);
        let new_len = data_len(&data);
        let old_data = std::mem::replace(&mut node.data, data);
        node.stat.version = version;
        node.stat.mzxid = zxid;
        node.stat.mtime = time;
        let stat = node.stat();
        self.data_size = self.data_size - old_len as u64 + new_len as u64;
        self.record(|| Undo::Data(path.to_owned(), old_data, old_stat));
        stat
    }

    /// Replaces the ACL of `path`, with its new aversion.
    pub fn set_acl(&mut self, path: &str, acl: Vec<Acl>, aversion: i32) -> Stat {
        let node = self.node_mut(path);
        let old_stat = node.stat;
        let old_acl = std::mem::replace(&mut node.acl, Arc::new(acl));
        node.stat.aversion = aversion;
        let stat = node.stat();
        self.record(|| Undo::Acl(path.to_owned(), old_acl, old_stat));
        stat
    }

    /// Direct access to a node's stored stat, for tests that need states
    /// too slow to reach through transactions (counters near overflow).
    #[cfg(test)]
    pub(crate) fn stat_mut(&mut self, path: &str) -> &mut StatPersisted {
        &mut self.node_mut(path).stat
    }

    /// Starts recording undo entries (a multi begins).
    pub fn begin_journal(&mut self) {
        assert!(self.journal.is_none(), "journal already open");
        self.journal = Some(Vec::new());
    }

    /// Keeps the changes made since [`begin_journal`](Self::begin_journal).
    pub fn commit_journal(&mut self) {
        self.journal.take().expect("no journal open");
    }

    /// Reverts every change made since [`begin_journal`](Self::begin_journal).
    pub fn rollback_journal(&mut self) {
        let journal = self.journal.take().expect("no journal open");
        for undo in journal.into_iter().rev() {
            match undo {
                Undo::Created(path) => {
                    self.remove(&path);
                }
                Undo::Deleted(path, node) => {
                    let Node {
                        data, acl, stat, ..
                    } = node;
                    self.insert(path, data, acl, stat);
                }
                Undo::Stat(path, stat) => self.node_mut(&path).stat = stat,
                Undo::Data(path, data, stat) => {
                    let node = self.node_mut(&path);
                    let new_len = data_len(&node.data);
                    let old_len = data_len(&data);
                    node.data = data;
                    node.stat = stat;
                    self.data_size = self.data_size - new_len as u64 + old_len as u64;
                }
                Undo::Acl(path, acl, stat) => {
                    let node = self.node_mut(&path);
                    node.acl = acl;
                    node.stat = stat;
                }
            }
        }
    }

    /// An order-independent 64-bit digest of every node's path, data, ACL
    /// and stored stat: equal trees give equal digests on every platform.
    pub fn digest(&self) -> u64 {
        self.nodes
            .iter()
            .map(|(p, n)| node_digest(p, n))
            .fold(0u64, u64::wrapping_add)
    }

    /// An O(1) copy of the nodes as they are now, for a snapshot.
    pub(crate) fn freeze(&self) -> FrozenNodes {
        FrozenNodes(self.nodes.clone())
    }
}

/// The nodes of a tree at one point in time (see [`DataTree::freeze`]).
pub(crate) struct FrozenNodes(imbl::OrdMap<String, Node>);

impl FrozenNodes {
    /// Number of nodes.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Every node in path order, for a snapshot.
    pub(crate) fn snapshot_nodes(&self) -> impl Iterator<Item = SnapshotNodeRef<'_>> {
        self.0.iter().map(|(p, n)| SnapshotNodeRef {
            path: p,
            data: n.data(),
            acl: &n.acl,
            stat: n.stat,
        })
    }
}

/// Serializes as a sequence of [`SnapshotNodeRef`] (the encoding of a
/// `Vec<SnapshotNode>`) straight from the frozen map, without collecting
/// the nodes first.
impl serde::Serialize for FrozenNodes {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.len()))?;
        for node in self.snapshot_nodes() {
            seq.serialize_element(&node)?;
        }
        seq.end()
    }
}

impl FrozenNodes {
    /// The paths of the nodes whose data is null (a snapshot stores them
    /// apart, see `database.rs`), in path order.
    pub(crate) fn null_data_paths(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(_, n)| n.data.is_none())
            .map(|(p, _)| p.as_str())
            .collect()
    }
}

impl DataTree {
    /// Marks the data of these nodes null (after restoring a snapshot whose
    /// node list carries them as empty).
    pub(crate) fn set_null_data(&mut self, paths: &[String]) -> Result<(), String> {
        for path in paths {
            let node = self
                .nodes
                .get_mut(path)
                .ok_or_else(|| format!("null data for a missing node: {path}"))?;
            if node.data.as_ref().is_some_and(|d| !d.is_empty()) {
                return Err(format!("null data for a node with data: {path}"));
            }
            node.data = None;
        }
        Ok(())
    }

    /// Rebuilds a tree from snapshot nodes (any order with parents first:
    /// path order is).
    pub(crate) fn from_snapshot_nodes(nodes: Vec<SnapshotNode>) -> Result<DataTree, String> {
        let mut tree = DataTree {
            nodes: imbl::OrdMap::new(),
            ephemerals: BTreeMap::new(),
            containers: BTreeSet::new(),
            ttls: BTreeSet::new(),
            data_size: 0,
            journal: None,
        };
        // Lookup only, never iterated, so its order cannot leak.
        let mut acls: HashMap<Vec<Acl>, Arc<Vec<Acl>>> = HashMap::new();
        for n in nodes {
            if path::validate_path(&n.path).is_err() {
                return Err(format!("invalid path in snapshot: {:?}", n.path));
            }
            if tree.nodes.contains_key(&n.path) {
                return Err(format!("duplicate path in snapshot: {}", n.path));
            }
            if let Some(parent) = path::parent(&n.path) {
                if !tree.nodes.contains_key(parent) {
                    return Err(format!("orphan node in snapshot: {}", n.path));
                }
            }
            let acl = acls
                .entry(n.acl.clone())
                .or_insert_with(|| Arc::new(n.acl))
                .clone();
            tree.insert(n.path, Some(n.data), acl, n.stat);
        }
        if !tree.nodes.contains_key("/") {
            return Err("snapshot has no root".to_owned());
        }
        Ok(tree)
    }
}

/// FNV-1a over a node's fields, then a 64-bit finalizer (splitmix64) so that
/// summing node digests does not cancel structured differences.
fn node_digest(path: &str, node: &Node) -> u64 {
    let mut h = Fnv::new();
    h.write(&(path.len() as u64).to_be_bytes());
    h.write(path.as_bytes());
    h.write(&(node.data().len() as u64).to_be_bytes());
    h.write(node.data());
    h.write(&(node.acl.len() as u64).to_be_bytes());
    for a in node.acl.iter() {
        h.write(&a.perms.to_be_bytes());
        h.write(&(a.id.scheme.len() as u64).to_be_bytes());
        h.write(a.id.scheme.as_bytes());
        h.write(&(a.id.id.len() as u64).to_be_bytes());
        h.write(a.id.id.as_bytes());
    }
    let s = &node.stat;
    for v in [
        s.czxid,
        s.mzxid,
        s.ctime,
        s.mtime,
        s.ephemeral_owner,
        s.pzxid,
    ] {
        h.write(&v.to_be_bytes());
    }
    for v in [s.version, s.cversion, s.aversion] {
        h.write(&v.to_be_bytes());
    }
    let mut z = h.0;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}
