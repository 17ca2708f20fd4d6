//! Watches as values: one-shot watches of each kind, persistent and
//! recursive watches, removal, drop, and event order, against a
//! `corral-server` and an Apache ZooKeeper process.

use futures::{FutureExt, StreamExt};

use corral::client::{Client, CreateOptions, WatchedEvent};
use corral::proto::{AddWatchMode, EventType, KeeperState, WatcherType};
use corral::Error;
use corral_tests::{
    against_both, blocking, connect, eventually, shared_connect_string, unique_root, within,
    ServerKind, ServerProcess,
};

fn node_event(event_type: EventType, path: &str) -> WatchedEvent {
    WatchedEvent {
        event_type,
        state: KeeperState::SyncConnected,
        path: path.to_owned(),
    }
}

async fn mkdir(client: &Client, path: &str) {
    client
        .create(path, b"", &CreateOptions::persistent())
        .await
        .unwrap();
}

async fn oneshot_watches_of_each_kind(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "oneshot").await;
    let a = format!("{root}/a");

    // exists on a missing node: fires on creation.
    let (stat, created) = client.exists_and_watch(&a).await.unwrap();
    assert_eq!(stat, None);
    mkdir(&client, &a).await;
    assert_eq!(
        within("created", created.changed()).await,
        node_event(EventType::NodeCreated, &a)
    );

    // getData: fires on data change.
    let (_, _, data) = client.get_and_watch_data(&a).await.unwrap();
    // exists on an existing node: a data watch too.
    let (stat, exists) = client.exists_and_watch(&a).await.unwrap();
    assert!(stat.is_some());
    client.set_data(&a, b"1", None).await.unwrap();
    assert_eq!(
        within("data", data.changed()).await,
        node_event(EventType::NodeDataChanged, &a)
    );
    assert_eq!(
        within("exists", exists.changed()).await,
        node_event(EventType::NodeDataChanged, &a)
    );

    // getChildren: fires on a child created, then (new watch) on deletion.
    let (children, _, child) = client.get_and_watch_children(&a).await.unwrap();
    assert!(children.is_empty());
    mkdir(&client, &format!("{a}/c")).await;
    assert_eq!(
        within("children", child.changed()).await,
        node_event(EventType::NodeChildrenChanged, &a)
    );
    client.delete(&format!("{a}/c"), None).await.unwrap();

    // Deletion fires data, exists and child watches.
    let (_, _, data) = client.get_and_watch_data(&a).await.unwrap();
    let (_, exists) = client.exists_and_watch(&a).await.unwrap();
    let (_, _, child) = client.get_and_watch_children(&a).await.unwrap();
    client.delete(&a, None).await.unwrap();
    for watcher in [data, exists, child] {
        assert_eq!(
            within("deleted", watcher.changed()).await,
            node_event(EventType::NodeDeleted, &a)
        );
    }

    // A watch is not left behind by a failed read.
    assert_eq!(
        client.get_and_watch_data(&a).await.err(),
        Some(Error::NoNode { path: a.clone() })
    );
    client.close().await.unwrap();
}

async fn every_local_watcher_gets_the_event(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "fanout").await;
    let (_, _, w1) = client.get_and_watch_data(&root).await.unwrap();
    let (_, _, w2) = client.get_and_watch_data(&root).await.unwrap();
    let (_, w3) = client.exists_and_watch(&root).await.unwrap();
    let (_, _, dropped) = client.get_and_watch_data(&root).await.unwrap();
    drop(dropped);
    let mut p1 = client
        .add_watch(&root, AddWatchMode::Persistent)
        .await
        .unwrap();
    let mut p2 = client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    client.set_data(&root, b"x", None).await.unwrap();
    let expected = node_event(EventType::NodeDataChanged, &root);
    for watcher in [w1, w2, w3] {
        assert_eq!(within("event", watcher.changed()).await, expected);
    }
    assert_eq!(within("p1", p1.changed()).await, expected);
    assert_eq!(within("p2", p2.changed()).await, expected);
    client.close().await.unwrap();
}

