//! Sessions: reconnection (server crash and restart, host failover),
//! watches re-registered with the changes missed meanwhile, expiry, hand-over,
//! timeouts and timeout negotiation, against a `corral-server` and an Apache
//! ZooKeeper process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use corral::client::{Client, Connector, CreateOptions, SessionState, StateWatcher, WatchedEvent};
use corral::proto::{AddWatchMode, EventType, KeeperState};
use corral::Error;
use corral_tests::{
    against_both, blocking, connect, connector, eventually, free_port, shared_connect_string,
    unique_root, within, Proxy, ProxyMode, ServerKind, ServerProcess,
};

fn node_event(event_type: EventType, path: &str) -> WatchedEvent {
    WatchedEvent {
        event_type,
        state: KeeperState::SyncConnected,
        path: path.to_owned(),
    }
}

/// Waits until `states` reports `wanted`, returning the states seen on the way.
async fn wait_state(states: &mut StateWatcher, wanted: SessionState) -> Vec<SessionState> {
    within(&format!("state {wanted}"), async {
        let mut seen = Vec::new();
        loop {
            let state = states.changed().await;
            seen.push(state);
            if state == wanted {
                return seen;
            }
            assert!(
                !state.is_terminal(),
                "ended as {state} waiting for {wanted}"
            );
        }
    })
    .await
}

async fn reconnect_after_server_crash(kind: ServerKind) {
    let server = Arc::new(Mutex::new(
        blocking(move || ServerProcess::start(kind)).await,
    ));
    let direct = server.lock().unwrap().connect_string();
    let server_port = server.lock().unwrap().port();
    let proxy = Proxy::start(server_port).await;
    let client = connector(&proxy.connect_string())
        .session_timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap();
    let session = client.session();
    let mut states = client.state_watcher();
    let root = unique_root(&client, "crash").await;
    let data_node = format!("{root}/data");
    let gone = format!("{root}/gone");
    let tree = format!("{root}/tree");
    for path in [&data_node, &gone, &tree] {
        client
            .create(path, b"0", &CreateOptions::persistent())
            .await
            .unwrap();
    }
    let (ephemeral, _) = client
        .create(&format!("{root}/eph"), b"", &CreateOptions::ephemeral())
        .await
        .unwrap();
    let (_, _, data_watch) = client.get_and_watch_data(&data_node).await.unwrap();
    let (_, _, child_watch) = client.get_and_watch_children(&root).await.unwrap();
    let (_, gone_watch) = client.exists_and_watch(&gone).await.unwrap();
    let (_, created_watch) = client
        .exists_and_watch(&format!("{root}/later"))
        .await
        .unwrap();
    let mut recursive = client
        .add_watch(&tree, AddWatchMode::PersistentRecursive)
        .await
        .unwrap();

    tracing::info!("--- cut the client off, crash and restart the server");
    {
        proxy.set_mode(ProxyMode::Refuse);
        assert_eq!(
            wait_state(&mut states, SessionState::Disconnected).await,
            [SessionState::Disconnected]
        );
        let restarting = server.clone();
        blocking(move || restarting.lock().unwrap().restart()).await;
    }

    tracing::info!("--- change things while the client is away");
    {
        let other = connect(&direct).await;
        // The session survived the crash: its ephemeral is still there.
        let stat = other
            .exists(&ephemeral)
            .await
            .unwrap()
            .expect("ephemeral kept");
        assert_eq!(stat.ephemeral_owner, session.id);
        other.set_data(&data_node, b"1", None).await.unwrap();
        other.delete(&gone, None).await.unwrap();
        other
            .create(&format!("{root}/later"), b"", &CreateOptions::persistent())
            .await
            .unwrap();
        other
            .create(&format!("{tree}/new"), b"", &CreateOptions::persistent())
            .await
            .unwrap();
        other.close().await.unwrap();
    }

    tracing::info!("--- heal: the client resumes its session and gets what it missed");
    {
        // A request made while disconnected waits for the reconnection.
        let pending = {
            let client = client.clone();
            let path = data_node.clone();
            tokio::spawn(async move { client.get_data(&path).await })
        };
        proxy.set_mode(ProxyMode::Pass);
        wait_state(&mut states, SessionState::Connected).await;
        assert_eq!(client.session().id, session.id);
        assert_eq!(within("pending", pending).await.unwrap().unwrap().0, b"1");

        assert_eq!(
            within("data", data_watch.changed()).await,
            node_event(EventType::NodeDataChanged, &data_node)
        );
        assert_eq!(
            within("deleted", gone_watch.changed()).await,
            node_event(EventType::NodeDeleted, &gone)
        );
        assert_eq!(
            within("created", created_watch.changed()).await,
            node_event(EventType::NodeCreated, &format!("{root}/later"))
        );
        assert_eq!(
            within("children", child_watch.changed()).await,
            node_event(EventType::NodeChildrenChanged, &root)
        );
        // ZooKeeper reports what changed under a persistent watch during
        // the disconnection only as far as SetWatches can tell: the path
        // itself. New changes are delivered as usual.
        client
            .set_data(&format!("{tree}/new"), b"x", None)
            .await
            .unwrap();
        let expected = node_event(EventType::NodeDataChanged, &format!("{tree}/new"));
        within("the recursive watch works again", async {
            while recursive.changed().await != expected {}
        })
        .await;
    }

    tracing::info!("--- in-flight requests fail with ConnectionLoss when the connection drops");
    {
        proxy.set_mode(ProxyMode::Blackhole);
        let before = proxy.held_from_clients();
        let in_flight = {
            let client = client.clone();
            let path = data_node.clone();
            tokio::spawn(async move { client.get_data(&path).await })
        };
        // A ping is shorter than the request, so this means the request.
        let request_bytes = corral::proto::encode_request(
            1,
            &corral::proto::Request::GetData(corral::proto::GetDataRequest {
                path: data_node.clone(),
                watch: false,
            }),
        )
        .len();
        eventually("the request is on the wire", || async {
            proxy.held_from_clients() >= before + request_bytes
        })
        .await;
        proxy.set_mode(ProxyMode::Refuse);
        assert_eq!(
            within("in-flight", in_flight).await.unwrap(),
            Err(Error::ConnectionLoss)
        );
        proxy.set_mode(ProxyMode::Pass);
        wait_state(&mut states, SessionState::Connected).await;
        assert_eq!(client.get_data(&data_node).await.unwrap().0, b"1");
    }
    client.close().await.unwrap();
}

