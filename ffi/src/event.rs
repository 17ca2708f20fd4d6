//! Events: `corral_event`, the pull form (`corral_watcher`,
//! `corral_watcher_next`) and the callback form (run on the client's
//! `corral-events` thread). Both are fed by corral-embed's one ordered,
//! bounded queue per client.

use std::ffi::{c_char, c_void, CString};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use corral::client::SessionState;
use corral::recipes::LostReason;
use corral_embed::{Delivery, Event, EventQueue};

use crate::client::handle;
use crate::memory::{out, string};
use crate::result::{boundary, corral_result, Failure};

/// What a `corral_event` is about.
#[repr(i32)]
#[derive(Debug, Clone, Copy)]
pub enum corral_event_kind {
    /// The session changed state: see `session_state`.
    Session = 1,
    /// A watch fired or ended: `watch`, `event_type`, `keeper_state`, `path`.
    Watch = 2,
    /// A lease watched with `corral_client_watch_lease` was lost: `watch`,
    /// `path`, and `session_state` (`CORRAL_SESSION_STATE_CONNECTED` when
    /// its node was deleted, else the state that ended the session).
    LeaseLost = 3,
    /// Events were dropped because the queue was full: re-read whatever
    /// you watch, then carry on.
    Resync = 4,
    /// An event of a kind this version of the ABI does not describe.
    Other = 5,
    /// A leader latch watched with `corral_client_watch_latch` changed
    /// state: `watch`, `latch_state`, `fencing_token`.
    Leadership = 6,
}

/// A session's state.
#[repr(i32)]
#[derive(Debug, Clone, Copy)]
pub enum corral_session_state {
    /// The first connection is being established.
    Connecting = 0,
    /// Connected to a server that serves reads and writes.
    Connected = 1,
    /// Connected to a read-only server.
    ConnectedReadOnly = 2,
    /// Connection lost; reconnecting with the same session.
    Disconnected = 3,
    /// The session expired (terminal).
    Expired = 4,
    /// The client was closed or detached (terminal).
    Closed = 5,
    /// The server refused the credentials (terminal).
    AuthFailed = 6,
}

/// A watch event's type, ZooKeeper's numbers unchanged.
#[repr(i32)]
#[derive(Debug, Clone, Copy)]
pub enum corral_event_type {
    /// The watch ended with the session (`keeper_state` says why).
    None = -1,
    /// The node was created.
    NodeCreated = 1,
    /// The node was deleted.
    NodeDeleted = 2,
    /// The node's data changed.
    NodeDataChanged = 3,
    /// The node's children changed.
    NodeChildrenChanged = 4,
    /// A data watch was removed.
    DataWatchRemoved = 5,
    /// A child watch was removed.
    ChildWatchRemoved = 6,
    /// A persistent watch was removed.
    PersistentWatchRemoved = 7,
}

/// One event. The integer fields hold values of the enums named in their
/// documentation (fields are `int32_t` so that a newer library's values
/// never break an older program). `path` is owned by the event: release it
/// with `corral_event_clear` (pull form); in the callback form the library
/// frees it after the callback returns.
#[repr(C)]
#[derive(Debug)]
pub struct corral_event {
    /// A `corral_event_kind`.
    pub kind: i32,
    /// The id of the watch (or lease watch) this event is about; 0 for
    /// session and resync events.
    pub watch: u64,
    /// A `corral_session_state`: the new state for session events, the
    /// ending state for lease-lost events; -1 otherwise.
    pub session_state: i32,
    /// A `corral_event_type` for watch events; 0 otherwise.
    pub event_type: i32,
    /// ZooKeeper's keeper state number for watch events (3 SyncConnected,
    /// -112 Expired, 7 Closed...); 0 otherwise.
    pub keeper_state: i32,
    /// The node (relative to the chroot) for watch and lease-lost events;
    /// NULL otherwise.
    pub path: *mut c_char,
    /// A `corral_latch_state` for leadership events; -1 otherwise.
    pub latch_state: i32,
    /// The fencing token of a leadership event whose state is
    /// `CORRAL_LATCH_STATE_LEADER`; 0 otherwise.
    pub fencing_token: i64,
}

