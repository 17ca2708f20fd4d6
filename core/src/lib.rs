//! Corral's client-side core: the ZooKeeper wire protocol ([`proto`]) and the
//! path rules ([`path`]) shared by the server, the client and every binding.
//!
//! Nothing here does I/O except the future client; `proto` is pure: bytes in,
//! values out, never a panic or an allocation past the packet limit.
#![warn(missing_docs)]

pub mod path;
pub mod proto;
