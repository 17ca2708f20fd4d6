//! corral-embed: what every foreign-language binding of Corral (C, Python,
//! Node) stands on, so that each binding is a thin mapping of arguments and
//! results and never re-implements behaviour.
//!
//! - [`runtime`]: one process-wide multi-thread tokio runtime, built on
//!   first use (workers `corral-io`), rebuilt in a forked child. Session
//!   tasks ping on it while the host language does nothing.
//! - [`Call`]: every operation, started from any thread (no runtime
//!   needed): [`Call::wait`] with a timeout, [`Call::wait_interruptible`]
//!   polling an "interrupted?" check (Python's Ctrl-C), [`Call::on_complete`]
//!   (asyncio futures, Node promises; run on the `corral-complete` thread),
//!   [`Call::cancel`]. A blocking wait on a runtime thread is refused
//!   ([`Error::OnRuntimeThread`]) rather than risking a deadlock.
//! - [`EmbeddedClient`]: a core client whose events (session states and
//!   watches in the session's one order; lease losses, leader-latch and
//!   tree-cache changes) go to one bounded queue per client: pulled with
//!   [`EventQueue::next`], or pushed to a callback on the client's own
//!   `corral-events` thread ([`Delivery`]). Overflow drops events and ends
//!   with one [`Event::Resync`]; memory stays bounded.
//! - Fork safety: objects remember the process id they were made in; in a
//!   forked child they fail with [`Error::Forked`] and their drop leaks
//!   rather than touch the parent's runtime or sockets. New clients in the
//!   child work (on a new runtime). No `unsafe`: the fork is detected by
//!   comparing `std::process::id()`.
//! - [`SessionToken`]: a session as versioned text (`v1:...`, also its
//!   serde form) with the last zxid seen, to resume it in another process
//!   or language without reading older state.
//! - [`Error`]: core's error, or this layer's own (wait timeout, cancelled,
//!   interrupted, forked, refused on a runtime thread), each with its
//!   number, Python, Node and gRPC names (the table: [`corral::proto::ErrorCode::info`]).
#![warn(missing_docs)]

mod call;
mod client;
mod error;
mod events;
pub mod runtime;
mod token;

pub use call::{Call, Canceller};
pub use client::{Delivery, EmbeddedClient, Options};
pub use error::{Error, Result};
pub use events::{Event, EventQueue, WatchId, EVENT_QUEUE_CAPACITY_DEFAULT};
pub use token::{SessionToken, TokenError, TOKEN_PREFIX_V1};
