//! Periodic work of the leader: expiring sessions whose clients went
//! silent, and removing empty containers and expired TTL nodes. Both go
//! through the log, so every replica removes the same nodes at the same
//! zxid.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::state::{now_ms, Server};
use crate::txn::{OpResult, TxnOp};

/// How often the leader looks for expired sessions: with deadlines kept to
/// [`crate::session::EXPIRY_GRANULARITY_MS`], a silent session expires
/// within about 20 ms of its timeout plus one commit.
const EXPIRY_CHECK: Duration = Duration::from_millis(10);
/// Most time between two reports of session activity to the leader. The
/// reports carry each session's age, so their period does not delay expiry;
/// it only has to stay well under the smallest session timeout (2 ticks).
const ACTIVITY_REPORT_MAX: Duration = Duration::from_millis(500);

/// Until `shutdown`: on a follower, report sessions seen alive here to the
/// leader every half tick (at most [`ACTIVITY_REPORT_MAX`]); on the leader,
/// expire sessions past their deadline (checked every [`EXPIRY_CHECK`]). A
/// server that becomes leader first gives every session a fresh timeout, as
/// ZooKeeper's new leaders do, so nobody expires for the failover: after a
/// leader change a silent session expires at the latest one timeout after
/// the new leader took over.
pub async fn expire_sessions(server: Arc<Server>, shutdown: impl Future<Output = ()>) {
    let half_tick = Duration::from_millis((server.config.tick_time_ms / 2).max(1));
    let report_every = half_tick.min(ACTIVITY_REPORT_MAX);
    let mut ticks = Periodic::new(EXPIRY_CHECK, shutdown);
    let mut was_leader = server.is_leader();
    let mut last_report = tokio::time::Instant::now();
    while ticks.next().await {
        let leader = server.is_leader();
        if leader && !was_leader {
            tracing::info!("leading: every session gets a fresh timeout");
            server.renew_all_sessions();
        }
        was_leader = leader;
        if !leader {
            if last_report.elapsed() < report_every {
                continue;
            }
            last_report = tokio::time::Instant::now();
            let touched = server.take_touched_sessions();
            if let Some(consensus) = server.consensus() {
                if let Err(e) = consensus.report_session_activity(touched).await {
                    tracing::debug!(error = %e, "session activity not reported");
                }
            }
            continue;
        }
        // The leader's own connections touch its tracker directly.
        server.take_touched_sessions();
        let now = u64::try_from(now_ms()).unwrap_or(0);
        let expired = server.tracker().expired(now);
        if expired.is_empty() {
            continue;
        }
        tracing::info!(count = expired.len(), "expiring sessions");
        let txn = server.internal_txn(TxnOp::ExpireSessions {
            session_ids: expired,
        });
        if let Err(code) = server.propose_and_wait(txn).await {
            tracing::warn!(%code, "session expiry not committed; will retry");
        }
    }
}

/// Reap empty containers and expired TTL nodes every
/// `container_check_interval_ms` until `shutdown`.
pub async fn reap_nodes(server: Arc<Server>, shutdown: impl Future<Output = ()>) {
    let period = Duration::from_millis(server.config.container_check_interval_ms.max(10));
    let mut ticks = Periodic::new(period, shutdown);
    while ticks.next().await {
        if !server.is_leader() {
            continue;
        }
        let paths = server.db().reap_candidates(now_ms());
        if paths.is_empty() {
            continue;
        }
        let txn = server.internal_txn(TxnOp::Reap { paths });
        match server.propose_and_wait(txn).await {
            Ok(out) => {
                if let Ok(OpResult::Reaped { paths }) = out.result {
                    tracing::debug!(count = paths.len(), "reaped containers and ttl nodes");
                }
            }
            Err(code) => tracing::warn!(%code, "reaping not committed; will retry"),
        }
    }
}

/// On the leader, every few seconds until `shutdown`: make sure every
/// observer named in the configuration replicates as a learner.
pub async fn keep_membership(server: Arc<Server>, shutdown: impl Future<Output = ()>) {
    let Ok(members) = server.config.parsed_members() else {
        return;
    };
    let observers: Vec<_> = members.into_iter().filter(|m| m.observer).collect();
    if observers.is_empty() {
        return;
    }
    let mut ticks = Periodic::new(Duration::from_secs(2), shutdown);
    while ticks.next().await {
        let Some(consensus) = server.consensus() else {
            continue;
        };
        if !consensus.is_leader() {
            continue;
        }
        let known = consensus.status().members;
        let known: Vec<u64> = known.into_keys().collect();
        for m in &observers {
            if known.contains(&m.id) {
                continue;
            }
            tracing::info!(id = m.id, addr = %m.peer_addr, "adding observer");
            if let Err(e) = consensus.add_learner(m.id, m.peer_addr.clone()).await {
                tracing::warn!(id = m.id, error = %e, "observer not added yet");
            }
        }
    }
}

/// A period that ends when a shutdown future resolves.
struct Periodic<F> {
    interval: tokio::time::Interval,
    shutdown: std::pin::Pin<Box<F>>,
}

impl<F: Future<Output = ()>> Periodic<F> {
    fn new(period: Duration, shutdown: F) -> Periodic<F> {
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        Periodic {
            interval,
            shutdown: Box::pin(shutdown),
        }
    }

    /// Wait for the next tick; false once shut down.
    async fn next(&mut self) -> bool {
        tokio::select! {
            _ = &mut self.shutdown => false,
            _ = self.interval.tick() => true,
        }
    }
}
