//! Result codes, the per-thread last error, and the panic boundary every
//! exported function runs inside.

use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use corral::proto::ErrorCode;
use corral_embed::Error;

/// The result of every fallible function: `CORRAL_RESULT_OK` (0), one of
/// ZooKeeper's own negative codes with its number unchanged (-101 no node,
/// -103 bad version, -110 node exists...), or an ABI code of this library
/// (-1001 and below).
///
/// In C it is an `int32_t`: compare it with these constants, and treat
/// any other negative value as an error (newer library versions may add
/// codes).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum corral_result {
    /// Success.
    Ok = 0,
    /// ZooKeeper `SYSTEMERROR`.
    SystemError = -1,
    /// ZooKeeper `RUNTIMEINCONSISTENCY`.
    RuntimeInconsistency = -2,
    /// ZooKeeper `DATAINCONSISTENCY`.
    DataInconsistency = -3,
    /// ZooKeeper `CONNECTIONLOSS`: the connection dropped; a write may or
    /// may not have been applied.
    ConnectionLoss = -4,
    /// ZooKeeper `MARSHALLINGERROR`.
    MarshallingError = -5,
    /// ZooKeeper `UNIMPLEMENTED` (e.g. TTL nodes on a server without them).
    Unimplemented = -6,
    /// ZooKeeper `OPERATIONTIMEOUT`: the request timed out.
    OperationTimeout = -7,
    /// ZooKeeper `BADARGUMENTS`: an invalid argument (an invalid path, an
    /// unknown mode, a TTL on a non-TTL mode, a malformed session token).
    BadArguments = -8,
    /// ZooKeeper `INVALIDSTATE`.
    InvalidState = -9,
    /// ZooKeeper `UNKNOWNSESSION`.
    UnknownSession = -12,
    /// ZooKeeper `NEWCONFIGNOQUORUM`.
    NewConfigNoQuorum = -13,
    /// ZooKeeper `RECONFIGINPROGRESS`.
    ReconfigInProgress = -14,
    /// ZooKeeper `SSLCONNECTIONERROR`.
    SslConnectionError = -15,
    /// ZooKeeper `APIERROR`.
    ApiError = -100,
    /// ZooKeeper `NONODE`: the node does not exist.
    NoNode = -101,
    /// ZooKeeper `NOAUTH`: the ACL refuses this client.
    NoAuth = -102,
    /// ZooKeeper `BADVERSION`: the expected version did not match.
    BadVersion = -103,
    /// ZooKeeper `NOCHILDRENFOREPHEMERALS`.
    NoChildrenForEphemerals = -108,
    /// ZooKeeper `NODEEXISTS`: the node already exists.
    NodeExists = -110,
    /// ZooKeeper `NOTEMPTY`: the node has children.
    NotEmpty = -111,
    /// ZooKeeper `SESSIONEXPIRED`.
    SessionExpired = -112,
    /// ZooKeeper `INVALIDCALLBACK`.
    InvalidCallback = -113,
    /// ZooKeeper `INVALIDACL`.
    InvalidAcl = -114,
    /// ZooKeeper `AUTHFAILED`.
    AuthFailed = -115,
    /// ZooKeeper `CLOSING`: the client is closed (or detached).
    Closing = -116,
    /// ZooKeeper `NOTHING`.
    Nothing = -117,
    /// ZooKeeper `SESSIONMOVED`.
    SessionMoved = -118,
    /// ZooKeeper `NOTREADONLY`.
    NotReadOnly = -119,
    /// ZooKeeper `EPHEMERALONLOCALSESSION`.
    EphemeralOnLocalSession = -120,
    /// ZooKeeper `NOWATCHER`.
    NoWatcher = -121,
    /// ZooKeeper `REQUESTTIMEOUT`.
    RequestTimeout = -122,
    /// ZooKeeper `RECONFIGDISABLED`.
    ReconfigDisabled = -123,
    /// ZooKeeper `SESSIONCLOSEDREQUIRESASLAUTH`.
    SessionClosedRequireSaslAuth = -124,
    /// ZooKeeper `QUOTAEXCEEDED`.
    QuotaExceeded = -125,
    /// ZooKeeper `THROTTLEDOP`.
    ThrottledOp = -127,
    /// ABI: a required pointer argument was NULL.
    NullArgument = -1001,
    /// ABI: a string argument was not valid UTF-8.
    InvalidUtf8 = -1002,
    /// ABI: the library panicked (a bug); the panic was caught at the
    /// boundary and the handle may be unusable.
    Panic = -1003,
    /// ABI: the call was cancelled before it completed.
    Cancelled = -1004,
    /// ABI: a blocking call was made on one of the library's runtime
    /// threads, where it could deadlock; refused.
    WouldDeadlock = -1005,
    /// ABI: the handle was made before this process forked; make a new
    /// client in the child.
    Forked = -1006,
    /// ABI: a wait with a timeout (`corral_watcher_next`,
    /// `corral_mutex_try_acquire`) ended with nothing to return.
    TimedOut = -1007,
}

