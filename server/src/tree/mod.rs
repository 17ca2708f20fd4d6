//! The replicated state: the znode tree and the sessions, changed only by
//! applying transactions ([`Database::apply`]).
//!
//! Deterministic by construction: no clock, no randomness, no I/O. Time,
//! session passwords and the caller's identities arrive in the
//! [`Txn`](crate::txn::Txn); zxids are given by the caller; results and
//! watch triggers are returned as data.
//!
//! - [`database`]: [`Database`], sessions, `apply`, reads, snapshots.
//! - [`data_tree`]: [`DataTree`], nodes by path, indexes, undo journal.
//! - [`node`]: [`Node`] and its stored stat.
//! - [`acl`]: ACL validation and checks (world, auth, digest, ip, super).
//! - [`ephemeral_type`]: ZooKeeper's `ephemeralOwner` encoding.

pub mod acl;
pub mod data_tree;
pub mod database;
pub mod ephemeral_type;
pub mod node;

pub use data_tree::DataTree;
pub use database::{Database, FrozenDatabase, SessionInfo};
pub use ephemeral_type::EphemeralType;
pub use node::{Node, StatPersisted};
