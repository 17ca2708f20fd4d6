//! The session task against a scripted fake server: what goes on the wire
//! (handshake fields, auth and SetWatches on reconnect, pings, close) and
//! how replies, notifications and failures reach the caller.

use std::time::Duration;

use bytes::BytesMut;
use futures::FutureExt;
use futures_core::Stream;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::client::{Client, Connector, SessionState};
use crate::error::Error;
use crate::proto::*;

const WAIT: Duration = Duration::from_secs(10);
const PASSWORD: [u8; 16] = [7; 16];

struct Fake {
    listener: TcpListener,
}

struct FakeConn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Fake {
    async fn new() -> Fake {
        Fake {
            listener: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.listener.local_addr().unwrap().port())
    }

    async fn accept(&self) -> FakeConn {
        let (stream, _) = tokio::time::timeout(WAIT, self.listener.accept())
            .await
            .expect("a connection")
            .unwrap();
        FakeConn {
            stream,
            buf: BytesMut::new(),
        }
    }

    /// Accepts a connection and answers its handshake.
    async fn session(&self, timeout_ms: i32) -> (FakeConn, ConnectRequest) {
        let mut conn = self.accept().await;
        let request = ConnectRequest::from_bytes(&conn.frame().await).unwrap();
        conn.send(&encode_frame(
            &ConnectResponse {
                protocol_version: 0,
                timeout_ms,
                session_id: 0x1234,
                password: PASSWORD.to_vec(),
                read_only: false,
            }
            .to_bytes(),
        ))
        .await;
        (conn, request)
    }
}

impl FakeConn {
    async fn frame(&mut self) -> Vec<u8> {
        let decoder = FrameDecoder::default();
        tokio::time::timeout(WAIT, async {
            loop {
                if let Some(frame) = decoder.decode(&mut self.buf).unwrap() {
                    return frame.to_vec();
                }
                assert!(
                    self.stream.read_buf(&mut self.buf).await.unwrap() > 0,
                    "client closed"
                );
            }
        })
        .await
        .expect("a frame from the client")
    }

    async fn request(&mut self) -> (RequestHeader, Request) {
        decode_request(&self.frame().await).unwrap()
    }

