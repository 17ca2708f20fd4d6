"""corral.aio: the verbs as coroutines; cancellation cancels the request."""

from __future__ import annotations

import asyncio

import pytest

import corral
import corral.aio
from corral import ZnodeStat


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_verbs(hosts: str, base: str) -> None:
    async def main() -> None:
        async with corral.aio.Client(hosts) as c:
            assert await c.create(base, b"a") == base
            assert await c.create(base + "/x/y", makepath=True) == base + "/x/y"
            await c.ensure_path(base + "/z")
            data, stat = await c.get(base)
            assert data == b"a" and isinstance(stat, ZnodeStat)
            assert (await c.set(base, b"b", version=0)).version == 1
            assert sorted(await c.get_children(base)) == ["x", "z"]
            await c.sync(base)
            assert (await c.exists(base + "/z")) is not None
            await c.delete(base + "/z")
            assert await c.exists(base + "/z") is None
            tx = c.transaction()
            tx.create(base + "/t")
            tx.check(base, 1)
            assert await tx.commit() == [base + "/t", True]
            # Many calls in flight at once on one client.
            paths = await asyncio.gather(*(c.create(f"{base}/n{i}") for i in range(20)))
            assert len(set(paths)) == 20
            await c.delete(base, recursive=True)
            assert c.client_id is not None and c.session_token.startswith("v1:")

    run(main())


def test_errors_are_the_same_classes(hosts: str, base: str) -> None:
    async def main() -> None:
        async with corral.aio.Client(hosts) as c:
            with pytest.raises(corral.NoNodeError) as info:
                await c.get(base)
            assert (info.value.code, info.value.path) == (-101, base)
            await c.create(base)
            with pytest.raises(corral.NodeExistsError):
                await c.create(base)
            with pytest.raises(corral.BadVersionError):
                await c.set(base, b"", version=5)

    run(main())


def test_async_lock_and_cancelling_a_waiter_leaves_no_node(hosts: str, base: str) -> None:
    async def main() -> None:
        async with corral.aio.Client(hosts) as a, corral.aio.Client(hosts) as b:
            async with a.Lock(base, "a") as held:
                token = held.fencing_token
                assert token is not None
                waiter = asyncio.ensure_future(b.Lock(base, "b").acquire())
                while len(held.contenders()) < 2:
                    await asyncio.sleep(0.02)
                waiter.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await waiter
                while len(held.contenders()) > 1:
                    await asyncio.sleep(0.02)
                assert held.contenders() == [held._native.node]
            async with b.Lock(base, "b") as second:
                assert second.fencing_token is not None and second.fencing_token > token
            assert await b.get_children(base) == []

    run(main())


def test_watch_as_async_iterator(hosts: str, base: str) -> None:
    async def main() -> None:
        async with corral.aio.Client(hosts) as c:
            await c.create(base)
            async with c.watch(base, recursive=True) as events:
                await c.create(base + "/a")
                await c.set(base + "/a", b"1")
                got = []
                async for event in events:
                    got.append((event.type, event.path))
                    if len(got) == 2:
                        break
                assert got == [("CREATED", base + "/a"), ("CHANGED", base + "/a")]
            await c.delete(base, recursive=True)

    run(main())
