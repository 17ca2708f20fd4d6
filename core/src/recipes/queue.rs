//! [`Queue`]: a distributed FIFO queue on Curator's `DistributedQueue`
//! layout.

use std::collections::VecDeque;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::client::{Client, CreateOptions};
use crate::error::{Error, Result};
use crate::proto::CreateMode;

use super::protected::{
    ensure_containers, is_transient, join, parent_of, retrying, wait_connected, wait_for_watch,
    RETRIES_MAX,
};

/// Curator's queue item name (`DistributedQueue.QUEUE_ITEM_NAME`).
pub const QUEUE_ITEM_NAME: &str = "queue-";

/// Curator's item framing version (`ItemSerializer.VERSION`).
const ITEM_VERSION: i32 = 0x0001_0001;
const ITEM_OPCODE: u8 = 1;
const EOF_OPCODE: u8 = 2;

/// Frames `items` as Curator's `ItemSerializer` does: a version `int`, then
/// per item the opcode 1, a length `int` and the bytes, then the opcode 2
/// (all big-endian).
pub fn encode_items(items: &[&[u8]]) -> Vec<u8> {
    let size: usize = items.iter().map(|i| i.len() + 5).sum();
    let mut out = Vec::with_capacity(size + 5);
    out.extend_from_slice(&ITEM_VERSION.to_be_bytes());
    for item in items {
        out.push(ITEM_OPCODE);
        out.extend_from_slice(&(item.len() as i32).to_be_bytes());
        out.extend_from_slice(item);
    }
    out.push(EOF_OPCODE);
    out
}

/// The items of a node framed by Curator's `ItemSerializer`.
pub fn decode_items(data: &[u8]) -> Result<Vec<Vec<u8>>> {
    let bad = |what: &str| Error::BadArguments {
        reason: format!("queue item: {what}"),
    };
    let version = data.get(..4).ok_or_else(|| bad("truncated"))?;
    if i32::from_be_bytes(version.try_into().unwrap_or_default()) != ITEM_VERSION {
        return Err(bad("unknown version"));
    }
    let mut rest = &data[4..];
    let mut items = Vec::new();
    loop {
        match rest.first() {
            Some(&EOF_OPCODE) => return Ok(items),
            Some(&ITEM_OPCODE) => {
                let len = rest.get(1..5).ok_or_else(|| bad("truncated"))?;
                let len = i32::from_be_bytes(len.try_into().unwrap_or_default());
                let len = usize::try_from(len).map_err(|_| bad("negative size"))?;
                let item = rest.get(5..5 + len).ok_or_else(|| bad("truncated"))?;
                items.push(item.to_vec());
                rest = &rest[5 + len..];
            }
            _ => return Err(bad("bad opcode")),
        }
    }
}

/// A distributed queue interoperable with Apache Curator's
/// `DistributedQueue` (with the identity serializer: items are bytes).
///
/// Each [`put`](Queue::put) creates a persistent sequential node
/// `<path>/queue-<seq>` holding the item in Curator's framing. Consumers
/// take the lowest-numbered item: read it, then delete it at the version
/// read; only the consumer whose delete succeeds has it, so each item goes
/// to exactly one consumer, in order of its put. An item is removed before
/// it is returned: a consumer that crashes after `take` loses it (Curator's
/// default mode, not its `lockPath` mode).
///
/// A node put by Curator's `putMulti` holds several items; `take` returns
/// them one by one (the rest wait in this `Queue` value).
///
/// **Cancellation.** Dropping a `take` future never loses an item: the
/// claim (the delete) runs on its own task, and an item it claimed after
/// the take was dropped waits in this `Queue` value for its next take. If
/// the `Queue` itself is dropped with such items (or a claim completes
/// after that), they are put back at the queue's tail, so a consumer
/// elsewhere gets them (out of order, never lost). A `put` that fails with
/// a connection loss or a timeout is not retried: a sequential create
/// cannot be looked up (Curator's queue names have no protection), so the
/// item may or may not be in the queue; the error says so
/// ([`Error::outcome_unknown`]).
#[derive(Debug)]
pub struct Queue {
    client: Client,
    path: String,
    pending: Arc<Stash>,
    /// The runtime the first take ran on, to put stashed items back from
    /// when the queue is dropped.
    runtime: OnceLock<tokio::runtime::Handle>,
}

