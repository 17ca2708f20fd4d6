"""A bounded create load from several kazoo clients, with an oracle of acknowledged writes."""

from __future__ import annotations

import threading
import time

from kazoo.exceptions import NodeExistsError

from cluster import kazoo_client, wait_until

# How long one write may stay unanswered before the writer counts it as an unknown outcome
# and moves on (kazoo itself has no request timeout).
WRITE_WAIT_S = 5.0


class WriteLoad:
    """`writers` threads, each with its own kazoo session on `hosts`, creating
    `/load/w{i}-{n}` in a loop (at most `max_ops` each) until `stop()`.

    A create is *acknowledged* when kazoo returns its path; a create that fails with
    ConnectionLoss or a wait timeout has an unknown outcome and is retried under a new name,
    never counted. Each writer also holds an ephemeral `/load-eph/w{i}` for the session check.
    """

    def __init__(self, hosts: str, writers: int = 4, max_ops: int = 5000,
                 session_timeout: float = 10.0, pause: float = 0.005):
        self.hosts = hosts
        self.max_ops = max_ops
        self.pause = pause
        self.lock = threading.Lock()
        self.acked: dict[str, tuple[bytes, float]] = {}  # path -> (data, ack time)
        self.unknown = 0
        self.errors: dict[str, int] = {}
        self.states: list[list[str]] = [[] for _ in range(writers)]
        self.clients = []
        self.session_ids = []
        self._stop = threading.Event()
        setup = kazoo_client(hosts)
        setup.start(timeout=20)
        setup.ensure_path("/load")
        setup.ensure_path("/load-eph")
        setup.stop()
        setup.close()
        for i in range(writers):
            client = kazoo_client(hosts, timeout=session_timeout)
            client.add_listener(lambda state, i=i: self.states[i].append(str(state)))
            client.start(timeout=20)
            client.create(f"/load-eph/w{i}", b"", ephemeral=True)
            self.clients.append(client)
            self.session_ids.append(client.client_id[0])
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True,
                                         name=f"writer-{i}") for i in range(writers)]

    def start(self) -> "WriteLoad":
        for t in self.threads:
            t.start()
        return self

    def _run(self, i: int) -> None:
        client = self.clients[i]
        for n in range(self.max_ops):
            if self._stop.is_set():
                return
            path = f"/load/w{i}-{n:06d}"
            data = f"{i}:{n}".encode()
            try:
                client.create_async(path, data).get(timeout=WRITE_WAIT_S)
            except NodeExistsError:
                # An earlier attempt of this name cannot exist (names are unique per
                # attempt), so this would be a server bug: record it.
                with self.lock:
                    self.errors["NodeExists"] = self.errors.get("NodeExists", 0) + 1
                continue
            except Exception as exc:  # noqa: BLE001 - failover makes writes fail in flight
                name = type(exc).__name__
                with self.lock:
                    self.unknown += 1
                    self.errors[name] = self.errors.get(name, 0) + 1
                time.sleep(0.05)
                continue
            with self.lock:
                self.acked[path] = (data, time.monotonic())
            if self.pause:
                time.sleep(self.pause)

    def acked_count(self) -> int:
        with self.lock:
            return len(self.acked)

    def wait_acks(self, more: int, timeout: float) -> None:
        target = self.acked_count() + more
        wait_until(lambda: self.acked_count() >= target, timeout, what=f"{more} more acks")

    def first_ack_after(self, t: float) -> float | None:
        with self.lock:
            times = [ack for _, ack in self.acked.values() if ack > t]
        return min(times) if times else None

    def stop(self) -> dict[str, bytes]:
        self._stop.set()
        for t in self.threads:
            t.join(WRITE_WAIT_S * 3)
        assert not any(t.is_alive() for t in self.threads), "a writer thread did not stop"
        with self.lock:
            return {p: d for p, (d, _) in self.acked.items()}

    def close(self) -> None:
        for c in self.clients:
            try:
                c.stop()
                c.close()
            except Exception:  # noqa: BLE001
                pass


def missing_on(server_hosts: str, acked: dict[str, bytes]) -> list[str]:
    """Acknowledged creates absent (or with other data) on one server, read after sync."""
    client = kazoo_client(server_hosts)
    client.start(timeout=20)
    try:
        present = set()
        for parent in sorted({p.rsplit("/", 1)[0] for p in acked}):
            client.sync(parent)
            present.update(f"{parent}/{name}" for name in client.get_children(parent))
        missing = [p for p in acked if p not in present]
        pending = [(p, client.get_async(p)) for p in acked if p not in missing]
        for p, result in pending:
            data, _ = result.get(timeout=20)
            if data != acked[p]:
                missing.append(p)
        return missing
    finally:
        client.stop()
        client.close()
