//! Fork safety of the embedding layer, in a test binary of its own
//! (`harness = false`): forking inside libtest's multi-threaded harness
//! would copy its threads' locks mid-use.
//!
//! The parent connects (so the shared runtime's threads and the session's
//! socket exist), then forks. The child checks that the inherited client
//! refuses every use with `Error::Forked` at once (no hang, no touch of the
//! parent's runtime or socket), that dropping it is harmless, and that a
//! new client works; it reports through its exit status. The parent checks
//! its own client and session are undisturbed.
//!
//! Forking needs `libc::fork`/`waitpid`, hence the one `allow(unsafe_code)`
//! in this file (test code only; the library crates have no `unsafe`).
#![allow(unsafe_code)]

use std::time::{Duration, Instant};

use corral::client::CreateOptions;
use corral::proto::Stat;
use corral::recipes::{Lease, Mutex, Released};
use corral_embed::{Call, Delivery, EmbeddedClient, Error, Options};
use corral_tests::{unique_name, ServerKind, ServerProcess, WAIT};

fn connect(connect_string: &str) -> EmbeddedClient {
    let options = Options {
        session_timeout: Some(Duration::from_secs(10)),
        connect_timeout: Some(WAIT),
        request_timeout: Some(WAIT),
        ..Options::new(connect_string)
    };
    EmbeddedClient::connect_blocking(options, Delivery::Queue).expect("connect")
}

/// What the child checks; `Err` says which check failed.
fn child(
    inherited: EmbeddedClient,
    inherited_call: Call<(Vec<u8>, Stat)>,
    inherited_lease: Lease,
    connect_string: &str,
    node: &str,
) -> Result<(), String> {
    let expect_forked = |what: &str, r: Result<(), Error>| match r {
        Err(Error::Forked) => Ok(()),
        other => Err(format!("{what}: expected Forked, got {other:?}")),
    };
    expect_forked(
        "get_data",
        inherited.get_data(node).wait(Some(WAIT)).map(|_| ()),
    )?;
    expect_forked(
        "create",
        inherited
            .create(&format!("{node}-child"), b"", CreateOptions::persistent())
            .wait(Some(WAIT))
            .map(|_| ()),
    )?;
    expect_forked("session_token", inherited.session_token().map(|_| ()))?;
    expect_forked("client", inherited.client().map(|_| ()))?;
    let events = inherited.events().ok_or("no event queue")?;
    expect_forked("events.next", events.next(Some(Duration::ZERO)).map(|_| ()))?;
    // A call started before the fork belongs to the parent's runtime.
    expect_forked(
        "inherited call",
        inherited_call.wait(Some(WAIT)).map(|_| ()),
    )?;
    drop(inherited_call);
    // Dropping an inherited lease must not release the parent's lock (nor
    // touch the parent's runtime); the parent checks it is still held.
    drop(inherited_lease);
    drop(inherited);

    let fresh = connect(connect_string);
    let (data, _) = fresh
        .get_data(node)
        .wait(Some(WAIT))
        .map_err(|e| format!("new client get_data: {e}"))?;
    if data != b"from-parent" {
        return Err(format!("new client read {data:?}"));
    }
    fresh
        .set_data(node, b"from-child", None)
        .wait(Some(WAIT))
        .map_err(|e| format!("new client set_data: {e}"))?;
    fresh
        .close()
        .wait(Some(WAIT))
        .map_err(|e| format!("new client close: {e}"))?;
    Ok(())
}

fn main() {
    let server = ServerProcess::start(ServerKind::Corral);
    let connect_string = server.connect_string();
    let client = connect(&connect_string);
    let node = format!("/{}", unique_name("embed-fork"));
    client
        .create(&node, b"from-parent", CreateOptions::persistent())
        .wait(Some(WAIT))
        .expect("create");
    let session_before = client.session_token().unwrap();
    // A call in flight across the fork: it must still complete here.
    let pending = client.get_data(&node);
    let for_child = client.get_data(&node);
    let lock_path = format!("{node}-lock");
    let lease = {
        let path = lock_path.clone();
        client
            .call(|c| async move { Mutex::new(&c, &path).acquire().await })
            .wait(Some(WAIT))
            .expect("lock")
    };
    let lease_node = lease.path().to_owned();

    // SAFETY: fork() in a process whose other threads (tokio workers,
    // corral-complete) may hold locks: the child only uses the embedding
    // layer, whose point is to cope with that, and ends with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            child(client, for_child, lease, &connect_string, &node)
        }));
        let code = match outcome {
            Ok(Ok(())) => 0,
            Ok(Err(message)) => {
                eprintln!("embed_fork child: {message}");
                1
            }
            Err(_) => 2,
        };
        // SAFETY: ends the child without running the parent's atexit
        // handlers or destructors (the server process handle among them).
        unsafe { libc::_exit(code) };
    }

    drop(for_child);
    // Parent: wait for the child, bounded.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child; `status` is a valid out-param.
        let done = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(done >= 0, "waitpid failed");
        if done == pid {
            break;
        }
        if Instant::now() > deadline {
            // SAFETY: kills our own child, which hung.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child hung (an inherited client blocked?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked child failed (status {status:#x}); see its stderr above"
    );

    // The parent's client, session and in-flight call were not disturbed.
    assert_eq!(pending.wait(Some(WAIT)).unwrap().0, b"from-parent");
    let (data, _) = client.get_data(&node).wait(Some(WAIT)).unwrap();
    assert_eq!(data, b"from-child", "the child's new client wrote");
    assert_eq!(
        client.session_token().unwrap().session_id,
        session_before.session_id
    );
    assert!(client.state().unwrap().is_connected());
    assert!(
        client
            .exists(&lease_node)
            .wait(Some(WAIT))
            .unwrap()
            .is_some(),
        "the child's drop of the inherited lease released the parent's lock"
    );
    let released = client
        .call(move |_| async move { lease.release().await })
        .wait(Some(WAIT))
        .unwrap();
    assert_eq!(released, Released::Deleted);
    client.close().wait(Some(WAIT)).unwrap();
    println!("embed_fork: inherited client refused in the child, new client worked, parent undisturbed: ok");
}
