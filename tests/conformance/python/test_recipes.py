"""kazoo's own recipes across several clients: Lock, Election, Barrier, Counter, Queue, Semaphore."""

import threading
import time

import pytest
from kazoo.exceptions import LockTimeout

from zkwire import wait_until

CLIENTS = 4
JOIN_TIMEOUT_S = 60.0


class Oracle:
    """Counts concurrent holders of a resource in this process."""

    def __init__(self):
        self.lock = threading.Lock()
        self.holders = 0
        self.max_holders = 0
        self.entries = 0

    def enter(self):
        with self.lock:
            self.holders += 1
            self.entries += 1
            self.max_holders = max(self.max_holders, self.holders)

    def leave(self):
        with self.lock:
            self.holders -= 1


def run_threads(targets):
    errors = []

    def wrap(fn):
        def run():
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - reported to the test thread
                errors.append(exc)
        return run

    threads = [threading.Thread(target=wrap(t), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)
    assert not any(t.is_alive() for t in threads), "recipe threads did not finish"
    if errors:
        raise errors[0]


def test_lock_mutual_exclusion(zk, kazoo_factory):
    zk.create("/lock-counter", b"0")
    clients = [kazoo_factory() for _ in range(CLIENTS)]
    oracle = Oracle()
    rounds = 15

    def worker(client):
        def run():
            lock = client.Lock("/lock", identifier=f"c{id(client)}")
            for _ in range(rounds):
                with lock:
                    oracle.enter()
                    # Unversioned read-modify-write: only mutual exclusion keeps it exact.
                    value = int(client.get("/lock-counter")[0])
                    time.sleep(0.001)
                    client.set("/lock-counter", str(value + 1).encode())
                    oracle.leave()
        return run

    run_threads([worker(c) for c in clients])
    assert oracle.max_holders == 1
    assert int(zk.get("/lock-counter")[0]) == CLIENTS * rounds
    assert zk.get_children("/lock") == []  # every lock node cleaned up


def test_lock_contenders_and_timeout(zk, kazoo_factory):
    holder, waiter = kazoo_factory(), kazoo_factory()
    lock = holder.Lock("/lock2", "holder")
    assert lock.acquire(timeout=10)
    other = waiter.Lock("/lock2", "waiter")
    with pytest.raises(LockTimeout):
        other.acquire(timeout=0.5)
    assert lock.contenders() == ["holder"]
    lock.release()
    assert other.acquire(timeout=10)
    other.release()


def test_lock_released_when_holder_session_closes(zk, kazoo_factory):
    holder, waiter = kazoo_factory(), kazoo_factory()
    assert holder.Lock("/lock3", "h").acquire(timeout=10)
    got = []
    t = threading.Thread(target=lambda: got.append(waiter.Lock("/lock3", "w").acquire(timeout=30)))
    t.start()
    time.sleep(0.3)
    assert got == []
    holder.stop()  # ephemeral lock node goes with the session
    t.join(JOIN_TIMEOUT_S)
    assert got == [True]


def test_election(zk, kazoo_factory):
    clients = [kazoo_factory() for _ in range(3)]
    leaders = []
    stop_flags = [threading.Event() for _ in clients]
    elections = [c.Election("/election", f"candidate-{i}") for i, c in enumerate(clients)]

    def lead(i):
        def run():
            leaders.append(i)
            stop_flags[i].wait(JOIN_TIMEOUT_S)
        return run

    threads = [threading.Thread(target=e.run, args=(lead(i),), daemon=True)
               for i, e in enumerate(elections)]
    for t in threads:
        t.start()
    wait_until(lambda: len(leaders) == 1, 15, what="first leader")
    first = leaders[0]
    time.sleep(0.5)
    assert len(leaders) == 1  # only one leader at a time
    assert sorted(elections[0].contenders()) == sorted(f"candidate-{i}" for i in range(3))
    assert elections[0].contenders()[0] == f"candidate-{first}"
    stop_flags[first].set()  # leader steps down
    wait_until(lambda: len(leaders) == 2, 15, what="second leader")
    assert leaders[1] != first
    for i, e in enumerate(elections):
        e.cancel()
        stop_flags[i].set()
    for t in threads:
        t.join(JOIN_TIMEOUT_S)


def test_barrier_and_double_barrier(zk, kazoo_factory):
    a, b = kazoo_factory(), kazoo_factory()
    barrier = a.Barrier("/barrier")
    barrier.create()
    passed = []
    t = threading.Thread(target=lambda: passed.append(b.Barrier("/barrier").wait(timeout=30)))
    t.start()
    time.sleep(0.3)
    assert passed == []
    barrier.remove()
    t.join(JOIN_TIMEOUT_S)
    assert passed == [True]

    clients = [kazoo_factory() for _ in range(3)]
    inside = Oracle()

    def member(client):
        def run():
            db = client.DoubleBarrier("/double-barrier", 3)
            db.enter()
            inside.enter()
            db.leave()
        return run

    run_threads([member(c) for c in clients])
    assert inside.entries == 3


def test_counter(zk, kazoo_factory):
    clients = [kazoo_factory() for _ in range(CLIENTS)]
    per_client = 25

    def bump(client):
        def run():
            counter = client.Counter("/counter")
            for _ in range(per_client):
                counter += 1
        return run

    run_threads([bump(c) for c in clients])
    assert zk.Counter("/counter").value == CLIENTS * per_client
    floats = zk.Counter("/counter-float", default=0.5)
    floats += 1.5
    assert floats.value == 2.0


def test_queue(zk, kazoo_factory):
    producers = [kazoo_factory() for _ in range(2)]
    for i, p in enumerate(producers):
        q = p.Queue("/queue")
        for j in range(10):
            q.put(f"{i}-{j}".encode())
    queue = zk.Queue("/queue")
    assert len(queue) == 20
    got = [queue.get() for _ in range(20)]
    assert queue.get() is None
    assert sorted(got) == sorted(f"{i}-{j}".encode() for i in range(2) for j in range(10))
    for i in range(2):  # FIFO per producer
        mine = [g for g in got if g.startswith(f"{i}-".encode())]
        assert mine == [f"{i}-{j}".encode() for j in range(10)]

    lq = zk.LockingQueue("/locking-queue")
    lq.put(b"low", priority=100)
    lq.put(b"high", priority=1)
    assert lq.get(timeout=10) == b"high"
    assert lq.consume()
    assert lq.get(timeout=10) == b"low"
    assert lq.consume()
    assert len(lq) == 0


def test_semaphore(zk, kazoo_factory):
    clients = [kazoo_factory() for _ in range(CLIENTS)]
    oracle = Oracle()

    def worker(client, idx):
        def run():
            sem = client.Semaphore("/semaphore", identifier=f"w{idx}", max_leases=2)
            for _ in range(5):
                with sem:
                    oracle.enter()
                    time.sleep(0.02)
                    oracle.leave()
        return run

    run_threads([worker(c, i) for i, c in enumerate(clients)])
    assert oracle.entries == CLIENTS * 5
    assert 1 <= oracle.max_holders <= 2
    sem = zk.Semaphore("/semaphore", max_leases=2)
    assert sem.lease_holders() == []
