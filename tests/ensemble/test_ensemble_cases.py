"""Conformance cases that only an ensemble has: reads on one server of writes made through
another, ephemerals on every server, sessions and watches that move between servers."""

import re
import threading

import zkwire as w
from cluster import wait_until

SESSION_MOVED = -118


def test_write_through_one_server_read_on_another_after_sync(ensemble, clients):
    a = clients(ensemble.servers[1].hosts)
    b = clients(ensemble.servers[2].hosts)
    c = clients(ensemble.servers[3].hosts)
    for n in range(20):
        a.create(f"/rw-{n}", str(n).encode())
        a.set(f"/rw-{n}", f"{n}-again".encode())
        # sync makes server 2 catch up with the leader's commit point before the read.
        b.sync(f"/rw-{n}")
        data, stat = b.get(f"/rw-{n}")
        assert (data, stat.version) == (f"{n}-again".encode(), 1)
    c.sync("/")
    assert sorted(c.get_children("/"), key=str) == sorted(
        ["zookeeper", *(f"rw-{n}" for n in range(20))], key=str)
    # A client always reads its own writes on its server, even a follower (per-session FIFO).
    for n in range(20):
        b.set(f"/rw-{n}", b"b")
        assert b.get(f"/rw-{n}")[0] == b"b"


def test_ephemeral_visible_on_every_server_and_gone_everywhere_after_close(ensemble, clients):
    owner = clients(ensemble.servers[2].hosts)
    owner.create("/eph-all", b"e", ephemeral=True)
    sid = owner.client_id[0]
    readers = {s.id: clients(s.hosts) for s in ensemble.servers.values()}
    for server_id, r in readers.items():
        r.sync("/eph-all")
        stat = r.exists("/eph-all")
        assert stat is not None and stat.ephemeralOwner == sid, f"server {server_id}: {stat}"
    for server in ensemble.servers.values():
        assert int(server.mntr()["zk_ephemerals_count"]) >= 1
    owner.stop()
    for server_id, r in readers.items():
        r.sync("/eph-all")
        assert r.exists("/eph-all") is None, f"server {server_id} still has the ephemeral"


def connected_server(ensemble, session_id: int):
    """The server whose `cons` lists the session."""
    for s in ensemble.live():
        if re.search(rf"sid=0x{session_id:x}\b", s.four_letter("cons")):
            return s
    return None


def test_session_survives_death_of_its_server(ensemble, clients):
    zk = clients(ensemble.hosts, timeout=20.0)
    zk.create("/moving-eph", b"", ephemeral=True)
    zk.create("/moving-w", b"0")
    sid = zk.client_id[0]
    seen = []
    changed = threading.Event()

    def watch(data, stat):
        seen.append(data)
        if data == b"1":
            changed.set()

    zk.DataWatch("/moving-w", watch)
    wait_until(lambda: seen == [b"0"], 10, what="initial DataWatch call")
    home = wait_until(lambda: connected_server(ensemble, sid), 10, what="session's server")
    print(f"\n--- SIGKILL server {home.id}, which serves session 0x{sid:x}")
    home.stop(kill=True)
    new_home = wait_until(lambda: zk.connected and connected_server(ensemble, sid), 30,
                          what="kazoo reconnected to another server")
    assert new_home.id != home.id
    assert zk.client_id[0] == sid, "the session changed"
    print(f"session 0x{sid:x} moved to server {new_home.id}")
    other = clients(ensemble.hosts_of([s.id for s in ensemble.live() if s.id != new_home.id]))
    other.sync("/moving-eph")
    assert other.exists("/moving-eph").ephemeralOwner == sid
    # The watch was re-registered on the new server (SetWatches).
    other.set("/moving-w", b"1")
    assert changed.wait(20), f"DataWatch did not fire after the move: {seen}"
    home.start()


def test_old_connection_gets_session_moved(ensemble):
    """Reattaching a session on another server moves it; the old connection's next request
    is answered SESSIONMOVED (ZooKeeper's -118) or the connection is closed."""
    first = w.RawClient(ensemble.servers[1].port, timeout_ms=20000)
    try:
        assert first.create("/moved")[0] == w.OK
        moved = w.RawClient(ensemble.servers[2].port, timeout_ms=20000,
                            session_id=first.session_id, passwd=first.passwd)
        try:
            assert moved.session_id == first.session_id
            assert moved.exists("/moved")[0] == w.OK
            # A write on the old connection must not act for the moved session.
            try:
                err = first.set_data("/moved", b"old")[0]
            except (w.ServerClosed, OSError):
                err = "closed"
            print(f"\nwrite on the old connection after the session moved: {err}")
            assert err == SESSION_MOVED, err
            assert moved.set_data("/moved", b"x")[0] == w.OK
            assert moved.get_data("/moved")[1] == b"x"
        finally:
            moved.close()
    finally:
        first.drop()
