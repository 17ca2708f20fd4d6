//! Four-letter words (`ruok`, `srvr`, `stat`, `mntr`, ...), answered in
//! ZooKeeper's text formats so existing tooling parses them.

use std::fmt::Write;

use crate::config::FOUR_LETTER_WORDS;
use crate::raft::Role;
use crate::state::Server;

use super::VERSION;

/// The answer to a four-letter word, or None if `word` is not one (the
/// bytes are then the length prefix of an ordinary packet).
pub fn four_letter_word(server: &Server, word: &str) -> Option<String> {
    if !FOUR_LETTER_WORDS.contains(&word) {
        return None;
    }
    if !server.config.four_letter_word_enabled(word) {
        return Some(format!(
            "{word} is not executed because it is not in the whitelist.\n"
        ));
    }
    Some(match word {
        "ruok" => "imok".to_string(),
        "isro" => "rw".to_string(),
        "srvr" => srvr(server, false),
        "stat" => srvr(server, true),
        "mntr" => mntr(server),
        "conf" => conf(server),
        "cons" => cons(server),
        "envi" => envi(server),
        "wchs" => wchs(server),
        _ => unreachable!("every listed word is answered"),
    })
}

/// ZooKeeper's name for this server's role: a single node is standalone;
/// in an ensemble the Raft leader is the leader, voters are followers and
/// learners are observers.
fn mode(server: &Server) -> &'static str {
    if !server.config.is_ensemble() {
        return "standalone";
    }
    match server.consensus().map(|c| c.role()) {
        Some(Role::Leader) => "leader",
        Some(Role::Learner) => "observer",
        _ => "follower",
    }
}

fn srvr(server: &Server, with_clients: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Zookeeper version: {VERSION}, built for Corral");
    if with_clients {
        s.push_str("Clients:\n");
        s.push_str(&connection_lines(server, false));
        s.push('\n');
    }
    let l = server.metrics.latency();
    let (zxid, nodes) = {
        let db = server.db();
        (db.last_zxid(), db.node_count())
    };
    let conns = server.conns();
    let outstanding: usize = conns.values().map(|c| c.outstanding()).sum();
    let _ = writeln!(
        s,
        "Latency min/avg/max: {}/{:.4}/{}",
        l.min_ms, l.avg_ms, l.max_ms
    );
    let _ = writeln!(s, "Received: {}", server.metrics.packets_received());
    let _ = writeln!(s, "Sent: {}", server.metrics.packets_sent());
    let _ = writeln!(s, "Connections: {}", conns.len());
    let _ = writeln!(s, "Outstanding: {outstanding}");
    let _ = writeln!(s, "Zxid: 0x{zxid:x}");
    let _ = writeln!(s, "Mode: {}", mode(server));
    let _ = writeln!(s, "Node count: {nodes}");
    s
}

/// One line per connection: ZooKeeper's short form for `stat`, its long
/// form (session id, timeout) for `cons`.
fn connection_lines(server: &Server, long: bool) -> String {
    let conns = server.conns();
    let mut list: Vec<_> = conns.values().cloned().collect();
    drop(conns);
    list.sort_by_key(|c| c.id());
    let mut s = String::new();
    for c in list {
        let info = c.info();
        let _ = write!(
            s,
            " /{}[1](queued={},recved={},sent={}",
            info.peer, info.queued, info.received, info.sent,
        );
        if long {
            let _ = write!(s, ",sid=0x{:x},to={}", info.session_id, info.timeout_ms);
        }
        s.push_str(")\n");
    }
    s
}

fn cons(server: &Server) -> String {
    let mut s = connection_lines(server, true);
    s.push('\n');
    s
}

