"""SIGKILL the leader under a write load, three times; no acknowledged write is lost."""

import statistics
import time

from cluster import wait_until
from load import WriteLoad, missing_on

ROUNDS = 3
PROBE_DEADLINE_S = 30.0


def first_write_after(client, t_kill: float, path: str) -> float:
    """Seconds from `t_kill` to the first write invoked after it that is acknowledged."""
    deadline = time.monotonic() + PROBE_DEADLINE_S
    n = 0
    while time.monotonic() < deadline:
        n += 1
        result = client.set_async(path, str(n).encode())
        try:
            result.get(timeout=max(0.1, deadline - time.monotonic()))
            return time.monotonic() - t_kill
        except Exception:  # noqa: BLE001 - ConnectionLoss while the leader is gone
            time.sleep(0.02)
    raise AssertionError(f"no write succeeded within {PROBE_DEADLINE_S}s of the kill")


def test_leader_sigkill_under_load(ensemble, clients):
    hosts = ensemble.hosts
    probe = clients(hosts, timeout=10.0)
    probe.ensure_path("/probe")
    load = WriteLoad(hosts, writers=4, session_timeout=10.0).start()
    failovers = []
    try:
        for round_no in range(1, ROUNDS + 1):
            load.wait_acks(30, timeout=30)
            leader = ensemble.leader()
            print(f"\n--- round {round_no}: SIGKILL leader {leader.id} "
                  f"({load.acked_count()} writes acknowledged so far)")
            t_kill = time.monotonic()
            leader.stop(kill=True)
            acked_before_kill = dict(load.acked)
            failover = first_write_after(probe, t_kill, "/probe")
            load_first = load.first_ack_after(t_kill)
            failovers.append(failover)
            new_leader = ensemble.leader()
            load_text = f"{load_first - t_kill:.3f}s" if load_first else "none yet"
            print(f"failover: {failover:.3f}s (first probe write after the kill); "
                  f"load writers' first ack after the kill: {load_text}; "
                  f"new leader {new_leader.id}")
            assert new_leader.id != leader.id
            load.wait_acks(10, timeout=30)
            # The killed server comes back with everything acknowledged before its death.
            leader.start()
            lost = missing_on(leader.hosts, {p: d for p, (d, _) in acked_before_kill.items()})
            assert not lost, f"restarted server {leader.id} lacks {len(lost)}: {lost[:5]}"
        acked = load.stop()
        print(f"\nfailover times: {[round(f, 3) for f in failovers]}; "
              f"median {statistics.median(failovers):.3f}s over {ROUNDS} leader kills")
        print(f"acknowledged creates: {len(acked)}; unknown outcomes: {load.unknown} "
              f"({load.errors})")
        assert "NodeExists" not in load.errors, load.errors
        lost_total = 0
        for server in ensemble.servers.values():
            lost = missing_on(server.hosts, acked)
            lost_total += len(lost)
            assert not lost, f"server {server.id} lacks {len(lost)} acked writes: {lost[:5]}"
        print(f"acknowledged writes lost: {lost_total} (checked on all "
              f"{len(ensemble.servers)} servers)")
        # Sessions longer than the failover survive it, with their ephemerals.
        for i, client in enumerate(load.clients):
            wait_until(lambda: client.connected, 20, what=f"writer {i} connected")
            assert client.client_id[0] == load.session_ids[i], f"writer {i} got a new session"
            assert "LOST" not in load.states[i], f"writer {i} states {load.states[i]}"
        for server in ensemble.servers.values():
            checker = clients(server.hosts)
            checker.sync("/load-eph")
            for i, sid in enumerate(load.session_ids):
                stat = checker.exists(f"/load-eph/w{i}")
                assert stat is not None and stat.ephemeralOwner == sid, \
                    f"ephemeral of writer {i} on server {server.id}: {stat}"
        states = ensemble.wait_converged()
        print(f"converged: {states}")
    finally:
        load.stop()
        load.close()