async fn events_come_before_later_replies(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let client = connect(&connect_string).await;
    let other = connect(&connect_string).await;
    let root = unique_root(&client, "order").await;

    // Our own write: the event is delivered before the write's reply.
    let (_, _, watcher) = client.get_and_watch_data(&root).await.unwrap();
    client.set_data(&root, b"1", None).await.unwrap();
    let event = watcher.changed().now_or_never();
    assert_eq!(event, Some(node_event(EventType::NodeDataChanged, &root)));

    // Another session's write: a read issued after it (here after a sync,
    // so the server has applied it) sees the event first.
    let (_, _, watcher) = client.get_and_watch_data(&root).await.unwrap();
    other.set_data(&root, b"2", None).await.unwrap();
    client.sync(&root).await.unwrap();
    let (data, _) = client.get_data(&root).await.unwrap();
    assert_eq!(data, b"2");
    let event = watcher.changed().now_or_never();
    assert_eq!(event, Some(node_event(EventType::NodeDataChanged, &root)));

    // Persistent events keep their order.
    let mut watcher = client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    for i in 0..20 {
        mkdir(&other, &format!("{root}/n{i}")).await;
    }
    for i in 0..20 {
        assert_eq!(
            within("ordered event", watcher.changed()).await,
            node_event(EventType::NodeCreated, &format!("{root}/n{i}"))
        );
    }
    client.close().await.unwrap();
    other.close().await.unwrap();
}

async fn persistent_watch(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "persistent").await;
    let a = format!("{root}/a");
    let mut watcher = client
        .add_watch(&a, AddWatchMode::Persistent)
        .await
        .unwrap();
    assert_eq!(watcher.path(), a);
    assert_eq!(watcher.mode(), AddWatchMode::Persistent);

    mkdir(&client, &a).await;
    client.set_data(&a, b"1", None).await.unwrap();
    client.set_data(&a, b"2", None).await.unwrap();
    mkdir(&client, &format!("{a}/c")).await;
    mkdir(&client, &format!("{a}/c/deeper")).await;
    client.delete(&format!("{a}/c/deeper"), None).await.unwrap();
    client.delete(&format!("{a}/c"), None).await.unwrap();
    client.delete(&a, None).await.unwrap();
    let expected = [
        EventType::NodeCreated,
        EventType::NodeDataChanged,
        EventType::NodeDataChanged,
        EventType::NodeChildrenChanged,
        EventType::NodeChildrenChanged,
        EventType::NodeDeleted,
    ];
    for event_type in expected {
        assert_eq!(
            within("persistent event", watcher.changed()).await,
            node_event(event_type, &a)
        );
    }
    // Still there after all of that: the stream form.
    mkdir(&client, &a).await;
    assert_eq!(
        within("stream", watcher.next()).await,
        Some(node_event(EventType::NodeCreated, &a))
    );
    client.close().await.unwrap();
    assert_eq!(
        within("end", watcher.next()).await,
        Some(WatchedEvent {
            event_type: EventType::None,
            state: KeeperState::Closed,
            path: String::new()
        })
    );
    assert_eq!(within("end of stream", watcher.next()).await, None);
}

async fn recursive_watch(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "recursive").await;
    let mut watcher = client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    let a = format!("{root}/a");
    let b = format!("{a}/b");
    mkdir(&client, &a).await;
    mkdir(&client, &b).await;
    client.set_data(&b, b"x", None).await.unwrap();
    client.delete(&b, None).await.unwrap();
    client.set_data(&root, b"r", None).await.unwrap();
    let expected = [
        node_event(EventType::NodeCreated, &a),
        node_event(EventType::NodeCreated, &b),
        node_event(EventType::NodeDataChanged, &b),
        node_event(EventType::NodeDeleted, &b),
        node_event(EventType::NodeDataChanged, &root),
    ];
    for event in expected {
        assert_eq!(within("recursive event", watcher.changed()).await, event);
    }
    client.close().await.unwrap();
}