fn session_state(state: SessionState) -> i32 {
    (match state {
        SessionState::Connecting => corral_session_state::Connecting,
        SessionState::Connected => corral_session_state::Connected,
        SessionState::ConnectedReadOnly => corral_session_state::ConnectedReadOnly,
        SessionState::Disconnected => corral_session_state::Disconnected,
        SessionState::Expired => corral_session_state::Expired,
        SessionState::Closed => corral_session_state::Closed,
        SessionState::AuthFailed => corral_session_state::AuthFailed,
        #[allow(unreachable_patterns)]
        _ => return -1,
    }) as i32
}

impl corral_event {
    fn empty(kind: corral_event_kind) -> corral_event {
        corral_event {
            kind: kind as i32,
            watch: 0,
            session_state: -1,
            event_type: 0,
            keeper_state: 0,
            path: std::ptr::null_mut(),
            latch_state: -1,
            fencing_token: 0,
        }
    }

    /// The C form of an embed event; its path is allocated here.
    fn from_event(event: Event) -> corral_event {
        match event {
            Event::Session(state) => corral_event {
                session_state: session_state(state),
                ..corral_event::empty(corral_event_kind::Session)
            },
            Event::Watch { watch, event } => corral_event {
                watch,
                event_type: event.event_type.code(),
                keeper_state: event.state.code(),
                path: string(event.path),
                ..corral_event::empty(corral_event_kind::Watch)
            },
            Event::LeaseLost {
                watch,
                path,
                reason,
            } => corral_event {
                watch,
                session_state: match reason {
                    LostReason::NodeDeleted => corral_session_state::Connected as i32,
                    LostReason::SessionEnded(state) => session_state(state),
                },
                path: string(path),
                ..corral_event::empty(corral_event_kind::LeaseLost)
            },
            Event::Leadership { watch, state } => {
                let (latch_state, fencing_token) = crate::latch::latch_state(state);
                corral_event {
                    watch,
                    latch_state,
                    fencing_token,
                    ..corral_event::empty(corral_event_kind::Leadership)
                }
            }
            Event::Resync => corral_event::empty(corral_event_kind::Resync),
            _ => corral_event::empty(corral_event_kind::Other),
        }
    }

    /// Frees the path and resets the pointer.
    fn clear(&mut self) {
        if !self.path.is_null() {
            // SAFETY: the path was made by `string` (CString::into_raw).
            drop(unsafe { CString::from_raw(self.path) });
            self.path = std::ptr::null_mut();
        }
    }
}

/// A function the library calls with every event of one client, in order,
/// on the client's `corral-events` thread; `event` is valid only during
/// the call.
pub type corral_event_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event: *const corral_event)>;

/// Whether a client's callback may still be called: the delivery thread
/// holds the lock while calling it, and `corral_client_free` closes it, so
/// that after free no call runs or starts.
#[derive(Clone, Default)]
pub(crate) struct Gate {
    closed: Arc<StdMutex<bool>>,
}

impl Gate {
    /// Waits for a call in progress, then stops all later ones.
    pub(crate) fn close(&self) {
        *self.closed.lock().unwrap_or_else(|p| p.into_inner()) = true;
    }
}

/// A C callback and its user data, moved to the delivery thread.
pub(crate) struct Callback {
    function: unsafe extern "C" fn(*mut c_void, *const corral_event),
    userdata: *mut c_void,
}

// SAFETY: `corral_client_connect` documents that `userdata` is used from
// the `corral-events` thread; the caller vouches that this is safe.
unsafe impl Send for Callback {}

