//! The mutex recipe (`corral_mutex`, Curator's InterProcessMutex layout)
//! and its grant (`corral_lease`: fencing token, release, loss events).

use std::ffi::c_char;
use std::sync::Mutex as StdMutex;
use std::time::Duration;

use corral::recipes::{Lease, Mutex, Released};
use corral_embed::{runtime, Call, Error};

use crate::client::{corral_client, handle};
use crate::memory::{out, put, string, text};
use crate::result::{boundary, corral_result, Failure};

/// A distributed mutex on a path (Curator's layout: ephemeral sequential
/// `lock-` nodes under it), bound to the session of the client it was
/// made from.
///
/// Thread-safety: may be used from many threads at once; only one lease
/// is granted at a time per path across all clients (a second acquire on
/// the same handle while its lease is held fails with
/// `CORRAL_RESULT_BAD_ARGUMENTS`, as the lock is not re-entrant).
/// `corral_mutex_free` must be the last call on a handle; a mutex may be
/// freed while its leases live, and the client while the mutex lives (the
/// mutex keeps the session's connection in use until freed).
pub struct corral_mutex {
    mutex: Mutex,
    pid: u32,
}

/// A held grant: the lock node, with its fencing token.
///
/// Thread-safety: may be used from many threads at once;
/// `corral_lease_free` must be the last call.
pub struct corral_lease {
    lease: StdMutex<Option<Lease>>,
    fencing_token: i64,
    path: String,
}

impl corral_lease {
    fn new(lease: Lease) -> *mut corral_lease {
        Box::into_raw(Box::new(corral_lease {
            fencing_token: lease.fencing_token(),
            path: lease.path().to_owned(),
            lease: StdMutex::new(Some(lease)),
        }))
    }
}

unsafe fn mutex<'a>(mutex: *const corral_mutex) -> Result<&'a corral_mutex, Failure> {
    let mutex = mutex.as_ref().ok_or_else(|| Failure::null("mutex"))?;
    if mutex.pid != runtime::current_pid() {
        return Err(Error::Forked.into());
    }
    Ok(mutex)
}

unsafe fn lease<'a>(lease: *const corral_lease) -> Result<&'a corral_lease, Failure> {
    lease.as_ref().ok_or_else(|| Failure::null("lease"))
}

/// A mutex on `path` (which need not exist yet) for `client`'s session:
/// `*mutex_out` gets a handle to free with `corral_mutex_free`.
///
/// # Safety
/// Pointers must be NULL or valid; `mutex_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_mutex_new(
    client: *const corral_client,
    path: *const c_char,
    mutex_out: *mut *mut corral_mutex,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let path = text(path, "path")?;
        out(mutex_out, "mutex_out")?;
        corral::path::validate_path(path)
            .map_err(|e| Failure::new(corral_result::BadArguments, format!("invalid path: {e}")))?;
        let mutex = Mutex::new(client.inner.client()?, path);
        mutex_out.write(Box::into_raw(Box::new(corral_mutex {
            mutex,
            pid: runtime::current_pid(),
        })));
        Ok(())
    })
}

/// Waits until the lock is granted: `*lease_out` gets the lease (free with
/// `corral_lease_free`; release it with `corral_lease_release`).
///
/// # Safety
/// Pointers must be NULL or valid; `lease_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_mutex_acquire(
    mutex: *const corral_mutex,
    lease_out: *mut *mut corral_lease,
) -> corral_result {
    boundary(|| {
        let mutex = self::mutex(mutex)?.mutex.clone();
        out(lease_out, "lease_out")?;
        let lease =
            Call::spawn(async move { mutex.acquire().await.map_err(Error::from) }).wait(None)?;
        lease_out.write(corral_lease::new(lease));
        Ok(())
    })
}

/// As `corral_mutex_acquire`, and cancellable: `corral_canceller_cancel`
/// on `canceller` from another thread makes it return
/// `CORRAL_RESULT_CANCELLED` (its queue node is removed).
///
/// # Safety
/// Pointers must be NULL or valid; `lease_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_mutex_acquire_cancellable(
    mutex: *const corral_mutex,
    canceller: *const crate::cancel::corral_canceller,
    lease_out: *mut *mut corral_lease,
) -> corral_result {
    boundary(|| {
        let mutex = self::mutex(mutex)?.mutex.clone();
        let canceller = canceller
            .as_ref()
            .ok_or_else(|| Failure::null("canceller"))?;
        out(lease_out, "lease_out")?;
        let lease = canceller.wait(Call::spawn(async move {
            mutex.acquire().await.map_err(Error::from)
        }))?;
        lease_out.write(corral_lease::new(lease));
        Ok(())
    })
}

