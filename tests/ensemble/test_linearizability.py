"""A register workload on a few znodes from several kazoo clients, recorded while the leader
is killed and then cut off, and checked for linearizability per znode."""

import json
import os
import random
import threading
import time

from kazoo.exceptions import BadVersionError

from cluster import kazoo_client
from linearizability import INF, Op, check

KEYS = 3
CLIENTS = 5
MAX_OPS_PER_CLIENT = 1000
OP_WAIT_S = 6.0
RUN_S = 28.0
PARTITION_S = 8.0
PACE_S = RUN_S / MAX_OPS_PER_CLIENT
INIT = "init"


class Recorder:
    """Operations per key. A write whose reply does not come within OP_WAIT_S is recorded as
    unknown, but its kazoo result stays linked: if the reply comes later, the operation gets
    its real completion time and result; if it fails with ConnectionLoss it stays unknown."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ops: dict[str, list[dict]] = {}
        self.dropped_reads = 0
        self.late_replies = 0
        self.errors: dict[str, int] = {}

    def add(self, key: str, **fields) -> dict:
        record = dict(fields)
        with self.lock:
            self.ops.setdefault(key, []).append(record)
        return record

    def error(self, exc: Exception) -> None:
        with self.lock:
            name = type(exc).__name__
            self.errors[name] = self.errors.get(name, 0) + 1

    def link_late_reply(self, record: dict, result) -> None:
        def done(res):
            t = time.monotonic()
            try:
                stat = res.get(block=False)
            except BadVersionError:
                outcome = {"ok": False}
            except Exception:  # noqa: BLE001 - still unknown
                return
            else:
                outcome = {"ok": True, "out": stat.version}
            with self.lock:
                self.late_replies += 1
                record.update(ret=t, **outcome)

        result.rawlink(done)

    def histories(self) -> dict[str, list[Op]]:
        with self.lock:
            out = {}
            for key, records in self.ops.items():
                ops = []
                for r in records:
                    r = dict(r)
                    if r["kind"] == "set" and r["ret"] != INF and not r.get("ok", True):
                        raise AssertionError(f"unconditional set got BADVERSION: {r}")
                    if r["kind"] == "set":
                        r.pop("ok", None)
                        r.pop("expected", None)
                    ops.append(Op(**r))
                out[key] = ops
            return out


def run_client(p: int, hosts: str, rec: Recorder, stop: threading.Event, seed: int):
    rng = random.Random(seed * 1000 + p)
    client = kazoo_client(hosts, timeout=15.0)
    client.start(timeout=20)
    known_version = {k: 0 for k in range(KEYS)}
    # The op budget is spread over the whole run: operation n does not start before
    # start + n * PACE_S. Unpaced, a fast server lets the clients use up their budget before
    # the faults, and the phases after them record nothing.
    started = time.monotonic()
    try:
        for n in range(MAX_OPS_PER_CLIENT):
            if stop.wait(max(0.0, started + n * PACE_S - time.monotonic())):
                return
            # While kazoo reconnects it fails every call at once; waiting (bounded) keeps the
            # history from filling with operations that were never sent.
            deadline = time.monotonic() + OP_WAIT_S
            while not client.connected and time.monotonic() < deadline and not stop.is_set():
                time.sleep(0.02)
            k = rng.randrange(KEYS)
            path = f"/lin/k{k}"
            r = rng.random()
            t0 = time.monotonic()
            if r < 0.4:
                try:
                    client.sync_async(path).get(timeout=OP_WAIT_S)
                    data, stat = client.get_async(path).get(timeout=OP_WAIT_S)
                except Exception as exc:  # noqa: BLE001 - a read that failed changed nothing
                    rec.error(exc)
                    with rec.lock:
                        rec.dropped_reads += 1
                    time.sleep(0.05)
                    continue
                known_version[k] = stat.version
                rec.add(path, kind="get", call=t0, ret=time.monotonic(),
                        out=(data.decode(), stat.version), process=p)
                continue
            value = f"p{p}-{n}"
            conditional = r >= 0.7
            expected = known_version[k] if conditional else -1
            kind = "cas" if conditional else "set"
            result = client.set_async(path, value.encode(), version=expected)
            try:
                stat = result.get(timeout=OP_WAIT_S)
            except BadVersionError:
                rec.add(path, kind=kind, call=t0, ret=time.monotonic(), value=value,
                        expected=expected, ok=False, process=p)
                continue
            except Exception as exc:  # noqa: BLE001 - ConnectionLoss, timeout: unknown
                rec.error(exc)
                record = rec.add(path, kind=kind, call=t0, ret=INF, value=value,
                                 expected=expected if conditional else None, process=p)
                if not result.ready():
                    rec.link_late_reply(record, result)
                time.sleep(0.05)
                continue
            known_version[k] = stat.version
            rec.add(path, kind=kind, call=t0, ret=time.monotonic(), value=value,
                    expected=expected if conditional else None, ok=True, out=stat.version,
                    process=p)
    finally:
        client.stop()
        client.close()


def test_register_workload_is_linearizable_under_faults(ensemble, tmp_path):
    seed = int(os.environ.get("CORRAL_TEST_SEED", random.randrange(1 << 30)))
    print(f"\nlinearizability workload seed {seed} (set CORRAL_TEST_SEED to replay the choices)")
    setup = kazoo_client(ensemble.hosts)
    setup.start(timeout=20)
    for k in range(KEYS):
        setup.create(f"/lin/k{k}", INIT.encode(), makepath=True)
    setup.stop()
    setup.close()

    rec = Recorder()
    stop = threading.Event()
    threads = [threading.Thread(target=run_client, args=(p, ensemble.hosts, rec, stop, seed),
                                daemon=True) for p in range(CLIENTS)]
    start = time.monotonic()
    phases = [("no fault", start)]
    for t in threads:
        t.start()
    try:
        time.sleep(4)
        leader = ensemble.leader()
        print(f"--- SIGKILL leader {leader.id}")
        phases.append((f"leader {leader.id} killed", time.monotonic()))
        leader.stop(kill=True)
        ensemble.leader()
        time.sleep(2)
        print(f"--- restart server {leader.id}")
        leader.start()
        phases.append((f"server {leader.id} restarted", time.monotonic()))
        time.sleep(2)
        leader = ensemble.leader()
        others = [i for i in ensemble.servers if i != leader.id]
        print(f"--- cut leader {leader.id} off from {others}")
        phases.append((f"leader {leader.id} cut off", time.monotonic()))
        ensemble.partition([[leader.id], others])
        # Electing a new leader takes about 4 s here (leader lease, then election timeout).
        time.sleep(PARTITION_S)
        print("--- heal")
        ensemble.heal()
        phases.append(("healed", time.monotonic()))
        time.sleep(max(0.0, RUN_S - (time.monotonic() - start)))
    finally:
        ensemble.heal()
        stop.set()
        for t in threads:
            t.join(OP_WAIT_S * 3)
    assert not any(t.is_alive() for t in threads), "a workload client did not stop"
    ensemble.wait_converged(timeout=40)

    histories = rec.histories()
    dump = tmp_path / "history.json"
    dump.write_text(json.dumps({k: [op.__dict__ for op in ops] for k, ops in histories.items()},
                               default=str))
    print(f"history saved to {dump}")
    all_ops = [op for ops in histories.values() for op in ops]
    bounds = [t for _, t in phases[1:]] + [INF]
    for (name, t0), t1 in zip(phases, bounds):
        n_done = sum(1 for op in all_ops if t0 <= op.call < t1 and not op.unknown)
        n_unknown = sum(1 for op in all_ops if t0 <= op.call < t1 and op.unknown)
        print(f"  invoked while {name} (from +{t0 - start:.1f}s): {n_done} completed, "
              f"{n_unknown} unknown")
    # The workload must have gone on through and after the faults, not stopped at the first.
    assert sum(1 for op in all_ops if op.call >= phases[-1][1] and not op.unknown) > 0
    total = checked_completed = unknown = 0
    started = time.monotonic()
    for key, history in sorted(histories.items()):
        result = check(history, (INIT, 0))
        n_unknown = sum(1 for op in history if op.unknown)
        kinds = {kind: sum(1 for op in history if op.kind == kind) for kind in ("get", "set",
                                                                                 "cas")}
        print(f"{key}: {len(history)} ops {kinds}, {n_unknown} of unknown outcome, "
              f"{result.states_visited} search states: "
              f"{'linearizable' if result.ok else 'NOT linearizable'}")
        assert result.ok, (f"{key} is not linearizable; from state {result.stuck_state} "
                           "none of these can come next:\n"
                           + "\n".join(str(op) for op in result.stuck_at))
        total += len(history)
        unknown += n_unknown
        checked_completed += len(history) - n_unknown
    print(f"linearizability: {total} operations checked ({checked_completed} completed, "
          f"{unknown} of unknown outcome, {rec.dropped_reads} failed reads dropped, {rec.late_replies} late replies) on {KEYS} "
          f"keys from {CLIENTS} clients in {time.monotonic() - started:.2f}s of checking; "
          f"client errors {rec.errors}")
    assert checked_completed > 100, "too few completed operations to mean anything"
