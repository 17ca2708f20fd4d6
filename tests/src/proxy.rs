//! [`Proxy`]: a TCP proxy in front of a server that a test can cut, to
//! simulate network faults without touching the server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyMode {
    /// Forward bytes both ways.
    Pass,
    /// Keep connections open but forward nothing (a silent network): the
    /// client sees no reply and no error until its own timeouts fire. What
    /// is sent meanwhile is held and delivered on a switch back to `Pass`.
    Blackhole,
    /// Close every connection and refuse new ones (a dead host).
    Refuse,
}

/// A TCP proxy on a free 127.0.0.1 port; stops when dropped.
#[derive(Debug)]
pub struct Proxy {
    port: u16,
    mode: Arc<watch::Sender<ProxyMode>>,
    accept: tokio::task::JoinHandle<()>,
    held_from_clients: Arc<AtomicUsize>,
}

impl Proxy {
    /// Starts a proxy to `127.0.0.1:upstream_port` on the current runtime.
    pub async fn start(upstream_port: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let mode = Arc::new(watch::Sender::new(ProxyMode::Pass));
        let accept_mode = mode.clone();
        let held_from_clients = Arc::new(AtomicUsize::new(0));
        let held = held_from_clients.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *accept_mode.borrow() == ProxyMode::Refuse {
                    drop(client);
                    continue;
                }
                let mode = accept_mode.subscribe();
                let held = held.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(("127.0.0.1", upstream_port)).await {
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        let mut up = tokio::spawn(pump(cr, sw, mode.clone(), held));
                        let mut down = tokio::spawn(pump(sr, cw, mode, Arc::default()));
                        // When either direction ends, end both.
                        tokio::select! {
                            _ = &mut up => {}
                            _ = &mut down => {}
                        }
                        up.abort();
                        down.abort();
                    }
                });
            }
        });
        Proxy {
            port,
            mode,
            accept,
            held_from_clients,
        }
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port` of the proxy.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Switches the mode; `Refuse` closes every open connection.
    pub fn set_mode(&self, mode: ProxyMode) {
        self.mode.send_replace(mode);
    }

    /// Bytes from clients held back while blackholed, ever: a test can wait
    /// for it to grow to know a request was sent into the silence.
    pub fn held_from_clients(&self) -> usize {
        self.held_from_clients.load(Ordering::Acquire)
    }

    /// The current mode.
    pub fn mode(&self) -> ProxyMode {
        *self.mode.borrow()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.mode.send_replace(ProxyMode::Refuse);
        self.accept.abort();
    }
}

/// Copies `from` to `to`: holds what it reads while blackholed (counting
/// it in `held_total`) and delivers it on `Pass`; ends on EOF, error or
/// `Refuse`.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<ProxyMode>,
    held_total: Arc<AtomicUsize>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    let mut held: Vec<u8> = Vec::new();
    loop {
        let current = *mode.borrow_and_update();
        match current {
            ProxyMode::Refuse => return,
            ProxyMode::Pass if !held.is_empty() => {
                if to.write_all(&held).await.is_err() {
                    return;
                }
                held.clear();
            }
            ProxyMode::Pass | ProxyMode::Blackhole => {}
        }
        tokio::select! {
            read = from.read(&mut buf) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    let now = *mode.borrow();
                    match now {
                        ProxyMode::Refuse => return,
                        ProxyMode::Pass => {
                            if to.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                        ProxyMode::Blackhole => {
                            held.extend_from_slice(&buf[..n]);
                            held_total.fetch_add(n, Ordering::AcqRel);
                        }
                    }
                }
            },
            changed = mode.changed() => if changed.is_err() { return },
        }
    }
}
