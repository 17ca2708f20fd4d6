//! Watch callbacks and session listeners of one client, called from its
//! `corral-events` thread (embed's ordered delivery) with the GIL held.
//!
//! Lock order: the GIL, then [`Watches`]' mutex; Python callbacks are
//! called with the mutex released.

use std::collections::HashMap;
use std::sync::Mutex;

use corral::client::{SessionState, WatchedEvent};
use corral::proto::{EventType, KeeperState};
use corral::recipes::LostReason;
use corral_embed::{Event, WatchId};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// Events of a watch whose callback is not registered yet, at most this
/// many per watch (a one-shot watch has one; a persistent watch's first
/// events may race its registration).
const EARLY_EVENTS_MAX: usize = 64;

#[derive(Default)]
struct Registry {
    /// Callback and whether the watch is persistent.
    callbacks: HashMap<WatchId, (Py<PyAny>, bool)>,
    /// Events (as the callback's arguments, and whether each ends the
    /// watch) that arrived before their callback was registered: the
    /// server's reply and the event can both be on their way before the
    /// calling thread gets back the watch's id.
    early: HashMap<WatchId, Vec<(Py<PyTuple>, bool)>>,
    listeners: Vec<Py<PyAny>>,
}

/// One client's watch callbacks and state listeners.
#[derive(Default)]
pub struct Watches {
    registry: Mutex<Registry>,
}

/// kazoo's `EventType` strings.
fn event_type(event_type: EventType) -> &'static str {
    match event_type {
        EventType::None => "NONE",
        EventType::NodeCreated => "CREATED",
        EventType::NodeDeleted => "DELETED",
        EventType::NodeDataChanged => "CHANGED",
        EventType::NodeChildrenChanged => "CHILD",
        EventType::DataWatchRemoved => "DATA_WATCH_REMOVED",
        EventType::ChildWatchRemoved => "CHILD_WATCH_REMOVED",
        EventType::PersistentWatchRemoved => "PERSISTENT_WATCH_REMOVED",
    }
}

/// kazoo's `KeeperState` strings.
fn keeper_state(state: KeeperState) -> &'static str {
    match state {
        KeeperState::Disconnected => "CONNECTING",
        KeeperState::SyncConnected => "CONNECTED",
        KeeperState::AuthFailed => "AUTH_FAILED",
        KeeperState::ConnectedReadOnly => "CONNECTED_RO",
        KeeperState::SaslAuthenticated => "SASL_AUTHENTICATED",
        KeeperState::Expired => "EXPIRED_SESSION",
        KeeperState::Closed => "CLOSED",
    }
}

/// kazoo's `KazooState` string for a session state; `None` for the first
/// connection attempt, which kazoo does not report.
fn kazoo_state(state: SessionState) -> Option<&'static str> {
    match state {
        SessionState::Connected | SessionState::ConnectedReadOnly => Some("CONNECTED"),
        SessionState::Disconnected => Some("SUSPENDED"),
        SessionState::Expired | SessionState::Closed | SessionState::AuthFailed => Some("LOST"),
        _ => None,
    }
}

fn call<'py>(py: Python<'py>, callback: &Py<PyAny>, args: impl pyo3::call::PyCallArgs<'py>) {
    // A callback's exception is reported, never fatal to delivery.
    if let Err(err) = callback.call1(py, args) {
        err.print(py);
    }
}

/// Why a lock was lost, as the `on_lost` callback's second argument.
fn lost_reason(reason: LostReason) -> &'static str {
    match reason {
        LostReason::NodeDeleted => "NODE_DELETED",
        LostReason::SessionEnded(SessionState::Expired) => "SESSION_EXPIRED",
        LostReason::SessionEnded(SessionState::AuthFailed) => "AUTH_FAILED",
        LostReason::SessionEnded(_) => "SESSION_CLOSED",
    }
}

fn watch_args(event: &WatchedEvent) -> (&'static str, &'static str, String) {
    (
        event_type(event.event_type),
        keeper_state(event.state),
        event.path.clone(),
    )
}

impl Watches {
    fn lock(&self) -> std::sync::MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Delivers one event (on the client's `corral-events` thread).
    pub fn deliver(&self, event: Event) {
        match event {
            Event::Watch { watch, event } => {
                crate::attach_unless_exiting(|py| match (watch_args(&event),).into_pyobject(py) {
                    Ok(args) => self.dispatch(py, watch, args.unbind(), event.is_terminal()),
                    Err(err) => err.print(py),
                });
            }
            Event::LeaseLost {
                watch,
                path,
                reason,
            } => {
                crate::attach_unless_exiting(|py| {
                    match (path, lost_reason(reason)).into_pyobject(py) {
                        Ok(args) => self.dispatch(py, watch, args.unbind(), true),
                        Err(err) => err.print(py),
                    }
                });
            }
            Event::Session(state) => {
                let Some(state) = kazoo_state(state) else {
                    return;
                };
                // Without listeners, do not take the GIL at all (the last
                // state often comes as the interpreter exits).
                if self.lock().listeners.is_empty() {
                    return;
                }
                crate::attach_unless_exiting(|py| {
                    let listeners: Vec<Py<PyAny>> = {
                        let registry = self.lock();
                        registry.listeners.iter().map(|l| l.clone_ref(py)).collect()
                    };
                    for listener in &listeners {
                        call(py, listener, (state,));
                    }
                });
            }
            _ => {}
        }
    }

    /// Calls watch `id`'s callback with `args` (forgetting a one-shot
    /// callback, or any once `last`), or keeps them for its registration.
    fn dispatch(&self, py: Python<'_>, id: WatchId, args: Py<PyTuple>, last: bool) {
        let callback = {
            let mut registry = self.lock();
            match registry.callbacks.get(&id) {
                Some((callback, true)) if !last => Some(callback.clone_ref(py)),
                Some(_) => registry.callbacks.remove(&id).map(|(c, _)| c),
                None => {
                    let early = registry.early.entry(id).or_default();
                    if early.len() < EARLY_EVENTS_MAX {
                        early.push((args.clone_ref(py), last));
                    }
                    None
                }
            }
        };
        if let Some(callback) = callback {
            call(py, &callback, args.bind(py));
        }
    }

    /// Registers the callback of watch `id`; events that came first are
    /// delivered now, on the calling thread.
    pub fn register(&self, py: Python<'_>, id: WatchId, callback: Py<PyAny>, persistent: bool) {
        let early = {
            let mut registry = self.lock();
            let early = registry.early.remove(&id).unwrap_or_default();
            let done = !persistent && !early.is_empty() || early.iter().any(|(_, last)| *last);
            if !done {
                registry
                    .callbacks
                    .insert(id, (callback.clone_ref(py), persistent));
            }
            early
        };
        for (args, _) in &early {
            call(py, &callback, args.bind(py));
        }
    }

    /// Forgets watch `id`'s callback.
    pub fn unregister(&self, id: WatchId) -> Option<Py<PyAny>> {
        self.lock().callbacks.remove(&id).map(|(c, _)| c)
    }

    /// Adds a session state listener.
    pub fn add_listener(&self, listener: Py<PyAny>) {
        self.lock().listeners.push(listener);
    }

    /// Removes a listener (by identity); whether it was there.
    pub fn remove_listener(&self, listener: &Bound<'_, PyAny>) -> bool {
        let mut registry = self.lock();
        let before = registry.listeners.len();
        registry
            .listeners
            .retain(|l| !l.bind(listener.py()).is(listener));
        registry.listeners.len() != before
    }
}
