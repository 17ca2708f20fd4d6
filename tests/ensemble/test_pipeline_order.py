"""Per-session FIFO when writes of several sessions share one log batch.

Session C sends getData then setData; session X's setData was submitted just before C's
getData, so C's read waits for X's write (its read barrier). When X's and C's writes are
applied in the same batch, C's read must be answered before C's write.

Fails on corral-server today, on a leader, on a follower (whose proposer batches forwarded
writes the same way) and on a single server alike:
applying the batch completes C's write while C's read (barrier passed, not yet run) is still
at the head of C's pipeline; the server logs
`ERROR ... write completed out of order; closing connection other=Some(Local { ... GetData ...})`
and closes C's connection with both requests unanswered. (`Connection::complete_write` pops
the head expecting a write; reads whose barrier passed are only drained after the batch.)
"""

import time

import pytest

import zkwire as w

ROUNDS = 5
# Z's write is large so that its batch is still being replicated and made durable (for
# hundreds of ms on debug builds) while X's write and C's read and write arrive: those two
# writes then form the next batch together, whatever the machine's speed.
PLUG_BYTES = 512 * 1024


def set_data_packet(xid: int, path: str, data: bytes) -> bytes:
    return w.w_int(xid) + w.w_int(w.SET_DATA) + w.w_string(path) + w.w_buffer(data) + w.w_int(-1)


def get_data_packet(xid: int, path: str) -> bytes:
    return w.w_int(xid) + w.w_int(w.GET_DATA) + w.w_string(path) + w.w_bool(False)


@pytest.mark.parametrize("role", ["leader", "follower"])
def test_read_between_writes_sharing_a_batch_keeps_fifo(ensemble, role):
    leader = ensemble.leader()
    server = leader if role == "leader" else next(
        s for s in ensemble.servers.values() if s.id != leader.id)
    z, x, c = (w.RawClient(server.port, timeout_ms=30000) for _ in range(3))
    plug = bytes(PLUG_BYTES)
    try:
        for path in ("/fifo-z", "/fifo-x", "/fifo-c"):
            assert z.create(path, b"0")[0] == w.OK
        got, expected = [], []
        for n in range(1, ROUNDS + 1):
            z.send_packet(set_data_packet(n, "/fifo-z", plug))
            time.sleep(0.05)
            x.send_packet(set_data_packet(n, "/fifo-x", b"x"))  # queued behind Z's batch
            time.sleep(0.05)
            c.send_packet(get_data_packet(2 * n, "/fifo-c"))  # waits for X's write
            c.send_packet(set_data_packet(2 * n + 1, "/fifo-c", str(n).encode()))
            expected += [2 * n, 2 * n + 1]
            try:
                while len(got) < len(expected):
                    r = w.Reader(c.recv_packet(timeout=20))
                    xid, _zxid, err = r.int(), r.long(), r.int()
                    assert err == w.OK, (xid, err)
                    got.append(xid)
            except (w.ServerClosed, OSError, TimeoutError) as exc:
                pytest.fail(f"C's connection to the {role} failed after {len(got)} of "
                            f"{2 * ROUNDS} replies ({exc!r}); server log:\n"
                            + "\n".join(line for line in server.log_tail(200).splitlines()
                                        if "out of order" in line)[:1500])
            assert got == expected
            for client in (z, x):
                assert client.recv_packet(timeout=20)
        assert c.get_data("/fifo-c")[1] == str(ROUNDS).encode()
    finally:
        for client in (z, x, c):
            client.drop()
