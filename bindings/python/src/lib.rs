//! `corral._native`: the Python binding's native module. Each function
//! extracts arguments, calls `corral-embed` (and through it `corral`),
//! and converts the result or error; the Python package (`python/corral`)
//! adds only sugar (context managers, named tuples).
//!
//! - [`client`]: `NativeClient`, kazoo's verbs as blocking calls that
//!   release the GIL and stop on Ctrl-C.
//! - [`lock`]: `NativeLock`, core's Curator-layout mutex.
//! - [`watches`]: watch callbacks and session listeners, run on the
//!   client's `corral-events` thread under the GIL.
//! - [`error`]: the exception classes, made from the error table.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use corral_embed::{Call, Canceller};
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

mod barrier;
mod client;
mod error;
mod lock;
mod watches;

/// How often a blocked call checks for Ctrl-C (and other signals).
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Waits for `call` with the GIL released. A signal handler that raises
/// (Ctrl-C's `KeyboardInterrupt`) cancels the call and its exception is
/// raised; any other failure becomes the error's exception class.
pub(crate) fn wait<T: Send + 'static>(py: Python<'_>, call: Call<T>) -> PyResult<T> {
    let mut signal: Option<PyErr> = None;
    let result = py.detach(|| {
        call.wait_interruptible(None, SIGNAL_POLL, || {
            if EXITING_FLAG.load(Ordering::SeqCst) {
                return false;
            }
            Python::attach(|py| match py.check_signals() {
                Ok(()) => false,
                Err(err) => {
                    signal = Some(err);
                    true
                }
            })
        })
    });
    match (result, signal) {
        (Ok(value), _) => Ok(value),
        (Err(_), Some(signal)) => Err(signal),
        (Err(err), None) => Err(error::to_py(py, err)),
    }
}

/// Set (under the write lock) by `_shutdown`, which the package registers
/// with `atexit`: from then on, threads that are not Python's own (the
/// `corral-events` and `corral-complete` threads) never attach again.
/// Attaching while the interpreter finalizes crashes CPython before 3.13,
/// and pyo3 cannot check for it under abi3-py39. Such threads attach only
/// while holding the read lock, so once `_shutdown` holds the write lock
/// none is attached or about to attach.
static EXITING: RwLock<bool> = RwLock::new(false);
/// The same flag, read without the lock where a thread that may already
/// hold the read lock checks it (a callback making a blocking call).
static EXITING_FLAG: AtomicBool = AtomicBool::new(false);

/// Runs `f` attached to Python from a thread of ours, unless the
/// interpreter is exiting (then `None`, and `f` is dropped unrun).
pub(crate) fn attach_unless_exiting<R>(f: impl for<'py> FnOnce(Python<'py>) -> R) -> Option<R> {
    let exiting = EXITING.read().unwrap_or_else(|p| p.into_inner());
    if *exiting {
        return None;
    }
    let result = Python::attach(f);
    drop(exiting);
    Some(result)
}

/// Stops every later callback from Rust threads (registered with
/// `atexit` by the package).
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    // Detached: a callback running under the read lock needs the GIL to
    // finish.
    py.detach(|| {
        let mut exiting = EXITING.write().unwrap_or_else(|p| p.into_inner());
        *exiting = true;
        EXITING_FLAG.store(true, Ordering::SeqCst);
    });
}

/// Converts a Rust value into a Python object.
pub(crate) fn obj<'py, T: IntoPyObject<'py>>(py: Python<'py>, value: T) -> PyResult<Py<PyAny>> {
    Ok(value.into_bound_py_any(py)?.unbind())
}

/// Cancels one asynchronous call (asyncio task cancellation).
#[pyclass(module = "corral._native")]
pub struct NativeCanceller(Canceller);

#[pymethods]
impl NativeCanceller {
    /// Cancels the call: its future is dropped where it stands (a lock
    /// waiter removes its node); `done` gets `CancelledError` unless the
    /// call had already completed.
    fn cancel(&self) {
        self.0.cancel();
    }
}

/// Finishes `call` the one way the caller asked: without `done`, waits
/// (see [`wait`]) and returns the converted result; with `done`, returns a
/// `NativeCanceller` at once and later calls `done(True, result)` or
/// `done(False, exception)` on embed's `corral-complete` thread (asyncio
/// schedules it onto its loop with `call_soon_threadsafe`).
pub(crate) fn finish<T, F>(
    py: Python<'_>,
    call: Call<T>,
    done: Option<Py<PyAny>>,
    convert: F,
) -> PyResult<Py<PyAny>>
where
    T: Send + 'static,
    F: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let Some(done) = done else {
        let value = wait(py, call)?;
        return convert(py, value);
    };
    let canceller = NativeCanceller(call.canceller());
    call.on_complete(move |result| {
        attach_unless_exiting(|py| {
            let outcome = result
                .map_err(|e| error::to_py(py, e))
                .and_then(|value| convert(py, value));
            let delivered = match outcome {
                Ok(value) => done.call1(py, (true, value)),
                Err(err) => done.call1(py, (false, err.into_value(py))),
            };
            if let Err(err) = delivered {
                err.print(py);
            }
        });
    });
    obj(py, canceller)
}

/// Milliseconds from Python as a duration (`None` stays `None`).
pub(crate) fn millis(ms: Option<u64>) -> Option<Duration> {
    ms.map(Duration::from_millis)
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    error::register(module)?;
    module.add_class::<client::NativeClient>()?;
    module.add_class::<lock::NativeLock>()?;
    module.add_class::<NativeCanceller>()?;
    module.add_class::<barrier::NativeBarrier>()?;
    module.add_function(wrap_pyfunction!(_shutdown, module)?)?;
    Ok(())
}
