"""The README's example, type-checked with ``mypy --strict``: a config node,
a watch, a lock with a fencing token, a transaction, and the asyncio client."""

from __future__ import annotations

import asyncio
import sys

import corral
import corral.aio


def main(hosts: str) -> None:
    with corral.Client(hosts, timeout=10.0) as zk:
        zk.create("/example/config", b"v1", makepath=True)
        data, stat = zk.get("/example/config", watch=lambda event: print("changed:", event))
        zk.set("/example/config", b"v2", version=stat.version)
        try:
            zk.create("/example/config")
        except corral.NodeExistsError as e:
            print("exists:", e.code, e.path)
        with zk.Lock("/example/lock", "worker-1") as lock:
            print("fencing token", lock.fencing_token)
        tx = zk.transaction()
        tx.create("/example/a")
        tx.delete("/example/a")
        print(tx.commit())
        zk.delete("/example", recursive=True)


async def amain(hosts: str) -> None:
    async with corral.aio.Client(hosts) as zk:
        await zk.create("/example-aio", b"1")
        data, _ = await zk.get("/example-aio")
        async with zk.Lock("/example-aio-lock", "worker-1") as lock:
            print(data, lock.fencing_token)
        await zk.delete("/example-aio")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:2181"
    main(target)
    asyncio.run(amain(target))
