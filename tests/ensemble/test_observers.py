"""An observer (a non-voting learner) serves reads, forwards writes, and never counts toward
the quorum: with 2 of 3 voters dead, writes stop even though the observer lives."""

import time

from cluster import wait_until

STALLED_WRITE_WAIT_S = 6.0


def test_observer_serves_reads_forwards_writes_and_does_not_vote(ensemble_factory, clients):
    ensemble = ensemble_factory(voters=3, observers=1)
    observer = ensemble.servers[4]
    voters = [ensemble.servers[i] for i in (1, 2, 3)]
    assert observer.mode() == "observer"
    leader = ensemble.leader()
    metrics = leader.mntr()
    print(f"\nleader {leader.id}: zk_followers {metrics['zk_followers']}, "
          f"zk_synced_followers {metrics.get('zk_synced_followers')}, "
          f"zk_observers {metrics.get('zk_observers')}")
    assert metrics["zk_followers"] == "2"  # the observer is not a follower
    assert metrics.get("zk_observers") == "1"
    assert observer.mntr()["zk_server_state"] == "observer"

    # Writes through the observer are forwarded to the leader and acknowledged.
    via_observer = clients(observer.hosts, timeout=30.0)
    via_observer.create("/obs", b"from-observer")
    on_voter = clients(ensemble.hosts_of([1, 2, 3]))
    on_voter.sync("/obs")
    assert on_voter.get("/obs")[0] == b"from-observer"
    # Writes through a voter are read on the observer (after sync).
    on_voter.set("/obs", b"from-voter")
    via_observer.sync("/obs")
    assert via_observer.get("/obs")[0] == b"from-voter"
    ensemble.wait_converged()

    # Kill two voters: the observer and one voter live, which is no voting majority.
    survivor = next(v for v in voters if v.id != leader.id)
    killed = [v for v in voters if v.id != survivor.id]
    print(f"--- SIGKILL voters {[v.id for v in killed]}; voter {survivor.id} and observer live")
    for v in killed:
        v.stop(kill=True)
    zxid_before = observer.mntr()["zk_last_zxid"]
    # Keep trying for a while: no attempt may be acknowledged (ConnectionLoss while the
    # observer has no leader to forward to, or no answer at all).
    outcomes = {}
    deadline = time.monotonic() + STALLED_WRITE_WAIT_S
    n = 0
    while time.monotonic() < deadline:
        n += 1
        result = via_observer.set_async("/obs", f"no-quorum-{n}".encode())
        try:
            result.get(timeout=max(0.1, deadline - time.monotonic()))
            outcome = "ACKNOWLEDGED"
        except Exception as exc:  # noqa: BLE001 - expected: ConnectionLoss or a timeout
            outcome = type(exc).__name__
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        time.sleep(0.2)
    print(f"writes through the observer for {STALLED_WRITE_WAIT_S}s without a voting "
          f"majority: {outcomes}")
    assert "ACKNOWLEDGED" not in outcomes, "a write committed without a majority of voters"
    assert observer.mode() == "observer" and survivor.mode() != "leader"
    assert observer.mntr()["zk_last_zxid"] == zxid_before
    assert survivor.mntr()["zk_last_zxid"] == zxid_before

    # One voter back makes a majority again: writes resume (the observer still serves).
    print(f"--- restart voter {killed[0].id}")
    killed[0].start()
    ensemble.leader(among=[survivor.id, killed[0].id])
    wait_until(lambda: via_observer.connected, 30, what="observer client reconnected")
    via_observer.set_async("/obs", b"quorum-again").get(timeout=30)
    ensemble.wait_converged(ids=[survivor.id, killed[0].id, observer.id])
    killed[1].start()
    states = ensemble.wait_converged()
    print(f"converged with the observer: {states}")
    assert observer.mode() == "observer"
