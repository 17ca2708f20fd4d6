"""Server harness shared by the `python/` (kazoo) and `zkcli/` conformance suites.

The server under test is picked by `CORRAL_TEST_TARGET`:

* `corral` (default): `$CORRAL_SERVER_BIN`, else `$CARGO_TARGET_DIR/debug/corral-server`,
  else `<repo>/target/debug/corral-server`.
* `zookeeper`: Debian's Apache ZooKeeper 3.8 standalone (`ZooKeeperServerMain`) with a
  generated `zoo.cfg`, so the suite itself is proven against the reference server.
* `corral-ensemble`: three corral-server voters (same binary as `corral`) started by
  `tests/ensemble/cluster.py`; `hosts` lists all three, `port` is server 1's (raw-wire tests
  talk to one server), `restart`/`stop`/`start` act on every server. kazoo clients list the
  three servers in a fixed order, so they share server 1 with the raw clients until it dies
  (see `kazoo_client`). Tests whose expectation differs on an ensemble (the `Mode:` line)
  assert the ensemble's behaviour via `ENSEMBLE` / `SERVER_MODES`.

Every server gets a free 127.0.0.1 port and its own temporary data dir. A server is ready
when `ruok` answers `imok` and a session handshake succeeds (ZooKeeper answers `imok` before
it serves sessions); when it does not become ready, or exits, the tail of its output is
printed so a failing start is easy to diagnose. Servers get SIGKILL if pytest itself dies.
"""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE / "python"))
sys.path.insert(0, str(REPO / "tests" / "ensemble"))

from zkwire import RawClient, ServerClosed, four_letter, free_port  # noqa: E402 - after the sys.path insert


TARGET = os.environ.get("CORRAL_TEST_TARGET", "corral")
if TARGET not in ("corral", "zookeeper", "corral-ensemble"):
    raise RuntimeError("CORRAL_TEST_TARGET must be corral, zookeeper or corral-ensemble, "
                       f"not {TARGET!r}")
# A 3-server corral ensemble: a few expectations differ (see the module docs).
ENSEMBLE = TARGET == "corral-ensemble"
# The `Mode:` of the server the suite's four-letter words go to.
SERVER_MODES = ("leader", "follower") if ENSEMBLE else ("standalone",)

TICK_TIME_MS = 2000
MIN_SESSION_TIMEOUT_MS = 1000
MAX_SESSION_TIMEOUT_MS = 60000
CONTAINER_CHECK_INTERVAL_MS = 1000
START_TIMEOUT_S = 60.0
# kazoo pings every third of the session timeout and drops the connection when a ping's
# reply is late; replies are FIFO, so a ping waits behind a 1 MiB write, which on an
# ensemble of debug builds on 2 loaded cores takes seconds (forward, replicate, fsync).
ENSEMBLE_SESSION_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 20.0

SUPER_PASSWORD = "super-secret"
ZOOKEEPER_JARS = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-simple.jar",
]


def super_digest(user: str = "super", password: str = SUPER_PASSWORD) -> str:
    """`user:base64(sha1(user:password))`, ZooKeeper's DigestAuthenticationProvider form."""
    raw = hashlib.sha1(f"{user}:{password}".encode()).digest()
    return f"{user}:{base64.b64encode(raw).decode()}"


