//! The proposer: turns the stream of transactions from every connection
//! into batches, one Raft log entry each (group commit).
//!
//! Up to `batches_in_flight` batches are in the log pipeline at a time
//! (default 2: one being appended and fsynced while the one before it is
//! applied and answered), and everything that arrives while they are under
//! way forms the next one: under load a batch grows to `batch_txns_max`
//! transactions sharing one append and one fsync; when idle a lone write
//! goes out at once. A batch is also capped in bytes ([`BATCH_BYTES_MAX`])
//! so that a log entry always fits a peer frame. Batches are submitted one
//! after the other from this one task, in arrival order, and the log keeps
//! that order, so every session's writes stay in FIFO order.

use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};

use crate::state::Server;
use crate::txn::{Origin, Txn, TxnBatch};

/// Most payload bytes (node data, paths, ACLs) in one batch; a single
/// transaction larger than this (possible only with a packet limit raised
/// past it) still goes alone.
pub const BATCH_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Run until every sender of `proposals` is gone.
pub async fn run(server: Arc<Server>, mut proposals: mpsc::Receiver<Txn>) {
    let max = server.config.batch_txns_max;
    let slots = Arc::new(Semaphore::new(server.config.batches_in_flight));
    let mut txns = Vec::with_capacity(max);
    let mut carried: Option<Txn> = None;
    loop {
        // Wait for room in the pipeline first, so that what arrives
        // meanwhile joins this batch rather than a smaller one behind it.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // Start from the transaction the last batch had no room for, else
        // wait for one; then take whatever else is queued, within bounds.
        let first = match carried.take() {
            Some(t) => t,
            None => match proposals.recv().await {
                Some(t) => t,
                None => return,
            },
        };
        let mut bytes = first.payload_bytes();
        txns.push(first);
        while txns.len() < max {
            let Ok(t) = proposals.try_recv() else {
                break;
            };
            let size = t.payload_bytes();
            if bytes + size > BATCH_BYTES_MAX {
                carried = Some(t);
                break;
            }
            bytes += size;
            txns.push(t);
        }
        let Some(consensus) = server.consensus() else {
            tracing::warn!("proposal before the log started; dropping");
            let origins: Vec<Origin> = txns.drain(..).filter_map(|t| t.origin).collect();
            server.fail_proposals(&origins);
            continue;
        };
        let batch = TxnBatch::new(std::mem::take(&mut txns));
        // The outcome reaches each waiter as the state machine applies
        // the batch; only a failure needs handling here, and it needs only
        // the origins, not a copy of the data.
        let origins: Vec<Origin> = batch.txns.iter().filter_map(|t| t.origin).collect();
        let proposal = consensus.submit(batch).await;
        let server = server.clone();
        tokio::spawn(async move {
            if let Err(e) = proposal.outcome().await {
                tracing::warn!(error = %e, count = origins.len(), "proposal failed");
                server.fail_proposals(&origins);
            }
            drop(slot);
        });
    }
}