/// Items claimed but not yet returned by a take.
#[derive(Debug, Default)]
struct Stash {
    /// The items, and whether the `Queue` is gone (then claims that
    /// complete put their items back instead).
    items: std::sync::Mutex<(VecDeque<Vec<u8>>, bool)>,
    /// Signalled when a claim stashes items: a take waiting for the queue
    /// to change must also wake for them (the delete's watch event comes
    /// before the claim's reply, so the node is gone before the item is
    /// stashed).
    stashed: tokio::sync::Notify,
}

impl Stash {
    fn lock(&self) -> std::sync::MutexGuard<'_, (VecDeque<Vec<u8>>, bool)> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Puts `items` back at the tail of the queue at `path`, one node each
/// (best effort: logged if it fails).
async fn put_back(client: Client, path: String, items: Vec<Vec<u8>>) {
    let node = join(&path, QUEUE_ITEM_NAME);
    let options = CreateOptions::new(CreateMode::PersistentSequential);
    for item in items {
        if let Err(err) = client
            .create(&node, &encode_items(&[&item]), &options)
            .await
        {
            tracing::error!(error = %err, %path, "could not put a claimed item back into the queue");
        }
    }
}

impl Drop for Queue {
    fn drop(&mut self) {
        let items: Vec<Vec<u8>> = {
            let mut stash = self.pending.lock();
            stash.1 = true;
            stash.0.drain(..).collect()
        };
        if items.is_empty() {
            return;
        }
        let runtime = self
            .runtime
            .get()
            .cloned()
            .or_else(|| tokio::runtime::Handle::try_current().ok());
        match runtime {
            Some(runtime) => {
                runtime.spawn(put_back(self.client.clone(), self.path.clone(), items));
            }
            None => {
                tracing::error!(items = items.len(), path = %self.path, "queue dropped with claimed items and no runtime to put them back")
            }
        }
    }
}

impl Queue {
    /// A queue at `path`.
    pub fn new(client: &Client, path: &str) -> Queue {
        Queue {
            client: client.clone(),
            path: path.to_owned(),
            pending: Arc::new(Stash::default()),
            runtime: OnceLock::new(),
        }
    }

    /// The queue's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Appends an item; returns its node's path.
    pub async fn put(&self, item: &[u8]) -> Result<String> {
        self.put_multi(&[item]).await
    }

    /// Appends several items in one node (Curator's `putMulti`): they are
    /// taken together, by one consumer.
    ///
    /// Not retried after a connection loss (a sequential create cannot be
    /// looked up without protection, which Curator's queue does not use):
    /// the caller decides whether a possible duplicate is acceptable.
    pub async fn put_multi(&self, items: &[&[u8]]) -> Result<String> {
        let data = encode_items(items);
        let node = join(&self.path, QUEUE_ITEM_NAME);
        let options = CreateOptions::new(CreateMode::PersistentSequential);
        let mut attempt = 0;
        loop {
            match self.client.create(&node, &data, &options).await {
                Ok((path, _)) => return Ok(path),
                Err(Error::NoNode { .. }) if attempt < RETRIES_MAX => {
                    self.ensure_path().await?;
                }
                Err(err) => return Err(err),
            }
            attempt += 1;
        }
    }

