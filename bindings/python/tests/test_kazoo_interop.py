"""kazoo (from PyPI) and corral share one server: each sees the other's
nodes, and kazoo sees a corral lock's node where Curator puts it."""

from __future__ import annotations

from typing import Iterator

import pytest
from kazoo.client import KazooClient

import corral


@pytest.fixture
def kazoo(hosts: str) -> Iterator[KazooClient]:
    k = KazooClient(hosts=hosts)
    k.start(timeout=30)
    yield k
    k.stop()
    k.close()


def test_nodes_are_shared(kazoo: KazooClient, client: corral.Client, base: str) -> None:
    client.create(base + "/from-corral", b"c", makepath=True)
    data, stat = kazoo.get(base + "/from-corral")
    assert data == b"c"
    kazoo.create(base + "/from-kazoo", b"k")
    assert client.get(base + "/from-kazoo")[0] == b"k"
    assert sorted(kazoo.get_children(base)) == sorted(client.get_children(base))
    assert tuple(kazoo.exists(base)) == tuple(client.exists(base))


def test_kazoo_sees_a_corral_lock(kazoo: KazooClient, client: corral.Client, base: str) -> None:
    with client.Lock(base, "corral-holder") as lock:
        children = kazoo.get_children(base)
        assert [base + "/" + c for c in children] == [lock.node]
        data, stat = kazoo.get(lock.node)
        assert data == b"corral-holder"
        assert stat.ephemeralOwner == client.client_id[0]
        assert stat.czxid == lock.fencing_token
    assert kazoo.get_children(base) == []


def test_same_exception_names_as_kazoo() -> None:
    import kazoo.exceptions as kz

    for name in ("NoNodeError", "NodeExistsError", "BadVersionError", "NotEmptyError",
                 "NoAuthError", "SessionExpiredError", "ConnectionLoss", "ZookeeperError",
                 "KazooException", "LockTimeout", "RolledBackError"):
        assert hasattr(kz, name) and hasattr(corral.exceptions, name), name
    assert corral.NoNodeError.code == kz.NoNodeError.code
