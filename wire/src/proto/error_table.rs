//! One row per [`ErrorCode`]: its names in every language Corral is used
//! from, and what a gRPC client should see. Every binding's error list (C
//! enum, Python exception classes, Node `code` strings, gateway statuses)
//! is generated from or tested against [`ErrorCode::info`].
//!
//! Python names are kazoo's (`kazoo.exceptions`) where kazoo defines the
//! code, so code written against kazoo catches the same classes; for codes
//! kazoo lacks, the name follows kazoo's pattern and
//! [`ErrorInfo::kazoo_defines`] is false. Node's `code` is ZooKeeper's own
//! constant name (`KeeperException.Code`), as node-zookeeper-client users
//! compare it (`err.code === 'NONODE'`).

use super::ErrorCode;

/// The gRPC status codes (`google.rpc.Code`), with their numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum GrpcStatus {
    /// `OK` (0).
    Ok = 0,
    /// `CANCELLED` (1).
    Cancelled = 1,
    /// `UNKNOWN` (2): standard retry policies never retry it, which is
    /// what a write whose outcome is unknown needs.
    Unknown = 2,
    /// `INVALID_ARGUMENT` (3).
    InvalidArgument = 3,
    /// `DEADLINE_EXCEEDED` (4).
    DeadlineExceeded = 4,
    /// `NOT_FOUND` (5).
    NotFound = 5,
    /// `ALREADY_EXISTS` (6).
    AlreadyExists = 6,
    /// `PERMISSION_DENIED` (7).
    PermissionDenied = 7,
    /// `RESOURCE_EXHAUSTED` (8).
    ResourceExhausted = 8,
    /// `FAILED_PRECONDITION` (9).
    FailedPrecondition = 9,
    /// `ABORTED` (10).
    Aborted = 10,
    /// `OUT_OF_RANGE` (11).
    OutOfRange = 11,
    /// `UNIMPLEMENTED` (12).
    Unimplemented = 12,
    /// `INTERNAL` (13).
    Internal = 13,
    /// `UNAVAILABLE` (14): safe to retry (the request was not applied).
    Unavailable = 14,
    /// `DATA_LOSS` (15).
    DataLoss = 15,
    /// `UNAUTHENTICATED` (16).
    Unauthenticated = 16,
}

impl GrpcStatus {
    /// The status number.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The canonical name (`NOT_FOUND`).
    pub fn name(self) -> &'static str {
        match self {
            GrpcStatus::Ok => "OK",
            GrpcStatus::Cancelled => "CANCELLED",
            GrpcStatus::Unknown => "UNKNOWN",
            GrpcStatus::InvalidArgument => "INVALID_ARGUMENT",
            GrpcStatus::DeadlineExceeded => "DEADLINE_EXCEEDED",
            GrpcStatus::NotFound => "NOT_FOUND",
            GrpcStatus::AlreadyExists => "ALREADY_EXISTS",
            GrpcStatus::PermissionDenied => "PERMISSION_DENIED",
            GrpcStatus::ResourceExhausted => "RESOURCE_EXHAUSTED",
            GrpcStatus::FailedPrecondition => "FAILED_PRECONDITION",
            GrpcStatus::Aborted => "ABORTED",
            GrpcStatus::OutOfRange => "OUT_OF_RANGE",
            GrpcStatus::Unimplemented => "UNIMPLEMENTED",
            GrpcStatus::Internal => "INTERNAL",
            GrpcStatus::Unavailable => "UNAVAILABLE",
            GrpcStatus::DataLoss => "DATA_LOSS",
            GrpcStatus::Unauthenticated => "UNAUTHENTICATED",
        }
    }
}

