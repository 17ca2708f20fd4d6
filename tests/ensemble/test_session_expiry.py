"""A frozen session expires across a leader change; a live one does not.

A raw connection opens a 4 s session on a follower, creates an ephemeral node, sends one
last ping and then nothing (no pings, no close: a frozen client). The leader is killed.
The new leader gives every session a fresh timeout when it takes over, so the frozen
session must still expire (within a bounded wait) while a kazoo client that keeps pinging
keeps its session and ephemeral. Times are printed, not asserted (the bound on expiry is
measured by `scripts/bench-vs-zookeeper --expiry`).
"""

import socket
import struct
import time

from cluster import wait_until

SESSION_TIMEOUT_MS = 4000
EXPIRY_DEADLINE_S = 60.0


def _frame(sock, body: bytes) -> None:
    sock.sendall(struct.pack(">i", len(body)) + body)


def _read(sock) -> bytes:
    def exact(n):
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        return buf
    (n,) = struct.unpack(">i", exact(4))
    return exact(n)


def _string(v: str) -> bytes:
    b = v.encode()
    return struct.pack(">i", len(b)) + b


def frozen_session(port: int, path: str):
    """Session + ephemeral `path` on a raw connection, then one ping; returns the socket
    (kept open, never used again) and the time the ping was sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    _frame(sock, struct.pack(">iqiqi", 0, 0, SESSION_TIMEOUT_MS, 0, 16) + b"\0" * 16 + b"\0")
    _, negotiated, session_id = struct.unpack(">iiq", _read(sock)[:16])
    assert negotiated == SESSION_TIMEOUT_MS and session_id != 0
    acl = struct.pack(">ii", 1, 31) + _string("world") + _string("anyone")
    _frame(sock, struct.pack(">ii", 1, 1) + _string(path) + struct.pack(">i", 0) + acl
           + struct.pack(">i", 1))
    _, _, err = struct.unpack(">iqi", _read(sock)[:16])
    assert err == 0, f"create {path}: error {err}"
    last = time.monotonic()
    _frame(sock, struct.pack(">ii", -2, 11))
    _read(sock)
    return sock, session_id, last


def test_frozen_session_expires_after_a_leader_change(ensemble, clients):
    leader = ensemble.leader()
    follower, other = [s for s in ensemble.live() if s.id != leader.id]
    live = clients(other.hosts, timeout=10.0)
    live.create("/live-eph", ephemeral=True)
    live_sid = live.client_id[0]
    sock, frozen_sid, frozen_at = frozen_session(follower.port, "/frozen-eph")
    try:
        print(f"\n--- SIGKILL leader {leader.id}; frozen session 0x{frozen_sid:x} on "
              f"server {follower.id}")
        killed_at = time.monotonic()
        leader.stop(kill=True)
        new_leader = ensemble.leader(among=[follower.id, other.id])
        elected_at = time.monotonic()
        checker = clients(other.hosts, timeout=10.0)

        def frozen_gone():
            checker.sync("/")
            return checker.exists("/frozen-eph") is None

        wait_until(frozen_gone, EXPIRY_DEADLINE_S, interval=0.05, what="the frozen session's expiry")
        gone_at = time.monotonic()
        print(f"new leader {new_leader.id} seen {elected_at - killed_at:.3f}s after the kill; "
              f"frozen session expired {gone_at - frozen_at:.3f}s after its last packet, "
              f"{gone_at - elected_at:.3f}s after the new leader was seen "
              f"(timeout {SESSION_TIMEOUT_MS / 1000:.0f}s)")
        stat = checker.exists("/live-eph")
        assert stat is not None and stat.ephemeralOwner == live_sid
        assert live.client_id[0] == live_sid and live.connected
    finally:
        sock.close()
