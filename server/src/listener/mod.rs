//! The client port: accept loop with a per-IP connection cap, one task per
//! connection (handshake, framing, request pipeline), and what each request
//! does.

mod connection;
mod outbox;
pub mod reconfig;
mod requests;

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;

pub use connection::{ConnState, Connection, Queued};
pub use outbox::{Outbox, OUTBOX_FRAMES_MAX};
pub use requests::{LocalOp, ReplyShape};

use crate::state::Server;

/// Accept clients until `shutdown` resolves.
pub async fn serve_clients(
    server: Arc<Server>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) {
    let per_ip: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little
                    // rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let cap = server.config.max_client_connections;
        let ip = peer.ip();
        {
            let mut counts = per_ip.lock().expect("per-ip lock");
            let count = counts.entry(ip).or_insert(0);
            if cap > 0 && *count >= cap {
                tracing::warn!(%ip, max = cap, "too many connections from one address");
                drop(stream);
                continue;
            }
            *count += 1;
        }
        let server = Arc::clone(&server);
        let per_ip = Arc::clone(&per_ip);
        tokio::spawn(async move {
            connection::serve(server, stream, peer).await;
            let mut counts = per_ip.lock().expect("per-ip lock");
            if let Some(count) = counts.get_mut(&ip) {
                *count -= 1;
                if *count == 0 {
                    counts.remove(&ip);
                }
            }
        });
    }
}
