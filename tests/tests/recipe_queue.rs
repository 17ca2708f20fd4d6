//! The distributed queue against a `corral-server` and an Apache ZooKeeper
//! process: items come out in put order, several consumers share them
//! with no item taken twice or lost, Curator's item framing.

use std::collections::BTreeSet;

use corral::recipes::{decode_items, Queue, QUEUE_ITEM_NAME};
use corral_tests::{against_both, connect, shared_connect_string, unique_root, within, ServerKind};

const ITEMS: usize = 60;
const CONSUMERS: usize = 3;

async fn fifo_with_one_consumer(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "queue-fifo").await;
    // The queue's node and its parent do not exist yet.
    let queue = Queue::new(&client, &format!("{root}/jobs/q"));
    assert_eq!(queue.try_take().await.unwrap(), None);
    for i in 0..10 {
        let path = queue.put(format!("item-{i}").as_bytes()).await.unwrap();
        let name = path.rsplit('/').next().unwrap();
        assert!(name.starts_with(QUEUE_ITEM_NAME) && name.len() == QUEUE_ITEM_NAME.len() + 10);
        if i == 0 {
            let (data, _) = client.get_data(&path).await.unwrap();
            assert_eq!(decode_items(&data).unwrap(), vec![b"item-0".to_vec()]);
        }
    }
    queue.put_multi(&[b"multi-a", b"multi-b"]).await.unwrap();
    assert_eq!(queue.len().await.unwrap(), 11);
    for i in 0..10 {
        let item = within("take", queue.take()).await.unwrap();
        assert_eq!(item, format!("item-{i}").as_bytes());
    }
    assert_eq!(queue.take().await.unwrap(), b"multi-a");
    assert_eq!(queue.take().await.unwrap(), b"multi-b");
    assert!(queue.is_empty().await.unwrap());
    client.close().await.unwrap();
}

async fn consumers_share_without_duplicates(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let producer = connect(&connect_string).await;
    let root = unique_root(&producer, "queue-consumers").await;
    let path = format!("{root}/q");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut consumers = Vec::new();
    for c in 0..CONSUMERS {
        let client = connect(&connect_string).await;
        let (path, tx) = (path.clone(), tx.clone());
        consumers.push(tokio::spawn(async move {
            let queue = Queue::new(&client, &path);
            let mut seen = Vec::new();
            loop {
                let item = queue.take().await.unwrap();
                if item == b"stop" {
                    break;
                }
                let n: usize = String::from_utf8(item).unwrap().parse().unwrap();
                seen.push(n);
                tx.send(n).unwrap();
            }
            client.close().await.unwrap();
            (c, seen)
        }));
    }
    drop(tx);
    let queue = Queue::new(&producer, &path);
    for i in 0..ITEMS {
        queue.put(i.to_string().as_bytes()).await.unwrap();
    }
    let mut taken = BTreeSet::new();
    for _ in 0..ITEMS {
        let n = within("an item", rx.recv()).await.unwrap();
        assert!(taken.insert(n), "item {n} taken twice");
    }
    for _ in 0..CONSUMERS {
        queue.put(b"stop").await.unwrap();
    }
    for consumer in consumers {
        let (c, seen) = within("consumer", consumer).await.unwrap();
        // Each consumer sees the items it got in put order.
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "consumer {c}: {seen:?}"
        );
    }
    assert_eq!(taken, (0..ITEMS).collect());
    assert!(rx.recv().await.is_none(), "no item delivered twice");
    assert!(queue.is_empty().await.unwrap());
    producer.close().await.unwrap();
}

against_both!(fifo_with_one_consumer, consumers_share_without_duplicates);