# kazoo's default reconnect backoff grows to a minute; cap it so a client finds a restarted
# server within about a second even after many refused attempts while it was down.
KAZOO_CONNECTION_RETRY = {"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 1.0}


def kazoo_client(hosts: str, **kwargs):
    """A (not yet started) KazooClient with the suite's timeouts and reconnect policy."""
    from kazoo.client import KazooClient

    kwargs.setdefault("timeout", ENSEMBLE_SESSION_TIMEOUT_S if ENSEMBLE else 10.0)
    kwargs.setdefault("connection_retry", dict(KAZOO_CONNECTION_RETRY))
    if ENSEMBLE:
        # The connect string lists all three servers, in order: every client of a test sits
        # on server 1 (where the raw-wire clients are) while it lives, and moves on if it
        # dies. Without sync, ZooKeeper promises a session its own writes only, and a
        # follower applies a commit a few ms after the writer's server acknowledged it, so
        # the suite's many "A writes, B reads at once" steps would be racy across servers.
        # Reads on other servers after sync are tests/ensemble/test_ensemble_cases.py's job.
        kwargs.setdefault("randomize_hosts", False)
    return KazooClient(hosts=hosts, **kwargs)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when pytest dies, so no server outlives a run."""
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def corral_binary() -> Path:
    if os.environ.get("CORRAL_SERVER_BIN"):
        return Path(os.environ["CORRAL_SERVER_BIN"])
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target_dir / "debug" / "corral-server"


class Server:
    """One server process on a fixed port and data dir; `restart` keeps both."""

    def __init__(self, workdir: Path, *, max_client_connections: int | None = None,
                 super_digest_value: str | None = None):
        self.workdir = workdir
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.max_client_connections = max_client_connections
        self.super_digest = super_digest_value or super_digest()
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / "server.log"
        self.starts = 0
        self.target = TARGET

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def four_letter(self, cmd: str) -> str:
        return four_letter(self.port, cmd)

    def _command(self) -> list[str]:
        if TARGET == "corral":
            binary = corral_binary()
            if not binary.exists():
                raise RuntimeError(
                    f"corral-server binary not found at {binary}; build it with "
                    "`cargo build -p corral-server` or set CORRAL_SERVER_BIN")
            cmd = [str(binary), "--client-port", str(self.port), "--data-dir", str(self.data_dir),
                   "--tick-time-ms", str(TICK_TIME_MS),
                   "--min-session-timeout-ms", str(MIN_SESSION_TIMEOUT_MS),
                   "--max-session-timeout-ms", str(MAX_SESSION_TIMEOUT_MS),
                   "--super-digest", self.super_digest,
                   "--container-check-interval-ms", str(CONTAINER_CHECK_INTERVAL_MS)]
            if self.max_client_connections is not None:
                cmd += ["--max-client-connections", str(self.max_client_connections)]
            return cmd
        cfg = self.workdir / "zoo.cfg"
        lines = [
            f"dataDir={self.data_dir}",
            f"clientPort={self.port}",
            "clientPortAddress=127.0.0.1",
            f"tickTime={TICK_TIME_MS}",
            f"minSessionTimeout={MIN_SESSION_TIMEOUT_MS}",
            f"maxSessionTimeout={MAX_SESSION_TIMEOUT_MS}",
            "4lw.commands.whitelist=*",
            "admin.enableServer=false",
            "extendedTypesEnabled=true",
            # 0 means unlimited in ZooKeeper; corral's flag is omitted in that case.
            f"maxClientCnxns={self.max_client_connections or 0}",
        ]
        cfg.write_text("\n".join(lines) + "\n")
        return [
            os.environ.get("JAVA", "java"), "-Xmx512m", "-Xms64m",
            f"-Dznode.container.checkIntervalMs={CONTAINER_CHECK_INTERVAL_MS}",
            f"-Dzookeeper.DigestAuthenticationProvider.superDigest={self.super_digest}",
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
            "-Dzookeeper.admin.enableServer=false",
            "-cp", ":".join(ZOOKEEPER_JARS),
            "org.apache.zookeeper.server.ZooKeeperServerMain", str(cfg),
        ]

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no server output)"
        return "\n".join(text[-lines:])

    def start(self) -> None:
        assert self.proc is None, "server already running"
        cmd = self._command()
        log = open(self.log_path, "ab")
        log.write(f"--- start #{self.starts + 1}: {' '.join(cmd)}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.workdir,
                                     preexec_fn=_die_with_parent)
        log.close()
        self.starts += 1
        deadline = time.monotonic() + START_TIMEOUT_S
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                raise RuntimeError(f"{TARGET} server exited with {code} during start; "
                                   f"output tail:\n{self.log_tail()}")
            try:
                if four_letter(self.port, "ruok", timeout=2.0) == "imok":
                    # ZooKeeper answers `imok` before it serves sessions, so a session
                    # handshake must also succeed before the server counts as ready.
                    probe = RawClient(self.port, timeout_ms=MIN_SESSION_TIMEOUT_MS * 4,
                                      io_timeout=2.0)
                    probe.close()
                    return
                last_error = "ruok did not answer imok"
            except (OSError, ServerClosed, TimeoutError) as exc:
                last_error = exc
            time.sleep(0.1)
        self.stop(kill=True)
        raise RuntimeError(f"{TARGET} server not ready on {self.hosts} after {START_TIMEOUT_S}s "
                           f"({last_error}); output tail:\n{self.log_tail()}")

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=STOP_TIMEOUT_S)

    def restart(self, kill: bool = True) -> None:
        """Stop (SIGKILL by default, SIGTERM with kill=False) and start on the same data dir."""
        self.stop(kill=kill)
        self.start()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _make_server(tmp_root: Path, **kwargs):
    """A started `Server`, or for corral-ensemble an `Ensemble` with the same interface."""
    if ENSEMBLE:
        from cluster import make_ensemble

        return make_ensemble(tmp_root, voters=3,
                             max_client_connections=kwargs.get("max_client_connections"),
                             super_digest=kwargs.get("super_digest_value") or super_digest())
    server = Server(Path(tempfile.mkdtemp(prefix="srv-", dir=tmp_root)), **kwargs)
    server.start()
    return server


def _dispose(server) -> None:
    """Stop a server, or an ensemble and its peer proxy."""
    if hasattr(server, "close"):
        server.close()
    else:
        server.stop()


@pytest.fixture(scope="session")
def _server_root(tmp_path_factory):
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="module")
def server(_server_root):
    """A server shared by one test module (tests use distinct paths)."""
    srv = _make_server(_server_root)
    yield srv
    _dispose(srv)


@pytest.fixture
def fresh_server(_server_root):
    """A server of its own for tests that restart it or depend on global counters."""
    srv = _make_server(_server_root)
    yield srv
    _dispose(srv)


@pytest.fixture
def server_factory(_server_root):
    """Start servers with options, e.g. `server_factory(max_client_connections=5)`."""
    started = []

    def make(**kwargs) -> Server:
        srv = _make_server(_server_root, **kwargs)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        _dispose(srv)


@pytest.fixture
def zk(server):
    """A started kazoo client on the module's server, stopped after the test."""
    client = kazoo_client(server.hosts)
    client.start(timeout=15)
    yield client
    client.stop()
    client.close()


@pytest.fixture
def kazoo_factory(server):
    """Make more started kazoo clients; all are stopped after the test."""
    clients = []

    def make(hosts: str | None = None, **kwargs):
        client = kazoo_client(hosts or server.hosts, **kwargs)
        client.start(timeout=15)
        clients.append(client)
        return client

    yield make
    for client in clients:
        try:
            client.stop()
            client.close()
        except Exception:  # noqa: BLE001 - best effort cleanup of a possibly dead client
            pass
