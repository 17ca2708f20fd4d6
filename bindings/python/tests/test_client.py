"""Every verb of corral.Client against a real server."""

from __future__ import annotations

import threading

import corral
from corral import ZnodeStat


def test_create_get_set_delete(client: corral.Client, base: str) -> None:
    assert client.create(base, b"one") == base
    data, stat = client.get(base)
    assert data == b"one"
    assert isinstance(stat, ZnodeStat)
    assert (stat.version, stat.dataLength, stat.data_length, stat.numChildren) == (0, 3, 3, 0)
    assert stat.ephemeralOwner == stat.ephemeral_owner == 0
    assert stat.czxid == stat.mzxid and stat.created == stat.ctime / 1000.0
    new = client.set(base, b"two!")
    assert (new.version, new.dataLength, new.czxid) == (1, 4, stat.czxid)
    assert new.mzxid > stat.mzxid
    assert client.get(base)[0] == b"two!"
    client.delete(base, version=1)
    assert client.exists(base) is None


def test_create_defaults_and_sequence(client: corral.Client, base: str) -> None:
    client.create(base)
    assert client.get(base)[0] == b""
    first = client.create(base + "/q-", b"a", sequence=True)
    second = client.create(base + "/q-", b"b", sequence=True)
    assert first == base + "/q-0000000000"
    assert second == base + "/q-0000000001"
    assert sorted(client.get_children(base)) == ["q-0000000000", "q-0000000001"]


def test_ephemeral_lives_with_its_session(hosts: str, client: corral.Client, base: str) -> None:
    client.ensure_path(base)
    owner = corral.Client(hosts)
    owner.start()
    node = owner.create(base + "/e", b"", ephemeral=True)
    session_id = owner.client_id[0]
    stat = client.exists(node)
    assert stat is not None and stat.ephemeralOwner == session_id
    owner.stop()
    assert client.exists(node) is None
    assert owner.client_id is None


def test_makepath_ensure_path_and_recursive_delete(client: corral.Client, base: str) -> None:
    assert client.create(base + "/a/b/c", b"deep", makepath=True) == base + "/a/b/c"
    assert client.get(base + "/a/b/c")[0] == b"deep"
    client.ensure_path(base + "/a/x/y")
    client.ensure_path(base + "/a/x/y")  # idempotent
    assert sorted(client.get_children(base + "/a")) == ["b", "x"]
    client.delete(base, recursive=True)
    assert client.exists(base) is None


def test_get_children_include_data_and_exists(client: corral.Client, base: str) -> None:
    client.create(base)
    for name in ("x", "y", "z"):
        client.create(f"{base}/{name}")
    children, stat = client.get_children(base, include_data=True)
    assert sorted(children) == ["x", "y", "z"]
    assert stat.numChildren == 3 and stat == client.exists(base)
    assert client.exists(base + "/nope") is None


def test_sync_and_other_session_sees_writes(
    client: corral.Client, other: corral.Client, base: str
) -> None:
    client.create(base, b"v1")
    other.sync(base)
    assert other.get(base)[0] == b"v1"


def test_context_manager_client_id_and_token(hosts: str, base: str) -> None:
    with corral.Client(hosts, timeout=6.0) as c:
        assert c.connected
        session_id, password = c.client_id
        assert session_id != 0 and isinstance(password, bytes) and len(password) == 16
        token = c.session_token
        assert token.startswith("v1:") and f"{session_id & 0xFFFFFFFFFFFFFFFF:016x}" in token
        c.create(base, b"", ephemeral=True)
    assert not c.connected
    with corral.Client(hosts) as check:
        assert check.exists(base) is None


def test_many_threads_share_one_client(client: corral.Client, base: str) -> None:
    client.create(base)
    errors: list = []

    def work(n: int) -> None:
        try:
            path = client.create(f"{base}/n{n}", b"")
            for i in range(200):
                client.set(path, str(i).encode())
            assert client.get(path)[0] == b"199"
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(client.get_children(base)) == 32


def test_transaction_commits_atomically(client: corral.Client, base: str) -> None:
    client.create(base, b"v0")
    tx = client.transaction()
    tx.create(base + "/a", b"A")
    tx.set_data(base, b"v1", version=0)
    tx.check(base, version=1)
    tx.delete(base + "/a")
    results = tx.commit()
    assert results[0] == base + "/a"
    assert isinstance(results[1], ZnodeStat) and results[1].version == 1
    assert results[2:] == [True, True]
    assert client.exists(base + "/a") is None and client.get(base)[0] == b"v1"


def test_failed_transaction_raises_and_rolls_back(client: corral.Client, base: str) -> None:
    client.create(base)
    tx = client.transaction()
    tx.create(base + "/kept-out")
    tx.set_data(base, b"x", version=7)
    try:
        tx.commit()
        raise AssertionError("commit should fail")
    except corral.BadVersionError as e:
        assert (e.index, e.path, e.code) == (1, base, -103)
    assert client.exists(base + "/kept-out") is None
    with client.transaction() as tx:
        tx.create(base + "/in")
    assert client.exists(base + "/in") is not None
