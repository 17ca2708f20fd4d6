//! Event delivery of the embedding layer against a real `corral-server`:
//! per-client order on the callback thread, a blocked callback that does
//! not stop the client, the bounded queue's overflow ending in one
//! resync, one-shot watches and their removal.

use std::sync::mpsc;
use std::time::Duration;

use corral::client::{CreateOptions, SessionState, WatchedEvent};
use corral::proto::{AddWatchMode, EventType};
use corral::recipes::{CacheEvent, LatchState, LeaderLatch, LostReason, Mutex, TreeCache};
use corral_embed::{runtime, Delivery, EmbeddedClient, Event, Options};
use corral_tests::{shared_server, unique_name, ServerKind, WAIT};

fn options(capacity: usize) -> Options {
    Options {
        session_timeout: Some(Duration::from_secs(10)),
        request_timeout: Some(Duration::from_secs(10)),
        connect_timeout: Some(WAIT),
        event_capacity: capacity,
        ..Options::new(&shared_server(ServerKind::Corral).connect_string())
    }
}

fn root(client: &EmbeddedClient, test: &str) -> String {
    let path = format!("/{}", unique_name(test));
    client
        .create(&path, b"", CreateOptions::persistent())
        .wait(Some(WAIT))
        .expect("create the test root");
    path
}

fn created(event: &Event) -> Option<String> {
    match event {
        Event::Watch {
            event:
                WatchedEvent {
                    event_type: EventType::NodeCreated,
                    path,
                    ..
                },
            ..
        } => Some(path.clone()),
        _ => None,
    }
}

#[test]
fn callbacks_run_in_order_on_the_clients_own_thread() {
    const CHILDREN: usize = 100;
    let (tx, rx) = mpsc::channel();
    let callback = move |event: Event| {
        let thread = std::thread::current().name().map(str::to_owned);
        let _ = tx.send((event, thread, runtime::on_runtime_thread()));
    };
    let client =
        EmbeddedClient::connect_blocking(options(4096), Delivery::Callback(Box::new(callback)))
            .unwrap();
    assert!(
        client.events().is_none(),
        "the delivery thread owns the queue"
    );
    let root = root(&client, "embed-order");
    let watch = client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .wait(Some(WAIT))
        .unwrap();
    for i in 0..CHILDREN {
        client
            .create(&format!("{root}/c{i:03}"), b"", CreateOptions::persistent())
            .wait(Some(WAIT))
            .unwrap();
    }
    let mut first = true;
    let mut paths = Vec::new();
    while paths.len() < CHILDREN {
        let (event, thread, on_runtime) = rx.recv_timeout(WAIT).expect("an event");
        assert_eq!(thread.as_deref(), Some("corral-events"));
        assert!(!on_runtime);
        if first {
            assert_eq!(event, Event::Session(SessionState::Connected));
            first = false;
            continue;
        }
        match &event {
            Event::Watch { watch: id, .. } => assert_eq!(*id, watch),
            other => panic!("unexpected {other:?}"),
        }
        paths.push(created(&event).expect("a NodeCreated event"));
    }
    let expected: Vec<String> = (0..CHILDREN).map(|i| format!("{root}/c{i:03}")).collect();
    assert_eq!(
        paths, expected,
        "events arrive in the order the creates applied"
    );
    client.close().wait(Some(WAIT)).unwrap();
    // The queue ends with the closed state, delivered on the same thread.
    let rest: Vec<Event> = std::iter::from_fn(|| rx.recv_timeout(WAIT).ok().map(|e| e.0)).collect();
    assert_eq!(
        rest.last(),
        Some(&Event::Session(SessionState::Closed)),
        "{rest:?}"
    );
}

