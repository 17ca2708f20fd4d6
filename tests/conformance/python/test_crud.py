"""CRUD with versions, every client-provokable error code, exact Stat fields, sequential names."""

import pytest
from kazoo.exceptions import (
    BadVersionError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
)

import zkwire as w


def test_create_get_set_delete_with_versions(zk):
    assert zk.create("/crud", b"v0") == "/crud"
    data, stat = zk.get("/crud")
    assert data == b"v0" and stat.version == 0

    stat1 = zk.set("/crud", b"v1", version=0)
    assert stat1.version == 1
    with pytest.raises(BadVersionError):
        zk.set("/crud", b"stale", version=0)
    assert zk.get("/crud")[0] == b"v1"

    stat2 = zk.set("/crud", b"v2")  # -1 matches any version
    assert stat2.version == 2
    with pytest.raises(BadVersionError):
        zk.delete("/crud", version=1)
    zk.delete("/crud", version=2)
    assert zk.exists("/crud") is None


def test_error_codes_via_kazoo(zk):
    with pytest.raises(NoNodeError):
        zk.get("/nonexistent")
    with pytest.raises(NoNodeError):
        zk.set("/nonexistent", b"")
    with pytest.raises(NoNodeError):
        zk.delete("/nonexistent")
    with pytest.raises(NoNodeError):
        zk.create("/missing-parent/child")
    with pytest.raises(NoNodeError):
        zk.get_children("/nonexistent")

    zk.create("/errs")
    with pytest.raises(NodeExistsError):
        zk.create("/errs")
    zk.create("/errs/child")
    with pytest.raises(NotEmptyError):
        zk.delete("/errs")

    zk.create("/errs/eph", ephemeral=True)
    with pytest.raises(NoChildrenForEphemeralsError):
        zk.create("/errs/eph/child")
    zk.delete("/errs", recursive=True)


def test_error_codes_via_raw_protocol(server):
    """Requests kazoo validates client side, sent raw; each error keeps the session usable."""
    c = w.RawClient(server.port)
    try:
        assert c.create("relative")[0] == w.BAD_ARGUMENTS
        assert c.create("/raw-p")[0] == w.OK
        assert c.create("/raw-p/")[0] == w.BAD_ARGUMENTS
        assert c.create("/raw-p/.")[0] == w.BAD_ARGUMENTS
        assert c.create("/raw-p/..")[0] == w.BAD_ARGUMENTS
        # ZooKeeper looks up the parent before it validates the last name: NONODE here.
        assert c.create("/raw-missing/")[0] == w.NO_NODE
        assert c.create("/raw-bad-flags", flags=7)[0] == w.BAD_ARGUMENTS
        assert c.create("/raw-bad-flags", flags=99)[0] == w.BAD_ARGUMENTS
        # ZooKeeper resolves the parent ("/raw-empty/") before validating the name: NONODE.
        assert c.create("/raw-empty//x")[0] == w.NO_NODE
        assert c.create("/raw-acl", acls=[])[0] == w.INVALID_ACL
        assert c.create("/raw-acl", acls=[(31, "nosuchscheme", "x")])[0] == w.INVALID_ACL
        # `auth` ids need an authenticated identity on the session.
        assert c.create("/raw-acl", acls=[(31, "auth", "")])[0] == w.INVALID_ACL
        assert c.exists("/raw-acl")[0] == w.NO_NODE
        assert c.get_data("/nope")[0] == w.NO_NODE
        assert c.delete("/nope") == w.NO_NODE
        assert c.set_data("/nope", b"")[0] == w.NO_NODE
        assert c.ping().err == w.OK
    finally:
        c.close()


