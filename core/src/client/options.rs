//! [`CreateOptions`]: mode, ACL and TTL of a new node.

use std::time::Duration;

use crate::proto::{Acl, CreateMode};

/// How [`Client::create`](super::Client::create) makes a node.
///
/// ```
/// use std::time::Duration;
/// use corral::client::CreateOptions;
/// use corral::proto::{Acl, CreateMode};
///
/// let ephemeral = CreateOptions::new(CreateMode::EphemeralSequential);
/// assert_eq!(ephemeral.acl, Acl::open_unsafe());
/// let ttl = CreateOptions::new(CreateMode::PersistentWithTtl).with_ttl(Duration::from_secs(60));
/// assert_eq!(ttl.ttl, Some(Duration::from_secs(60)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    /// Persistent, ephemeral, sequential, container or TTL.
    pub mode: CreateMode,
    /// The node's ACL; `world:anyone` with every permission by default.
    pub acl: Vec<Acl>,
    /// Time to live; required by the TTL modes, refused by the others.
    pub ttl: Option<Duration>,
}

impl CreateOptions {
    /// Options for `mode`, with the open ACL and no TTL.
    pub fn new(mode: CreateMode) -> CreateOptions {
        CreateOptions {
            mode,
            acl: Acl::open_unsafe(),
            ttl: None,
        }
    }

    /// A persistent node with the open ACL.
    pub fn persistent() -> CreateOptions {
        CreateOptions::new(CreateMode::Persistent)
    }

    /// An ephemeral node with the open ACL.
    pub fn ephemeral() -> CreateOptions {
        CreateOptions::new(CreateMode::Ephemeral)
    }

    /// The same options with another ACL.
    pub fn with_acl(mut self, acl: Vec<Acl>) -> CreateOptions {
        self.acl = acl;
        self
    }

    /// The same options with a TTL (for `PersistentWithTtl` and
    /// `PersistentSequentialWithTtl`).
    pub fn with_ttl(mut self, ttl: Duration) -> CreateOptions {
        self.ttl = Some(ttl);
        self
    }
}

impl Default for CreateOptions {
    fn default() -> CreateOptions {
        CreateOptions::persistent()
    }
}
