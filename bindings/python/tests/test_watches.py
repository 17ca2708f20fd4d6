"""Watch callbacks and state listeners run on the client's event thread."""

from __future__ import annotations

import queue
import threading

import corral
from corral import KazooState, WatchedEvent

EVENT_DEADLINE_S = 20


def test_get_watch_fires_once(client: corral.Client, other: corral.Client, base: str) -> None:
    client.create(base, b"0")
    client.create(base + "-marker", b"0")
    events: "queue.Queue[WatchedEvent]" = queue.Queue()
    threads: "queue.Queue[str]" = queue.Queue()

    def on_change(event: WatchedEvent) -> None:
        threads.put(threading.current_thread().name)
        events.put(event)

    data, _ = client.get(base, watch=on_change)
    assert data == b"0"
    other.set(base, b"1")
    event = events.get(timeout=EVENT_DEADLINE_S)
    assert event == WatchedEvent("CHANGED", "CONNECTED", base)
    assert threads.get_nowait() != threading.main_thread().name
    # One-shot: a second change is not reported. Events are delivered in
    # order, so once a later watch's event arrives, none is pending.
    other.set(base, b"2")
    marker: "queue.Queue[WatchedEvent]" = queue.Queue()
    client.get(base + "-marker", watch=marker.put)
    other.delete(base + "-marker")
    assert marker.get(timeout=EVENT_DEADLINE_S).type == "DELETED"
    assert events.empty()


def test_a_failing_callback_does_not_stop_delivery(
    client: corral.Client, other: corral.Client, base: str
) -> None:
    client.create(base)
    client.create(base + "-2")

    def boom(event: WatchedEvent) -> None:
        raise RuntimeError("callback failure (expected in this test)")

    got: "queue.Queue[WatchedEvent]" = queue.Queue()
    client.get(base, watch=boom)
    client.get(base + "-2", watch=got.put)
    other.set(base, b"x")
    other.set(base + "-2", b"x")
    assert got.get(timeout=EVENT_DEADLINE_S).path == base + "-2"


def test_persistent_recursive_watch(
    client: corral.Client, other: corral.Client, base: str
) -> None:
    client.create(base)
    events: "queue.Queue[WatchedEvent]" = queue.Queue()
    watch_id = client.add_watch(base, events.put, recursive=True)
    other.create(base + "/a")
    other.set(base + "/a", b"1")
    other.delete(base + "/a")
    got = [events.get(timeout=EVENT_DEADLINE_S) for _ in range(3)]
    assert [(e.type, e.path) for e in got] == [
        ("CREATED", base + "/a"),
        ("CHANGED", base + "/a"),
        ("DELETED", base + "/a"),
    ]
    client.remove_watch(watch_id)
    # After removal no more events: prove it with an ordered marker event.
    other.create(base + "/b")
    marker: "queue.Queue[WatchedEvent]" = queue.Queue()
    client.create(base + "-m")
    client.get(base + "-m", watch=marker.put)
    other.delete(base + "-m")
    assert marker.get(timeout=EVENT_DEADLINE_S).type == "DELETED"
    assert events.empty()


def test_listener_sees_lost_on_stop(hosts: str) -> None:
    c = corral.Client(hosts)
    states: "queue.Queue[str]" = queue.Queue()
    c.add_listener(states.put)
    c.start()
    assert states.get(timeout=EVENT_DEADLINE_S) == KazooState.CONNECTED
    c.stop()
    assert states.get(timeout=EVENT_DEADLINE_S) == KazooState.LOST


def test_remove_listener(hosts: str) -> None:
    c = corral.Client(hosts)
    removed: "queue.Queue[str]" = queue.Queue()
    kept: "queue.Queue[str]" = queue.Queue()

    def gone(state: str) -> None:
        removed.put(state)

    c.add_listener(gone)
    c.add_listener(kept.put)
    assert c.remove_listener(gone) is True
    assert c.remove_listener(gone) is False
    c.start()
    c.stop()
    # Listeners run in order on one thread: once the kept one saw LOST,
    # the removed one would have seen it too.
    assert kept.get(timeout=EVENT_DEADLINE_S) == KazooState.CONNECTED
    assert kept.get(timeout=EVENT_DEADLINE_S) == KazooState.LOST
    assert removed.empty()


def test_exists_watch_on_a_missing_node_fires_on_creation(
    client: corral.Client, other: corral.Client, base: str
) -> None:
    events: "queue.Queue[WatchedEvent]" = queue.Queue()
    assert client.exists(base, watch=events.put) is None
    other.create(base, b"")
    assert events.get(timeout=EVENT_DEADLINE_S) == WatchedEvent("CREATED", "CONNECTED", base)
    assert client.exists(base, watch=events.put) is not None
    other.delete(base)
    assert events.get(timeout=EVENT_DEADLINE_S).type == "DELETED"


def test_get_children_watch(client: corral.Client, other: corral.Client, base: str) -> None:
    client.create(base)
    events: "queue.Queue[WatchedEvent]" = queue.Queue()
    assert client.get_children(base, watch=events.put) == []
    other.create(base + "/kid")
    assert events.get(timeout=EVENT_DEADLINE_S) == WatchedEvent("CHILD", "CONNECTED", base)
    children, stat = client.get_children(base, watch=events.put, include_data=True)
    assert children == ["kid"] and stat.numChildren == 1
    other.delete(base + "/kid")
    assert events.get(timeout=EVENT_DEADLINE_S).type == "CHILD"
