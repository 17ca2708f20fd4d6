//! The replicated state machine: the tree, the sessions, the last zxid and
//! the session id counter, changed only by applying transactions.
//!
//! `apply` reproduces ZooKeeper's `PrepRequestProcessor` checks (in its order,
//! so clients see the same error when several apply) followed by the
//! `DataTree` change, and reports the watches the change fires. It reads no
//! clock and draws no random number: time, passwords and the caller's
//! identities come in the `Txn`, so every replica computes the same results.

use super::acl;
use super::data_tree::{DataTree, FrozenNodes, SnapshotNode, SPECIAL_PATHS};
use super::ephemeral_type::{EphemeralType, CONTAINER_EPHEMERAL_OWNER};
use super::node::Node;
use crate::txn::{BatchOutcome, OpResult, Txn, TxnBatch, TxnOp, TxnOutcome, WatchTrigger};
use corral_wire::path;
use corral_wire::proto::{Acl, CreateMode, ErrorCode, EventType, Id, Perms};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// The first byte of every snapshot: bumped whenever the layout changes.
/// Version 2 is version 1 followed by the paths whose data is null (a
/// `Vec<String>`, path order); version 1 snapshots are still read (no null
/// data).
pub const SNAPSHOT_FORMAT_VERSION: u8 = 2;

/// The server id ZooKeeper would mix into session ids (its
/// `initializeNextSessionId(id)`); fixed because Corral's ids come from the
/// replicated counter, not from the server that proposed them.
const SESSION_ID_SERVER_ID: i64 = 1;

/// What the state machine remembers about an open session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// Negotiated session timeout.
    pub timeout_ms: i32,
    /// The password a client must present to resume the session.
    pub password: [u8; 16],
    /// The server the session's client is attached to (0: none recorded).
    /// Writes proposed by another server fail with SESSIONMOVED, so a
    /// client's old connection can no longer act for it after a move.
    pub owner: u64,
}

/// Who asks, and when: the parts of a `Txn` every op needs.
struct Caller<'a> {
    session_id: i64,
    time_ms: i64,
    auth: &'a [Id],
    is_super: bool,
    zxid: i64,
}

/// The replicated state: tree, sessions, last zxid, next session id.
///
/// `Clone` copies the whole tree: meant for tests and tools, not for the
/// apply path (multi rolls back through the tree's undo journal).
#[derive(Debug, Clone)]
pub struct Database {
    tree: DataTree,
    sessions: BTreeMap<i64, SessionInfo>,
    last_zxid: i64,
    /// 0 until the first session is created, then the next id to hand out.
    next_session_id: i64,
}

impl Default for Database {
    fn default() -> Self {
        Database::new()
    }
}

/// Snapshot layout, version 1 (read side).
#[derive(Deserialize)]
struct SnapshotV1 {
    last_zxid: i64,
    next_session_id: i64,
    sessions: Vec<(i64, SessionInfo)>,
    nodes: Vec<SnapshotNode>,
}

/// Snapshot layout, version 1 (write side): borrows the frozen nodes
/// instead of copying the tree; bincode encodes it exactly as
/// [`SnapshotV1`].
#[derive(Serialize)]
struct SnapshotV1Ref<'a> {
    last_zxid: i64,
    next_session_id: i64,
    sessions: &'a [(i64, SessionInfo)],
    nodes: &'a FrozenNodes,
}

/// A database frozen at one zxid (see [`Database::freeze`]).
pub struct FrozenDatabase {
    last_zxid: i64,
    next_session_id: i64,
    sessions: Vec<(i64, SessionInfo)>,
    nodes: FrozenNodes,
    data_size: u64,
}

impl FrozenDatabase {
    /// The zxid of the last transaction it reflects.
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Serializes it: a format version byte, then bincode.
    pub fn to_snapshot(&self) -> Vec<u8> {
        // Paths and data plus ~100 bytes of stat, ACL and framing a node.
        let estimate = self.data_size as usize + 100 * self.nodes.len();
        let mut out = Vec::with_capacity(estimate + 1);
        self.write_snapshot(&mut out)
            .expect("writing to a Vec cannot fail");
        out
    }

