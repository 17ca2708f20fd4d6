//! Cross-crate tests of Corral: a harness that runs real servers
//! ([`ServerProcess`]: `corral-server` or Apache ZooKeeper 3.8) on free
//! ports, a fault-injecting TCP [`Proxy`], and small helpers for async
//! tests. The client suites live in `tests/client_*.rs`; each runs every
//! scenario against both servers.
//!
//! Servers are real processes on 127.0.0.1; each has a temporary data
//! directory that survives [`ServerProcess::restart`]. A test binary shares
//! one server per kind ([`shared_server`]); tests keep to their own
//! subtree ([`unique_root`]). Tests that restart or kill a server start
//! their own.

pub mod proxy;
pub mod server;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use corral::client::{Client, Connector, CreateOptions};

pub use proxy::{Proxy, ProxyMode};
pub use server::{
    corral_server_binary, four_letter, free_port, ServerKind, ServerOptions, ServerProcess,
};

/// Deadline of any single wait in a test (an event, a state, a condition).
pub const WAIT: Duration = Duration::from_secs(30);

/// Installs a `tracing` subscriber from `RUST_LOG` (once; later calls do
/// nothing).
pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A server of `kind` shared by every test of the test binary, started on
/// first use. Never restart it: start your own for that.
pub fn shared_server(kind: ServerKind) -> &'static ServerProcess {
    static CORRAL: OnceLock<ServerProcess> = OnceLock::new();
    static ZOOKEEPER: OnceLock<ServerProcess> = OnceLock::new();
    let cell = match kind {
        ServerKind::Corral => &CORRAL,
        ServerKind::ZooKeeper => &ZOOKEEPER,
    };
    cell.get_or_init(|| ServerProcess::start_for_process(kind))
}

/// A name no other test of this process uses: `<prefix>-<pid>-<n>`.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a fresh persistent node `/<test>-<pid>-<n>` for a test to work
/// under, and returns its path.
pub async fn unique_root(client: &Client, test: &str) -> String {
    let path = format!("/{}", unique_name(test));
    client
        .create(&path, b"", &CreateOptions::persistent())
        .await
        .expect("create the test root");
    path
}

/// A connector to `connect_string` with the suites' settings (10 s
/// session, 10 s request timeout).
pub fn connector(connect_string: &str) -> Connector {
    Connector::new(connect_string)
        .session_timeout(Duration::from_secs(10))
        .request_timeout(Duration::from_secs(10))
        .connect_timeout(WAIT)
}

/// Connects to `connect_string` with [`connector`]'s settings.
pub async fn connect(connect_string: &str) -> Client {
    connector(connect_string)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect to {connect_string}: {e}"))
}

/// Awaits `fut`, panicking with `what` if it takes longer than [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// Polls `condition` until it holds, panicking with `what` after [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if condition().await {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {WAIT:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a blocking harness call (start, kill, restart) off the async
/// runtime's workers, so clients keep running meanwhile.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("blocking harness call panicked")
}

/// The connect string of the [`shared_server`] of `kind` (starting it off
/// the runtime's workers on first use).
pub async fn shared_connect_string(kind: ServerKind) -> String {
    blocking(move || shared_server(kind).connect_string()).await
}

/// Declares, for each `async fn name(kind: ServerKind)` given, a module
/// `name` with two tests, `corral` and `zookeeper`, running it against each
/// server (`cargo test name::zookeeper`).
#[macro_export]
macro_rules! against_both {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn corral() {
                    $crate::init_tracing();
                    super::$name($crate::ServerKind::Corral).await
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn zookeeper() {
                    $crate::init_tracing();
                    super::$name($crate::ServerKind::ZooKeeper).await
                }
            }
        )*
    };
}
