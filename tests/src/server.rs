//! [`ServerProcess`]: a real `corral-server` or Apache ZooKeeper process on
//! a free 127.0.0.1 port with its own temporary data directory.
//!
//! Each server runs under a small `sh` guard that holds the read end of a
//! pipe from the test process: when the test process exits, even by a
//! panic or an abort, the pipe closes and the guard SIGKILLs the server, so
//! no server outlives its tests.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use corral::proto::{
    decode_reply_header, encode_frame, encode_request, ConnectRequest, ConnectResponse, Record,
    Request,
};

/// How long a server may take to answer `ruok` and accept a session.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a graceful stop may take before the server is killed.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Tick of both servers, ZooKeeper's default.
pub const TICK_TIME_MS: u64 = 2000;
/// Lowest session timeout both servers grant, so expiry tests are quick.
pub const MIN_SESSION_TIMEOUT_MS: u64 = 1000;
/// Highest session timeout both servers grant.
pub const MAX_SESSION_TIMEOUT_MS: u64 = 60_000;

/// Classpath of Debian's `zookeeper` package.
const ZOOKEEPER_JARS: [&str; 3] = [
    "/usr/share/java/zookeeper.jar",
    "/usr/share/java/zookeeper-jute.jar",
    "/usr/share/java/slf4j-simple.jar",
];

/// Which server a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerKind {
    /// Corral's own `corral-server`.
    Corral,
    /// Apache ZooKeeper 3.8 standalone (Debian's `zookeeper` package).
    ZooKeeper,
}

impl ServerKind {
    /// Both kinds, for tests that loop over targets.
    pub const ALL: [ServerKind; 2] = [ServerKind::Corral, ServerKind::ZooKeeper];

    /// A short name for logs and test names.
    pub fn name(self) -> &'static str {
        match self {
            ServerKind::Corral => "corral",
            ServerKind::ZooKeeper => "zookeeper",
        }
    }
}

/// Settings of a server to start.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Which server.
    pub kind: ServerKind,
    /// Lowest session timeout granted.
    pub min_session_timeout_ms: u64,
    /// Highest session timeout granted.
    pub max_session_timeout_ms: u64,
    /// Extra command-line flags (corral) or `zoo.cfg` lines (ZooKeeper),
    /// e.g. an ensemble's `--id` and peers.
    pub extra: Vec<String>,
    /// The client port; a free one when `None`. Ensembles that must know
    /// every member's address before starting any pick theirs with
    /// [`free_port`].
    pub port: Option<u16>,
}

impl ServerOptions {
    /// The defaults for `kind`.
    pub fn new(kind: ServerKind) -> ServerOptions {
        ServerOptions {
            kind,
            min_session_timeout_ms: MIN_SESSION_TIMEOUT_MS,
            max_session_timeout_ms: MAX_SESSION_TIMEOUT_MS,
            extra: Vec::new(),
            port: None,
        }
    }
}

/// A 127.0.0.1 port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// The `corral-server` binary: `$CORRAL_SERVER_BIN`, else
/// `$CARGO_TARGET_DIR/debug/corral-server`, else
/// `<workspace>/target/debug/corral-server`.
pub fn corral_server_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("CORRAL_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug").join("corral-server")
}

/// Sends a four-letter word to `127.0.0.1:port` and reads the answer until
/// the server closes the connection.
pub fn four_letter(port: u16, word: &str, timeout: Duration) -> std::io::Result<String> {
    let addr = ("127.0.0.1", port);
    let mut stream = TcpStream::connect_timeout(
        &std::net::ToSocketAddrs::to_socket_addrs(&addr)?
            .next()
            .expect("an address"),
        timeout,
    )?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(word.as_bytes())?;
    let mut answer = Vec::new();
    match stream.read_to_end(&mut answer) {
        Ok(_) => {}
        // ZooKeeper may reset rather than close after answering.
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !answer.is_empty() => {}
        Err(e) => return Err(e),
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Opens a session with a raw handshake and closes it: ZooKeeper answers
/// `imok` before it serves sessions.
fn probe_session(port: u16, timeout: Duration) -> std::io::Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(timeout))?;
    let request = ConnectRequest {
        protocol_version: 0,
        last_zxid_seen: 0,
        timeout_ms: 4 * MIN_SESSION_TIMEOUT_MS as i32,
        session_id: 0,
        password: vec![0; 16],
        read_only: false,
    };
    stream.write_all(&encode_frame(&request.to_bytes()))?;
    let frame = read_frame(&mut stream)?;
    let response = ConnectResponse::from_bytes(&frame)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    if response.timeout_ms <= 0 {
        return Err(std::io::Error::other("probe session refused"));
    }
    stream.write_all(&encode_request(1, &Request::CloseSession))?;
    let frame = read_frame(&mut stream)?;
    decode_reply_header(&frame)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    let _ = stream.shutdown(Shutdown::Both);
    Ok(())
}

