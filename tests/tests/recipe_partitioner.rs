//! The work partitioner against a `corral-server` and an Apache ZooKeeper
//! process: three workers on twelve partitions settle at four each; one
//! worker's session ends and the other two take its partitions, six each.
//! Oracle, at every poll: no partition is owned by two workers, and at
//! rest every owned partition's claim node names its owner.

use std::collections::BTreeSet;

use corral::recipes::Partitioner;
use corral_tests::{
    against_both, connect, eventually, shared_connect_string, unique_root, ServerKind,
};

const PARTITIONS: usize = 12;

/// Panics if two workers own one partition; returns each worker's count.
fn owned_counts(workers: &[&Partitioner]) -> Vec<usize> {
    let mut seen = BTreeSet::new();
    for worker in workers {
        for partition in worker.owned() {
            assert!(seen.insert(partition.clone()), "{partition} owned twice");
        }
    }
    workers.iter().map(|w| w.owned().len()).collect()
}

async fn claims_match(observer: &Partitioner, workers: &[&Partitioner]) -> bool {
    let claims = observer.claims().await.unwrap();
    if claims.len() != PARTITIONS {
        return false;
    }
    claims.iter().all(|(partition, owner)| {
        workers
            .iter()
            .any(|w| w.worker_id() == owner && w.owned().contains(partition))
    })
}

async fn rebalances_when_a_worker_dies(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let admin = connect(&connect_string).await;
    let root = unique_root(&admin, "partitioner").await;
    let path = format!("{root}/rows");
    let partitions: Vec<String> = (0..PARTITIONS)
        .map(|i| format!("rows-{}-{}", i * 10 + 1, i * 10 + 10))
        .collect();
    let mut clients = Vec::new();
    let mut workers = Vec::new();
    for i in 0..3 {
        let client = connect(&connect_string).await;
        workers.push(
            Partitioner::start(&client, &path, &format!("worker-{i}"), &partitions)
                .await
                .unwrap(),
        );
        clients.push(client);
    }

    {
        let all: Vec<&Partitioner> = workers.iter().collect();
        eventually("four partitions each", || async {
            owned_counts(&all) == [4, 4, 4] && claims_match(all[0], &all).await
        })
        .await;
    }

    tracing::info!("--- worker-0's session ends");
    {
        clients[0].close().await.unwrap();
        let dead = workers.remove(0);
        let rest: Vec<&Partitioner> = workers.iter().collect();
        eventually("six partitions each", || async {
            let counts = owned_counts(&rest);
            // The closed worker's set empties once its task sees the
            // session end (its claims went with the session).
            let dead_owned = dead.owned();
            counts == [6, 6] && dead_owned.is_empty() && claims_match(rest[0], &rest).await
        })
        .await;
        let owned: BTreeSet<String> = rest.iter().flat_map(|w| w.owned()).collect();
        assert_eq!(owned, partitions.iter().cloned().collect());
    }
    for worker in workers {
        worker.stop().await.unwrap();
    }
    let claims = admin.get_children(&format!("{path}/claims")).await.unwrap();
    assert!(claims.is_empty(), "stopped workers release: {claims:?}");
    for client in &clients[1..] {
        client.close().await.unwrap();
    }
    admin.close().await.unwrap();
}

against_both!(rebalances_when_a_worker_dies);
