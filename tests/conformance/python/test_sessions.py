"""Sessions: timeouts negotiation, ephemerals on close and expiry, reattach, SESSION_EXPIRED."""

import threading
import time

from conftest import MAX_SESSION_TIMEOUT_MS, MIN_SESSION_TIMEOUT_MS, kazoo_client
import zkwire as w
from zkwire import wait_until


def assert_reattach_refused(port, sid, passwd):
    """An invalid/expired session is answered with timeOut 0, sessionId 0 and a zero password,
    then the server closes. ZooKeeper sometimes closes before that reply is flushed, so EOF
    without a reply is accepted too; a live session is not."""
    c = w.RawClient(port, connect=False)
    try:
        c.send_packet(w.w_int(0) + w.w_long(0) + w.w_int(10000) + w.w_long(sid)
                      + w.w_buffer(passwd) + w.w_bool(False))
        try:
            r = w.Reader(c.recv_packet(timeout=10))
        except w.ServerClosed:
            return
        proto, timeout, got_sid, got_pw = r.int(), r.int(), r.long(), r.buffer()
        assert (proto, timeout, got_sid, got_pw) == (0, 0, 0, b"\x00" * 16)
        assert c.is_closed_by_server(10)
    finally:
        c.drop()


def test_negotiated_timeout_is_clamped(server):
    for asked, expected in [(MIN_SESSION_TIMEOUT_MS // 2, MIN_SESSION_TIMEOUT_MS),
                            (5000, 5000),
                            (MAX_SESSION_TIMEOUT_MS * 3, MAX_SESSION_TIMEOUT_MS)]:
        c = w.RawClient(server.port, timeout_ms=asked)
        try:
            assert c.negotiated_timeout_ms == expected
            assert c.session_id != 0 and len(c.passwd) == 16
        finally:
            c.close()


def test_handshake_response_shape(server):
    c = w.RawClient(server.port, connect=False)
    try:
        c.send_packet(w.w_int(0) + w.w_long(0) + w.w_int(4000) + w.w_long(0)
                      + w.w_buffer(b"\x00" * 16) + w.w_bool(False))
        body = c.recv_packet()
        # protocolVersion, timeOut, sessionId, passwd(16), readOnly = 4+4+8+4+16+1 bytes.
        assert len(body) == 37
        r = w.Reader(body)
        assert (r.int(), r.int()) == (0, 4000)
        assert r.long() != 0 and len(r.buffer()) == 16 and r.bool() is False
    finally:
        c.drop()


def test_distinct_sessions_get_distinct_ids(server):
    clients = [w.RawClient(server.port) for _ in range(5)]
    try:
        assert len({c.session_id for c in clients}) == 5
    finally:
        for c in clients:
            c.close()


def test_ephemerals_removed_on_close(zk, kazoo_factory):
    owner = kazoo_factory()
    owner.create("/eph-close", ephemeral=True)
    owner.create("/eph-close-seq-", ephemeral=True, sequence=True)
    assert zk.exists("/eph-close").ephemeralOwner == owner.client_id[0]
    owner.stop()  # closeSession
    wait_until(lambda: zk.exists("/eph-close") is None, 10, what="ephemeral removed on close")
    assert [k for k in zk.get_children("/") if k.startswith("eph-close-seq-")] == []


def test_ephemerals_removed_on_expiry_and_watchers_told(server, zk):
    c = w.RawClient(server.port, timeout_ms=2000)
    assert c.create("/eph-expire", flags=w.EPHEMERAL)[0] == w.OK
    deleted = threading.Event()
    # zk may be on another server of an ensemble: sync first, as ZooKeeper only promises a
    # client its own writes, not another session's, without sync.
    zk.sync("/eph-expire")
    assert zk.exists("/eph-expire", watch=lambda e: deleted.set()) is not None
    started = time.monotonic()
    c.drop()  # no closeSession: only expiry removes the node
    wait_until(lambda: zk.exists("/eph-expire") is None, 30, what="ephemeral of expired session removed")
    elapsed = time.monotonic() - started
    assert elapsed >= 1.0, f"session expired too early ({elapsed:.2f}s for a 2 s timeout)"
    assert deleted.wait(10)


def test_pings_keep_session_alive(server, zk):
    c = w.RawClient(server.port, timeout_ms=2000)
    try:
        assert c.create("/eph-ping", flags=w.EPHEMERAL)[0] == w.OK
        deadline = time.monotonic() + 5.0  # 2.5 session timeouts
        while time.monotonic() < deadline:
            assert c.ping().err == w.OK
            time.sleep(0.4)
        assert zk.exists("/eph-ping") is not None
    finally:
        c.close()


def test_reattach_session_with_id_and_password(server, zk):
    c = w.RawClient(server.port, timeout_ms=20000)
    assert c.create("/eph-reattach", flags=w.EPHEMERAL)[0] == w.OK
    sid, passwd = c.session_id, c.passwd
    c.drop()
    # Reattach with a raw client: same session id, the negotiated timeout is kept.
    again = w.RawClient(server.port, timeout_ms=20000, session_id=sid, passwd=passwd)
    assert again.session_id == sid and again.negotiated_timeout_ms == 20000
    assert again.exists("/eph-reattach")[1].ephemeral_owner == sid
    again.drop()
    # And with kazoo, which passes client_id=(id, password).
    k = kazoo_client(server.hosts, client_id=(sid, passwd), timeout=20.0)
    k.start(timeout=15)
    try:
        assert k.client_id[0] == sid
        assert k.exists("/eph-reattach").ephemeralOwner == sid
    finally:
        k.stop()  # kazoo does not wait for the closeSession reply
        k.close()
    wait_until(lambda: zk.exists("/eph-reattach") is None, 10, what="ephemeral removed on close")


def test_reattach_with_wrong_password_is_refused(server):
    c = w.RawClient(server.port, timeout_ms=20000)
    assert c.create("/eph-wrongpw", flags=w.EPHEMERAL)[0] == w.OK
    sid, passwd = c.session_id, c.passwd
    assert_reattach_refused(server.port, sid, b"\x01" * 16)
    # ZooKeeper closes the session's current connection as soon as another connection asks
    # for that session id, before checking the password; the session itself lives on.
    assert c.is_closed_by_server(10)
    c.drop()
    again = w.RawClient(server.port, timeout_ms=20000, session_id=sid, passwd=passwd)
    try:
        assert again.session_id == sid
        assert again.exists("/eph-wrongpw")[1].ephemeral_owner == sid
    finally:
        again.close()


def test_session_expired_after_expiry(server):
    c = w.RawClient(server.port, timeout_ms=MIN_SESSION_TIMEOUT_MS)
    assert c.create("/eph-gone", flags=w.EPHEMERAL)[0] == w.OK
    sid, passwd = c.session_id, c.passwd
    c.drop()
    probe = w.RawClient(server.port)
    try:
        wait_until(lambda: probe.exists("/eph-gone")[0] == w.NO_NODE, 30, what="session expiry")
    finally:
        probe.close()
    assert_reattach_refused(server.port, sid, passwd)

    # kazoo, told the session expired while starting, makes a new session.
    k = kazoo_client(server.hosts, client_id=(sid, passwd), timeout=10.0)
    try:
        k.start(timeout=15)
        wait_until(lambda: k.connected and k.client_id and k.client_id[0] not in (0, sid), 15,
                   what="kazoo new session")
        assert k.exists("/eph-gone") is None
    finally:
        k.stop()
        k.close()


def test_close_session_reply(server):
    c = w.RawClient(server.port)
    assert c.create("/eph-closing", flags=w.EPHEMERAL)[0] == w.OK
    reply = c.request(w.CLOSE_SESSION)
    assert reply.err == w.OK and reply.body == b""
    assert c.is_closed_by_server(10)
    c.drop()
    probe = w.RawClient(server.port)
    try:
        assert probe.exists("/eph-closing")[0] == w.NO_NODE
    finally:
        probe.close()