async fn remove_watches(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "remove").await;

    let (_, _, children) = client.get_and_watch_children(&root).await.unwrap();
    let (_, _, data) = client.get_and_watch_data(&root).await.unwrap();
    client
        .remove_watches(&root, WatcherType::Children)
        .await
        .unwrap();
    assert_eq!(
        within("child removed", children.changed()).await,
        node_event(EventType::ChildWatchRemoved, &root)
    );
    // The data watch is untouched.
    client.set_data(&root, b"1", None).await.unwrap();
    assert_eq!(
        within("data", data.changed()).await,
        node_event(EventType::NodeDataChanged, &root)
    );
    assert_eq!(
        client.remove_watches(&root, WatcherType::Children).await,
        Err(Error::NoWatcher { path: root.clone() })
    );

    // ZooKeeper 3.8 removes persistent watches with `Any` (it has no
    // WatcherType 4 or 5), together with the path's other watches.
    let mut persistent = client
        .add_watch(&root, AddWatchMode::Persistent)
        .await
        .unwrap();
    let (_, exists) = client.exists_and_watch(&root).await.unwrap();
    client
        .remove_watches(&root, WatcherType::Any)
        .await
        .unwrap();
    let removed = node_event(EventType::PersistentWatchRemoved, &root);
    assert_eq!(within("removed", persistent.changed()).await, removed);
    assert_eq!(
        within("any: exists", exists.changed()).await,
        node_event(EventType::DataWatchRemoved, &root)
    );
    // An ended watcher repeats its last event, and its stream is over.
    assert_eq!(persistent.changed().await, removed);
    assert_eq!(persistent.next().await, None);

    let mut recursive = client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    client
        .remove_watches(&root, WatcherType::Any)
        .await
        .unwrap();
    assert_eq!(within("any: recursive", recursive.changed()).await, removed);

    let (_, _, data) = client.get_and_watch_data(&root).await.unwrap();
    client
        .remove_watches(&root, WatcherType::Data)
        .await
        .unwrap();
    assert_eq!(
        within("data removed", data.changed()).await,
        node_event(EventType::DataWatchRemoved, &root)
    );
    assert_eq!(
        client.remove_watches(&root, WatcherType::Any).await,
        Err(Error::NoWatcher { path: root.clone() })
    );
    client.close().await.unwrap();
}

/// Total watches of the server, from `wchs`.
fn total_watches(server: &ServerProcess) -> usize {
    let text = server.four_letter("wchs").expect("wchs");
    text.lines()
        .find_map(|line| line.trim().strip_prefix("Total watches:"))
        .unwrap_or_else(|| panic!("no total in {text:?}"))
        .trim()
        .parse()
        .expect("a number")
}

async fn dropping_persistent_watchers_removes_the_server_watch(kind: ServerKind) {
    // A server of our own, so that its watch count is ours alone.
    let server = std::sync::Arc::new(blocking(move || ServerProcess::start(kind)).await);
    let count = |server: &std::sync::Arc<ServerProcess>| {
        let server = server.clone();
        blocking(move || total_watches(&server))
    };
    let client = connect(&server.connect_string()).await;
    let root = unique_root(&client, "drop").await;

    let first = client
        .add_watch(&root, AddWatchMode::Persistent)
        .await
        .unwrap();
    let mut second = client
        .add_watch(&root, AddWatchMode::Persistent)
        .await
        .unwrap();
    assert_eq!(count(&server).await, 1);

    // Not the last one: the server keeps the watch, the other still gets events.
    drop(first);
    client.set_data(&root, b"1", None).await.unwrap();
    assert_eq!(
        within("kept", second.changed()).await,
        node_event(EventType::NodeDataChanged, &root)
    );
    assert_eq!(count(&server).await, 1);

    // The last one: removeWatches is sent.
    drop(second);
    eventually("the server watch removed", || async {
        count(&server).await == 0
    })
    .await;

    // One-shot watchers are forgotten locally; a new one still works.
    let (_, _, dropped) = client.get_and_watch_data(&root).await.unwrap();
    drop(dropped);
    let (_, _, kept) = client.get_and_watch_data(&root).await.unwrap();
    client.set_data(&root, b"2", None).await.unwrap();
    assert_eq!(
        within("kept", kept.changed()).await,
        node_event(EventType::NodeDataChanged, &root)
    );
    client.close().await.unwrap();
}

async fn watchers_end_when_the_client_closes(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "end").await;
    let (_, _, data) = client.get_and_watch_data(&root).await.unwrap();
    let mut persistent = client
        .add_watch(&root, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    client.close().await.unwrap();
    let closed = WatchedEvent {
        event_type: EventType::None,
        state: KeeperState::Closed,
        path: String::new(),
    };
    assert_eq!(within("one-shot end", data.changed()).await, closed);
    assert_eq!(within("persistent end", persistent.changed()).await, closed);
    assert_eq!(
        client
            .add_watch(&root, AddWatchMode::Persistent)
            .await
            .err(),
        Some(Error::ClientClosed)
    );
}

against_both!(
    oneshot_watches_of_each_kind,
    every_local_watcher_gets_the_event,
    events_come_before_later_replies,
    persistent_watch,
    recursive_watch,
    remove_watches,
    dropping_persistent_watchers_removes_the_server_watch,
    watchers_end_when_the_client_closes,
);
