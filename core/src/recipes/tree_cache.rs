//! [`TreeCache`]: a local copy of a subtree, kept current by a
//! persistent-recursive watch (the mechanism of Curator's `CuratorCache`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex as StdMutex};

use tokio::sync::{broadcast, oneshot};

use crate::client::{Client, SessionState, Stat, WatchedEvent};
use crate::error::{Error, Result};
use crate::proto::{AddWatchMode, EventType};

use super::protected::{end_error, join, retrying};

/// Events buffered per subscriber; a slower subscriber gets
/// `RecvError::Lagged` and should re-read [`TreeCache::snapshot`].
pub const CACHE_EVENTS_MAX: usize = 1024;

/// A cached node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedNode {
    /// The node's data.
    pub data: Vec<u8>,
    /// The node's stat when read.
    pub stat: Stat,
}

/// A change of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheEvent {
    /// A node appeared in the cache.
    Created {
        /// The node.
        path: String,
    },
    /// A cached node's data or stat changed.
    Changed {
        /// The node.
        path: String,
    },
    /// A node left the cache.
    Deleted {
        /// The node.
        path: String,
    },
    /// The cache finished a full load (at start and after each
    /// reconnection).
    Initialized,
    /// The cache stopped: closed, or the session ended.
    Closed,
}

type Nodes = BTreeMap<String, CachedNode>;

/// A cache of the subtree at `root` (the root included), kept current by a
/// persistent-recursive watch, with change events for subscribers.
///
/// The watch is added before the first load, so no change is missed: each
/// node event makes the cache re-read that node, and the read happens after
/// the change, so once writes stop the cache converges to the tree. A
/// persistent watch does not replay what changed while the client was
/// disconnected, so after every reconnection the cache reloads the whole
/// subtree and reports the differences.
///
/// ```no_run
/// # async fn demo(client: corral::client::Client) -> Result<(), corral::Error> {
/// use corral::recipes::{CacheEvent, TreeCache};
/// let cache = TreeCache::start(&client, "/config").await?;
/// let mut events = cache.subscribe();
/// println!("{:?}", cache.get("/config/db").map(|n| n.data));
/// while let Ok(event) = events.recv().await {
///     if let CacheEvent::Changed { path } = event {
///         println!("{path} is now {:?}", cache.get(&path).map(|n| n.data));
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TreeCache {
    root: String,
    nodes: Arc<StdMutex<Nodes>>,
    events: broadcast::Sender<CacheEvent>,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

fn lock(nodes: &StdMutex<Nodes>) -> std::sync::MutexGuard<'_, Nodes> {
    nodes.lock().unwrap_or_else(|e| e.into_inner())
}

impl TreeCache {
    /// Starts caching the subtree at `root` (which need not exist); returns
    /// after the first full load.
    pub async fn start(client: &Client, root: &str) -> Result<TreeCache> {
        let watcher = retrying(client, || {
            client.add_watch(root, AddWatchMode::PersistentRecursive)
        })
        .await?;
        let (events, _) = broadcast::channel(CACHE_EVENTS_MAX);
        let keeper = Keeper {
            client: client.clone(),
            root: root.to_owned(),
            nodes: Arc::new(StdMutex::new(Nodes::new())),
            events: events.clone(),
        };
        keeper.reload().await?;
        let nodes = keeper.nodes.clone();
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(keeper.run(watcher, stop_rx));
        Ok(TreeCache {
            root: root.to_owned(),
            nodes,
            events,
            stop: Some(stop),
            task,
        })
    }

    /// The cached subtree's root.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// A cached node.
    pub fn get(&self, path: &str) -> Option<CachedNode> {
        lock(&self.nodes).get(path).cloned()
    }

    /// The names of a cached node's children, sorted.
    pub fn children(&self, path: &str) -> Vec<String> {
        let nodes = lock(&self.nodes);
        let prefix = if path == "/" {
            "/".to_owned()
        } else {
            format!("{path}/")
        };
        nodes
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .filter_map(|(p, _)| {
                let rest = &p[prefix.len()..];
                (!rest.is_empty() && !rest.contains('/')).then(|| rest.to_owned())
            })
            .collect()
    }

    /// Every cached node, by path.
    pub fn snapshot(&self) -> BTreeMap<String, CachedNode> {
        lock(&self.nodes).clone()
    }

