"""Requests pipelined (writes and pings) on a connection to a leader that is then cut off and
healed: the server must keep the connection's reply order (FIFO) and its own pipeline
invariant; every request is answered in order or the connection is closed."""

import time

import zkwire as w

PARTITION_S = 6.0
REPLY_WAIT_S = 20.0


def test_pipelined_writes_and_pings_on_a_cut_off_leader(ensemble):
    leader = ensemble.leader()
    others = [i for i in ensemble.servers if i != leader.id]
    c = w.RawClient(leader.port, timeout_ms=30000)
    try:
        assert c.create("/pipe", b"0")[0] == w.OK
        print(f"\n--- cut leader {leader.id} off, then pipeline write, ping, write, ping, write")
        ensemble.partition([[leader.id], others])
        sent = []
        for n in range(1, 4):
            c.send_packet(w.w_int(n) + w.w_int(w.SET_DATA) + w.w_string("/pipe")
                          + w.w_buffer(str(n).encode()) + w.w_int(-1))
            sent.append(n)
            if n < 3:
                c.send_packet(w.w_int(w.PING_XID) + w.w_int(w.PING))
                sent.append(w.PING_XID)
            time.sleep(0.2)
        new_leader = ensemble.leader(among=others)
        print(f"new leader {new_leader.id}; heal after {PARTITION_S}s")
        time.sleep(max(0.0, PARTITION_S - 0.6))
        ensemble.heal()
        replies = []
        closed = False
        deadline = time.monotonic() + REPLY_WAIT_S
        while len(replies) < len(sent) and time.monotonic() < deadline:
            try:
                r = w.Reader(c.recv_packet(timeout=max(0.05, deadline - time.monotonic())))
            except (w.ServerClosed, OSError):
                closed = True
                break
            except TimeoutError:
                break
            xid, _zxid, err = r.int(), r.long(), r.int()
            if xid != w.NOTIFICATION_XID:
                replies.append((xid, err))
        print(f"sent {sent}; replies {replies}; connection closed: {closed}")
        # FIFO: the replies that came are a prefix of the requests, in order.
        assert [x for x, _ in replies] == sent[:len(replies)], replies
        assert closed or len(replies) == len(sent), "requests left unanswered on an open connection"
        ensemble.wait_converged(timeout=30)
    finally:
        c.drop()
    log = leader.log_path.read_text(errors="replace")
    broken = [line for line in log.splitlines() if "out of order" in line]
    assert not broken, ("server broke its connection pipeline invariant:\n"
                        + "\n".join(broken[:3]))


def test_clients_of_a_cut_off_leader_keep_their_pipeline_order(ensemble, clients):
    """kazoo clients pinned to the leader keep writing, syncing and reading (kazoo pings
    when idle) while it is cut off and after it is healed."""
    import threading

    leader = ensemble.leader()
    others = [i for i in ensemble.servers if i != leader.id]
    pinned = [clients(leader.hosts, timeout=6.0) for _ in range(4)]
    pinned[0].ensure_path("/pipe-k")
    stop = threading.Event()
    outcomes: dict[str, int] = {}
    lock = threading.Lock()

    def run(i, zk):
        for n in range(10_000):
            if stop.is_set():
                return
            try:
                zk.set_async("/pipe-k", f"{i}-{n}".encode()).get(timeout=1.0)
                zk.sync_async("/pipe-k").get(timeout=1.0)
                zk.get_async("/pipe-k").get(timeout=1.0)
                name = "ok"
            except Exception as exc:  # noqa: BLE001 - faults make requests fail
                name = type(exc).__name__
                time.sleep(0.1)
            with lock:
                outcomes[name] = outcomes.get(name, 0) + 1

    threads = [threading.Thread(target=run, args=(i, zk), daemon=True)
               for i, zk in enumerate(pinned)]
    for t in threads:
        t.start()
    try:
        time.sleep(1)
        print(f"\n--- cut leader {leader.id} off for 8s while 4 clients pinned to it work")
        ensemble.partition([[leader.id], others])
        time.sleep(8)
        ensemble.heal()
        time.sleep(6)
    finally:
        ensemble.heal()
        stop.set()
        for t in threads:
            t.join(10)
    print(f"pinned clients' outcomes: {outcomes}")
    ensemble.wait_converged(timeout=30)
    log = leader.log_path.read_text(errors="replace")
    broken = [line for line in log.splitlines() if "out of order" in line]
    assert not broken, ("server broke its connection pipeline invariant:\n"
                        + "\n".join(broken[:3]))

