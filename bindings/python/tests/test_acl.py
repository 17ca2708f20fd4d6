"""ACLs and authentication: add_auth, auth_data, create(acl=), get_acls, set_acls."""

from __future__ import annotations

import pytest

import corral
from corral import ACL, CREATOR_ALL_ACL, OPEN_ACL_UNSAFE, Id, Permissions


def test_creator_only_acl_and_set_acls(
    hosts: str, client: corral.Client, other: corral.Client, base: str
) -> None:
    client.add_auth("digest", "alice:secret")
    client.create(base, b"private", acl=CREATOR_ALL_ACL)
    with pytest.raises(corral.NoAuthError) as info:
        other.get(base)
    assert (info.value.code, info.value.path) == (-102, base)
    acl, stat = client.get_acls(base)
    assert len(acl) == 1 and acl[0].perms == Permissions.ALL
    assert acl[0].id.scheme == "digest" and acl[0].id.id.startswith("alice:")
    assert stat.aversion == 0
    # auth_data authenticates at connect, as add_auth does.
    with corral.Client(hosts, auth_data=[("digest", "alice:secret")]) as alice:
        assert alice.get(base)[0] == b"private"
    new = client.set_acls(base, OPEN_ACL_UNSAFE, version=0)
    assert new.aversion == 1
    assert other.get(base)[0] == b"private"
    assert other.get_acls(base)[0] == [ACL(Permissions.ALL, Id("world", "anyone"))]
    with pytest.raises(corral.BadVersionError):
        client.set_acls(base, OPEN_ACL_UNSAFE, version=0)


def test_read_only_acl(client: corral.Client, other: corral.Client, base: str) -> None:
    client.create(base, b"r", acl=[ACL(Permissions.READ, Id("world", "anyone"))])
    assert other.get(base)[0] == b"r"
    with pytest.raises(corral.NoAuthError):
        other.set(base, b"w")
