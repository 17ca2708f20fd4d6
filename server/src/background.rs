//! Periodic work of the leader: expiring sessions whose clients went
//! silent, and removing empty containers and expired TTL nodes. Both go
//! through the log, so every replica removes the same nodes at the same
//! zxid.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::state::{now_ms, Server};
use crate::txn::{OpResult, TxnOp};

/// Check session deadlines every tick until `shutdown`.
pub async fn expire_sessions(server: Arc<Server>, shutdown: impl Future<Output = ()>) {
    let mut tick = tokio::time::interval(Duration::from_millis(server.config.tick_time_ms));
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
