"""Each watch kind fires exactly once with the right event; persistent watches; removeWatches."""

import threading

from kazoo.protocol.states import EventType

from conftest import kazoo_client
import zkwire as w
from zkwire import wait_until

QUIET_S = 1.0  # how long we listen for a (wrong) second event


class Recorder:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait(self, count, timeout=10.0):
        with self.cond:
            self.cond.wait_for(lambda: len(self.events) >= count, timeout=timeout)
            return list(self.events)


def test_kazoo_data_watch_fires_once(zk, kazoo_factory):
    other = kazoo_factory()
    zk.create("/wd", b"0")
    rec = Recorder()
    zk.get("/wd", watch=rec)
    other.set("/wd", b"1")
    other.set("/wd", b"2")
    events = rec.wait(1)
    assert len(events) == 1
    assert (events[0].type, events[0].path) == (EventType.CHANGED, "/wd")
    assert rec.wait(2, timeout=QUIET_S) == events  # one-shot


def test_kazoo_exists_watch_on_missing_node_fires_created(zk, kazoo_factory):
    other = kazoo_factory()
    rec = Recorder()
    assert zk.exists("/we", watch=rec) is None
    other.create("/we")
    events = rec.wait(1)
    assert [(e.type, e.path) for e in events] == [(EventType.CREATED, "/we")]
    other.delete("/we")
    assert len(rec.wait(2, timeout=QUIET_S)) == 1


def test_kazoo_child_watch_and_delete_events(zk, kazoo_factory):
    other = kazoo_factory()
    zk.create("/wc")
    rec = Recorder()
    zk.get_children("/wc", watch=rec)
    other.create("/wc/a")
    other.create("/wc/b")
    events = rec.wait(1)
    assert [(e.type, e.path) for e in events] == [(EventType.CHILD, "/wc")]
    assert len(rec.wait(2, timeout=QUIET_S)) == 1

    # Deleting a watched node fires the data watch as DELETED, child watch of parent as CHILD.
    data_rec, child_rec = Recorder(), Recorder()
    zk.get("/wc/a", watch=data_rec)
    zk.get_children("/wc", watch=child_rec)
    other.delete("/wc/a")
    assert [(e.type, e.path) for e in data_rec.wait(1)] == [(EventType.DELETED, "/wc/a")]
    assert [(e.type, e.path) for e in child_rec.wait(1)] == [(EventType.CHILD, "/wc")]


def test_raw_watch_event_fields(server, zk):
    c = w.RawClient(server.port)
    try:
        zk.create("/wr", b"")
        assert c.get_data("/wr", watch=True)[0] == w.OK
        assert c.get_children("/wr", watch=True)[0] == w.OK
        assert c.exists("/wr-missing", watch=True)[0] == w.NO_NODE
        zk.set("/wr", b"x")
        zk.create("/wr/kid")
        zk.create("/wr-missing")
        events = c.wait_events(3)
        got = sorted((e.type, e.state, e.path) for e in events)
        assert got == sorted([
            (w.EV_DATA_CHANGED, w.STATE_SYNC_CONNECTED, "/wr"),
            (w.EV_CHILDREN_CHANGED, w.STATE_SYNC_CONNECTED, "/wr"),
            (w.EV_CREATED, w.STATE_SYNC_CONNECTED, "/wr-missing"),
        ])
        # ZooKeeper 3.8 sends notifications with zxid -1 in the reply header (3.9 sends the
        # triggering zxid, ZOOKEEPER-4655); corral may do either, so only 3.8's is pinned here.
        if server.target == "zookeeper":
            assert {e.zxid for e in events} == {-1}
        assert c.poll_events(QUIET_S) == []
    finally:
        c.close()


