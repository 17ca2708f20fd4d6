"""A local corral-server ensemble with a fault-injecting peer proxy, for the ensemble tests
and the conformance suite's `corral-ensemble` target.

Addressing (all on loopback, no setup needed on Linux):

* server I listens for clients on 127.0.0.1:C_I;
* its peer listener really binds 127.0.0.(10+I):P_I, and its outgoing peer connections come
  FROM 127.0.0.(10+I) (`--peer-host`);
* every server's `--members` advertises 127.0.0.(20+I):Q_I, where a `PeerProxy` listens and
  forwards to 127.0.0.(10+I):P_I. The proxy tells which server a connection comes from by its
  source address, so `partition(groups)` can cut exactly the links between groups (existing
  connections are closed, new ones are closed right after accept) and `heal()` restores them.

Every wait is a poll under a deadline; every server gets SIGKILL if the test process dies.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
# zkwire (raw jute client) lives with the conformance suite.
sys.path.insert(0, str(REPO / "tests" / "conformance" / "python"))
from zkwire import four_letter, free_port  # noqa: E402,F401 - after the sys.path insert; re-exported

TICK_TIME_MS = 2000
MIN_SESSION_TIMEOUT_MS = 1000
MAX_SESSION_TIMEOUT_MS = 60000
CONTAINER_CHECK_INTERVAL_MS = 1000
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0

# kazoo's default reconnect backoff grows to a minute; cap it so a client finds a live server
# within about a second after a failover.
KAZOO_CONNECTION_RETRY = {"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 1.0}


def corral_binary() -> Path:
    if os.environ.get("CORRAL_SERVER_BIN"):
        return Path(os.environ["CORRAL_SERVER_BIN"])
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
    return target_dir / "debug" / "corral-server"


class ServerExited(RuntimeError):
    """A server process died while the test waited for it: no point waiting longer."""


def wait_until(predicate, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except ServerExited:
            raise
        except Exception as exc:  # noqa: BLE001 - a probe may fail while servers move
            last_exc = exc
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}"
                               + (f" (last error: {last_exc!r})" if last_exc else ""))
        time.sleep(interval)


def kazoo_client(hosts: str, **kwargs):
    """A (not yet started) KazooClient with short reconnect backoff."""
    from kazoo.client import KazooClient

    kwargs.setdefault("timeout", 10.0)
    kwargs.setdefault("connection_retry", dict(KAZOO_CONNECTION_RETRY))
    return KazooClient(hosts=hosts, **kwargs)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the test process dies."""
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def peer_ip(server_id: int) -> str:
    """Where server `server_id`'s peer listener binds and its peer connections come from."""
    return f"127.0.0.{10 + server_id}"


def proxy_ip(server_id: int) -> str:
    """The advertised peer address of server `server_id` (its proxy)."""
    return f"127.0.0.{20 + server_id}"


