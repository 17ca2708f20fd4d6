"""Containers, TTL nodes, getEphemerals, getAllChildrenNumber, sync, chroot."""

import threading
import time

import pytest
from kazoo.protocol.states import EventType

import zkwire as w
from zkwire import wait_until

# Container and TTL reaping runs every CONTAINER_CHECK_INTERVAL_MS (1 s); allow many rounds.
REAP_DEADLINE_S = 20.0


def test_container_removed_after_last_child_deleted(server, zk):
    c = w.RawClient(server.port)
    try:
        err, path, st = c.create("/ctr", b"c", flags=w.CONTAINER)
        assert (err, path) == (w.OK, "/ctr")
        assert st.ephemeral_owner == 0  # containers show owner 0 to clients
        # A container that never had a child is kept.
        err, _, _ = c.create("/ctr-unused", flags=w.CONTAINER)
        assert err == w.OK
        assert c.create("/ctr/kid1")[0] == w.OK
        assert c.create("/ctr/kid2", flags=w.EPHEMERAL)[0] == w.OK
        time.sleep(2.5)  # a couple of reaper rounds: the container has children, so it stays
        assert c.exists("/ctr")[0] == w.OK
        assert c.delete("/ctr/kid1") == w.OK
        assert c.delete("/ctr/kid2") == w.OK
        wait_until(lambda: zk.exists("/ctr") is None, REAP_DEADLINE_S, what="container reaped")
        assert zk.exists("/ctr-unused") is not None
        # Containers are ordinary parents otherwise: NOTEMPTY on delete, sequential kids.
        assert c.create("/ctr2", flags=w.CONTAINER)[0] == w.OK
        err, kid, _ = c.create("/ctr2/s-", flags=w.PERSISTENT_SEQUENTIAL)
        assert kid == "/ctr2/s-0000000000"
        assert c.delete("/ctr2") == w.NOT_EMPTY
    finally:
        c.close()


def test_ttl_nodes(server, zk):
    c = w.RawClient(server.port)
    try:
        assert c.create("/ttl-bad0", flags=w.PERSISTENT_WITH_TTL, ttl=0)[0] == w.BAD_ARGUMENTS
        assert c.create("/ttl-badflag", flags=w.PERSISTENT, ttl=100)[0] == w.BAD_ARGUMENTS
        assert c.create("/ttl-badbig", flags=w.PERSISTENT_WITH_TTL, ttl=1 << 40)[0] == w.BAD_ARGUMENTS
        assert c.create("/ttl-neg", flags=w.PERSISTENT_WITH_TTL, ttl=-5)[0] == w.BAD_ARGUMENTS
        # The maximum TTL is 2^40 - 1 ms (40 bits in the ephemeralOwner encoding).
        assert c.create("/ttl-max", flags=w.PERSISTENT_WITH_TTL, ttl=(1 << 40) - 1)[0] == w.OK

        err, path, st = c.create("/ttl-short", b"t", flags=w.PERSISTENT_WITH_TTL, ttl=500)
        assert (err, path, st.ephemeral_owner) == (w.OK, "/ttl-short", 0)
        err, path, _ = c.create("/ttl-seq-", flags=w.PERSISTENT_SEQUENTIAL_WITH_TTL, ttl=500)
        assert err == w.OK and path.startswith("/ttl-seq-") and len(path) == len("/ttl-seq-") + 10
        err, _, _ = c.create("/ttl-parent", flags=w.PERSISTENT_WITH_TTL, ttl=500)
        assert c.create("/ttl-parent/kid")[0] == w.OK
        wait_until(lambda: zk.exists("/ttl-short") is None, REAP_DEADLINE_S, what="ttl node reaped")
        wait_until(lambda: zk.exists(path) is None, REAP_DEADLINE_S, what="sequential ttl node reaped")
        # A TTL node with children is kept; once the last child goes it expires too.
        assert zk.exists("/ttl-parent") is not None
        assert zk.exists("/ttl-max") is not None
        zk.delete("/ttl-parent/kid")
        wait_until(lambda: zk.exists("/ttl-parent") is None, REAP_DEADLINE_S, what="ttl parent reaped")
    finally:
        c.close()


