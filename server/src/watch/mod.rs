//! Watches of the connections held by this server (ZooKeeper's
//! `WatchManager`): one-shot data/exist and child watches, persistent and
//! persistent-recursive watches, removal, and SetWatches on reconnect.
//!
//! Watches are not replicated: they live where the client is connected, and
//! a client that moves re-registers them with SetWatches.

mod manager;

pub use manager::{ConnId, WatchKind, WatchManager};
