"""Debian's zkCli.sh (ZooKeeper 3.8's Java CLI) against the server under test.

One-shot commands run `zkCli.sh -server HOST cmd args`; watches need a live session, so
those tests drive an interactive zkCli over pipes (JLine is off without a tty) with a reader
thread and bounded waits, like pexpect.
"""

import os
import queue
import re
import subprocess
import threading
import time

import pytest

ZKCLI = os.environ.get("ZKCLI", "/usr/share/zookeeper/bin/zkCli.sh")
RUN_TIMEOUT_S = 60


def zkcli(server, *args):
    """Run one zkCli command; returns (exit code, stdout + stderr with SLF4J noise dropped)."""
    proc = subprocess.run([ZKCLI, "-server", server.hosts, *args], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S, stdin=subprocess.DEVNULL)
    lines = [line for line in (proc.stdout + proc.stderr).splitlines()
             if not line.startswith("SLF4J:")]
    return proc.returncode, "\n".join(lines)


class Interactive:
    """An interactive zkCli session: send lines, wait for output matching a pattern."""

    def __init__(self, server):
        self.proc = subprocess.Popen([ZKCLI, "-server", server.hosts], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._pump, daemon=True).start()
        self.expect(r"state:SyncConnected type:None")

    def _pump(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def send(self, command: str) -> None:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def expect(self, pattern: str, timeout: float = 20.0) -> str:
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"zkCli output never matched {pattern!r}; saw:\n"
                                     + "\n".join(self.seen[-40:]))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append(line)
            if regex.search(line):
                return line

    def sync(self) -> None:
        """Wait until zkCli has run every command sent so far (it runs them in order, and
        addWatch prints nothing on success): an unknown command answers with its name."""
        self.marker = getattr(self, "marker", 0) + 1
        self.send(f"marker-{self.marker}")
        self.expect(rf"Command not found marker-{self.marker}$")

    def events(self, settle: float = 1.0) -> list[str]:
        """WatchedEvent lines that arrive within `settle` seconds."""
        out = []
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(line)
            if "WatchedEvent" in line:
                out.append(line.strip())
        return out

    def close(self):
        try:
            self.send("quit")
            self.proc.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=20)


@pytest.fixture
def cli(server):
    session = Interactive(server)
    yield session
    session.close()


def test_zkcli_is_installed():
    assert os.access(ZKCLI, os.X_OK), f"{ZKCLI} missing: apt-get install zookeeper"


def test_create_get_set_ls_stat_delete(server):
    code, out = zkcli(server, "create", "/cli", "hello")
    assert code == 0 and "Created /cli" in out
    code, out = zkcli(server, "get", "/cli")
    assert code == 0 and out.splitlines()[-1] == "hello"

    code, out = zkcli(server, "set", "/cli", "world")
    assert code == 0
    code, out = zkcli(server, "get", "/cli")
    assert out.splitlines()[-1] == "world"

    code, out = zkcli(server, "create", "/cli/kid", "k")
    assert code == 0 and "Created /cli/kid" in out
    code, out = zkcli(server, "create", "-s", "/cli/seq-", "")
    assert code == 0 and "Created /cli/seq-0000000001" in out
    code, out = zkcli(server, "ls", "/cli")
    assert code == 0 and out.splitlines()[-1] == "[kid, seq-0000000001]"

    code, out = zkcli(server, "stat", "/cli")
    assert code == 0
    stat = dict(line.split(" = ", 1) for line in out.splitlines() if " = " in line)
    assert stat["dataVersion"] == "1" and stat["cversion"] == "2"
    assert stat["numChildren"] == "2" and stat["dataLength"] == "5"
    assert stat["ephemeralOwner"] == "0x0" and stat["aclVersion"] == "0"
    assert re.fullmatch(r"0x[0-9a-f]+", stat["cZxid"]) and stat["cZxid"] != stat["mZxid"]

    code, out = zkcli(server, "delete", "/cli")
    assert code != 0 and "Node not empty: /cli" in out
    code, out = zkcli(server, "set", "-v", "0", "/cli", "stale")
    assert code != 0 and "version No is not valid : /cli" in out
    code, out = zkcli(server, "deleteall", "/cli")
    assert code == 0
    code, out = zkcli(server, "get", "/cli")
    assert code != 0 and "Node does not exist: /cli" in out