    /// The next request that is not a ping.
    async fn request_skipping_pings(&mut self) -> (RequestHeader, Request) {
        loop {
            let (header, request) = self.request().await;
            if header.xid != PING_XID {
                return (header, request);
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.unwrap();
    }

    async fn reply(&mut self, xid: i32, zxid: i64, response: Response) {
        self.send(&encode_reply(xid, zxid, 0, &response)).await;
    }

    async fn fail(&mut self, xid: i32, code: ErrorCode) {
        self.send(&encode_reply(xid, 1, code.code(), &Response::Empty))
            .await;
    }

    async fn notify(&mut self, event_type: EventType, path: &str) {
        let event = WatcherEvent {
            event_type: event_type.code(),
            state: KeeperState::SyncConnected.code(),
            path: path.into(),
        };
        self.send(&encode_notification(-1, &event)).await;
    }
}

async fn connect(fake: &Fake, connector: Connector, timeout_ms: i32) -> (Client, FakeConn) {
    let (client, conn) = tokio::join!(connector.connect(), async {
        fake.session(timeout_ms).await.0
    });
    (client.unwrap(), conn)
}

fn data(bytes: &[u8], mzxid: i64) -> Response {
    Response::GetData(GetDataResponse {
        data: Some(bytes.to_vec()),
        stat: Stat {
            mzxid,
            ..Stat::default()
        },
    })
}

#[tokio::test]
async fn handshake_asks_for_a_new_session() {
    let fake = Fake::new().await;
    let connector = Connector::new(&fake.connect_string()).session_timeout(Duration::from_secs(7));
    let (client, request) = tokio::join!(connector.connect(), fake.session(6000));
    let (_conn, request) = request;
    assert_eq!(
        request,
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 7000,
            session_id: 0,
            password: vec![],
            read_only: false,
        }
    );
    let client = client.unwrap();
    let session = client.session();
    assert_eq!(
        (session.id, session.password.as_slice(), session.timeout),
        (0x1234, &PASSWORD[..], Duration::from_secs(6))
    );
    assert_eq!(client.state(), SessionState::Connected);
}

#[tokio::test]
async fn reconnect_backoff_bounds_the_pause_between_failed_rounds() {
    // 30 dropped connections in a row: with pauses of at most 10 ms the
    // client gets through well within the deadline; with the default
    // (random 50 ms to 1 s per failed round, about 15 s for 30) it could not.
    const DROPS: usize = 30;
    let fake = Fake::new().await;
    let connector = Connector::new(&fake.connect_string())
        .reconnect_backoff(Duration::from_millis(10))
        .connect_timeout(Duration::from_secs(8));
    let (client, _conn) = tokio::join!(connector.connect(), async {
        for _ in 0..DROPS {
            drop(fake.accept().await);
        }
        fake.session(6000).await
    });
    assert_eq!(client.unwrap().state(), SessionState::Connected);
}

#[tokio::test]
async fn pipelined_replies_match_in_order_and_events_come_first() {
    let fake = Fake::new().await;
    let (client, mut conn) = connect(&fake, Connector::new(&fake.connect_string()), 30_000).await;

    let server = tokio::spawn(async move {
        let (h1, r1) = conn.request().await;
        let (h2, r2) = conn.request().await;
        let (h3, r3) = conn.request().await;
        assert!(h1.xid > 0 && h2.xid == h1.xid + 1 && h3.xid == h2.xid + 1);
        assert!(matches!(r1, Request::GetData(ref g) if g.path == "/a" && g.watch));
        assert!(matches!(r2, Request::GetData(ref g) if g.path == "/b" && !g.watch));
        assert!(matches!(r3, Request::SetData(ref s) if s.path == "/a"));
        conn.reply(h1.xid, 5, data(b"a", 5)).await;
        conn.reply(h2.xid, 6, data(b"b", 6)).await;
        // The event goes out before the reply that caused it.
        conn.notify(EventType::NodeDataChanged, "/a").await;
        conn.reply(
            h3.xid,
            9,
            Response::SetData(SetDataResponse {
                stat: Stat::default(),
            }),
        )
        .await;
        conn
    });
    let (a, b, set) = tokio::join!(
        client.get_and_watch_data("/a"),
        client.get_data("/b"),
        client.set_data("/a", b"x", None),
    );
    let (a_data, a_stat, watcher) = a.unwrap();
    assert_eq!((a_data.as_slice(), a_stat.mzxid), (&b"a"[..], 5));
    assert_eq!(b.unwrap().0, b"b");
    set.unwrap();
    let event = watcher
        .changed()
        .now_or_never()
        .expect("event before the reply");
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    assert_eq!(client.last_zxid(), 9);
    server.await.unwrap();
}

#[tokio::test]
async fn reconnect_resends_auth_and_watches_from_the_last_zxid() {
    let fake = Fake::new().await;
    let connector =
        Connector::new(&format!("{}/app", fake.connect_string())).auth("digest", b"u:p");
    let (client, mut conn) = connect(&fake, connector, 30_000).await;
    let (header, request) = conn.request().await;
    assert_eq!(header.xid, AUTH_XID);
    assert!(matches!(request, Request::Auth(ref a) if a.scheme == "digest" && a.auth == b"u:p"));
    conn.reply(AUTH_XID, 0, Response::Empty).await;

    let server = tokio::spawn(async move {
        for zxid in 10..15 {
            let (header, request) = conn.request().await;
            match request {
                Request::GetData(_) => conn.reply(header.xid, zxid, data(b"", zxid)).await,
                Request::Exists(_) => conn.fail(header.xid, ErrorCode::NoNode).await,
                Request::GetChildren2(_) => {
                    let response = Response::GetChildren2(GetChildren2Response::default());
                    conn.reply(header.xid, zxid, response).await
                }
                Request::AddWatch(_) => conn.reply(header.xid, zxid, Response::AddWatch).await,
                other => panic!("unexpected {other:?}"),
            }
        }
        conn
    });
    let (_, _, data_watch) = client.get_and_watch_data("/d").await.unwrap();
    let (_, exist_watch) = client.exists_and_watch("/e").await.unwrap();
    let (_, _, _child_watch) = client.get_and_watch_children("/c").await.unwrap();
    let _persistent = client
        .add_watch("/p", AddWatchMode::Persistent)
        .await
        .unwrap();
    let _recursive = client
        .add_watch("/", AddWatchMode::PersistentRecursive)
        .await
        .unwrap();
    let last_zxid = client.last_zxid();
    assert_eq!(last_zxid, 14);
    let mut states = client.state_watcher();
    drop(server.await.unwrap());

    assert_eq!(states.changed().await, SessionState::Disconnected);
    let (mut conn, request) = fake.session(30_000).await;
    assert_eq!(
        (
            request.session_id,
            request.password.as_slice(),
            request.last_zxid_seen
        ),
        (0x1234, &PASSWORD[..], last_zxid)
    );
    let (header, request) = conn.request().await;
    assert_eq!(header.xid, AUTH_XID);
    assert!(matches!(request, Request::Auth(_)));
    conn.reply(AUTH_XID, 0, Response::Empty).await;
    let (header, request) = conn.request().await;
    assert_eq!(header.xid, SET_WATCHES_XID);
    assert_eq!(
        request,
        Request::SetWatches2(SetWatches2 {
            relative_zxid: last_zxid,
            data_watches: vec!["/app/d".into()],
            exist_watches: vec!["/app/e".into()],
            child_watches: vec!["/app/c".into()],
            persistent_watches: vec!["/app/p".into()],
            persistent_recursive_watches: vec!["/app".into()],
        })
    );
    conn.reply(SET_WATCHES_XID, 20, Response::Empty).await;
    conn.notify(EventType::NodeCreated, "/app/e").await;
    conn.notify(EventType::NodeDeleted, "/app/d").await;
    assert_eq!(states.changed().await, SessionState::Connected);
    let event = tokio::time::timeout(WAIT, exist_watch.changed())
        .await
        .unwrap();
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeCreated, "/e")
    );
    let event = tokio::time::timeout(WAIT, data_watch.changed())
        .await
        .unwrap();
    assert_eq!(
        (event.event_type, event.path.as_str()),
        (EventType::NodeDeleted, "/d")
    );
}

