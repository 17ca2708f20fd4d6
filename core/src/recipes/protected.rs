//! Curator's protected mode: create a node whose name carries
//! `_c_<uuid>-`, so that after a `ConnectionLoss` the creator can find out
//! whether its create was applied (list the parent, look for the uuid)
//! instead of creating a second, orphaned node.
//!
//! Also the shared plumbing of the recipes: creating missing parents as
//! containers (Curator's `creatingParentContainersIfNeeded`), waiting for
//! a connection, deleting a node despite connection losses.

use std::time::Duration;

use crate::client::{Client, CreateOptions, OneshotWatcher, SessionState, Stat};
use crate::error::{Error, Result};
use crate::proto::{CreateMode, EventType};

/// Curator's prefix of protected node names (`ProtectedUtils.PROTECTED_PREFIX`).
pub const PROTECTED_PREFIX: &str = "_c_";

/// How many times a recipe retries one step after a connection loss or a
/// request timeout before giving up with that error.
pub(crate) const RETRIES_MAX: usize = 10;

/// A random version-4 UUID in its canonical text form, as Java's
/// `UUID.randomUUID().toString()` writes it.
pub fn random_uuid() -> String {
    let mut bytes: [u8; 16] = rand::random();
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The protected form of `name`: `_c_<uuid>-<name>`.
pub fn protected_name(uuid: &str, name: &str) -> String {
    format!("{PROTECTED_PREFIX}{uuid}-{name}")
}

/// The uuid of a protected node name, `None` for an unprotected one.
pub fn protected_id(node_name: &str) -> Option<&str> {
    let rest = node_name.strip_prefix(PROTECTED_PREFIX)?;
    let id = rest.get(..36)?;
    (rest.as_bytes().get(36) == Some(&b'-')).then_some(id)
}

/// Whether an error leaves the outcome of a write unknown (the request may
/// or may not have been applied), so that the step should be retried once
/// connected again.
pub(crate) fn is_transient(err: &Error) -> bool {
    matches!(
        err,
        Error::ConnectionLoss | Error::Timeout | Error::OperationTimeout
    )
}

/// The error of a client that has ended in `state`.
pub(crate) fn end_error(state: SessionState) -> Error {
    match state {
        SessionState::Expired => Error::SessionExpired,
        SessionState::AuthFailed => Error::AuthFailed,
        _ => Error::ClientClosed,
    }
}

/// Waits for a one-shot watch to fire, until `deadline` if there is one:
/// `Ok(true)` once it fired, `Ok(false)` if the deadline came first. A watch
/// that ends because the client ended (session expired, closed) gives that
/// end as the error.
pub(crate) async fn wait_for_watch(
    client: &Client,
    watcher: OneshotWatcher,
    deadline: Option<std::time::Instant>,
) -> Result<bool> {
    let event = match deadline {
        None => watcher.changed().await,
        Some(deadline) => {
            let deadline = tokio::time::Instant::from_std(deadline);
            match tokio::time::timeout_at(deadline, watcher.changed()).await {
                Ok(event) => event,
                Err(_) => return Ok(false),
            }
        }
    };
    if event.event_type == EventType::None {
        return Err(end_error(client.state()));
    }
    Ok(true)
}

/// Waits until the client is connected (at most the session timeout plus
/// a margin); fails once the client has ended.
pub(crate) async fn wait_connected(client: &Client) -> Result<()> {
    let mut states = client.state_watcher();
    let bound = client.session().timeout.max(Duration::from_secs(1)) * 2;
    let wait = async {
        let mut state = states.current();
        loop {
            if state.is_connected() {
                return Ok(());
            }
            if state.is_terminal() {
                return Err(end_error(state));
            }
            state = states.changed().await;
        }
    };
    match tokio::time::timeout(bound, wait).await {
        Ok(result) => result,
        Err(_) => Err(Error::ConnectionLoss),
    }
}

/// Waits, without a bound, until the client is connected; fails once it
/// has ended. For long-lived followers (latches, partitioners), whose
/// session may outlive a long outage: ZooKeeper does not expire sessions
/// while the ensemble itself is down.
pub(crate) async fn wait_connected_or_end(client: &Client) -> Result<()> {
    let mut states = client.state_watcher();
    let mut state = states.current();
    loop {
        if state.is_connected() {
            return Ok(());
        }
        if state.is_terminal() {
            return Err(end_error(state));
        }
        state = states.changed().await;
    }
}

/// The parent of `path` (`/a/b` -> `/a`, `/a` -> `/`).
pub(crate) fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

/// The last component of `path`.
pub(crate) fn name_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `parent` + `/` + `child`.
pub(crate) fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// Creates `path` and every missing ancestor as containers (ZooKeeper
/// deletes an empty container once it has had children), like Curator's
/// `creatingParentContainersIfNeeded`. Existing nodes are left alone.
pub async fn ensure_containers(client: &Client, path: &str) -> Result<()> {
    if path == "/" {
        return Ok(());
    }
    let mut prefix = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        prefix.push('/');
        prefix.push_str(part);
        let mut attempt = 0;
        loop {
            match client
                .create(&prefix, b"", &CreateOptions::new(CreateMode::Container))
                .await
            {
                Ok(_) | Err(Error::NodeExists { .. }) => break,
                Err(err) if is_transient(&err) && attempt < RETRIES_MAX => {
                    attempt += 1;
                    wait_connected(client).await?;
                }
                Err(err) => return Err(err),
            }
        }
    }
    Ok(())
}

