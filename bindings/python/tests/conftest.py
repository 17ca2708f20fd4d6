"""Fixtures: a real server on a free 127.0.0.1 port with a temporary data dir,
and connected clients under a fresh path per test.

The server is corral-server (binary from $CORRAL_SERVER_BIN, else
target/debug/corral-server), or with CORRAL_PY_TARGET=zookeeper Apache
ZooKeeper 3.8 standalone from Debian's jars (the same suite, to check that the
binding's behaviour is ZooKeeper's and not only corral-server's)."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

import corral

ROOT = Path(__file__).resolve().parents[3]
SERVER_BIN = os.environ.get("CORRAL_SERVER_BIN", str(ROOT / "target/debug/corral-server"))
STARTUP_DEADLINE_S = 60.0
TARGET = os.environ.get("CORRAL_PY_TARGET", "corral")
ZOOKEEPER_JARS = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-simple.jar",
]


def server_command(port: int, data_dir: Path) -> list:
    if TARGET == "corral":
        return [SERVER_BIN, "--client-port", str(port), "--data-dir", str(data_dir / "data")]
    assert TARGET == "zookeeper", f"unknown CORRAL_PY_TARGET {TARGET!r}"
    cfg = data_dir / "zoo.cfg"
    cfg.write_text(
        "\n".join(
            [
                f"dataDir={data_dir / 'data'}",
                f"clientPort={port}",
                "clientPortAddress=127.0.0.1",
                "tickTime=2000",
                "4lw.commands.whitelist=*",
                "admin.enableServer=false",
                "extendedTypesEnabled=true",
                "maxClientCnxns=0",
            ]
        )
        + "\n"
    )
    return [
        os.environ.get("JAVA", "java"),
        "-Xmx256m",
        "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
        "-Dzookeeper.admin.enableServer=false",
        "-cp",
        ":".join(ZOOKEEPER_JARS),
        "org.apache.zookeeper.server.ZooKeeperServerMain",
        str(cfg),
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, deadline_s: float = 20.0, what: str = "condition"):
    """Polls `condition` until truthy (returns its value) or fails at the deadline."""
    end = time.monotonic() + deadline_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.fixture(scope="session")
def hosts() -> Iterator[str]:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="corral-py-") as data_dir:
        log = open(Path(data_dir) / "server.log", "wb")
        server = subprocess.Popen(
            server_command(port, Path(data_dir)),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            def accepting() -> bool:
                assert server.poll() is None, f"the {TARGET} server exited at startup"
                with socket.socket() as s:
                    return s.connect_ex(("127.0.0.1", port)) == 0

            wait_until(accepting, STARTUP_DEADLINE_S, "the server to accept connections")
            # The port accepts before the server serves sessions (corral's
            # single-node Raft group elects itself): wait for a client.
            probe = corral.Client(f"127.0.0.1:{port}")
            wait_until(lambda: _try_start(probe), STARTUP_DEADLINE_S, "a first session")
            probe.stop()
            yield f"127.0.0.1:{port}"
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            log.close()


def _try_start(client: corral.Client) -> bool:
    try:
        client.start(timeout=2)
        client.exists("/")
        return True
    except corral.KazooException:
        return False


@pytest.fixture
def base(hosts: str) -> str:
    """A fresh, not yet existing path for one test."""
    return f"/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def client(hosts: str) -> Iterator[corral.Client]:
    c = corral.Client(hosts)
    c.start()
    yield c
    c.stop()


@pytest.fixture
def other(hosts: str) -> Iterator[corral.Client]:
    """A second client with its own session."""
    c = corral.Client(hosts)
    c.start()
    yield c
    c.stop()
