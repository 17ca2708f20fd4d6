//! Corral's client-side core: the ZooKeeper wire protocol ([`proto`]), the
//! path rules ([`path`]) shared by the server, the client and every
//! binding, the async client ([`client`]) and its error type ([`Error`]).
//!
//! `proto` and `path` do no I/O: bytes in, values out, never a panic or an
//! allocation past the packet limit. `client` runs on the caller's tokio
//! runtime.
#![warn(missing_docs)]

pub mod client;
pub mod error;
pub mod path;
pub mod proto;
pub mod recipes;

pub use client::{Client, Connector};
pub use error::{Error, Result};