/// Creates `<parent>/_c_<uuid>-<name>` in `mode`, creating a missing parent
/// (and its ancestors) as containers. Returns the created path and stat.
///
/// Safe to retry: after a connection loss or a timeout it waits for the
/// connection, lists `parent` and, if a child carries this create's uuid
/// (and, for ephemerals, belongs to this session), returns that node rather
/// than creating another. This is Curator's protected mode
/// (`CreateBuilder.withProtection()`), with the same names, so Curator
/// clients sort and recognize these nodes as their own kind.
pub async fn create_protected(
    client: &Client,
    parent: &str,
    name: &str,
    data: &[u8],
    mode: CreateMode,
) -> Result<(String, Stat)> {
    let uuid = random_uuid();
    let node = protected_name(&uuid, name);
    let path = join(parent, &node);
    let options = CreateOptions::new(mode);
    // If this future is dropped while a create may be in flight (a
    // cancelled acquire, campaign or start), the guard removes whatever
    // the create made: no orphan node is left to block a lock.
    let guard = PendingCreate {
        client,
        parent,
        uuid: &uuid,
        mode,
        runtime: tokio::runtime::Handle::try_current().ok(),
        armed: true,
    };
    let mut attempt = 0;
    loop {
        let err = match client.create(&path, data, &options).await {
            Ok(created) => {
                guard.disarm();
                return Ok(created);
            }
            Err(err) => err,
        };
        match err {
            Error::NoNode { .. } if attempt < RETRIES_MAX => {
                // A missing parent, or a container reaped between our
                // creating it and creating the child.
                ensure_containers(client, parent).await?;
            }
            err if is_transient(&err) && attempt < RETRIES_MAX => {
                wait_connected(client).await?;
                if let Some(found) = find_protected(client, parent, &uuid, mode).await? {
                    tracing::debug!(path = %found.0, "protected create was applied before the connection loss");
                    guard.disarm();
                    return Ok(found);
                }
            }
            // Failed for certain (or gave up after a transient error the
            // guard's cleanup still covers: the node may exist).
            err if is_transient(&err) => return Err(err),
            err => {
                guard.disarm();
                return Err(err);
            }
        }
        attempt += 1;
    }
}