#[test]
fn a_blocked_callback_does_not_stop_the_client() {
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let (seen_tx, seen_rx) = mpsc::channel();
    let callback = move |event: Event| {
        if created(&event).is_some() {
            // The first node event blocks delivery until the test opens
            // the gate (a callback stuck on the GIL, say).
            let _ = gate_rx.recv();
        }
        let _ = seen_tx.send(event);
    };
    let client =
        EmbeddedClient::connect_blocking(options(4096), Delivery::Callback(Box::new(callback)))
            .unwrap();
    let root = root(&client, "embed-blocked");
    client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .wait(Some(WAIT))
        .unwrap();
    client
        .create(&format!("{root}/first"), b"", CreateOptions::persistent())
        .wait(Some(WAIT))
        .unwrap();
    // While the callback is blocked, calls go on being answered.
    for i in 0..50 {
        let path = format!("{root}/n{i}");
        client
            .create(&path, b"", CreateOptions::persistent())
            .wait(Some(WAIT))
            .unwrap();
        assert!(client.exists(&path).wait(Some(WAIT)).unwrap().is_some());
    }
    assert!(client.state().unwrap().is_connected());
    // Only the connected state got through so far.
    assert_eq!(
        seen_rx.recv_timeout(WAIT).unwrap(),
        Event::Session(SessionState::Connected)
    );
    assert!(seen_rx.try_recv().is_err());
    // Opening the gate (one recv per blocked node event) lets every event
    // through, in order.
    let mut paths = Vec::new();
    while paths.len() < 51 {
        let _ = gate_tx.send(());
        if let Some(path) = created(&seen_rx.recv_timeout(WAIT).unwrap()) {
            paths.push(path);
        }
    }
    assert_eq!(paths[0], format!("{root}/first"));
    assert_eq!(paths[50], format!("{root}/n49"));
    drop(gate_tx);
    client.close().wait(Some(WAIT)).unwrap();
}

#[test]
fn a_full_queue_ends_in_one_resync_then_delivers_again() {
    const CAPACITY: usize = 4;
    let client = EmbeddedClient::connect_blocking(options(CAPACITY), Delivery::Queue).unwrap();
    let events = client.events().unwrap().clone();
    let root = root(&client, "embed-overflow");
    client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .wait(Some(WAIT))
        .unwrap();
    // Far more events than the queue holds, none taken meanwhile.
    for i in 0..40 {
        client
            .create(&format!("{root}/c{i:02}"), b"", CreateOptions::persistent())
            .wait(Some(WAIT))
            .unwrap();
    }
    // The 40th event may still be on its way; the queue is full once
    // CAPACITY are in, and stays bounded.
    let mut taken = Vec::new();
    loop {
        match events
            .next(Some(WAIT))
            .unwrap()
            .expect("an event or a resync")
        {
            Event::Resync => break,
            event => taken.push(event),
        }
        assert!(
            taken.len() <= CAPACITY,
            "more than the capacity before the resync: {taken:?}"
        );
    }
    assert_eq!(taken.len(), CAPACITY, "the queue was full: {taken:?}");
    assert_eq!(taken[0], Event::Session(SessionState::Connected));
    let first: Vec<String> = taken[1..].iter().map(|e| created(e).unwrap()).collect();
    assert_eq!(first, [0, 1, 2].map(|i| format!("{root}/c{i:02}")));
    // After the resync, new events are delivered again (and no second
    // resync comes for the ones already covered).
    let after = format!("{root}/after");
    client
        .create(&after, b"", CreateOptions::persistent())
        .wait(Some(WAIT))
        .unwrap();
    let mut resyncs = 0;
    loop {
        let event = events
            .next(Some(WAIT))
            .unwrap()
            .expect("the event of the new node");
        if event == Event::Resync {
            resyncs += 1;
        } else if created(&event).as_deref() == Some(after.as_str()) {
            break;
        }
    }
    // Events still in flight when the first resync was taken may have
    // overflowed again only if the queue filled up again, which 36 late
    // events at most cannot do past one more resync per capacity.
    assert!(resyncs <= 36 / CAPACITY, "resyncs {resyncs}");
    assert_eq!(
        events.next(Some(Duration::ZERO)).unwrap(),
        None,
        "nothing else queued"
    );
    client.close().wait(Some(WAIT)).unwrap();
}