fn read_frame(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > 1 << 20 {
        return Err(std::io::Error::other("frame too large"));
    }
    let mut frame = vec![0; len];
    stream.read_exact(&mut frame)?;
    Ok(frame)
}

/// One running (or stopped) server on a fixed port and data dir; `restart`
/// keeps both, so sessions and data survive it.
#[derive(Debug)]
pub struct ServerProcess {
    options: ServerOptions,
    port: u16,
    workdir: tempfile::TempDir,
    guard: Option<(Child, ChildStdin)>,
    pid: Option<u32>,
    starts: u32,
    /// Whether the guard deletes the work dir when the test process exits
    /// (servers in statics are never dropped, so nothing else would).
    remove_dir_on_exit: bool,
}

impl ServerProcess {
    /// Starts a server of `kind` with default options; panics with the
    /// output tail if it does not become ready.
    pub fn start(kind: ServerKind) -> ServerProcess {
        ServerProcess::start_with(ServerOptions::new(kind))
    }

    /// Starts a server with `options`.
    pub fn start_with(options: ServerOptions) -> ServerProcess {
        ServerProcess::launched(options, false)
    }

    /// As [`start`](ServerProcess::start), for a server that lives in a
    /// static until the test process exits: its guard then also deletes
    /// its work dir. Never [`kill`](ServerProcess::kill) or restart it.
    pub fn start_for_process(kind: ServerKind) -> ServerProcess {
        ServerProcess::launched(ServerOptions::new(kind), true)
    }

    fn launched(options: ServerOptions, remove_dir_on_exit: bool) -> ServerProcess {
        let workdir = tempfile::Builder::new()
            .prefix(&format!("{}-", options.kind.name()))
            .tempdir()
            .expect("temporary directory");
        std::fs::create_dir_all(workdir.path().join("data")).expect("data directory");
        let port = options.port.unwrap_or_else(free_port);
        let mut server = ServerProcess {
            options,
            port,
            workdir,
            guard: None,
            pid: None,
            starts: 0,
            remove_dir_on_exit,
        };
        server.launch();
        server
    }

