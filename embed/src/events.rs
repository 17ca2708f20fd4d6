//! Event delivery to foreign code: a bounded pull queue per client
//! ([`EventQueue`], `next(timeout)`), or a callback run on one ordered
//! delivery thread per client (`corral-events`), fed by the same queue.
//!
//! Foreign code never runs on a runtime worker: a slow (or GIL-blocked)
//! callback delays later events of its own client, never pings. Memory is
//! bounded: when the queue is full, further events are dropped and, once
//! the consumer has taken the queued ones, it gets one [`Event::Resync`]:
//! "events were lost; re-read the state you watch". Events after the
//! resync are delivered normally.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use corral::client::{SessionState, WatchedEvent};
use corral::recipes::{CacheEvent, LatchState, LostReason};

use crate::error::{Error, Result};
use crate::runtime;

/// The default capacity of a client's event queue.
pub const EVENT_QUEUE_CAPACITY_DEFAULT: usize = 1024;

/// Identifies a watch set through an embedded client.
pub type WatchId = u64;

/// Something foreign code is told about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The session changed state (connected, disconnected, expired...).
    Session(SessionState),
    /// A watch fired (or ended: [`WatchedEvent::is_terminal`]).
    Watch {
        /// The watch, as returned when it was set.
        watch: WatchId,
        /// What happened.
        event: WatchedEvent,
    },
    /// A lease (lock, semaphore, leadership) watched with
    /// [`EmbeddedClient::watch_lease`](crate::EmbeddedClient::watch_lease)
    /// was lost: its node was deleted or its session ended.
    LeaseLost {
        /// The id `watch_lease` returned.
        watch: WatchId,
        /// The lease's node.
        path: String,
        /// Why.
        reason: LostReason,
    },
    /// A leader latch watched with
    /// [`EmbeddedClient::watch_latch`](crate::EmbeddedClient::watch_latch)
    /// changed state (became leader, follower, or closed).
    Leadership {
        /// The id `watch_latch` returned.
        watch: WatchId,
        /// The latch's new state.
        state: LatchState,
    },
    /// A tree cache watched with
    /// [`EmbeddedClient::watch_cache`](crate::EmbeddedClient::watch_cache)
    /// changed.
    Cache {
        /// The id `watch_cache` returned.
        watch: WatchId,
        /// What changed.
        event: CacheEvent,
    },
    /// Events were dropped because the queue was full: re-read whatever
    /// state the lost events were about, then carry on.
    Resync,
}

struct Inner {
    items: VecDeque<Event>,
    /// Events were dropped since the consumer last got a resync.
    overflowed: bool,
    closed: bool,
}

struct Queue {
    inner: Mutex<Inner>,
    ready: Condvar,
    capacity: usize,
}

/// A bounded, ordered queue of one client's events (cheap to clone; the
/// clones share the queue).
#[derive(Clone)]
pub struct EventQueue {
    queue: Arc<Queue>,
    pid: u32,
}

