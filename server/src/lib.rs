//! corral-server
pub mod raft;
pub mod txn;
