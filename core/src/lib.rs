//! Corral's client-side core: the async client ([`client`]), its recipes
//! ([`recipes`]) and its error type ([`Error`]).
//!
//! The ZooKeeper wire protocol ([`proto`]) and the path rules ([`path`])
//! live in the `corral-wire` crate, shared with the server; they are
//! re-exported here unchanged, so `corral::proto::Stat` and
//! `corral::path::validate_path` keep working. `client` runs on the
//! caller's tokio runtime.
#![warn(missing_docs)]

pub mod client;
pub mod error;
pub mod recipes;

pub use corral_wire::{path, proto};

pub use client::{Client, Connector};
pub use error::{Error, Result};