/// How a request that failed with a code may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Retry {
    /// The request failed for a reason retrying will not change (the node
    /// exists, the version moved on, no permission, session gone).
    Never,
    /// The request was certainly not applied and a retry may succeed
    /// (server throttled, read-only server, no quorum yet).
    Safe,
    /// A retry may succeed, but the request may also have been applied
    /// already (the connection dropped or the reply did not come in time):
    /// a read may be retried; a write must first find out whether it
    /// happened (protected-mode names, versions), or it may apply twice.
    OutcomeUnknown,
}

/// One row of the error table: see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorInfo {
    /// The code; `code.code()` is ZooKeeper's number.
    pub code: ErrorCode,
    /// ZooKeeper's constant name (`NONODE`).
    pub zookeeper_name: &'static str,
    /// The Python exception class name (kazoo's, `NoNodeError`).
    pub python_exception: &'static str,
    /// Whether kazoo defines `python_exception` for this code.
    pub kazoo_defines: bool,
    /// Node's `err.code` string (`'NONODE'`).
    pub node_code: &'static str,
    /// The gRPC status for this code on a read.
    pub grpc_read: GrpcStatus,
    /// The gRPC status for this code on a write: `UNKNOWN` where the write
    /// may or may not have been applied, so that retry policies do not
    /// blindly retry it.
    pub grpc_write: GrpcStatus,
    /// How a request that failed with this code may be retried.
    pub retry: Retry,
}

