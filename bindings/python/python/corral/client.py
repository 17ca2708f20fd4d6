"""``Client``, ``Lock`` and ``Transaction``: thin wrappers over ``corral._native``.

Blocking calls release the GIL and stop on Ctrl-C (``KeyboardInterrupt``,
the request cancelled). Watch callbacks and state listeners run on the
client's own event thread, one event at a time, in the session's order."""

from __future__ import annotations

from typing import Any, Callable, List, NamedTuple, Optional, Tuple, TypeVar, Union

from ._native import NativeBarrier, NativeClient, NativeLock

T = TypeVar("T")


def _millis(seconds: Optional[float]) -> Optional[int]:
    return None if seconds is None else int(seconds * 1000)


class ZnodeStat(NamedTuple):
    """A node's stat, with kazoo's field names (and snake_case aliases)."""

    czxid: int
    mzxid: int
    ctime: int
    mtime: int
    version: int
    cversion: int
    aversion: int
    ephemeralOwner: int
    dataLength: int
    numChildren: int
    pzxid: int

    @property
    def ephemeral_owner(self) -> int:
        return self.ephemeralOwner

    @property
    def data_length(self) -> int:
        return self.dataLength

    @property
    def num_children(self) -> int:
        return self.numChildren

    @property
    def created(self) -> float:
        """Creation time in seconds (kazoo's alias)."""
        return self.ctime / 1000.0

    @property
    def last_modified(self) -> float:
        """Last modification time in seconds (kazoo's alias)."""
        return self.mtime / 1000.0


class WatchedEvent(NamedTuple):
    """A watch's event: kazoo's ``EventType`` and ``KeeperState`` strings and the path."""

    type: str
    state: str
    path: str


class Id(NamedTuple):
    """Who an ACL entry is for: a scheme and an id in it (kazoo's ``Id``)."""

    scheme: str
    id: str


class ACL(NamedTuple):
    """One ACL entry (kazoo's ``ACL``): a bit set of ``Permissions`` and an ``Id``."""

    perms: int
    id: Id


class Permissions:
    """ACL permission bits (kazoo's ``Permissions``)."""

    READ = 1
    WRITE = 2
    CREATE = 4
    DELETE = 8
    ADMIN = 16
    ALL = 31


OPEN_ACL_UNSAFE = [ACL(Permissions.ALL, Id("world", "anyone"))]
"""Everyone may do everything (ZooKeeper's ``OPEN_ACL_UNSAFE``, the default)."""

CREATOR_ALL_ACL = [ACL(Permissions.ALL, Id("auth", ""))]
"""Only the identities the creating session authenticated as."""


def _acl_tuples(acl: Optional[List[ACL]]) -> Optional[List[Tuple[int, str, str]]]:
    return None if acl is None else [(a.perms, a.id.scheme, a.id.id) for a in acl]


class KazooState:
    """Session states given to ``add_listener`` callbacks (kazoo's values)."""

    SUSPENDED = "SUSPENDED"
    CONNECTED = "CONNECTED"
    LOST = "LOST"


def _watch_adapter(watch: Callable[[WatchedEvent], Any]) -> Callable[[Tuple[str, str, str]], Any]:
    return lambda event: watch(WatchedEvent(*event))


