"""Run-time membership change through ZooKeeper's `reconfig` (kazoo's `client.reconfig`):
a new server started with `--join` is added as a voter, serves the data, counts as a
follower, and is removed again; only the super user may reconfigure; `/zookeeper/config`
always shows the membership."""

from __future__ import annotations

import base64
import hashlib
import subprocess

import pytest
from kazoo.exceptions import BadVersionError, NoAuthError

from cluster import (  # noqa: E402 - conftest puts this directory on sys.path
    _die_with_parent, corral_binary, four_letter, free_port, wait_until,
)

PASSWORD = "reconfig-secret"


def digest(user: str, password: str) -> str:
    raw = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(raw).decode()}"


def config_lines(data: bytes) -> set[str]:
    return {line for line in data.decode().splitlines() if line.startswith("server.")}


def leader_mntr(ensemble) -> dict[str, str]:
    for s in ensemble.servers.values():
        m = s.mntr()
        if m.get("zk_server_state") == "leader":
            return m
    raise AssertionError("no leader")


def test_add_and_remove_a_voter(ensemble_factory, clients, tmp_path):
    ens = ensemble_factory(super_digest=digest("super", PASSWORD))
    admin = clients(ens.servers[2].hosts)
    admin.add_auth("digest", f"super:{PASSWORD}")
    before, _ = admin.get("/zookeeper/config")
    assert config_lines(before) == {
        f"server.{s.id}={s.member.split('=', 1)[1]}:participant" for s in ens.servers.values()
    }

    # Only the super user may change the membership.
    plain = clients(ens.servers[1].hosts)
    with pytest.raises(NoAuthError):
        plain.reconfig(joining=None, leaving="3", new_members=None)

    # A fifth server waits with --join until it is added.
    port, peer_port = free_port(), free_port()
    members = ",".join(s.member for s in ens.servers.values()) + f",4=127.0.0.1:{peer_port}"
    data_dir = tmp_path / "server-4"
    data_dir.mkdir()
    log = open(tmp_path / "server-4.log", "ab")
    proc = subprocess.Popen(
        [str(corral_binary()), "--id", "4", "--join", "--client-port", str(port),
         "--data-dir", str(data_dir), "--members", members,
         "--super-digest", digest("super", PASSWORD)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        preexec_fn=_die_with_parent)
    try:
        wait_until(lambda: four_letter(port, "ruok") == "imok", 30, what="server 4 answers")
        admin.create("/reconfig-before", b"old")

        spec = f"server.4=127.0.0.1:{peer_port}:{peer_port + 1}:participant;127.0.0.1:{port}"
        data, _ = admin.reconfig(joining=spec, leaving=None, new_members=None)
        assert f"server.4=127.0.0.1:{peer_port}:participant" in config_lines(data)
        version = int(data.decode().rsplit("version=", 1)[1], 16)

        # The new voter has the data written before it joined and serves it.
        newcomer = clients(f"127.0.0.1:{port}")
        newcomer.sync("/")
        assert newcomer.get("/reconfig-before")[0] == b"old"
        newcomer.create("/reconfig-through-4", b"new")
        admin.sync("/")
        assert admin.get("/reconfig-through-4")[0] == b"new"
        wait_until(lambda: leader_mntr(ens).get("zk_followers") == "3", 20,
                   what="the leader counts 3 followers")
        assert four_letter(port, "srvr").count("Mode: follower") == 1

        # A stale config version is refused; then server 4 leaves.
        with pytest.raises(BadVersionError):
            admin.reconfig(joining=None, leaving="4", new_members=None, from_config=version + 7)
        data, _ = admin.reconfig(joining=None, leaving="4", new_members=None,
                                 from_config=version)
        assert not any(line.startswith("server.4=") for line in config_lines(data))
        print(f"reconfig: added and removed server 4; config now {sorted(config_lines(data))}")
        wait_until(lambda: leader_mntr(ens).get("zk_followers") == "2", 20,
                   what="the leader counts 2 followers")
        # The three remaining voters still commit.
        admin.create("/reconfig-after", b"x")
        other = clients(ens.servers[3].hosts)
        other.sync("/")
        assert config_lines(other.get("/zookeeper/config")[0]) == config_lines(data)
        assert other.get("/reconfig-after")[0] == b"x"
    finally:
        proc.kill()
        proc.wait(timeout=20)
        log.close()
