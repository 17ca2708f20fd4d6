//! The proposer: turns the stream of transactions from every connection
//! into batches, one Raft log entry each (group commit).
//!
//! One batch is in the log at a time, and everything that arrives while it
//! is being made durable forms the next one: under load a batch grows to
//! `batch_txns_max` transactions sharing one append and one fsync; when
//! idle a lone write goes out at once. Proposing in arrival order keeps
//! every session's writes in FIFO order.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::state::Server;
use crate::txn::{Origin, Txn, TxnBatch};

/// Run until every sender of `proposals` is gone.
pub async fn run(server: Arc<Server>, mut proposals: mpsc::Receiver<Txn>) {
    let max = server.config.batch_txns_max;
    let mut txns = Vec::with_capacity(max);
    while proposals.recv_many(&mut txns, max).await > 0 {
        let Some(consensus) = server.consensus() else {
            tracing::warn!("proposal before the log started; dropping");
            let origins: Vec<Origin> = txns.drain(..).filter_map(|t| t.origin).collect();
            server.fail_proposals(&origins);
            continue;
        };
        let batch = TxnBatch {
            txns: std::mem::take(&mut txns),
        };
        // The outcome reaches each waiter as the state machine applies
        // the batch; only a failure needs handling here, and it needs only
        // the origins, not a copy of the data.
        let origins: Vec<Origin> = batch.txns.iter().filter_map(|t| t.origin).collect();
        if let Err(e) = consensus.propose(batch).await {
            tracing::warn!(error = %e, count = origins.len(), "proposal failed");
            server.fail_proposals(&origins);
        }
    }
}
