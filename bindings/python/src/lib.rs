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

use corral_embed::Call;
use pyo3::prelude::*;

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

/// Milliseconds from Python as a duration (`None` stays `None`).
pub(crate) fn millis(ms: Option<u64>) -> Option<Duration> {
    ms.map(Duration::from_millis)
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    error::register(module)?;
    module.add_class::<client::NativeClient>()?;
    module.add_class::<lock::NativeLock>()?;
    Ok(())
}
