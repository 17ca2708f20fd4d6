//! Per-request read consistency on a 3-server Corral ensemble: a write
//! acknowledged through one server is always seen by a `Linearizable`
//! read through another, in a loop with faults (each server in turn
//! killed and restarted, the leader among them), and through the
//! embedding layer's option too.

use std::time::{Duration, Instant};

use corral::client::{Client, Connector, CreateOptions, ReadConsistency};
use corral::Error;
use corral_embed::{Delivery, EmbeddedClient, Options};
use corral_tests::{free_port, ServerKind, ServerOptions, ServerProcess, WAIT};

const ITERATIONS: usize = 240;
const FAULT_EVERY: usize = 40;

fn ensemble() -> Vec<ServerProcess> {
    let peers: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let members = peers
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{}=127.0.0.1:{p}", i + 1))
        .collect::<Vec<_>>()
        .join(",");
    // Started together: each waits until it serves a session, which
    // needs a quorum.
    let starting: Vec<_> = (1..=3)
        .map(|id| {
            let mut options = ServerOptions::new(ServerKind::Corral);
            options.extra = vec![
                "--id".into(),
                id.to_string(),
                "--members".into(),
                members.clone(),
            ];
            std::thread::spawn(move || ServerProcess::start_with(options))
        })
        .collect();
    starting
        .into_iter()
        .map(|s| s.join().expect("server start"))
        .collect()
}

/// A client that prefers `first`, then the others, in order.
async fn client_preferring(servers: &[ServerProcess], first: usize) -> Client {
    let mut hosts = vec![servers[first].connect_string()];
    hosts.extend(
        (0..servers.len())
            .filter(|i| *i != first)
            .map(|i| servers[i].connect_string()),
    );
    Connector::new(&hosts.join(","))
        .shuffle_hosts(false)
        .session_timeout(Duration::from_secs(20))
        .request_timeout(Duration::from_secs(5))
        .connect_timeout(WAIT)
        .reconnect_backoff(Duration::from_millis(100))
        .connect()
        .await
        .expect("connect")
}

/// Retries `op` on errors a fault may cause, up to WAIT.
async fn retrying<T, F, Fut>(what: &str, mut op: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = corral::Result<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        match op().await {
            Ok(v) => return v,
            Err(e) if e.is_retryable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linearizable_read_through_another_server_sees_every_acknowledged_write() {
    let mut servers = tokio::task::spawn_blocking(ensemble).await.unwrap();
    let writer = client_preferring(&servers, 0).await;
    let reader = client_preferring(&servers, 1).await.linearizable();
    assert_eq!(reader.read_consistency(), ReadConsistency::Linearizable);
    let node = "/read-consistency";
    retrying("create", || async {
        match writer
            .create(node, b"0", &CreateOptions::persistent())
            .await
        {
            Err(Error::NodeExists { .. }) => Ok(()),
            other => other.map(|_| ()),
        }
    })
    .await;
    let mut killed: Option<usize> = None;
    let mut stale_local = 0;
    for i in 1..=ITERATIONS {
        if i % FAULT_EVERY == 0 {
            // Restart the server killed last, then kill the next one.
            let next = (i / FAULT_EVERY) % servers.len();
            let mut taken = std::mem::take(&mut servers);
            let (taken, previous) = tokio::task::spawn_blocking(move || {
                if let Some(k) = killed {
                    taken[k].start_again();
                }
                taken[next].kill();
                (taken, next)
            })
            .await
            .unwrap();
            servers = taken;
            tracing::info!(killed = previous, "--- killed a server");
            killed = Some(previous);
        }
        let value = i.to_string();
        // The write is retried until acknowledged (setting the same value
        // again is harmless); only an acknowledged write counts.
        retrying("set", || writer.set_data(node, value.as_bytes(), None)).await;
        // For the record only (no assertion: it depends on timing): a
        // local read through the other server, right after the write, may
        // miss it; the linearizable read after it must not.
        if let Ok((local, _)) = reader
            .with_consistency(ReadConsistency::Local)
            .get_data(node)
            .await
        {
            if local != value.as_bytes() {
                stale_local += 1;
            }
        }
        let (data, _) = retrying("linearizable get", || reader.get_data(node)).await;
        assert_eq!(
            String::from_utf8(data).unwrap(),
            value,
            "iteration {i}: a linearizable read missed an acknowledged write"
        );
    }
    println!("{ITERATIONS} linearizable reads all fresh; local reads that lagged: {stale_local}");
    writer.close().await.ok();
    reader.close().await.ok();
}

#[test]
fn the_embedding_layer_reads_linearizably_when_asked() {
    let servers = ensemble();
    let options = |server: &ServerProcess, consistency| Options {
        connect_timeout: Some(WAIT),
        read_consistency: consistency,
        ..Options::new(&server.connect_string())
    };
    let writer = EmbeddedClient::connect_blocking(
        options(&servers[0], ReadConsistency::Local),
        Delivery::Queue,
    )
    .unwrap();
    let reader = EmbeddedClient::connect_blocking(
        options(&servers[2], ReadConsistency::Linearizable),
        Delivery::Queue,
    )
    .unwrap();
    assert_eq!(
        reader.client().unwrap().read_consistency(),
        ReadConsistency::Linearizable
    );
    writer
        .create("/embed-linearizable", b"0", CreateOptions::persistent())
        .wait(Some(WAIT))
        .unwrap();
    for i in 1..=50 {
        let value = i.to_string();
        writer
            .set_data("/embed-linearizable", value.as_bytes(), None)
            .wait(Some(WAIT))
            .unwrap();
        let (data, _) = reader
            .get_data("/embed-linearizable")
            .wait(Some(WAIT))
            .unwrap();
        assert_eq!(data, value.as_bytes(), "iteration {i}");
    }
    writer.close().wait(Some(WAIT)).unwrap();
    reader.close().wait(Some(WAIT)).unwrap();
}