def test_ttl_in_multi(server):
    c = w.RawClient(server.port)
    try:
        body = (w.w_string("/ttl-multi") + w.w_buffer(b"") + w.w_acls(w.WORLD_ALL)
                + w.w_int(w.PERSISTENT_WITH_TTL) + w.w_long(60000))
        err, results = c.multi([(w.CREATE_TTL, body), (w.CREATE_CONTAINER, w.op_create("/ctr-multi", b"", w.CONTAINER)[1])])
        assert err == w.OK
        # createTTL / createContainer results come back typed create2, with a Stat.
        assert [(t, e) for t, e, _ in results] == [(w.CREATE2, 0), (w.CREATE2, 0)]
        assert results[0][2][0] == "/ttl-multi" and results[1][2][0] == "/ctr-multi"
    finally:
        c.close()


def test_get_ephemerals_is_per_session_and_prefix_matched(server):
    a, b = w.RawClient(server.port), w.RawClient(server.port)
    try:
        assert a.create("/ge")[0] == w.OK
        for p in ("/ge/a", "/ge/ab", "/ge/b"):
            assert a.create(p, flags=w.EPHEMERAL)[0] == w.OK
        assert b.create("/ge/mine", flags=w.EPHEMERAL)[0] == w.OK
        err, eph = a.get_ephemerals("/")
        assert err == w.OK and sorted(eph) == ["/ge/a", "/ge/ab", "/ge/b"]
        # The prefix is a plain string prefix, not a path prefix.
        assert sorted(a.get_ephemerals("/ge/a")[1]) == ["/ge/a", "/ge/ab"]
        assert b.get_ephemerals("/")[1] == ["/ge/mine"]
        assert a.get_ephemerals("/nothing") == (w.OK, [])
    finally:
        a.close()
        b.close()


def test_get_all_children_number(server):
    c = w.RawClient(server.port)
    try:
        assert c.create("/gacn")[0] == w.OK
        for p in ("/gacn/a", "/gacn/a/1", "/gacn/a/2", "/gacn/b"):
            assert c.create(p)[0] == w.OK
        assert c.get_all_children_number("/gacn") == (w.OK, 4)
        assert c.get_all_children_number("/gacn/a") == (w.OK, 2)
        assert c.get_all_children_number("/gacn/a/1") == (w.OK, 0)
        assert c.get_all_children_number("/gacn-none")[0] == w.NO_NODE
    finally:
        c.close()


def test_sync(server, zk, kazoo_factory):
    zk.create("/sync", b"1")
    other = kazoo_factory()
    assert other.sync("/sync") == "/sync"
    assert other.get("/sync")[0] == b"1"
    c = w.RawClient(server.port)
    try:
        reply = c.request(w.SYNC, w.w_string("/sync"))
        assert reply.err == w.OK and reply.reader().string() == "/sync"
        # sync on a missing path still succeeds.
        assert c.request(w.SYNC, w.w_string("/sync-missing")).err == w.OK
    finally:
        c.close()


def test_chroot(server, zk, kazoo_factory):
    zk.ensure_path("/app/root")
    rooted = kazoo_factory(hosts=f"{server.hosts}/app/root")
    assert rooted.create("/x", b"1") == "/x"
    assert zk.get("/app/root/x")[0] == b"1"
    assert rooted.create("/seq-", sequence=True) == "/seq-0000000001"
    assert sorted(rooted.get_children("/")) == ["seq-0000000001", "x"]

    fired = threading.Event()
    seen = []

    def watcher(event):
        seen.append((event.type, event.path))
        fired.set()

    rooted.get("/x", watch=watcher)
    zk.set("/app/root/x", b"2")
    assert fired.wait(10)
    assert seen == [(EventType.CHANGED, "/x")]  # event paths are chroot-relative

    t = rooted.transaction()
    t.create("/t")
    assert t.commit() == ["/t"]
    assert zk.exists("/app/root/t") is not None


@pytest.mark.parametrize("size", [1024 * 1024 - 1024])
def test_large_data_just_under_limit(zk, size):
    payload = bytes(i % 251 for i in range(size))
    zk.create("/big-ok", payload)
    data, stat = zk.get("/big-ok")
    assert data == payload and stat.dataLength == size