#[tokio::test]
async fn expired_on_reconnect_ends_everything() {
    let fake = Fake::new().await;
    let (client, mut conn) = connect(&fake, Connector::new(&fake.connect_string()), 30_000).await;
    let watch = tokio::spawn({
        let client = client.clone();
        async move { client.get_and_watch_data("/w").await }
    });
    let (header, _) = conn.request().await;
    conn.reply(header.xid, 3, data(b"", 3)).await;
    let (_, _, watcher) = watch.await.unwrap().unwrap();
    let mut states = client.state_watcher();
    drop(conn);
    assert_eq!(states.changed().await, SessionState::Disconnected);
    // A request made while disconnected waits; expiry fails it.
    let waiting = tokio::spawn({
        let client = client.clone();
        async move { client.get_data("/x").await }
    });
    let (_conn, _) = fake.session(0).await;
    assert_eq!(states.changed().await, SessionState::Expired);
    assert_eq!(waiting.await.unwrap(), Err(Error::SessionExpired));
    let event = watcher.changed().await;
    assert_eq!(
        (event.event_type, event.state),
        (EventType::None, KeeperState::Expired)
    );
    assert_eq!(client.exists("/").await, Err(Error::SessionExpired));
    assert_eq!(states.changed().await, SessionState::Expired);
}

#[tokio::test]
async fn pings_when_idle_and_leaves_a_silent_server() {
    let fake = Fake::new().await;
    let (client, mut conn) = connect(&fake, Connector::new(&fake.connect_string()), 300).await;
    let (header, request) = conn.request().await;
    assert_eq!((header.xid, request), (PING_XID, Request::Ping));
    conn.reply(PING_XID, 0, Response::Empty).await;
    let (header, _) = conn.request().await;
    assert_eq!(header.xid, PING_XID);
    // No answer: after 2/3 of the timeout the client tries again.
    let mut states = client.state_watcher();
    assert_eq!(states.changed().await, SessionState::Disconnected);
    let (_conn, request) = fake.session(300).await;
    assert_eq!(request.session_id, 0x1234);
    assert_eq!(states.changed().await, SessionState::Connected);
}

#[tokio::test]
async fn a_reply_out_of_order_drops_the_connection() {
    let fake = Fake::new().await;
    let (client, mut conn) = connect(&fake, Connector::new(&fake.connect_string()), 30_000).await;
    let request = tokio::spawn({
        let client = client.clone();
        async move { client.get_data("/a").await }
    });
    let (header, _) = conn.request().await;
    conn.reply(header.xid + 7, 1, data(b"", 1)).await;
    assert_eq!(request.await.unwrap(), Err(Error::ConnectionLoss));
    let (_conn, request) = fake.session(30_000).await;
    assert_eq!(request.session_id, 0x1234);
}

#[tokio::test]
async fn request_timeout_and_close() {
    let fake = Fake::new().await;
    let connector =
        Connector::new(&fake.connect_string()).request_timeout(Duration::from_millis(100));
    let (client, mut conn) = connect(&fake, connector, 30_000).await;
    assert_eq!(client.get_data("/slow").await, Err(Error::Timeout));
    let (header, _) = conn.request().await;
    // A late reply is dropped quietly.
    conn.reply(header.xid, 2, data(b"", 2)).await;

    let closing = tokio::spawn({
        let client = client.clone();
        async move { client.close().await }
    });
    let (header, request) = conn.request_skipping_pings().await;
    assert_eq!(request, Request::CloseSession);
    conn.reply(header.xid, 3, Response::Empty).await;
    closing.await.unwrap().unwrap();
    assert_eq!(client.state(), SessionState::Closed);
    assert_eq!(client.get_data("/").await, Err(Error::ClientClosed));
}