impl EventQueue {
    /// A queue holding at most `capacity` events (at least 1).
    pub fn new(capacity: usize) -> EventQueue {
        EventQueue {
            queue: Arc::new(Queue {
                inner: Mutex::new(Inner {
                    items: VecDeque::new(),
                    overflowed: false,
                    closed: false,
                }),
                ready: Condvar::new(),
                capacity: capacity.max(1),
            }),
            pid: runtime::current_pid(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.queue.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an event; never blocks. Returns false if it was dropped (queue
    /// full or closed).
    pub fn push(&self, event: Event) -> bool {
        let mut inner = self.lock();
        if inner.closed {
            return false;
        }
        if inner.overflowed || inner.items.len() >= self.queue.capacity {
            if !inner.overflowed {
                tracing::warn!(
                    capacity = self.queue.capacity,
                    "event queue full: dropping events until the consumer resyncs"
                );
            }
            inner.overflowed = true;
            return false;
        }
        inner.items.push_back(event);
        drop(inner);
        self.queue.ready.notify_one();
        true
    }

    /// Adds the queue's last event and closes it, atomically: nothing
    /// pushed afterwards is delivered. Room is made for it if the queue
    /// is full (the resync then comes before it).
    pub fn push_last(&self, event: Event) {
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        if inner.items.len() >= self.queue.capacity {
            inner.items.pop_back();
            inner.overflowed = true;
        }
        if inner.overflowed {
            // The resync must come before the last event: deliver the
            // queued events, the resync, then this.
            inner.overflowed = false;
            inner.items.push_back(Event::Resync);
        }
        inner.items.push_back(event);
        inner.closed = true;
        drop(inner);
        self.queue.ready.notify_all();
    }

    /// Ends the queue: the consumer gets what is queued (and a pending
    /// resync), then [`Error::Client`]`(ClientClosed)`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.queue.ready.notify_all();
    }

    /// The next event, waiting up to `timeout` (`None`: as long as it
    /// takes; `Some(ZERO)`: only what is queued). `Ok(None)` when the
    /// timeout passed; `Err(ClientClosed)` once the queue is closed and
    /// drained. A blocking wait on a runtime thread is refused.
    pub fn next(&self, timeout: Option<Duration>) -> Result<Option<Event>> {
        if self.pid != runtime::current_pid() {
            return Err(Error::Forked);
        }
        if timeout != Some(Duration::ZERO) && runtime::on_runtime_thread() {
            return Err(Error::OnRuntimeThread);
        }
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut inner = self.lock();
        loop {
            if let Some(event) = inner.items.pop_front() {
                return Ok(Some(event));
            }
            if inner.overflowed {
                inner.overflowed = false;
                return Ok(Some(Event::Resync));
            }
            if inner.closed {
                return Err(Error::Client(corral::Error::ClientClosed));
            }
            inner = match deadline {
                None => self
                    .queue
                    .ready
                    .wait(inner)
                    .unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    self.queue
                        .ready
                        .wait_timeout(inner, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// The number of queued events.
    pub fn len(&self) -> usize {
        self.lock().items.len()
    }

    /// Whether no event is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Calls `callback` for every event of `queue`, in order, on a new thread
/// named `corral-events`, until the queue is closed and drained. A
/// panicking callback is logged and delivery goes on.
pub(crate) fn spawn_delivery_thread(
    queue: EventQueue,
    mut callback: Box<dyn FnMut(Event) + Send + 'static>,
) -> std::thread::JoinHandle<()> {
    std::thread::Builder::new()
        .name("corral-events".into())
        .spawn(move || {
            while let Ok(Some(event)) = queue.next(None) {
                let delivered =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(event)));
                if delivered.is_err() {
                    tracing::error!("an event callback panicked; delivery goes on");
                }
            }
        })
        .expect("spawning the corral-events thread failed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(s: SessionState) -> Event {
        Event::Session(s)
    }

    #[test]
    fn overflow_drops_then_resyncs_once_then_delivers_again() {
        let queue = EventQueue::new(2);
        assert!(queue.push(state(SessionState::Connecting)));
        assert!(queue.push(state(SessionState::Connected)));
        assert!(!queue.push(state(SessionState::Disconnected)), "full");
        // Once overflowed, later events are dropped too (the resync covers them).
        let _ = queue.queue.inner.lock().unwrap().items.pop_front();
        assert!(!queue.push(state(SessionState::Connected)));
        let now = Some(Duration::ZERO);
        assert_eq!(
            queue.next(now).unwrap(),
            Some(state(SessionState::Connected))
        );
        assert_eq!(queue.next(now).unwrap(), Some(Event::Resync));
        assert_eq!(queue.next(now).unwrap(), None);
        assert!(queue.push(state(SessionState::Disconnected)));
        assert_eq!(
            queue.next(now).unwrap(),
            Some(state(SessionState::Disconnected))
        );
    }

    #[test]
    fn the_last_event_closes_the_queue_after_a_resync() {
        let queue = EventQueue::new(1);
        assert!(queue.push(state(SessionState::Connected)));
        assert!(!queue.push(state(SessionState::Disconnected)));
        queue.push_last(state(SessionState::Closed));
        assert!(!queue.push(state(SessionState::Connected)), "closed");
        let now = Some(Duration::ZERO);
        let mut got = Vec::new();
        while let Ok(Some(event)) = queue.next(now) {
            got.push(event);
        }
        assert_eq!(got.last(), Some(&state(SessionState::Closed)));
        assert!(got.contains(&Event::Resync), "{got:?}");
        assert!(got.len() <= 3, "bounded: {got:?}");
        assert!(matches!(
            queue.next(now),
            Err(Error::Client(corral::Error::ClientClosed))
        ));
    }

    #[test]
    fn a_blocked_consumer_wakes_for_a_push_from_another_thread() {
        let queue = EventQueue::new(8);
        let producer = queue.clone();
        let thread = std::thread::spawn(move || producer.push(Event::Resync));
        assert_eq!(queue.next(None).unwrap(), Some(Event::Resync));
        assert!(thread.join().unwrap());
    }
}