fn mntr(server: &Server) -> String {
    let l = server.metrics.latency();
    let (zxid, nodes, ephemerals, data_size, digest) = {
        let db = server.db();
        (
            db.last_zxid(),
            db.node_count(),
            db.ephemeral_count(),
            db.approximate_data_size(),
            db.tree().digest(),
        )
    };
    let (watch_count, conns, outstanding) = {
        let (watches, conns) = server.watches_and_conns();
        let outstanding: usize = conns.values().map(|c| c.outstanding()).sum();
        (watches.watch_count(), conns.len(), outstanding)
    };
    let status = server.consensus().map(|c| c.status());
    let mut s = String::new();
    let mut kv = |k: &str, v: String| {
        let _ = writeln!(s, "{k}\t{v}");
    };
    kv("zk_version", format!("{VERSION}, built for Corral"));
    kv("zk_server_state", mode(server).to_string());
    kv("zk_avg_latency", format!("{:.4}", l.avg_ms));
    kv("zk_max_latency", format!("{}", l.max_ms));
    kv("zk_min_latency", format!("{}", l.min_ms));
    kv(
        "zk_packets_received",
        server.metrics.packets_received().to_string(),
    );
    kv("zk_packets_sent", server.metrics.packets_sent().to_string());
    kv("zk_num_alive_connections", conns.to_string());
    kv("zk_outstanding_requests", outstanding.to_string());
    kv("zk_znode_count", nodes.to_string());
    kv("zk_watch_count", watch_count.to_string());
    kv("zk_ephemerals_count", ephemerals.to_string());
    kv("zk_approximate_data_size", data_size.to_string());
    kv("zk_last_zxid", format!("0x{zxid:x}"));
    // Order-independent hash of every node (path, data, stat, ACL): equal
    // on replicas that applied the same zxids.
    kv("corral_tree_digest", format!("{digest:016x}"));
    kv(
        "zk_open_file_descriptor_count",
        open_fds().map(|n| n.to_string()).unwrap_or_default(),
    );
    if let Some(st) = status
        .as_ref()
        .filter(|s| s.role == Role::Leader && server.config.is_ensemble())
    {
        // Followers are the other voters; ZooKeeper counts observers apart.
        let last = st.last_log_index.unwrap_or(0);
        let voters: Vec<u64> = st
            .voters
            .iter()
            .copied()
            .filter(|id| *id != st.node_id)
            .collect();
        let synced = voters
            .iter()
            .filter(|id| st.replication.get(id).copied().flatten() == Some(last))
            .count();
        kv("zk_followers", voters.len().to_string());
        kv("zk_synced_followers", synced.to_string());
        kv(
            "zk_observers",
            (st.members.len().saturating_sub(st.voters.len())).to_string(),
        );
    }
    if let Some(st) = status {
        kv(
            "corral_raft_last_log_index",
            st.last_log_index.unwrap_or(0).to_string(),
        );
        kv(
            "corral_raft_last_applied_index",
            st.last_applied_index.unwrap_or(0).to_string(),
        );
        kv(
            "corral_raft_snapshot_index",
            st.snapshot_index.unwrap_or(0).to_string(),
        );
        kv("corral_raft_term", st.current_term.to_string());
    }
    s
}

fn open_fds() -> Option<usize> {
    std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count())
}

fn conf(server: &Server) -> String {
    let c = &server.config;
    let mut s = String::new();
    let _ = writeln!(s, "clientPort={}", c.client_port);
    let _ = writeln!(s, "clientPortAddress={}", c.client_address);
    let _ = writeln!(s, "dataDir={}", c.data_dir.display());
    let _ = writeln!(s, "tickTime={}", c.tick_time_ms);
    let _ = writeln!(s, "maxClientCnxns={}", c.max_client_connections);
    let _ = writeln!(s, "minSessionTimeout={}", c.min_session_timeout_ms());
    let _ = writeln!(s, "maxSessionTimeout={}", c.max_session_timeout_ms());
    let _ = writeln!(s, "serverId={}", c.server_id);
    let _ = writeln!(s, "jute.maxbuffer={}", c.max_packet_bytes);
    let _ = writeln!(s, "extendedTypesEnabled={}", c.ttl_enabled);
    let _ = writeln!(s, "snapshotEveryEntries={}", c.snapshot_every_entries);
    s
}

fn envi(server: &Server) -> String {
    let mut s = String::from("Environment:\n");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string());
    let cwd = std::env::current_dir()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let _ = writeln!(s, "zookeeper.version={VERSION}, built for Corral");
    let _ = writeln!(s, "host.name={host}");
    let _ = writeln!(s, "os.name={}", std::env::consts::OS);
    let _ = writeln!(s, "os.arch={}", std::env::consts::ARCH);
    let _ = writeln!(s, "user.dir={cwd}");
    let _ = writeln!(s, "corral.data.dir={}", server.config.data_dir.display());
    let _ = writeln!(
        s,
        "corral.uptime.secs={}",
        server.started.elapsed().as_secs()
    );
    s
}

fn wchs(server: &Server) -> String {
    let w = server.watches();
    format!(
        "{} connections watching {} paths\nTotal watches:{}\n",
        w.connection_count(),
        w.path_count(),
        w.watch_count()
    )
}