#[tokio::test]
async fn auth_failure_ends_the_client() {
    let fake = Fake::new().await;
    let (client, mut conn) = connect(&fake, Connector::new(&fake.connect_string()), 30_000).await;
    let auth = tokio::spawn({
        let client = client.clone();
        async move { client.add_auth("bogus", b"x").await }
    });
    let (header, _) = conn.request().await;
    assert_eq!(header.xid, AUTH_XID);
    conn.fail(AUTH_XID, ErrorCode::AuthFailed).await;
    assert_eq!(auth.await.unwrap(), Err(Error::AuthFailed));
    let mut states = client.state_watcher();
    assert_eq!(states.changed().await, SessionState::AuthFailed);
    assert_eq!(client.exists("/").await, Err(Error::AuthFailed));
}

#[tokio::test]
async fn dropping_the_last_watcher_removes_the_server_watch() {
    let fake = Fake::new().await;
    let (client, mut conn) = connect(&fake, Connector::new(&fake.connect_string()), 30_000).await;
    let adding = tokio::spawn({
        let client = client.clone();
        async move {
            let first = client
                .add_watch("/p", AddWatchMode::Persistent)
                .await
                .unwrap();
            let second = client
                .add_watch("/p", AddWatchMode::Persistent)
                .await
                .unwrap();
            (first, second)
        }
    });
    for _ in 0..2 {
        let (header, _) = conn.request().await;
        conn.reply(header.xid, 1, Response::AddWatch).await;
    }
    let (first, mut second) = adding.await.unwrap();
    drop(first);
    conn.notify(EventType::NodeDataChanged, "/p").await;
    let event = tokio::time::timeout(WAIT, second.changed()).await.unwrap();
    assert_eq!(event.event_type, EventType::NodeDataChanged);
    drop(second);
    let (header, request) = conn.request_skipping_pings().await;
    assert_eq!(
        request,
        Request::RemoveWatches(RemoveWatchesRequest {
            path: "/p".into(),
            watcher_type: WatcherType::Any.code(),
        })
    );
    conn.reply(header.xid, 2, Response::Empty).await;
    // The client keeps working.
    let pending = tokio::spawn({
        let client = client.clone();
        async move { client.get_data("/p").await }
    });
    let (header, _) = conn.request().await;
    conn.reply(header.xid, 3, data(b"ok", 3)).await;
    assert_eq!(pending.await.unwrap().unwrap().0, b"ok");
}

#[test]
fn watcher_streams_are_streams() {
    fn is_stream<S: Stream>() {}
    is_stream::<crate::client::PersistentWatcher>();
    is_stream::<crate::client::StateWatcher>();
}

#[test]
fn handles_and_watchers_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Client>();
    send_sync::<crate::client::MultiBuilder>();
    send::<crate::client::OneshotWatcher>();
    send_sync::<crate::client::PersistentWatcher>();
    send_sync::<crate::client::StateWatcher>();
    send_sync::<Error>();
}

#[tokio::test]
async fn many_watches_are_re_registered_in_bounded_batches() {
    let fake = Fake::new().await;
    let (client, mut conn) = connect(&fake, Connector::new(&fake.connect_string()), 30_000).await;
    let paths: Vec<String> = (0..2000)
        .map(|i| format!("/{}{i:05}", "x".repeat(100)))
        .collect();
    let server = tokio::spawn(async move {
        for _ in 0..2000 {
            let (header, _) = conn.request().await;
            conn.reply(header.xid, 1, data(b"", 1)).await;
        }
        conn
    });
    let watches =
        futures::future::join_all(paths.iter().map(|p| client.get_and_watch_data(p))).await;
    let _watchers: Vec<_> = watches.into_iter().map(|r| r.unwrap().2).collect();
    drop(server.await.unwrap());

    let (mut conn, _) = fake.session(30_000).await;
    let mut seen = Vec::new();
    let mut packets = 0;
    while seen.len() < paths.len() {
        let frame = conn.frame().await;
        assert!(frame.len() <= 130 * 1024, "{} bytes", frame.len());
        let (header, request) = decode_request(&frame).unwrap();
        assert_eq!(header.xid, SET_WATCHES_XID);
        // No persistent watches: the pre-3.6 SetWatches will do.
        let Request::SetWatches(set) = request else {
            panic!("expected SetWatches, got {request:?}");
        };
        assert_eq!(set.relative_zxid, 1);
        seen.extend(set.data_watches);
        packets += 1;
    }
    assert!(packets >= 2, "{packets} packets");
    seen.sort();
    assert_eq!(seen, paths);
}
