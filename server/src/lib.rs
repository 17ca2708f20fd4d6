//! corral-server: a ZooKeeper-wire-compatible coordination server whose
//! every write goes through a Raft log.
//!
//! The write path:
//!
//! ```text
//! client ──frame──▶ listener::Connection ──decode──▶ requests::classify
//!    reads ─────────────────────────────────────▶ answered from the local tree,
//!                                                  in the session's FIFO order
//!    writes ──Txn──▶ proposer (batches many txns into one log entry)
//!            ──▶ raft::Consensus::propose ──▶ log append + fsync (log segments)
//!            ──▶ committed ──▶ state::App::apply ──▶ tree::Database::apply_batch
//!                 (deterministic: zxid, results, watch triggers)
//!            ──▶ per txn, in zxid order: watch events, then the reply
//!                 (pushed to the connection's outbox under the state lock)
//! ```
//!
//! Module map: `config` (TOML + flags), `listener` (accept loop,
//! connections, requests), `tree` (replicated state and `apply`), `txn`
//! (what the log carries), `raft` (the only user of openraft),
//! `session` (liveness and expiry), `watch` (watch manager), `admin`
//! (four-letter words, metrics), `proposer` (group commit), `background`
//! (expiry and reaping), `state` (what ties them together), `client_link`
//! (what `state` needs from the listener's connections, defined below
//! both), `metrics` (counters).

pub mod admin;
pub mod background;
pub mod client_link;
pub mod config;
pub mod listener;
pub mod metrics;
pub mod proposer;
pub mod raft;
pub mod session;
pub mod state;
pub mod tree;
pub mod txn;
pub mod watch;

use std::future::Future;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch as signal;

pub use config::Config;

/// The log's crash simulator (built with the `simulation` feature, for the
/// `corral-wal-stress` binary).
#[cfg(feature = "simulation")]
pub mod storage_simulation {
    pub use crate::raft::wal::crash_sim::{run, Report, SimConfig};
}

use crate::raft::{Consensus, RaftConfig};
use crate::state::{App, Server};

/// A server that failed to start or stopped on a fatal error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration cannot be used.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// A socket or file could not be used.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The log could not be opened or failed.
    #[error("raft: {0}")]
    Raft(String),
}

/// Run a server on `listener` until `shutdown` resolves: open the log
/// (recovering everything acknowledged before), then serve clients.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir)?;
    let (server, proposals) = Server::new(config.clone());
    let raft_config = RaftConfig {
        snapshot_every_entries: config.snapshot_every_entries,
        log_segment_bytes: config.log_segment_bytes,
        ..RaftConfig::new(config.server_id, config.data_dir.clone())
    };
    let proposer = tokio::spawn(proposer::run(Arc::clone(&server), proposals));
    let (stop_tx, stop_rx) = signal::channel(false);
    let stopped = move || {
        let mut rx = stop_rx.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    };
    let app = Arc::new(App(Arc::clone(&server)));
    let raft_err = |e: raft::RaftError| ServerError::Raft(e.to_string());
    let mut peers = None;
    let consensus = if config.is_ensemble() {
        let members = config.parsed_members()?;
        let me = members
            .iter()
            .find(|m| m.id == config.server_id)
            .expect("validated: this server is a member");
        let (member_host, member_port) =
            me.peer_addr.rsplit_once(':').expect("validated: host:port");
        let host = config.peer_host.as_deref().unwrap_or(member_host);
        let port = config
            .peer_port
            .map_or(member_port.to_string(), |p| p.to_string());
        let peer_listener = TcpListener::bind(format!("{host}:{port}")).await?;
        let source_ip = config.peer_host.as_deref().and_then(|h| h.parse().ok());
        let consensus = Consensus::start(
            RaftConfig {
                peer_addr: me.peer_addr.clone(),
                source_ip,
                ..raft_config
            },
            app,
        )
        .await
        .map_err(raft_err)?;
        peers = Some(tokio::spawn(raft::serve_peers(
            peer_listener,
            consensus.clone(),
            stopped(),
        )));
        if !me.observer && !config.join {
            // Every voter proposes the same initial membership; a node
            // that already has a log or a vote ignores it.
            let voters = members
                .iter()
                .filter(|m| !m.observer)
                .map(|m| (m.id, m.peer_addr.clone()))
                .collect();
            consensus.initialize(voters).await.map_err(raft_err)?;
        }
        consensus
    } else {
        Consensus::start_single(raft_config, app)
            .await
            .map_err(raft_err)?
    };
    server.set_consensus(consensus.clone());
    {
        let db = server.db();
        tracing::info!(
            address = %listener.local_addr()?,
            data_dir = %config.data_dir.display(),
            zxid = format!("0x{:x}", db.last_zxid()),
            nodes = db.node_count(),
            sessions = db.sessions().len(),
            "serving clients"
        );
    }

    let expiry = tokio::spawn(background::expire_sessions(Arc::clone(&server), stopped()));
    let reaper = tokio::spawn(background::reap_nodes(Arc::clone(&server), stopped()));
    let membership = tokio::spawn(background::keep_membership(Arc::clone(&server), stopped()));
    // A node whose consensus core stopped on a fatal error (a failed write
    // or sync of the log) must not linger half alive, answering clients
    // and never taking a write again: it stops, and `main` exits non-zero
    // so that a supervisor restarts it and clients move to other members.
    let mut failure = None;
    tokio::select! {
        () = listener::serve_clients(Arc::clone(&server), listener, shutdown) => {}
        why = consensus.failed() => {
            tracing::error!(error = %why, "the log failed: stopping this server");
            failure = Some(why);
        }
    }
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = expiry.await;
    let _ = reaper.await;
    let _ = membership.await;
    if let Some(peers) = peers {
        let _ = peers.await;
    }
    for conn in server.conns().values() {
        conn.close();
    }
    consensus
        .shutdown()
        .await
        .map_err(|e| ServerError::Raft(e.to_string()))?;
    proposer.abort();
    match failure {
        Some(why) => Err(ServerError::Raft(format!("storage failed: {why}"))),
        None => Ok(()),
    }
}
