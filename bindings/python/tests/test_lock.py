"""client.Lock: Curator's layout, fencing tokens, timeouts, Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading

import pytest

import corral
from conftest import wait_until


def test_with_lock_holds_and_releases(client: corral.Client, base: str) -> None:
    lock = client.Lock(base, "worker-1")
    assert not lock.is_acquired and lock.fencing_token is None
    with lock:
        assert lock.is_acquired
        assert lock.node is not None and lock.node.startswith(base + "/_c_")
        assert lock.node.endswith("-lock-0000000000")
        assert client.get(lock.node)[0] == b"worker-1"
        assert lock.contenders() == [lock.node]
        assert lock.fencing_token == client.exists(lock.node).czxid
    assert not lock.is_acquired
    assert client.get_children(base) == []
    assert lock.release() is False


def test_exclusion_and_increasing_fencing_tokens(
    client: corral.Client, other: corral.Client, base: str
) -> None:
    first = client.Lock(base, "a")
    second = other.Lock(base, "b")
    assert first.acquire()
    assert second.acquire(blocking=False) is False
    with pytest.raises(corral.LockTimeout):
        second.acquire(timeout=0.2)
    assert len(first.contenders()) == 1  # the timed-out waiter removed its node
    token = first.fencing_token
    holder: list = []
    waiter = threading.Thread(target=lambda: holder.append(second.acquire()))
    waiter.start()
    wait_until(lambda: len(first.contenders()) == 2, what="the waiter's node")
    assert holder == []
    first.release()
    waiter.join(30)
    assert holder == [True] and second.is_acquired
    assert second.fencing_token > token
    second.release()


def test_a_lock_object_is_not_reentrant(client: corral.Client, base: str) -> None:
    lock = client.Lock(base)
    with lock:
        with pytest.raises(corral.LockHeldError):
            lock.acquire()


def test_ctrl_c_interrupts_a_blocked_acquire(hosts: str, client: corral.Client, base: str) -> None:
    held = client.Lock(base, "holder")
    held.acquire()
    script = textwrap.dedent(
        f"""
        import corral
        c = corral.Client({hosts!r}); c.start()
        print("waiting", flush=True)
        try:
            c.Lock({base!r}, "blocked").acquire()
            print("acquired", flush=True)
        except KeyboardInterrupt:
            print("interrupted", flush=True)
        c.stop()
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "waiting"
        wait_until(lambda: len(held.contenders()) == 2, what="the child's waiting node")
        child.send_signal(signal.SIGINT)
        out, _ = child.communicate(timeout=60)
        assert out.strip() == "interrupted"
        assert child.returncode == 0
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    wait_until(lambda: len(held.contenders()) == 1, what="the child's node removed")
    assert held.is_acquired
    held.release()


def test_on_lost_reports_a_deleted_lock_node_and_not_a_release(
    client: corral.Client, other: corral.Client, base: str
) -> None:
    import queue

    lost: "queue.Queue[tuple]" = queue.Queue()
    lock = client.Lock(base, "a", on_lost=lambda node, reason: lost.put((node, reason)))
    lock.acquire()
    node = lock.node
    other.delete(node)
    assert lost.get(timeout=20) == (node, "NODE_DELETED")
    assert lock.release() is True  # releasing a lost lock still succeeds
    # A plain release is no loss: release drops the loss watch before it
    # deletes the node. (Without that, the deletion is reported as a loss,
    # normally before the marker lock's loss below.)
    lock.acquire()
    lock.release()
    marker = client.Lock(base + "-m", "m", on_lost=lambda node, reason: lost.put(("m", reason)))
    marker.acquire()
    other.delete(marker.node)
    assert lost.get(timeout=20) == ("m", "NODE_DELETED")
    assert lost.empty()


def test_semaphore_grants_max_leases(
    client: corral.Client, other: corral.Client, base: str
) -> None:
    a = client.Semaphore(base, "a", max_leases=2)
    b = other.Semaphore(base, "b", max_leases=2)
    c = other.Semaphore(base, "c", max_leases=2)
    assert a.acquire() and b.acquire()
    assert c.acquire(blocking=False) is False
    with pytest.raises(corral.LockTimeout):
        c.acquire(timeout=0.2)
    assert len(a.lease_holders()) == 2
    with pytest.raises(corral.LockHeldError):
        a.acquire()
    token = max(a.fencing_token or 0, b.fencing_token or 0)
    assert a.release()
    with c:
        assert c.is_acquired and (c.fencing_token or 0) > token
    b.release()
    assert a.lease_holders() == []


def test_election_runs_the_leader_and_lists_contenders(
    client: corral.Client, other: corral.Client, base: str
) -> None:
    first = client.Election(base, "first")
    second = other.Election(base, "second")
    seen: list = []

    def lead(name: str) -> str:
        seen.append((name, first.contenders()))
        return name

    assert first.run(lead, "first") == "first"
    assert seen == [("first", ["first"])]
    assert first.contenders() == []
    with first:
        elected: list = []
        waiter = threading.Thread(target=lambda: elected.append(second.run(lambda: "second")))
        waiter.start()
        wait_until(lambda: first.contenders() == ["first", "second"], what="two contenders")
        assert elected == []
        token = first.fencing_token
    waiter.join(30)
    assert elected == ["second"]
    assert token is not None


def test_barrier(client: corral.Client, other: corral.Client, base: str) -> None:
    barrier = client.Barrier(base + "/b")
    assert barrier.wait(timeout=0.1) is True  # not raised: passes at once
    barrier.create()
    barrier.create()  # idempotent
    waiter = other.Barrier(base + "/b")
    assert waiter.wait(timeout=0.2) is False
    passed: list = []
    thread = threading.Thread(target=lambda: passed.append(waiter.wait()))
    thread.start()
    assert passed == []
    barrier.remove()
    thread.join(30)
    assert passed == [True]
    assert client.exists(base + "/b") is None
