"""asyncio variants: ``corral.aio.Client`` has the same verbs as coroutines.

Each coroutine starts the native call with a ``done`` callback (run on the
process's ``corral-complete`` thread, scheduled onto this loop); cancelling
the coroutine cancels the request (a lock waiter removes its node)."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Callable, List, Optional, Tuple, Union

from . import client as _sync
from .client import WatchedEvent, ZnodeStat, _millis, _watch_adapter


def _settle(future: "asyncio.Future[Any]", ok: bool, value: Any) -> None:
    if future.done():  # cancelled meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


async def _run(method: Callable[..., Any], *args: Any) -> Any:
    loop = asyncio.get_running_loop()
    future: "asyncio.Future[Any]" = loop.create_future()

    def done(ok: bool, value: Any) -> None:
        try:
            loop.call_soon_threadsafe(_settle, future, ok, value)
        except RuntimeError:  # the loop is closed: nobody waits any more
            pass

    canceller = method(*args, done=done)
    try:
        return await future
    except asyncio.CancelledError:
        canceller.cancel()
        raise


class Client:
    """As ``corral.Client``, with coroutine verbs."""

    def __init__(
        self,
        hosts: str = "127.0.0.1:2181",
        timeout: float = 10.0,
        session: Optional[str] = None,
        request_timeout: Optional[float] = None,
    ) -> None:
        self.blocking = _sync.Client(hosts, timeout, session, request_timeout)
        self._native = self.blocking._native

    async def start(self, timeout: float = 15) -> None:
        await _run(self._native.start, _millis(timeout))

    async def stop(self) -> None:
        await _run(self._native.stop)

    async def close(self) -> None:
        await _run(self._native.stop)

    async def __aenter__(self) -> "Client":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def client_id(self) -> Optional[Tuple[int, bytes]]:
        return self.blocking.client_id

    @property
    def session_token(self) -> str:
        return self.blocking.session_token

    async def create(
        self,
        path: str,
        value: bytes = b"",
        ephemeral: bool = False,
        sequence: bool = False,
        makepath: bool = False,
    ) -> str:
        result: str = await _run(self._native.create, path, value, ephemeral, sequence, makepath)
        return result

    async def ensure_path(self, path: str) -> None:
        await _run(self._native.ensure_path, path)

    async def get(
        self, path: str, watch: Optional[Callable[[WatchedEvent], Any]] = None
    ) -> Tuple[bytes, ZnodeStat]:
        callback = None if watch is None else _watch_adapter(watch)
        data, stat = await _run(self._native.get, path, callback)
        return data, ZnodeStat(*stat)

    async def set(self, path: str, value: bytes, version: int = -1) -> ZnodeStat:
        return ZnodeStat(*await _run(self._native.set, path, value, version))

    async def delete(self, path: str, version: int = -1, recursive: bool = False) -> None:
        await _run(self._native.delete, path, version, recursive)

    async def exists(
        self, path: str, watch: Optional[Callable[[WatchedEvent], Any]] = None
    ) -> Optional[ZnodeStat]:
        callback = None if watch is None else _watch_adapter(watch)
        stat = await _run(self._native.exists, path, callback)
        return None if stat is None else ZnodeStat(*stat)

    async def get_children(
        self, path: str, watch: Optional[Callable[[WatchedEvent], Any]] = None
    ) -> List[str]:
        callback = None if watch is None else _watch_adapter(watch)
        children: List[str] = await _run(self._native.get_children, path, callback)
        return children

    async def sync(self, path: str) -> None:
        await _run(self._native.sync, path)

    async def add_auth(self, scheme: str, credential: str) -> None:
        await _run(self._native.add_auth, scheme, credential.encode())

    def add_listener(self, listener: Callable[[str], Any]) -> None:
        """As ``corral.Client.add_listener`` (called on the client's event thread)."""
        self.blocking.add_listener(listener)

    def remove_listener(self, listener: Callable[[str], Any]) -> bool:
        return self.blocking.remove_listener(listener)

    def watch(self, path: str, recursive: bool = False) -> "Watch":
        """A persistent watch as an async iterator of ``WatchedEvent``:
        ``async with client.watch(path) as events: async for event in events:``."""
        return Watch(self, path, recursive)

    def transaction(self) -> "Transaction":
        return Transaction(self)

    def Lock(  # noqa: N802 (kazoo's name)
        self,
        path: str,
        identifier: str = "",
        on_lost: Optional[Callable[[str, str], Any]] = None,
    ) -> "Lock":
        return Lock(self, path, identifier, on_lost)


class Watch:
    """A persistent (``recursive``: whole subtree) watch whose events are
    iterated with ``async for``; leaving ``async with`` removes it."""

    def __init__(self, client: Client, path: str, recursive: bool) -> None:
        self._client, self._path, self._recursive = client, path, recursive
        self._events: "asyncio.Queue[WatchedEvent]" = asyncio.Queue()
        self._id: Optional[int] = None

    async def __aenter__(self) -> "Watch":
        loop = asyncio.get_running_loop()

        def deliver(event: WatchedEvent) -> None:
            try:
                loop.call_soon_threadsafe(self._events.put_nowait, event)
            except RuntimeError:  # the loop is closed
                pass

        native = self._client._native
        callback = _watch_adapter(deliver)
        self._id = await loop.run_in_executor(
            None, lambda: native.add_watch(self._path, callback, self._recursive)
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._id is not None:
            self._client._native.remove_watch(self._id)
            self._id = None

    def __aiter__(self) -> AsyncIterator[WatchedEvent]:
        return self

    async def __anext__(self) -> WatchedEvent:
        return await self._events.get()


class Transaction(_sync.Transaction):
    """As ``corral.Transaction``; ``await tx.commit()``."""

    def __init__(self, client: Client) -> None:
        super().__init__(client.blocking)

    async def commit(self) -> List[Union[str, bool, ZnodeStat]]:  # type: ignore[override]
        results = await _run(self._client._native.multi, self._ops)
        return [ZnodeStat(*r) if isinstance(r, tuple) else r for r in results]


class Lock:
    """As ``corral.Lock``, for ``async with client.Lock(path, "me"):``."""

    def __init__(
        self,
        client: Client,
        path: str,
        identifier: str = "",
        on_lost: Optional[Callable[[str, str], Any]] = None,
    ) -> None:
        self._native = client._native.new_lock(path, identifier.encode(), on_lost)

    async def acquire(self, blocking: bool = True, timeout: Optional[float] = None) -> bool:
        held: bool = await _run(self._native.acquire, blocking, _millis(timeout))
        return held

    async def release(self) -> bool:
        released: bool = await _run(self._native.release)
        return released

    @property
    def is_acquired(self) -> bool:
        return bool(self._native.is_acquired)

    @property
    def fencing_token(self) -> Optional[int]:
        token: Optional[int] = self._native.fencing_token
        return token

    def contenders(self) -> List[str]:
        nodes: List[str] = self._native.contenders()
        return nodes

    async def __aenter__(self) -> "Lock":
        await self.acquire()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.release()
