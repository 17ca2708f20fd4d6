//! Server configuration: a TOML file (serde) overridden by command-line flags
//! (clap). Every key has a ZooKeeper-like default, so `corral-server` with no
//! arguments runs a single node on 127.0.0.1:2181 with data in
//! `./corral-data`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use serde::{Deserialize, Serialize};

/// Default client port, as ZooKeeper's.
pub const CLIENT_PORT_DEFAULT: u16 = 2181;
/// Default tick, as ZooKeeper's `tickTime`.
pub const TICK_TIME_MS_DEFAULT: u64 = 2000;

/// The four-letter words this server knows.
pub const FOUR_LETTER_WORDS: [&str; 9] = [
    "ruok", "srvr", "stat", "mntr", "conf", "cons", "envi", "wchs", "isro",
];

/// The whole server configuration, as read from TOML (keys in snake_case).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// This server's id in the ensemble (1 for a single node).
    pub server_id: u64,
    /// Every server of the ensemble, this one included, as
    /// `id=host:peer_port` or `id=host:peer_port:observer` (empty for a
    /// single node). Observers replicate and serve reads but never vote.
    pub members: Vec<String>,
    /// Port of this server's peer listener (Raft traffic and forwarded
    /// writes); defaults to this server's port in `members`.
    pub peer_port: Option<u16>,
    /// IP address the peer listener binds and outgoing peer connections
    /// come from; defaults to this server's host in `members`. Setting it
    /// (with `peer_port`) lets the advertised member address be a proxy.
    pub peer_host: Option<String>,
    /// Start as a new member of a running ensemble: never initialize a
    /// cluster, wait to be added by `reconfig`.
    pub join: bool,
    /// Address the client listener binds.
    pub client_address: String,
    /// Port the client listener binds (ZooKeeper's `clientPort`).
    pub client_port: u16,
    /// Where the Raft log, vote and snapshots live.
    pub data_dir: PathBuf,
    /// Base time unit (ZooKeeper's `tickTime`): expiry granularity.
    pub tick_time_ms: u64,
    /// Lower bound of negotiated session timeouts (default 2 ticks).
    pub min_session_timeout_ms: Option<u64>,
    /// Upper bound of negotiated session timeouts (default 20 ticks).
    pub max_session_timeout_ms: Option<u64>,
    /// Largest accepted packet, as ZooKeeper's `jute.maxbuffer`.
    pub max_packet_bytes: usize,
    /// Concurrent connections allowed from one client IP (0 = no cap), as
    /// ZooKeeper's `maxClientCnxns`.
    pub max_client_connections: usize,
    /// Four-letter words answered on the client port (`*` = all), as
    /// ZooKeeper's `4lw.commands.whitelist`.
    pub four_letter_words: Vec<String>,
    /// `super:base64(sha1("super:password"))`; a client that authenticates
    /// with that digest passes every ACL check.
    pub super_digest: Option<String>,
    /// Whether TTL nodes may be created (ZooKeeper's `extendedTypesEnabled`).
    pub ttl_enabled: bool,
    /// How often containers and TTL nodes are checked for removal.
    pub container_check_interval_ms: u64,
    /// A snapshot is taken after this many log entries.
    pub snapshot_every_entries: u64,
    /// Size of the log's preallocated segment files.
    pub log_segment_bytes: u64,
    /// Most client transactions carried by one log entry.
    pub batch_txns_max: usize,
    /// Log entries (batches) this server has in the commit pipeline at
    /// once: 1 waits for each batch to be applied before proposing the
    /// next; 2 (the default) lets the log append and fsync one batch while
    /// the state machine applies the previous one.
    pub batches_in_flight: usize,
    /// Most requests one connection may have outstanding before the server
    /// stops reading from it.
    pub outstanding_per_connection_max: usize,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            server_id: 1,
            members: Vec::new(),
            peer_port: None,
            peer_host: None,
            join: false,
            client_address: "127.0.0.1".to_string(),
            client_port: CLIENT_PORT_DEFAULT,
            data_dir: PathBuf::from("corral-data"),
            tick_time_ms: TICK_TIME_MS_DEFAULT,
            min_session_timeout_ms: None,
            max_session_timeout_ms: None,
            max_packet_bytes: corral_wire::proto::PACKET_BYTES_MAX_DEFAULT,
            max_client_connections: 60,
            four_letter_words: vec!["*".to_string()],
            super_digest: None,
            ttl_enabled: true,
            container_check_interval_ms: 60_000,
            snapshot_every_entries: 10_000,
            log_segment_bytes: 64 * 1024 * 1024,
            batch_txns_max: 1024,
            batches_in_flight: 2,
            outstanding_per_connection_max: 1000,
        }
    }
}

