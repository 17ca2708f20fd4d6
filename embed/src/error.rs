//! [`Error`]: a core client error, or one of the few ways a call from
//! another language can end without reaching the client.

use corral::proto::{ErrorCode, GrpcStatus};

/// Why an embedded call failed.
///
/// [`Error::Client`] carries the core error unchanged (its code, Python,
/// Node and gRPC names: [`corral::Error::python_exception`] and friends).
/// The other variants are the embedding layer's own, each with its own
/// name in every language.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The client failed the request.
    #[error(transparent)]
    Client(#[from] corral::Error),
    /// A wait's timeout passed before the call completed; the call goes on
    /// (wait again, or [`cancel`](crate::Call::cancel) it).
    #[error("wait timed out (the call goes on)")]
    WaitTimeout,
    /// The wait's interruption check fired (Ctrl-C in Python); the call was
    /// cancelled.
    #[error("wait interrupted (the call was cancelled)")]
    Interrupted,
    /// The call was cancelled before it completed. A cancelled write may or
    /// may not have been applied.
    #[error("call cancelled")]
    Cancelled,
    /// The call's result was already taken by an earlier wait or callback.
    #[error("call result already taken")]
    Consumed,
    /// The object was made before this process forked from its parent: it
    /// belongs to the parent's runtime and sockets, which a child must not
    /// touch. Make a new client in the child.
    #[error("client inherited across fork(): make a new client in this process")]
    Forked,
    /// A blocking wait was called on a tokio runtime thread, where it
    /// could deadlock the runtime: await the call or use a callback.
    #[error("blocking wait refused on a runtime thread (await it or use a callback)")]
    OnRuntimeThread,
}

/// Results of embedded calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The ZooKeeper code to report (C's result codes): the core error's,
    /// or for the embedding layer's own: `OPERATIONTIMEOUT` for a wait
    /// timeout, `CLOSING` for a forked client (as a closed one), and
    /// `SYSTEMERROR` for a cancelled, interrupted, consumed or refused call.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Client(e) => e.code(),
            Error::WaitTimeout => ErrorCode::OperationTimeout,
            Error::Forked => ErrorCode::Closing,
            Error::Interrupted | Error::Cancelled | Error::Consumed | Error::OnRuntimeThread => {
                ErrorCode::SystemError
            }
        }
    }

    /// The Python exception class name (see [`corral::Error::python_exception`]).
    pub fn python_exception(&self) -> &'static str {
        match self {
            Error::Client(e) => e.python_exception(),
            Error::WaitTimeout => "WaitTimeoutError",
            // kazoo's name for a call cancelled from another thread.
            Error::Interrupted | Error::Cancelled => "CancelledError",
            Error::Consumed => "ResultConsumedError",
            Error::Forked => "ForkedClientError",
            Error::OnRuntimeThread => "RuntimeThreadError",
        }
    }

    /// Node's `err.code` string (see [`corral::Error::node_code`]).
    pub fn node_code(&self) -> &'static str {
        match self {
            Error::Client(e) => e.node_code(),
            Error::WaitTimeout => "WAITTIMEOUT",
            Error::Interrupted => "INTERRUPTED",
            Error::Cancelled => "CANCELLED",
            Error::Consumed => "CONSUMED",
            Error::Forked => "FORKED",
            Error::OnRuntimeThread => "RUNTIMETHREAD",
        }
    }

    /// The gRPC status on a read or a write (see
    /// [`corral::Error::grpc_status`]).
    pub fn grpc_status(&self, is_write: bool) -> GrpcStatus {
        match self {
            Error::Client(e) => e.grpc_status(is_write),
            Error::WaitTimeout if is_write => GrpcStatus::Unknown,
            Error::WaitTimeout => GrpcStatus::DeadlineExceeded,
            Error::Interrupted | Error::Cancelled if is_write => GrpcStatus::Unknown,
            Error::Interrupted | Error::Cancelled => GrpcStatus::Cancelled,
            Error::Consumed | Error::OnRuntimeThread => GrpcStatus::FailedPrecondition,
            Error::Forked => GrpcStatus::FailedPrecondition,
        }
    }

    /// Whether the same request may succeed if tried again (see
    /// [`corral::Error::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Client(e) => e.is_retryable(),
            Error::WaitTimeout => true,
            _ => false,
        }
    }

    /// Whether a write that ended with this error may have been applied.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Error::Client(e) => e.outcome_unknown(),
            Error::WaitTimeout | Error::Interrupted | Error::Cancelled => true,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layers_own_errors_have_their_own_names() {
        let own = [
            Error::WaitTimeout,
            Error::Interrupted,
            Error::Cancelled,
            Error::Consumed,
            Error::Forked,
            Error::OnRuntimeThread,
        ];
        let mut node = std::collections::HashSet::new();
        for err in &own {
            assert!(node.insert(err.node_code()), "{err:?}");
            assert!(
                corral::proto::ErrorCode::from_name(err.node_code()).is_none(),
                "{err:?}"
            );
            assert!(!err.python_exception().is_empty());
        }
        assert_eq!(Error::Forked.code(), ErrorCode::Closing);
        let wrapped = Error::from(corral::Error::NoNode { path: "/a".into() });
        assert_eq!(
            (wrapped.python_exception(), wrapped.node_code()),
            ("NoNodeError", "NONODE")
        );
        assert_eq!(wrapped.grpc_status(false), GrpcStatus::NotFound);
        assert!(Error::Cancelled.outcome_unknown() && !Error::Cancelled.is_retryable());
        assert_eq!(Error::WaitTimeout.grpc_status(true), GrpcStatus::Unknown);
    }
}
