"""Fixtures for the ensemble fault tests: real corral-server processes behind PeerProxy."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cluster import kazoo_client, make_ensemble  # noqa: E402

# kazoo warns on every dropped connection, which faults cause by the hundred. Give its logger
# a handler so Python's last-resort stderr printer stays quiet under `pytest -s`; pytest
# still captures the records and shows them for a failing test.
logging.getLogger("kazoo").addHandler(logging.NullHandler())


@pytest.fixture(scope="session")
def _ensemble_root(tmp_path_factory):
    return tmp_path_factory.mktemp("ensembles")


@pytest.fixture
def ensemble_factory(_ensemble_root, request):
    """Start ensembles, e.g. `ensemble_factory(voters=3, observers=1)`; stopped after the test.
    On failure the tail of every server's log is printed."""
    started = []

    def make(**kwargs):
        ens = make_ensemble(_ensemble_root, **kwargs)
        started.append(ens)
        return ens

    yield make
    failed = getattr(request.node, "rep_call", None)
    for ens in started:
        if failed is not None and failed.failed:
            print(f"\n=== server logs ({ens.workdir})\n{ens.log_tail(30)}")
        ens.close()


@pytest.fixture
def ensemble(ensemble_factory):
    """A started 3-voter ensemble of its own."""
    return ensemble_factory()


@pytest.fixture
def clients():
    """Make started kazoo clients: `clients(hosts, timeout=10.0)`; all closed after the test."""
    made = []

    def make(hosts: str, start_timeout: float = 20.0, **kwargs):
        client = kazoo_client(hosts, **kwargs)
        client.start(timeout=start_timeout)
        made.append(client)
        return client

    yield make
    for client in made:
        try:
            client.stop()
            client.close()
        except Exception:  # noqa: BLE001 - a client of a killed server may be broken
            pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
