"""Throughput and latency from Python: corral's binding vs kazoo, same server.

    python bindings/python/bench.py 127.0.0.1:2181 [--threads 16] [--seconds 5]

For each client: ``get`` and ``set`` of one small node per thread, and
acquire+release of one shared lock. Every thread shares one client, as
services do. Prints ops/s and p50/p99 latency per operation and client. The
numbers depend on the server build (use a release corral-server) and on the
binding's build (``pip install ./bindings/python`` builds it in release)."""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Tuple

import corral


def run(threads: int, seconds: float, op: Callable[[int], Any]) -> Tuple[float, float, float]:
    latencies: List[List[float]] = [[] for _ in range(threads)]
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        mine = latencies[n]
        while time.monotonic() < stop:
            start = time.perf_counter()
            op(n)
            mine.append(time.perf_counter() - start)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    begin = time.monotonic()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    took = time.monotonic() - begin
    every = sorted(x for per in latencies for x in per)
    if not every:
        return 0.0, 0.0, 0.0
    return len(every) / took, every[len(every) // 2] * 1e3, every[int(len(every) * 0.99)] * 1e3


def bench(name: str, client: Any, make_lock: Callable[[str], Any], args: argparse.Namespace) -> Dict[str, Tuple[float, float, float]]:
    base = f"/bench-{name}-{uuid.uuid4().hex[:8]}"
    client.ensure_path(base)
    paths = [client.create(f"{base}/n{i}", b"x" * 64) for i in range(args.threads)]
    locks = [make_lock(f"{base}/lock") for _ in range(args.threads)]

    def lock_op(n: int) -> None:
        locks[n].acquire()
        locks[n].release()

    results = {
        "get": run(args.threads, args.seconds, lambda n: client.get(paths[n])),
        "set": run(args.threads, args.seconds, lambda n: client.set(paths[n], b"y" * 64)),
        "lock": run(args.threads, args.seconds, lock_op),
    }
    client.delete(base, recursive=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("hosts")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()

    table: Dict[str, Dict[str, Tuple[float, float, float]]] = {}
    with corral.Client(args.hosts) as ours:
        table["corral"] = bench("corral", ours, lambda p: ours.Lock(p, "bench"), args)
    try:
        from kazoo.client import KazooClient
    except ImportError:
        print("kazoo is not installed: corral only")
    else:
        theirs = KazooClient(hosts=args.hosts)
        theirs.start(timeout=30)
        try:
            table["kazoo"] = bench("kazoo", theirs, lambda p: theirs.Lock(p, "bench"), args)
        finally:
            theirs.stop()
            theirs.close()

    print(f"{args.threads} threads, {args.seconds:g} s per operation")
    print(f"{'op':<6}{'client':<8}{'ops/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for op in ("get", "set", "lock"):
        for client, results in table.items():
            rate, p50, p99 = results[op]
            print(f"{op:<6}{client:<8}{rate:>10.0f}{p50:>10.2f}{p99:>10.2f}")
        if "kazoo" in table and table["kazoo"][op][0] > 0:
            print(f"{'':<6}{'ratio':<8}{table['corral'][op][0] / table['kazoo'][op][0]:>9.2f}x")


if __name__ == "__main__":
    main()
