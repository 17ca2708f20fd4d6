//! corral-ffi: Corral's C ABI (`include/corral.h`), a thin mapping over
//! `corral-embed`: each exported function checks and converts its
//! arguments, makes one embed (or core) call, waits for it on the caller's
//! thread, and converts the result. No coordination behaviour lives here.
//!
//! - [`result`]: `corral_result` codes, the per-thread last error, and the
//!   `catch_unwind` boundary every export runs in.
//! - [`memory`]: C strings and buffers in; library allocations out, each
//!   with its one free function.
//! - [`cancel`]: `corral_canceller`, to cancel a blocking call from another
//!   thread.
//! - [`client`]: connect, close, detach, the node operations, session token.
//! - [`acl`]: ACLs on create, get and set ACL, addAuth.
//! - [`event`]: watch and session events, pull (`corral_watcher_next`) and
//!   callback forms.
//! - [`latch`]: the leader latch recipe (fencing token, leader
//!   observation, leadership events).
//! - [`log`]: `corral_set_log_callback`, records on the `corral-log` thread.
//! - [`mutex`]: the mutex recipe and its lease (fencing token, release,
//!   loss events).
//!
//! The conventions for C callers are at the top of `include/corral.h`
//! (from `cbindgen.toml`) and in `ffi/README.md`.

// The only crate of the workspace allowed `unsafe`: a C ABI dereferences
// raw pointers and hands out allocations by pointer. Every `unsafe fn`
// states what the C caller must guarantee.
#![allow(unsafe_code)]
// C names (`corral_client`, `corral_result`) are the ABI.
#![allow(non_camel_case_types)]
#![warn(missing_docs)]
// Exported functions document their contract for C in prose ("# Safety").
#![allow(clippy::missing_safety_doc)]

pub mod acl;
pub mod cancel;
pub mod client;
pub mod event;
pub mod latch;
pub mod log;
pub mod memory;
pub mod mutex;
pub mod result;

use std::ffi::c_char;

/// The library's version (`"0.1.0"`), a static NUL-terminated string:
/// do not free it.
#[no_mangle]
pub extern "C" fn corral_version() -> *const c_char {
    // Built at compile time from the crate's version, NUL added.
    const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast::<c_char>()
}

/// The handles are documented as usable from many threads at once: that
/// holds only if they are `Send + Sync`, which this checks at compile time.
const _: fn() = || {
    fn usable_from_any_thread<T: Send + Sync>() {}
    usable_from_any_thread::<client::corral_client>();
    usable_from_any_thread::<event::corral_watcher>();
    usable_from_any_thread::<mutex::corral_mutex>();
    usable_from_any_thread::<mutex::corral_lease>();
    usable_from_any_thread::<latch::corral_leader_latch>();
    usable_from_any_thread::<cancel::corral_canceller>();
};
