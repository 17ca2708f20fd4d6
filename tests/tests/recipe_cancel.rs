//! Cancellation of every recipe acquire at random points, against a real
//! `corral-server`: each acquire (mutex, read and write lock, semaphore,
//! election campaign, leader latch start) is dropped after a seeded random
//! delay of 0-3 ms (0-15 ms for the semaphore's longer acquire), so
//! mid-create, mid-wait or after the grant, at least
//! 200 times, half of them while another session holds the lock. The
//! oracle: once the cleanups ran, no node of this session is left under
//! the recipe's path, and the lock is free for the next taker. A queue's
//! takes are cancelled likewise: every item put is taken exactly once.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use corral::client::Client;
use corral::recipes::{Election, LeaderLatch, Lease, Mutex, Queue, RwLock, Semaphore};
use corral_tests::{connect, eventually, shared_connect_string, unique_root, within, ServerKind};
use rand::{Rng, SeedableRng};

const RUNS: usize = 200;
const DELAY_MAX_MICROS: u64 = 3000;

fn seed() -> u64 {
    let seed = std::env::var("CORRAL_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("seed {seed} (CORRAL_TEST_SEED to replay)");
    seed
}

/// Every node under `path`, recursively (relative paths).
async fn nodes_under(client: &Client, path: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![path.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(children) = client.get_children(&dir).await else {
            continue;
        };
        for child in children {
            let full = format!("{dir}/{child}");
            found.push(full.clone());
            pending.push(full);
        }
    }
    found
}

/// Ephemeral nodes of `session` under `path`.
async fn ephemerals_of(client: &Client, path: &str, session: i64) -> Vec<String> {
    let mut owned = Vec::new();
    for node in nodes_under(client, path).await {
        if let Ok(Some(stat)) = client.exists(&node).await {
            if stat.ephemeral_owner == session {
                owned.push(node);
            }
        }
    }
    owned
}

/// Drops `acquire()` after random delays, `RUNS` times; the grants that
/// come through are released, dropped, or dropped on a thread with no
/// runtime, in turn. Then checks nothing of `client`'s session is left
/// under `path`.
async fn cancel_at_random_points<F, Fut>(
    what: &str,
    delay_max_micros: u64,
    client: &Client,
    blocker: impl Future<Output = Lease>,
    path: &str,
    mut acquire: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<Lease>>,
{
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let mut outcomes = BTreeMap::<&str, usize>::new();
    let mut blocker = Some(blocker.await);
    for run in 0..RUNS {
        if run == RUNS / 2 {
            // The second half runs with the lock free.
            let held = blocker.take().expect("blocker");
            held.release().await.unwrap();
        }
        let delay = Duration::from_micros(rng.gen_range(0..=delay_max_micros));
        match tokio::time::timeout(delay, acquire()).await {
            Err(_) => *outcomes.entry("cancelled").or_default() += 1,
            Ok(None) => *outcomes.entry("not granted").or_default() += 1,
            Ok(Some(lease)) => match run % 3 {
                0 => {
                    lease.release().await.unwrap();
                    *outcomes.entry("granted, released").or_default() += 1;
                }
                1 => {
                    drop(lease);
                    *outcomes.entry("granted, dropped").or_default() += 1;
                }
                _ => {
                    std::thread::spawn(move || drop(lease)).join().unwrap();
                    *outcomes
                        .entry("granted, dropped on a plain thread")
                        .or_default() += 1;
                }
            },
        }
    }
    println!("{what}: {outcomes:?}");
    let session = client.session().id;
    eventually(
        &format!("{what}: no node of the cancelled acquires left"),
        || async { ephemerals_of(client, path, session).await.is_empty() },
    )
    .await;
    // And the lock is free for the next taker.
    let lease = within(
        &format!("{what}: acquire after the cancellations"),
        acquire(),
    )
    .await
    .expect("granted");
    lease.release().await.unwrap();
    assert!(ephemerals_of(client, path, session).await.is_empty());
}

/// Two sessions on the shared Corral server: one cancels, the other holds
/// the recipe meanwhile.
async fn two_sessions() -> (Client, Client) {
    let connect_string = shared_connect_string(ServerKind::Corral).await;
    (
        connect(&connect_string).await,
        connect(&connect_string).await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_mutex_acquires_leave_no_node() {
    let (client, other) = two_sessions().await;
    let path = format!("{}/lock", unique_root(&client, "cancel-mutex").await);
    let blocker = async { Mutex::new(&other, &path).acquire().await.unwrap() };
    cancel_at_random_points("mutex", DELAY_MAX_MICROS, &client, blocker, &path, || {
        let mutex = Mutex::new(&client, &path);
        async move { mutex.acquire().await.ok() }
    })
    .await;
    client.close().await.unwrap();
    other.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_read_and_write_lock_acquires_leave_no_node() {
    let (client, other) = two_sessions().await;
    let path = format!("{}/rw", unique_root(&client, "cancel-rwlock").await);
    let blocker = async { RwLock::new(&other, &path).write().await.unwrap() };
    cancel_at_random_points(
        "write lock",
        DELAY_MAX_MICROS,
        &client,
        blocker,
        &path,
        || {
            let lock = RwLock::new(&client, &path);
            async move { lock.write().await.ok() }
        },
    )
    .await;
    let blocker = async { RwLock::new(&other, &path).write().await.unwrap() };
    cancel_at_random_points(
        "read lock",
        DELAY_MAX_MICROS,
        &client,
        blocker,
        &path,
        || {
            let lock = RwLock::new(&client, &path);
            async move { lock.read().await.ok() }
        },
    )
    .await;
    client.close().await.unwrap();
    other.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_semaphore_acquires_leave_no_node() {
    let (client, other) = two_sessions().await;
    let path = format!("{}/sem", unique_root(&client, "cancel-semaphore").await);
    // One lease: the other session's holds it for the first half.
    let blocker = async { Semaphore::new(&other, &path, 1).acquire().await.unwrap() };
    let semaphore = Semaphore::new(&client, &path, 1);
    cancel_at_random_points(
        "semaphore",
        5 * DELAY_MAX_MICROS,
        &client,
        blocker,
        &path,
        || async { semaphore.acquire().await.ok() },
    )
    .await;
    client.close().await.unwrap();
    other.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_campaigns_leave_no_node() {
    let (client, other) = two_sessions().await;
    let path = format!("{}/election", unique_root(&client, "cancel-election").await);
    let blocker = async {
        Election::new(&other, &path, "other")
            .campaign()
            .await
            .unwrap()
    };
    let election = Election::new(&client, &path, "me");
    cancel_at_random_points(
        "election",
        DELAY_MAX_MICROS,
        &client,
        blocker,
        &path,
        || async { election.campaign().await.ok() },
    )
    .await;
    client.close().await.unwrap();
    other.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_latch_starts_leave_no_node() {
    let connect_string = shared_connect_string(ServerKind::Corral).await;
    let client = connect(&connect_string).await;
    let path = format!("{}/latch", unique_root(&client, "cancel-latch").await);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let (mut cancelled, mut started) = (0, 0);
    for _ in 0..RUNS {
        let delay = Duration::from_micros(rng.gen_range(0..=DELAY_MAX_MICROS));
        match tokio::time::timeout(delay, LeaderLatch::start(&client, &path, "me")).await {
            Err(_) => cancelled += 1,
            Ok(latch) => {
                latch.unwrap().close().await.unwrap();
                started += 1;
            }
        }
    }
    println!("latch: cancelled {cancelled}, started and closed {started}");
    let session = client.session().id;
    eventually("latch: no node of the cancelled starts left", || async {
        ephemerals_of(&client, &path, session).await.is_empty()
    })
    .await;
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_takes_lose_no_item() {
    const ITEMS: usize = 150;
    let connect_string = shared_connect_string(ServerKind::Corral).await;
    let client = connect(&connect_string).await;
    let path = format!("{}/queue", unique_root(&client, "cancel-queue").await);
    let queue = Queue::new(&client, &path);
    for i in 0..ITEMS {
        queue.put(format!("item-{i:03}").as_bytes()).await.unwrap();
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed());
    let mut taken = Vec::new();
    let mut cancelled = 0;
    for _ in 0..RUNS {
        let delay = Duration::from_micros(rng.gen_range(0..=DELAY_MAX_MICROS));
        match tokio::time::timeout(delay, queue.take()).await {
            Err(_) => cancelled += 1,
            Ok(item) => taken.push(item.unwrap()),
        }
        if taken.len() == ITEMS {
            break;
        }
    }
    println!(
        "queue: {} taken by completed takes, {cancelled} takes cancelled",
        taken.len()
    );
    // What is left comes out too: nothing was lost to a cancelled take.
    while taken.len() < ITEMS {
        match within("take the rest", queue.take_timeout(Duration::from_secs(2))).await {
            Ok(Some(item)) => taken.push(item),
            Ok(None) => break,
            Err(e) => panic!("take: {e}"),
        }
    }
    let mut names: Vec<String> = taken
        .into_iter()
        .map(|i| String::from_utf8(i).unwrap())
        .collect();
    names.sort();
    let expected: Vec<String> = (0..ITEMS).map(|i| format!("item-{i:03}")).collect();
    assert_eq!(names, expected, "every item taken exactly once");
    assert!(queue.is_empty().await.unwrap());
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_lost_to_the_network_reports_an_unknown_outcome() {
    let server_port = corral_tests::shared_server(ServerKind::Corral).port();
    let proxy = corral_tests::Proxy::start(server_port).await;
    let client = corral_tests::connector(&proxy.connect_string())
        .request_timeout(Duration::from_millis(500))
        .connect()
        .await
        .unwrap();
    let observer = connect(&shared_connect_string(ServerKind::Corral).await).await;
    let path = format!("{}/queue", unique_root(&observer, "put-unknown").await);
    let queue = Queue::new(&client, &path);
    queue.put(b"before").await.unwrap();
    // A silent network: the put is sent (held by the proxy), no reply.
    proxy.set_mode(corral_tests::ProxyMode::Blackhole);
    let err = queue
        .put(b"maybe")
        .await
        .expect_err("no reply through a black hole");
    assert!(
        err.outcome_unknown(),
        "{err:?} must say the outcome is unknown"
    );
    assert!(err.is_retryable());
    // Not retried by the queue: at most one copy can ever appear.
    proxy.set_mode(corral_tests::ProxyMode::Pass);
    let reader = Queue::new(&observer, &path);
    assert_eq!(within("take", reader.take()).await.unwrap(), b"before");
    let mut maybe = 0;
    while let Some(item) = within("take", reader.take_timeout(Duration::from_secs(2)))
        .await
        .unwrap()
    {
        assert_eq!(item, b"maybe");
        maybe += 1;
    }
    assert!(maybe <= 1, "the put was duplicated ({maybe} copies)");
    println!(
        "the unknown put was {}applied",
        if maybe == 1 { "" } else { "not " }
    );
    client.close().await.ok();
    observer.close().await.unwrap();
}