class Client:
    """A ZooKeeper client with kazoo's ``KazooClient`` verbs.

    ``timeout`` is the session timeout in seconds; ``session`` a token from
    ``session_token`` (of any language's client) to resume that session."""

    def __init__(
        self,
        hosts: str = "127.0.0.1:2181",
        timeout: float = 10.0,
        session: Optional[str] = None,
        request_timeout: Optional[float] = None,
        auth_data: Optional[List[Tuple[str, str]]] = None,
        read_only: bool = False,
    ) -> None:
        auth = None if auth_data is None else [(s, c.encode()) for s, c in auth_data]
        self._native = NativeClient(
            hosts, _millis(timeout), _millis(request_timeout), session, auth, read_only
        )

    # Lifecycle -----------------------------------------------------------

    def start(self, timeout: float = 15) -> None:
        """Connects (a new session, or the one given as ``session``)."""
        self._native.start(_millis(timeout))

    def stop(self) -> None:
        """Closes the session: its ephemeral nodes are deleted."""
        self._native.stop()

    def close(self) -> None:
        """As ``stop()`` (kazoo frees resources here; nothing is left to free)."""
        self._native.stop()

    def detach(self) -> None:
        """Drops the connection but keeps the session, for ``Client(session=token)``."""
        self._native.detach()

    def __enter__(self) -> "Client":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._native.connected

    @property
    def client_id(self) -> Optional[Tuple[int, bytes]]:
        """``(session id, password)``, or None when not started."""
        return self._native.client_id

    @property
    def session_token(self) -> str:
        """The session as core's versioned text token (``v1:...``)."""
        return self._native.session_token

    def add_listener(self, listener: Callable[[str], Any]) -> None:
        """Calls ``listener(KazooState.*)`` on every session state change."""
        self._native.add_listener(listener)

    def remove_listener(self, listener: Callable[[str], Any]) -> bool:
        return self._native.remove_listener(listener)

    # Verbs ---------------------------------------------------------------

    def create(
        self,
        path: str,
        value: bytes = b"",
        ephemeral: bool = False,
        sequence: bool = False,
        makepath: bool = False,
        acl: Optional[List[ACL]] = None,
    ) -> str:
        """Creates a node; returns its path (with the sequence suffix)."""
        result: str = self._native.create(
            path, value, ephemeral, sequence, makepath, _acl_tuples(acl)
        )
        return result

    def ensure_path(self, path: str) -> None:
        self._native.ensure_path(path)

    def get(
        self, path: str, watch: Optional[Callable[[WatchedEvent], Any]] = None
    ) -> Tuple[bytes, ZnodeStat]:
        """The data and stat; ``watch`` is called once with the next change's event."""
        callback = None if watch is None else _watch_adapter(watch)
        data, stat = self._native.get(path, callback)
        return data, ZnodeStat(*stat)

    def set(self, path: str, value: bytes, version: int = -1) -> ZnodeStat:
        return ZnodeStat(*self._native.set(path, value, version))

    def delete(self, path: str, version: int = -1, recursive: bool = False) -> None:
        self._native.delete(path, version, recursive)

    def exists(
        self, path: str, watch: Optional[Callable[[WatchedEvent], Any]] = None
    ) -> Optional[ZnodeStat]:
        """The stat or None; ``watch`` is called once on creation, change or deletion."""
        callback = None if watch is None else _watch_adapter(watch)
        stat = self._native.exists(path, callback)
        return None if stat is None else ZnodeStat(*stat)

    def get_children(
        self,
        path: str,
        watch: Optional[Callable[[WatchedEvent], Any]] = None,
        include_data: bool = False,
    ) -> Union[List[str], Tuple[List[str], ZnodeStat]]:
        """The children's names; with ``include_data``, ``(children, stat)`` as kazoo.
        ``watch`` is called once when the children change (or the node goes)."""
        callback = None if watch is None else _watch_adapter(watch)
        result = self._native.get_children(path, callback, include_data)
        if include_data:
            children, stat = result
            return children, ZnodeStat(*stat)
        children_only: List[str] = result
        return children_only

    def sync(self, path: str) -> None:
        self._native.sync(path)

    def add_auth(self, scheme: str, credential: str) -> None:
        """Adds credentials to the session (``"digest", "user:password"``)."""
        self._native.add_auth(scheme, credential.encode())

    def get_acls(self, path: str) -> Tuple[List[ACL], ZnodeStat]:
        acl, stat = self._native.get_acls(path)
        return [ACL(p, Id(s, i)) for p, s, i in acl], ZnodeStat(*stat)

    def set_acls(self, path: str, acls: List[ACL], version: int = -1) -> ZnodeStat:
        acl = [(a.perms, a.id.scheme, a.id.id) for a in acls]
        return ZnodeStat(*self._native.set_acls(path, acl, version))

    def add_watch(
        self, path: str, watch: Callable[[WatchedEvent], Any], recursive: bool = False
    ) -> int:
        """A persistent (``recursive``: whole subtree) watch; returns its id."""
        return self._native.add_watch(path, _watch_adapter(watch), recursive)

    def remove_watch(self, watch_id: int) -> None:
        self._native.remove_watch(watch_id)

    def transaction(self) -> "Transaction":
        return Transaction(self)

    def Lock(  # noqa: N802 (kazoo's name)
        self,
        path: str,
        identifier: str = "",
        on_lost: Optional[Callable[[str, str], Any]] = None,
    ) -> "Lock":
        return Lock(self, path, identifier, on_lost)

    def Semaphore(  # noqa: N802 (kazoo's name)
        self,
        path: str,
        identifier: str = "",
        max_leases: int = 1,
        on_lost: Optional[Callable[[str, str], Any]] = None,
    ) -> "Semaphore":
        return Semaphore(self, path, identifier, max_leases, on_lost)

    def Barrier(self, path: str) -> "Barrier":  # noqa: N802 (kazoo's name)
        return Barrier(self, path)

    def Election(  # noqa: N802 (kazoo's name)
        self,
        path: str,
        identifier: str = "",
        on_lost: Optional[Callable[[str, str], Any]] = None,
    ) -> "Election":
        return Election(self, path, identifier, on_lost)


