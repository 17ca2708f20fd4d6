//! The mutex and read-write lock recipes against a `corral-server` and an
//! Apache ZooKeeper process: mutual exclusion under contention (oracle: a
//! holder count and a versioned znode counter checked inside the critical
//! section), fencing tokens that grow with each holder, take-over when a
//! holder's session is closed or expires, timeouts, loss signals, and
//! Curator's node names.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corral::client::{CreateOptions, SessionState};
use corral::recipes::{protected_id, LostReason, Mutex, RwLock};
use corral_tests::{
    against_both, connect, connector, eventually, shared_connect_string, unique_root, within,
    Proxy, ProxyMode, ServerKind,
};

const CLIENTS: usize = 5;
const ROUNDS: usize = 6;

async fn mutual_exclusion(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let admin = connect(&connect_string).await;
    let root = unique_root(&admin, "mutex").await;
    let counter = format!("{root}/counter");
    admin
        .create(&counter, b"0", &CreateOptions::persistent())
        .await
        .unwrap();
    let lock_path = format!("{root}/lock");

    let holders = Arc::new(AtomicUsize::new(0));
    let tokens = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let client = connect(&connect_string).await;
        let (holders, tokens) = (holders.clone(), tokens.clone());
        let (lock_path, counter) = (lock_path.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            let mutex = Mutex::new(&client, &lock_path);
            for _ in 0..ROUNDS {
                let lease = within("acquire", mutex.acquire()).await.unwrap();
                assert_eq!(holders.fetch_add(1, Ordering::SeqCst), 0, "two holders");
                tokens.lock().unwrap().push(lease.fencing_token());
                // A read-modify-write that only succeeds if nobody else
                // wrote in between: under the lock it never conflicts.
                let (data, stat) = client.get_data(&counter).await.unwrap();
                let n: u64 = String::from_utf8(data).unwrap().parse().unwrap();
                tokio::task::yield_now().await;
                client
                    .set_data(&counter, (n + 1).to_string().as_bytes(), Some(stat.version))
                    .await
                    .expect("no concurrent writer under the lock");
                assert_eq!(holders.fetch_sub(1, Ordering::SeqCst), 1);
                lease.release().await.unwrap();
            }
            client.close().await.unwrap();
        }));
    }
    for task in tasks {
        within("a contender", task).await.unwrap();
    }
    let (data, _) = admin.get_data(&counter).await.unwrap();
    assert_eq!(data, (CLIENTS * ROUNDS).to_string().as_bytes());
    let tokens = tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), CLIENTS * ROUNDS);
    assert!(
        tokens.windows(2).all(|w| w[0] < w[1]),
        "fencing tokens grow with each holder: {tokens:?}"
    );
    let left = admin.get_children(&lock_path).await.unwrap();
    assert!(left.is_empty(), "released nodes are gone: {left:?}");
    admin.close().await.unwrap();
}

async fn curator_node_names(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "mutex-names").await;
    // The lock's parents do not exist: they are created as containers.
    let lock_path = format!("{root}/a/b/lock");
    let lease = Mutex::new(&client, &lock_path)
        .with_data(b"10.0.0.1")
        .acquire()
        .await
        .unwrap();
    let children = client.get_children(&lock_path).await.unwrap();
    assert_eq!(children.len(), 1);
    let name = &children[0];
    let uuid = protected_id(name).expect("protected name");
    assert_eq!(name, &format!("_c_{uuid}-lock-0000000000"));
    let (data, stat) = client.get_data(lease.path()).await.unwrap();
    assert_eq!(data, b"10.0.0.1");
    assert_eq!(stat.ephemeral_owner, client.session().id);
    assert_eq!(lease.fencing_token(), stat.czxid);
    let (_, parent) = client.get_data(&lock_path).await.unwrap();
    assert_eq!(parent.ephemeral_owner, 0);
    lease.release().await.unwrap();
    client.close().await.unwrap();
}

