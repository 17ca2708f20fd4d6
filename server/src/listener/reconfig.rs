//! ZooKeeper's `reconfig` (opcode 16) and the `/zookeeper/config` node,
//! backed by the Raft membership.
//!
//! Server specs follow ZooKeeper's dynamic configuration format,
//! `server.<id>=<host>:<peer port>[:<election port>][:participant|:observer][;<client address>]`;
//! Corral uses the host and the first port (its peer port) and the role.
//! The election port and client address are accepted and ignored.

use std::fmt::Write;

use corral_wire::proto::{ErrorCode, GetDataResponse, Perms, ReconfigRequest, Response, Stat};

use crate::raft::{MembershipChange, NewMember, Status};
use crate::state::Server;
use crate::tree::{acl, Node};

/// How long a reconfig waits for this server to see the membership it made.
const MEMBERSHIP_CATCH_UP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The path whose data is the current membership.
pub const CONFIG_PATH: &str = "/zookeeper/config";

/// `/zookeeper/config`'s data: one `server.N=` line per member, then the
/// config version (the membership's log index, hex, as ZooKeeper's).
pub fn render(status: &Status) -> String {
    let mut s = String::new();
    for (id, addr) in &status.members {
        let role = if status.voters.contains(id) {
            "participant"
        } else {
            "observer"
        };
        let _ = writeln!(s, "server.{id}={addr}:{role}");
    }
    let _ = write!(s, "version={:x}", status.membership_index);
    s
}

/// Parse one `server.N=host:port[...]` spec.
pub fn parse_server(spec: &str) -> Result<NewMember, ErrorCode> {
    let (key, value) = spec.trim().split_once('=').ok_or(ErrorCode::BadArguments)?;
    let id: u64 = key
        .trim()
        .strip_prefix("server.")
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .ok_or(ErrorCode::BadArguments)?;
    let quorum = value.split(';').next().unwrap_or_default();
    let parts: Vec<&str> = quorum.split(':').collect();
    let (host, port) = match parts.as_slice() {
        [host, port, ..] => (*host, *port),
        _ => return Err(ErrorCode::BadArguments),
    };
    let port: u16 = port.parse().map_err(|_| ErrorCode::BadArguments)?;
    if host.is_empty() || port == 0 {
        return Err(ErrorCode::BadArguments);
    }
    let observer = parts[2..].contains(&"observer");
    Ok(NewMember {
        id,
        peer_addr: format!("{host}:{port}"),
        observer,
    })
}

/// Turn a reconfig request into a membership change against `status`.
pub fn plan(request: &ReconfigRequest, status: &Status) -> Result<MembershipChange, ErrorCode> {
    let specs = |text: &str| -> Result<Vec<NewMember>, ErrorCode> {
        text.split([',', '\n'])
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.starts_with("version="))
            .map(parse_server)
            .collect()
    };
    if request.cur_config_id != -1
        && u64::try_from(request.cur_config_id).ok() != Some(status.membership_index)
    {
        return Err(ErrorCode::BadVersion);
    }
    let mut change = MembershipChange::default();
    if !request.new_members.trim().is_empty() {
        // Non-incremental: the given list is the whole new membership.
        let wanted = specs(&request.new_members)?;
        for id in status.members.keys() {
            if !wanted.iter().any(|m| m.id == *id) {
                change.remove.push(*id);
            }
        }
        change.add = wanted
            .into_iter()
            .filter(|m| {
                status.members.get(&m.id) != Some(&m.peer_addr)
                    || status.voters.contains(&m.id) == m.observer
            })
            .collect();
    } else {
        change.add = specs(&request.joining_servers)?;
        for id in request
            .leaving_servers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            change
                .remove
                .push(id.parse().map_err(|_| ErrorCode::BadArguments)?);
        }
    }
    if change.add.iter().any(|m| change.remove.contains(&m.id)) {
        return Err(ErrorCode::BadArguments);
    }
    Ok(change)
}

