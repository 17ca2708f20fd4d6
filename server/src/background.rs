//! Periodic work of the leader: expiring sessions whose clients went
//! silent, and removing empty containers and expired TTL nodes. Both go
//! through the log, so every replica removes the same nodes at the same
//! zxid.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::state::{now_ms, Server};
use crate::txn::{OpResult, TxnOp};

/// Every half tick until `shutdown`: report sessions seen alive here to
/// the leader; on the leader, expire sessions past their deadline. A server
/// that becomes leader first gives every session a fresh timeout, as
/// ZooKeeper's new leaders do, so nobody expires for the failover.
pub async fn expire_sessions(server: Arc<Server>, shutdown: impl Future<Output = ()>) {
    let half_tick = Duration::from_millis((server.config.tick_time_ms / 2).max(1));
    let mut tick = tokio::time::interval(half_tick);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    let mut was_leader = server.is_leader();
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        let leader = server.is_leader();
        if leader && !was_leader {
            tracing::info!("leading: every session gets a fresh timeout");
            server.renew_all_sessions();
        }
        was_leader = leader;
        let touched = server.take_touched_sessions();
        if !leader {
            if let Some(consensus) = server.consensus() {
                if let Err(e) = consensus.report_session_activity(touched).await {
                    tracing::debug!(error = %e, "session activity not reported");
                }
            }
            continue;
        }
        let now = u64::try_from(now_ms()).unwrap_or(0);
        let expired = server.tracker.lock().expect("tracker lock").expired(now);
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
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
        if !server.is_leader() {
            continue;
        }
        let paths = server.db.read().expect("db lock").reap_candidates(now_ms());
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
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tick.tick() => {}
        }
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