async fn failover_to_the_next_host(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let port: u16 = connect_string.rsplit(':').next().unwrap().parse().unwrap();
    let first = Proxy::start(port).await;
    let second = Proxy::start(port).await;
    let dead = free_port();
    let client = connector(&format!(
        "127.0.0.1:{dead},{},{}",
        first.connect_string(),
        second.connect_string()
    ))
    .shuffle_hosts(false)
    .connect()
    .await
    .unwrap();
    let session = client.session().id;
    let mut states = client.state_watcher();
    let root = unique_root(&client, "failover").await;
    let (_, _, watcher) = client.get_and_watch_data(&root).await.unwrap();

    first.set_mode(ProxyMode::Refuse);
    wait_state(&mut states, SessionState::Disconnected).await;
    wait_state(&mut states, SessionState::Connected).await;
    assert_eq!(client.session().id, session);
    client.set_data(&root, b"after", None).await.unwrap();
    assert_eq!(
        within("event after failover", watcher.changed()).await,
        node_event(EventType::NodeDataChanged, &root)
    );
    client.close().await.unwrap();
}

async fn session_expiry(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let port: u16 = connect_string.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = Proxy::start(port).await;
    let client = connector(&proxy.connect_string())
        .session_timeout(Duration::from_millis(1500))
        .connect()
        .await
        .unwrap();
    let mut states = client.state_watcher();
    let root = unique_root(&client, "expiry").await;
    let (ephemeral, _) = client
        .create(&format!("{root}/eph"), b"", &CreateOptions::ephemeral())
        .await
        .unwrap();
    let (_, _, oneshot) = client.get_and_watch_data(&root).await.unwrap();
    let mut persistent = client
        .add_watch(&root, AddWatchMode::Persistent)
        .await
        .unwrap();

    proxy.set_mode(ProxyMode::Refuse);
    wait_state(&mut states, SessionState::Disconnected).await;
    let observer = connect(&connect_string).await;
    eventually("the server expires the session", || async {
        observer.exists(&ephemeral).await.unwrap().is_none()
    })
    .await;
    proxy.set_mode(ProxyMode::Pass);

    wait_state(&mut states, SessionState::Expired).await;
    assert_eq!(client.state(), SessionState::Expired);
    let expired = WatchedEvent {
        event_type: EventType::None,
        state: KeeperState::Expired,
        path: String::new(),
    };
    assert_eq!(within("one-shot end", oneshot.changed()).await, expired);
    assert_eq!(
        within("persistent end", persistent.changed()).await,
        expired
    );
    assert_eq!(client.get_data(&root).await, Err(Error::SessionExpired));
    assert_eq!(states.changed().await, SessionState::Expired);
    client.close().await.unwrap();
    observer.close().await.unwrap();
}

async fn session_hand_over(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let first = connect(&connect_string).await;
    let root = unique_root(&first, "handover").await;
    let (ephemeral, _) = first
        .create(&format!("{root}/eph"), b"", &CreateOptions::ephemeral())
        .await
        .unwrap();
    let info = first.session();
    assert_eq!(info.password.len(), 16);
    // The first owner goes away without closing: the session lives on.
    drop(first);

    let second = Connector::new(&connect_string)
        .session(info.clone())
        .connect()
        .await
        .unwrap();
    assert_eq!(second.session().id, info.id);
    assert_eq!(
        second.get_ephemerals(&root).await.unwrap(),
        std::slice::from_ref(&ephemeral)
    );
    let stat = second.exists(&ephemeral).await.unwrap().expect("kept");
    assert_eq!(stat.ephemeral_owner, info.id);
    // The new owner can use the session as its own.
    let (second_ephemeral, _) = second
        .create(&format!("{root}/eph2"), b"", &CreateOptions::ephemeral())
        .await
        .unwrap();

    // Closing ends the session for everyone: the ephemerals go.
    second.close().await.unwrap();
    let observer = connect(&connect_string).await;
    assert_eq!(observer.exists(&ephemeral).await.unwrap(), None);
    assert_eq!(observer.exists(&second_ephemeral).await.unwrap(), None);
    observer.close().await.unwrap();

    // A closed session cannot be resumed.
    assert_eq!(
        Connector::new(&connect_string)
            .session(info.clone())
            .connect()
            .await
            .err(),
        Some(Error::SessionExpired)
    );
}

