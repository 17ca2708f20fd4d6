"""Null data (buffer length -1) is not empty data (length 0), as in ZooKeeper.

A create or setData with null data reads back as null, with `dataLength` 0; empty data
reads back as empty. Checked on the raw wire, since kazoo sends b"" for None, and kept
across a server restart (log replay; snapshots are covered by the server's unit tests).
"""

import zkwire as w


def read(c, path):
    err, data, stat = c.get_data(path)
    assert err == w.OK, err
    return data, stat.data_length


def test_null_and_empty_data_round_trip(fresh_server):
    c = w.RawClient(fresh_server.port, timeout_ms=30000)
    try:
        assert c.create("/null-c", None)[0] == w.OK
        assert c.create("/empty-c", b"")[0] == w.OK
        assert c.create("/full-c", b"x")[0] == w.OK
        assert read(c, "/null-c") == (None, 0)
        assert read(c, "/empty-c") == (b"", 0)
        err, stat = c.set_data("/full-c", None)
        assert err == w.OK and stat.data_length == 0
        assert read(c, "/full-c") == (None, 0)
        assert c.set_data("/null-c", b"")[0] == w.OK
        assert read(c, "/null-c") == (b"", 0)
        # A create with null data inside a multi.
        ops = (w.w_int(w.CREATE) + w.w_bool(False) + w.w_int(-1) + w.w_string("/null-m")
               + w.w_buffer(None) + w.w_acls(w.WORLD_ALL) + w.w_int(w.PERSISTENT)
               + w.w_int(-1) + w.w_bool(True) + w.w_int(-1))
        assert c.request(w.MULTI, ops).err == w.OK
        assert read(c, "/null-m") == (None, 0)
    finally:
        c.close()

    fresh_server.restart()
    c = w.RawClient(fresh_server.port, timeout_ms=30000)
    try:
        assert read(c, "/full-c") == (None, 0)
        assert read(c, "/null-c") == (b"", 0)
        assert read(c, "/empty-c") == (b"", 0)
        assert read(c, "/null-m") == (None, 0)
    finally:
        c.close()