/// A protected create that has not returned: dropped armed (the future
/// cancelled, or given up after a connection loss), it spawns a task that
/// waits for the connection, looks the create's uuid up under the parent
/// and deletes the node if the create was applied. The client answers
/// requests in order, so that lookup is answered after the create.
struct PendingCreate<'a> {
    client: &'a Client,
    parent: &'a str,
    uuid: &'a str,
    mode: CreateMode,
    runtime: Option<tokio::runtime::Handle>,
    armed: bool,
}

impl PendingCreate<'_> {
    /// The create's outcome is known and the caller owns any node made.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for PendingCreate<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Some(runtime) = self.runtime.take() else {
            return;
        };
        let (client, parent, uuid, mode) = (
            self.client.clone(),
            self.parent.to_owned(),
            self.uuid.to_owned(),
            self.mode,
        );
        runtime.spawn(async move {
            let outcome = async {
                wait_connected(&client).await?;
                if let Some((path, _)) = find_protected(&client, &parent, &uuid, mode).await? {
                    tracing::debug!(%path, "removing the node of a cancelled protected create");
                    delete_quietly(&client, &path).await?;
                }
                Ok::<(), Error>(())
            };
            if let Err(err) = outcome.await {
                // The session ended (taking ephemerals with it) or the
                // client gave up: nothing more can be done from here.
                tracing::debug!(error = %err, %parent, "cleanup of a cancelled protected create failed");
            }
        });
    }
}

/// The child of `parent` created with `uuid`, with its stat, if any.
async fn find_protected(
    client: &Client,
    parent: &str,
    uuid: &str,
    mode: CreateMode,
) -> Result<Option<(String, Stat)>> {
    let children = match client.get_children(parent).await {
        Ok(children) => children,
        Err(Error::NoNode { .. }) => return Ok(None),
        Err(err) => return Err(err),
    };
    let session = client.session().id;
    for child in children.iter().filter(|c| protected_id(c) == Some(uuid)) {
        let path = join(parent, child);
        if let Some(stat) = client.exists(&path).await? {
            let ephemeral = matches!(
                mode,
                CreateMode::Ephemeral | CreateMode::EphemeralSequential
            );
            if !ephemeral || stat.ephemeral_owner == session {
                return Ok(Some((path, stat)));
            }
        }
    }
    Ok(None)
}

/// Deletes `path` (any version), retrying after connection losses; a
/// missing node is success. Gives up once the client has ended (its
/// ephemerals are gone with the session anyway).
pub(crate) async fn delete_quietly(client: &Client, path: &str) -> Result<()> {
    let mut attempt = 0;
    loop {
        match client.delete(path, None).await {
            Ok(()) | Err(Error::NoNode { .. }) => return Ok(()),
            Err(err) if is_transient(&err) && attempt < RETRIES_MAX => {
                attempt += 1;
                wait_connected(client).await?;
            }
            Err(err) => return Err(err),
        }
    }
}

/// Runs a read, retrying after connection losses (reads are idempotent).
pub(crate) async fn retrying<T, F, Fut>(client: &Client, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Err(err) if is_transient(&err) && attempt < RETRIES_MAX => {
                attempt += 1;
                wait_connected(client).await?;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_is_canonical_v4() {
        let uuid = random_uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        for i in [8, 13, 18, 23] {
            assert_eq!(uuid.as_bytes()[i], b'-');
        }
        assert_ne!(uuid, random_uuid());
    }

    #[test]
    fn protected_names_round_trip() {
        let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
        let name = protected_name(uuid, "lock-");
        assert_eq!(name, "_c_0f8fad5b-d9cb-469f-a165-70867728950e-lock-");
        assert_eq!(protected_id(&format!("{name}0000000007")), Some(uuid));
        assert_eq!(protected_id("lock-0000000007"), None);
        assert_eq!(protected_id("_c_short-lock-"), None);
    }

    #[test]
    fn paths() {
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(name_of("/a/b"), "b");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