/// Carry out a reconfig for a client with `auth`: only the super user may
/// (ZooKeeper requires super or WRITE on `/zookeeper/config`, whose ACL is
/// read-only). Answers with the new config as getData would.
pub async fn reconfig(
    server: &Server,
    request: &ReconfigRequest,
    auth: &[corral_wire::proto::Id],
    is_super: bool,
) -> Result<Response, ErrorCode> {
    if !server.config.is_ensemble() {
        return Err(ErrorCode::ReconfigDisabled);
    }
    {
        let db = server.db();
        let node = db.node(CONFIG_PATH).ok_or(ErrorCode::NoNode)?;
        acl::check_acl(node.acl(), Perms::WRITE, auth, is_super)?;
    }
    let consensus = server.consensus().ok_or(ErrorCode::ConnectionLoss)?;
    let change = plan(request, &consensus.status())?;
    tracing::info!(?change, "reconfig");
    let version = consensus.reconfigure(change).await.map_err(|e| {
        tracing::warn!(error = %e, "reconfig failed");
        ErrorCode::NewConfigNoQuorum
    })?;
    // Answer with the committed config, not one this server's view of the
    // membership (which may trail the leader's for a moment) still shows.
    let deadline = tokio::time::Instant::now() + MEMBERSHIP_CATCH_UP_TIMEOUT;
    while consensus.status().membership_index < version {
        if tokio::time::Instant::now() >= deadline {
            return Err(ErrorCode::NewConfigNoQuorum);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let db = server.db();
    let node = db.node(CONFIG_PATH).ok_or(ErrorCode::NoNode)?;
    let (data, stat) = client_view(server, node);
    Ok(Response::GetData(GetDataResponse { data, stat }))
}

/// `/zookeeper/config` as a client reads it: the node's stat with the
/// rendered membership as data in an ensemble, the stored data otherwise.
pub fn client_view(server: &Server, node: &Node) -> (Option<Vec<u8>>, Stat) {
    let mut stat = node.stat();
    match server.consensus().filter(|_| server.config.is_ensemble()) {
        Some(c) => {
            let data = render(&c.status()).into_bytes();
            stat.data_length = i32::try_from(data.len()).unwrap_or(i32::MAX);
            (Some(data), stat)
        }
        None => (node.data_or_null().map(<[u8]>::to_vec), stat),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::raft::Role;

    fn status() -> Status {
        Status {
            node_id: 1,
            role: Role::Leader,
            current_term: 1,
            leader: Some(1),
            last_log_index: Some(10),
            last_applied_index: Some(10),
            snapshot_index: None,
            purged_index: None,
            voters: vec![1, 2, 3],
            members: BTreeMap::from([
                (1, "127.0.0.1:2888".to_string()),
                (2, "127.0.0.1:2889".to_string()),
                (3, "127.0.0.1:2890".to_string()),
                (4, "127.0.0.1:2891".to_string()),
            ]),
            replication: BTreeMap::new(),
            membership_index: 7,
        }
    }

    #[test]
    fn renders_like_zookeeper() {
        assert_eq!(
            render(&status()),
            "server.1=127.0.0.1:2888:participant\nserver.2=127.0.0.1:2889:participant\n\
             server.3=127.0.0.1:2890:participant\nserver.4=127.0.0.1:2891:observer\nversion=7"
        );
    }

    #[test]
    fn parses_zookeeper_server_specs() {
        let m = parse_server("server.5=127.0.0.1:2892:3892:participant;127.0.0.1:2185").unwrap();
        assert_eq!(
            (m.id, m.peer_addr.as_str(), m.observer),
            (5, "127.0.0.1:2892", false)
        );
        let m = parse_server("server.6=10.1.1.1:2893:observer").unwrap();
        assert!(m.observer);
        for bad in [
            "server.x=1.1.1.1:1",
            "server.0=h:1",
            "7=h:1",
            "server.7=h",
            "server.7=:5",
        ] {
            assert_eq!(parse_server(bad), Err(ErrorCode::BadArguments), "{bad}");
        }
    }

    #[test]
    fn incremental_and_full_plans() {
        let r = ReconfigRequest {
            joining_servers: "server.5=127.0.0.1:2892:3892:participant;2185".into(),
            leaving_servers: "4".into(),
            new_members: String::new(),
            cur_config_id: -1,
        };
        let c = plan(&r, &status()).unwrap();
        assert_eq!(c.add.len(), 1);
        assert_eq!(c.remove, vec![4]);
        let r = ReconfigRequest {
            joining_servers: String::new(),
            leaving_servers: String::new(),
            new_members:
                "server.1=127.0.0.1:2888:participant\nserver.2=127.0.0.1:2889:participant\n\
                          server.4=127.0.0.1:2891:participant"
                    .into(),
            cur_config_id: 7,
        };
        let c = plan(&r, &status()).unwrap();
        assert_eq!(c.remove, vec![3]);
        assert_eq!(c.add.iter().map(|m| m.id).collect::<Vec<_>>(), vec![4]);
        let stale = ReconfigRequest {
            cur_config_id: 6,
            ..r
        };
        assert_eq!(plan(&stale, &status()), Err(ErrorCode::BadVersion));
    }
}
