"""A linearizability checker for a versioned register (one znode), Wing–Gong / Lowe style.

Sequential model, the state is `(value, version)` of one znode:

* `set(v)`            -> state becomes `(v, version + 1)`; returns the new version;
* `cas(expected, v)`  -> if `version == expected`: state becomes `(v, version + 1)` and it
                         returns the new version; otherwise it fails (BADVERSION), no change;
* `get()`             -> returns `(value, version)`, no change.

A history is a list of `Op`s, each with its invocation and completion time on one clock.
An operation whose outcome is unknown (ConnectionLoss, timeout) has `ret = inf`: it may have
taken effect at any time after its invocation, or never. (Linearizing it after every other
operation is the same as "never", so the search need only linearize the completed ones.)
Reads with unknown outcome have no effect and are dropped by the recorder.

Two reductions keep the search small when faults leave many outcomes unknown; both only
skip orders equivalent to ones that are tried:

* an unknown `cas` is only tried where it would succeed: failing, it changes nothing, which
  is the same as linearizing it last;
* an unknown write whose value no read ever returned matters only by the version it adds,
  so such writes of the same kind (set, or cas with the same expected version) are
  interchangeable: only the earliest-invoked one not yet linearized is tried at each step,
  and the value it leaves is a placeholder no read can match.

The search: a state of the search is (set of operations already linearized, model state).
From it, any not-yet-linearized operation invoked before the earliest completion among the
not-yet-linearized ones may come next, if the model agrees with its recorded result. A
depth-first search with a memo of visited (set, state) pairs either linearizes every
completed operation or proves there is no order. Linearizability is compositional
(Herlihy & Wing), so each znode's history is checked on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

INF = math.inf
UNOBSERVED = "<unobserved value>"


@dataclass(frozen=True)
class Op:
    kind: str  # "set" | "cas" | "get"
    call: float
    ret: float  # INF when the outcome is unknown
    value: str | None = None  # the value written (set, cas)
    expected: int | None = None  # cas: the version it expects
    ok: bool | None = None  # cas: True succeeded, False BADVERSION; None unknown
    out: object = None  # get: (value, version); set/cas success: the new version
    process: int = 0
    id: int = field(default=0, compare=False)

    @property
    def unknown(self) -> bool:
        return self.ret == INF

    def __str__(self) -> str:
        ret = "?" if self.unknown else f"{self.ret:.4f}"
        if self.kind == "get":
            what = f"get() -> {self.out}"
        elif self.kind == "set":
            what = f"set({self.value!r}) -> {'?' if self.unknown else self.out}"
        else:
            res = "?" if self.unknown else (self.out if self.ok else "BADVERSION")
            what = f"cas({self.expected}, {self.value!r}) -> {res}"
        return f"[p{self.process} {self.call:.4f}..{ret}] {what}"


def step(state: tuple[str, int], op: Op) -> tuple[str, int] | None:
    """The model: the state after `op`, or None if `op`'s recorded result is impossible."""
    value, version = state
    if op.kind == "get":
        return state if tuple(op.out) == state else None
    if op.kind == "set":
        if not op.unknown and op.out != version + 1:
            return None
        return (op.value, version + 1)
    if op.kind == "cas":
        matches = version == op.expected
        if op.unknown:
            # Applied here it succeeds iff the version matches; "never applied" is covered
            # by linearizing it last.
            return (op.value, version + 1) if matches else state
        if op.ok:
            return (op.value, version + 1) if matches and op.out == version + 1 else None
        return state if not matches else None
    raise ValueError(f"unknown op kind {op.kind!r}")


class CheckBudgetExceeded(Exception):
    """The search visited more states than allowed (reported, never taken as a pass)."""


@dataclass
class Result:
    ok: bool
    ops: int
    states_visited: int
    # On failure: the completed operations that could not be linearized next from the
    # deepest point the search reached, and the model state there.
    stuck_at: list[Op] = field(default_factory=list)
    stuck_state: tuple | None = None


def check(history: list[Op], init: tuple[str, int], max_states: int = 500_000) -> Result:
    ops = sorted(history, key=lambda o: (o.call, o.ret))
    n = len(ops)
    call = [op.call for op in ops]
    ret = [op.ret for op in ops]
    unknown = [i for i, op in enumerate(ops) if op.unknown]
    observed = {op.out[0] for op in ops if op.kind == "get"}
    # Unknown writes with an unobserved value, by kind: interchangeable within a class.
    unobserved_class = {
        i: (ops[i].kind, ops[i].expected) for i in unknown if ops[i].value not in observed}
    effective = [ops[i] if i not in unobserved_class
                 else Op(ops[i].kind, ops[i].call, INF, value=UNOBSERVED,
                         expected=ops[i].expected, process=ops[i].process)
                 for i in range(n)]
    unknown_bits = sum(1 << i for i in unknown)
    everything = (1 << n) - 1
    seen: set[tuple[int, tuple]] = set()
    stack: list[tuple[int, tuple]] = [(0, init)]
    deepest = (-1, 0, init)

    def frontier(mask: int) -> tuple[int, float]:
        """The first completed op not linearized yet, and the earliest completion among the
        ops not linearized (ops are sorted by invocation and each completes after its
        invocation, so the scan stops once invocations pass that completion)."""
        done = mask | unknown_bits
        first = (~done & (done + 1)).bit_length() - 1
        min_ret = INF
        i = first
        while i < n and call[i] <= min_ret:
            if not done >> i & 1 and ret[i] < min_ret:
                min_ret = ret[i]
            i += 1
        return first, min_ret

    while stack:
        mask, state = stack.pop()
        if (mask, state) in seen:
            continue
        seen.add((mask, state))
        if len(seen) > max_states:
            raise CheckBudgetExceeded(f"more than {max_states} search states")
        if mask | unknown_bits == everything:
            return Result(True, n, len(seen))
        first, min_ret = frontier(mask)
        if first > deepest[0]:
            deepest = (first, mask, state)
        # Next may come any op invoked before that earliest completion: completed ops in
        # invocation order first, ops of unknown outcome last, so the search tries "it has
        # not happened (yet)" before "it happened here".
        candidates = []
        i = first
        while i < n and call[i] <= min_ret:
            if not (mask | unknown_bits) >> i & 1:
                candidates.append(i)
            i += 1
        classes_tried = set()
        for j in unknown:
            if call[j] > min_ret or mask >> j & 1:
                continue
            if ops[j].kind == "cas" and state[1] != ops[j].expected:
                continue
            cls = unobserved_class.get(j)
            if cls is not None:
                if cls in classes_tried:
                    continue
                classes_tried.add(cls)
            candidates.append(j)
        children = []
        for i in candidates:
            nxt = step(state, effective[i])
            if nxt is not None and (mask | 1 << i, nxt) not in seen:
                children.append((mask | 1 << i, nxt))
        stack.extend(reversed(children))
    _, mask, state = deepest
    _, min_ret = frontier(mask)
    stuck = [ops[i] for i in range(n)
             if not mask >> i & 1 and not ops[i].unknown and call[i] <= min_ret][:8]
    return Result(False, n, len(seen), stuck, state)