def test_exact_stat_fields(server, zk):
    c = w.RawClient(server.port)
    try:
        err, path, st = c.create("/stat", b"abc")
        assert (err, path) == (w.OK, "/stat")
        assert st.czxid == st.mzxid == st.pzxid
        assert (st.version, st.cversion, st.aversion) == (0, 0, 0)
        assert (st.ephemeral_owner, st.data_length, st.num_children) == (0, 3, 0)
        assert st.ctime == st.mtime and st.ctime > 0
        create_zxid = st.czxid

        err, st_set = c.set_data("/stat", b"abcdef")
        assert err == w.OK
        assert st_set.czxid == create_zxid and st_set.mzxid > create_zxid
        assert st_set.pzxid == create_zxid  # data changes leave pzxid alone
        assert (st_set.version, st_set.cversion, st_set.data_length) == (1, 0, 6)
        assert st_set.mtime >= st_set.ctime

        err, _, child = c.create("/stat/child")
        assert err == w.OK
        err, _, st_parent = c.get_data("/stat")
        assert st_parent.pzxid == child.czxid and child.czxid > st_set.mzxid
        assert st_parent.mzxid == st_set.mzxid and st_parent.version == 1
        assert (st_parent.cversion, st_parent.num_children) == (1, 1)

        reply = c.request(w.DELETE, w.w_string("/stat/child") + w.w_int(-1))
        assert reply.err == w.OK
        err, _, st_parent = c.get_data("/stat")
        assert st_parent.pzxid == reply.zxid
        assert (st_parent.cversion, st_parent.num_children) == (2, 0)

        err, _, eph = c.create("/stat/eph", flags=w.EPHEMERAL)
        assert eph.ephemeral_owner == c.session_id
        # kazoo sees the same owner id.
        assert zk.exists("/stat/eph").ephemeralOwner == c.session_id

        reply = c.request(w.SET_ACL, w.w_string("/stat") + w.w_acls(w.WORLD_ALL) + w.w_int(0))
        assert reply.err == w.OK
        st_acl = reply.reader().stat()
        assert (st_acl.aversion, st_acl.version, st_acl.mzxid) == (1, 1, st_set.mzxid)
        # setACL with a stale aversion
        reply = c.request(w.SET_ACL, w.w_string("/stat") + w.w_acls(w.WORLD_ALL) + w.w_int(0))
        assert reply.err == w.BAD_VERSION
    finally:
        c.close()


def test_zxids_increase_and_reply_header_carries_zxid(server):
    c = w.RawClient(server.port)
    try:
        r1 = c.request(w.CREATE, w.w_string("/zx1") + w.w_buffer(b"") + w.w_acls(w.WORLD_ALL) + w.w_int(0))
        r2 = c.request(w.CREATE, w.w_string("/zx2") + w.w_buffer(b"") + w.w_acls(w.WORLD_ALL) + w.w_int(0))
        assert r1.err == r2.err == w.OK
        assert r2.zxid == r1.zxid + 1
        _, st = c.exists("/zx2")
        assert st.czxid == r2.zxid
        # A read reports the last committed zxid.
        assert c.request(w.EXISTS, w.w_string("/zx1") + w.w_bool(False)).zxid == r2.zxid
    finally:
        c.close()


def test_sequential_naming_uses_parent_cversion(zk):
    zk.create("/seq")
    a = zk.create("/seq/n-", sequence=True)
    b = zk.create("/seq/n-", sequence=True)
    assert a == "/seq/n-0000000000" and b == "/seq/n-0000000001"
    zk.create("/seq/plain")  # a plain child bumps the counter too
    zk.delete("/seq/plain")  # and so does a delete
    # The suffix counts creates only (ZooKeeper's stored cversion), deletes do not bump it,
    # while the client-visible cversion counts creates + deletes (stored * 2 - numChildren).
    c = zk.create("/seq/n-", sequence=True)
    assert c == "/seq/n-0000000003"
    zk.delete(a)
    zk.delete(b)
    d = zk.create("/seq/", sequence=True, ephemeral=True)
    assert d == "/seq/0000000004"
    assert zk.exists("/seq").cversion == 8  # 5 creates + 3 deletes
    assert zk.exists("/seq").numChildren == 2
    assert sorted(zk.get_children("/seq")) == ["0000000004", "n-0000000003"]


def test_get_children_and_data_round_trip(zk):
    zk.create("/kids")
    names = [f"k{i}" for i in range(20)]
    for n in names:
        zk.create(f"/kids/{n}", n.encode())
    assert sorted(zk.get_children("/kids")) == sorted(names)
    children, stat = zk.get_children("/kids", include_data=True)
    assert stat.numChildren == 20 and stat.cversion == 20
    assert zk.get("/kids/k7")[0] == b"k7"
    # Empty data and binary data survive unchanged.
    zk.create("/kids-bin", bytes(range(256)))
    assert zk.get("/kids-bin")[0] == bytes(range(256))
    zk.create("/kids-empty", b"")
    assert zk.get("/kids-empty")[0] == b""
