"""The checker on small hand-made histories: it must accept linearizable ones and reject the
others, or a pass of the real workload would mean nothing."""

from linearizability import INF, Op, check

INIT = ("init", 0)


def test_sequential_history_is_linearizable():
    h = [
        Op("set", 0, 1, value="a", out=1),
        Op("get", 0.5, 2, out=("a", 1), process=1),  # overlaps the set: may see it
        Op("cas", 2.5, 3, value="b", expected=1, ok=True, out=2),
        Op("cas", 3.5, 4, value="c", expected=1, ok=False, process=1),
        Op("get", 4.5, 5, out=("b", 2), process=1),
    ]
    result = check(h, INIT)
    assert result.ok and result.ops == 5


def test_stale_read_is_not_linearizable():
    h = [
        Op("set", 0, 1, value="a", out=1),
        # Invoked after the set completed, yet returns the old state.
        Op("get", 2, 3, out=("init", 0), process=1),
    ]
    result = check(h, INIT)
    assert not result.ok
    assert [op.kind for op in result.stuck_at] == ["get"]


def test_concurrent_writes_may_take_either_order_but_one_only():
    writes = [
        Op("set", 0, 10, value="a", out=2, process=0),  # long write, took effect second
        Op("set", 1, 2, value="b", out=1, process=1),
        Op("get", 3, 4, out=("b", 1), process=2),
    ]
    assert check([*writes, Op("get", 11, 12, out=("a", 2), process=2)], INIT).ok
    # After both writes completed the register cannot still hold b.
    assert not check([*writes, Op("get", 11, 12, out=("b", 1), process=2)], INIT).ok


def test_unknown_outcomes_may_or_may_not_happen():
    lost = Op("set", 0, INF, value="x")
    assert check([lost, Op("get", 5, 6, out=("x", 1), process=1)], INIT).ok
    assert check([lost, Op("get", 5, 6, out=("init", 0), process=1)], INIT).ok
    # ...but not both: once seen, it cannot be undone.
    assert not check([lost, Op("get", 5, 6, out=("x", 1), process=1),
                      Op("get", 7, 8, out=("init", 0), process=1)], INIT).ok
    # A cas of unknown outcome succeeds only if the version matched where it took effect.
    cas = Op("cas", 0, INF, value="y", expected=5)
    assert not check([cas, Op("get", 5, 6, out=("y", 1), process=1)], INIT).ok
    assert check([Op("cas", 0, INF, value="y", expected=0),
                  Op("get", 5, 6, out=("y", 1), process=1)], INIT).ok


def test_bad_version_when_the_version_matched_is_not_linearizable():
    h = [Op("cas", 0, 1, value="z", expected=0, ok=False)]
    assert not check(h, INIT).ok


def test_version_returned_by_a_write_must_match():
    # Two sequential sets cannot both return version 1.
    h = [Op("set", 0, 1, value="a", out=1), Op("set", 2, 3, value="b", out=1, process=1)]
    assert not check(h, INIT).ok


def test_unknown_writes_count_only_through_versions():
    # Many writes lost in a failover: only how many took effect shows, through versions.
    lost = [Op("set", i * 0.1, INF, value=f"lost-{i}", process=i) for i in range(40)]
    final = Op("set", 10, 11, value="final", out=4, process=99)
    result = check([*lost, final, Op("get", 12, 13, out=("final", 4), process=99)], INIT)
    assert result.ok and result.states_visited < 1000
    # Three writes must have happened before "final" got version 4; two cannot do it.
    assert not check([*lost[:2], final], INIT).ok
    assert check([*lost[:3], final], INIT).ok
    # A lost cas counts only if the version matched when it took effect.
    assert not check([Op("cas", 0, INF, value="c", expected=3),
                      Op("set", 1, 2, value="s", out=2)], INIT).ok
    assert check([Op("cas", 0, INF, value="c", expected=0),
                  Op("set", 1, 2, value="s", out=2)], INIT).ok
