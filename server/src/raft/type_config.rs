//! The openraft type configuration: which types travel through the log.

use std::io::Cursor;

use crate::txn::{BatchOutcome, TxnBatch};

openraft::declare_raft_types!(
    /// Corral's Raft types: one log entry carries one [`TxnBatch`]; applying it
    /// yields one [`BatchOutcome`]. Nodes are `u64` ids with a peer address.
    pub TypeConfig:
        D = TxnBatch,
        R = BatchOutcome,
        NodeId = u64,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
);

/// A log id (term, leader, index) of this configuration.
pub type LogId = openraft::LogId<u64>;
/// A vote of this configuration.
pub type Vote = openraft::Vote<u64>;
/// A log entry of this configuration.
pub type Entry = openraft::Entry<TypeConfig>;
/// The membership as stored in the log / snapshot.
pub type StoredMembership = openraft::StoredMembership<u64, openraft::BasicNode>;
/// Snapshot metadata of this configuration.
pub type SnapshotMeta = openraft::SnapshotMeta<u64, openraft::BasicNode>;
/// A storage error of this configuration.
pub type StorageError = openraft::StorageError<u64>;