/// Maps ZooKeeper's code table onto [`corral_result`], number for number.
fn from_code(code: ErrorCode) -> corral_result {
    use corral_result as R;
    match code {
        ErrorCode::Ok => R::Ok,
        ErrorCode::SystemError => R::SystemError,
        ErrorCode::RuntimeInconsistency => R::RuntimeInconsistency,
        ErrorCode::DataInconsistency => R::DataInconsistency,
        ErrorCode::ConnectionLoss => R::ConnectionLoss,
        ErrorCode::MarshallingError => R::MarshallingError,
        ErrorCode::Unimplemented => R::Unimplemented,
        ErrorCode::OperationTimeout => R::OperationTimeout,
        ErrorCode::BadArguments => R::BadArguments,
        ErrorCode::InvalidState => R::InvalidState,
        ErrorCode::UnknownSession => R::UnknownSession,
        ErrorCode::NewConfigNoQuorum => R::NewConfigNoQuorum,
        ErrorCode::ReconfigInProgress => R::ReconfigInProgress,
        ErrorCode::SslConnectionError => R::SslConnectionError,
        ErrorCode::ApiError => R::ApiError,
        ErrorCode::NoNode => R::NoNode,
        ErrorCode::NoAuth => R::NoAuth,
        ErrorCode::BadVersion => R::BadVersion,
        ErrorCode::NoChildrenForEphemerals => R::NoChildrenForEphemerals,
        ErrorCode::NodeExists => R::NodeExists,
        ErrorCode::NotEmpty => R::NotEmpty,
        ErrorCode::SessionExpired => R::SessionExpired,
        ErrorCode::InvalidCallback => R::InvalidCallback,
        ErrorCode::InvalidAcl => R::InvalidAcl,
        ErrorCode::AuthFailed => R::AuthFailed,
        ErrorCode::Closing => R::Closing,
        ErrorCode::Nothing => R::Nothing,
        ErrorCode::SessionMoved => R::SessionMoved,
        ErrorCode::NotReadOnly => R::NotReadOnly,
        ErrorCode::EphemeralOnLocalSession => R::EphemeralOnLocalSession,
        ErrorCode::NoWatcher => R::NoWatcher,
        ErrorCode::RequestTimeout => R::RequestTimeout,
        ErrorCode::ReconfigDisabled => R::ReconfigDisabled,
        ErrorCode::SessionClosedRequireSaslAuth => R::SessionClosedRequireSaslAuth,
        ErrorCode::QuotaExceeded => R::QuotaExceeded,
        ErrorCode::ThrottledOp => R::ThrottledOp,
        #[allow(unreachable_patterns)]
        _ => R::SystemError,
    }
}

/// What failed: its code, its message and the path it concerned (if any),
/// also recorded as this thread's last error.
pub(crate) struct Failure {
    code: corral_result,
    message: String,
    path: Option<String>,
}

impl Failure {
    pub(crate) fn new(code: corral_result, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            path: None,
        }
    }

    pub(crate) fn null(argument: &str) -> Failure {
        Failure::new(
            corral_result::NullArgument,
            format!("argument `{argument}` is NULL"),
        )
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        let code = match &error {
            Error::Client(e) => from_code(e.code()),
            Error::Cancelled | Error::Interrupted => corral_result::Cancelled,
            Error::Forked => corral_result::Forked,
            Error::OnRuntimeThread => corral_result::WouldDeadlock,
            Error::WaitTimeout => corral_result::TimedOut,
            other => from_code(other.code()),
        };
        let path = match &error {
            Error::Client(e) => e.path().map(str::to_owned),
            _ => None,
        };
        Failure {
            code,
            message: error.to_string(),
            path,
        }
    }
}

impl From<corral::Error> for Failure {
    fn from(error: corral::Error) -> Failure {
        Failure::from(Error::Client(error))
    }
}

pub(crate) type Outcome = Result<(), Failure>;

struct LastError {
    message: CString,
    path: Option<CString>,
}

thread_local! {
    static LAST_ERROR: RefCell<Option<LastError>> = const { RefCell::new(None) };
}

fn to_cstring(text: String) -> CString {
    // Messages and paths never hold NUL in practice; if one does, cut it
    // there rather than lose the whole message.
    CString::new(text).unwrap_or_else(|e| {
        let end = e.nul_position();
        let mut bytes = e.into_vec();
        bytes.truncate(end);
        CString::new(bytes).unwrap_or_default()
    })
}

/// Runs one exported function's body: catches a panic, records a failure
/// as this thread's last error, and returns the code. Success clears the
/// last error.
pub(crate) fn boundary(body: impl FnOnce() -> Outcome) -> corral_result {
    let outcome = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(outcome) => outcome,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(Failure::new(
                corral_result::Panic,
                format!("panic in corral: {what}"),
            ))
        }
    };
    match outcome {
        Ok(()) => {
            LAST_ERROR.with(|last| *last.borrow_mut() = None);
            corral_result::Ok
        }
        Err(failure) => {
            let code = failure.code;
            LAST_ERROR.with(|last| {
                *last.borrow_mut() = Some(LastError {
                    message: to_cstring(failure.message),
                    path: failure.path.map(to_cstring),
                })
            });
            code
        }
    }
}

