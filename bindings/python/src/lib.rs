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

use std::time::Duration;

use corral_embed::{Call, Canceller};
use pyo3::prelude::*;
use pyo3::IntoPyObjectExt;

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
        Python::attach(|py| {
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
        })
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
    Ok(())
}
