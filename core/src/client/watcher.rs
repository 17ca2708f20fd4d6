//! Watches as values: [`OneshotWatcher`], [`PersistentWatcher`] and
//! [`StateWatcher`], and the registry the session task delivers events
//! through.
//!
//! A watch is registered locally when the reply that set it arrives, in the
//! session task, so an event (which the server can only send after that
//! reply) always finds it. Several local watchers may share one server-side
//! watch: the server notifies the connection once and the registry fans the
//! event out to every local watcher of that kind, as ZooKeeper's Java client
//! does (`ZKWatchManager.materialize`).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use tokio::sync::{mpsc, oneshot};

use super::shared::Shared;
use super::state::SessionState;
use crate::proto::{AddWatchMode, EventType, KeeperState, WatcherType};

/// A watch notification, or the end of a watch.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WatchedEvent {
    /// What happened: a node event, a watch removal, or `None` when the
    /// watch ended with the session (then `state` says why).
    pub event_type: EventType,
    /// `SyncConnected` for node events; `Expired`, `Closed` or `AuthFailed`
    /// when the session ended.
    pub state: KeeperState,
    /// The node, relative to the client's chroot (empty for session events).
    pub path: String,
}

impl WatchedEvent {
    pub(crate) fn session_end(state: KeeperState) -> WatchedEvent {
        WatchedEvent {
            event_type: EventType::None,
            state,
            path: String::new(),
        }
    }

    /// Whether this event ends the watch that got it: a session end or a
    /// removal.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.event_type,
            EventType::None
                | EventType::DataWatchRemoved
                | EventType::ChildWatchRemoved
                | EventType::PersistentWatchRemoved
        )
    }
}

/// The kinds of watch the registry keeps (ZooKeeper's five watch tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum WatchKind {
    /// Set by getData, or by exists on an existing node.
    Data,
    /// Set by exists on a missing node.
    Exist,
    /// Set by getChildren.
    Child,
    /// addWatch(PERSISTENT).
    Persistent,
    /// addWatch(PERSISTENT_RECURSIVE).
    PersistentRecursive,
}

impl WatchKind {
    pub(crate) fn from_mode(mode: AddWatchMode) -> WatchKind {
        match mode {
            AddWatchMode::Persistent => WatchKind::Persistent,
            AddWatchMode::PersistentRecursive => WatchKind::PersistentRecursive,
        }
    }

    fn removal_event(self) -> EventType {
        match self {
            WatchKind::Data | WatchKind::Exist => EventType::DataWatchRemoved,
            WatchKind::Child => EventType::ChildWatchRemoved,
            WatchKind::Persistent | WatchKind::PersistentRecursive => {
                EventType::PersistentWatchRemoved
            }
        }
    }

    fn removed_by(self, watcher_type: WatcherType) -> bool {
        match watcher_type {
            WatcherType::Any => true,
            WatcherType::Data => matches!(self, WatchKind::Data | WatchKind::Exist),
            WatcherType::Children => self == WatchKind::Child,
            WatcherType::Persistent => self == WatchKind::Persistent,
            WatcherType::PersistentRecursive => self == WatchKind::PersistentRecursive,
        }
    }
}

/// Where a registered watch delivers.
#[derive(Debug)]
pub(crate) enum WatchSender {
    Oneshot(oneshot::Sender<WatchedEvent>),
    Persistent(mpsc::UnboundedSender<WatchedEvent>),
    /// Into a [`WatchSink`], tagged with the watch's id; `persistent`
    /// says whether it stays after firing.
    Sink {
        id: u64,
        persistent: bool,
        tx: mpsc::UnboundedSender<SinkEvent>,
    },
}

impl WatchSender {
    fn is_closed(&self) -> bool {
        match self {
            WatchSender::Oneshot(tx) => tx.is_closed(),
            WatchSender::Persistent(tx) => tx.is_closed(),
            WatchSender::Sink { tx, .. } => tx.is_closed(),
        }
    }

