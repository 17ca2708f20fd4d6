//! Leases and memberships against a real `corral-server`: a lease dropped
//! on a thread with no runtime releases, release after a loss is success
//! with "already lost", re-acquiring a held lock fails at once, a lease
//! is adopted after a session is resumed elsewhere, and a member whose
//! node was lost across a reconnection joins again.

use std::time::Duration;

use corral::client::{Client, SessionState};
use corral::recipes::{Lease, LostReason, Membership, Mutex, Released, RwLock};
use corral::Error;
use corral_tests::{
    connect, connector, eventually, shared_connect_string, shared_server, unique_root, within,
    Proxy, ProxyMode, ServerKind,
};

async fn corral() -> String {
    shared_connect_string(ServerKind::Corral).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_dropped_on_a_thread_without_a_runtime_releases() {
    let (client, other) = (
        connect(&corral().await).await,
        connect(&corral().await).await,
    );
    let path = format!("{}/lock", unique_root(&client, "lease-foreign").await);
    let lease = Mutex::new(&client, &path).acquire().await.unwrap();
    let node = lease.path().to_owned();
    std::thread::spawn(move || {
        assert!(tokio::runtime::Handle::try_current().is_err());
        drop(lease);
    })
    .join()
    .unwrap();
    eventually("the dropped lease's node is deleted", || async {
        client.exists(&node).await.unwrap().is_none()
    })
    .await;
    // And the lock is free for another session.
    let theirs = within("acquire", Mutex::new(&other, &path).acquire())
        .await
        .unwrap();
    theirs.release().await.unwrap();
    client.close().await.unwrap();
    other.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_after_a_loss_is_success_with_already_lost() {
    let (client, other) = (
        connect(&corral().await).await,
        connect(&corral().await).await,
    );
    let root = unique_root(&client, "lease-lost").await;
    let mutex = Mutex::new(&client, &format!("{root}/a"));
    let lease = mutex.acquire().await.unwrap();
    assert_eq!(
        Mutex::new(&client, &format!("{root}/b"))
            .acquire()
            .await
            .unwrap()
            .release()
            .await,
        Ok(Released::Deleted)
    );
    // Its node deleted by someone else.
    other.delete(lease.path(), None).await.unwrap();
    assert_eq!(
        lease.release().await,
        Ok(Released::AlreadyLost(LostReason::NodeDeleted))
    );
    // Its session ended.
    let lease = mutex.acquire().await.unwrap();
    client.close().await.unwrap();
    assert_eq!(
        lease.release().await,
        Ok(Released::AlreadyLost(LostReason::SessionEnded(
            SessionState::Closed
        )))
    );
    other.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reacquiring_a_held_lock_fails_at_once() {
    let client = connect(&corral().await).await;
    let root = unique_root(&client, "lease-reacquire").await;
    let path = format!("{root}/m");
    let mutex = Mutex::new(&client, &path);
    let lease = mutex.acquire().await.unwrap();
    for again in [
        within("acquire again", mutex.acquire()).await.map(|_| ()),
        within("clone acquires", mutex.clone().acquire())
            .await
            .map(|_| ()),
        within("try_acquire", mutex.try_acquire(Duration::from_secs(60)))
            .await
            .map(|_| ()),
    ] {
        assert_eq!(again, Err(Error::LockHeld { path: path.clone() }));
    }
    let held = Error::LockHeld { path: path.clone() };
    assert_eq!(
        (held.python_exception(), held.node_code()),
        ("LockHeldError", "LOCKHELD")
    );
    // No second node was made.
    assert_eq!(
        mutex.participant_nodes().await.unwrap(),
        [lease.path().to_owned()]
    );
    lease.release().await.unwrap();
    mutex.acquire().await.unwrap().release().await.unwrap();
    // Dropping a lease frees the object too; so does losing it then
    // dropping it.
    drop(mutex.acquire().await.unwrap());
    mutex.acquire().await.unwrap().release().await.unwrap();
    // A write lock is exclusive too; read locks share.
    let rw = RwLock::new(&client, &format!("{root}/rw"));
    let write = rw.write().await.unwrap();
    assert!(matches!(
        within("write again", rw.write()).await,
        Err(Error::LockHeld { .. })
    ));
    write.release().await.unwrap();
    let (r1, r2) = (rw.read().await.unwrap(), rw.read().await.unwrap());
    r1.release().await.unwrap();
    r2.release().await.unwrap();
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_is_adopted_after_the_session_is_resumed() {
    let connect_string = corral().await;
    let first = connect(&connect_string).await;
    let path = format!("{}/lock", unique_root(&first, "lease-adopt").await);
    let lease = Mutex::new(&first, &path).acquire().await.unwrap();
    let node = lease.path().to_owned();
    let token = lease.fencing_token();
    // Hand the session over: the lease must not be released by the old
    // holder, so it is forgotten (its process "exits").
    std::mem::forget(lease);
    let (session, last_zxid) = (first.session(), first.last_zxid());
    first.detach().await;
    let second = connector(&connect_string)
        .session(session)
        .last_zxid_seen(last_zxid)
        .connect()
        .await
        .unwrap();
    let adopted = Lease::adopt(&second, &node).await.unwrap();
    assert_eq!(adopted.fencing_token(), token);
    assert!(adopted.is_held().await.unwrap());
    // Another session's node cannot be adopted.
    let stranger = connect(&connect_string).await;
    assert!(matches!(
        Lease::adopt(&stranger, &node).await,
        Err(Error::BadArguments { .. })
    ));
    assert!(matches!(
        Lease::adopt(&stranger, &format!("{node}-missing")).await,
        Err(Error::NoNode { .. })
    ));
    assert_eq!(adopted.release().await, Ok(Released::Deleted));
    assert!(stranger.exists(&node).await.unwrap().is_none());
    second.close().await.unwrap();
    stranger.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_joins_again_after_a_reconnect_that_lost_its_node() {
    let server = shared_server(ServerKind::Corral);
    let proxy = Proxy::start(server.port()).await;
    let client: Client = connector(&proxy.connect_string())
        .session_timeout(Duration::from_secs(10))
        .connect()
        .await
        .unwrap();
    let admin = connect(&corral().await).await;
    let group_path = format!("{}/group", unique_root(&admin, "member-rejoin").await);
    let group = Membership::new(&client, &group_path);
    let member = group.join("m1", b"payload-1").await.unwrap();
    member.set_payload(b"payload-2").await.unwrap();

    // The connection drops; meanwhile the member's node is deleted.
    proxy.set_mode(ProxyMode::Refuse);
    eventually("the client notices", || async {
        !client.state().is_connected()
    })
    .await;
    admin.delete(member.path(), None).await.unwrap();
    proxy.set_mode(ProxyMode::Pass);

    // Once reconnected (same session), the member recreates its node.
    let rejoins = within("rejoin", member.rejoined(0)).await.unwrap();
    assert!(rejoins >= 1);
    let (data, stat) = admin.get_data(member.path()).await.unwrap();
    assert_eq!(data, b"payload-2");
    assert_eq!(stat.ephemeral_owner, client.session().id);
    assert_eq!(group.members().await.unwrap().len(), 1);

    // Session end: the member is over and says why.
    client.close().await.unwrap();
    assert_eq!(
        within("lost", member.lost()).await,
        LostReason::SessionEnded(SessionState::Closed)
    );
    assert!(admin
        .exists(&format!("{group_path}/m1"))
        .await
        .unwrap()
        .is_none());
    drop(member);
    admin.close().await.unwrap();
}