/// Runs a body that cannot fail but must not unwind into C; a panic gives
/// `fallback`.
pub(crate) fn guard<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

/// Copies `text` (NUL-terminated) into `buf` of `len` bytes, truncating;
/// `*written_out` (if not NULL) gets the length of the full text without
/// its NUL, so a caller can retry with a larger buffer.
unsafe fn copy_out(text: &[u8], buf: *mut c_char, len: usize, written_out: *mut usize) {
    if !written_out.is_null() {
        *written_out = text.len();
    }
    if buf.is_null() || len == 0 {
        return;
    }
    let n = text.len().min(len - 1);
    std::ptr::copy_nonoverlapping(text.as_ptr().cast::<c_char>(), buf, n);
    *buf.add(n) = 0;
}

/// A static, NUL-terminated description of a result code (never NULL;
/// "unknown result code" for a number this library does not know). The
/// string is owned by the library: do not free it.
#[no_mangle]
pub extern "C" fn corral_result_message(code: i32) -> *const c_char {
    guard(c"unknown result code".as_ptr(), || {
        let text: &'static std::ffi::CStr = match code {
            0 => c"ok",
            -1001 => c"null argument",
            -1002 => c"invalid utf-8 in a string argument",
            -1003 => c"panic inside the corral library",
            -1004 => c"call cancelled",
            -1005 => c"blocking call refused on a corral runtime thread",
            -1006 => c"handle inherited across fork(): make a new client in this process",
            -1007 => c"timed out waiting",
            _ => match ErrorCode::from_code(code) {
                Some(code) => code_message(code),
                None => c"unknown result code",
            },
        };
        text.as_ptr()
    })
}

fn code_message(code: ErrorCode) -> &'static std::ffi::CStr {
    match code {
        ErrorCode::ConnectionLoss => c"connection loss",
        ErrorCode::OperationTimeout => c"operation timeout",
        ErrorCode::BadArguments => c"bad arguments",
        ErrorCode::NoNode => c"no node",
        ErrorCode::NoAuth => c"not authorized",
        ErrorCode::BadVersion => c"bad version",
        ErrorCode::NoChildrenForEphemerals => c"no children for ephemerals",
        ErrorCode::NodeExists => c"node exists",
        ErrorCode::NotEmpty => c"node has children",
        ErrorCode::SessionExpired => c"session expired",
        ErrorCode::InvalidAcl => c"invalid acl",
        ErrorCode::AuthFailed => c"authentication failed",
        ErrorCode::Closing => c"client closed",
        ErrorCode::Unimplemented => c"unimplemented",
        ErrorCode::NotReadOnly => c"server is read-only",
        _ => c"zookeeper error",
    }
}

/// Copies the message of this thread's last failed call into `buf` (`len`
/// bytes, NUL-terminated, truncated to fit) and its full length (without
/// the NUL) into `*written_out`. With no failure since this thread's last
/// successful call, the message is empty. `buf` may be NULL to learn the
/// length only. Never fails.
///
/// # Safety
/// `buf` must be NULL or writable for `len` bytes; `written_out` NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn corral_last_error_message(
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) {
    guard((), || {
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            let text = last.as_ref().map_or(&b""[..], |e| e.message.as_bytes());
            copy_out(text, buf, len, written_out);
        })
    })
}

/// As `corral_last_error_message`, for the path the last failure concerned
/// (empty when it concerned none, e.g. a connection loss).
///
/// # Safety
/// As `corral_last_error_message`.
#[no_mangle]
pub unsafe extern "C" fn corral_last_error_path(
    buf: *mut c_char,
    len: usize,
    written_out: *mut usize,
) {
    guard((), || {
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            let text = last
                .as_ref()
                .and_then(|e| e.path.as_ref())
                .map_or(&b""[..], |p| p.as_bytes());
            copy_out(text, buf, len, written_out);
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_zookeeper_code_keeps_its_number() {
        for number in -200..=0 {
            if let Some(code) = ErrorCode::from_code(number) {
                assert_eq!(from_code(code) as i32, number, "{code:?}");
            }
        }
    }

    #[test]
    fn a_panic_becomes_a_code_and_a_message() {
        let code = boundary(|| panic!("boom"));
        assert_eq!(code, corral_result::Panic);
        let mut buf = [0 as c_char; 64];
        let mut n = 0;
        unsafe { corral_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n) };
        let text = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
        assert_eq!(text.to_str().unwrap(), "panic in corral: boom");
        assert_eq!(n, text.to_bytes().len());
        assert_eq!(boundary(|| Ok(())), corral_result::Ok);
        unsafe { corral_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(n, 0);
    }
}
