//! `corral_canceller`: cancels a blocking call from another thread.

use std::sync::Mutex;

use corral_embed::{Call, Canceller};

use crate::result::{corral_result, Failure};

#[derive(Default)]
struct State {
    cancelled: bool,
    running: Option<Canceller>,
}

/// Cancels the blocking calls it is passed to (e.g.
/// `corral_mutex_acquire_cancellable`) from any other thread: such a call
/// returns `CORRAL_RESULT_CANCELLED`. Once cancelled, it stays cancelled:
/// later calls given it return `CORRAL_RESULT_CANCELLED` at once.
///
/// Thread-safety: `corral_canceller_cancel` may be called from any thread
/// at any time; `corral_canceller_free` must come after every call using
/// it has returned.
#[derive(Default)]
pub struct corral_canceller {
    state: Mutex<State>,
}

impl corral_canceller {
    /// Waits for `call`, cancelling it if this canceller fires first (or
    /// has already fired).
    pub(crate) fn wait<T: Send + 'static>(&self, call: Call<T>) -> Result<T, Failure> {
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if state.cancelled {
                call.cancel();
            } else {
                state.running = Some(call.canceller());
            }
        }
        let result = call.wait(None);
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .running
            .take();
        result.map_err(Failure::from)
    }
}

/// A new canceller: `*canceller_out` gets it (free with
/// `corral_canceller_free`).
///
/// # Safety
/// `canceller_out` must be NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn corral_canceller_new(
    canceller_out: *mut *mut corral_canceller,
) -> corral_result {
    crate::result::boundary(|| {
        crate::memory::out(canceller_out, "canceller_out")?;
        canceller_out.write(Box::into_raw(Box::default()));
        Ok(())
    })
}

/// Cancels the call now using `canceller` (if any) and every later one.
/// A cancelled write may still have been applied.
///
/// # Safety
/// `canceller` must be NULL or a live canceller.
#[no_mangle]
pub unsafe extern "C" fn corral_canceller_cancel(
    canceller: *const corral_canceller,
) -> corral_result {
    crate::result::boundary(|| {
        let canceller = canceller
            .as_ref()
            .ok_or_else(|| Failure::null("canceller"))?;
        let running = {
            let mut state = canceller.state.lock().unwrap_or_else(|p| p.into_inner());
            state.cancelled = true;
            state.running.take()
        };
        if let Some(running) = running {
            running.cancel();
        }
        Ok(())
    })
}

/// Frees a canceller. NULL is ignored.
///
/// # Safety
/// `canceller` must be NULL or a live canceller no call is using.
#[no_mangle]
pub unsafe extern "C" fn corral_canceller_free(canceller: *mut corral_canceller) {
    crate::result::guard((), || {
        if !canceller.is_null() {
            drop(Box::from_raw(canceller));
        }
    })
}