class Transaction:
    """Ops committed atomically (kazoo's ``TransactionRequest``)."""

    def __init__(self, client: Client) -> None:
        self._client = client
        self._ops: List[Tuple[str, str, bytes, int, bool, bool]] = []

    def create(
        self, path: str, value: bytes = b"", ephemeral: bool = False, sequence: bool = False
    ) -> None:
        self._ops.append(("create", path, value, -1, ephemeral, sequence))

    def delete(self, path: str, version: int = -1) -> None:
        self._ops.append(("delete", path, b"", version, False, False))

    def set_data(self, path: str, value: bytes, version: int = -1) -> None:
        self._ops.append(("set_data", path, value, version, False, False))

    def check(self, path: str, version: int) -> None:
        self._ops.append(("check", path, b"", version, False, False))

    def commit(self) -> List[Union[str, bool, ZnodeStat]]:
        """Results in order: created path, True (delete, check), new stat (set_data).

        A failing op raises its exception (``.index`` is the op's position);
        nothing was applied."""
        results = self._client._native.multi(self._ops)
        return [ZnodeStat(*r) if isinstance(r, tuple) else r for r in results]

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.commit()


class _Lease:
    """What Lock, Semaphore and Election share: one lease at a time."""

    _native: NativeLock

    def acquire(self, blocking: bool = True, timeout: Optional[float] = None) -> bool:
        """True once held; ``blocking=False`` tries once; ``timeout`` raises ``LockTimeout``."""
        held: bool = self._native.acquire(blocking, _millis(timeout))
        return held

    def release(self) -> bool:
        """Deletes the lease's node; False if none was held."""
        released: bool = self._native.release()
        return released

    @property
    def is_acquired(self) -> bool:
        return self._native.is_acquired

    @property
    def fencing_token(self) -> Optional[int]:
        """Strictly increases across holders (the lease node's czxid); None when not held."""
        return self._native.fencing_token

    @property
    def node(self) -> Optional[str]:
        return self._native.node

    def __enter__(self) -> "_Lease":
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Lock(_Lease):
    """A lock with Curator's ``InterProcessMutex`` layout (shared with Java,
    Rust, C and Node clients), usable as ``with client.Lock(path, "me"):``.

    ``on_lost(node, reason)`` is called on the client's event thread if a held
    lock is lost: its node deleted (``"NODE_DELETED"``) or its session ended
    (``"SESSION_EXPIRED"``, ``"SESSION_CLOSED"``)."""

    def __init__(
        self,
        client: Client,
        path: str,
        identifier: str = "",
        on_lost: Optional[Callable[[str, str], Any]] = None,
    ) -> None:
        self._native = client._native.new_lock(path, identifier.encode(), on_lost)

    def contenders(self) -> List[str]:
        """The contenders' lock nodes, holder first."""
        return self._native.contenders()

    def __enter__(self) -> "Lock":
        self.acquire()
        return self


class Semaphore(_Lease):
    """At most ``max_leases`` holders at once (Curator's ``InterProcessSemaphoreV2``
    layout); one lease per object; ``with client.Semaphore(path, "me", 3):``."""

    def __init__(
        self,
        client: Client,
        path: str,
        identifier: str = "",
        max_leases: int = 1,
        on_lost: Optional[Callable[[str, str], Any]] = None,
    ) -> None:
        self._native = client._native.new_semaphore(
            path, identifier.encode(), max_leases, on_lost
        )

    def lease_holders(self) -> List[str]:
        """The lease nodes present (held, and at most one waiting), sorted."""
        return self._native.contenders()

    def __enter__(self) -> "Semaphore":
        self.acquire()
        return self


class Election(_Lease):
    """A leader election (Curator's ``LeaderSelector`` layout); ``run`` as kazoo's."""

    def __init__(
        self,
        client: Client,
        path: str,
        identifier: str = "",
        on_lost: Optional[Callable[[str, str], Any]] = None,
    ) -> None:
        self._native = client._native.new_election(path, identifier, on_lost)

    def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Waits to be elected, calls ``func``, then gives up the leadership."""
        self.acquire()
        try:
            return func(*args, **kwargs)
        finally:
            self.release()

    def contenders(self) -> List[str]:
        """The participants' identifiers, leader first."""
        return self._native.contenders()

    def __enter__(self) -> "Election":
        self.acquire()
        return self


class Barrier:
    """Waiters block while the barrier's node exists (kazoo's ``Barrier``,
    Curator's ``DistributedBarrier`` layout)."""

    def __init__(self, client: Client, path: str) -> None:
        self._native: NativeBarrier = client._native.new_barrier(path)

    def create(self) -> None:
        """Raises the barrier."""
        self._native.create()

    def remove(self) -> None:
        """Lowers the barrier, releasing the waiters."""
        self._native.remove()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """True once the barrier is lowered; False if ``timeout`` passed first."""
        lowered: bool = self._native.wait(_millis(timeout))
        return lowered
