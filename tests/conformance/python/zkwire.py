"""A tiny synchronous ZooKeeper wire client for what kazoo 2.10 cannot send.

kazoo has no TTL or container creates, persistent watches, removeWatches, multiRead,
getEphemerals, getAllChildrenNumber or whoAmI, and it validates some arguments client side.
This client speaks the jute protocol directly (WIRE.md §1-§6) so those requests, and
deliberately malformed ones, reach the server. Every read has a timeout.
"""

from __future__ import annotations

import socket
import struct
import time
from dataclasses import dataclass

import pytest

# Opcodes (WIRE.md §2).
CREATE, DELETE, EXISTS, GET_DATA, SET_DATA, GET_ACL, SET_ACL, GET_CHILDREN, SYNC = 1, 2, 3, 4, 5, 6, 7, 8, 9
PING, GET_CHILDREN2, CHECK, MULTI, CREATE2 = 11, 12, 13, 14, 15
CHECK_WATCHES, REMOVE_WATCHES, CREATE_CONTAINER, CREATE_TTL, MULTI_READ = 17, 18, 19, 21, 22
AUTH, SET_WATCHES, GET_EPHEMERALS, GET_ALL_CHILDREN_NUMBER, ADD_WATCH, WHO_AM_I = 100, 101, 103, 104, 106, 107
CLOSE_SESSION = -11

# Create flags (WIRE.md §3).
PERSISTENT, EPHEMERAL, PERSISTENT_SEQUENTIAL, EPHEMERAL_SEQUENTIAL = 0, 1, 2, 3
CONTAINER, PERSISTENT_WITH_TTL, PERSISTENT_SEQUENTIAL_WITH_TTL = 4, 5, 6

# Error codes (WIRE.md §4).
OK, RUNTIME_INCONSISTENCY, UNIMPLEMENTED, MARSHALLING_ERROR, BAD_ARGUMENTS = 0, -2, -6, -5, -8
NO_NODE, NO_AUTH, BAD_VERSION, NO_CHILDREN_FOR_EPHEMERALS = -101, -102, -103, -108
NODE_EXISTS, NOT_EMPTY, SESSION_EXPIRED, INVALID_ACL, AUTH_FAILED, NO_WATCHER = -110, -111, -112, -114, -115, -121

# Watch event types and watcher types.
EV_CREATED, EV_DELETED, EV_DATA_CHANGED, EV_CHILDREN_CHANGED = 1, 2, 3, 4
EV_DATA_WATCH_REMOVED, EV_CHILD_WATCH_REMOVED, EV_PERSISTENT_WATCH_REMOVED = 5, 6, 7
WT_CHILDREN, WT_DATA, WT_ANY, WT_PERSISTENT, WT_PERSISTENT_RECURSIVE = 1, 2, 3, 4, 5
STATE_SYNC_CONNECTED = 3

WORLD_ALL = [(31, "world", "anyone")]
NOTIFICATION_XID, PING_XID, AUTH_XID = -1, -2, -4


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until truthy, bounded by `timeout`; returns its value or fails."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---- jute encoding -------------------------------------------------------------------------

def w_int(v: int) -> bytes:
    return struct.pack(">i", v)


def w_long(v: int) -> bytes:
    return struct.pack(">q", v)


def w_bool(v: bool) -> bytes:
    return b"\x01" if v else b"\x00"


def w_buffer(v: bytes | None) -> bytes:
    return w_int(-1) if v is None else w_int(len(v)) + v


def w_string(v: str | None) -> bytes:
    return w_buffer(None if v is None else v.encode())


def w_acls(acls) -> bytes:
    out = w_int(len(acls))
    for perms, scheme, ident in acls:
        out += w_int(perms) + w_string(scheme) + w_string(ident)
    return out


class Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def int(self) -> int:
        (v,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return v

    def long(self) -> int:
        (v,) = struct.unpack_from(">q", self.data, self.pos)
        self.pos += 8
        return v

    def bool(self) -> bool:
        v = self.data[self.pos]
        self.pos += 1
        return v != 0

    def buffer(self) -> bytes | None:
        n = self.int()
        if n < 0:
            return None
        v = self.data[self.pos:self.pos + n]
        self.pos += n
        return v

    def string(self) -> str | None:
        b = self.buffer()
        return None if b is None else b.decode()

    def strings(self) -> list[str] | None:
        n = self.int()
        return None if n < 0 else [self.string() for _ in range(n)]

    def stat(self) -> "Stat":
        fields = struct.unpack_from(">qqqqiiiqiiq", self.data, self.pos)
        self.pos += 68
        return Stat(*fields)

    def acls(self):
        return [(self.int(), self.string(), self.string()) for _ in range(self.int())]

    def remaining(self) -> int:
        return len(self.data) - self.pos


@dataclass(frozen=True)
class Stat:
    czxid: int
    mzxid: int
    ctime: int
    mtime: int
    version: int
    cversion: int
    aversion: int
    ephemeral_owner: int
    data_length: int
    num_children: int
    pzxid: int


@dataclass(frozen=True)
class Event:
    type: int
    state: int
    path: str
    zxid: int


@dataclass(frozen=True)
class Reply:
    xid: int
    zxid: int
    err: int
    body: bytes

    def reader(self) -> Reader:
        return Reader(self.body)


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on `host` now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def four_letter(port: int, cmd: str, timeout: float = 10.0, host: str = "127.0.0.1") -> str:
    """Send a four-letter word and read the answer until the server closes."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(cmd.encode())
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


class ServerClosed(Exception):
    """The server closed the connection (or reset it)."""


class RawClient:
    """One ZooKeeper session over one socket, driven synchronously."""

    def __init__(self, port: int, *, timeout_ms: int = 10000, session_id: int = 0,
                 passwd: bytes = b"\x00" * 16, connect: bool = True, io_timeout: float = 15.0):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=io_timeout)
        self.io_timeout = io_timeout
        self.xid = 0
        self.events: list[Event] = []
        self.buf = b""
        self.session_id = session_id
        self.passwd = passwd
        self.timeout_ms = timeout_ms
        self.negotiated_timeout_ms = None
        if connect:
            self.handshake(timeout_ms, session_id, passwd)

    # -- transport
    def send_raw(self, data: bytes) -> None:
        # A server that refuses a packet may close while the rest of it is
        # still being sent: the write then fails, which means the same.
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ServerClosed(f"server closed the connection while sending: {exc}") from exc

    def send_packet(self, payload: bytes) -> None:
        self.send_raw(w_int(len(payload)) + payload)

    def _recv_exact(self, n: int, deadline: float) -> bytes:
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply from server")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 20)
            except ConnectionResetError as exc:
                raise ServerClosed("connection reset") from exc
            except socket.timeout as exc:
                raise TimeoutError("no reply from server") from exc
            if not chunk:
                raise ServerClosed("connection closed by server")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_packet(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout if timeout is not None else self.io_timeout)
        (n,) = struct.unpack(">i", self._recv_exact(4, deadline))
        return self._recv_exact(n, deadline)

    def is_closed_by_server(self, timeout: float = 10.0) -> bool:
        """True when the server closes/resets within `timeout` (pending data is drained)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.recv_packet(timeout=max(0.05, deadline - time.monotonic()))
            except ServerClosed:
                return True
            except TimeoutError:
                return False
            except OSError:
                return True
        return False

    # -- session
    def handshake(self, timeout_ms: int, session_id: int, passwd: bytes, last_zxid: int = 0):
        self.send_packet(w_int(0) + w_long(last_zxid) + w_int(timeout_ms) + w_long(session_id)
                         + w_buffer(passwd) + w_bool(False))
        r = Reader(self.recv_packet())
        proto, neg_timeout, sid, pw = r.int(), r.int(), r.long(), r.buffer()
        ro = r.bool() if r.remaining() else None
        self.negotiated_timeout_ms, self.session_id, self.passwd = neg_timeout, sid, pw
        return proto, neg_timeout, sid, pw, ro

    def request(self, opcode: int, body: bytes = b"", *, xid: int | None = None,
                timeout: float | None = None) -> Reply:
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.send_packet(w_int(xid) + w_int(opcode) + body)
        deadline = time.monotonic() + (timeout if timeout is not None else self.io_timeout)
        while True:
            r = Reader(self.recv_packet(timeout=max(0.01, deadline - time.monotonic())))
            rxid, zxid, err = r.int(), r.long(), r.int()
            if rxid == NOTIFICATION_XID:
                self._record_event(r, zxid)
                continue
            if rxid == xid:
                return Reply(rxid, zxid, err, r.data[r.pos:])
            if rxid == PING_XID:
                continue
            raise AssertionError(f"unexpected reply xid {rxid} while waiting for {xid}")

    def _record_event(self, r: Reader, zxid: int) -> None:
        self.events.append(Event(r.int(), r.int(), r.string(), zxid))

    def poll_events(self, timeout: float) -> list[Event]:
        """Read notifications for up to `timeout` seconds; returns all seen so far (and clears)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.recv_packet(timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
            r = Reader(data)
            rxid, zxid, _err = r.int(), r.long(), r.int()
            if rxid == NOTIFICATION_XID:
                self._record_event(r, zxid)
        out, self.events = self.events, []
        return out

    def wait_events(self, count: int, timeout: float = 10.0) -> list[Event]:
        """Wait until at least `count` notifications arrived, then return them (and clear)."""
        deadline = time.monotonic() + timeout
        while len(self.events) < count and time.monotonic() < deadline:
            try:
                data = self.recv_packet(timeout=max(0.01, deadline - time.monotonic()))
            except TimeoutError:
                break
            r = Reader(data)
            rxid, zxid, _err = r.int(), r.long(), r.int()
            if rxid == NOTIFICATION_XID:
                self._record_event(r, zxid)
        out, self.events = self.events, []
        return out

    def ping(self) -> Reply:
        return self.request(PING, xid=PING_XID)

    def close(self) -> None:
        """closeSession, then close the socket."""
        try:
            self.request(CLOSE_SESSION, timeout=5)
        except (ServerClosed, TimeoutError, OSError):
            pass
        self.drop()

    def drop(self) -> None:
        """Close the socket without closeSession: the session lives on until it expires."""
        try:
            self.sock.close()
        except OSError:
            pass

    # -- operations; each returns (err, result...)
    def create(self, path: str, data: bytes = b"", flags: int = PERSISTENT, acls=None,
               ttl: int | None = None, opcode: int | None = None):
        acls = WORLD_ALL if acls is None else acls
        body = w_string(path) + w_buffer(data) + w_acls(acls) + w_int(flags)
        if ttl is not None:
            body += w_long(ttl)
            opcode = opcode or CREATE_TTL
        elif flags == CONTAINER:
            opcode = opcode or CREATE_CONTAINER
        reply = self.request(opcode or CREATE2, body)
        if reply.err:
            return reply.err, None, None
        r = reply.reader()
        created = r.string()
        stat = r.stat() if r.remaining() >= 68 else None
        return OK, created, stat

    def delete(self, path: str, version: int = -1) -> int:
        return self.request(DELETE, w_string(path) + w_int(version)).err

    def exists(self, path: str, watch: bool = False):
        reply = self.request(EXISTS, w_string(path) + w_bool(watch))
        return reply.err, (reply.reader().stat() if reply.err == OK else None)

    def get_data(self, path: str, watch: bool = False):
        reply = self.request(GET_DATA, w_string(path) + w_bool(watch))
        if reply.err:
            return reply.err, None, None
        r = reply.reader()
        return OK, r.buffer(), r.stat()

    def set_data(self, path: str, data: bytes, version: int = -1):
        reply = self.request(SET_DATA, w_string(path) + w_buffer(data) + w_int(version))
        return reply.err, (reply.reader().stat() if reply.err == OK else None)

    def get_children(self, path: str, watch: bool = False):
        reply = self.request(GET_CHILDREN2, w_string(path) + w_bool(watch))
        if reply.err:
            return reply.err, None, None
        r = reply.reader()
        return OK, r.strings(), r.stat()

    def add_watch(self, path: str, mode: int) -> int:
        return self.request(ADD_WATCH, w_string(path) + w_int(mode)).err

    def remove_watches(self, path: str, watcher_type: int) -> int:
        return self.request(REMOVE_WATCHES, w_string(path) + w_int(watcher_type)).err

    def check_watches(self, path: str, watcher_type: int) -> int:
        return self.request(CHECK_WATCHES, w_string(path) + w_int(watcher_type)).err

    def add_auth(self, scheme: str, auth: bytes) -> int:
        return self.request(AUTH, w_int(0) + w_string(scheme) + w_buffer(auth), xid=AUTH_XID).err

    def get_ephemerals(self, prefix: str):
        reply = self.request(GET_EPHEMERALS, w_string(prefix))
        return reply.err, (reply.reader().strings() if reply.err == OK else None)

    def get_all_children_number(self, path: str):
        reply = self.request(GET_ALL_CHILDREN_NUMBER, w_string(path))
        return reply.err, (reply.reader().int() if reply.err == OK else None)

    def who_am_i(self):
        reply = self.request(WHO_AM_I)
        if reply.err:
            return reply.err, None
        r = reply.reader()
        return OK, [(r.string(), r.string()) for _ in range(r.int())]

    def multi(self, ops, opcode: int = MULTI):
        """`ops` is a list of (opcode, body bytes); returns (reply err, [(type, err, result)])."""
        body = b""
        for op, op_body in ops:
            body += w_int(op) + w_bool(False) + w_int(-1) + op_body
        body += w_int(-1) + w_bool(True) + w_int(-1)
        reply = self.request(opcode, body)
        results = []
        if reply.err:
            return reply.err, results
        r = reply.reader()
        while True:
            op_type, done, err = r.int(), r.bool(), r.int()
            if done:
                break
            if op_type == -1:  # ErrorResult: its own err field follows
                results.append((op_type, r.int(), None))
            elif op_type == CREATE:
                results.append((op_type, err, r.string()))
            elif op_type == CREATE2:
                results.append((op_type, err, (r.string(), r.stat())))
            elif op_type == SET_DATA:
                results.append((op_type, err, r.stat()))
            elif op_type == GET_DATA:
                results.append((op_type, err, (r.buffer(), r.stat())))
            elif op_type == GET_CHILDREN:
                results.append((op_type, err, r.strings()))
            else:  # delete, check: no body
                results.append((op_type, err, None))
        return OK, results


def op_get_data(path: str) -> tuple[int, bytes]:
    return GET_DATA, w_string(path) + w_bool(False)


def op_get_children(path: str) -> tuple[int, bytes]:
    return GET_CHILDREN, w_string(path) + w_bool(False)


def op_create(path: str, data: bytes = b"", flags: int = PERSISTENT) -> tuple[int, bytes]:
    return CREATE, w_string(path) + w_buffer(data) + w_acls(WORLD_ALL) + w_int(flags)


def op_set_data(path: str, data: bytes, version: int = -1) -> tuple[int, bytes]:
    return SET_DATA, w_string(path) + w_buffer(data) + w_int(version)


def op_delete(path: str, version: int = -1) -> tuple[int, bytes]:
    return DELETE, w_string(path) + w_int(version)


def op_check(path: str, version: int) -> tuple[int, bytes]:
    return CHECK, w_string(path) + w_int(version)