def test_create_existing_and_missing_parent(server):
    assert zkcli(server, "create", "/cli-dup")[0] == 0
    code, out = zkcli(server, "create", "/cli-dup")
    assert code != 0 and "Node already exists: /cli-dup" in out
    code, out = zkcli(server, "create", "/cli-none/kid")
    assert code != 0 and "Node does not exist: /cli-none/kid" in out


def test_whoami(server):
    code, out = zkcli(server, "whoami")
    assert code == 0
    assert out.splitlines()[-2:] == ["Auth scheme: User", "ip: 127.0.0.1"]


def test_get_ephemerals_and_whoami_interactive(cli):
    cli.send("create -e /cli-eph-a")
    cli.expect(r"^Created /cli-eph-a$")
    cli.send("create -e /cli-eph-b")
    cli.expect(r"^Created /cli-eph-b$")
    cli.send("getEphemerals /cli-eph")
    line = cli.expect(r"^\[.*\]$")
    assert sorted(x.strip() for x in line.strip("[]").split(",")) == ["/cli-eph-a", "/cli-eph-b"]
    cli.send("addauth digest erin:pw")
    cli.send("whoami")
    cli.expect(r"^Auth scheme: User$")
    got = {cli.expect(r"^(ip|digest): "), cli.expect(r"^(ip|digest): ")}
    assert got == {"ip: 127.0.0.1", "digest: erin"}


def test_one_shot_watch(cli, server):
    cli.send("create /cli-w1 a")
    cli.expect(r"^Created /cli-w1$")
    cli.send("get -w /cli-w1")
    cli.expect(r"^a$")
    assert zkcli(server, "set", "/cli-w1", "b")[0] == 0
    cli.expect(r"type:NodeDataChanged path:/cli-w1")
    assert zkcli(server, "set", "/cli-w1", "c")[0] == 0
    assert cli.events(1.5) == []  # fired once only


def test_add_watch_persistent(cli, server):
    cli.send("create /cli-pw")
    cli.expect(r"^Created /cli-pw$")
    # zkCli's addWatch defaults to PERSISTENT_RECURSIVE; ask for PERSISTENT explicitly.
    cli.send("addWatch -m PERSISTENT /cli-pw")
    cli.sync()
    for value in ("1", "2"):
        assert zkcli(server, "set", "/cli-pw", value)[0] == 0
        cli.expect(r"type:NodeDataChanged path:/cli-pw$")
    assert zkcli(server, "create", "/cli-pw/kid")[0] == 0
    cli.expect(r"type:NodeChildrenChanged path:/cli-pw$")
    assert zkcli(server, "create", "/cli-pw/kid/deeper")[0] == 0
    assert cli.events(1.5) == []  # PERSISTENT does not reach grandchildren


def test_add_watch_persistent_recursive(cli, server):
    cli.send("create /cli-prw")
    cli.expect(r"^Created /cli-prw$")
    cli.send("addWatch /cli-prw")  # the default mode is PERSISTENT_RECURSIVE
    cli.sync()
    assert zkcli(server, "create", "/cli-prw/a", "x")[0] == 0
    cli.expect(r"type:NodeCreated path:/cli-prw/a$")
    assert zkcli(server, "create", "/cli-prw/a/b", "x")[0] == 0
    cli.expect(r"type:NodeCreated path:/cli-prw/a/b$")
    assert zkcli(server, "set", "/cli-prw/a/b", "y")[0] == 0
    cli.expect(r"type:NodeDataChanged path:/cli-prw/a/b$")
    assert zkcli(server, "delete", "/cli-prw/a/b")[0] == 0
    cli.expect(r"type:NodeDeleted path:/cli-prw/a/b$")
    # Recursive watches never report NodeChildrenChanged.
    assert not [e for e in cli.events(1.0) if "NodeChildrenChanged" in e]
    cli.send("create /cli-prw2")
    cli.expect(r"^Created /cli-prw2$")
    cli.send("addWatch -m PERSISTENT_RECURSIVE /cli-prw2")
    cli.sync()
    assert zkcli(server, "create", "/cli-prw2/a")[0] == 0
    assert zkcli(server, "create", "/cli-prw2/a/b")[0] == 0
    cli.expect(r"type:NodeCreated path:/cli-prw2/a$")
    cli.expect(r"type:NodeCreated path:/cli-prw2/a/b$")