impl Callback {
    pub(crate) fn new(
        function: unsafe extern "C" fn(*mut c_void, *const corral_event),
        userdata: *mut c_void,
    ) -> Callback {
        Callback { function, userdata }
    }

    pub(crate) fn delivery(self, gate: Gate) -> Delivery {
        let callback = self;
        Delivery::Callback(Box::new(move |event| {
            let callback = &callback;
            let closed = gate.closed.lock().unwrap_or_else(|p| p.into_inner());
            if *closed {
                return;
            }
            let mut event = corral_event::from_event(event);
            // SAFETY: the caller of `corral_client_connect` provided this
            // function for exactly this call.
            unsafe { (callback.function)(callback.userdata, &event) };
            drop(closed);
            event.clear();
        }))
    }
}

/// The pull form of a client's event queue.
///
/// Thread-safety: `corral_watcher_next` may be called from several
/// threads (each event goes to one of them); `corral_watcher_free` must
/// be the last call on a handle. A watcher stays valid after its client
/// is freed: it returns what was queued, then `CORRAL_RESULT_CLOSING`.
pub struct corral_watcher {
    queue: EventQueue,
}

/// Takes the pull queue of a client connected without a callback:
/// `*watcher_out` gets a handle to free with `corral_watcher_free`. A
/// client may hand out several handles; they share one queue. Fails with
/// `CORRAL_RESULT_BAD_ARGUMENTS` for a client with a callback.
///
/// # Safety
/// Pointers must be NULL or valid; `watcher_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_client_events(
    client: *const crate::client::corral_client,
    watcher_out: *mut *mut corral_watcher,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        out(watcher_out, "watcher_out")?;
        let queue = client.inner.events().cloned().ok_or_else(|| {
            Failure::new(
                corral_result::BadArguments,
                "this client delivers its events to a callback",
            )
        })?;
        watcher_out.write(Box::into_raw(Box::new(corral_watcher { queue })));
        Ok(())
    })
}

/// Waits for the client's next event, at most `timeout_ms` milliseconds
/// (0: only what is already queued; negative: as long as it takes), and
/// writes it to `*event_out` (release its path with `corral_event_clear`).
///
/// Returns `CORRAL_RESULT_TIMED_OUT` when nothing came in time (the event
/// is left untouched), `CORRAL_RESULT_CLOSING` once the client has ended
/// and every event was taken, and `CORRAL_RESULT_WOULD_DEADLOCK` when
/// called with a non-zero timeout on a library thread (from an event or
/// completion callback).
///
/// # Safety
/// Pointers must be NULL or valid; `event_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_watcher_next(
    watcher: *const corral_watcher,
    timeout_ms: i64,
    event_out: *mut corral_event,
) -> corral_result {
    boundary(|| {
        let watcher = watcher.as_ref().ok_or_else(|| Failure::null("watcher"))?;
        out(event_out, "event_out")?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        match watcher.queue.next(timeout)? {
            Some(event) => {
                event_out.write(corral_event::from_event(event));
                Ok(())
            }
            None => Err(Failure::new(
                corral_result::TimedOut,
                "no event within the timeout",
            )),
        }
    })
}

/// Frees the path of an event filled by `corral_watcher_next` and sets it
/// to NULL (so clearing twice is harmless). NULL is ignored.
///
/// # Safety
/// `event` must be NULL or an event filled by `corral_watcher_next` (or
/// zero-initialised).
#[no_mangle]
pub unsafe extern "C" fn corral_event_clear(event: *mut corral_event) {
    crate::result::guard((), || {
        if let Some(event) = event.as_mut() {
            event.clear();
        }
    })
}

/// Frees a watcher handle. NULL is ignored.
///
/// # Safety
/// `watcher` must be NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn corral_watcher_free(watcher: *mut corral_watcher) {
    crate::result::guard((), || {
        if !watcher.is_null() {
            drop(Box::from_raw(watcher));
        }
    })
}
