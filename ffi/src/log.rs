//! `corral_set_log_callback`: the library's `tracing` records, at or above
//! a level, handed to a C callback on the library's own `corral-log`
//! thread (never on a runtime worker: a slow callback must not stall
//! sessions). Records go through a bounded queue; when it is full they are
//! dropped rather than block the code that logs.

use std::ffi::{c_char, c_void, CString};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use crate::result::{boundary, corral_result, Failure};

/// Records queued for the log thread at most; later ones are dropped.
const LOG_QUEUE_RECORDS_MAX: usize = 1024;

/// A log record's level (and the filter of `corral_set_log_callback`).
#[repr(i32)]
#[derive(Debug, Clone, Copy)]
pub enum corral_log_level {
    /// Nothing (the filter only).
    Off = 0,
    /// Needs an operator.
    Error = 1,
    /// Unexpected but handled.
    Warn = 2,
    /// Lifecycle (connected, disconnected, session expired).
    Info = 3,
    /// Per request.
    Debug = 4,
    /// Finer still.
    Trace = 5,
}

/// Called on the `corral-log` thread for each record: its level (a
/// `corral_log_level`), its target (the Rust module, e.g.
/// "corral::client::session") and its message with its fields
/// (`connected host=127.0.0.1 port=2181 ...`). Both strings are valid only
/// during the call.
pub type corral_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: i32,
        target: *const c_char,
        message: *const c_char,
    ),
>;

/// The highest level passed on (0: none).
static MAX_LEVEL: AtomicI32 = AtomicI32::new(0);

struct Record {
    level: i32,
    target: String,
    message: String,
}

struct Sink {
    records: SyncSender<Record>,
    thread: JoinHandle<()>,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

fn number(level: &Level) -> i32 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// The `tracing` layer that feeds the sink.
struct CallbackLayer;

/// Collects a record's message and fields as one line.
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}{rest}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.insert_str(0, value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S: Subscriber> Layer<S> for CallbackLayer {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // The level can change at any time: ask `enabled` every time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        number(metadata.level()) <= MAX_LEVEL.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let mut line = Line(String::new());
        event.record(&mut line);
        let record = Record {
            level: number(event.metadata().level()),
            target: event.metadata().target().to_owned(),
            message: line.0,
        };
        let sink = SINK.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sink) = sink.as_ref() {
            // Full: drop the record rather than block a runtime worker.
            let _ = sink.records.try_send(record);
        }
    }
}

/// The C callback and its user data, moved to the log thread.
struct Callback {
    function: unsafe extern "C" fn(*mut c_void, i32, *const c_char, *const c_char),
    userdata: *mut c_void,
}

// SAFETY: `corral_set_log_callback` documents that `userdata` is used from
// the `corral-log` thread; the caller vouches that this is safe.
unsafe impl Send for Callback {}

fn c_text(text: String) -> CString {
    CString::new(text.replace('\0', " ")).unwrap_or_default()
}

/// Sends the library's log records at or below `max_level` (a
/// `corral_log_level`: `CORRAL_LOG_LEVEL_INFO` passes errors, warnings and
/// info) to `callback` with `userdata`, on the library's `corral-log`
/// thread, in order. Records that find the queue full (1024 waiting) are
/// dropped. A NULL callback (or `CORRAL_LOG_LEVEL_OFF`) stops logging.
///
/// Replacing or removing a callback waits until the previous one has been
/// called with every record queued for it; after that it is never called
/// again (its `userdata` may be freed). Do not call this from the log
/// callback itself.
///
/// The library installs a process-wide `tracing` subscriber on the first
/// call; if the process already has one (another Rust library installed
/// it), this fails with `CORRAL_RESULT_INVALID_STATE`.
///
/// # Safety
/// `userdata` must be safe to use from the `corral-log` thread.
#[no_mangle]
pub unsafe extern "C" fn corral_set_log_callback(
    callback: corral_log_callback,
    userdata: *mut c_void,
    max_level: i32,
) -> corral_result {
    boundary(|| {
        if !(0..=5).contains(&max_level) {
            return Err(Failure::new(
                corral_result::BadArguments,
                format!("unknown log level {max_level}"),
            ));
        }
        static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
        INSTALLED
            .get_or_init(|| {
                let subscriber = tracing_subscriber::registry().with(CallbackLayer);
                tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())
            })
            .clone()
            .map_err(|e| {
                Failure::new(
                    corral_result::InvalidState,
                    format!("cannot install the log subscriber: {e}"),
                )
            })?;
        // Stop the previous callback: drain its queue, then join its thread.
        MAX_LEVEL.store(0, Ordering::Relaxed);
        let previous = SINK.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(previous) = previous {
            drop(previous.records);
            let _ = previous.thread.join();
        }
        let Some(function) = callback else {
            return Ok(());
        };
        if max_level == 0 {
            return Ok(());
        }
        let callback = Callback { function, userdata };
        let (records, queue) = sync_channel::<Record>(LOG_QUEUE_RECORDS_MAX);
        let thread = std::thread::Builder::new()
            .name("corral-log".into())
            .spawn(move || {
                let callback = callback;
                for record in queue {
                    let (target, message) = (c_text(record.target), c_text(record.message));
                    // SAFETY: the caller of `corral_set_log_callback`
                    // provided this function for exactly this call.
                    unsafe {
                        (callback.function)(
                            callback.userdata,
                            record.level,
                            target.as_ptr(),
                            message.as_ptr(),
                        )
                    };
                }
            })
            .map_err(|e| {
                Failure::new(
                    corral_result::SystemError,
                    format!("cannot start the corral-log thread: {e}"),
                )
            })?;
        *SINK.lock().unwrap_or_else(|p| p.into_inner()) = Some(Sink { records, thread });
        MAX_LEVEL.store(max_level, Ordering::Relaxed);
        Ok(())
    })
}
