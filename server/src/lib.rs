//! corral-server

pub mod tree;
pub mod txn;
