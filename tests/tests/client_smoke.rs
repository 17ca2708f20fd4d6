//! Smoke: connect, create, read, close against both servers.

use corral::client::CreateOptions;
use corral_tests::{against_both, connect, shared_connect_string, unique_root, ServerKind};

async fn create_and_read(kind: ServerKind) {
    let client = connect(&shared_connect_string(kind).await).await;
    let root = unique_root(&client, "smoke").await;
    let path = format!("{root}/a");
    let (created, stat) = client
        .create(&path, b"hello", &CreateOptions::persistent())
        .await
        .unwrap();
    assert_eq!(created, path);
    assert_eq!(stat.data_length, 5);
    let (data, _) = client.get_data(&path).await.unwrap();
    assert_eq!(data, b"hello");
    client.close().await.unwrap();
}

against_both!(create_and_read);