def test_persistent_watch_fires_repeatedly_on_node_only(server, zk):
    c = w.RawClient(server.port)
    try:
        zk.create("/pw")
        assert c.add_watch("/pw", 0) == w.OK
        zk.set("/pw", b"1")
        zk.set("/pw", b"2")
        zk.create("/pw/kid")
        zk.create("/pw/kid/grandkid")  # not reported: PERSISTENT is not recursive
        zk.delete("/pw/kid/grandkid")
        zk.delete("/pw/kid")
        events = c.wait_events(4)
        assert [(e.type, e.path) for e in events] == [
            (w.EV_DATA_CHANGED, "/pw"), (w.EV_DATA_CHANGED, "/pw"),
            (w.EV_CHILDREN_CHANGED, "/pw"), (w.EV_CHILDREN_CHANGED, "/pw"),
        ]
        zk.delete("/pw")
        zk.create("/pw")
        events = c.wait_events(2)
        assert [(e.type, e.path) for e in events] == [(w.EV_DELETED, "/pw"), (w.EV_CREATED, "/pw")]
        # ZooKeeper 3.8 has no Persistent watcher type on the wire (4 -> MARSHALLINGERROR,
        # session kept); `Any` removes a persistent watch and the server sends no event for it
        # (the Java client synthesises PersistentWatchRemoved locally).
        assert c.check_watches("/pw", w.WT_DATA) == w.OK
        assert c.remove_watches("/pw", w.WT_PERSISTENT) == w.MARSHALLING_ERROR
        assert c.remove_watches("/pw", w.WT_ANY) == w.OK
        zk.set("/pw", b"3")
        assert c.poll_events(QUIET_S) == []
    finally:
        c.close()


def test_persistent_recursive_watch(server, zk):
    c = w.RawClient(server.port)
    try:
        zk.create("/prw")
        assert c.add_watch("/prw", 1) == w.OK
        zk.create("/prw/a")
        zk.create("/prw/a/b", b"")
        zk.set("/prw/a/b", b"x")
        zk.delete("/prw/a/b")
        zk.set("/prw", b"y")
        events = c.wait_events(5)
        # Recursive watches report no NodeChildrenChanged, only the node events below the path.
        assert [(e.type, e.path) for e in events] == [
            (w.EV_CREATED, "/prw/a"), (w.EV_CREATED, "/prw/a/b"),
            (w.EV_DATA_CHANGED, "/prw/a/b"), (w.EV_DELETED, "/prw/a/b"),
            (w.EV_DATA_CHANGED, "/prw"),
        ]
        zk.create("/prw-sibling")  # outside the subtree
        assert c.poll_events(QUIET_S) == []
        assert c.remove_watches("/prw", w.WT_ANY) == w.OK
        zk.create("/prw/c")
        assert c.poll_events(QUIET_S) == []
    finally:
        c.close()


def test_remove_watches(server, zk):
    c = w.RawClient(server.port)
    try:
        zk.create("/rmw")
        assert c.remove_watches("/rmw", w.WT_ANY) == w.NO_WATCHER
        assert c.check_watches("/rmw", w.WT_DATA) == w.NO_WATCHER
        assert c.get_data("/rmw", watch=True)[0] == w.OK
        assert c.get_children("/rmw", watch=True)[0] == w.OK
        assert c.check_watches("/rmw", w.WT_DATA) == w.OK
        assert c.check_watches("/rmw", w.WT_CHILDREN) == w.OK

        # The server sends no DataWatchRemoved/ChildWatchRemoved notification: clients make
        # those events themselves when removeWatches succeeds.
        assert c.remove_watches("/rmw", w.WT_DATA) == w.OK
        assert c.check_watches("/rmw", w.WT_DATA) == w.NO_WATCHER
        assert c.check_watches("/rmw", w.WT_CHILDREN) == w.OK
        zk.set("/rmw", b"1")
        assert c.poll_events(QUIET_S) == []  # data watch is gone

        assert c.remove_watches("/rmw", w.WT_ANY) == w.OK
        assert c.remove_watches("/rmw", w.WT_ANY) == w.NO_WATCHER
        assert c.remove_watches("/rmw-missing", w.WT_ANY) == w.NO_WATCHER
        zk.create("/rmw/kid")
        assert c.poll_events(QUIET_S) == []
    finally:
        c.close()


