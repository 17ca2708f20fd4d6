//! The embedding layer against a real `corral-server`, driven from plain
//! threads with no tokio runtime of their own: blocking calls, many at
//! once, completion callbacks, cancellation, interruption, the refusal of
//! a blocking wait on a runtime thread.

use std::sync::mpsc;
use std::time::Duration;

use corral::client::CreateOptions;
use corral_embed::{runtime, Call, Delivery, EmbeddedClient, Error, Options};
use corral_tests::{shared_server, unique_name, ServerKind, WAIT};

fn connect() -> EmbeddedClient {
    let options = Options {
        session_timeout: Some(Duration::from_secs(10)),
        request_timeout: Some(Duration::from_secs(10)),
        connect_timeout: Some(WAIT),
        ..Options::new(&shared_server(ServerKind::Corral).connect_string())
    };
    EmbeddedClient::connect_blocking(options, Delivery::Queue).expect("connect")
}

fn root(client: &EmbeddedClient, test: &str) -> String {
    let path = format!("/{}", unique_name(test));
    client
        .create(&path, b"", CreateOptions::persistent())
        .wait(Some(WAIT))
        .expect("create the test root");
    path
}

/// A call that only ends when cancelled.
fn never_ending(client: &EmbeddedClient) -> Call<()> {
    client.call(|_| std::future::pending::<corral::Result<()>>())
}

#[test]
fn calls_from_a_plain_thread_without_a_runtime() {
    // The test thread has no runtime; neither has this one.
    std::thread::spawn(|| {
        assert!(!runtime::on_runtime_thread());
        let client = connect();
        let root = root(&client, "embed-plain");
        let node = format!("{root}/n");
        let (created, stat) = client
            .create(&node, b"v1", CreateOptions::persistent())
            .wait(Some(WAIT))
            .unwrap();
        assert_eq!((created.as_str(), stat.version), (node.as_str(), 0));
        let stat = client
            .set_data(&node, b"v2", Some(0))
            .wait(Some(WAIT))
            .unwrap();
        assert_eq!(stat.version, 1);
        let (data, _) = client.get_data(&node).wait(Some(WAIT)).unwrap();
        assert_eq!(data, b"v2");
        assert_eq!(client.get_children(&root).wait(Some(WAIT)).unwrap(), ["n"]);
        let err = client
            .set_data(&node, b"v3", Some(0))
            .wait(Some(WAIT))
            .unwrap_err();
        assert_eq!(
            err,
            Error::Client(corral::Error::BadVersion { path: node.clone() })
        );
        assert_eq!(
            (err.python_exception(), err.node_code()),
            ("BadVersionError", "BADVERSION")
        );
        client.delete(&node, None).wait(Some(WAIT)).unwrap();
        assert_eq!(client.exists(&node).wait(Some(WAIT)).unwrap(), None);
        client.close().wait(Some(WAIT)).unwrap();
        // A closed client's calls fail, they do not hang.
        let err = client.get_data(&root).wait(Some(WAIT)).unwrap_err();
        assert_eq!(err, Error::Client(corral::Error::ClientClosed));
    })
    .join()
    .unwrap();
}

#[test]
fn a_thousand_blocking_calls_from_32_threads() {
    const THREADS: usize = 32;
    const CALLS_PER_THREAD: usize = 32;
    let client = connect();
    let root = root(&client, "embed-many");
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (client, root) = (&client, &root);
            scope.spawn(move || {
                let node = format!("{root}/t{t}");
                client
                    .create(&node, b"0", CreateOptions::persistent())
                    .wait(Some(WAIT))
                    .unwrap();
                for i in 1..CALLS_PER_THREAD {
                    if i % 2 == 1 {
                        let stat = client
                            .set_data(&node, i.to_string().as_bytes(), None)
                            .wait(Some(WAIT))
                            .unwrap();
                        assert_eq!(stat.version as usize, i / 2 + 1);
                    } else {
                        let (data, _) = client.get_data(&node).wait(Some(WAIT)).unwrap();
                        assert_eq!(data, (i - 1).to_string().as_bytes());
                    }
                }
            });
        }
    });
    let children = client.get_children(&root).wait(Some(WAIT)).unwrap();
    assert_eq!(children.len(), THREADS);
    client.close().wait(Some(WAIT)).unwrap();
}

