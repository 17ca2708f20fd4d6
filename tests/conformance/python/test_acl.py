"""ACLs: digest auth, world, ip, auth ids, super digest, AuthFailed, masking in getACL."""

import pytest
from kazoo.exceptions import AuthFailedError, BadVersionError, InvalidACLError, NoAuthError
from kazoo.security import ACL, Id, Permissions, make_digest_acl, make_digest_acl_credential

from conftest import SUPER_PASSWORD
import zkwire as w


def test_digest_acl(zk, kazoo_factory):
    acl = make_digest_acl("alice", "pw", all=True)
    zk.create("/acl-digest", b"secret", acl=[acl])
    stranger = kazoo_factory()
    with pytest.raises(NoAuthError):
        stranger.get("/acl-digest")
    with pytest.raises(NoAuthError):
        stranger.set("/acl-digest", b"x")
    with pytest.raises(NoAuthError):
        stranger.create("/acl-digest/child")
    # exists needs no permission.
    assert stranger.exists("/acl-digest").dataLength == 6

    alice = kazoo_factory(auth_data=[("digest", "alice:pw")])
    assert alice.get("/acl-digest")[0] == b"secret"
    alice.set("/acl-digest", b"s2")
    acls, stat = alice.get_acls("/acl-digest")
    assert acls == [ACL(Permissions.ALL, Id("digest", make_digest_acl_credential("alice", "pw")))]
    assert stat.aversion == 0

    wrong = kazoo_factory(auth_data=[("digest", "alice:wrong")])
    with pytest.raises(NoAuthError):
        wrong.get("/acl-digest")


def test_partial_permissions(zk, kazoo_factory):
    zk.create("/acl-ro", b"r", acl=[ACL(Permissions.READ, Id("world", "anyone"))])
    assert zk.get("/acl-ro")[0] == b"r"
    with pytest.raises(NoAuthError):
        zk.set("/acl-ro", b"x")
    with pytest.raises(NoAuthError):
        zk.create("/acl-ro/child")
    with pytest.raises(NoAuthError):
        zk.set_acls("/acl-ro", [ACL(Permissions.ALL, Id("world", "anyone"))])

    # DELETE permission is checked on the parent.
    zk.create("/acl-nodel", acl=[ACL(Permissions.ALL & ~Permissions.DELETE, Id("world", "anyone"))])
    zk.create("/acl-nodel/kid")
    with pytest.raises(NoAuthError):
        zk.delete("/acl-nodel/kid")


def test_ip_acl(zk, kazoo_factory):
    zk.create("/acl-ip", b"ip", acl=[ACL(Permissions.ALL, Id("ip", "127.0.0.1"))])
    assert kazoo_factory().get("/acl-ip")[0] == b"ip"
    zk.create("/acl-ip-other", b"no", acl=[ACL(Permissions.ALL, Id("ip", "10.1.2.3"))])
    with pytest.raises(NoAuthError):
        zk.get("/acl-ip-other")
    zk.create("/acl-ip-net", b"net", acl=[ACL(Permissions.ALL, Id("ip", "127.0.0.0/8"))])
    assert zk.get("/acl-ip-net")[0] == b"net"


def test_auth_scheme_acl_and_masking(server, kazoo_factory):
    bob = kazoo_factory(auth_data=[("digest", "bob:pw")])
    bob.create("/acl-auth", b"b", acl=[ACL(Permissions.ALL, Id("auth", ""))])
    acls, _ = bob.get_acls("/acl-auth")
    assert acls == [ACL(Permissions.ALL, Id("digest", make_digest_acl_credential("bob", "pw")))]
    with pytest.raises(NoAuthError):
        kazoo_factory().get("/acl-auth")
    # `auth` ids without an authenticated identity: InvalidACL.
    with pytest.raises(InvalidACLError):
        kazoo_factory().create("/acl-auth2", acl=[ACL(Permissions.ALL, Id("auth", ""))])

    # getACL needs READ only; a reader without ADMIN gets digest hashes masked as `user:x`.
    bob.create("/acl-mixed", acl=[ACL(Permissions.READ, Id("world", "anyone")),
                                  ACL(Permissions.ALL, Id("auth", ""))])
    acls, _ = kazoo_factory().get_acls("/acl-mixed")
    assert acls == [ACL(Permissions.READ, Id("world", "anyone")),
                    ACL(Permissions.ALL, Id("digest", "bob:x"))]
    # With ADMIN (bob) the hash is shown.
    assert bob.get_acls("/acl-mixed")[0][1].id.id == make_digest_acl_credential("bob", "pw")


def test_set_acl_with_version(zk):
    zk.create("/acl-ver")
    everyone = [ACL(Permissions.ALL, Id("world", "anyone"))]
    assert zk.set_acls("/acl-ver", everyone, version=0).aversion == 1
    with pytest.raises(BadVersionError):
        zk.set_acls("/acl-ver", everyone, version=0)
    with pytest.raises(InvalidACLError):
        zk.set_acls("/acl-ver", [])
    # Without ADMIN, setACL is refused before the version is looked at.
    zk.set_acls("/acl-ver", [ACL(Permissions.READ | Permissions.WRITE, Id("world", "anyone"))])
    with pytest.raises(NoAuthError):
        zk.set_acls("/acl-ver", everyone, version=2)


def test_super_digest_bypasses_acls(zk, kazoo_factory):
    zk.create("/acl-super", b"locked", acl=[make_digest_acl("carol", "pw", read=True)])
    with pytest.raises(NoAuthError):
        zk.get("/acl-super")
    root = kazoo_factory(auth_data=[("digest", f"super:{SUPER_PASSWORD}")])
    assert root.get("/acl-super")[0] == b"locked"
    root.set("/acl-super", b"changed")
    root.delete("/acl-super")


def test_bad_auth_scheme_fails_session(server, kazoo_factory):
    c = w.RawClient(server.port)
    assert c.add_auth("nosuchscheme", b"x") == w.AUTH_FAILED
    # ZooKeeper closes the connection after AUTHFAILED.
    assert c.is_closed_by_server(timeout=10)
    c.drop()
    zk = kazoo_factory()
    with pytest.raises(AuthFailedError):
        zk.add_auth("nosuchscheme", "x")


def test_who_am_i(server):
    c = w.RawClient(server.port)
    try:
        assert c.who_am_i() == (w.OK, [("ip", "127.0.0.1")])
        assert c.add_auth("digest", b"dave:pw") == w.OK
        err, ids = c.who_am_i()
        assert err == w.OK
        assert sorted(ids) == [("digest", "dave"), ("ip", "127.0.0.1")]
    finally:
        c.close()
