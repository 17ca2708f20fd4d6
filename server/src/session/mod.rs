//! Session liveness on this server: the expiry queue (ZooKeeper's
//! `ExpiryQueue` in tick buckets) and the tracker the leader uses to decide
//! which sessions expire. Session *existence* is replicated state (see
//! `tree`); liveness is local, and a new leader gives every session a fresh
//! timeout before expiring any.

mod expiry_queue;
mod tracker;

pub use expiry_queue::ExpiryQueue;
pub use tracker::{SessionTracker, EXPIRY_GRANULARITY_MS};
