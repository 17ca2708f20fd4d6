//! TreeCache and Membership against a `corral-server` and an Apache
//! ZooKeeper process: the cache converges to the tree after many seeded
//! random writes, and again after a disconnection; a membership view
//! follows joins, payload changes and a member's session ending.

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};

use corral::client::{Client, CreateOptions, SessionState};
use corral::recipes::{CacheEvent, Membership, TreeCache};
use corral::Error;
use corral_tests::{
    against_both, connect, connector, eventually, shared_connect_string, unique_root, within,
    Proxy, ProxyMode, ServerKind,
};

const WRITES: usize = 300;

/// The subtree at `root` read directly: path to data.
async fn read_tree(client: &Client, root: &str) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(path) = pending.pop() {
        let Ok((data, _)) = client.get_data(&path).await else {
            continue;
        };
        for child in client.get_children(&path).await.unwrap_or_default() {
            pending.push(format!("{path}/{child}"));
        }
        out.insert(path, data);
    }
    out
}

fn cached(cache: &TreeCache) -> BTreeMap<String, Vec<u8>> {
    cache
        .snapshot()
        .into_iter()
        .map(|(path, node)| (path, node.data))
        .collect()
}

/// Seeded random creates, updates and deletes under `root`, three levels
/// deep.
async fn random_writes(client: &Client, root: &str, seed: u64, writes: usize) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    for i in 0..writes {
        let a = rng.gen_range(0..4);
        let b = rng.gen_range(0..4);
        let path = match rng.gen_range(0..3) {
            0 => format!("{root}/n{a}"),
            _ => format!("{root}/n{a}/m{b}"),
        };
        let data = format!("w{i}");
        let result = match rng.gen_range(0..4) {
            0 | 1 => client
                .create(&path, data.as_bytes(), &CreateOptions::persistent())
                .await
                .map(|_| ()),
            2 => client
                .set_data(&path, data.as_bytes(), None)
                .await
                .map(|_| ()),
            _ => client.delete(&path, None).await,
        };
        match result {
            Ok(())
            | Err(Error::NodeExists { .. })
            | Err(Error::NoNode { .. })
            | Err(Error::NotEmpty { .. }) => {}
            Err(err) => panic!("write {i} to {path}: {err}"),
        }
    }
}

async fn cache_converges(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let writer = connect(&connect_string).await;
    let reader = connect(&connect_string).await;
    let root = unique_root(&writer, "tree-cache").await;
    writer
        .create(
            &format!("{root}/n0"),
            b"start",
            &CreateOptions::persistent(),
        )
        .await
        .unwrap();
    let cache = TreeCache::start(&reader, &root).await.unwrap();
    assert_eq!(cache.get(&format!("{root}/n0")).unwrap().data, b"start");
    assert_eq!(cache.children(&root), ["n0"]);
    let mut events = cache.subscribe();

    let seed: u64 = rand::random();
    tracing::info!(seed, "--- random writes");
    random_writes(&writer, &root, seed, WRITES).await;
    let truth = read_tree(&writer, &root).await;
    eventually("the cache converges", || async { cached(&cache) == truth }).await;
    // Events were delivered for the writes.
    let first = within("an event", events.recv()).await.unwrap();
    assert!(matches!(
        first,
        CacheEvent::Created { .. } | CacheEvent::Changed { .. } | CacheEvent::Deleted { .. }
    ));
    cache.close().await;
    writer.close().await.unwrap();
    reader.close().await.unwrap();
}

async fn cache_reloads_after_disconnection(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let port: u16 = connect_string.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = Proxy::start(port).await;
    let writer = connect(&connect_string).await;
    let reader = connector(&proxy.connect_string()).connect().await.unwrap();
    let root = unique_root(&writer, "tree-cache-reconnect").await;
    let cache = TreeCache::start(&reader, &root).await.unwrap();
    let mut states = reader.state_watcher();

    tracing::info!("--- writes while the cache's client is cut off");
    {
        proxy.set_mode(ProxyMode::Refuse);
        within("disconnected", async {
            while states.changed().await != SessionState::Disconnected {}
        })
        .await;
        random_writes(&writer, &root, 7, 100).await;
        proxy.set_mode(ProxyMode::Pass);
    }
    let truth = read_tree(&writer, &root).await;
    eventually("the cache converges", || async { cached(&cache) == truth }).await;
    cache.close().await;
    writer.close().await.unwrap();
    reader.close().await.unwrap();
}

async fn membership(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let observer = connect(&connect_string).await;
    let root = unique_root(&observer, "membership").await;
    let path = format!("{root}/group");
    let group = Membership::new(&observer, &path);
    let mut view = group.watch();
    assert!(within("empty", view.changed()).await.unwrap().is_empty());

    let mut clients = Vec::new();
    let mut members = Vec::new();
    for i in 0..3 {
        let client = connect(&connect_string).await;
        let member = Membership::new(&client, &path)
            .join(&format!("m{i}"), format!("10.0.0.{i}:80").as_bytes())
            .await
            .unwrap();
        members.push(member);
        clients.push(client);
    }
    let expected: BTreeMap<String, Vec<u8>> = (0..3)
        .map(|i| (format!("m{i}"), format!("10.0.0.{i}:80").into_bytes()))
        .collect();
    within("three members", async {
        while view.changed().await.unwrap() != expected {}
    })
    .await;
    // Another session cannot take a live member's id.
    let taken = Membership::new(&observer, &path).join("m0", b"x").await;
    assert!(matches!(taken, Err(Error::NodeExists { .. })));

    tracing::info!("--- a payload changes, a member's session ends");
    {
        members[1].set_payload(b"10.0.0.1:81").await.unwrap();
        clients[2].close().await.unwrap();
        let mut expected = expected.clone();
        expected.remove("m2");
        expected.insert("m1".into(), b"10.0.0.1:81".to_vec());
        within("view follows", async {
            while view.changed().await.unwrap() != expected {}
        })
        .await;
        assert_eq!(group.members().await.unwrap(), expected);
    }
    let m0 = members.remove(0);
    m0.leave().await.unwrap();
    within("m0 left", async {
        while view.changed().await.unwrap().contains_key("m0") {}
    })
    .await;
    for client in &clients[..2] {
        client.close().await.unwrap();
    }
    observer.close().await.unwrap();
}

against_both!(
    cache_converges,
    cache_reloads_after_disconnection,
    membership
);
