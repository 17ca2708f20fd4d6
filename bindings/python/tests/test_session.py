"""Session tokens: a session handed from one process to another."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import corral


def test_session_resumed_in_another_process(hosts: str, client: corral.Client, base: str) -> None:
    script = textwrap.dedent(
        f"""
        import corral
        c = corral.Client({hosts!r}); c.start()
        c.create({base!r}, b"mine", ephemeral=True)
        print(c.session_token, flush=True)
        c.detach()
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    token = out.stdout.strip()
    assert token.startswith("v1:")
    # The exporter is gone; its ephemeral lives on with the session.
    stat = client.exists(base)
    assert stat is not None
    resumed = corral.Client(hosts, session=token)
    resumed.start()
    assert resumed.client_id[0] == stat.ephemeralOwner
    assert resumed.get(base)[0] == b"mine"
    resumed.stop()
    assert client.exists(base) is None


def test_fork_child_gets_a_clear_error_and_new_clients_work(
    hosts: str, client: corral.Client, base: str
) -> None:
    client.create(base, b"parent")
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            try:
                client.exists(base)
                code = 2
            except corral.ForkedClientError:
                fresh = corral.Client(hosts)
                fresh.start()
                code = 0 if fresh.get(base)[0] == b"parent" else 3
                fresh.stop()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert client.get(base)[0] == b"parent"  # the parent's client is untouched