def test_add_watch_bad_mode_is_marshalling_error(server):
    c = w.RawClient(server.port)
    try:
        assert c.add_watch("/", 7) == w.MARSHALLING_ERROR
        assert c.ping().err == w.OK  # session survives
        assert c.add_watch("/not-there-yet", 0) == w.OK  # a node need not exist
    finally:
        c.close()


def test_watch_on_node_deleted_then_recreated_fires_once(zk, kazoo_factory):
    other = kazoo_factory()
    zk.create("/wdel")
    rec = Recorder()
    zk.exists("/wdel", watch=rec)
    other.delete("/wdel")
    other.create("/wdel")
    assert [(e.type, e.path) for e in rec.wait(1)] == [(EventType.DELETED, "/wdel")]
    assert len(rec.wait(2, timeout=QUIET_S)) == 1


def w_strings(items):
    return w.w_int(len(items)) + b"".join(w.w_string(s) for s in items)


def test_set_watches_after_reconnect_fires_missed_events(server, zk):
    """SetWatches (xid -8) re-registers watches after a reconnect and fires at once for
    changes made after `relativeZxid`, as kazoo and the Java client rely on."""
    zk.create("/sw-data", b"0")
    zk.create("/sw-kids")
    zk.create("/sw-gone")
    zk.create("/sw-same", b"0")
    c = w.RawClient(server.port, timeout_ms=30000)
    err, st = c.exists("/sw-same")
    seen_zxid = c.request(w.EXISTS, w.w_string("/") + w.w_bool(False)).zxid
    sid, passwd = c.session_id, c.passwd
    c.drop()

    zk.set("/sw-data", b"1")
    zk.create("/sw-kids/new")
    zk.delete("/sw-gone")
    zk.create("/sw-born")

    again = w.RawClient(server.port, timeout_ms=30000, session_id=sid, passwd=passwd)
    try:
        assert again.session_id == sid
        body = (w.w_long(seen_zxid) + w_strings(["/sw-data", "/sw-gone", "/sw-same"])
                + w_strings(["/sw-born", "/sw-never"]) + w_strings(["/sw-kids"]))
        again.send_packet(w.w_int(-8) + w.w_int(w.SET_WATCHES) + body)
        events = again.wait_events(4)
        assert sorted((e.type, e.path) for e in events) == sorted([
            (w.EV_DATA_CHANGED, "/sw-data"), (w.EV_DELETED, "/sw-gone"),
            (w.EV_CREATED, "/sw-born"), (w.EV_CHILDREN_CHANGED, "/sw-kids")])
        # The unchanged node's watch is registered, not fired; it fires on the next change.
        zk.set("/sw-same", b"1")
        zk.create("/sw-never")
        events = again.wait_events(2)
        assert sorted((e.type, e.path) for e in events) == sorted([
            (w.EV_DATA_CHANGED, "/sw-same"), (w.EV_CREATED, "/sw-never")])
    finally:
        again.close()


def test_kazoo_session_and_data_watch_survive_server_restart(fresh_server):
    """Sessions (with their ephemerals) outlive a server restart on the same data dir, and
    kazoo's DataWatch recipe keeps reporting changes across the reconnect."""
    zk = kazoo_client(fresh_server.hosts, timeout=30.0)
    zk.start(timeout=15)
    try:
        zk.create("/restart-w", b"0")
        zk.create("/restart-eph", ephemeral=True)
        sid = zk.client_id[0]
        values = []
        zk.DataWatch("/restart-w", lambda data, stat: values.append(data))
        wait_until(lambda: values == [b"0"], 10, what="initial DataWatch call")
        fresh_server.restart(kill=False)
        wait_until(lambda: zk.connected, 30, what="kazoo reconnected")
        assert zk.client_id[0] == sid
        other = kazoo_client(fresh_server.hosts, timeout=10.0)
        other.start(timeout=15)
        try:
            assert other.exists("/restart-eph").ephemeralOwner == sid
            other.set("/restart-w", b"1")
            wait_until(lambda: values[-1] == b"1", 30, what="DataWatch saw the change")
        finally:
            other.stop()
            other.close()
    finally:
        zk.stop()
        zk.close()