#[test]
fn one_shot_watches_and_removal() {
    let client = EmbeddedClient::connect_blocking(options(64), Delivery::Queue).unwrap();
    let events = client.events().unwrap().clone();
    assert_eq!(
        events.next(Some(WAIT)).unwrap(),
        Some(Event::Session(SessionState::Connected))
    );
    let root = root(&client, "embed-oneshot");
    let (data, _, watch) = client.get_and_watch_data(&root).wait(Some(WAIT)).unwrap();
    assert!(data.is_empty());
    client.set_data(&root, b"1", None).wait(Some(WAIT)).unwrap();
    match events.next(Some(WAIT)).unwrap().unwrap() {
        Event::Watch { watch: id, event } => {
            assert_eq!(
                (id, event.event_type, event.path.as_str()),
                (watch, EventType::NodeDataChanged, root.as_str())
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // One-shot: a second change fires nothing.
    client.set_data(&root, b"2", None).wait(Some(WAIT)).unwrap();
    // A removed persistent watch delivers nothing more.
    let persistent = client
        .add_watch(&root, AddWatchMode::Persistent)
        .wait(Some(WAIT))
        .unwrap();
    client.remove_watch(persistent);
    client.set_data(&root, b"3", None).wait(Some(WAIT)).unwrap();
    // A watch set afterwards fires: everything queued before it is known.
    let (_, _, last) = client.get_and_watch_data(&root).wait(Some(WAIT)).unwrap();
    client.set_data(&root, b"4", None).wait(Some(WAIT)).unwrap();
    match events.next(Some(WAIT)).unwrap().unwrap() {
        Event::Watch { watch: id, .. } => assert_eq!(id, last, "only the last watch fired"),
        other => panic!("unexpected {other:?}"),
    }
    client.close().wait(Some(WAIT)).unwrap();
    assert_eq!(
        events.next(Some(WAIT)).unwrap(),
        Some(Event::Session(SessionState::Closed))
    );
    assert!(
        events.next(Some(WAIT)).is_err(),
        "the queue ends after close"
    );
}

#[test]
fn lease_loss_is_an_event_and_a_lease_dropped_here_releases() {
    let client = EmbeddedClient::connect_blocking(options(64), Delivery::Queue).unwrap();
    let other = EmbeddedClient::connect_blocking(options(64), Delivery::Queue).unwrap();
    let events = client.events().unwrap().clone();
    let root = root(&client, "embed-lease");
    let lock_path = format!("{root}/lock");
    let acquire = |client: &EmbeddedClient| {
        let path = lock_path.clone();
        client
            .call(|c| async move { Mutex::new(&c, &path).acquire().await })
            .wait(Some(WAIT))
            .unwrap()
    };
    let lease = acquire(&client);
    let watch = client.watch_lease(&lease).unwrap();
    other.delete(lease.path(), None).wait(Some(WAIT)).unwrap();
    let lost = loop {
        match events.next(Some(WAIT)).unwrap().expect("the loss") {
            Event::LeaseLost {
                watch: id,
                path,
                reason,
            } => break (id, path, reason),
            Event::Session(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(
        lost,
        (watch, lease.path().to_owned(), LostReason::NodeDeleted)
    );
    drop(lease);

    // A lease dropped on this plain thread (no runtime) releases: the
    // other client gets the lock.
    let lease = acquire(&client);
    let node = lease.path().to_owned();
    drop(lease);
    let theirs = acquire(&other);
    assert_ne!(theirs.path(), node);
    assert_eq!(client.exists(&node).wait(Some(WAIT)).unwrap(), None);
    drop(theirs);
    client.close().wait(Some(WAIT)).unwrap();
    other.close().wait(Some(WAIT)).unwrap();
}

#[test]
fn events_of_different_watches_keep_the_clients_order() {
    const ROUNDS: usize = 100;
    let (tx, rx) = mpsc::channel();
    let callback = move |event: Event| {
        let _ = tx.send(event);
    };
    let client =
        EmbeddedClient::connect_blocking(options(4096), Delivery::Callback(Box::new(callback)))
            .unwrap();
    let root = root(&client, "embed-total-order");
    let (a, b) = (format!("{root}/a"), format!("{root}/b"));
    for node in [&a, &b] {
        client
            .create(node, b"", CreateOptions::persistent())
            .wait(Some(WAIT))
            .unwrap();
    }
    // Three separate watches: a persistent one on each node and one-shot
    // data watches on b, renewed each round.
    let on_a = client
        .add_watch(&a, AddWatchMode::Persistent)
        .wait(Some(WAIT))
        .unwrap();
    let on_b = client
        .add_watch(&b, AddWatchMode::Persistent)
        .wait(Some(WAIT))
        .unwrap();
    let mut expected = Vec::new();
    for i in 0..ROUNDS {
        let (_, _, once) = client.get_and_watch_data(&b).wait(Some(WAIT)).unwrap();
        // One transaction changes a then b: the server sends a's event,
        // then b's (to both of b's watches), in one burst.
        let value = i.to_string();
        let (a2, b2, v) = (a.clone(), b.clone(), value.clone());
        client
            .call(move |c| async move {
                c.multi()
                    .set_data(&a2, v.as_bytes(), None)
                    .set_data(&b2, v.as_bytes(), None)
                    .commit()
                    .await
            })
            .wait(Some(WAIT))
            .unwrap();
        // b's one-shot watch was set before b's persistent one fires
        // second in registry order; what matters is a before b.
        expected.push((on_a, a.clone()));
        expected.push((once, b.clone()));
        expected.push((on_b, b.clone()));
    }
    let mut seen = Vec::new();
    while seen.len() < expected.len() {
        match rx.recv_timeout(WAIT).expect("an event") {
            Event::Watch { watch, event } => {
                assert_eq!(event.event_type, EventType::NodeDataChanged);
                seen.push((watch, event.path));
            }
            Event::Session(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // Per round: a's event first, then b's two (in either registry order).
    for (round, (got, want)) in seen.chunks(3).zip(expected.chunks(3)).enumerate() {
        assert_eq!(
            got[0], want[0],
            "round {round}: a's event must come first: {got:?}"
        );
        let mut got_b = got[1..].to_vec();
        let mut want_b = want[1..].to_vec();
        got_b.sort();
        want_b.sort();
        assert_eq!(got_b, want_b, "round {round}");
    }
    client.close().wait(Some(WAIT)).unwrap();
}

#[test]
fn leadership_and_cache_changes_are_events() {
    let client = EmbeddedClient::connect_blocking(options(256), Delivery::Queue).unwrap();
    let other = EmbeddedClient::connect_blocking(options(256), Delivery::Queue).unwrap();
    let events = client.events().unwrap().clone();
    let root = root(&client, "embed-recipes");
    let (latch_path, cache_root) = (format!("{root}/latch"), format!("{root}/cache"));
    client
        .create(&cache_root, b"", CreateOptions::persistent())
        .wait(Some(WAIT))
        .unwrap();
    // The other client leads first; ours follows, then leads once the
    // other's latch closes.
    let first = {
        let path = latch_path.clone();
        other
            .call(|c| async move {
                let latch = LeaderLatch::start(&c, &path, "other").await?;
                latch.wait_leadership().await?;
                Ok(latch)
            })
            .wait(Some(WAIT))
            .unwrap()
    };
    let ours = {
        let path = latch_path.clone();
        client
            .call(|c| async move { LeaderLatch::start(&c, &path, "me").await })
            .wait(Some(WAIT))
            .unwrap()
    };
    let latch_watch = client.watch_latch(&ours).unwrap();
    let cache = {
        let path = cache_root.clone();
        client
            .call(|c| async move { TreeCache::start(&c, &path).await })
            .wait(Some(WAIT))
            .unwrap()
    };
    let cache_watch = client.watch_cache(&cache).unwrap();
    other
        .call(move |_| async move { first.close().await })
        .wait(Some(WAIT))
        .unwrap();
    client
        .create(
            &format!("{cache_root}/x"),
            b"1",
            CreateOptions::persistent(),
        )
        .wait(Some(WAIT))
        .unwrap();
    let (mut led, mut followed, mut cached) = (false, false, false);
    while !(led && cached) {
        match events.next(Some(WAIT)).unwrap().expect("an event") {
            Event::Leadership { watch, state } => {
                assert_eq!(watch, latch_watch);
                match state {
                    LatchState::Follower => followed = true,
                    LatchState::Leader { fencing_token } => {
                        assert!(followed, "followed before leading");
                        assert!(fencing_token > 0);
                        led = true;
                    }
                    LatchState::Closed => panic!("our latch closed"),
                }
            }
            Event::Cache { watch, event } => {
                assert_eq!(watch, cache_watch);
                if event
                    == (CacheEvent::Created {
                        path: format!("{cache_root}/x"),
                    })
                {
                    cached = true;
                }
            }
            Event::Session(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    drop(cache);
    client
        .call(move |_| async move { ours.close().await })
        .wait(Some(WAIT))
        .unwrap();
    client.close().wait(Some(WAIT)).unwrap();
    other.close().wait(Some(WAIT)).unwrap();
}
