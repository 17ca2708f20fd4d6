//! The leader latch recipe (`corral_leader_latch`, Curator's LeaderLatch
//! layout): join, wait for leadership with its fencing token, observe the
//! leader, be told of every change as an event, leave.

use std::ffi::c_char;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use corral::recipes::{LatchState, LeaderLatch};
use corral_embed::{runtime, Call, Error};

use crate::client::{corral_client, handle};
use crate::memory::{out, put, string, text};
use crate::result::{boundary, corral_result, Failure};

/// A leader latch participant's state.
#[repr(i32)]
#[derive(Debug, Clone, Copy)]
pub enum corral_latch_state {
    /// Taking part, not leading (also while disconnected: leadership is
    /// unknown then).
    Follower = 0,
    /// Leading, with a fencing token.
    Leader = 1,
    /// Closed, or the session ended.
    Closed = 2,
}

pub(crate) fn latch_state(state: LatchState) -> (i32, i64) {
    match state {
        LatchState::Follower => (corral_latch_state::Follower as i32, 0),
        LatchState::Leader { fencing_token } => (corral_latch_state::Leader as i32, fencing_token),
        LatchState::Closed => (corral_latch_state::Closed as i32, 0),
    }
}

/// A participant in a leader latch: it stays in the race (following its
/// predecessor in the background, across reconnections) until
/// `corral_leader_latch_close` or `corral_leader_latch_free`.
///
/// Thread-safety: may be used from many threads at once, except that
/// `corral_leader_latch_close` fails with `CORRAL_RESULT_BAD_ARGUMENTS`
/// while another call on the handle is waiting; `corral_leader_latch_free`
/// must be the last call.
pub struct corral_leader_latch {
    latch: StdMutex<Option<Arc<LeaderLatch>>>,
    pid: u32,
}

unsafe fn latch(latch: *const corral_leader_latch) -> Result<Arc<LeaderLatch>, Failure> {
    let latch = latch.as_ref().ok_or_else(|| Failure::null("latch"))?;
    if latch.pid != runtime::current_pid() {
        return Err(Error::Forked.into());
    }
    let held = latch.latch.lock().unwrap_or_else(|p| p.into_inner());
    held.clone()
        .ok_or_else(|| Failure::new(corral_result::BadArguments, "leader latch already closed"))
}

/// Joins the leader latch at `path` as participant `id` (stored in its
/// node, shown to observers) and returns once its node exists: `*latch_out`
/// gets the handle (free with `corral_leader_latch_free`).
///
/// # Safety
/// Pointers must be NULL or valid; `latch_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_leader_latch_start(
    client: *const corral_client,
    path: *const c_char,
    id: *const c_char,
    latch_out: *mut *mut corral_leader_latch,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?.to_owned();
        let id = text(id, "id")?.to_owned();
        out(latch_out, "latch_out")?;
        let latch = client
            .inner
            .call(|c| async move { LeaderLatch::start(&c, &path, &id).await })
            .wait(None)?;
        latch_out.write(Box::into_raw(Box::new(corral_leader_latch {
            latch: StdMutex::new(Some(Arc::new(latch))),
            pid: runtime::current_pid(),
        })));
        Ok(())
    })
}

/// The participant's state now (`corral_latch_state`) and, when leading,
/// its fencing token (the latch node's czxid, larger for every later
/// leader; 0 otherwise). Either out-pointer may be NULL.
///
/// # Safety
/// Pointers must be NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn corral_leader_latch_state(
    latch: *const corral_leader_latch,
    state_out: *mut i32,
    fencing_token_out: *mut i64,
) -> corral_result {
    boundary(|| {
        let (state, token) = latch_state(self::latch(latch)?.state());
        put(state_out, state);
        put(fencing_token_out, token);
        Ok(())
    })
}