impl Config {
    /// Effective minimum session timeout.
    pub fn min_session_timeout_ms(&self) -> u64 {
        self.min_session_timeout_ms.unwrap_or(2 * self.tick_time_ms)
    }

    /// Effective maximum session timeout.
    pub fn max_session_timeout_ms(&self) -> u64 {
        self.max_session_timeout_ms
            .unwrap_or(20 * self.tick_time_ms)
            .max(self.min_session_timeout_ms())
    }

    /// Clamp a requested session timeout into [min, max], as ZooKeeper does.
    pub fn negotiate_timeout_ms(&self, requested: i32) -> i32 {
        let requested = u64::try_from(requested).unwrap_or(0);
        let t = requested.clamp(self.min_session_timeout_ms(), self.max_session_timeout_ms());
        i32::try_from(t).unwrap_or(i32::MAX)
    }

    /// Whether a four-letter word is enabled.
    pub fn four_letter_word_enabled(&self, word: &str) -> bool {
        self.four_letter_words
            .iter()
            .any(|w| w == "*" || w.eq_ignore_ascii_case(word))
    }

    /// The client listener's address.
    pub fn client_socket_addr(&self) -> Result<SocketAddr, ConfigError> {
        format!("{}:{}", self.client_address, self.client_port)
            .parse()
            .map_err(|_| {
                ConfigError::Invalid(format!("bad client address {}", self.client_address))
            })
    }

    /// Read a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Invalid(format!("cannot read {}: {e}", path.display())))?;
        Config::from_toml_str(&text)
    }

    /// Parse TOML text.
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Check cross-field rules.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tick_time_ms == 0 {
            return Err(ConfigError::Invalid("tick_time_ms must be > 0".into()));
        }
        if self.max_packet_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_packet_bytes must be >= 1024".into(),
            ));
        }
        if self.log_segment_bytes < 64 * 1024 {
            return Err(ConfigError::Invalid(
                "log_segment_bytes must be >= 65536".into(),
            ));
        }
        if self.batch_txns_max == 0
            || self.batches_in_flight == 0
            || self.outstanding_per_connection_max == 0
        {
            return Err(ConfigError::Invalid(
                "batch_txns_max, batches_in_flight and outstanding_per_connection_max must be > 0"
                    .into(),
            ));
        }
        for w in &self.four_letter_words {
            if w != "*" && !FOUR_LETTER_WORDS.contains(&w.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "unknown four-letter word {w}"
                )));
            }
        }
        if let Some(d) = &self.super_digest {
            if !d.contains(':') {
                return Err(ConfigError::Invalid(
                    "super_digest must be user:hash".into(),
                ));
            }
        }
        self.client_socket_addr()?;
        let members = self.parsed_members()?;
        if !members.is_empty() {
            let me = members
                .iter()
                .find(|m| m.id == self.server_id)
                .ok_or_else(|| {
                    ConfigError::Invalid(format!("server id {} is not in members", self.server_id))
                })?;
            if let Some(host) = &self.peer_host {
                host.parse::<std::net::IpAddr>().map_err(|_| {
                    ConfigError::Invalid(format!("peer_host must be an IP address, not {host}"))
                })?;
            }
            if me.observer && members.iter().all(|m| m.observer) {
                return Err(ConfigError::Invalid(
                    "members need at least one voter".into(),
                ));
            }
        }
        Ok(())
    }

    /// The ensemble's members, parsed (empty for a single node).
    pub fn parsed_members(&self) -> Result<Vec<Member>, ConfigError> {
        let mut members: Vec<Member> = Vec::new();
        for text in &self.members {
            let m = Member::parse(text)?;
            if members.iter().any(|o| o.id == m.id) {
                return Err(ConfigError::Invalid(format!(
                    "member id {} listed twice",
                    m.id
                )));
            }
            members.push(m);
        }
        members.sort_by_key(|m| m.id);
        Ok(members)
    }

    /// Whether this server is one of several.
    pub fn is_ensemble(&self) -> bool {
        !self.members.is_empty()
    }
}

