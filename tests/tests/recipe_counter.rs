//! SharedCount, Barrier, DoubleBarrier and Semaphore against a
//! `corral-server` and an Apache ZooKeeper process, with oracles: no lost
//! increment under concurrency, nobody passes a raised barrier, all enter
//! and leave together, never more lease holders than leases.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corral::recipes::{encode_count, Barrier, DoubleBarrier, Semaphore, SharedCount};
use corral_tests::{
    against_both, connect, eventually, shared_connect_string, unique_root, within, ServerKind,
};

const WORKERS: usize = 4;
const INCREMENTS: usize = 25;

async fn counter_under_concurrency(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let admin = connect(&connect_string).await;
    let root = unique_root(&admin, "counter").await;
    let path = format!("{root}/counters/c");
    let count = SharedCount::start(&admin, &path, 5).await.unwrap();
    let (data, _) = admin.get_data(&path).await.unwrap();
    assert_eq!(data, encode_count(5));
    // start keeps an existing count.
    SharedCount::start(&admin, &path, 99).await.unwrap();
    assert_eq!(count.get().await.unwrap().value, 5);

    let mut tasks = Vec::new();
    for _ in 0..WORKERS {
        let client = connect(&connect_string).await;
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            let count = SharedCount::start(&client, &path, 0).await.unwrap();
            let mut results = Vec::new();
            for _ in 0..INCREMENTS {
                results.push(count.add(1).await.unwrap());
            }
            client.close().await.unwrap();
            results
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(within("increments", task).await.unwrap());
    }
    all.sort();
    // Every add returned a distinct value: no increment was lost.
    let expected: Vec<i32> = (6..6 + (WORKERS * INCREMENTS) as i32).collect();
    assert_eq!(all, expected);
    let final_value = count.get().await.unwrap();
    assert_eq!(final_value.value, 5 + (WORKERS * INCREMENTS) as i32);

    // Compare-and-set: a stale version loses.
    assert!(count.try_set(final_value, 1000).await.unwrap());
    assert!(!count.try_set(final_value, 2000).await.unwrap());
    let waiter = {
        let count = count.clone();
        let known = count.get().await.unwrap();
        tokio::spawn(async move { count.changed(known).await })
    };
    count.set(7).await.unwrap();
    assert_eq!(within("changed", waiter).await.unwrap().unwrap().value, 7);
    admin.close().await.unwrap();
}

async fn barrier(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let controller = connect(&connect_string).await;
    let root = unique_root(&controller, "barrier").await;
    let path = format!("{root}/gate/b");
    let gate = Barrier::new(&controller, &path);
    // Not raised: waiting passes.
    within("open gate", gate.wait()).await.unwrap();
    gate.set().await.unwrap();
    gate.set().await.unwrap();
    assert!(gate.is_set().await.unwrap());
    let passed = Arc::new(AtomicUsize::new(0));
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let client = connect(&connect_string).await;
        let (path, passed) = (path.clone(), passed.clone());
        waiters.push(tokio::spawn(async move {
            Barrier::new(&client, &path).wait().await.unwrap();
            passed.fetch_add(1, Ordering::SeqCst);
            client.close().await.unwrap();
        }));
    }
    assert!(!gate.wait_timeout(Duration::from_millis(200)).await.unwrap());
    assert_eq!(
        passed.load(Ordering::SeqCst),
        0,
        "nobody passes a raised barrier"
    );
    gate.remove().await.unwrap();
    for waiter in waiters {
        within("waiter", waiter).await.unwrap();
    }
    assert_eq!(passed.load(Ordering::SeqCst), 3);
    controller.close().await.unwrap();
}

async fn double_barrier(kind: ServerKind) {
    const MEMBERS: usize = 3;
    let connect_string = shared_connect_string(kind).await;
    let admin = connect(&connect_string).await;
    let root = unique_root(&admin, "double-barrier").await;
    let path = format!("{root}/db");
    let entered = Arc::new(AtomicUsize::new(0));
    let left = Arc::new(AtomicUsize::new(0));
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let client = connect(&connect_string).await;
        let (member_path, entered, left) = (path.clone(), entered.clone(), left.clone());
        members.push(tokio::spawn(async move {
            let barrier = DoubleBarrier::new(&client, &member_path, MEMBERS);
            entered.fetch_add(1, Ordering::SeqCst);
            barrier.enter().await.unwrap();
            // Nobody gets through before everyone arrived.
            assert_eq!(entered.load(Ordering::SeqCst), MEMBERS);
            left.fetch_add(1, Ordering::SeqCst);
            barrier.leave().await.unwrap();
            // Nobody finishes leaving before everyone started to.
            assert_eq!(left.load(Ordering::SeqCst), MEMBERS);
            client.close().await.unwrap();
        }));
        if i + 1 == MEMBERS {
            break;
        }
        // Stagger arrivals so that early members really wait.
        eventually("member arrived", || async {
            admin
                .get_children(&path)
                .await
                .map(|c| c.len() >= members.len())
                .unwrap_or(false)
        })
        .await;
    }
    for member in members {
        within("member", member).await.unwrap();
    }
    let rest = admin.get_children(&path).await.unwrap_or_default();
    assert!(rest.is_empty(), "{rest:?}");
    admin.close().await.unwrap();
}

async fn semaphore(kind: ServerKind) {
    const LEASES: usize = 2;
    const CLIENTS: usize = 5;
    let connect_string = shared_connect_string(kind).await;
    let admin = connect(&connect_string).await;
    let root = unique_root(&admin, "semaphore").await;
    let path = format!("{root}/sem");
    let holders = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let client = connect(&connect_string).await;
        let (path, holders, most) = (path.clone(), holders.clone(), most.clone());
        tasks.push(tokio::spawn(async move {
            let semaphore = Semaphore::new(&client, &path, LEASES);
            for _ in 0..4 {
                let lease = semaphore.acquire().await.unwrap();
                let now = holders.fetch_add(1, Ordering::SeqCst) + 1;
                assert!(now <= LEASES, "{now} holders of {LEASES} leases");
                most.fetch_max(now, Ordering::SeqCst);
                tokio::task::yield_now().await;
                holders.fetch_sub(1, Ordering::SeqCst);
                lease.release().await.unwrap();
            }
            client.close().await.unwrap();
        }));
    }
    for task in tasks {
        within("semaphore user", task).await.unwrap();
    }
    assert!(most.load(Ordering::SeqCst) >= 1);

    // Curator's layout, and a timeout when full.
    let semaphore = Semaphore::new(&admin, &path, LEASES);
    let a = semaphore.acquire().await.unwrap();
    let b = semaphore.acquire().await.unwrap();
    assert!(a.path().starts_with(&format!("{path}/leases/_c_")));
    assert!(a.path().contains("-lease-"));
    assert!(b.fencing_token() > a.fencing_token());
    assert!(semaphore
        .try_acquire(Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());
    assert_eq!(semaphore.lease_nodes().await.unwrap().len(), 2);
    a.release().await.unwrap();
    let c = within("freed lease", semaphore.acquire()).await.unwrap();
    c.release().await.unwrap();
    b.release().await.unwrap();
    admin.close().await.unwrap();
}

against_both!(
    counter_under_concurrency,
    barrier,
    double_barrier,
    semaphore
);