impl ErrorCode {
    /// This code's row of the error table.
    pub fn info(self) -> ErrorInfo {
        use GrpcStatus as G;
        use Retry::{Never, OutcomeUnknown, Safe};
        // (python name, kazoo defines it, read status, write status, retry)
        let (python_exception, kazoo_defines, grpc_read, grpc_write, retry) = match self {
            // kazoo reports the ops of a failed multi before the failing
            // one (result 0) as RolledBackError.
            ErrorCode::Ok => ("RolledBackError", true, G::Ok, G::Ok, Never),
            ErrorCode::SystemError => (
                "SystemZookeeperError",
                true,
                G::Internal,
                G::Internal,
                Never,
            ),
            ErrorCode::RuntimeInconsistency => {
                ("RuntimeInconsistency", true, G::Aborted, G::Aborted, Never)
            }
            ErrorCode::DataInconsistency => {
                ("DataInconsistency", true, G::DataLoss, G::DataLoss, Never)
            }
            ErrorCode::ConnectionLoss => (
                "ConnectionLoss",
                true,
                G::Unavailable,
                G::Unknown,
                OutcomeUnknown,
            ),
            ErrorCode::MarshallingError => {
                ("MarshallingError", true, G::Internal, G::Internal, Never)
            }
            ErrorCode::Unimplemented => (
                "UnimplementedError",
                true,
                G::Unimplemented,
                G::Unimplemented,
                Never,
            ),
            ErrorCode::OperationTimeout => (
                "OperationTimeoutError",
                true,
                G::DeadlineExceeded,
                G::Unknown,
                OutcomeUnknown,
            ),
            ErrorCode::BadArguments => (
                "BadArgumentsError",
                true,
                G::InvalidArgument,
                G::InvalidArgument,
                Never,
            ),
            ErrorCode::InvalidState => (
                "InvalidStateError",
                false,
                G::FailedPrecondition,
                G::FailedPrecondition,
                Never,
            ),
            ErrorCode::UnknownSession => (
                "UnknownSessionError",
                false,
                G::FailedPrecondition,
                G::FailedPrecondition,
                Never,
            ),
            ErrorCode::NewConfigNoQuorum => (
                "NewConfigNoQuorumError",
                true,
                G::Unavailable,
                G::Unavailable,
                Safe,
            ),
            ErrorCode::ReconfigInProgress => {
                ("ReconfigInProcessError", true, G::Aborted, G::Aborted, Safe)
            }
            ErrorCode::SslConnectionError => (
                "SslConnectionError",
                false,
                G::Unavailable,
                G::Unavailable,
                Safe,
            ),
            ErrorCode::ApiError => ("APIError", true, G::Unknown, G::Unknown, Never),
            ErrorCode::NoNode => ("NoNodeError", true, G::NotFound, G::NotFound, Never),
            ErrorCode::NoAuth => (
                "NoAuthError",
                true,
                G::PermissionDenied,
                G::PermissionDenied,
                Never,
            ),
            ErrorCode::BadVersion => ("BadVersionError", true, G::Aborted, G::Aborted, Never),
            ErrorCode::NoChildrenForEphemerals => (
                "NoChildrenForEphemeralsError",
                true,
                G::FailedPrecondition,
                G::FailedPrecondition,
                Never,
            ),
            ErrorCode::NodeExists => (
                "NodeExistsError",
                true,
                G::AlreadyExists,
                G::AlreadyExists,
                Never,
            ),
            ErrorCode::NotEmpty => (
                "NotEmptyError",
                true,
                G::FailedPrecondition,
                G::FailedPrecondition,
                Never,
            ),
            ErrorCode::SessionExpired => (
                "SessionExpiredError",
                true,
                G::FailedPrecondition,
                G::FailedPrecondition,
                Never,
            ),
            ErrorCode::InvalidCallback => (
                "InvalidCallbackError",
                true,
                G::InvalidArgument,
                G::InvalidArgument,
                Never,
            ),
            ErrorCode::InvalidAcl => (
                "InvalidACLError",
                true,
                G::InvalidArgument,
                G::InvalidArgument,
                Never,
            ),
            ErrorCode::AuthFailed => (
                "AuthFailedError",
                true,
                G::Unauthenticated,
                G::Unauthenticated,
                Never,
            ),
            // The client was closed while the request was pending: a write
            // may have reached the server.
            ErrorCode::Closing => (
                "ConnectionClosedError",
                true,
                G::Cancelled,
                G::Unknown,
                Never,
            ),
            ErrorCode::Nothing => ("NothingError", false, G::Unknown, G::Unknown, Never),
            ErrorCode::SessionMoved => (
                "SessionMovedError",
                true,
                G::FailedPrecondition,
                G::FailedPrecondition,
                Never,
            ),
            ErrorCode::NotReadOnly => (
                "NotReadOnlyCallError",
                true,
                G::Unavailable,
                G::Unavailable,
                Safe,
            ),
            ErrorCode::EphemeralOnLocalSession => (
                "EphemeralOnLocalSessionError",
                false,
                G::FailedPrecondition,
                G::FailedPrecondition,
                Never,
            ),
            ErrorCode::NoWatcher => ("NoWatcherError", false, G::NotFound, G::NotFound, Never),
            ErrorCode::RequestTimeout => (
                "RequestTimeoutError",
                false,
                G::DeadlineExceeded,
                G::Unknown,
                OutcomeUnknown,
            ),
            ErrorCode::ReconfigDisabled => (
                "ReconfigDisabledError",
                false,
                G::FailedPrecondition,
                G::FailedPrecondition,
                Never,
            ),
            ErrorCode::SessionClosedRequireSaslAuth => (
                "SessionClosedRequireSaslAuthError",
                false,
                G::Unauthenticated,
                G::Unauthenticated,
                Never,
            ),
            ErrorCode::QuotaExceeded => (
                "QuotaExceededError",
                false,
                G::ResourceExhausted,
                G::ResourceExhausted,
                Never,
            ),
            ErrorCode::ThrottledOp => (
                "ThrottledOpError",
                false,
                G::Unavailable,
                G::Unavailable,
                Safe,
            ),
        };
        ErrorInfo {
            code: self,
            zookeeper_name: self.name(),
            python_exception,
            kazoo_defines,
            node_code: self.name(),
            grpc_read,
            grpc_write,
            retry,
        }
    }