/// One server of the ensemble.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Server id (unique, stable).
    pub id: u64,
    /// `host:port` of its peer listener.
    pub peer_addr: String,
    /// A non-voting member (ZooKeeper's observer, a Raft learner).
    pub observer: bool,
}

impl Member {
    /// Parse `id=host:port` or `id=host:port:observer` (`:participant` is
    /// accepted too, as in ZooKeeper's `server.N` lines).
    pub fn parse(text: &str) -> Result<Member, ConfigError> {
        let bad =
            || ConfigError::Invalid(format!("bad member {text:?}: want id=host:port[:observer]"));
        let (id, rest) = text.trim().split_once('=').ok_or_else(bad)?;
        let id: u64 = id.trim().parse().map_err(|_| bad())?;
        if id == 0 {
            return Err(bad());
        }
        let mut parts: Vec<&str> = rest.trim().split(':').collect();
        let observer = match parts.last() {
            Some(&"observer") => {
                parts.pop();
                true
            }
            Some(&"participant") => {
                parts.pop();
                false
            }
            _ => false,
        };
        let [host, port] = parts.as_slice() else {
            return Err(bad());
        };
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() || port == 0 {
            return Err(bad());
        }
        Ok(Member {
            id,
            peer_addr: format!("{host}:{port}"),
            observer,
        })
    }
}

/// A configuration that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// What is wrong, in words.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Command-line flags; each overrides the same key of the TOML file.
#[derive(Debug, Clone, Default, Parser)]
#[command(
    name = "corral-server",
    version,
    about = "Corral: a ZooKeeper-compatible coordination server"
)]
pub struct Flags {
    /// TOML configuration file.
    #[arg(long, short = 'c')]
    pub config: Option<PathBuf>,
    /// This server's id.
    #[arg(long = "id")]
    pub server_id: Option<u64>,
    /// Ensemble members: `1=127.0.0.1:2888,2=127.0.0.1:2889,4=127.0.0.1:2891:observer`.
    #[arg(long, value_delimiter = ',')]
    pub members: Option<Vec<String>>,
    /// Peer port of this server (default: its port in --members).
    #[arg(long)]
    pub peer_port: Option<u16>,
    /// IP the peer port binds and peer connections come from (default: its
    /// host in --members).
    #[arg(long)]
    pub peer_host: Option<String>,
    /// Address to bind the client port on.
    #[arg(long)]
    pub client_address: Option<String>,
    /// Client port.
    #[arg(long)]
    pub client_port: Option<u16>,
    /// Data directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Tick in milliseconds.
    #[arg(long)]
    pub tick_time_ms: Option<u64>,
    /// Minimum session timeout in milliseconds.
    #[arg(long)]
    pub min_session_timeout_ms: Option<u64>,
    /// Maximum session timeout in milliseconds.
    #[arg(long)]
    pub max_session_timeout_ms: Option<u64>,
    /// Largest accepted packet in bytes.
    #[arg(long)]
    pub max_packet_bytes: Option<usize>,
    /// Connections allowed per client IP (0 = no cap).
    #[arg(long)]
    pub max_client_connections: Option<usize>,
    /// Comma-separated four-letter words to enable (`*` = all).
    #[arg(long, value_delimiter = ',')]
    pub four_letter_words: Option<Vec<String>>,
    /// Super user digest, `super:base64(sha1("super:password"))`.
    #[arg(long)]
    pub super_digest: Option<String>,
    /// Disable TTL nodes.
    #[arg(long)]
    pub disable_ttl: bool,
    /// Join a running ensemble (added with reconfig) instead of forming one.
    #[arg(long)]
    pub join: bool,
    /// Container and TTL check interval in milliseconds.
    #[arg(long)]
    pub container_check_interval_ms: Option<u64>,
    /// Log entries between snapshots.
    #[arg(long)]
    pub snapshot_every_entries: Option<u64>,
    /// Size of the log's preallocated segment files, in bytes.
    #[arg(long)]
    pub log_segment_bytes: Option<u64>,
    /// Most client transactions in one log entry.
    #[arg(long)]
    pub batch_txns_max: Option<usize>,
    /// Log entries in the commit pipeline at once.
    #[arg(long)]
    pub batches_in_flight: Option<usize>,
}

