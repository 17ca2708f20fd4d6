"""Cut a minority off (a follower, then the leader): it commits nothing, the majority goes on,
and after healing every server holds the same tree (zk_last_zxid and corral_tree_digest)."""

import time

from cluster import wait_until
from load import missing_on

MINORITY_WRITE_WAIT_S = 3.0
MINORITY_ATTEMPTS = 3
MAJORITY_WRITES = 30


def isolate_and_heal(ensemble, clients, minority_id: int, label: str) -> None:
    majority_ids = [i for i in ensemble.servers if i != minority_id]
    minority = ensemble.servers[minority_id]
    # A client pinned to the minority server, with a session longer than the partition.
    pinned = clients(minority.hosts, timeout=30.0)
    majority_client = clients(ensemble.hosts_of(majority_ids), timeout=10.0)
    pinned.ensure_path(f"/part-{label}")
    ensemble.wait_converged()

    print(f"\n--- partition: server {minority_id} ({label}) cut off from {majority_ids}")
    ensemble.partition([[minority_id], majority_ids])
    try:
        minority_zxid = minority.mntr()["zk_last_zxid"]
        outcomes = []
        for n in range(MINORITY_ATTEMPTS):
            result = pinned.create_async(f"/part-{label}/minority-{n}", b"m")
            try:
                result.get(timeout=MINORITY_WRITE_WAIT_S)
                outcomes.append("ACKNOWLEDGED")
            except Exception as exc:  # noqa: BLE001 - expected: ConnectionLoss or timeout
                outcomes.append(type(exc).__name__)
        print(f"writes through the minority: {outcomes}")
        assert "ACKNOWLEDGED" not in outcomes, \
            f"a write through the cut-off server {minority_id} was acknowledged: {outcomes}"

        acked = {}
        for n in range(MAJORITY_WRITES):
            path = f"/part-{label}/majority-{n}"
            majority_client.create_async(path, str(n).encode()).get(timeout=20)
            acked[path] = str(n).encode()
        majority_states = ensemble.wait_converged(ids=majority_ids)
        # The minority applied nothing new while cut off.
        assert minority.mntr()["zk_last_zxid"] == minority_zxid
        print(f"majority committed {len(acked)} writes; majority {majority_states}, "
              f"minority still at {minority_zxid}")
    finally:
        ensemble.heal()
    print("--- heal")
    states = ensemble.wait_converged(timeout=40)
    zxids = {sid: zxid for sid, (zxid, _) in states.items()}
    digests = {sid: digest for sid, (_, digest) in states.items()}
    print(f"after heal: zk_last_zxid {zxids}; corral_tree_digest {digests}")
    lost = missing_on(minority.hosts, acked)
    assert not lost, f"server {minority_id} lacks {lost[:5]} after healing"
    wait_until(lambda: pinned.connected, 30, what="pinned client reconnected")


def test_partition_minority_follower_then_leader(ensemble, clients):
    leader = ensemble.leader()
    follower_id = next(i for i in ensemble.servers if i != leader.id)
    isolate_and_heal(ensemble, clients, follower_id, "follower")
    leader = ensemble.leader()
    isolate_and_heal(ensemble, clients, leader.id, "leader")
    # Digest and zxid equal; the tree also answers the same on every server.
    children = set()
    for server in ensemble.servers.values():
        c = clients(server.hosts)
        c.sync("/")
        children.add(tuple(sorted(c.get_children("/part-leader"))))
    assert len(children) == 1
