"""multi atomicity with per-op results (kazoo transactions and raw), multiRead."""

from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, RolledBackError, RuntimeInconsistency

import zkwire as w


def test_kazoo_transaction_commits_all(zk):
    zk.create("/tx", b"0")
    t = zk.transaction()
    t.create("/tx/a", b"a")
    t.create("/tx/seq-", b"", sequence=True)
    t.set_data("/tx", b"1", version=0)
    t.check("/tx/a", 0)
    t.delete("/tx/a")
    results = t.commit()
    assert results[0] == "/tx/a"
    assert results[1] == "/tx/seq-0000000001"
    assert results[2].version == 1  # ZnodeStat from setData
    assert results[3] is True and results[4] is True
    assert zk.get("/tx")[0] == b"1"
    assert zk.get_children("/tx") == ["seq-0000000001"]


def test_kazoo_transaction_rolls_back(zk):
    zk.create("/txr", b"0")
    t = zk.transaction()
    t.create("/txr/a")
    t.set_data("/txr", b"x", version=5)  # fails: BadVersion
    t.create("/txr/b")
    results = t.commit()
    assert isinstance(results[0], RolledBackError)
    assert isinstance(results[1], BadVersionError)
    assert isinstance(results[2], RuntimeInconsistency)
    assert zk.exists("/txr/a") is None and zk.exists("/txr/b") is None
    assert zk.get("/txr")[0] == b"0"

    t = zk.transaction()
    t.create("/txr/c")
    t.create("/txr/c")
    results = t.commit()
    assert isinstance(results[0], RolledBackError) and isinstance(results[1], NodeExistsError)
    assert zk.exists("/txr/c") is None

    t = zk.transaction()
    t.delete("/txr/none")
    results = t.commit()
    assert isinstance(results[0], NoNodeError)


def test_raw_multi_per_op_results_and_zxid(server):
    c = w.RawClient(server.port)
    try:
        assert c.create("/rm")[0] == w.OK
        err, results = c.multi([w.op_create("/rm/a", b"1"), w.op_set_data("/rm", b"x", 0),
                                w.op_check("/rm", 1), w.op_delete("/rm/a")])
        assert err == w.OK
        types = [r[0] for r in results]
        assert types == [w.CREATE, w.SET_DATA, w.CHECK, w.DELETE]
        assert all(r[1] == 0 for r in results)
        assert results[0][2] == "/rm/a"
        assert results[1][2].version == 1
        # Every op of one multi shares one zxid.
        _, _, st = c.get_data("/rm")
        assert st.mzxid == st.pzxid

        err, results = c.multi([w.op_create("/rm/b"), w.op_check("/rm", 0), w.op_create("/rm/c")])
        assert err == w.OK
        assert [(t, e) for t, e, _ in results] == [
            (-1, w.OK), (-1, w.BAD_VERSION), (-1, w.RUNTIME_INCONSISTENCY)]
        assert c.exists("/rm/b")[0] == w.NO_NODE

        assert c.multi([]) == (w.OK, [])
        # Read ops are not allowed inside a write multi: MARSHALLINGERROR, session kept.
        assert c.multi([w.op_create("/rm/d"), w.op_get_data("/rm")])[0] == w.MARSHALLING_ERROR
        assert c.exists("/rm/d")[0] == w.NO_NODE
        assert c.ping().err == w.OK
    finally:
        c.close()


def test_raw_multi_read(server):
    c = w.RawClient(server.port)
    try:
        assert c.create("/mr", b"top")[0] == w.OK
        assert c.create("/mr/k1")[0] == w.OK
        err, results = c.multi([w.op_get_data("/mr"), w.op_get_children("/mr"),
                                w.op_get_data("/mr-none")], w.MULTI_READ)
        assert err == w.OK
        (t0, e0, (data, stat)), (t1, e1, kids), (t2, e2, _) = results
        assert (t0, e0, data, stat.num_children) == (w.GET_DATA, 0, b"top", 1)
        assert (t1, e1, kids) == (w.GET_CHILDREN, 0, ["k1"])
        # Unlike multi, a failed read does not abort the others: it is an ErrorResult.
        assert (t2, e2) == (-1, w.NO_NODE)
        # Mixing writes into multiRead is refused, session kept.
        err, _ = c.multi([w.op_get_data("/mr"), w.op_create("/mr/x")], w.MULTI_READ)
        assert err == w.MARSHALLING_ERROR
        assert c.exists("/mr/x")[0] == w.NO_NODE
        assert c.multi([], w.MULTI_READ) == (w.OK, [])
    finally:
        c.close()


def test_multi_atomic_against_concurrent_reader(zk, kazoo_factory):
    """A reader never observes half of a multi."""
    other = kazoo_factory()
    zk.create("/atom")
    for round_ in range(30):
        t = zk.transaction()
        t.create(f"/atom/a{round_}")
        t.create(f"/atom/b{round_}")
        t.commit()
        kids = set(other.get_children("/atom"))
        assert (f"a{round_}" in kids) == (f"b{round_}" in kids)