/// Waits until this participant leads, at most `timeout_ms` milliseconds
/// (negative: as long as it takes): `*fencing_token_out` gets the
/// leadership's fencing token. `CORRAL_RESULT_TIMED_OUT` if it did not
/// lead in time; the session's end code if the session ended.
///
/// # Safety
/// Pointers must be NULL or valid; `fencing_token_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_leader_latch_wait(
    latch: *const corral_leader_latch,
    timeout_ms: i64,
    fencing_token_out: *mut i64,
) -> corral_result {
    boundary(|| {
        let latch = self::latch(latch)?;
        out(fencing_token_out, "fencing_token_out")?;
        let timeout = u64::try_from(timeout_ms).ok().map(Duration::from_millis);
        let token = Call::spawn(async move {
            match timeout {
                Some(t) => latch.wait_leadership_timeout(t).await,
                None => latch.wait_leadership().await.map(Some),
            }
            .map_err(Error::from)
        })
        .wait(None)?;
        match token {
            Some(token) => {
                fencing_token_out.write(token);
                Ok(())
            }
            None => Err(Failure::new(
                corral_result::TimedOut,
                "not leading within the timeout",
            )),
        }
    })
}

/// The current leader's participant id (leader observation): `*id_out`
/// gets it (free with `corral_string_free`), or NULL when nobody leads.
///
/// # Safety
/// Pointers must be NULL or valid; `id_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_leader_latch_leader(
    latch: *const corral_leader_latch,
    id_out: *mut *mut c_char,
) -> corral_result {
    boundary(|| {
        let latch = self::latch(latch)?;
        out(id_out, "id_out")?;
        let leader =
            Call::spawn(async move { latch.leader().await.map_err(Error::from) }).wait(None)?;
        id_out.write(leader.map_or(std::ptr::null_mut(), |p| string(p.id)));
        Ok(())
    })
}

/// Reports every state change of `latch` (follower, leader with its
/// token, closed) as a `CORRAL_EVENT_KIND_LEADERSHIP` event of `client`
/// (the latch's client) with the id `*watch_out` gets, starting with the
/// current state. `corral_client_remove_watch` stops it.
///
/// # Safety
/// Pointers must be NULL or valid; `watch_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_client_watch_latch(
    client: *const corral_client,
    latch: *const corral_leader_latch,
    watch_out: *mut u64,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let latch = self::latch(latch)?;
        out(watch_out, "watch_out")?;
        watch_out.write(client.inner.watch_latch(&latch)?);
        Ok(())
    })
}

/// Leaves the race: stops following and deletes this participant's node
/// (a leader hands over to the next), and waits. Later calls on the handle
/// fail with `CORRAL_RESULT_BAD_ARGUMENTS`; it must still be freed.
///
/// # Safety
/// `latch` must be NULL or a live handle.
#[no_mangle]
pub unsafe extern "C" fn corral_leader_latch_close(
    latch: *const corral_leader_latch,
) -> corral_result {
    boundary(|| {
        let handle = latch.as_ref().ok_or_else(|| Failure::null("latch"))?;
        if handle.pid != runtime::current_pid() {
            return Err(Error::Forked.into());
        }
        let mut held = handle.latch.lock().unwrap_or_else(|p| p.into_inner());
        let shared = held.take().ok_or_else(|| {
            Failure::new(corral_result::BadArguments, "leader latch already closed")
        })?;
        let owned = match Arc::try_unwrap(shared) {
            Ok(owned) => owned,
            Err(shared) => {
                *held = Some(shared);
                return Err(Failure::new(
                    corral_result::BadArguments,
                    "another call on this leader latch is still running",
                ));
            }
        };
        drop(held);
        Call::spawn(async move { owned.close().await.map_err(Error::from) }).wait(None)?;
        Ok(())
    })
}

/// Frees a latch handle; a latch not closed leaves the race in the
/// background (its node is deleted). NULL is ignored.
///
/// # Safety
/// `latch` must be NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn corral_leader_latch_free(latch: *mut corral_leader_latch) {
    crate::result::guard((), || {
        if !latch.is_null() {
            drop(Box::from_raw(latch));
        }
    })
}