    /// Creates the queue's node (persistent, parents as containers), as
    /// Curator's `DistributedQueue.start` does.
    async fn ensure_path(&self) -> Result<()> {
        ensure_containers(&self.client, parent_of(&self.path)).await?;
        let persistent = CreateOptions::persistent();
        match retrying(&self.client, || {
            self.client.create(&self.path, b"", &persistent)
        })
        .await
        {
            Ok(_) | Err(Error::NodeExists { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// The number of item nodes waiting.
    pub async fn len(&self) -> Result<usize> {
        Ok(self.item_nodes(false).await?.0.len())
    }

    /// Whether no item node is waiting.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// Takes the next item, waiting for one.
    pub async fn take(&self) -> Result<Vec<u8>> {
        loop {
            if let Some(item) = self.take_until(None).await? {
                return Ok(item);
            }
        }
    }

    /// Takes the next item if there is one now.
    pub async fn try_take(&self) -> Result<Option<Vec<u8>>> {
        self.take_until(Some(Instant::now())).await
    }

    /// Takes the next item, waiting at most `timeout`.
    pub async fn take_timeout(&self, timeout: Duration) -> Result<Option<Vec<u8>>> {
        self.take_until(Some(Instant::now() + timeout)).await
    }

    fn pop_pending(&self) -> Option<Vec<u8>> {
        self.pending.lock().0.pop_front()
    }

    async fn item_nodes(
        &self,
        watch: bool,
    ) -> Result<(Vec<String>, Option<crate::client::OneshotWatcher>)> {
        let listed = if watch {
            retrying(&self.client, || {
                self.client.get_and_watch_children(&self.path)
            })
            .await
            .map(|(c, _, w)| (c, Some(w)))
        } else {
            retrying(&self.client, || self.client.get_children(&self.path))
                .await
                .map(|c| (c, None))
        };
        let (mut children, watcher) = match listed {
            Ok(listed) => listed,
            Err(Error::NoNode { .. }) => {
                self.ensure_path().await?;
                return Box::pin(self.item_nodes(watch)).await;
            }
            Err(err) => return Err(err),
        };
        children.retain(|c| c.starts_with(QUEUE_ITEM_NAME));
        children.sort();
        Ok((children, watcher))
    }

    async fn take_until(&self, deadline: Option<Instant>) -> Result<Option<Vec<u8>>> {
        loop {
            if let Some(item) = self.pop_pending() {
                return Ok(Some(item));
            }
            let (children, watcher) = self.item_nodes(true).await?;
            for child in &children {
                let path = join(&self.path, child);
                let (data, stat) =
                    match retrying(&self.client, || self.client.get_data(&path)).await {
                        Ok(read) => read,
                        Err(Error::NoNode { .. }) => continue,
                        Err(err) => return Err(err),
                    };
                // The claim runs on its own task, so that dropping this
                // future while the delete is in flight loses nothing: a
                // claimed item lands in the stash whatever happens here.
                let runtime = self
                    .runtime
                    .get_or_init(tokio::runtime::Handle::current)
                    .clone();
                let claim = runtime.spawn(claim_into_stash(
                    self.client.clone(),
                    self.path.clone(),
                    path,
                    stat.version,
                    data,
                    Arc::clone(&self.pending),
                ));
                let claimed = claim
                    .await
                    .unwrap_or_else(|e| Err(Error::Protocol(format!("queue claim task: {e}"))))?;
                if claimed {
                    if let Some(item) = self.pop_pending() {
                        return Ok(Some(item));
                    }
                }
            }
            let Some(watcher) = watcher else {
                return Ok(self.pop_pending());
            };
            tokio::select! {
                fired = wait_for_watch(&self.client, watcher, deadline) => {
                    if !fired? {
                        // A claim may have stashed an item meanwhile.
                        return Ok(self.pop_pending());
                    }
                }
                // A claim (of a cancelled take) stashed items: look again.
                () = self.pending.stashed.notified() => {}
            }
        }
    }
}

/// Claims the item node at `path` (see [`claim`]) and, if this consumer
/// got it, stashes its items for the queue's next take, or puts them back
/// at the tail if the queue is gone. A claimed node that is not in
/// Curator's framing is removed and reported as an error (as before: a
/// malformed node must not block the queue).
async fn claim_into_stash(
    client: Client,
    queue_path: String,
    path: String,
    version: i32,
    data: Vec<u8>,
    stash: Arc<Stash>,
) -> Result<bool> {
    if !claim(&client, &path, version).await? {
        return Ok(false);
    }
    let items = decode_items(&data)?;
    let orphaned = {
        let mut stash = stash.lock();
        if stash.1 {
            Some(items)
        } else {
            stash.0.extend(items);
            None
        }
    };
    if orphaned.is_none() {
        stash.stashed.notify_one();
    }
    if let Some(items) = orphaned {
        put_back(client, queue_path, items).await;
    }
    Ok(true)
}

/// Deletes an item node at the version read: `true` if this consumer
/// removed it.
async fn claim(client: &Client, path: &str, version: i32) -> Result<bool> {
    let mut attempt = 0;
    loop {
        match client.delete(path, Some(version)).await {
            Ok(()) => return Ok(true),
            Err(Error::NoNode { .. }) | Err(Error::BadVersion { .. }) => return Ok(false),
            Err(err) if is_transient(&err) && attempt < RETRIES_MAX => {
                // If our delete was applied, the retry finds no node
                // and the item would be lost to everyone: ZooKeeper
                // cannot tell us. Count it as not ours, like Curator.
                attempt += 1;
                wait_connected(client).await?;
            }
            Err(err) => return Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curator_item_framing() {
        let data = encode_items(&[b"ab", b""]);
        assert_eq!(
            data,
            [0, 1, 0, 1, 1, 0, 0, 0, 2, b'a', b'b', 1, 0, 0, 0, 0, 2]
        );
        assert_eq!(decode_items(&data).unwrap(), vec![b"ab".to_vec(), vec![]]);
        assert!(decode_items(&data[..6]).is_err());
        assert!(decode_items(b"\0\0\0\0\x02").is_err());
    }
}
