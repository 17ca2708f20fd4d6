//! [`Shared`]: the state a client's handles, watchers and session task all
//! see.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::state::{SessionInfo, SessionState};
use super::watcher::{DropNotice, SinkEvent, WatchRegistry};

/// Who hears of state changes: a [`StateWatcher`](super::StateWatcher)
/// or a [`WatchSink`](super::WatchSink).
#[derive(Debug)]
enum StateSubscriber {
    Watcher(mpsc::UnboundedSender<SessionState>),
    Sink(mpsc::UnboundedSender<SinkEvent>),
}

impl StateSubscriber {
    fn send(&self, state: SessionState) -> bool {
        match self {
            StateSubscriber::Watcher(tx) => tx.send(state).is_ok(),
            StateSubscriber::Sink(tx) => tx.send(SinkEvent::State(state)).is_ok(),
        }
    }
}
use crate::error::Error;

/// Held behind an `Arc` by every handle, watcher and the session task.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The chroot, `""` for none.
    pub(crate) chroot: String,
    /// Deadline of each request, queueing while disconnected included.
    pub(crate) request_timeout: Duration,
    /// Current state, for `Client::state` and `connect`.
    pub(crate) state: watch::Sender<SessionState>,
    /// Every `StateWatcher`, each fed every transition.
    state_subscribers: Mutex<Vec<StateSubscriber>>,
    /// Session id, password and negotiated timeout, set by the session task.
    pub(crate) session: Mutex<SessionInfo>,
    /// Highest zxid seen in a reply.
    pub(crate) last_zxid: AtomicI64,
    /// Local watchers.
    pub(crate) registry: Mutex<super::watcher::WatchRegistry>,
    /// Dropped last-of-their-kind persistent watchers, for the session task.
    pub(crate) drops: mpsc::UnboundedSender<DropNotice>,
    /// Why the client ended, once it has.
    end: Mutex<Option<Error>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(
        chroot: String,
        request_timeout: Duration,
        session: SessionInfo,
        drops: mpsc::UnboundedSender<DropNotice>,
    ) -> Shared {
        Shared {
            chroot,
            request_timeout,
            state: watch::Sender::new(SessionState::Connecting),
            state_subscribers: Mutex::new(Vec::new()),
            session: Mutex::new(session),
            last_zxid: AtomicI64::new(0),
            registry: Mutex::new(WatchRegistry::default()),
            drops,
            end: Mutex::new(None),
        }
    }

    pub(crate) fn state(&self) -> SessionState {
        *self.state.borrow()
    }

    /// Publishes a state change (repeated states are not re-announced).
    pub(crate) fn set_state(&self, state: SessionState) {
        let mut subscribers = lock(&self.state_subscribers);
        if self.state() == state {
            return;
        }
        self.state.send_replace(state);
        subscribers.retain(|subscriber| subscriber.send(state));
        if state.is_terminal() {
            subscribers.clear();
        }
    }

    pub(crate) fn subscribe(&self) -> (mpsc::UnboundedReceiver<SessionState>, SessionState) {
        let mut subscribers = lock(&self.state_subscribers);
        let (tx, rx) = mpsc::unbounded_channel();
        let current = self.state();
        if !current.is_terminal() {
            subscribers.push(StateSubscriber::Watcher(tx));
        }
        (rx, current)
    }

    /// A new sink, subscribed to state changes; with the state now.
    pub(crate) fn subscribe_sink(
        &self,
    ) -> (
        mpsc::UnboundedSender<SinkEvent>,
        mpsc::UnboundedReceiver<SinkEvent>,
        SessionState,
    ) {
        let mut subscribers = lock(&self.state_subscribers);
        let (tx, rx) = mpsc::unbounded_channel();
        let current = self.state();
        if !current.is_terminal() {
            subscribers.push(StateSubscriber::Sink(tx.clone()));
        }
        (tx, rx, current)
    }

    pub(crate) fn session(&self) -> SessionInfo {
        lock(&self.session).clone()
    }

    pub(crate) fn set_session(&self, info: SessionInfo) {
        *lock(&self.session) = info;
    }

    pub(crate) fn last_zxid(&self) -> i64 {
        self.last_zxid.load(Ordering::Acquire)
    }

    pub(crate) fn see_zxid(&self, zxid: i64) {
        self.last_zxid.fetch_max(zxid, Ordering::AcqRel);
    }

    /// Whether the session task has ended.
    pub(crate) fn has_ended(&self) -> bool {
        lock(&self.end).is_some()
    }

    /// The error requests get once the client has ended.
    pub(crate) fn end_error(&self) -> Error {
        lock(&self.end).clone().unwrap_or(Error::ClientClosed)
    }

    pub(crate) fn set_end(&self, error: Error) {
        lock(&self.end).get_or_insert(error);
    }

    /// The terminal state, `Closed` if the task ended without one.
    pub(crate) fn end_state(&self) -> SessionState {
        let state = self.state();
        if state.is_terminal() {
            state
        } else {
            SessionState::Closed
        }
    }
}
