//! Coordination recipes on Apache Curator's znode layouts, so that Rust,
//! Python, Node and Java (Curator) services can share one lock, one
//! election or one queue.
//!
//! Every recipe takes a [`Client`](crate::client::Client) and uses only its
//! public API. Contender nodes are created in Curator's *protected mode*
//! (`_c_<uuid>-` name prefix, see [`create_protected`]): a create that
//! fails with a connection loss is looked up by its uuid before being
//! retried, so no orphan node blocks a lock forever.
//!
//! Every lock and leadership grant is a [`Lease`]: the holder's node, a
//! **fencing token** (the node's czxid, larger for every later holder)
//! and a [`lost`](Lease::lost) signal for when the session ends or the
//! node is deleted.
//!
//! | Recipe | Curator class | Layout under `path` |
//! |---|---|---|
//! | [`Mutex`] | `InterProcessMutex` | `_c_<uuid>-lock-<seq>` (ephemeral sequential) |
//! | [`Election`] | `LeaderSelector` | as `Mutex`, data = participant id |
//! | [`RwLock`] | `InterProcessReadWriteLock` | `_c_<uuid>-__READ__<seq>`, `_c_<uuid>-__WRIT__<seq>` |
//! | [`LeaderLatch`] | `LeaderLatch` | `_c_<uuid>-latch-<seq>`, data = participant id |
//! | [`Semaphore`] | `InterProcessSemaphoreV2` | `locks/_c_<uuid>-lock-<seq>`, `leases/_c_<uuid>-lease-<seq>` |
//! | [`Barrier`] | `DistributedBarrier` | the node at `path` itself |
//! | [`DoubleBarrier`] | `DistributedDoubleBarrier` | `<uuid>` (ephemeral) per member, `ready` |
//! | [`Queue`] | `DistributedQueue` | `queue-<seq>` (persistent sequential), `ItemSerializer` framing |
//! | [`SharedCount`] | `SharedCount` | the node at `path`, a 4-byte big-endian `int` |
//! | [`Membership`] | `GroupMember` | `<member id>` (ephemeral), data = payload |
//! | [`TreeCache`] | `CuratorCache` | (reads any subtree) |
//! | [`Partitioner`] | (none) | `members/<worker>`, `claims/<partition>` (ephemeral) |
//!
//! Every layout with a Curator counterpart is exercised against Curator 5.4
//! itself by `tests/tests/recipe_curator.rs` (Java and Rust on the same
//! paths). Differences from Curator: locks are not reentrant (a lock
//! belongs to a session, and async code has no thread to key reentrancy
//! on; acquiring again through a lock object that holds its lease fails at
//! once with [`Error::LockHeld`](crate::Error::LockHeld)); a [`Membership`]
//! member is recreated while its session lives but not after it expires
//! (Curator's `PersistentNode` is); the client does not replace an expired
//! session, so long-lived recipes end with it.
//!
//! [`LeaderLatch`], [`TreeCache`], [`Partitioner`] and a [`Member`] run a
//! background task on the tokio runtime that starts them; the others run
//! only inside the caller's futures. **Cancellation**: dropping such a
//! future at any point withdraws cleanly: a contender create still in
//! flight is looked up by its protected name and deleted, a waiting node
//! is deleted, a granted [`Lease`] dropped on any thread is released on
//! the runtime it was granted on, and an item a dropped [`Queue::take`]
//! had claimed is kept for the queue's next take (never lost).
//!
//! While the client is `Disconnected`, a holder cannot know whether its
//! session, and so its grant, survives: Curator calls this `SUSPENDED`.
//! [`Lease::lost`] resolves only on a certain loss; pause work on
//! [`StateWatcher`](crate::client::StateWatcher) events if needed, and rely
//! on fencing tokens for safety.

mod barrier;
mod counter;
mod double_barrier;
mod election;
mod leader_latch;
mod lease;
mod lock_queue;
mod membership;
mod mutex;
mod partitioner;
mod protected;
mod queue;
mod rwlock;
mod semaphore;
mod tree_cache;

pub use barrier::Barrier;
pub use counter::{decode_count, encode_count, SharedCount, VersionedValue};
pub use double_barrier::{DoubleBarrier, READY_NODE};

pub use election::{Election, LeaderObserver, Participant};
pub use leader_latch::{LatchState, LeaderLatch, LATCH_NAME};
pub use lease::{Lease, LostReason, Released};
pub use membership::{Member, Members, Membership, MembershipWatcher};
pub use mutex::{Mutex, LOCK_NAME};
pub use partitioner::{Partitioner, CLAIMS_NODE, MEMBERS_NODE};
pub use protected::{
    create_protected, ensure_containers, protected_id, protected_name, random_uuid,
    PROTECTED_PREFIX,
};
pub use queue::{decode_items, encode_items, Queue, QUEUE_ITEM_NAME};
pub use rwlock::RwLock;
pub use semaphore::{Semaphore, LEASE_NAME, LEASE_PARENT, LOCK_PARENT};
pub use tree_cache::{CacheEvent, CachedNode, TreeCache, CACHE_EVENTS_MAX};
