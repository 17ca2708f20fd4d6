# Type stubs of the native module (bindings/python/src/*.rs).
#
# Every verb blocks (GIL released, Ctrl-C cancels) and returns its result;
# given ``done``, it returns a NativeCanceller at once and later calls
# ``done(True, result)`` or ``done(False, exception)`` on the process's
# corral-complete thread (used by corral.aio).
from typing import Any, Callable, Dict, List, Optional, Tuple

_Stat = Tuple[int, int, int, int, int, int, int, int, int, int, int]
_Event = Tuple[str, str, str]
_Done = Optional[Callable[[bool, Any], Any]]

EXCEPTIONS: Dict[str, type]

class NativeCanceller:
    def cancel(self) -> None: ...

class NativeClient:
    def __init__(
        self,
        hosts: str,
        session_timeout_ms: Optional[int] = None,
        request_timeout_ms: Optional[int] = None,
        session: Optional[str] = None,
        auth_data: Optional[List[Tuple[str, bytes]]] = None,
        read_only: bool = False,
    ) -> None: ...
    def start(self, timeout_ms: Optional[int] = None, done: _Done = None) -> Any: ...
    def stop(self, done: _Done = None) -> Any: ...
    def detach(self) -> None: ...
    @property
    def connected(self) -> bool: ...
    @property
    def client_id(self) -> Optional[Tuple[int, bytes]]: ...
    @property
    def session_token(self) -> str: ...
    def create(
        self,
        path: str,
        value: bytes,
        ephemeral: bool = False,
        sequence: bool = False,
        makepath: bool = False,
        acl: Optional[List[Tuple[int, str, str]]] = None,
        done: _Done = None,
    ) -> Any: ...
    def ensure_path(self, path: str, done: _Done = None) -> Any: ...
    def get(
        self, path: str, watch: Optional[Callable[[_Event], Any]] = None, done: _Done = None
    ) -> Any: ...
    def set(self, path: str, value: bytes, version: int = -1, done: _Done = None) -> Any: ...
    def delete(
        self, path: str, version: int = -1, recursive: bool = False, done: _Done = None
    ) -> Any: ...
    def exists(
        self, path: str, watch: Optional[Callable[[_Event], Any]] = None, done: _Done = None
    ) -> Any: ...
    def get_children(
        self,
        path: str,
        watch: Optional[Callable[[_Event], Any]] = None,
        include_data: bool = False,
        done: _Done = None,
    ) -> Any: ...
    def sync(self, path: str, done: _Done = None) -> Any: ...
    def add_auth(self, scheme: str, credential: bytes, done: _Done = None) -> Any: ...
    def get_acls(self, path: str, done: _Done = None) -> Any: ...
    def set_acls(
        self, path: str, acl: List[Tuple[int, str, str]], version: int = -1, done: _Done = None
    ) -> Any: ...
    def add_watch(
        self, path: str, callback: Callable[[_Event], Any], recursive: bool = False
    ) -> int: ...
    def remove_watch(self, id: int) -> None: ...
    def add_listener(self, listener: Callable[[str], Any]) -> None: ...
    def remove_listener(self, listener: Callable[[str], Any]) -> bool: ...
    def multi(
        self, ops: List[Tuple[str, str, bytes, int, bool, bool]], done: _Done = None
    ) -> Any: ...
    def new_lock(
        self,
        path: str,
        identifier: bytes,
        on_lost: Optional[Callable[[str, str], Any]] = None,
    ) -> NativeLock: ...
    def new_semaphore(
        self,
        path: str,
        identifier: bytes,
        max_leases: int,
        on_lost: Optional[Callable[[str, str], Any]] = None,
    ) -> NativeLock: ...
    def new_election(
        self,
        path: str,
        identifier: str,
        on_lost: Optional[Callable[[str, str], Any]] = None,
    ) -> NativeLock: ...

class NativeLock:
    def acquire(
        self, blocking: bool = True, timeout_ms: Optional[int] = None, done: _Done = None
    ) -> Any: ...
    def release(self, done: _Done = None) -> Any: ...
    @property
    def is_acquired(self) -> bool: ...
    @property
    def fencing_token(self) -> Optional[int]: ...
    @property
    def node(self) -> Optional[str]: ...
    def contenders(self) -> List[str]: ...