    /// The number of cached nodes.
    pub fn len(&self) -> usize {
        lock(&self.nodes).len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A receiver of every later change.
    pub fn subscribe(&self) -> broadcast::Receiver<CacheEvent> {
        self.events.subscribe()
    }

    /// Stops the cache (the watch is removed when its watcher drops).
    pub async fn close(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

impl Drop for TreeCache {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The task that applies events to the cache.
struct Keeper {
    client: Client,
    root: String,
    nodes: Arc<StdMutex<Nodes>>,
    events: broadcast::Sender<CacheEvent>,
}

impl Keeper {
    async fn run(
        self,
        mut watcher: crate::client::PersistentWatcher,
        mut stop: oneshot::Receiver<()>,
    ) {
        let mut states = self.client.state_watcher();
        let mut needs_reload = false;
        loop {
            if needs_reload && self.client.state().is_connected() {
                match self.reload().await {
                    Ok(()) => needs_reload = false,
                    Err(_) if self.client.state().is_terminal() => break,
                    Err(err) => {
                        tracing::debug!(root = %self.root, %err, "tree cache reload failed")
                    }
                }
            }
            let result = tokio::select! {
                _ = &mut stop => break,
                event = watcher.changed() => {
                    if event.is_terminal() {
                        break;
                    }
                    self.apply(&event).await
                }
                state = states.changed() => {
                    if state.is_terminal() {
                        break;
                    }
                    // Whatever changed while disconnected is not replayed
                    // by the persistent watch: reload once connected.
                    if state == SessionState::Disconnected {
                        needs_reload = true;
                    }
                    Ok(())
                }
            };
            if let Err(err) = result {
                if self.client.state().is_terminal() {
                    break;
                }
                // A read failed past its retries: reload, so that nothing
                // stays stale.
                tracing::debug!(root = %self.root, %err, "tree cache reloads");
                needs_reload = true;
            }
        }
        let _ = self.events.send(CacheEvent::Closed);
    }

    fn under_root(&self, path: &str) -> bool {
        path == self.root
            || self.root == "/"
            || path
                .strip_prefix(&self.root)
                .is_some_and(|rest| rest.starts_with('/'))
    }

    async fn apply(&self, event: &WatchedEvent) -> Result<()> {
        if !self.under_root(&event.path) {
            return Ok(());
        }
        match event.event_type {
            EventType::NodeCreated | EventType::NodeDataChanged => self.refresh(&event.path).await,
            EventType::NodeDeleted => {
                self.remove_subtree(&event.path);
                Ok(())
            }
            // A persistent-recursive watch sends no child events.
            _ => Ok(()),
        }
    }

    /// Re-reads one node.
    async fn refresh(&self, path: &str) -> Result<()> {
        match retrying(&self.client, || self.client.get_data(path)).await {
            Ok((data, stat)) => {
                self.put(path, CachedNode { data, stat });
                Ok(())
            }
            // Deleted since: its deletion event follows.
            Err(Error::NoNode { .. }) => {
                self.remove_subtree(path);
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    fn put(&self, path: &str, node: CachedNode) {
        let event = {
            let mut nodes = lock(&self.nodes);
            match nodes.insert(path.to_owned(), node.clone()) {
                None => Some(CacheEvent::Created {
                    path: path.to_owned(),
                }),
                Some(old) if old != node => Some(CacheEvent::Changed {
                    path: path.to_owned(),
                }),
                Some(_) => None,
            }
        };
        if let Some(event) = event {
            let _ = self.events.send(event);
        }
    }

    fn remove_subtree(&self, path: &str) {
        let removed: Vec<String> = {
            let mut nodes = lock(&self.nodes);
            let prefix = format!("{path}/");
            let doomed: Vec<String> = nodes
                .keys()
                .filter(|p| *p == path || p.starts_with(&prefix))
                .cloned()
                .collect();
            for p in &doomed {
                nodes.remove(p);
            }
            doomed
        };
        // Children before parents.
        for path in removed.into_iter().rev() {
            let _ = self.events.send(CacheEvent::Deleted { path });
        }
    }

    /// Reads the whole subtree and replaces the cache with it, reporting
    /// the differences.
    async fn reload(&self) -> Result<()> {
        let mut fresh = Nodes::new();
        let mut pending = vec![self.root.clone()];
        while let Some(path) = pending.pop() {
            let (data, stat) = match retrying(&self.client, || self.client.get_data(&path)).await {
                Ok(read) => read,
                Err(Error::NoNode { .. }) => continue,
                Err(err) => return Err(err),
            };
            if stat.num_children > 0 {
                match retrying(&self.client, || self.client.get_children(&path)).await {
                    Ok(children) => pending.extend(children.iter().map(|c| join(&path, c))),
                    Err(Error::NoNode { .. }) => {}
                    Err(err) => return Err(err),
                }
            }
            fresh.insert(path, CachedNode { data, stat });
        }
        let gone: Vec<String> = lock(&self.nodes)
            .keys()
            .filter(|p| !fresh.contains_key(*p))
            .cloned()
            .collect();
        for path in gone.iter().rev() {
            lock(&self.nodes).remove(path);
            let _ = self.events.send(CacheEvent::Deleted { path: path.clone() });
        }
        for (path, node) in fresh {
            self.put(&path, node);
        }
        let _ = self.events.send(CacheEvent::Initialized);
        if self.client.state().is_terminal() {
            return Err(end_error(self.client.state()));
        }
        Ok(())
    }
}