/// As `corral_mutex_acquire`, giving up after `timeout_ms` milliseconds
/// (0: only if free now) with `CORRAL_RESULT_TIMED_OUT` (`*lease_out`
/// untouched; nothing is left behind on the server).
///
/// # Safety
/// Pointers must be NULL or valid; `lease_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_mutex_try_acquire(
    mutex: *const corral_mutex,
    timeout_ms: u32,
    lease_out: *mut *mut corral_lease,
) -> corral_result {
    boundary(|| {
        let mutex = self::mutex(mutex)?.mutex.clone();
        out(lease_out, "lease_out")?;
        let timeout = Duration::from_millis(timeout_ms.into());
        let lease =
            Call::spawn(async move { mutex.try_acquire(timeout).await.map_err(Error::from) })
                .wait(None)?;
        match lease {
            Some(lease) => {
                lease_out.write(corral_lease::new(lease));
                Ok(())
            }
            None => Err(Failure::new(
                corral_result::TimedOut,
                "lock not granted within the timeout",
            )),
        }
    })
}

/// Frees a mutex handle. NULL is ignored.
///
/// # Safety
/// `mutex` must be NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn corral_mutex_free(mutex: *mut corral_mutex) {
    crate::result::guard((), || {
        if !mutex.is_null() {
            drop(Box::from_raw(mutex));
        }
    })
}

/// The lease's fencing token: the czxid of its lock node, strictly larger
/// for every later grant of the same lock. Pass it with every write to the
/// resource the lock guards, so the resource can refuse a stale holder.
///
/// # Safety
/// Pointers must be NULL or valid; `token_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_lease_fencing_token(
    lease: *const corral_lease,
    token_out: *mut i64,
) -> corral_result {
    boundary(|| {
        let lease = self::lease(lease)?;
        out(token_out, "token_out")?;
        token_out.write(lease.fencing_token);
        Ok(())
    })
}

/// The lease's lock node (relative to the chroot); free with
/// `corral_string_free`.
///
/// # Safety
/// Pointers must be NULL or valid; `path_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_lease_path(
    lease: *const corral_lease,
    path_out: *mut *mut c_char,
) -> corral_result {
    boundary(|| {
        let lease = self::lease(lease)?;
        out(path_out, "path_out")?;
        path_out.write(string(lease.path.clone()));
        Ok(())
    })
}

/// Releases the lock: deletes its node (retrying after connection losses)
/// and waits. A lease already lost (node deleted, session ended) is not an
/// error: `*already_lost_out` (may be NULL) says so. Releasing twice fails
/// with `CORRAL_RESULT_BAD_ARGUMENTS`. The handle must still be freed.
///
/// # Safety
/// Pointers must be NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn corral_lease_release(
    lease: *const corral_lease,
    already_lost_out: *mut bool,
) -> corral_result {
    boundary(|| {
        let lease = self::lease(lease)?;
        let held = lease
            .lease
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| Failure::new(corral_result::BadArguments, "lease already released"))?;
        let released =
            Call::spawn(async move { held.release().await.map_err(Error::from) }).wait(None)?;
        put(
            already_lost_out,
            matches!(released, Released::AlreadyLost(_)),
        );
        Ok(())
    })
}

/// Reports the loss of `lease` (its node deleted, or its session ended)
/// as one `CORRAL_EVENT_KIND_LEASE_LOST` event of `client` (the client the
/// lease's mutex was made from) with the id `*watch_out` gets.
/// `corral_client_remove_watch` stops it. Fails with
/// `CORRAL_RESULT_BAD_ARGUMENTS` after `corral_lease_release`.
///
/// # Safety
/// Pointers must be NULL or valid; `watch_out` writable.
#[no_mangle]
pub unsafe extern "C" fn corral_client_watch_lease(
    client: *const corral_client,
    lease: *const corral_lease,
    watch_out: *mut u64,
) -> corral_result {
    boundary(|| {
        let client = handle(client)?;
        let lease = self::lease(lease)?;
        out(watch_out, "watch_out")?;
        let held = lease.lease.lock().unwrap_or_else(|p| p.into_inner());
        let held = held
            .as_ref()
            .ok_or_else(|| Failure::new(corral_result::BadArguments, "lease already released"))?;
        watch_out.write(client.inner.watch_lease(held)?);
        Ok(())
    })
}

/// Frees a lease handle. A lease not released is released in the
/// background (its node deleted) as the handle goes. NULL is ignored.
///
/// # Safety
/// `lease` must be NULL or a live handle, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn corral_lease_free(lease: *mut corral_lease) {
    crate::result::guard((), || {
        if !lease.is_null() {
            drop(Box::from_raw(lease));
        }
    })
}
