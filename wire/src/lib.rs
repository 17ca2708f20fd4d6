//! The ZooKeeper 3.x client protocol as Corral speaks it, shared by the
//! server, the client and (through the client) every binding: jute
//! records, opcodes, [`ErrorCode`](proto::ErrorCode), the 4-byte framing
//! ([`proto`]) and the path rules ([`path`]).
//!
//! Pure: bytes in, values out. No tokio, no I/O, no client and no server
//! state; decoding never panics and never allocates past the packet limit.
//! `Serialize`/`Deserialize` on the value types come with the `serde`
//! feature (the server's log and snapshots need them; nothing else does).
#![warn(missing_docs)]

pub mod path;
pub mod proto;
