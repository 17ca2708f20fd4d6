//! [`Call`]: one request running on the shared runtime, which the thread
//! that started it (any thread: no runtime needed) waits for, polls while
//! checking for an interruption, hands a completion callback, or cancels.

use std::future::Future;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use tokio::task::AbortHandle;

use crate::error::{Error, Result};
use crate::runtime;

/// A completion callback: gets the call's result, once.
type Callback<T> = Box<dyn FnOnce(Result<T>) + Send + 'static>;

enum State<T> {
    /// Running; a callback may be waiting for the result.
    Pending(Option<Callback<T>>),
    /// Completed; the result until a wait takes it.
    Done(Option<Result<T>>),
}

struct Slot<T> {
    state: Mutex<State<T>>,
    done: Condvar,
}

impl<T: Send + 'static> Slot<T> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the result (the first completion wins: a cancel racing the
    /// reply). A waiting callback is handed to the completion thread, never
    /// run here: this may be a runtime worker.
    fn complete(&self, result: Result<T>) {
        let mut state = self.lock();
        let callback = match &mut *state {
            State::Done(_) => return,
            State::Pending(callback) => callback.take(),
        };
        match callback {
            Some(callback) => {
                // The callback takes the result; later waits get Consumed.
                *state = State::Done(None);
                drop(state);
                self.done.notify_all();
                run_on_completion_thread(Box::new(move || callback(result)));
            }
            None => {
                *state = State::Done(Some(result));
                drop(state);
                self.done.notify_all();
            }
        }
    }
}

/// A request started on the shared runtime.
///
/// Use it from any thread: [`wait`](Call::wait) blocks the calling thread
/// (refused on a runtime thread), [`wait_interruptible`](Call::wait_interruptible)
/// also polls an "interrupted?" check (Python's signal check), and
/// [`on_complete`](Call::on_complete) hands the result to a callback run on
/// the process's completion thread (`corral-complete`), never on a runtime
/// worker. The result is delivered once.
///
/// Dropping a `Call` does not cancel it: the request goes on and its result
/// is discarded. [`cancel`](Call::cancel) stops it: the future is dropped
/// where it stands (core's recipes clean up after themselves when dropped).
pub struct Call<T: Send + 'static> {
    slot: Arc<Slot<T>>,
    task: Option<AbortHandle>,
    pid: u32,
}