class PeerProxy:
    """TCP proxies in front of every server's peer port, on one asyncio loop in a thread.

    `partition([[1], [2, 3]])` cuts every link between servers of different groups in both
    directions (a server left out of every group is cut from all); `heal()` restores all.
    """

    def __init__(self, targets: dict[int, tuple[str, int, str, int]]):
        # server id -> (listen ip, listen port, upstream ip, upstream port)
        self.targets = targets
        self.groups: dict[int, int] | None = None  # server id -> group number; None = healed
        self.loop = asyncio.new_event_loop()
        self.conns: set[tuple[int | None, int, asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.servers: list[asyncio.base_events.Server] = []
        self.thread = threading.Thread(target=self.loop.run_forever, name="peer-proxy",
                                       daemon=True)
        self.thread.start()
        self._call(self._start())

    def _call(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def _allowed(self, src: int | None, dst: int) -> bool:
        if self.groups is None or src is None:
            return True
        return self.groups.get(src, -src) == self.groups.get(dst, -dst)

    async def _start(self):
        for dst, (ip, port, up_ip, up_port) in self.targets.items():
            handler = self._handler(dst, up_ip, up_port)
            self.servers.append(await asyncio.start_server(handler, ip, port))

    def _handler(self, dst: int, up_ip: str, up_port: int):
        src_of = {peer_ip(i): i for i in self.targets}

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
            src = src_of.get(writer.get_extra_info("peername")[0])
            if not self._allowed(src, dst):
                writer.transport.abort()
                return
            try:
                up_reader, up_writer = await asyncio.wait_for(
                    asyncio.open_connection(up_ip, up_port), 5.0)
            except (OSError, asyncio.TimeoutError):
                writer.transport.abort()
                return
            entry = (src, dst, writer, up_writer)
            self.conns.add(entry)

            async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter):
                try:
                    while True:
                        data = await r.read(65536)
                        if not data:
                            break
                        w.write(data)
                        await w.drain()
                except (OSError, asyncio.CancelledError):
                    pass
                finally:
                    w.transport.abort()

            try:
                await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
            finally:
                self.conns.discard(entry)
                writer.transport.abort()
                up_writer.transport.abort()

        return handle

    async def _apply(self, groups: dict[int, int] | None):
        self.groups = groups
        for entry in list(self.conns):
            src, dst, writer, up_writer = entry
            if not self._allowed(src, dst):
                writer.transport.abort()
                up_writer.transport.abort()
                self.conns.discard(entry)

    def partition(self, groups: list[list[int]]) -> None:
        mapping = {sid: n for n, group in enumerate(groups) for sid in group}
        self._call(self._apply(mapping))

    def heal(self) -> None:
        self._call(self._apply(None))

    def close(self) -> None:
        async def shutdown():
            for s in self.servers:
                s.close()
            for _, _, writer, up_writer in list(self.conns):
                writer.transport.abort()
                up_writer.transport.abort()
            self.conns.clear()

        try:
            self._call(shutdown())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)


class EnsembleServer:
    """One corral-server process of an ensemble; `start`/`stop` keep its ports and data dir."""

    def __init__(self, ensemble: "Ensemble", server_id: int, observer: bool):
        self.ensemble = ensemble
        self.id = server_id
        self.observer = observer
        self.workdir = ensemble.workdir / f"server-{server_id}"
        self.data_dir = self.workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.peer_port = free_port(peer_ip(server_id))
        self.proxy_port = free_port(proxy_ip(server_id))
        self.log_path = self.workdir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def member(self) -> str:
        return (f"{self.id}={proxy_ip(self.id)}:{self.proxy_port}"
                + (":observer" if self.observer else ""))

    def command(self) -> list[str]:
        binary = corral_binary()
        if not binary.exists():
            raise RuntimeError(f"corral-server binary not found at {binary}; build it with "
                               "`cargo build -p corral-server` or set CORRAL_SERVER_BIN")
        e = self.ensemble
        cmd = [str(binary), "--id", str(self.id), "--client-port", str(self.port),
               "--data-dir", str(self.data_dir),
               "--members", ",".join(s.member for s in e.servers.values()),
               "--peer-host", peer_ip(self.id), "--peer-port", str(self.peer_port),
               "--tick-time-ms", str(TICK_TIME_MS),
               "--min-session-timeout-ms", str(MIN_SESSION_TIMEOUT_MS),
               "--max-session-timeout-ms", str(MAX_SESSION_TIMEOUT_MS),
               "--container-check-interval-ms", str(CONTAINER_CHECK_INTERVAL_MS)]
        if e.super_digest:
            cmd += ["--super-digest", e.super_digest]
        if e.max_client_connections is not None:
            cmd += ["--max-client-connections", str(e.max_client_connections)]
        return cmd + e.extra_args

    def launch(self) -> None:
        """Start the process without waiting for it to serve."""
        assert self.proc is None, f"server {self.id} already running"
        cmd = self.command()
        with open(self.log_path, "ab") as log:
            log.write(f"--- start #{self.starts + 1}: {' '.join(cmd)}\n".encode())
            log.flush()
            env = dict(os.environ)
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, cwd=self.workdir, env=env,
                                         preexec_fn=_die_with_parent)
        self.starts += 1

    def ready(self) -> bool:
        """`ruok` answers and a session handshake succeeds (which needs a leader)."""
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            self.proc = None
            raise ServerExited(f"server {self.id} exited with {code}; output tail:\n"
                               f"{self.log_tail()}")
        try:
            if four_letter(self.port, "ruok", timeout=2.0) != "imok":
                return False
        except OSError:
            return False
        from zkwire import RawClient, ServerClosed

        try:
            RawClient(self.port, timeout_ms=4000, io_timeout=3.0).close()
            return True
        except (OSError, ServerClosed, TimeoutError):
            return False

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> None:
        try:
            wait_until(self.ready, timeout, interval=0.1, what=f"server {self.id} ready")
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}; output tail of server {self.id}:\n"
                               f"{self.log_tail()}") from None

    def start(self) -> None:
        self.launch()
        self.wait_ready()

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

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def four_letter(self, cmd: str) -> str:
        return four_letter(self.port, cmd)

    def mntr(self) -> dict[str, str]:
        text = self.four_letter("mntr")
        return dict(line.split("\t", 1) for line in text.strip().splitlines() if "\t" in line)

    def mode(self) -> str | None:
        m = re.search(r"^Mode: (\w+)$", self.four_letter("srvr"), re.M)
        return m.group(1) if m else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return "(no server output)"
        strip = re.compile(r"\x1b\[[0-9;]*m")
        return "\n".join(strip.sub("", line) for line in text[-lines:])


