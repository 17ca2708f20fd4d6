//! [`Connector`]: the client builder, and connect-string parsing.

use std::sync::Arc;
use std::time::Duration;

use rand::seq::SliceRandom;
use tokio::sync::mpsc;

use super::session::{HostPort, SessionConfig, SessionTask, BACKOFF_MAX_DEFAULT};
use super::shared::Shared;
use super::state::{SessionInfo, SessionState};
use super::Client;
use crate::error::{Error, Result};

/// Default session timeout asked of the server.
pub const SESSION_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// Default deadline of each request.
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// Default deadline of [`Connector::connect`].
pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// Port of hosts given without one.
pub const PORT_DEFAULT: u16 = 2181;

/// Builds a [`Client`]: hosts, chroot, timeouts, credentials, and
/// optionally a session to resume.
///
/// ```no_run
/// use std::time::Duration;
/// use corral::client::Connector;
///
/// # async fn demo() -> Result<(), corral::Error> {
/// let client = Connector::new("10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181/app")
///     .session_timeout(Duration::from_secs(6))
///     .request_timeout(Duration::from_secs(5))
///     .auth("digest", b"user:secret")
///     .connect()
///     .await?;
/// // Paths are relative to the chroot: this is /app/config on the servers.
/// let (data, stat) = client.get_data("/config").await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Connector {
    connect_string: String,
    session_timeout: Duration,
    connect_timeout: Duration,
    request_timeout: Duration,
    auth: Vec<(String, Vec<u8>)>,
    session: Option<SessionInfo>,
    last_zxid_seen: i64,
    runtime: Option<tokio::runtime::Handle>,
    read_only: bool,
    shuffle: bool,
    backoff_max: Duration,
}

impl Connector {
    /// A builder for `connect_string`: comma-separated `host:port` (or
    /// `host`, port 2181; `[v6addr]:port`), optionally followed by a chroot
    /// (`h1:2181,h2:2181/app`). The hosts are tried in a shuffled order,
    /// then round-robin.
    pub fn new(connect_string: &str) -> Connector {
        Connector {
            connect_string: connect_string.to_owned(),
            session_timeout: SESSION_TIMEOUT_DEFAULT,
            connect_timeout: CONNECT_TIMEOUT_DEFAULT,
            request_timeout: REQUEST_TIMEOUT_DEFAULT,
            auth: Vec::new(),
            session: None,
            last_zxid_seen: 0,
            runtime: None,
            read_only: false,
            shuffle: true,
            backoff_max: BACKOFF_MAX_DEFAULT,
        }
    }

    /// The session timeout to ask for; the server clamps it to its bounds
    /// (ZooKeeper: 2 to 20 ticks by default) and
    /// [`Client::session`] reports the negotiated value. Default 10 s.
    pub fn session_timeout(mut self, timeout: Duration) -> Connector {
        self.session_timeout = timeout;
        self
    }