    /// Writes the snapshot bytes ([`to_snapshot`](Self::to_snapshot)'s) to
    /// `out` as they are encoded, node by node: a snapshot file is written
    /// without the whole snapshot ever being in memory.
    pub fn write_snapshot(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut out = io::BufWriter::with_capacity(256 * 1024, out);
        out.write_all(&[SNAPSHOT_FORMAT_VERSION])?;
        let snapshot = SnapshotV1Ref {
            last_zxid: self.last_zxid,
            next_session_id: self.next_session_id,
            sessions: &self.sessions,
            nodes: &self.nodes,
        };
        let io_error = |e: bincode::Error| match *e {
            bincode::ErrorKind::Io(e) => e,
            e => io::Error::other(e.to_string()),
        };
        bincode::serialize_into(&mut out, &snapshot).map_err(io_error)?;
        bincode::serialize_into(&mut out, &self.nodes.null_data_paths()).map_err(io_error)?;
        out.flush()
    }
}

impl Database {
    /// A fresh database: ZooKeeper's initial tree, no sessions, zxid 0.
    pub fn new() -> Database {
        Database {
            tree: DataTree::new(),
            sessions: BTreeMap::new(),
            last_zxid: 0,
            next_session_id: 0,
        }
    }

    /// Applies every transaction of a batch in order, giving each the next
    /// zxid (failed ones too: ZooKeeper logs error transactions, so they
    /// take a zxid as well). Watch triggers are appended to `triggers`.
    pub fn apply_batch(
        &mut self,
        batch: &TxnBatch,
        triggers: &mut Vec<WatchTrigger>,
    ) -> BatchOutcome {
        let outcomes = batch
            .txns
            .iter()
            .map(|txn| self.apply_next(txn, triggers))
            .collect();
        BatchOutcome { outcomes }
    }

    /// Applies the next transaction of the log with the next zxid (a sync
    /// barrier changes nothing and, as ZooKeeper's sync, takes no zxid of
    /// its own).
    pub fn apply_next(&mut self, txn: &Txn, triggers: &mut Vec<WatchTrigger>) -> TxnOutcome {
        if txn.op == TxnOp::Noop {
            return TxnOutcome {
                zxid: self.last_zxid,
                result: Ok(OpResult::Done),
            };
        }
        let zxid = self.last_zxid + 1;
        let result = self.apply(txn, zxid, triggers);
        TxnOutcome { zxid, result }
    }