class Ensemble:
    """`voters` voting servers (ids 1..voters) plus `observers` observers, all behind proxies."""

    target = "corral-ensemble"

    def __init__(self, workdir: Path, voters: int = 3, observers: int = 0, *,
                 max_client_connections: int | None = None, super_digest: str | None = None,
                 extra_args: tuple[str, ...] = ()):
        self.workdir = workdir
        self.extra_args = list(extra_args)
        self.max_client_connections = max_client_connections
        self.super_digest = super_digest
        self.servers: dict[int, EnsembleServer] = {}
        for sid in range(1, voters + observers + 1):
            self.servers[sid] = EnsembleServer(self, sid, observer=sid > voters)
        self.proxy = PeerProxy({
            s.id: (proxy_ip(s.id), s.proxy_port, peer_ip(s.id), s.peer_port)
            for s in self.servers.values()})

    # --- the single-server `Server` interface the conformance suite uses -------------------

    @property
    def first(self) -> EnsembleServer:
        return self.servers[1]

    @property
    def port(self) -> int:
        """Raw-wire tests talk to one server: the first."""
        return self.first.port

    @property
    def hosts(self) -> str:
        return self.hosts_of(self.servers)

    def hosts_of(self, ids) -> str:
        return ",".join(self.servers[i].hosts for i in ids)

    def four_letter(self, cmd: str) -> str:
        return self.first.four_letter(cmd)

    def start(self) -> None:
        """Launch every stopped server, then wait until all serve sessions."""
        stopped = [s for s in self.servers.values() if not s.alive()]
        for s in stopped:
            s.proc = None
            s.launch()
        for s in stopped:
            s.wait_ready()

    def stop(self, kill: bool = False) -> None:
        for s in self.servers.values():
            s.stop(kill=kill)

    def restart(self, kill: bool = True) -> None:
        self.stop(kill=kill)
        self.start()

    def alive(self) -> bool:
        return all(s.alive() for s in self.servers.values())

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(f"--- server {s.id}\n{s.log_tail(lines)}" for s in self.servers.values())

    def close(self) -> None:
        self.stop()
        self.proxy.close()

    # --- ensemble helpers ------------------------------------------------------------------

    def live(self) -> list[EnsembleServer]:
        return [s for s in self.servers.values() if s.alive()]

    def leader(self, timeout: float = 30.0, among=None) -> EnsembleServer:
        """The one live server whose mode is leader (polls; among = ids to consider)."""
        def find():
            candidates = [s for s in self.live() if among is None or s.id in among]
            leaders = [s for s in candidates if s.mode() == "leader"]
            return leaders[0] if len(leaders) == 1 else None

        return wait_until(find, timeout, interval=0.1, what="a single leader")

    def states(self, ids=None) -> dict[int, tuple[str, str]]:
        """Server id -> (zk_last_zxid, corral_tree_digest)."""
        out = {}
        for s in self.live():
            if ids is None or s.id in ids:
                m = s.mntr()
                out[s.id] = (m["zk_last_zxid"], m["corral_tree_digest"])
        return out

    def wait_converged(self, timeout: float = 30.0, ids=None) -> dict[int, tuple[str, str]]:
        """Poll until every live server (or `ids`) shows the same last zxid and tree digest."""
        def same():
            st = self.states(ids)
            return st if len(set(st.values())) == 1 else None

        try:
            return wait_until(same, timeout, interval=0.2, what="servers converged")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}: {self.states(ids)}") from None

    def partition(self, groups: list[list[int]]) -> None:
        self.proxy.partition(groups)

    def heal(self) -> None:
        self.proxy.heal()


def make_ensemble(root: Path, voters: int = 3, observers: int = 0, **kwargs) -> Ensemble:
    """Create and start an ensemble in a fresh directory under `root`."""
    ensemble = Ensemble(Path(tempfile.mkdtemp(prefix="ens-", dir=root)), voters, observers,
                        **kwargs)
    try:
        ensemble.start()
    except BaseException:
        ensemble.close()
        raise
    return ensemble
