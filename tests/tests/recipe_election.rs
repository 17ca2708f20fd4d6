//! Leader election (`Election`, Curator's LeaderSelector layout) and
//! `LeaderLatch` against a `corral-server` and an Apache ZooKeeper
//! process: one leader at a time, observers see the leader and its id,
//! the leader's session ends and another takes over with a larger
//! fencing token.

use corral::client::Client;
use corral::recipes::{protected_id, Election, LatchState, LeaderLatch, LostReason};
use std::time::Duration;

use corral_tests::{
    against_both, connect, connector, eventually, shared_connect_string, unique_root, within,
    Proxy, ProxyMode, ServerKind,
};

async fn election_with_leader_loss(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let watcher_client = connect(&connect_string).await;
    let root = unique_root(&watcher_client, "election").await;
    let path = format!("{root}/leader");
    let observer_election = Election::new(&watcher_client, &path, "observer-only");
    let mut observer = observer_election.observe();
    assert_eq!(
        within("no leader yet", observer.changed()).await.unwrap(),
        None
    );

    let mut clients: Vec<Client> = Vec::new();
    for _ in 0..3 {
        clients.push(connect(&connect_string).await);
    }
    let (won_tx, mut won) = tokio::sync::mpsc::unbounded_channel();
    let mut campaigns = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        let election = Election::new(client, &path, &format!("node-{i}"));
        let won_tx = won_tx.clone();
        campaigns.push(tokio::spawn(async move {
            let lease = election.campaign().await.unwrap();
            won_tx.send((i, lease.fencing_token())).unwrap();
            // Lead until the session goes.
            lease.lost().await
        }));
    }

    let (first, first_token) = within("a leader", won.recv()).await.unwrap();
    let leader = within("observed leader", async {
        loop {
            match observer.changed().await.unwrap() {
                Some(p) if p.id == format!("node-{first}") => return p,
                _ => {}
            }
        }
    })
    .await;
    assert!(leader.is_leader);
    assert!(protected_id(corral_tests_name(&leader.path)).is_some());
    eventually("every participant queued", || async {
        observer_election.participants().await.unwrap().len() == 3
    })
    .await;
    let participants = observer_election.participants().await.unwrap();
    assert_eq!(participants[0].id, format!("node-{first}"));
    assert_eq!(participants.iter().filter(|p| p.is_leader).count(), 1);
    // Only one winner so far.
    assert!(won.try_recv().is_err());

    tracing::info!(first, "--- close the leader's session");
    {
        clients[first].close().await.unwrap();
        // Closing deletes the session's ephemerals first: the old leader
        // may see its node deleted before it sees the session closed.
        let reason: LostReason = within("old leader lost", &mut campaigns[first])
            .await
            .unwrap();
        tracing::info!(?reason, "old leader lost");
        let (second, second_token) = within("a new leader", won.recv()).await.unwrap();
        assert_ne!(second, first);
        assert!(second_token > first_token);
        let seen = within("observer sees the new leader", async {
            loop {
                match observer.changed().await.unwrap() {
                    Some(p) if p.id == format!("node-{second}") => return p,
                    _ => {}
                }
            }
        })
        .await;
        assert_eq!(
            observer_election.leader().await.unwrap().map(|p| p.id),
            Some(seen.id)
        );
        assert!(won.try_recv().is_err());
    }
    for (i, client) in clients.iter().enumerate() {
        if i != first {
            client.close().await.unwrap();
        }
    }
    watcher_client.close().await.unwrap();
}

fn corral_tests_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap()
}

async fn leader_latch(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let admin = connect(&connect_string).await;
    let root = unique_root(&admin, "latch").await;
    let path = format!("{root}/latch");
    let mut clients = Vec::new();
    let mut latches = Vec::new();
    for i in 0..3 {
        let client = connect(&connect_string).await;
        latches.push(
            LeaderLatch::start(&client, &path, &format!("latch-{i}"))
                .await
                .unwrap(),
        );
        clients.push(client);
    }
    // The first to join leads; the others follow.
    let token = within("leadership", latches[0].wait_leadership())
        .await
        .unwrap();
    assert!(!latches[1].has_leadership() && !latches[2].has_leadership());
    let node = latches[0].node_path().unwrap();
    let name = node.rsplit('/').next().unwrap();
    let uuid = protected_id(name).unwrap();
    assert!(name.starts_with(&format!("_c_{uuid}-latch-")));
    let leader = latches[1].leader().await.unwrap().unwrap();
    assert_eq!(leader.id, "latch-0");
    let ids: Vec<String> = latches[2]
        .participants()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, ["latch-0", "latch-1", "latch-2"]);
    let mut observer = latches[2].observe();
    assert_eq!(
        within("observe", observer.changed())
            .await
            .unwrap()
            .map(|p| p.id),
        Some("latch-0".to_owned())
    );

    tracing::info!("--- the leader's session ends");
    {
        clients[0].close().await.unwrap();
        within("old leader steps down", latches[0].leadership_lost()).await;
        assert_eq!(latches[0].state(), LatchState::Closed);
        let next = within("next leader", latches[1].wait_leadership())
            .await
            .unwrap();
        assert!(next > token);
        assert!(!latches[2].has_leadership());
        assert_eq!(
            within("observe", observer.changed())
                .await
                .unwrap()
                .map(|p| p.id),
            Some("latch-1".to_owned())
        );
    }

    tracing::info!("--- the leader closes its latch");
    {
        let latch = latches.remove(1);
        latch.close().await.unwrap();
        let last = within("last leader", latches[1].wait_leadership())
            .await
            .unwrap();
        assert!(last > token);
        assert_eq!(
            within("observe", observer.changed())
                .await
                .unwrap()
                .map(|p| p.id),
            Some("latch-2".to_owned())
        );
    }
    for client in &clients[1..] {
        client.close().await.unwrap();
    }
    admin.close().await.unwrap();
}

async fn latch_leader_expires(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let port: u16 = connect_string.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = Proxy::start(port).await;
    let cut = connector(&proxy.connect_string())
        .session_timeout(Duration::from_secs(2))
        .connect()
        .await
        .unwrap();
    let healthy = connect(&connect_string).await;
    let root = unique_root(&healthy, "latch-expiry").await;
    let path = format!("{root}/latch");
    let first = LeaderLatch::start(&cut, &path, "first").await.unwrap();
    let first_token = within("first leads", first.wait_leadership())
        .await
        .unwrap();
    let second = LeaderLatch::start(&healthy, &path, "second").await.unwrap();

    tracing::info!("--- cut the leader off until its session expires");
    {
        proxy.set_mode(ProxyMode::Blackhole);
        // Disconnected: the leader stops claiming leadership at once...
        within("first steps down", first.leadership_lost()).await;
        // ...and once its session expires, the other takes over.
        let second_token = within("second leads", second.wait_leadership())
            .await
            .unwrap();
        assert!(second_token > first_token);
        proxy.set_mode(ProxyMode::Pass);
        let mut states = first.state_receiver();
        within(
            "first closes",
            states.wait_for(|s| *s == LatchState::Closed),
        )
        .await
        .unwrap();
        assert!(matches!(
            first.wait_leadership().await,
            Err(corral::Error::SessionExpired)
        ));
    }
    second.close().await.unwrap();
    healthy.close().await.unwrap();
}

against_both!(
    election_with_leader_loss,
    leader_latch,
    latch_leader_expires
);
