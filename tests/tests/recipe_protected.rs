//! Protected-mode creation (Curator's `withProtection`) against a
//! `corral-server` and an Apache ZooKeeper process: when the reply to a
//! create is lost, `create_protected` finds the node the server did create
//! (by its uuid) instead of creating a second one, and when the request
//! itself was lost, it creates the node once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use corral::client::{Client, SessionState};
use corral::proto::CreateMode;
use corral::recipes::{create_protected, protected_id};
use corral_tests::{
    against_both, connect, connector, eventually, shared_connect_string, unique_root, within,
    ServerKind,
};

/// A proxy that forwards requests always and replies unless told to drop
/// them (a connection that fails after the server applied a request).
struct ReplyDropper {
    port: u16,
    drop_replies: Arc<AtomicBool>,
    accept: tokio::task::JoinHandle<()>,
}

impl ReplyDropper {
    async fn start(upstream: u16) -> ReplyDropper {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let drop_replies = Arc::new(AtomicBool::new(false));
        let flag = drop_replies.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    continue;
                };
                let flag = flag.clone();
                tokio::spawn(async move {
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let up = tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut cr, &mut sw).await;
                    });
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        match sr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if flag.load(Ordering::SeqCst) {
                                    continue;
                                }
                                if cw.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    up.abort();
                });
            }
        });
        ReplyDropper {
            port,
            drop_replies,
            accept,
        }
    }
}

impl Drop for ReplyDropper {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn wait_for_state(client: &Client, wanted: SessionState) {
    let mut states = client.state_watcher();
    within("session state", async {
        let mut state = states.current();
        while state != wanted {
            state = states.changed().await;
        }
    })
    .await;
}

async fn create_after_lost_reply(kind: ServerKind) {
    let connect_string = shared_connect_string(kind).await;
    let port: u16 = connect_string.rsplit(':').next().unwrap().parse().unwrap();
    let proxy = ReplyDropper::start(port).await;
    let admin = connect(&connect_string).await;
    let root = unique_root(&admin, "protected").await;
    let client = connector(&format!("127.0.0.1:{}", proxy.port))
        .session_timeout(Duration::from_secs(3))
        .request_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap();

    tracing::info!("--- the server applies the create but its reply is lost");
    let creating = {
        proxy.drop_replies.store(true, Ordering::SeqCst);
        let (client, root) = (client.clone(), root.clone());
        tokio::spawn(async move {
            create_protected(
                &client,
                &root,
                "lock-",
                b"x",
                CreateMode::EphemeralSequential,
            )
            .await
        })
    };
    eventually("the server created the node", || async {
        admin.get_children(&root).await.unwrap().len() == 1
    })
    .await;
    wait_for_state(&client, SessionState::Disconnected).await;
    proxy.drop_replies.store(false, Ordering::SeqCst);

    let (path, stat) = within("create_protected", creating).await.unwrap().unwrap();
    let children = admin.get_children(&root).await.unwrap();
    assert_eq!(children.len(), 1, "one node, found again: {children:?}");
    assert_eq!(path, format!("{root}/{}", children[0]));
    assert!(protected_id(&children[0]).is_some());
    assert_eq!(stat.ephemeral_owner, client.session().id);
    client.close().await.unwrap();
    admin.close().await.unwrap();
}

against_both!(create_after_lost_reply);