    /// How long [`connect`](Connector::connect) waits for the first session
    /// before failing with [`Error::Timeout`]. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Connector {
        self.connect_timeout = timeout;
        self
    }

    /// Deadline of every request, from the call to the reply, time spent
    /// waiting for a reconnection included; past it the request fails with
    /// [`Error::Timeout`]. Default 10 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Connector {
        self.request_timeout = timeout;
        self
    }

    /// Credentials sent on every connection (e.g. `("digest", b"user:pw")`).
    pub fn auth(mut self, scheme: &str, auth: &[u8]) -> Connector {
        self.auth.push((scheme.to_owned(), auth.to_vec()));
        self
    }

    /// Resumes an existing session instead of creating one: the session
    /// exported by another client's [`Client::session`], maybe in another
    /// process or language.
    ///
    /// The session, not the client, owns its ephemeral nodes and is what
    /// the server expires. So after a hand-over:
    ///
    /// - the old client must **not** [`close`](Client::close) (that ends
    ///   the session and deletes its ephemerals); call
    ///   [`detach`](Client::detach), drop it, or let its process exit;
    /// - while both are alive they fight over the one session: the server
    ///   keeps the newest connection and closes the older one (ZooKeeper
    ///   answers requests on the old one with `SESSIONMOVED` in an
    ///   ensemble), and a reconnecting old client would take it back;
    /// - watches are per connection: the new client sets its own;
    /// - `timeout` in `info` is the timeout asked for.
    ///
    /// If the session has already expired, `connect` fails with
    /// [`Error::SessionExpired`].
    pub fn session(mut self, info: SessionInfo) -> Connector {
        self.session_timeout = info.timeout;
        self.session = Some(info);
        self
    }

    /// The highest zxid the session's previous holder saw (its
    /// [`Client::last_zxid`]), sent in every connect request as
    /// ZooKeeper's `lastZxidSeen`. A server that has not yet applied that
    /// zxid refuses the connection (the client then tries the next host),
    /// so a process that takes a session over never reads state older than
    /// what the process that handed it over had seen. Default 0.
    pub fn last_zxid_seen(mut self, zxid: i64) -> Connector {
        self.last_zxid_seen = zxid;
        self
    }

    /// Runs the client's session task on `runtime` instead of the runtime
    /// `connect` is awaited on (the embedding layer's shared runtime, or an
    /// application's dedicated one): the client keeps pinging there even
    /// if the caller's runtime is shut down or blocked.
    pub fn runtime(mut self, runtime: tokio::runtime::Handle) -> Connector {
        self.runtime = Some(runtime);
        self
    }

    /// Whether a read-only server (one cut off from its quorum) may serve
    /// this client's reads (state `ConnectedReadOnly`; writes fail with
    /// `NotReadOnly`). Unlike the Java client, this client does not look
    /// for a read-write server while connected to a read-only one; it moves
    /// on only when that connection breaks. Default false.
    pub fn read_only(mut self, allowed: bool) -> Connector {
        self.read_only = allowed;
        self
    }

    /// The longest pause before trying the hosts again once each has
    /// failed (refused, dropped or timed out) in a row; each pause is
    /// random between 50 ms (or this, if lower) and this, so that many
    /// clients do not come back at once. Default 1 s. A tool waiting for a
    /// server to come up can set it low to notice the server sooner.
    pub fn reconnect_backoff(mut self, max: Duration) -> Connector {
        self.backoff_max = max;
        self
    }

    /// Whether to shuffle the hosts before trying them (default true;
    /// false keeps the connect string's order, for tests).
    pub fn shuffle_hosts(mut self, shuffle: bool) -> Connector {
        self.shuffle = shuffle;
        self
    }

    /// Connects: spawns the session task on the current tokio runtime and
    /// waits until a server accepts the session (or
    /// [`connect_timeout`](Connector::connect_timeout) passes:
    /// [`Error::Timeout`]). Bad connect strings give
    /// [`Error::BadArguments`] or [`Error::InvalidPath`] (chroot).
    ///
    /// Must be called within a tokio runtime; the client keeps working on
    /// it (or on the one given to [`runtime`](Connector::runtime)) until
    /// closed or dropped.
    pub async fn connect(self) -> Result<Client> {
        let (mut hosts, chroot) = parse_connect_string(&self.connect_string)?;
        if self.shuffle {
            hosts.shuffle(&mut rand::thread_rng());
        }
        let (commands_tx, commands_rx) = mpsc::unbounded_channel();
        let (drops_tx, drops_rx) = mpsc::unbounded_channel();
        let initial = self.session.clone().unwrap_or(SessionInfo {
            id: 0,
            password: Vec::new(),
            timeout: self.session_timeout,
        });
        let shared = Arc::new(Shared::new(chroot, self.request_timeout, initial, drops_tx));
        shared.see_zxid(self.last_zxid_seen);
        let task = SessionTask::new(
            shared.clone(),
            commands_rx,
            drops_rx,
            SessionConfig {
                hosts,
                session_timeout: self.session_timeout,
                read_only: self.read_only,
                auth: self.auth,
                resume: self.session,
                backoff_max: self.backoff_max,
            },
        );
        match &self.runtime {
            Some(runtime) => drop(runtime.spawn(task.run())),
            None => drop(tokio::spawn(task.run())),
        }
        let client = Client::from_parts(shared.clone(), commands_tx);
        let ready = async {
            let mut state = shared.state.subscribe();
            let reached = state
                .wait_for(|s| s.is_connected() || s.is_terminal())
                .await
                .map(|s| *s);
            reached
        };
        match tokio::time::timeout(self.connect_timeout, ready).await {
            Ok(Ok(s)) if s.is_connected() => Ok(client),
            Ok(Ok(SessionState::Closed)) => Err(Error::ClientClosed),
            Ok(_) => Err(shared.end_error()),
            Err(_) => Err(Error::Timeout),
        }
    }
}

/// Splits `h1:p1,h2:p2/chroot` into hosts and chroot (`""` for none).
pub(crate) fn parse_connect_string(s: &str) -> Result<(Vec<HostPort>, String)> {
    let (hosts_part, chroot) = match s.find('/') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    };
    let chroot = if chroot == "/" { "" } else { chroot };
    if !chroot.is_empty() {
        crate::path::validate_path(chroot).map_err(|e| Error::InvalidPath {
            path: chroot.to_owned(),
            reason: e.to_string(),
        })?;
    }
    let bad = |reason: String| Error::BadArguments { reason };
    let mut hosts = Vec::new();
    for part in hosts_part
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (host, port) = if let Some(rest) = part.strip_prefix('[') {
            let (host, after) = rest
                .split_once(']')
                .ok_or_else(|| bad(format!("unterminated ipv6 address in {part:?}")))?;
            match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None if after.is_empty() => (host, None),
                None => return Err(bad(format!("bad host {part:?}"))),
            }
        } else {
            match part.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (part, None),
            }
        };
        if host.is_empty() {
            return Err(bad(format!("empty host in {part:?}")));
        }
        let port = match port {
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| bad(format!("bad port in {part:?}")))?,
            None => PORT_DEFAULT,
        };
        hosts.push(HostPort {
            host: host.to_owned(),
            port,
        });
    }
    if hosts.is_empty() {
        return Err(bad(format!("no host in connect string {s:?}")));
    }
    Ok((hosts, chroot.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(host: &str, port: u16) -> HostPort {
        HostPort {
            host: host.into(),
            port,
        }
    }

    #[test]
    fn parses_hosts_and_chroot() {
        assert_eq!(
            parse_connect_string("a:1,b:2/app/x").unwrap(),
            (vec![hp("a", 1), hp("b", 2)], "/app/x".to_owned())
        );
        assert_eq!(
            parse_connect_string("a, [::1]:3 ,[fe80::1]/").unwrap(),
            (
                vec![hp("a", 2181), hp("::1", 3), hp("fe80::1", 2181)],
                String::new()
            )
        );
    }

    #[test]
    fn refuses_bad_connect_strings() {
        assert!(matches!(
            parse_connect_string(""),
            Err(Error::BadArguments { .. })
        ));
        assert!(matches!(
            parse_connect_string("a:x"),
            Err(Error::BadArguments { .. })
        ));
        assert!(matches!(
            parse_connect_string("a:1/app/"),
            Err(Error::InvalidPath { .. })
        ));
        assert!(matches!(
            parse_connect_string(":1"),
            Err(Error::BadArguments { .. })
        ));
    }
}