    /// Delivers an event that ends or fires this watcher (one-shot
    /// firing, removal, session end).
    fn send_final(self, event: &WatchedEvent) {
        match self {
            WatchSender::Oneshot(tx) => {
                let _ = tx.send(event.clone());
            }
            WatchSender::Persistent(tx) => {
                let _ = tx.send(event.clone());
            }
            WatchSender::Sink { id, tx, .. } => {
                let _ = tx.send(SinkEvent::Watch {
                    id,
                    event: event.clone(),
                });
            }
        }
    }
}

/// What a [`WatchSink`] receives: every event of the watches set into it
/// and every session state change, in the one order the client's session
/// task produced them (a watch event before the reply of any later
/// request, a state change between the events around it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkEvent {
    /// The session changed state.
    State(SessionState),
    /// Watch `id` fired (or ended: [`WatchedEvent::is_terminal`]).
    Watch {
        /// The id the `*_into` call returned.
        id: u64,
        /// What happened.
        event: WatchedEvent,
    },
}

/// One ordered channel for many watches and the session's states, for a
/// consumer that must see them in a single order (the embedding layer's
/// per-client event queue). Made by [`Client::watch_sink`](super::Client::watch_sink);
/// watches go into it with `get_and_watch_data_into` and `add_watch_into`
/// and leave it with `remove_sink_watch`.
#[derive(Debug, Clone)]
pub struct WatchSink {
    pub(crate) tx: mpsc::UnboundedSender<SinkEvent>,
}

/// A watch to register when its request succeeds.
#[derive(Debug)]
pub(crate) struct WatchRegistration {
    pub(crate) id: u64,
    /// Client path (chroot stripped).
    pub(crate) path: String,
    pub(crate) kind: WatchKind,
    pub(crate) sender: WatchSender,
}

/// Every local watcher, by client path and kind.
#[derive(Debug, Default)]
pub(crate) struct WatchRegistry {
    next_id: u64,
    entries: HashMap<(String, WatchKind), Vec<(u64, WatchSender)>>,
}

/// Paths per kind, for SetWatches after a reconnect.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct WatchPaths {
    pub(crate) data: Vec<String>,
    pub(crate) exist: Vec<String>,
    pub(crate) child: Vec<String>,
    pub(crate) persistent: Vec<String>,
    pub(crate) persistent_recursive: Vec<String>,
}

impl WatchPaths {
    pub(crate) fn is_empty(&self) -> bool {
        self.data.is_empty()
            && self.exist.is_empty()
            && self.child.is_empty()
            && self.persistent.is_empty()
            && self.persistent_recursive.is_empty()
    }
}

impl WatchRegistry {
    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    pub(crate) fn register(&mut self, registration: WatchRegistration) {
        if registration.sender.is_closed() {
            return;
        }
        self.entries
            .entry((registration.path, registration.kind))
            .or_default()
            .push((registration.id, registration.sender));
    }

    /// Forgets watcher `id` wherever it is registered; returns its path
    /// and kind, if it was.
    pub(crate) fn unregister_id(&mut self, id: u64) -> Option<(String, WatchKind)> {
        let key = self
            .entries
            .iter()
            .find(|(_, list)| list.iter().any(|(i, _)| *i == id))
            .map(|(key, _)| key.clone())?;
        if let Some(list) = self.entries.get_mut(&key) {
            list.retain(|(i, tx)| *i != id && !tx.is_closed());
            if list.is_empty() {
                self.entries.remove(&key);
            }
        }
        Some(key)
    }

    /// Forgets watcher `id`; returns whether live watchers of `kind` remain
    /// on `path`.
    pub(crate) fn unregister(&mut self, path: &str, kinds: &[WatchKind], id: u64) {
        for kind in kinds {
            let key = (path.to_owned(), *kind);
            if let Some(list) = self.entries.get_mut(&key) {
                list.retain(|(i, tx)| *i != id && !tx.is_closed());
                if list.is_empty() {
                    self.entries.remove(&key);
                }
            }
        }
    }

    /// Whether a live watcher of `kind` is registered on `path`.
    pub(crate) fn has(&self, path: &str, kind: WatchKind) -> bool {
        self.entries
            .get(&(path.to_owned(), kind))
            .is_some_and(|list| list.iter().any(|(_, tx)| !tx.is_closed()))
    }