    /// Applies one transaction as `zxid`, which must be above the last one.
    /// ZooKeeper errors are returned as data; triggers are appended only for
    /// changes that happened.
    pub fn apply(
        &mut self,
        txn: &Txn,
        zxid: i64,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<OpResult, ErrorCode> {
        // Replicas that disagree on zxids have diverged: stop rather than
        // corrupt state.
        assert!(
            zxid > self.last_zxid,
            "zxid must grow: {zxid:#x} after {:#x}",
            self.last_zxid
        );
        self.last_zxid = zxid;
        let caller = Caller {
            session_id: txn.session_id,
            time_ms: txn.time_ms,
            auth: &txn.auth,
            is_super: txn.is_super,
            zxid,
        };
        match &txn.op {
            TxnOp::CreateSession {
                timeout_ms,
                password,
            } => Ok(self.create_session(
                txn.time_ms,
                *timeout_ms,
                *password,
                txn.origin.map_or(0, |o| o.server_id),
            )),
            TxnOp::AttachSession { owner } => match self.sessions.get_mut(&txn.session_id) {
                Some(session) => {
                    session.owner = *owner;
                    Ok(OpResult::Done)
                }
                None => Err(ErrorCode::SessionExpired),
            },
            TxnOp::CloseSession => {
                self.kill_session(txn.session_id, zxid, triggers);
                Ok(OpResult::SessionsClosed)
            }
            TxnOp::ExpireSessions { session_ids } => {
                for id in session_ids {
                    self.kill_session(*id, zxid, triggers);
                }
                Ok(OpResult::SessionsClosed)
            }
            // A client write from a session the log no longer knows (it
            // expired or closed while the request was in flight) fails as
            // in ZooKeeper's PrepRequestProcessor.
            _ if txn.session_id != 0 => match self.sessions.get(&txn.session_id) {
                None => Err(ErrorCode::SessionExpired),
                Some(s) if s.owner != 0 && txn.origin.is_some_and(|o| o.server_id != s.owner) => {
                    Err(ErrorCode::SessionMoved)
                }
                Some(_) => match &txn.op {
                    TxnOp::Multi(ops) => Ok(self.multi(&caller, ops, triggers)),
                    op => self.node_op(&caller, op, triggers),
                },
            },
            TxnOp::Multi(ops) => Ok(self.multi(&caller, ops, triggers)),
            TxnOp::Reap { paths } => Ok(self.reap(paths, txn.time_ms, zxid, triggers)),
            TxnOp::Noop => Ok(OpResult::Done),
            op => self.node_op(&caller, op, triggers),
        }
    }

    /// `initializeNextSessionId(1)` seeded with the first session's time,
    /// then one more per session.
    fn create_session(
        &mut self,
        time_ms: i64,
        timeout_ms: i32,
        password: [u8; 16],
        owner: u64,
    ) -> OpResult {
        if self.next_session_id == 0 {
            let seed = (((time_ms << 24) as u64) >> 8) as i64;
            self.next_session_id = seed | (SESSION_ID_SERVER_ID << 56);
        }
        let mut id = self.next_session_id;
        while id == 0 || id == CONTAINER_EPHEMERAL_OWNER || self.sessions.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        self.next_session_id = id.wrapping_add(1);
        self.sessions.insert(
            id,
            SessionInfo {
                timeout_ms,
                password,
                owner,
            },
        );
        OpResult::SessionCreated { session_id: id }
    }

    /// Deletes a session's ephemerals (sorted) and forgets it. Unknown
    /// sessions are harmless, as in ZooKeeper's `killSession`.
    fn kill_session(&mut self, session_id: i64, zxid: i64, triggers: &mut Vec<WatchTrigger>) {
        let paths: Vec<String> = self
            .tree
            .ephemerals_of(session_id)
            .map(str::to_owned)
            .collect();
        for p in paths {
            self.delete(&p, zxid, triggers);
        }
        self.sessions.remove(&session_id);
    }

    fn delete(&mut self, path: &str, zxid: i64, triggers: &mut Vec<WatchTrigger>) {
        self.tree.delete_node(path, zxid);
        let parent = path::parent(path).unwrap_or("/");
        triggers.push(trigger(path, EventType::NodeDeleted, zxid));
        triggers.push(trigger(parent, EventType::NodeChildrenChanged, zxid));
    }

    /// All or nothing, under one zxid: changes are journaled and rolled back
    /// on the first failure; triggers are only reported on success.
    fn multi(
        &mut self,
        caller: &Caller<'_>,
        ops: &[TxnOp],
        triggers: &mut Vec<WatchTrigger>,
    ) -> OpResult {
        let mut pending = Vec::new();
        let mut results = Vec::with_capacity(ops.len());
        self.tree.begin_journal();
        for (i, op) in ops.iter().enumerate() {
            let result = match op {
                TxnOp::Create { .. }
                | TxnOp::CreateWithNullData { .. }
                | TxnOp::Delete { .. }
                | TxnOp::SetData { .. }
                | TxnOp::SetNullData { .. }
                | TxnOp::SetAcl { .. }
                | TxnOp::Check { .. } => self.node_op(caller, op, &mut pending),
                _ => Err(ErrorCode::BadArguments),
            };
            match result {
                Ok(r) => results.push(r),
                Err(code) => {
                    self.tree.rollback_journal();
                    let mut codes = vec![ErrorCode::Ok; i];
                    codes.push(code);
                    codes.resize(ops.len(), ErrorCode::RuntimeInconsistency);
                    return OpResult::MultiFailed(codes);
                }
            }
        }
        self.tree.commit_journal();
        triggers.append(&mut pending);
        OpResult::Multi(results)
    }

    fn node_op(
        &mut self,
        caller: &Caller<'_>,
        op: &TxnOp,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<OpResult, ErrorCode> {
        match op {
            TxnOp::Create {
                path,
                data,
                acl,
                mode,
                ttl_ms,
            } => self.create(caller, path, Some(data), acl, *mode, *ttl_ms, triggers),
            TxnOp::CreateWithNullData {
                path,
                acl,
                mode,
                ttl_ms,
            } => self.create(caller, path, None, acl, *mode, *ttl_ms, triggers),
            TxnOp::Delete { path, version } => self.delete_op(caller, path, *version, triggers),
            TxnOp::SetData {
                path,
                data,
                version,
            } => self.set_data(caller, path, Some(data), *version, triggers),
            TxnOp::SetNullData { path, version } => {
                self.set_data(caller, path, None, *version, triggers)
            }
            TxnOp::SetAcl { path, acl, version } => self.set_acl(caller, path, acl, *version),
            TxnOp::Check { path, version } => self.check(caller, path, *version),
            _ => Err(ErrorCode::BadArguments),
        }
    }

    /// `pRequest2TxnCreate`: mode/TTL, session, path shape, ACL, parent,
    /// CREATE permission, full path, existence, ephemeral parent, in that
    /// order.
    #[allow(clippy::too_many_arguments)]
    fn create(
        &mut self,
        caller: &Caller<'_>,
        path: &str,
        data: Option<&[u8]>,
        acl: &[Acl],
        mode: CreateMode,
        ttl_ms: i64,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<OpResult, ErrorCode> {
        let owner = match mode {
            m if m.is_ttl() => EphemeralType::ttl_owner(ttl_ms).ok_or(ErrorCode::BadArguments)?,
            // A TTL on another mode (createTTL with flags 0-4): ZooKeeper's
            // validateTTL refuses it.
            _ if ttl_ms > 0 => return Err(ErrorCode::BadArguments),
            CreateMode::Container => CONTAINER_EPHEMERAL_OWNER,
            m if m.is_ephemeral() => caller.session_id,
            _ => 0,
        };
        if mode.is_ephemeral() && !self.sessions.contains_key(&caller.session_id) {
            return Err(ErrorCode::SessionExpired);
        }
        let parent_path = parent_for_write(path)?;
        let acl = acl::fixup_acl(acl, caller.auth)?;
        let parent = self.tree.get(parent_path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(parent.acl(), Perms::CREATE, caller.auth, caller.is_super)?;
        let path = if mode.is_sequential() {
            path::sequential_name(path, parent.stat_persisted().cversion)
        } else {
            path.to_owned()
        };
        path::validate_path(&path).map_err(|_| ErrorCode::BadArguments)?;
        if self.tree.get(&path).is_some() {
            return Err(ErrorCode::NodeExists);
        }
        if parent.ephemeral_type() == EphemeralType::Normal {
            return Err(ErrorCode::NoChildrenForEphemerals);
        }
        let stat = self.tree.create_node(
            &path,
            data.map(<[u8]>::to_vec),
            acl,
            owner,
            caller.zxid,
            caller.time_ms,
        );
        triggers.push(trigger(&path, EventType::NodeCreated, caller.zxid));
        triggers.push(trigger(
            parent_path,
            EventType::NodeChildrenChanged,
            caller.zxid,
        ));
        Ok(OpResult::Created { path, stat })
    }

    /// ZooKeeper's delete: path shape and special paths, parent, DELETE on
    /// the parent, node, version, children.
    fn delete_op(
        &mut self,
        caller: &Caller<'_>,
        path: &str,
        version: i32,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<OpResult, ErrorCode> {
        if SPECIAL_PATHS.contains(&path) {
            return Err(ErrorCode::BadArguments);
        }
        let parent_path = parent_for_write(path)?;
        let parent = self.tree.get(parent_path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(parent.acl(), Perms::DELETE, caller.auth, caller.is_super)?;
        let node = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        check_and_inc_version(node.stat_persisted().version, version)?;
        if node.num_children() > 0 {
            return Err(ErrorCode::NotEmpty);
        }
        self.delete(path, caller.zxid, triggers);
        Ok(OpResult::Deleted)
    }

    fn set_data(
        &mut self,
        caller: &Caller<'_>,
        path: &str,
        data: Option<&[u8]>,
        version: i32,
        triggers: &mut Vec<WatchTrigger>,
    ) -> Result<OpResult, ErrorCode> {
        path::validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(node.acl(), Perms::WRITE, caller.auth, caller.is_super)?;
        let version = check_and_inc_version(node.stat_persisted().version, version)?;
        let stat = self.tree.set_data(
            path,
            data.map(<[u8]>::to_vec),
            version,
            caller.zxid,
            caller.time_ms,
        );
        triggers.push(trigger(path, EventType::NodeDataChanged, caller.zxid));
        Ok(OpResult::DataSet { stat })
    }

    /// setACL: path, ACL validity, node, ADMIN, aversion. Fires no watch.
    fn set_acl(
        &mut self,
        caller: &Caller<'_>,
        path: &str,
        acl: &[Acl],
        version: i32,
    ) -> Result<OpResult, ErrorCode> {
        path::validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let acl = acl::fixup_acl(acl, caller.auth)?;
        let node = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(node.acl(), Perms::ADMIN, caller.auth, caller.is_super)?;
        let aversion = check_and_inc_version(node.stat_persisted().aversion, version)?;
        let stat = self.tree.set_acl(path, acl, aversion);
        Ok(OpResult::AclSet { stat })
    }

    /// check: path, node, READ (ZooKeeper checks READ here), version.
    fn check(
        &mut self,
        caller: &Caller<'_>,
        path: &str,
        version: i32,
    ) -> Result<OpResult, ErrorCode> {
        path::validate_path(path).map_err(|_| ErrorCode::BadArguments)?;
        let node = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(node.acl(), Perms::READ, caller.auth, caller.is_super)?;
        check_and_inc_version(node.stat_persisted().version, version)?;
        Ok(OpResult::Checked)
    }

    /// Deletes each candidate that still qualifies at `now_ms` (the reap
    /// transaction's time), in the given order.
    fn reap(
        &mut self,
        paths: &[String],
        now_ms: i64,
        zxid: i64,
        triggers: &mut Vec<WatchTrigger>,
    ) -> OpResult {
        let mut reaped = Vec::new();
        for p in paths {
            let qualifies = self.tree.get(p).is_some_and(|n| reapable(n, now_ms));
            if qualifies {
                self.delete(p, zxid, triggers);
                reaped.push(p.clone());
            }
        }
        OpResult::Reaped { paths: reaped }
    }

    // ---- reads ----

    /// Mutable tree access for tests.
    #[cfg(test)]
    pub(crate) fn tree_mut(&mut self) -> &mut DataTree {
        &mut self.tree
    }

    /// The tree.
    pub fn tree(&self) -> &DataTree {
        &self.tree
    }

    /// The node at `path`.
    pub fn node(&self, path: &str) -> Option<&Node> {
        self.tree.get(path)
    }

    /// The child names of `path`, sorted; `None` if there is no such node.
    pub fn get_children(&self, path: &str) -> Option<Vec<String>> {
        self.tree
            .get(path)
            .map(|n| n.children().map(str::to_owned).collect())
    }

    /// Whether the caller holds `perm` on the node at `path`: `NoNode` if
    /// there is none, `NoAuth` if the ACL denies it (see
    /// [`acl::check_acl`] to check a `Node` you hold).
    pub fn check_acl(
        &self,
        path: &str,
        perm: i32,
        auth: &[Id],
        is_super: bool,
    ) -> Result<(), ErrorCode> {
        let node = self.tree.get(path).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(node.acl(), perm, auth, is_super)
    }

    /// Number of descendants of `path` (getAllChildrenNumber); `None` if
    /// there is no such node.
    pub fn all_children_number(&self, path: &str) -> Option<usize> {
        self.tree.all_children_number(path)
    }

    /// The session's ephemeral paths starting with `prefix`, sorted
    /// (getEphemerals: an empty or `/` prefix, after trimming, means all).
    pub fn ephemerals(&self, session_id: i64, prefix: &str) -> Vec<String> {
        let all = prefix.trim().is_empty() || prefix.trim() == "/";
        self.tree
            .ephemerals_of(session_id)
            .filter(|p| all || p.starts_with(prefix))
            .map(str::to_owned)
            .collect()
    }

    /// An open session.
    pub fn session(&self, session_id: i64) -> Option<&SessionInfo> {
        self.sessions.get(&session_id)
    }

    /// Every open session.
    pub fn sessions(&self) -> &BTreeMap<i64, SessionInfo> {
        &self.sessions
    }

    /// The zxid of the last applied transaction (0 initially).
    pub fn last_zxid(&self) -> i64 {
        self.last_zxid
    }

    /// Number of nodes, the root and `/zookeeper` nodes included.
    pub fn node_count(&self) -> usize {
        self.tree.len()
    }

    /// Number of ephemeral nodes.
    pub fn ephemeral_count(&self) -> usize {
        self.tree.ephemeral_count()
    }

    /// Sum of path and data lengths over all nodes.
    pub fn approximate_data_size(&self) -> u64 {
        self.tree.data_size()
    }

    /// An order-independent hash of every node (path, data, ACL, stat), the
    /// last zxid and the sessions: equal on replicas that applied the same
    /// log.
    pub fn digest(&self) -> u64 {
        let mut d = self.tree.digest();
        d = d.wrapping_add(mix(self.last_zxid as u64 ^ 0x7a78_6964));
        for (id, s) in &self.sessions {
            let mut h = (*id as u64) ^ ((s.timeout_ms as u32 as u64) << 1);
            for chunk in s.password.chunks(8) {
                let mut b = [0u8; 8];
                b.copy_from_slice(chunk);
                h = mix(h ^ u64::from_be_bytes(b));
            }
            d = d.wrapping_add(mix(h));
        }
        d
    }

    /// Nodes the reaper should remove at `now_ms` (`ContainerManager`):
    /// childless containers that have had a child (stored cversion > 0) and
    /// childless TTL nodes unmodified for longer than their TTL. Sorted.
    pub fn reap_candidates(&self, now_ms: i64) -> Vec<String> {
        let mut out: Vec<String> = self
            .tree
            .containers()
            .chain(self.tree.ttls())
            .filter(|p| self.tree.get(p).is_some_and(|n| reapable(n, now_ms)))
            .map(str::to_owned)
            .collect();
        out.sort();
        out
    }

    // ---- snapshots ----

    /// The whole state as bytes: a format version byte, then bincode.
    pub fn to_snapshot(&self) -> Vec<u8> {
        self.freeze().to_snapshot()
    }

    /// The state as it is now, to serialize later (on another thread) while
    /// this database goes on applying: costs O(sessions), not O(nodes).
    pub fn freeze(&self) -> FrozenDatabase {
        FrozenDatabase {
            last_zxid: self.last_zxid,
            next_session_id: self.next_session_id,
            sessions: self.sessions.iter().map(|(k, v)| (*k, *v)).collect(),
            nodes: self.tree.freeze(),
            data_size: self.tree.data_size(),
        }
    }

    /// A database from [`to_snapshot`](Self::to_snapshot) bytes.
    pub fn from_snapshot(bytes: &[u8]) -> Result<Database, String> {
        let (&version, body) = bytes.split_first().ok_or("empty snapshot")?;
        if version != 1 && version != SNAPSHOT_FORMAT_VERSION {
            return Err(format!("unsupported snapshot format version {version}"));
        }
        let corrupt = |e: bincode::Error| format!("corrupt snapshot: {e}");
        let mut body = io::Cursor::new(body);
        let s: SnapshotV1 = bincode::deserialize_from(&mut body).map_err(corrupt)?;
        let null_data: Vec<String> = if version >= 2 {
            bincode::deserialize_from(&mut body).map_err(corrupt)?
        } else {
            Vec::new()
        };
        if body.position() != body.get_ref().len() as u64 {
            return Err("corrupt snapshot: trailing bytes".to_owned());
        }
        let mut tree = DataTree::from_snapshot_nodes(s.nodes)?;
        tree.set_null_data(&null_data)?;
        Ok(Database {
            tree,
            sessions: s.sessions.into_iter().collect(),
            last_zxid: s.last_zxid,
            next_session_id: s.next_session_id,
        })
    }
}

/// The parent of a path to create or delete (`validatePathForCreate`,
/// `getParentPathAndValidate`): no `/` or a NUL is BadArguments.
fn parent_for_write(path: &str) -> Result<&str, ErrorCode> {
    let last = path.rfind('/').ok_or(ErrorCode::BadArguments)?;
    if path.contains('\0') {
        return Err(ErrorCode::BadArguments);
    }
    Ok(if last == 0 { "/" } else { &path[..last] })
}

/// `checkAndIncVersion`: -1 matches any version; the next version skips -1
/// (ZOOKEEPER-4743) so that a wrapped version stays checkable.
fn check_and_inc_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    let next = current.wrapping_add(1);
    Ok(if next == -1 { 0 } else { next })
}

/// `ContainerManager.getCandidates` for one node.
fn reapable(node: &Node, now_ms: i64) -> bool {
    if node.num_children() > 0 {
        return false;
    }
    let stat = node.stat_persisted();
    match node.ephemeral_type() {
        EphemeralType::Container => stat.cversion > 0,
        EphemeralType::Ttl => {
            let ttl = EphemeralType::ttl_ms(stat.ephemeral_owner);
            ttl != 0 && i128::from(now_ms) - i128::from(stat.mtime) > i128::from(ttl)
        }
        _ => false,
    }
}

fn trigger(path: &str, event: EventType, zxid: i64) -> WatchTrigger {
    WatchTrigger {
        path: path.to_owned(),
        event,
        zxid,
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
#[path = "database_tests.rs"]
mod tests;