async fn next_holder_after_close(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let first = connect(&connect_string).await;
    let second = connect(&connect_string).await;
    let root = unique_root(&first, "mutex-close").await;
    let lock_path = format!("{root}/lock");

    let lease = Mutex::new(&first, &lock_path).acquire().await.unwrap();
    let first_token = lease.fencing_token();
    let waiting = {
        let mutex = Mutex::new(&second, &lock_path);
        tokio::spawn(async move { mutex.acquire().await })
    };
    let mutex = Mutex::new(&second, &lock_path);
    eventually("the second contender queued", || async {
        mutex.participant_nodes().await.unwrap().len() == 2
    })
    .await;

    tracing::info!("--- close the holder's session");
    {
        first.close().await.unwrap();
        assert_eq!(
            within("lost", lease.lost()).await,
            LostReason::SessionEnded(SessionState::Closed)
        );
        let next = within("take-over", waiting).await.unwrap().unwrap();
        assert!(next.fencing_token() > first_token);
        next.release().await.unwrap();
    }
    second.close().await.unwrap();
}

async fn next_holder_after_expiry(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let port: u16 = connect_string.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = Proxy::start(port).await;
    let first = connector(&proxy.connect_string())
        .session_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    let second = connect(&connect_string).await;
    let root = unique_root(&second, "mutex-expiry").await;
    let lock_path = format!("{root}/lock");

    let lease = Mutex::new(&first, &lock_path).acquire().await.unwrap();
    let first_token = lease.fencing_token();
    let waiting = {
        let mutex = Mutex::new(&second, &lock_path);
        tokio::spawn(async move { mutex.acquire().await })
    };

    tracing::info!("--- cut the holder off until its session expires");
    {
        proxy.set_mode(ProxyMode::Blackhole);
        let next = within("take-over", waiting).await.unwrap().unwrap();
        assert!(next.fencing_token() > first_token);
        proxy.set_mode(ProxyMode::Pass);
        assert_eq!(
            within("lost", lease.lost()).await,
            LostReason::SessionEnded(SessionState::Expired)
        );
        next.release().await.unwrap();
    }
    second.close().await.unwrap();
}

async fn timeout_and_deletion(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let other = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "mutex-timeout").await;
    let lock_path = format!("{root}/lock");
    let mutex = Mutex::new(&client, &lock_path);
    let lease = mutex.acquire().await.unwrap();

    // Busy: the other client gives up and leaves no node behind.
    let theirs = Mutex::new(&other, &lock_path);
    let attempt = theirs
        .try_acquire(Duration::from_millis(300))
        .await
        .unwrap();
    assert!(attempt.is_none());
    assert_eq!(
        mutex.participant_nodes().await.unwrap(),
        vec![lease.path().to_owned()]
    );

    // An administrator deletes the holder's node: the holder learns it.
    other.delete(lease.path(), None).await.unwrap();
    assert_eq!(within("lost", lease.lost()).await, LostReason::NodeDeleted);
    let again = within("free", theirs.acquire()).await.unwrap();
    assert!(again.fencing_token() > lease.fencing_token());
    drop(lease);
    again.release().await.unwrap();
    client.close().await.unwrap();
    other.close().await.unwrap();
}

async fn read_write_lock(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let a = connect(&connect_string).await;
    let b = connect(&connect_string).await;
    let root = unique_root(&a, "rwlock").await;
    let path = format!("{root}/rw");
    let lock_a = RwLock::new(&a, &path);
    let lock_b = RwLock::new(&b, &path);

    // Readers share.
    let r1 = lock_a.read().await.unwrap();
    let r2 = within("shared read", lock_b.read()).await.unwrap();
    // A writer waits for both.
    let writer = {
        let lock = lock_b.clone();
        tokio::spawn(async move { lock.write().await })
    };
    eventually("the writer queued", || async {
        lock_a.participant_nodes().await.unwrap().len() == 3
    })
    .await;
    // A later reader queues behind the waiting writer.
    assert!(lock_a
        .try_read(Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());
    let names = lock_a.participant_nodes().await.unwrap();
    assert!(names[0].contains("-__READ__0"));
    assert!(names[2].contains("-__WRIT__0"));
    r1.release().await.unwrap();
    assert!(!writer.is_finished(), "a reader still holds");
    r2.release().await.unwrap();
    let w = within("write", writer).await.unwrap().unwrap();
    assert!(w.fencing_token() > 0);
    // While writing, nobody reads.
    assert!(lock_a
        .try_read(Duration::from_millis(200))
        .await
        .unwrap()
        .is_none());
    w.release().await.unwrap();
    let r3 = within("read after write", lock_a.read()).await.unwrap();
    r3.release().await.unwrap();
    a.close().await.unwrap();
    b.close().await.unwrap();
}

against_both!(
    mutual_exclusion,
    curator_node_names,
    next_holder_after_close,
    next_holder_after_expiry,
    timeout_and_deletion,
    read_write_lock,
);
