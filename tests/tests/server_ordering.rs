//! Per-session order under concurrent load: with many sessions pipelining
//! writes and reads into the same batches, every read sees exactly its own
//! session's writes that came before it — never a later one — and no
//! session is dropped. Run against both servers: this is what ZooKeeper
//! guarantees and what clients such as Curator rely on.

use corral::client::CreateOptions;
use corral::Client;
use corral_tests::{against_both, connect, shared_connect_string, unique_root, ServerKind};

const SESSIONS: usize = 8;

/// One request of a session's pipeline: a set (None) or a get (its data).
type Step = std::pin::Pin<Box<dyn std::future::Future<Output = Option<Vec<u8>>> + Send>>;
const ROUNDS: u32 = 60;

/// One session: `set(k)`, `get`, `set(k+1)`, `get` ... all in flight at
/// once. Each get must return the value of the set just before it.
async fn session(client: Client, path: String) {
    let mut sets = Vec::new();
    let mut gets = Vec::new();
    for k in 0..ROUNDS {
        let c = client.clone();
        let p = path.clone();
        sets.push(async move { c.set_data(&p, &k.to_be_bytes(), None).await });
        let c = client.clone();
        let p = path.clone();
        gets.push(async move { c.get_data(&p).await });
    }
    // Interleave the futures in request order and drive them together: the
    // client sends each request when first polled, in this order.
    let mut ordered: Vec<Step> = Vec::new();
    for (set, get) in sets.into_iter().zip(gets) {
        ordered.push(Box::pin(async move {
            set.await.expect("set");
            None
        }));
        ordered.push(Box::pin(async move { Some(get.await.expect("get").0) }));
    }
    let results = futures::future::join_all(ordered).await;
    let reads: Vec<u32> = results
        .into_iter()
        .flatten()
        .map(|d| u32::from_be_bytes(d.try_into().expect("4 bytes")))
        .collect();
    assert_eq!(reads, (0..ROUNDS).collect::<Vec<_>>(), "{path}");
}

async fn reads_see_exactly_the_writes_before_them(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let admin = connect(&connect_string).await;
    let root = unique_root(&admin, "ordering").await;
    let mut tasks = Vec::new();
    for i in 0..SESSIONS {
        let path = format!("{root}/s{i}");
        admin
            .create(&path, b"", &CreateOptions::persistent())
            .await
            .unwrap();
        let client = connect(&connect_string).await;
        tasks.push(tokio::spawn(session(client, path)));
    }
    for t in tasks {
        t.await.expect("session task");
    }
    admin.close().await.unwrap();
}

against_both!(reads_see_exactly_the_writes_before_them);
