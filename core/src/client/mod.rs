//! The async ZooKeeper client: [`Client`] (one session, cheap to clone),
//! built by [`Connector`], with watches as values ([`OneshotWatcher`],
//! [`PersistentWatcher`], [`StateWatcher`]).
//!
//! One task per client owns the socket: it pipelines requests (many in
//! flight, replies matched in order), delivers watch events in socket
//! order (an event always arrives before the reply of any later request),
//! pings when idle, and reconnects to the next host with the same session
//! id, password and last zxid, re-registering every watch (SetWatches) so
//! that changes made while disconnected are still reported.
//!
//! Connect, then read and watch:
//!
//! ```no_run
//! use std::time::Duration;
//! use corral::client::{Client, CreateOptions};
//! use corral::proto::EventType;
//!
//! # async fn demo() -> Result<(), corral::Error> {
//! let client = Client::connector("127.0.0.1:2181,127.0.0.1:2182/app")
//!     .session_timeout(Duration::from_secs(10))
//!     .connect()
//!     .await?;
//! client.create("/config", b"v1", &CreateOptions::persistent()).await?;
//!
//! let (data, stat, watcher) = client.get_and_watch_data("/config").await?;
//! assert_eq!((data.as_slice(), stat.version), (&b"v1"[..], 0));
//!
//! client.set_data("/config", b"v2", Some(stat.version)).await?;
//! let event = watcher.changed().await;
//! assert_eq!(event.event_type, EventType::NodeDataChanged);
//! assert_eq!(event.path, "/config");
//! client.close().await?;
//! # Ok(()) }
//! ```
//!
//! Session states ([`SessionState`]): `Connecting`, `Connected`,
//! `Disconnected` (reconnecting; in-flight requests failed with
//! `ConnectionLoss`, new ones wait up to their timeout), and the terminal
//! `Expired`, `Closed`, `AuthFailed`. A session is owned by no process: its
//! id and password ([`Client::session`]) can be handed to another client
//! ([`Connector::session`]), which then owns its ephemerals.

#[allow(clippy::module_inception)]
mod client;
mod connector;
mod multi;
mod options;
mod session;
mod shared;
mod state;
mod watcher;

pub use client::{Client, ReadConsistency};
pub use connector::{
    Connector, CONNECT_TIMEOUT_DEFAULT, PORT_DEFAULT, REQUEST_TIMEOUT_DEFAULT,
    SESSION_TIMEOUT_DEFAULT,
};
pub use multi::{MultiBuilder, MultiOpResult, ReadOp, ReadResult};
pub use options::CreateOptions;
pub use state::{SessionInfo, SessionState};
pub use watcher::{
    OneshotWatcher, PersistentWatcher, SinkEvent, StateWatcher, WatchSink, WatchedEvent,
};

pub use crate::proto::{
    Acl, AddWatchMode, ClientInfo, CreateMode, EventType, Id, KeeperState, Perms, Stat, WatcherType,
};
