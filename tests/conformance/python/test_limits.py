"""Packet size limit, per-IP connection cap, malformed packets and unknown opcodes."""

import pytest
from kazoo.exceptions import ConnectionLoss

import zkwire as w
from zkwire import wait_until

# jute.maxbuffer default: 0xfffff = 1,048,575 bytes per packet.
PACKET_LIMIT = 0xFFFFF


def assert_server_healthy(server):
    c = w.RawClient(server.port)
    try:
        assert c.ping().err == w.OK
        assert c.exists("/")[0] == w.OK
    finally:
        c.close()
    assert server.alive()


def test_packet_over_limit_closes_only_that_connection(server, zk):
    watcher = w.RawClient(server.port)
    try:
        big = w.RawClient(server.port)
        with pytest.raises(w.ServerClosed):
            big.create("/too-big", b"x" * (1024 * 1024))
        big.drop()
        assert watcher.exists("/too-big")[0] == w.NO_NODE
        assert watcher.ping().err == w.OK  # another client keeps working
        with pytest.raises(ConnectionLoss):
            zk.create("/too-big-kazoo", b"y" * (1024 * 1024 + 1))
        wait_until(lambda: zk.connected, 15, what="kazoo reconnected")
        assert zk.exists("/too-big-kazoo") is None
        # Just under the limit, counting header and path, is accepted.
        data = b"z" * (PACKET_LIMIT - 200)
        assert watcher.create("/nearly-too-big", data)[0] == w.OK
        err, got, stat = watcher.get_data("/nearly-too-big")
        assert (err, got == data, stat.data_length) == (w.OK, True, len(data))
    finally:
        watcher.close()


def test_connections_per_ip_cap(server_factory):
    srv = server_factory(max_client_connections=5)
    first = [w.RawClient(srv.port) for _ in range(5)]
    try:
        sixth = None
        try:
            sixth = w.RawClient(srv.port, io_timeout=10)
        except (w.ServerClosed, OSError):
            pass
        else:
            pytest.fail("sixth connection from 127.0.0.1 was accepted with a cap of 5")
        for c in first:
            assert c.ping().err == w.OK
            assert c.create(f"/cap-{c.session_id:x}", flags=w.EPHEMERAL)[0] == w.OK
        first.pop().close()

        def another_fits():
            try:
                first.append(w.RawClient(srv.port, io_timeout=5))
                return True
            except (w.ServerClosed, OSError):
                return False

        wait_until(another_fits, 15, interval=0.2, what="a slot freed by closing a connection")
        assert first[-1].ping().err == w.OK
    finally:
        for c in first:
            c.close()
        if sixth is not None:
            sixth.drop()


@pytest.mark.parametrize("name,payload", [
    ("negative length", w.w_int(-5) + b"abcd"),
    ("length over limit", w.w_int(PACKET_LIMIT + 1) + b"abcd"),
    ("zero length", w.w_int(0)),
    ("header cut short", w.w_int(2) + b"ab"),
])
def test_framing_errors_close_the_connection(server, name, payload):
    c = w.RawClient(server.port)
    c.send_raw(payload)
    assert c.is_closed_by_server(10), name
    c.drop()
    assert_server_healthy(server)


def test_garbage_handshake_closes_the_connection(server):
    c = w.RawClient(server.port, connect=False)
    c.send_raw(w.w_int(10) + b"0123456789")
    assert c.is_closed_by_server(10)
    c.drop()
    assert_server_healthy(server)


def test_truncated_request_body_is_marshalling_error(server):
    c = w.RawClient(server.port)
    try:
        # create whose path claims 50 bytes but the packet ends: MARSHALLINGERROR, session kept.
        reply = c.request(w.CREATE, w.w_int(50))
        assert reply.err == w.MARSHALLING_ERROR
        assert c.ping().err == w.OK
        # Trailing bytes after a complete record are ignored.
        reply = c.request(w.EXISTS, w.w_string("/") + w.w_bool(False) + b"junk!")
        assert reply.err == w.OK and w.Reader(reply.body).stat().czxid == 0
    finally:
        c.close()
    assert_server_healthy(server)


def test_unknown_opcode(server):
    c = w.RawClient(server.port)
    reply = c.request(9999, b"\x00\x01\x02")
    # ZooKeeper answers UNIMPLEMENTED (with zxid -1) and then drops the connection.
    assert reply.err == w.UNIMPLEMENTED
    c.drop()
    assert_server_healthy(server)