    fn take(&mut self, path: &str, kind: WatchKind) -> Vec<(u64, WatchSender)> {
        self.entries
            .remove(&(path.to_owned(), kind))
            .unwrap_or_default()
    }

    fn send_persistent(&mut self, path: &str, kind: WatchKind, event: &WatchedEvent) {
        let key = (path.to_owned(), kind);
        if let Some(list) = self.entries.get_mut(&key) {
            list.retain(|(_, tx)| match tx {
                WatchSender::Persistent(tx) => tx.send(event.clone()).is_ok(),
                WatchSender::Sink {
                    id,
                    persistent: true,
                    tx,
                } => tx
                    .send(SinkEvent::Watch {
                        id: *id,
                        event: event.clone(),
                    })
                    .is_ok(),
                WatchSender::Oneshot(_) | WatchSender::Sink { .. } => false,
            });
            if list.is_empty() {
                self.entries.remove(&key);
            }
        }
    }

    /// Delivers a node event to every watcher it triggers: one-shot ones are
    /// removed, persistent ones stay (ZooKeeper's `materialize`).
    pub(crate) fn dispatch(&mut self, event: &WatchedEvent) {
        let path = event.path.as_str();
        let mut fired = Vec::new();
        match event.event_type {
            EventType::NodeDataChanged | EventType::NodeCreated => {
                fired.extend(self.take(path, WatchKind::Data));
                fired.extend(self.take(path, WatchKind::Exist));
            }
            EventType::NodeChildrenChanged => {
                fired.extend(self.take(path, WatchKind::Child));
            }
            EventType::NodeDeleted => {
                fired.extend(self.take(path, WatchKind::Data));
                fired.extend(self.take(path, WatchKind::Exist));
                fired.extend(self.take(path, WatchKind::Child));
            }
            _ => return,
        }
        for (_, tx) in fired {
            if matches!(
                tx,
                WatchSender::Oneshot(_)
                    | WatchSender::Sink {
                        persistent: false,
                        ..
                    }
            ) {
                tx.send_final(event);
            }
        }
        self.send_persistent(path, WatchKind::Persistent, event);
        // Recursive watches never see child events: creations and deletions
        // below them arrive as node events of their own.
        if event.event_type != EventType::NodeChildrenChanged {
            let mut ancestor = Some(path);
            while let Some(p) = ancestor {
                self.send_persistent(p, WatchKind::PersistentRecursive, event);
                ancestor = crate::path::parent(p);
            }
        }
    }

    /// Ends the watchers that a successful `removeWatches(path, type)`
    /// removed, each with its removal event.
    pub(crate) fn remove(&mut self, path: &str, watcher_type: WatcherType) {
        let kinds = [
            WatchKind::Data,
            WatchKind::Exist,
            WatchKind::Child,
            WatchKind::Persistent,
            WatchKind::PersistentRecursive,
        ];
        for kind in kinds {
            if !kind.removed_by(watcher_type) {
                continue;
            }
            let event = WatchedEvent {
                event_type: kind.removal_event(),
                state: KeeperState::SyncConnected,
                path: path.to_owned(),
            };
            for (_, tx) in self.take(path, kind) {
                tx.send_final(&event);
            }
        }
    }

    /// Ends every watcher with a `None` event in `state` (the session ended).
    pub(crate) fn terminate(&mut self, state: KeeperState) {
        let event = WatchedEvent::session_end(state);
        for (_, list) in self.entries.drain() {
            for (_, tx) in list {
                tx.send_final(&event);
            }
        }
    }

    /// The watched paths per kind, for SetWatches; forgets dead watchers.
    pub(crate) fn paths(&mut self) -> WatchPaths {
        self.entries.retain(|_, list| {
            list.retain(|(_, tx)| !tx.is_closed());
            !list.is_empty()
        });
        let mut paths = WatchPaths::default();
        for (path, kind) in self.entries.keys() {
            let list = match kind {
                WatchKind::Data => &mut paths.data,
                WatchKind::Exist => &mut paths.exist,
                WatchKind::Child => &mut paths.child,
                WatchKind::Persistent => &mut paths.persistent,
                WatchKind::PersistentRecursive => &mut paths.persistent_recursive,
            };
            list.push(path.clone());
        }
        for list in [
            &mut paths.data,
            &mut paths.exist,
            &mut paths.child,
            &mut paths.persistent,
            &mut paths.persistent_recursive,
        ] {
            list.sort();
        }
        paths
    }
}

