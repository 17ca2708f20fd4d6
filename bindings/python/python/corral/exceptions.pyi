# Type stubs of corral.exceptions: the classes the native module makes from the
# error table (a test checks this list against corral._native.EXCEPTIONS).
from typing import Optional

__all__ = [
    "APIError",
    "AuthFailedError",
    "BadArgumentsError",
    "BadVersionError",
    "CancelledError",
    "ConnectionClosedError",
    "ConnectionLoss",
    "DataInconsistency",
    "EphemeralOnLocalSessionError",
    "ForkedClientError",
    "InvalidACLError",
    "InvalidCallbackError",
    "InvalidPathError",
    "InvalidStateError",
    "KazooException",
    "LockHeldError",
    "LockTimeout",
    "MarshallingError",
    "NewConfigNoQuorumError",
    "NoAuthError",
    "NoChildrenForEphemeralsError",
    "NoNodeError",
    "NoWatcherError",
    "NodeExistsError",
    "NotEmptyError",
    "NotReadOnlyCallError",
    "NothingError",
    "OperationTimeoutError",
    "ProtocolError",
    "QuotaExceededError",
    "ReconfigDisabledError",
    "ReconfigInProcessError",
    "RequestTimeoutError",
    "ResultConsumedError",
    "RolledBackError",
    "RuntimeInconsistency",
    "RuntimeThreadError",
    "SessionClosedRequireSaslAuthError",
    "SessionExpiredError",
    "SessionMovedError",
    "SslConnectionError",
    "SystemZookeeperError",
    "ThrottledOpError",
    "UnimplementedError",
    "UnknownSessionError",
    "WaitTimeoutError",
    "ZookeeperError",
]

class KazooException(Exception):
    code: Optional[int]
    path: Optional[str]

class LockTimeout(KazooException): ...

class ZookeeperError(KazooException):
    code: int
    index: int

class APIError(ZookeeperError): ...

class AuthFailedError(ZookeeperError): ...

class BadArgumentsError(ZookeeperError): ...

class BadVersionError(ZookeeperError): ...

class ConnectionClosedError(ZookeeperError): ...

class ConnectionLoss(ZookeeperError): ...

class DataInconsistency(ZookeeperError): ...

class EphemeralOnLocalSessionError(ZookeeperError): ...

class InvalidACLError(ZookeeperError): ...

class InvalidCallbackError(ZookeeperError): ...

class InvalidStateError(ZookeeperError): ...

class MarshallingError(ZookeeperError): ...

class NewConfigNoQuorumError(ZookeeperError): ...

class NoAuthError(ZookeeperError): ...

class NoChildrenForEphemeralsError(ZookeeperError): ...

class NoNodeError(ZookeeperError): ...

class NoWatcherError(ZookeeperError): ...

class NodeExistsError(ZookeeperError): ...

class NotEmptyError(ZookeeperError): ...

class NotReadOnlyCallError(ZookeeperError): ...

class NothingError(ZookeeperError): ...

class OperationTimeoutError(ZookeeperError): ...

class QuotaExceededError(ZookeeperError): ...

class ReconfigDisabledError(ZookeeperError): ...

class ReconfigInProcessError(ZookeeperError): ...

class RequestTimeoutError(ZookeeperError): ...

class RolledBackError(ZookeeperError): ...

class RuntimeInconsistency(ZookeeperError): ...

class SessionClosedRequireSaslAuthError(ZookeeperError): ...

class SessionExpiredError(ZookeeperError): ...

class SessionMovedError(ZookeeperError): ...

class SslConnectionError(ZookeeperError): ...

class SystemZookeeperError(ZookeeperError): ...

class ThrottledOpError(ZookeeperError): ...

class UnimplementedError(ZookeeperError): ...

class UnknownSessionError(ZookeeperError): ...

class CancelledError(SystemZookeeperError): ...

class ForkedClientError(ConnectionClosedError): ...

class InvalidPathError(BadArgumentsError): ...

class LockHeldError(BadArgumentsError): ...

class ProtocolError(MarshallingError): ...

class ResultConsumedError(SystemZookeeperError): ...

class RuntimeThreadError(SystemZookeeperError): ...

class WaitTimeoutError(OperationTimeoutError): ...
