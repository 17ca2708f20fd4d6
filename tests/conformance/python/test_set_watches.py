"""SetWatches after a dropped connection: raw wire (SetWatches, SetWatches2) and kazoo.

A client whose connection drops re-registers its watches on reconnect with SetWatches
(kazoo) or SetWatches2 (persistent forms) and its last-seen zxid; the server fires at once
what the client missed (ZooKeeper's `DataTree.setWatches`):

* data watch: NodeDataChanged if the node's mzxid is newer, NodeDeleted if it is gone;
* exists watch on a missing node: NodeCreated if it now exists;
* child watch: NodeChildrenChanged if the node's **pzxid** is newer (a child created or
  deleted while away; a change of the node's own data is not one), NodeDeleted if gone;
* persistent and persistent-recursive watches are re-registered without catch-up events.

The connection is cut by a local TCP proxy while another client makes the changes; the
client comes back on the same server, or on an ensemble on another member (the session
moves). node-zookeeper-client's SetWatches is tested in node/set_watches.test.js. Each case
also runs against Apache ZooKeeper 3.8.
"""

from __future__ import annotations

import socket
import threading

from conftest import ENSEMBLE, kazoo_client
import zkwire as w
from zkwire import wait_until

QUIET_S = 1.0


class CutProxy:
    """A TCP proxy on 127.0.0.1 in front of one server port. `cut()` closes every
    connection through it and stops listening, so clients cannot come back through it
    until `reopen()` listens again on the same port."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self._listen()

    @property
    def hosts(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _listen(self) -> None:
        self.listener.listen(16)
        threading.Thread(target=self._accept, args=(self.listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.pairs.append((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        # shutdown() wakes the accept() blocked in the other thread (close()
        # alone would leave the socket listening until it returns).
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def reopen(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", self.port))
        self._listen()

    def close(self) -> None:
        self.cut()


def member_ports(server) -> tuple[int, int]:
    """The port the client starts on and the port it comes back on."""
    if ENSEMBLE:
        return server.servers[1].port, server.servers[2].port
    return server.port, server.port


def test_kazoo_recipes_catch_up_across_a_cut(server, zk):
    """kazoo 2.10 never sends SetWatches: on a dropped connection it fires every watcher
    with a NONE event and forgets them, and its DataWatch/ChildrenWatch recipes re-read on
    reconnect. So what kazoo users see is checked here: the recipes report the changes made
    while the client was away (on an ensemble, after it came back on another member), in
    the same session. The SetWatches cases themselves are the raw-wire test below and the
    node-zookeeper-client suite (which does send SetWatches)."""
    base = "/swk"
    zk.create(f"{base}/data", b"0", makepath=True)
    zk.create(f"{base}/kids/k1", makepath=True)
    first_port, back_port = member_ports(server)
    first, back = CutProxy(first_port), CutProxy(back_port)
    back.cut()  # nothing listens on the way back until the changes are made
    client = kazoo_client(f"{first.hosts},{back.hosts}", timeout=30.0, randomize_hosts=False)
    client.start(timeout=15)
    try:
        client.sync(base)
        sid = client.client_id[0]
        values, children = [], []
        client.DataWatch(f"{base}/data", lambda data, stat: values.append(data))
        client.ChildrenWatch(f"{base}/kids", lambda kids: children.append(sorted(kids)))
        wait_until(lambda: values == [b"0"] and children == [["k1"]], 10, what="first calls")
        first.cut()
        wait_until(lambda: not client.connected, 10, what="kazoo noticed the cut")
        zk.set(f"{base}/data", b"1")
        zk.create(f"{base}/kids/k2")
        zk.delete(f"{base}/kids/k1")
        back.reopen()
        wait_until(lambda: client.connected, 30, what="kazoo reconnected")
        assert client.client_id[0] == sid
        wait_until(lambda: values[-1] == b"1", 20, what="DataWatch saw the change")
        wait_until(lambda: children[-1] == ["k2"], 20, what="ChildrenWatch saw the change")
    finally:
        client.stop()
        client.close()
        first.close()
        back.close()


SET_WATCHES = 101


def test_set_watches_every_case_across_a_cut(server, zk, kazoo_factory):
    """Every SetWatches case, sent by the raw client on a new connection of its session
    after its first one was cut (on an ensemble, to another member)."""
    base = "/swr"
    zk.create(f"{base}/data", b"0", makepath=True)
    zk.create(f"{base}/gone", b"0")
    zk.create(f"{base}/same", b"0")
    zk.create(f"{base}/kids/k1", makepath=True)
    zk.create(f"{base}/kids-del/k1", makepath=True)
    zk.create(f"{base}/kids-data", b"0")
    zk.create(f"{base}/kids-gone")
    first_port, back_port = member_ports(server)
    proxy = CutProxy(first_port)
    c = w.RawClient(proxy.port, timeout_ms=30000)
    c.request(w.SYNC, w.w_string(base))
    seen_zxid = c.request(w.EXISTS, w.w_string("/") + w.w_bool(False)).zxid
    sid, passwd = c.session_id, c.passwd
    proxy.cut()
    c.drop()

    zk.set(f"{base}/data", b"1")
    zk.delete(f"{base}/gone")
    zk.create(f"{base}/born")
    zk.create(f"{base}/kids/k2")
    zk.delete(f"{base}/kids-del/k1")
    zk.set(f"{base}/kids-data", b"1")  # mzxid moves, pzxid does not
    zk.delete(f"{base}/kids-gone")
    kazoo_factory(f"127.0.0.1:{back_port}").sync(base)

    again = w.RawClient(back_port, timeout_ms=30000, session_id=sid, passwd=passwd)
    try:
        assert again.session_id == sid
        body = (w.w_long(seen_zxid)
                + w_strings([f"{base}/data", f"{base}/gone", f"{base}/same"])
                + w_strings([f"{base}/born", f"{base}/never"])
                + w_strings([f"{base}/kids", f"{base}/kids-del", f"{base}/kids-data",
                             f"{base}/kids-gone"]))
        again.send_packet(w.w_int(-8) + w.w_int(SET_WATCHES) + body)
        events = again.wait_events(6)
        assert sorted((e.type, e.path) for e in events) == sorted([
            (w.EV_DATA_CHANGED, f"{base}/data"), (w.EV_DELETED, f"{base}/gone"),
            (w.EV_CREATED, f"{base}/born"), (w.EV_CHILDREN_CHANGED, f"{base}/kids"),
            (w.EV_CHILDREN_CHANGED, f"{base}/kids-del"), (w.EV_DELETED, f"{base}/kids-gone")])
        assert again.poll_events(QUIET_S) == []
        # The watches with nothing to report were registered; they fire on the next change.
        zk.set(f"{base}/same", b"1")
        zk.create(f"{base}/never")
        zk.create(f"{base}/kids-data/k1")
        events = again.wait_events(3)
        assert sorted((e.type, e.path) for e in events) == sorted([
            (w.EV_DATA_CHANGED, f"{base}/same"), (w.EV_CREATED, f"{base}/never"),
            (w.EV_CHILDREN_CHANGED, f"{base}/kids-data")])
    finally:
        again.close()
        proxy.close()


def w_strings(items):
    return w.w_int(len(items)) + b"".join(w.w_string(s) for s in items)


SET_WATCHES2 = 105


def test_set_watches2_persistent_forms_after_reconnect(server, zk, kazoo_factory):
    """SetWatches2 re-registers persistent and persistent-recursive watches (no catch-up
    events for them), and fires the one-shot kinds as SetWatches does; sent by the raw
    client on a new connection of the same session (on an ensemble, another member)."""
    base = "/sw2"
    zk.create(f"{base}/p", b"0", makepath=True)
    zk.create(f"{base}/r/a", makepath=True)
    zk.create(f"{base}/d", b"0")
    zk.create(f"{base}/c")
    first_port, back_port = member_ports(server)
    c = w.RawClient(first_port, timeout_ms=30000)
    seen_zxid = c.request(w.EXISTS, w.w_string("/") + w.w_bool(False)).zxid
    sid, passwd = c.session_id, c.passwd
    c.drop()

    zk.set(f"{base}/p", b"1")
    zk.create(f"{base}/r/a/b")
    zk.set(f"{base}/d", b"1")
    zk.create(f"{base}/c/k")
    # The member the client comes back on has every change before SetWatches2 arrives,
    # so no change made while away can reach a re-registered persistent watch.
    kazoo_factory(f"127.0.0.1:{back_port}").sync(base)

    again = w.RawClient(back_port, timeout_ms=30000, session_id=sid, passwd=passwd)
    try:
        assert again.session_id == sid
        body = (w.w_long(seen_zxid) + w_strings([f"{base}/d"]) + w_strings([])
                + w_strings([f"{base}/c"]) + w_strings([f"{base}/p"])
                + w_strings([f"{base}/r"]))
        again.send_packet(w.w_int(-8) + w.w_int(SET_WATCHES2) + body)
        events = again.wait_events(2)
        assert sorted((e.type, e.path) for e in events) == sorted([
            (w.EV_DATA_CHANGED, f"{base}/d"), (w.EV_CHILDREN_CHANGED, f"{base}/c")])
        # Persistent watches came back without catch-up events; they fire on every change.
        zk.set(f"{base}/p", b"2")
        zk.set(f"{base}/p", b"3")
        zk.create(f"{base}/r/a/b/x")
        zk.delete(f"{base}/r/a/b/x")
        events = again.wait_events(4)
        assert [(e.type, e.path) for e in events] == [
            (w.EV_DATA_CHANGED, f"{base}/p"), (w.EV_DATA_CHANGED, f"{base}/p"),
            (w.EV_CREATED, f"{base}/r/a/b/x"), (w.EV_DELETED, f"{base}/r/a/b/x")]
    finally:
        again.close()