    /// The server's kind.
    pub fn kind(&self) -> ServerKind {
        self.options.kind
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:port`, for a client's connect string.
    pub fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The data directory (kept across restarts).
    pub fn data_dir(&self) -> PathBuf {
        self.workdir.path().join("data")
    }

    /// The server's combined stdout and stderr so far.
    pub fn log_path(&self) -> PathBuf {
        self.workdir.path().join("server.log")
    }

    /// The last `lines` lines of the server's output.
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    /// Sends a four-letter word (`ruok`, `srvr`, `mntr`, `cons`, ...).
    pub fn four_letter(&self, word: &str) -> std::io::Result<String> {
        four_letter(self.port, word, Duration::from_secs(10))
    }

    /// Whether the process is running.
    pub fn is_running(&self) -> bool {
        self.guard.is_some()
    }

    fn command(&self) -> Vec<String> {
        let o = &self.options;
        match o.kind {
            ServerKind::Corral => {
                let binary = corral_server_binary();
                assert!(
                    binary.exists(),
                    "corral-server binary not found at {}: run cargo build --workspace first \
                     (or set CORRAL_SERVER_BIN)",
                    binary.display()
                );
                let mut cmd = vec![
                    binary.display().to_string(),
                    "--client-port".into(),
                    self.port.to_string(),
                    "--client-address".into(),
                    "127.0.0.1".into(),
                    "--data-dir".into(),
                    self.data_dir().display().to_string(),
                    "--tick-time-ms".into(),
                    TICK_TIME_MS.to_string(),
                    "--min-session-timeout-ms".into(),
                    o.min_session_timeout_ms.to_string(),
                    "--max-session-timeout-ms".into(),
                    o.max_session_timeout_ms.to_string(),
                    "--container-check-interval-ms".into(),
                    "1000".into(),
                ];
                cmd.extend(o.extra.iter().cloned());
                cmd
            }
            ServerKind::ZooKeeper => {
                for jar in ZOOKEEPER_JARS {
                    assert!(
                        Path::new(jar).exists(),
                        "{jar} not found: install Debian's zookeeper package"
                    );
                }
                let cfg = self.workdir.path().join("zoo.cfg");
                let mut lines = vec![
                    format!("dataDir={}", self.data_dir().display()),
                    format!("clientPort={}", self.port),
                    "clientPortAddress=127.0.0.1".into(),
                    format!("tickTime={TICK_TIME_MS}"),
                    format!("minSessionTimeout={}", o.min_session_timeout_ms),
                    format!("maxSessionTimeout={}", o.max_session_timeout_ms),
                    "4lw.commands.whitelist=*".into(),
                    "admin.enableServer=false".into(),
                    "extendedTypesEnabled=true".into(),
                    "maxClientCnxns=0".into(),
                ];
                lines.extend(o.extra.iter().cloned());
                std::fs::write(&cfg, lines.join("\n") + "\n").expect("write zoo.cfg");
                vec![
                    std::env::var("JAVA").unwrap_or_else(|_| "java".into()),
                    "-Xmx256m".into(),
                    "-Xms32m".into(),
                    "-XX:+UseSerialGC".into(),
                    "-XX:TieredStopAtLevel=1".into(),
                    "-Dznode.container.checkIntervalMs=1000".into(),
                    "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn".into(),
                    "-Dzookeeper.admin.enableServer=false".into(),
                    "-Dzookeeper.4lw.commands.whitelist=*".into(),
                    "-Dzookeeper.extendedTypesEnabled=true".into(),
                    "-cp".into(),
                    ZOOKEEPER_JARS.join(":"),
                    "org.apache.zookeeper.server.ZooKeeperServerMain".into(),
                    cfg.display().to_string(),
                ]
            }
        }
    }

    fn launch(&mut self) {
        assert!(self.guard.is_none(), "server already running");
        let command = self.command();
        self.starts += 1;
        let log_path = self.log_path();
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("open server log");
        writeln!(log, "--- start #{}: {}", self.starts, command.join(" ")).expect("write log");
        // The guard: start the server in the background, report its pid,
        // wait for stdin to close, then kill and reap it.
        let script = r#"log="$1"; dir="$2"; shift 2; "$@" </dev/null >>"$log" 2>&1 & pid=$!; echo $pid; read _ignored; kill -9 $pid 2>/dev/null; wait $pid; if [ -n "$dir" ]; then rm -rf "$dir"; fi"#;
        let remove_dir = if self.remove_dir_on_exit {
            self.workdir.path().display().to_string()
        } else {
            String::new()
        };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .arg("sh")
            .arg(&log_path)
            .arg(remove_dir)
            .args(&command)
            .current_dir(self.workdir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("read server pid");
        self.pid = Some(line.trim().parse().expect("server pid"));
        self.guard = Some((child, stdin));
        self.wait_ready();
    }

    fn process_alive(&self) -> bool {
        let Some(pid) = self.pid else { return false };
        // A dead server is a zombie until its guard reaps it; /proc says so.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last_error = String::from("not started");
        while Instant::now() < deadline {
            if !self.process_alive() {
                let tail = self.log_tail(40);
                self.kill();
                panic!(
                    "{} server exited during start; output tail:\n{tail}",
                    self.kind().name()
                );
            }
            match four_letter(self.port, "ruok", Duration::from_secs(2)) {
                Ok(answer) if answer == "imok" => {
                    match probe_session(self.port, Duration::from_secs(5)) {
                        Ok(()) => return,
                        Err(e) => last_error = format!("session probe: {e}"),
                    }
                }
                Ok(answer) => last_error = format!("ruok answered {answer:?}"),
                Err(e) => last_error = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let tail = self.log_tail(40);
        self.kill();
        panic!(
            "{} server not ready on {} after {START_TIMEOUT:?} ({last_error}); output tail:\n{tail}",
            self.kind().name(),
            self.connect_string()
        );
    }

    /// SIGKILLs the server and waits until it is gone (its port then
    /// refuses connections). Does nothing if it is not running.
    pub fn kill(&mut self) {
        if let Some((mut child, stdin)) = self.guard.take() {
            drop(stdin);
            let _ = child.wait();
        }
        self.pid = None;
    }

    /// SIGTERMs the server and waits for it to exit (SIGKILL after
    /// [`STOP_TIMEOUT`]).
    pub fn stop(&mut self) {
        if let Some(pid) = self.pid {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
            let deadline = Instant::now() + STOP_TIMEOUT;
            while self.process_alive() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        self.kill();
    }

    /// Starts the server again on the same port and data dir.
    pub fn start_again(&mut self) {
        self.launch();
    }

    /// SIGKILLs the server and starts it again on the same port and data
    /// dir (a crash and a quick restart).
    pub fn restart(&mut self) {
        self.kill();
        self.launch();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
