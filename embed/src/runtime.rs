//! The process-wide tokio runtime every embedded client runs on, and the
//! process id that tells a forked child from its parent.
//!
//! The runtime is built on first use (multi-thread, workers named
//! `corral-io`), so a host language that never connects pays nothing, and
//! its session tasks keep pinging while the host does nothing (no call into
//! Rust is needed to drive them).
//!
//! After `fork()`, a child has a copy of the parent's memory but none of
//! its threads: the runtime's workers are gone and its epoll and eventfd
//! descriptors are shared with the parent. Touching them from the child
//! would at best hang and at worst wake the parent's reactor. So the child
//! never uses the inherited runtime: [`handle`] notices that the process id
//! changed, leaks the old runtime (dropping it would join threads that do
//! not exist) and builds a new one. Objects made in the parent compare
//! their creation pid with [`current_pid`] and refuse to work in a child.
//! Comparing process ids needs no `unsafe` and no `pthread_atfork`.

use std::sync::{Arc, Mutex, MutexGuard};

use tokio::runtime::{Builder, Handle, Runtime};

/// Names of the runtime's worker threads.
pub const WORKER_THREAD_NAME: &str = "corral-io";

/// Worker threads of the shared runtime: two, or the number of CPUs if
/// lower. Coordination traffic is light; a binding's process usually has
/// its own work to do on the other cores.
const WORKER_THREADS_MAX: usize = 2;

struct Shared {
    pid: u32,
    runtime: Arc<Runtime>,
}

static RUNTIME: Mutex<Option<Shared>> = Mutex::new(None);

fn lock() -> MutexGuard<'static, Option<Shared>> {
    // A panic while holding this lock cannot leave the Option half-written.
    RUNTIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// This process's id (read each time: it changes in a forked child).
pub fn current_pid() -> u32 {
    std::process::id()
}

/// The shared runtime's handle, building the runtime on first use and
/// again in a forked child (the parent's is left untouched).
pub fn handle() -> Handle {
    runtime().handle().clone()
}

/// The shared runtime (see [`handle`]).
pub fn runtime() -> Arc<Runtime> {
    let pid = current_pid();
    let mut shared = lock();
    if let Some(existing) = shared.as_ref() {
        if existing.pid == pid {
            return Arc::clone(&existing.runtime);
        }
        // Forked: the parent's runtime has no threads here. Leak it; never
        // drop, shut down or enter it.
        if let Some(inherited) = shared.take() {
            std::mem::forget(inherited);
        }
        tracing::debug!(pid, "fork detected: building a new runtime");
    }
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(WORKER_THREADS_MAX);
    let runtime = Arc::new(
        Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name(WORKER_THREAD_NAME)
            .enable_all()
            .build()
            .expect("building the corral-io runtime (threads, epoll) failed"),
    );
    *shared = Some(Shared {
        pid,
        runtime: Arc::clone(&runtime),
    });
    runtime
}

/// Whether the calling thread is inside a tokio runtime (any runtime:
/// blocking there would stall its other tasks, and blocking on a task of
/// the same runtime can deadlock it).
pub fn on_runtime_thread() -> bool {
    Handle::try_current().is_ok()
}