    /// The code whose ZooKeeper name is `name` (`"NONODE"`).
    pub fn from_name(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The code whose Python exception class is `name` (`"NoNodeError"`).
    pub fn from_python_exception(name: &str) -> Option<ErrorCode> {
        ErrorCode::ALL
            .into_iter()
            .find(|c| c.info().python_exception == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_has_a_row_and_every_name_round_trips() {
        let mut python = HashSet::new();
        let mut zookeeper = HashSet::new();
        for code in ErrorCode::ALL {
            let info = code.info();
            assert_eq!(info.code, code);
            assert!(!info.zookeeper_name.is_empty() && !info.python_exception.is_empty());
            assert!(
                python.insert(info.python_exception),
                "{code}: python name reused"
            );
            assert!(
                zookeeper.insert(info.zookeeper_name),
                "{code}: zookeeper name reused"
            );
            assert_eq!(ErrorCode::from_name(info.zookeeper_name), Some(code));
            assert_eq!(
                ErrorCode::from_python_exception(info.python_exception),
                Some(code)
            );
            assert_eq!(ErrorCode::from_code(code.code()), Some(code));
            assert_eq!(info.node_code, info.zookeeper_name);
            // Python classes are CamelCase; Node codes are ZooKeeper's
            // upper-case constants.
            assert!(info
                .python_exception
                .starts_with(|c: char| c.is_ascii_uppercase()));
            assert!(info.node_code.chars().all(|c| c.is_ascii_uppercase()));
        }
        assert_eq!(python.len(), ErrorCode::ALL.len());
    }

    #[test]
    fn kazoo_names_of_the_common_codes() {
        let cases = [
            (ErrorCode::NoNode, "NoNodeError", -101),
            (ErrorCode::NodeExists, "NodeExistsError", -110),
            (ErrorCode::BadVersion, "BadVersionError", -103),
            (ErrorCode::NotEmpty, "NotEmptyError", -111),
            (ErrorCode::NoAuth, "NoAuthError", -102),
            (ErrorCode::SessionExpired, "SessionExpiredError", -112),
            (ErrorCode::ConnectionLoss, "ConnectionLoss", -4),
            (ErrorCode::InvalidAcl, "InvalidACLError", -114),
        ];
        for (code, python, number) in cases {
            let info = code.info();
            assert_eq!((info.python_exception, code.code()), (python, number));
            assert!(info.kazoo_defines, "{code}");
        }
    }

    #[test]
    fn grpc_statuses_follow_the_style_guide() {
        let status = |c: ErrorCode| (c.info().grpc_read, c.info().grpc_write);
        assert_eq!(
            status(ErrorCode::NoNode),
            (GrpcStatus::NotFound, GrpcStatus::NotFound)
        );
        assert_eq!(status(ErrorCode::NodeExists).1, GrpcStatus::AlreadyExists);
        assert_eq!(status(ErrorCode::BadVersion).1, GrpcStatus::Aborted);
        assert_eq!(status(ErrorCode::NoAuth).1, GrpcStatus::PermissionDenied);
        assert_eq!(
            status(ErrorCode::NotEmpty).1,
            GrpcStatus::FailedPrecondition
        );
        assert_eq!(
            status(ErrorCode::ConnectionLoss),
            (GrpcStatus::Unavailable, GrpcStatus::Unknown)
        );
        assert_eq!(GrpcStatus::Unknown.name(), "UNKNOWN");
        assert_eq!(GrpcStatus::Unauthenticated.code(), 16);
    }

    #[test]
    fn a_write_whose_outcome_is_unknown_is_never_a_retryable_grpc_status() {
        for code in ErrorCode::ALL {
            let info = code.info();
            if info.retry == Retry::OutcomeUnknown {
                assert_eq!(info.grpc_write, GrpcStatus::Unknown, "{code}");
            }
            // UNAVAILABLE is what retry policies retry: only where the
            // request was certainly not applied.
            if info.grpc_write == GrpcStatus::Unavailable {
                assert_eq!(info.retry, Retry::Safe, "{code}");
            }
        }
    }
}
