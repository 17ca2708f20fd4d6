//! One znode as the tree stores it.

use super::ephemeral_type::EphemeralType;
use corral_wire::proto::{Acl, Stat};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The stat fields a node stores (ZooKeeper's `StatPersisted`): everything
/// in [`Stat`] except what is derived (`dataLength`, `numChildren`), with
/// `cversion` and `ephemeral_owner` in their stored forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
pub struct StatPersisted {
    /// zxid of the create.
    pub czxid: i64,
    /// zxid of the last data change.
    pub mzxid: i64,
    /// Creation time (ms since the epoch, from the proposer).
    pub ctime: i64,
    /// Last data change time.
    pub mtime: i64,
    /// Data version.
    pub version: i32,
    /// Stored child counter: the number of child creates, which is also the
    /// next sequential suffix. Clients see `cversion * 2 - numChildren`.
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
    /// Raw owner: session id, container or TTL encoding (see
    /// [`EphemeralType`]).
    pub ephemeral_owner: i64,
    /// zxid of the last child create or delete.
    pub pzxid: i64,
}

impl StatPersisted {
    /// The stat of a node created by `zxid` at `time` (`DataTree.createStat`).
    pub fn created(zxid: i64, time: i64, ephemeral_owner: i64) -> StatPersisted {
        StatPersisted {
            czxid: zxid,
            mzxid: zxid,
            ctime: time,
            mtime: time,
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner,
            pzxid: zxid,
        }
    }
}

/// A znode: data, ACL, stored stat and child names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// None: null data (ZooKeeper tells it apart from empty data).
    pub(crate) data: Option<Vec<u8>>,
    /// Shared between nodes with equal ACLs (children usually inherit their
    /// parent's), which keeps big trees small without a refcounted table.
    pub(crate) acl: Arc<Vec<Acl>>,
    pub(crate) stat: StatPersisted,
    /// A persistent set, so that copying the node (when a snapshot shares
    /// it, see `DataTree::freeze`) does not copy every child name.
    pub(crate) children: imbl::OrdSet<String>,
}

impl Node {
    /// The data (empty when null).
    pub fn data(&self) -> &[u8] {
        self.data.as_deref().unwrap_or_default()
    }

    /// The data, None when it is null.
    pub fn data_or_null(&self) -> Option<&[u8]> {
        self.data.as_deref()
    }

    /// The ACL.
    pub fn acl(&self) -> &[Acl] {
        &self.acl
    }

    /// The stat as clients see it (`DataNode.copyStat`): cversion counts
    /// creates and deletes, and containers and TTL nodes show owner 0.
    pub fn stat(&self) -> Stat {
        let num_children = self.children.len() as i32;
        Stat {
            czxid: self.stat.czxid,
            mzxid: self.stat.mzxid,
            ctime: self.stat.ctime,
            mtime: self.stat.mtime,
            version: self.stat.version,
            cversion: self
                .stat
                .cversion
                .wrapping_mul(2)
                .wrapping_sub(num_children),
            aversion: self.stat.aversion,
            ephemeral_owner: EphemeralType::client_owner(self.stat.ephemeral_owner),
            data_length: self.data().len() as i32,
            num_children,
            pzxid: self.stat.pzxid,
        }
    }

    /// The stored stat (raw owner, child-create counter).
    pub fn stat_persisted(&self) -> &StatPersisted {
        &self.stat
    }

    /// The kind of node (persistent, ephemeral, container, TTL).
    pub fn ephemeral_type(&self) -> EphemeralType {
        EphemeralType::of(self.stat.ephemeral_owner)
    }

    /// The child names, sorted.
    pub fn children(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.children.iter().map(String::as_str)
    }

    /// The number of children.
    pub fn num_children(&self) -> usize {
        self.children.len()
    }
}