/// Locks the registry; a poisoned lock is still usable (the registry holds
/// no invariant a panic could break half-way).
pub(crate) fn lock(registry: &Mutex<WatchRegistry>) -> MutexGuard<'_, WatchRegistry> {
    registry.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sent by a dropped [`PersistentWatcher`] that was the last of its kind on
/// its path, so the session task can remove the server's watch.
#[derive(Debug)]
pub(crate) struct DropNotice {
    pub(crate) path: String,
    pub(crate) kind: WatchKind,
}

/// A one-shot watch, left by
/// [`exists_and_watch`](super::Client::exists_and_watch),
/// [`get_and_watch_data`](super::Client::get_and_watch_data) or
/// [`get_and_watch_children`](super::Client::get_and_watch_children).
///
/// It fires once. It survives reconnections (the client re-registers it
/// with SetWatches, and the server reports changes made while the client
/// was away). If the session expires or the client is closed first, it
/// resolves with an event of type `None` and state `Expired` or `Closed`.
/// Dropping it forgets it locally (the server's watch stays until it
/// fires; its event is then ignored).
#[derive(Debug)]
#[must_use = "a watcher does nothing unless awaited; dropping it unregisters it"]
pub struct OneshotWatcher {
    receiver: Option<oneshot::Receiver<WatchedEvent>>,
    id: u64,
    path: String,
    shared: Arc<Shared>,
}

impl OneshotWatcher {
    pub(crate) fn new(
        receiver: oneshot::Receiver<WatchedEvent>,
        id: u64,
        path: String,
        shared: Arc<Shared>,
    ) -> OneshotWatcher {
        OneshotWatcher {
            receiver: Some(receiver),
            id,
            path,
            shared,
        }
    }

    /// The watched path (relative to the chroot).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Waits for the event.
    pub async fn changed(mut self) -> WatchedEvent {
        let receiver = self.receiver.take().expect("receiver taken only here");
        match receiver.await {
            Ok(event) => event,
            // The session task ended without a word: the client is gone.
            Err(_) => WatchedEvent::session_end(self.shared.end_state().keeper_state()),
        }
    }
}

impl Drop for OneshotWatcher {
    fn drop(&mut self) {
        if self.receiver.is_some() {
            lock(&self.shared.registry).unregister(
                &self.path,
                &[WatchKind::Data, WatchKind::Exist, WatchKind::Child],
                self.id,
            );
        }
    }
}

/// A persistent or persistent-recursive watch left by
/// [`add_watch`](super::Client::add_watch): a stream of events that stays
/// until removed.
///
/// A persistent watch reports data changes, deletion and child changes of
/// its node; a recursive one reports creation, data change and deletion of
/// the node and of every descendant (never `NodeChildrenChanged`). The
/// stream ends after a `PersistentWatchRemoved` event
/// ([`remove_watches`](super::Client::remove_watches)) or a `None` event
/// (session expired, client closed). Dropping the last local watcher of a
/// kind on a path also removes the server's watch (best effort).
///
/// Use [`changed`](PersistentWatcher::changed), or the
/// [`Stream`](futures_core::Stream) impl. Events queue without bound until
/// read (the session task must never block on a slow reader, or pings and
/// replies would stall): read them, or drop the watcher.
#[derive(Debug)]
#[must_use = "a watcher does nothing unless awaited; dropping it unregisters it"]
pub struct PersistentWatcher {
    receiver: mpsc::UnboundedReceiver<WatchedEvent>,
    id: u64,
    path: String,
    kind: WatchKind,
    shared: Arc<Shared>,
    last: Option<WatchedEvent>,
}

impl PersistentWatcher {
    pub(crate) fn new(
        receiver: mpsc::UnboundedReceiver<WatchedEvent>,
        id: u64,
        path: String,
        mode: AddWatchMode,
        shared: Arc<Shared>,
    ) -> PersistentWatcher {
        PersistentWatcher {
            receiver,
            id,
            path,
            kind: WatchKind::from_mode(mode),
            shared,
            last: None,
        }
    }