impl<T: Send + 'static> Call<T> {
    /// Starts `request` on the shared runtime.
    pub fn spawn<F>(request: F) -> Call<T>
    where
        F: Future<Output = Result<T>> + Send + 'static,
    {
        let slot = Arc::new(Slot {
            state: Mutex::new(State::Pending(None)),
            done: Condvar::new(),
        });
        let completer = Arc::clone(&slot);
        let task = runtime::handle().spawn(async move {
            let result = request.await;
            completer.complete(result);
        });
        Call {
            slot,
            task: Some(task.abort_handle()),
            pid: runtime::current_pid(),
        }
    }

    /// A call that has already failed (a forked client, a bad argument).
    pub fn failed(error: Error) -> Call<T> {
        Call {
            slot: Arc::new(Slot {
                state: Mutex::new(State::Done(Some(Err(error)))),
                done: Condvar::new(),
            }),
            task: None,
            pid: runtime::current_pid(),
        }
    }

    fn check_thread(&self) -> Result<()> {
        if self.pid != runtime::current_pid() {
            return Err(Error::Forked);
        }
        if runtime::on_runtime_thread() {
            return Err(Error::OnRuntimeThread);
        }
        Ok(())
    }

    /// Whether the call has completed (or was cancelled).
    pub fn is_done(&self) -> bool {
        matches!(*self.slot.lock(), State::Done(_))
    }

    /// Blocks until the call completes, or `timeout` passes
    /// ([`Error::WaitTimeout`]; the call goes on and may be waited for
    /// again). `None` waits as long as it takes (the client's own request
    /// timeout still bounds every request). Refused on a runtime thread
    /// ([`Error::OnRuntimeThread`]) and in a forked child
    /// ([`Error::Forked`]).
    pub fn wait(&self, timeout: Option<Duration>) -> Result<T> {
        self.wait_interruptible(timeout, Duration::MAX, || false)
    }

    /// As [`wait`](Call::wait), but calls `interrupted` every `poll_every`
    /// (and once before blocking): when it returns true the call is
    /// cancelled and the wait returns [`Error::Interrupted`]. Python calls
    /// `PyErr_CheckSignals` here so that Ctrl-C stops a blocking call.
    pub fn wait_interruptible(
        &self,
        timeout: Option<Duration>,
        poll_every: Duration,
        mut interrupted: impl FnMut() -> bool,
    ) -> Result<T> {
        self.check_thread()?;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut state = self.slot.lock();
        loop {
            if let State::Done(result) = &mut *state {
                return result.take().unwrap_or(Err(Error::Consumed));
            }
            if interrupted() {
                drop(state);
                self.cancel();
                return Err(Error::Interrupted);
            }
            let mut slice = poll_every;
            if let Some(deadline) = deadline {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::WaitTimeout);
                }
                slice = slice.min(left);
            }
            state = if slice == Duration::MAX {
                self.slot
                    .done
                    .wait(state)
                    .unwrap_or_else(|p| p.into_inner())
            } else {
                self.slot
                    .done
                    .wait_timeout(state, slice)
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            };
        }
    }

    /// Hands the result to `callback` once the call completes (at once if
    /// it already has). The callback runs on the completion thread
    /// `corral-complete`, one per process, in completion order; never on a
    /// runtime worker and never on the caller's thread. It should be quick
    /// (schedule the result onto the host's event loop: asyncio's
    /// `call_soon_threadsafe`, a Node `ThreadsafeFunction`).
    pub fn on_complete(self, callback: impl FnOnce(Result<T>) + Send + 'static) {
        if self.pid != runtime::current_pid() {
            run_on_completion_thread(Box::new(move || callback(Err(Error::Forked))));
            return;
        }
        let mut state = self.slot.lock();
        match &mut *state {
            State::Pending(slot) => *slot = Some(Box::new(callback)),
            State::Done(result) => {
                let result = result.take().unwrap_or(Err(Error::Consumed));
                run_on_completion_thread(Box::new(move || callback(result)));
            }
        }
    }

    /// Cancels the call: the request's future is dropped where it stands,
    /// and waiters and the callback get [`Error::Cancelled`] (unless it had
    /// already completed). Cancelling a write does not undo it if the
    /// server already received it.
    pub fn cancel(&self) {
        cancel(&self.slot, self.task.as_ref(), self.pid);
    }

    /// A handle that cancels this call from anywhere, also after the call
    /// was handed to [`on_complete`](Call::on_complete) (a Node
    /// `AbortSignal`, an asyncio task cancellation).
    pub fn canceller(&self) -> Canceller {
        let (slot, task, pid) = (Arc::clone(&self.slot), self.task.clone(), self.pid);
        Canceller {
            cancel: Arc::new(move || cancel(&slot, task.as_ref(), pid)),
        }
    }
}

fn cancel<T: Send + 'static>(slot: &Slot<T>, task: Option<&AbortHandle>, pid: u32) {
    if pid != runtime::current_pid() {
        return;
    }
    if let Some(task) = task {
        task.abort();
    }
    slot.complete(Err(Error::Cancelled));
}

/// Cancels one [`Call`] (see [`Call::canceller`]); cheap to clone.
#[derive(Clone)]
pub struct Canceller {
    cancel: Arc<dyn Fn() + Send + Sync + 'static>,
}

impl Canceller {
    /// Cancels the call, as [`Call::cancel`].
    pub fn cancel(&self) {
        (self.cancel)()
    }
}

impl<T: Send + 'static> Drop for Call<T> {
    fn drop(&mut self) {
        if self.pid != runtime::current_pid() {
            // The task belongs to the parent's runtime: do not even
            // release our reference to it.
            if let Some(task) = self.task.take() {
                std::mem::forget(task);
            }
        }
    }
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The process's completion thread, started on first use (and again in a
/// forked child, whose copy of the parent's thread does not run).
fn run_on_completion_thread(job: Job) {
    static THREAD: OnceLock<Mutex<(u32, mpsc::Sender<Job>)>> = OnceLock::new();
    let start = || {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("corral-complete".into())
            .spawn(move || {
                for job in rx {
                    // A callback that panics must not end the thread every
                    // later completion needs.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).is_err() {
                        tracing::error!("a completion callback panicked");
                    }
                }
            })
            .expect("spawning the corral-complete thread failed");
        (runtime::current_pid(), tx)
    };
    let thread = THREAD.get_or_init(|| Mutex::new(start()));
    let mut thread = thread.lock().unwrap_or_else(|p| p.into_inner());
    if thread.0 != runtime::current_pid() {
        let inherited = std::mem::replace(&mut *thread, start());
        std::mem::forget(inherited);
    }
    if let Err(mpsc::SendError(job)) = thread.1.send(job) {
        // Only if the thread died, which catch_unwind prevents; run it
        // here rather than lose a result.
        job();
    }
}
