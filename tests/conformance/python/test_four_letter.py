"""Four-letter words: ruok, srvr, stat, mntr, conf, cons, envi, wchs, isro, unknown words."""

import re

from conftest import MAX_SESSION_TIMEOUT_MS, MIN_SESSION_TIMEOUT_MS, SERVER_MODES, TICK_TIME_MS
import zkwire as w
from zkwire import wait_until


def test_ruok(server, zk):
    assert server.four_letter("ruok") == "imok"
    assert zk.command(b"ruok") == "imok"


def test_srvr_and_stat(server, zk):
    zk.create("/fl-zxid")
    zxid = zk.exists("/fl-zxid").czxid
    # The words go to `server.port`; on an ensemble zk may sit on another server, so a client
    # of our own on that port shows in `stat`, and its zxid reaches czxid once it applied it.
    local = w.RawClient(server.port)
    try:
        def srvr_zxid():
            text = server.four_letter("srvr")
            m = re.search(r"^Zxid: 0x([0-9a-f]+)$", text, re.M)
            return text if m and int(m.group(1), 16) >= zxid else None

        srvr = wait_until(srvr_zxid, 10, what="srvr Zxid at least the create's czxid")
        # standalone for a single server; leader or follower on the corral-ensemble target.
        mode = re.search(r"^Mode: (\w+)$", srvr, re.M)
        assert mode and mode.group(1) in SERVER_MODES, srvr
        assert re.search(r"^Zookeeper version: \S+", srvr, re.M)
        assert re.search(r"^Node count: \d+$", srvr, re.M)
        assert re.search(r"^Connections: \d+$", srvr, re.M)
        assert re.search(r"^Latency min/avg/max: [\d.]+/[\d.]+/[\d.]+$", srvr, re.M)

        stat = server.four_letter("stat")
        assert re.search(r"^Mode: (\w+)$", stat, re.M).group(1) in SERVER_MODES
        assert "Clients:" in stat
        assert re.search(r"^ /127\.0\.0\.1:\d+\[\d+\]\(queued=\d+,recved=\d+,sent=\d+\)$", stat,
                         re.M)
        assert re.search(r"^Zxid: 0x[0-9a-f]+$", stat, re.M)
    finally:
        local.close()


def test_kazoo_server_version(zk):
    version = zk.server_version()
    assert isinstance(version, tuple) and len(version) >= 3
    assert all(isinstance(part, int) for part in version)


def test_mntr(server):
    mntr = server.four_letter("mntr")
    metrics = dict(line.split("\t", 1) for line in mntr.strip().splitlines())
    assert metrics["zk_server_state"] in SERVER_MODES
    for key in ("zk_version", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
                "zk_packets_received", "zk_packets_sent", "zk_num_alive_connections",
                "zk_outstanding_requests", "zk_znode_count", "zk_watch_count",
                "zk_ephemerals_count", "zk_approximate_data_size"):
        assert key in metrics, key
    assert int(metrics["zk_znode_count"]) >= 1


def test_conf(server):
    conf = dict(line.split("=", 1) for line in server.four_letter("conf").strip().splitlines()
                if "=" in line)
    assert conf["clientPort"] == str(server.port)
    assert conf["tickTime"] == str(TICK_TIME_MS)
    assert conf["minSessionTimeout"] == str(MIN_SESSION_TIMEOUT_MS)
    assert conf["maxSessionTimeout"] == str(MAX_SESSION_TIMEOUT_MS)
    assert "dataDir" in conf


def test_cons_lists_sessions(server):
    c = w.RawClient(server.port)
    try:
        cons = server.four_letter("cons")
        assert re.search(rf"sid=0x{c.session_id:x}\b", cons), cons
        assert re.search(r"^ /127\.0\.0\.1:\d+\[\d+\]\(", cons, re.M)
    finally:
        c.close()


def test_envi(server):
    envi = server.four_letter("envi")
    assert envi.startswith("Environment:\n")
    assert re.search(r"^zookeeper\.version=\S+", envi, re.M)
    assert re.search(r"^host\.name=", envi, re.M)


def test_wchs_counts_watches(fresh_server):
    assert fresh_server.four_letter("wchs") == "0 connections watching 0 paths\nTotal watches:0\n"
    c = w.RawClient(fresh_server.port)
    try:
        assert c.create("/w1")[0] == w.OK
        assert c.get_data("/w1", watch=True)[0] == w.OK
        assert c.get_children("/w1", watch=True)[0] == w.OK
        assert c.exists("/w2", watch=True)[0] == w.NO_NODE
        # ZooKeeper 3.8 summarises only its data-watch table (getData + exists watches);
        # child watches are not counted.
        assert (fresh_server.four_letter("wchs")
                == "1 connections watching 2 paths\nTotal watches:2\n")
    finally:
        c.close()


def test_isro(server):
    assert server.four_letter("isro") == "rw"


def test_unknown_four_letter_word(server):
    assert server.four_letter("zzzz") == ""
    assert server.four_letter("ruok") == "imok"