    /// The watched path (relative to the chroot).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The watch's mode.
    pub fn mode(&self) -> AddWatchMode {
        match self.kind {
            WatchKind::PersistentRecursive => AddWatchMode::PersistentRecursive,
            _ => AddWatchMode::Persistent,
        }
    }

    /// Waits for the next event. Once the watch has ended, returns its
    /// final event (`PersistentWatchRemoved`, or `None` with the session's
    /// end state) again without waiting.
    pub async fn changed(&mut self) -> WatchedEvent {
        if let Some(last) = &self.last {
            return last.clone();
        }
        let event = match self.receiver.recv().await {
            Some(event) => event,
            None => WatchedEvent::session_end(self.shared.end_state().keeper_state()),
        };
        if event.is_terminal() {
            self.last = Some(event.clone());
        }
        event
    }
}

impl futures_core::Stream for PersistentWatcher {
    type Item = WatchedEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchedEvent>> {
        let this = self.get_mut();
        if this.last.is_some() {
            return Poll::Ready(None);
        }
        match this.receiver.poll_recv(cx) {
            Poll::Ready(Some(event)) => {
                if event.is_terminal() {
                    this.last = Some(event.clone());
                }
                Poll::Ready(Some(event))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for PersistentWatcher {
    fn drop(&mut self) {
        if self.last.is_some() {
            return;
        }
        let remaining = {
            let mut registry = lock(&self.shared.registry);
            registry.unregister(&self.path, &[self.kind], self.id);
            registry.has(&self.path, self.kind)
        };
        if !remaining {
            let _ = self.shared.drops.send(DropNotice {
                path: self.path.clone(),
                kind: self.kind,
            });
        }
    }
}

/// Every session state change of a client, in order, from
/// [`Client::state_watcher`](super::Client::state_watcher).
///
/// ```no_run
/// # async fn demo(client: corral::client::Client) {
/// use corral::client::SessionState;
/// let mut states = client.state_watcher();
/// loop {
///     match states.changed().await {
///         SessionState::Disconnected => eprintln!("suspended: hold off work"),
///         SessionState::Connected => eprintln!("back"),
///         s if s.is_terminal() => break,
///         _ => {}
///     }
/// }
/// # }
/// ```
#[derive(Debug)]
pub struct StateWatcher {
    receiver: mpsc::UnboundedReceiver<SessionState>,
    current: SessionState,
}

impl StateWatcher {
    pub(crate) fn new(
        receiver: mpsc::UnboundedReceiver<SessionState>,
        current: SessionState,
    ) -> StateWatcher {
        StateWatcher { receiver, current }
    }

    /// The last state this watcher returned (or the state when it was made).
    pub fn current(&self) -> SessionState {
        self.current
    }

    /// Waits for the next state change and returns the new state. Once the
    /// state is terminal, returns it again without waiting.
    pub async fn changed(&mut self) -> SessionState {
        if self.current.is_terminal() {
            return self.current;
        }
        match self.receiver.recv().await {
            Some(state) => self.current = state,
            None => self.current = SessionState::Closed,
        }
        self.current
    }
}

impl futures_core::Stream for StateWatcher {
    type Item = SessionState;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SessionState>> {
        let this = self.get_mut();
        if this.current.is_terminal() {
            return Poll::Ready(None);
        }
        match this.receiver.poll_recv(cx) {
            Poll::Ready(Some(state)) => {
                this.current = state;
                Poll::Ready(Some(state))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: EventType, path: &str) -> WatchedEvent {
        WatchedEvent {
            event_type,
            state: KeeperState::SyncConnected,
            path: path.into(),
        }
    }

    fn oneshot_at(
        registry: &mut WatchRegistry,
        path: &str,
        kind: WatchKind,
    ) -> oneshot::Receiver<WatchedEvent> {
        let (tx, rx) = oneshot::channel();
        let id = registry.next_id();
        registry.register(WatchRegistration {
            id,
            path: path.into(),
            kind,
            sender: WatchSender::Oneshot(tx),
        });
        rx
    }

    fn persistent_at(
        registry: &mut WatchRegistry,
        path: &str,
        kind: WatchKind,
    ) -> mpsc::UnboundedReceiver<WatchedEvent> {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = registry.next_id();
        registry.register(WatchRegistration {
            id,
            path: path.into(),
            kind,
            sender: WatchSender::Persistent(tx),
        });
        rx
    }

    #[test]
    fn data_change_fires_data_and_exist_watches_once() {
        let mut registry = WatchRegistry::default();
        let mut data1 = oneshot_at(&mut registry, "/a", WatchKind::Data);
        let mut data2 = oneshot_at(&mut registry, "/a", WatchKind::Data);
        let mut child = oneshot_at(&mut registry, "/a", WatchKind::Child);
        registry.dispatch(&event(EventType::NodeDataChanged, "/a"));
        assert_eq!(
            data1.try_recv().unwrap().event_type,
            EventType::NodeDataChanged
        );
        assert_eq!(
            data2.try_recv().unwrap().event_type,
            EventType::NodeDataChanged
        );
        assert!(child.try_recv().is_err());
        assert_eq!(
            registry.paths(),
            WatchPaths {
                child: vec!["/a".into()],
                ..WatchPaths::default()
            }
        );
        registry.dispatch(&event(EventType::NodeDeleted, "/a"));
        assert_eq!(child.try_recv().unwrap().event_type, EventType::NodeDeleted);
        assert!(registry.paths().is_empty());
    }

    #[test]
    fn recursive_watches_see_descendants_but_not_child_events() {
        let mut registry = WatchRegistry::default();
        let mut recursive = persistent_at(&mut registry, "/a", WatchKind::PersistentRecursive);
        let mut persistent = persistent_at(&mut registry, "/a", WatchKind::Persistent);
        registry.dispatch(&event(EventType::NodeCreated, "/a/b/c"));
        registry.dispatch(&event(EventType::NodeChildrenChanged, "/a"));
        registry.dispatch(&event(EventType::NodeDataChanged, "/a"));
        assert_eq!(recursive.try_recv().unwrap().path, "/a/b/c");
        assert_eq!(recursive.try_recv().unwrap().path, "/a");
        assert!(recursive.try_recv().is_err());
        assert_eq!(
            persistent.try_recv().unwrap().event_type,
            EventType::NodeChildrenChanged
        );
        assert_eq!(
            persistent.try_recv().unwrap().event_type,
            EventType::NodeDataChanged
        );
        assert_eq!(registry.paths().persistent_recursive, vec!["/a".to_owned()]);
    }

    #[test]
    fn remove_and_terminate_end_watchers() {
        let mut registry = WatchRegistry::default();
        let mut child = oneshot_at(&mut registry, "/a", WatchKind::Child);
        let mut exist = oneshot_at(&mut registry, "/a", WatchKind::Exist);
        let mut recursive = persistent_at(&mut registry, "/", WatchKind::PersistentRecursive);
        registry.remove("/a", WatcherType::Children);
        assert_eq!(
            child.try_recv().unwrap().event_type,
            EventType::ChildWatchRemoved
        );
        assert!(exist.try_recv().is_err());
        registry.terminate(KeeperState::Expired);
        assert_eq!(
            exist.try_recv().unwrap(),
            WatchedEvent::session_end(KeeperState::Expired)
        );
        assert_eq!(
            recursive.try_recv().unwrap(),
            WatchedEvent::session_end(KeeperState::Expired)
        );
        assert!(registry.paths().is_empty());
    }

    #[test]
    fn unregister_forgets_one_watcher() {
        let mut registry = WatchRegistry::default();
        let _first = persistent_at(&mut registry, "/a", WatchKind::Persistent);
        let (tx, _second) = mpsc::unbounded_channel();
        let id = registry.next_id();
        registry.register(WatchRegistration {
            id,
            path: "/a".into(),
            kind: WatchKind::Persistent,
            sender: WatchSender::Persistent(tx),
        });
        registry.unregister("/a", &[WatchKind::Persistent], id);
        assert!(registry.has("/a", WatchKind::Persistent));
        registry.unregister("/a", &[WatchKind::Persistent], 1);
        assert!(!registry.has("/a", WatchKind::Persistent));
    }
}