#[test]
fn completion_callbacks_get_the_result_off_the_runtime() {
    let client = connect();
    let root = root(&client, "embed-callback");
    let (tx, rx) = mpsc::channel();
    for i in 0..20 {
        let tx = tx.clone();
        client
            .create(&format!("{root}/c{i}"), b"x", CreateOptions::persistent())
            .on_complete(move |result| {
                let thread = std::thread::current().name().map(str::to_owned);
                let on_runtime = runtime::on_runtime_thread();
                tx.send((i, result.map(|(path, _)| path), thread, on_runtime))
                    .unwrap();
            });
    }
    let mut seen = Vec::new();
    for _ in 0..20 {
        let (i, path, thread, on_runtime) = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(path.unwrap(), format!("{root}/c{i}"));
        assert_eq!(thread.as_deref(), Some("corral-complete"));
        assert!(!on_runtime);
        seen.push(i);
    }
    seen.sort();
    assert_eq!(seen, (0..20).collect::<Vec<_>>());

    // A callback set after completion still runs, once.
    let call = client.exists(&root);
    let stat = call.wait(Some(WAIT)).unwrap();
    assert!(stat.is_some());
    let done = client.exists(&root);
    while !done.is_done() {
        std::thread::yield_now();
    }
    let (tx, rx) = mpsc::channel();
    done.on_complete(move |r| tx.send(r.map(|s| s.is_some())).unwrap());
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Ok(true));
    client.close().wait(Some(WAIT)).unwrap();
}

#[test]
fn cancel_and_wait_timeout() {
    let client = connect();
    // A wait that times out leaves the call running; cancel ends it.
    let call = never_ending(&client);
    assert_eq!(
        call.wait(Some(Duration::from_millis(20))),
        Err(Error::WaitTimeout)
    );
    assert!(!call.is_done());
    call.cancel();
    assert!(call.is_done());
    assert_eq!(call.wait(Some(WAIT)), Err(Error::Cancelled));
    assert_eq!(call.wait(Some(WAIT)), Err(Error::Consumed));

    // A callback learns of the cancellation.
    let call = never_ending(&client);
    let (tx, rx) = mpsc::channel();
    let canceller = call.canceller();
    call.on_complete(move |r| tx.send(r).unwrap());
    canceller.cancel();
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Err(Error::Cancelled));

    // Cancelling a completed call changes nothing.
    let call = client.exists("/");
    let _ = call.wait(Some(WAIT)).unwrap();
    call.cancel();
    client.close().wait(Some(WAIT)).unwrap();
}

#[test]
fn an_interrupted_wait_cancels_the_call() {
    let client = connect();
    let call = never_ending(&client);
    let mut checks = 0;
    let result = call.wait_interruptible(Some(WAIT), Duration::from_millis(5), || {
        checks += 1;
        checks == 3
    });
    assert_eq!(result, Err(Error::Interrupted));
    assert_eq!(checks, 3);
    assert!(call.is_done(), "interruption cancels the call");
    // Not interrupted: the result comes through.
    let call = client.exists("/");
    let stat = call
        .wait_interruptible(Some(WAIT), Duration::from_millis(5), || false)
        .unwrap();
    assert!(stat.is_some());
    client.close().wait(Some(WAIT)).unwrap();
}

#[test]
fn a_blocking_wait_on_a_runtime_thread_is_refused() {
    let client = connect();
    let call = client.exists("/");
    let (tx, rx) = mpsc::channel();
    runtime::handle().spawn(async move {
        tx.send(call.wait(Some(WAIT)).map(|_| ())).unwrap();
    });
    assert_eq!(rx.recv_timeout(WAIT).unwrap(), Err(Error::OnRuntimeThread));
    // Also from another runtime (a user's own).
    let own = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let call = client.exists("/");
    let refused = own.block_on(async { call.wait(Some(WAIT)).map(|_| ()) });
    assert_eq!(refused, Err(Error::OnRuntimeThread));
    let events = client.events().unwrap();
    let refused = own.block_on(async { events.next(Some(WAIT)).map(|_| ()) });
    assert_eq!(refused, Err(Error::OnRuntimeThread));
    client.close().wait(Some(WAIT)).unwrap();
}

#[test]
fn a_client_connected_for_another_runtime_outlives_the_callers() {
    let dedicated = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let caller = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let connect_string = shared_server(ServerKind::Corral).connect_string();
    let client = caller
        .block_on(
            corral::client::Connector::new(&connect_string)
                .connect_timeout(WAIT)
                .runtime(dedicated.handle().clone())
                .connect(),
        )
        .unwrap();
    // The runtime connect was awaited on is gone; the session task lives
    // on the dedicated one.
    drop(caller);
    let stat = dedicated.block_on(client.exists("/")).unwrap();
    assert!(stat.is_some());
    assert!(client.state().is_connected());
    dedicated.block_on(client.close()).unwrap();
}