impl Flags {
    /// The configuration these flags describe: the file's (if any), then
    /// every given flag on top.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        let mut c = match &self.config {
            Some(p) => Config::from_toml_file(p)?,
            None => Config::default(),
        };
        macro_rules! set {
            ($($field:ident),*) => { $( if let Some(v) = self.$field { c.$field = v; } )* };
        }
        set!(
            server_id,
            client_address,
            client_port,
            data_dir,
            tick_time_ms,
            members
        );
        if self.peer_port.is_some() {
            c.peer_port = self.peer_port;
        }
        if self.peer_host.is_some() {
            c.peer_host = self.peer_host;
        }
        set!(max_packet_bytes, max_client_connections, four_letter_words);
        set!(
            container_check_interval_ms,
            snapshot_every_entries,
            log_segment_bytes
        );
        set!(batch_txns_max, batches_in_flight);
        if self.min_session_timeout_ms.is_some() {
            c.min_session_timeout_ms = self.min_session_timeout_ms;
        }
        if self.max_session_timeout_ms.is_some() {
            c.max_session_timeout_ms = self.max_session_timeout_ms;
        }
        if self.super_digest.is_some() {
            c.super_digest = self.super_digest;
        }
        if self.disable_ttl {
            c.ttl_enabled = false;
        }
        if self.join {
            c.join = true;
        }
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_zookeepers() {
        let c = Config::default();
        assert_eq!(c.client_port, 2181);
        assert_eq!(c.min_session_timeout_ms(), 4000);
        assert_eq!(c.max_session_timeout_ms(), 40000);
        assert_eq!(c.negotiate_timeout_ms(100), 4000);
        assert_eq!(c.negotiate_timeout_ms(10_000), 10_000);
        assert_eq!(c.negotiate_timeout_ms(1_000_000), 40_000);
        assert_eq!(c.negotiate_timeout_ms(-5), 4000);
        assert_eq!(c.data_dir, PathBuf::from("corral-data"));
        assert!(c.four_letter_word_enabled("ruok"));
    }

    #[test]
    fn flags_override_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("corral.toml");
        std::fs::write(
            &file,
            "client_port = 3000\ndata_dir = \"/tmp/x\"\nfour_letter_words = [\"srvr\"]\n",
        )
        .unwrap();
        let flags = Flags::parse_from([
            "corral-server",
            "--config",
            file.to_str().unwrap(),
            "--client-port",
            "3001",
        ]);
        let c = flags.into_config().unwrap();
        assert_eq!(c.client_port, 3001);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert!(c.four_letter_word_enabled("srvr"));
        assert!(!c.four_letter_word_enabled("ruok"));
    }

    #[test]
    fn members_from_flags() {
        let flags = Flags::parse_from([
            "corral-server",
            "--id",
            "2",
            "--members",
            "1=127.0.0.1:2888,2=127.0.0.1:2889,4=127.0.0.1:2891:observer",
        ]);
        let c = flags.into_config().unwrap();
        let m = c.parsed_members().unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[1].peer_addr, "127.0.0.1:2889");
        assert!(m[2].observer && !m[0].observer);
        assert!(c.is_ensemble());
    }

    #[test]
    fn bad_members_are_refused() {
        for members in [
            vec!["1=127.0.0.1"],
            vec!["x=127.0.0.1:1"],
            vec!["0=127.0.0.1:1"],
            vec!["1=127.0.0.1:1", "1=127.0.0.1:2"],
            vec!["2=127.0.0.1:1"],
            vec!["1=127.0.0.1:1:observer"],
        ] {
            let c = Config {
                members: members.iter().map(|s| s.to_string()).collect(),
                ..Config::default()
            };
            assert!(c.validate().is_err(), "{members:?}");
        }
    }

    #[test]
    fn bad_config_is_refused() {
        assert!(Config::from_toml_str("client_port = \"x\"").is_err());
        assert!(Config::from_toml_str("no_such_key = 1").is_err());
        assert!(Config::from_toml_str("four_letter_words = [\"rmrf\"]").is_err());
        assert!(Config::from_toml_str("tick_time_ms = 0").is_err());
    }
}