async fn hand_over_with_detach(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let first = connect(&connect_string).await;
    let root = unique_root(&first, "detach").await;
    let (ephemeral, _) = first
        .create(&format!("{root}/eph"), b"", &CreateOptions::ephemeral())
        .await
        .unwrap();
    let (_, _, watcher) = first.get_and_watch_data(&root).await.unwrap();
    let clone = first.clone();
    let info = first.session();
    first.detach().await;
    // Every handle is finished, clones included; the session is not.
    assert_eq!(clone.state(), SessionState::Closed);
    assert_eq!(clone.exists("/").await, Err(Error::ClientClosed));
    let event = within("watcher end", watcher.changed()).await;
    assert_eq!(
        (event.event_type, event.state),
        (EventType::None, KeeperState::Closed)
    );

    let second = connector(&connect_string)
        .session(info.clone())
        .connect()
        .await
        .unwrap();
    let stat = second.exists(&ephemeral).await.unwrap().expect("kept");
    assert_eq!(stat.ephemeral_owner, info.id);
    second.close().await.unwrap();
}

async fn the_server_drops_the_old_connection_of_a_resumed_session(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let first = connect(&connect_string).await;
    let mut states = first.state_watcher();
    let second = connector(&connect_string)
        .session(first.session())
        .connect()
        .await
        .unwrap();
    // One session, one connection: the server closes the older one.
    wait_state(&mut states, SessionState::Disconnected).await;
    // The old client would take the session back when it reconnects;
    // detaching it leaves the session to the new one.
    first.detach().await;
    eventually("the new owner is served", || async {
        second.exists("/").await.is_ok()
    })
    .await;
    assert_eq!(second.session().id, first.session().id);
    second.close().await.unwrap();
}

async fn wrong_password_is_refused(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let owner = connect(&connect_string).await;
    let mut info = owner.session();
    info.password = vec![0; 16];
    assert_eq!(
        Connector::new(&connect_string)
            .session(info)
            .connect()
            .await
            .err(),
        Some(Error::SessionExpired)
    );
    // The session is intact. (Both servers close the owner's connection
    // before checking the password, so the owner may reconnect first.)
    let session_id = owner.session().id;
    eventually("the owner is served", || async {
        owner.exists("/").await.is_ok()
    })
    .await;
    assert_eq!(owner.session().id, session_id);
    owner.close().await.unwrap();
}

async fn request_timeout(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let port: u16 = connect_string.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = Proxy::start(port).await;
    let client = connector(&proxy.connect_string())
        .request_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap();
    assert!(client.exists("/").await.unwrap().is_some());
    proxy.set_mode(ProxyMode::Blackhole);
    assert_eq!(client.exists("/").await, Err(Error::Timeout));
    assert_eq!(Error::Timeout.code().code(), -122);
    proxy.set_mode(ProxyMode::Pass);
    eventually("requests succeed again", || async {
        client.exists("/").await.is_ok()
    })
    .await;
    client.close().await.unwrap();
}

async fn timeouts_are_negotiated(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let short = connector(&connect_string)
        .session_timeout(Duration::from_millis(10))
        .connect()
        .await
        .unwrap();
    assert_eq!(short.session().timeout, Duration::from_millis(1000));
    let long = connector(&connect_string)
        .session_timeout(Duration::from_secs(3600))
        .connect()
        .await
        .unwrap();
    assert_eq!(long.session().timeout, Duration::from_secs(60));
    short.close().await.unwrap();
    long.close().await.unwrap();
}

async fn connect_timeout(_kind: ServerKind) {
    let dead = free_port();
    let started = tokio::time::Instant::now();
    let result = Connector::new(&format!("127.0.0.1:{dead}"))
        .connect_timeout(Duration::from_millis(300))
        .connect()
        .await;
    assert_eq!(result.err(), Some(Error::Timeout));
    assert!(started.elapsed() < corral_tests::WAIT);
    assert!(matches!(
        Client::connect("").await,
        Err(Error::BadArguments { .. })
    ));
    assert!(matches!(
        Client::connect("127.0.0.1:1/bad/").await,
        Err(Error::InvalidPath { .. })
    ));
}

against_both!(
    reconnect_after_server_crash,
    failover_to_the_next_host,
    session_expiry,
    session_hand_over,
    hand_over_with_detach,
    the_server_drops_the_old_connection_of_a_resumed_session,
    wrong_password_is_refused,
    request_timeout,
    timeouts_are_negotiated,
    connect_timeout,
);
