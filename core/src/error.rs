//! [`Error`]: the one error type of the client, a variant per ZooKeeper
//! error code plus the client-side failures.
//!
//! The mapping to [`ErrorCode`] ([`Error::code`], [`Error::from_code`]) and
//! the code's row of the error table ([`ErrorCode::info`]) are what the C,
//! Python, Node and gRPC error lists are generated from or tested against.
//! Client-side errors keep their own identity in every language
//! ([`Error::python_exception`], [`Error::node_code`]) rather than
//! collapsing into the ZooKeeper code they report: an invalid path is
//! `InvalidPathError` / `'INVALIDPATH'`, not `BadArgumentsError`;
//! likewise `LockHeld` and `Protocol`.

use crate::proto::{ErrorCode, GrpcStatus, Retry};

/// A failed client operation.
///
/// Variants carrying a `path` give the path as the caller wrote it (relative
/// to the client's chroot). Client-side variants (`Timeout`, `ClientClosed`,
/// `InvalidPath`, `Protocol`, `MultiFailed`) also map to a code, so that
/// every error has a ZooKeeper number: see [`Error::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A system error (`SYSTEMERROR`, -1; a range marker, not sent by servers).
    #[error("system error")]
    SystemError,
    /// `RUNTIMEINCONSISTENCY` (-2); also the result of multi ops after the failing one.
    #[error("runtime inconsistency")]
    RuntimeInconsistency,
    /// `DATAINCONSISTENCY` (-3).
    #[error("data inconsistency")]
    DataInconsistency,
    /// `CONNECTIONLOSS` (-4): the connection broke while the request was in
    /// flight; whether it was applied is unknown. The client reconnects by
    /// itself; the session, its ephemerals and its watches are kept.
    #[error("connection loss")]
    ConnectionLoss,
    /// `MARSHALLINGERROR` (-5).
    #[error("marshalling error")]
    MarshallingError,
    /// `UNIMPLEMENTED` (-6): e.g. TTL nodes on a server with extended types off.
    #[error("operation unimplemented")]
    Unimplemented,
    /// `OPERATIONTIMEOUT` (-7).
    #[error("operation timeout")]
    OperationTimeout,
    /// `BADARGUMENTS` (-8): the server (or the client, before sending)
    /// refused the request's arguments.
    #[error("bad arguments: {reason}")]
    BadArguments {
        /// What was wrong.
        reason: String,
    },
    /// `INVALIDSTATE` (-9, C client only).
    #[error("invalid state")]
    InvalidState,
    /// `UNKNOWNSESSION` (-12).
    #[error("unknown session")]
    UnknownSession,
    /// `NEWCONFIGNOQUORUM` (-13).
    #[error("no quorum of the new config is connected")]
    NewConfigNoQuorum,
    /// `RECONFIGINPROGRESS` (-14).
    #[error("reconfiguration in progress")]
    ReconfigInProgress,
    /// `SSLCONNECTIONERROR` (-15, C client only).
    #[error("tls connection error")]
    SslConnectionError,
    /// `APIERROR` (-100; a range marker, not sent by servers).
    #[error("api error")]
    ApiError,
    /// `NONODE` (-101): the node does not exist.
    #[error("node does not exist: {path}")]
    NoNode {
        /// The node.
        path: String,
    },
    /// `NOAUTH` (-102): the session lacks the permission.
    #[error("not authorized: {path}")]
    NoAuth {
        /// The node.
        path: String,
    },
    /// `BADVERSION` (-103): the expected version did not match.
    #[error("bad version: {path}")]
    BadVersion {
        /// The node.
        path: String,
    },
    /// `NOCHILDRENFOREPHEMERALS` (-108): ephemeral nodes have no children.
    #[error("ephemeral nodes may not have children: {path}")]
    NoChildrenForEphemerals {
        /// The node being created.
        path: String,
    },
    /// `NODEEXISTS` (-110): the node already exists.
    #[error("node already exists: {path}")]
    NodeExists {
        /// The node.
        path: String,
    },
    /// `NOTEMPTY` (-111): the node has children.
    #[error("node has children: {path}")]
    NotEmpty {
        /// The node.
        path: String,
    },
    /// `SESSIONEXPIRED` (-112): the session is gone, with its ephemerals and
    /// watches. The client is finished; build a new one.
    #[error("session expired")]
    SessionExpired,
    /// `INVALIDCALLBACK` (-113).
    #[error("invalid callback")]
    InvalidCallback,
    /// `INVALIDACL` (-114): the ACL is empty or malformed.
    #[error("invalid acl: {path}")]
    InvalidAcl {
        /// The node.
        path: String,
    },
    /// `AUTHFAILED` (-115): the server refused the credentials; the client is
    /// finished.
    #[error("authentication failed")]
    AuthFailed,
    /// `CLOSING` (-116): the client was closed (or dropped) before the
    /// request completed, or is used after [`close`](crate::client::Client::close).
    #[error("client closed")]
    ClientClosed,
    /// `NOTHING` (-117, C client only).
    #[error("nothing")]
    Nothing,
    /// `SESSIONMOVED` (-118): another connection took the session over.
    #[error("session moved")]
    SessionMoved,
    /// `NOTREADONLY` (-119): a write sent to a read-only server.
    #[error("server is read-only")]
    NotReadOnly,
    /// `EPHEMERALONLOCALSESSION` (-120).
    #[error("ephemeral nodes need a global session: {path}")]
    EphemeralOnLocalSession {
        /// The node being created.
        path: String,
    },
    /// `NOWATCHER` (-121): no such watch to remove.
    #[error("no watcher: {path}")]
    NoWatcher {
        /// The watched node.
        path: String,
    },
    /// `REQUESTTIMEOUT` (-122): no reply within the request timeout (the
    /// client's own, or the server's). Whether a write was applied is
    /// unknown.
    #[error("request timed out")]
    Timeout,
    /// `RECONFIGDISABLED` (-123).
    #[error("reconfiguration disabled")]
    ReconfigDisabled,
    /// `SESSIONCLOSEDREQUIRESASLAUTH` (-124).
    #[error("session closed: sasl authentication required")]
    SessionClosedRequireSaslAuth,
    /// `QUOTAEXCEEDED` (-125): a hard quota was exceeded.
    #[error("quota exceeded: {path}")]
    QuotaExceeded {
        /// The node.
        path: String,
    },
    /// `THROTTLEDOP` (-127): the server is overloaded; retry later.
    #[error("operation throttled")]
    ThrottledOp,
    /// A path refused by the client before sending (code `BADARGUMENTS`).
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// The server sent something the client cannot understand (code
    /// `MARSHALLINGERROR`); the connection is dropped and re-established.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A lock object was asked to acquire while it still holds a lease it
    /// granted (locks are not reentrant; waiting would deadlock on its own
    /// node). Release the lease first. Code `BADARGUMENTS`.
    #[error("lock already held by this object: {path}")]
    LockHeld {
        /// The lock's path.
        path: String,
    },
    /// A multi failed at op `index` (0-based) and was rolled back; `source`
    /// is that op's error. [`Error::code`] gives the failing op's code.
    #[error("multi failed at op {index}: {source}")]
    MultiFailed {
        /// Index of the failing op.
        index: usize,
        /// Its error.
        source: Box<Error>,
    },
}

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The ZooKeeper code of this error.
    ///
    /// Client-side variants map to: `Timeout` -> `REQUESTTIMEOUT` (as the
    /// Java client's request timeout), `ClientClosed` -> `CLOSING` (as the C
    /// client), `InvalidPath` -> `BADARGUMENTS`, `Protocol` ->
    /// `MARSHALLINGERROR`, `MultiFailed` -> its source's code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::SystemError => ErrorCode::SystemError,
            Error::RuntimeInconsistency => ErrorCode::RuntimeInconsistency,
            Error::DataInconsistency => ErrorCode::DataInconsistency,
            Error::ConnectionLoss => ErrorCode::ConnectionLoss,
            Error::MarshallingError => ErrorCode::MarshallingError,
            Error::Unimplemented => ErrorCode::Unimplemented,
            Error::OperationTimeout => ErrorCode::OperationTimeout,
            Error::BadArguments { .. } => ErrorCode::BadArguments,
            Error::InvalidState => ErrorCode::InvalidState,
            Error::UnknownSession => ErrorCode::UnknownSession,
            Error::NewConfigNoQuorum => ErrorCode::NewConfigNoQuorum,
            Error::ReconfigInProgress => ErrorCode::ReconfigInProgress,
            Error::SslConnectionError => ErrorCode::SslConnectionError,
            Error::ApiError => ErrorCode::ApiError,
            Error::NoNode { .. } => ErrorCode::NoNode,
            Error::NoAuth { .. } => ErrorCode::NoAuth,
            Error::BadVersion { .. } => ErrorCode::BadVersion,
            Error::NoChildrenForEphemerals { .. } => ErrorCode::NoChildrenForEphemerals,
            Error::NodeExists { .. } => ErrorCode::NodeExists,
            Error::NotEmpty { .. } => ErrorCode::NotEmpty,
            Error::SessionExpired => ErrorCode::SessionExpired,
            Error::InvalidCallback => ErrorCode::InvalidCallback,
            Error::InvalidAcl { .. } => ErrorCode::InvalidAcl,
            Error::AuthFailed => ErrorCode::AuthFailed,
            Error::ClientClosed => ErrorCode::Closing,
            Error::Nothing => ErrorCode::Nothing,
            Error::SessionMoved => ErrorCode::SessionMoved,
            Error::NotReadOnly => ErrorCode::NotReadOnly,
            Error::EphemeralOnLocalSession { .. } => ErrorCode::EphemeralOnLocalSession,
            Error::NoWatcher { .. } => ErrorCode::NoWatcher,
            Error::Timeout => ErrorCode::RequestTimeout,
            Error::ReconfigDisabled => ErrorCode::ReconfigDisabled,
            Error::SessionClosedRequireSaslAuth => ErrorCode::SessionClosedRequireSaslAuth,
            Error::QuotaExceeded { .. } => ErrorCode::QuotaExceeded,
            Error::ThrottledOp => ErrorCode::ThrottledOp,
            Error::InvalidPath { .. } | Error::LockHeld { .. } => ErrorCode::BadArguments,
            Error::Protocol(_) => ErrorCode::MarshallingError,
            Error::MultiFailed { source, .. } => source.code(),
        }
    }

    /// The error a server reply with `code` means for a request on `path`
    /// (the caller's path, chroot not applied).
    ///
    /// `ErrorCode::Ok` is not an error: it gives [`Error::Protocol`].
    pub fn from_code(code: ErrorCode, path: &str) -> Error {
        let path = path.to_owned();
        match code {
            ErrorCode::Ok => Error::Protocol("error code 0 (ok) is not an error".into()),
            ErrorCode::SystemError => Error::SystemError,
            ErrorCode::RuntimeInconsistency => Error::RuntimeInconsistency,
            ErrorCode::DataInconsistency => Error::DataInconsistency,
            ErrorCode::ConnectionLoss => Error::ConnectionLoss,
            ErrorCode::MarshallingError => Error::MarshallingError,
            ErrorCode::Unimplemented => Error::Unimplemented,
            ErrorCode::OperationTimeout => Error::OperationTimeout,
            ErrorCode::BadArguments => Error::BadArguments {
                reason: format!("refused by the server for {path}"),
            },
            ErrorCode::InvalidState => Error::InvalidState,
            ErrorCode::UnknownSession => Error::UnknownSession,
            ErrorCode::NewConfigNoQuorum => Error::NewConfigNoQuorum,
            ErrorCode::ReconfigInProgress => Error::ReconfigInProgress,
            ErrorCode::SslConnectionError => Error::SslConnectionError,
            ErrorCode::ApiError => Error::ApiError,
            ErrorCode::NoNode => Error::NoNode { path },
            ErrorCode::NoAuth => Error::NoAuth { path },
            ErrorCode::BadVersion => Error::BadVersion { path },
            ErrorCode::NoChildrenForEphemerals => Error::NoChildrenForEphemerals { path },
            ErrorCode::NodeExists => Error::NodeExists { path },
            ErrorCode::NotEmpty => Error::NotEmpty { path },
            ErrorCode::SessionExpired => Error::SessionExpired,
            ErrorCode::InvalidCallback => Error::InvalidCallback,
            ErrorCode::InvalidAcl => Error::InvalidAcl { path },
            ErrorCode::AuthFailed => Error::AuthFailed,
            ErrorCode::Closing => Error::ClientClosed,
            ErrorCode::Nothing => Error::Nothing,
            ErrorCode::SessionMoved => Error::SessionMoved,
            ErrorCode::NotReadOnly => Error::NotReadOnly,
            ErrorCode::EphemeralOnLocalSession => Error::EphemeralOnLocalSession { path },
            ErrorCode::NoWatcher => Error::NoWatcher { path },
            ErrorCode::RequestTimeout => Error::Timeout,
            ErrorCode::ReconfigDisabled => Error::ReconfigDisabled,
            ErrorCode::SessionClosedRequireSaslAuth => Error::SessionClosedRequireSaslAuth,
            ErrorCode::QuotaExceeded => Error::QuotaExceeded { path },
            ErrorCode::ThrottledOp => Error::ThrottledOp,
        }
    }

    /// The error for a wire error number; numbers ZooKeeper does not define
    /// give [`Error::Protocol`].
    pub fn from_wire(code: i32, path: &str) -> Error {
        match ErrorCode::from_code(code) {
            Some(code) => Error::from_code(code, path),
            None => Error::Protocol(format!("unknown error code {code}")),
        }
    }

    /// Whether trying the same request again may succeed (the connection,
    /// the server or the quorum may recover). When
    /// [`outcome_unknown`](Self::outcome_unknown) is true as well, a write
    /// must first find out whether it was applied (protected-mode names,
    /// versions), or a retry may apply it twice; reads may simply retry.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::InvalidPath { .. } | Error::LockHeld { .. } | Error::ClientClosed => false,
            Error::Protocol(_) => true,
            Error::MultiFailed { source, .. } => source.is_retryable(),
            other => other.code().info().retry != Retry::Never,
        }
    }

    /// Whether a write that failed with this error may nevertheless have
    /// been applied: the connection dropped (or the client closed, or the
    /// reply did not come in time) after the request was sent and before
    /// its reply. Never true for an error the server replied with.
    pub fn outcome_unknown(&self) -> bool {
        matches!(
            self,
            Error::ConnectionLoss
                | Error::Timeout
                | Error::OperationTimeout
                | Error::ClientClosed
                | Error::Protocol(_)
        )
    }

    /// The Python exception class name: kazoo's for ZooKeeper codes
    /// (`NoNodeError`, see [`ErrorCode::info`]); `InvalidPathError` and
    /// `ProtocolError` for the client-side errors that have no code of
    /// their own; a failed multi is its failing op's.
    pub fn python_exception(&self) -> &'static str {
        match self {
            Error::InvalidPath { .. } => "InvalidPathError",
            Error::LockHeld { .. } => "LockHeldError",
            Error::Protocol(_) => "ProtocolError",
            Error::MultiFailed { source, .. } => source.python_exception(),
            other => other.code().info().python_exception,
        }
    }

    /// Node's `err.code` string: ZooKeeper's constant name (`'NONODE'`),
    /// `'INVALIDPATH'` and `'PROTOCOL'` for the client-side errors that
    /// have no code of their own.
    pub fn node_code(&self) -> &'static str {
        match self {
            Error::InvalidPath { .. } => "INVALIDPATH",
            Error::LockHeld { .. } => "LOCKHELD",
            Error::Protocol(_) => "PROTOCOL",
            Error::MultiFailed { source, .. } => source.node_code(),
            other => other.code().info().node_code,
        }
    }

    /// The gRPC status for this error on a read (`is_write` false) or a
    /// write: a write whose outcome is unknown is `UNKNOWN`, which standard
    /// retry policies do not retry.
    pub fn grpc_status(&self, is_write: bool) -> GrpcStatus {
        match self {
            Error::InvalidPath { .. } => GrpcStatus::InvalidArgument,
            Error::LockHeld { .. } => GrpcStatus::FailedPrecondition,
            Error::Protocol(_) if is_write => GrpcStatus::Unknown,
            Error::Protocol(_) => GrpcStatus::Unavailable,
            Error::MultiFailed { source, .. } => source.grpc_status(is_write),
            other => {
                let info = other.code().info();
                if is_write {
                    info.grpc_write
                } else {
                    info.grpc_read
                }
            }
        }
    }

    /// The node the error is about, when it carries one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Error::NoNode { path }
            | Error::NoAuth { path }
            | Error::BadVersion { path }
            | Error::NoChildrenForEphemerals { path }
            | Error::NodeExists { path }
            | Error::NotEmpty { path }
            | Error::InvalidAcl { path }
            | Error::EphemeralOnLocalSession { path }
            | Error::NoWatcher { path }
            | Error::QuotaExceeded { path }
            | Error::InvalidPath { path, .. }
            | Error::LockHeld { path } => Some(path),
            Error::MultiFailed { source, .. } => source.path(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_both_ways() {
        for code in ErrorCode::ALL {
            let err = Error::from_code(code, "/p");
            if code == ErrorCode::Ok {
                assert!(matches!(err, Error::Protocol(_)));
                continue;
            }
            assert_eq!(err.code(), code, "{code} -> {err:?}");
            assert_eq!(Error::from_wire(code.code(), "/p"), err);
            assert!(!matches!(err, Error::Protocol(_)), "{code}");
        }
    }

    #[test]
    fn variants_carry_exact_numbers() {
        let cases = [
            (Error::NoNode { path: "/a".into() }, -101),
            (Error::NodeExists { path: "/a".into() }, -110),
            (Error::BadVersion { path: "/a".into() }, -103),
            (Error::NotEmpty { path: "/a".into() }, -111),
            (Error::NoAuth { path: "/a".into() }, -102),
            (Error::SessionExpired, -112),
            (Error::SessionMoved, -118),
            (Error::ConnectionLoss, -4),
            (Error::Unimplemented, -6),
            (Error::Timeout, -122),
            (Error::ClientClosed, -116),
            (Error::NoWatcher { path: "/a".into() }, -121),
            (Error::RuntimeInconsistency, -2),
            (
                Error::InvalidPath {
                    path: "a".into(),
                    reason: "x".into(),
                },
                -8,
            ),
            (Error::Protocol("x".into()), -5),
            (
                Error::MultiFailed {
                    index: 2,
                    source: Box::new(Error::NodeExists { path: "/a".into() }),
                },
                -110,
            ),
        ];
        for (err, number) in cases {
            assert_eq!(err.code().code(), number, "{err:?}");
        }
    }

    fn client_side_errors() -> Vec<Error> {
        vec![
            Error::InvalidPath {
                path: "a".into(),
                reason: "x".into(),
            },
            Error::Protocol("x".into()),
            Error::ClientClosed,
            Error::Timeout,
            Error::LockHeld { path: "/l".into() },
        ]
    }

    #[test]
    fn every_error_has_its_own_name_in_every_language() {
        let mut python = std::collections::HashMap::new();
        let mut node = std::collections::HashMap::new();
        let errors = ErrorCode::ALL
            .into_iter()
            .filter(|c| *c != ErrorCode::Ok)
            .map(|c| Error::from_code(c, "/p"))
            .chain(client_side_errors());
        for err in errors {
            // Distinct errors, distinct names (an error and the code it
            // came from share them).
            let identity = std::mem::discriminant(&err);
            assert_eq!(
                *python.entry(err.python_exception()).or_insert(identity),
                identity
            );
            assert_eq!(*node.entry(err.node_code()).or_insert(identity), identity);
        }
        let invalid = &client_side_errors()[0];
        assert_eq!(invalid.code(), ErrorCode::BadArguments);
        assert_eq!(
            (invalid.python_exception(), invalid.node_code()),
            ("InvalidPathError", "INVALIDPATH")
        );
        assert_eq!(
            Error::ClientClosed.python_exception(),
            "ConnectionClosedError"
        );
        let multi = Error::MultiFailed {
            index: 1,
            source: Box::new(Error::NodeExists { path: "/a".into() }),
        };
        assert_eq!(
            (multi.python_exception(), multi.node_code()),
            ("NodeExistsError", "NODEEXISTS")
        );
    }

    #[test]
    fn retry_advice() {
        let unknown = [
            Error::ConnectionLoss,
            Error::Timeout,
            Error::Protocol("x".into()),
        ];
        for err in unknown {
            assert!(err.is_retryable() && err.outcome_unknown(), "{err:?}");
            assert_eq!(err.grpc_status(true), GrpcStatus::Unknown, "{err:?}");
            assert_eq!(
                err.grpc_status(false),
                if err == Error::Timeout {
                    GrpcStatus::DeadlineExceeded
                } else {
                    GrpcStatus::Unavailable
                }
            );
        }
        assert!(Error::ThrottledOp.is_retryable() && !Error::ThrottledOp.outcome_unknown());
        assert!(!Error::ClientClosed.is_retryable() && Error::ClientClosed.outcome_unknown());
        for err in [
            Error::NoNode { path: "/a".into() },
            Error::NodeExists { path: "/a".into() },
            Error::BadVersion { path: "/a".into() },
            Error::SessionExpired,
            client_side_errors()[0].clone(),
        ] {
            assert!(!err.is_retryable() && !err.outcome_unknown(), "{err:?}");
        }
        assert_eq!(
            Error::NodeExists { path: "/a".into() }.grpc_status(true),
            GrpcStatus::AlreadyExists
        );
    }

    #[test]
    fn messages_are_lowercase_and_name_the_path() {
        let err = Error::from_code(ErrorCode::NoNode, "/x/y");
        assert_eq!(err.to_string(), "node does not exist: /x/y");
        assert_eq!(err.path(), Some("/x/y"));
        for code in ErrorCode::ALL {
            let text = Error::from_code(code, "/p").to_string();
            let first = text.chars().next().unwrap();
            assert!(!first.is_uppercase(), "{text}");
        }
        assert_eq!(
            Error::from_wire(-126, "/p").code(),
            ErrorCode::MarshallingError
        );
    }
}
