//! Storage faults against a real `corral-server` process:
//!
//! - an `EIO` on `fdatasync` (the server is built with the `fault-injection`
//!   feature for these tests: syncs fail while a trigger file exists;
//!   device-mapper is not available on these machines): the server stops
//!   with a non-zero exit and a clear message, never lingers half alive,
//!   and a restart has every acknowledged write;
//! - a full disk (a size-limited tmpfs, mounted by the test; it needs
//!   root, as CI runs): writes are refused with ZooKeeper's read-only
//!   error while reads go on, writes resume by themselves once space is
//!   freed, and a restart has every acknowledged write.
//!
//! Each test prints the mechanism it used.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use corral::client::{Client, CreateOptions};
use corral::Error;
use corral_tests::server::{corral_server_binary, four_letter, free_port};
use corral_tests::{connector, init_tracing};

/// A `corral-server` started by hand, so that its exit status is seen.
struct Server {
    child: Option<Child>,
    port: u16,
    data_dir: PathBuf,
    log: PathBuf,
    env: Vec<(String, String)>,
    extra: Vec<String>,
}

impl Server {
    fn start(data_dir: &Path, log: &Path, env: &[(&str, &str)], extra: &[&str]) -> Server {
        let mut server = Server {
            child: None,
            port: free_port(),
            data_dir: data_dir.to_path_buf(),
            log: log.to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        server.launch();
        server
    }

    fn launch(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log");
        let child = Command::new(corral_server_binary())
            .args(["--client-port", &self.port.to_string()])
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(["--min-session-timeout-ms", "1000"])
            .args(&self.extra)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start corral-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(answer) = four_letter(self.port, "ruok", Duration::from_secs(1)) {
                if answer == "imok" {
                    return;
                }
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "the server exited at start ({status}):\n{}",
                    self.log_text()
                );
            }
            assert!(Instant::now() < deadline, "the server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn connect_string(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most `timeout`) for the process to exit by itself.
    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then a bounded wait.
    fn stop(&mut self) {
        if let Some(child) = &self.child {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
        }
        if self.wait_exit(Duration::from_secs(20)).is_none() {
            if let Some(mut child) = self.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn connect(server: &Server) -> Client {
    connector(&server.connect_string())
        .connect()
        .await
        .expect("connect")
}

async fn check_all_present(client: &Client, acked: &[(String, Vec<u8>)]) {
    for (path, data) in acked {
        let (got, _) = client
            .get_data(path)
            .await
            .unwrap_or_else(|e| panic!("acknowledged {path} lost: {e}"));
        assert_eq!(&got, data, "acknowledged {path} changed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_fdatasync_error_stops_the_server_and_a_restart_keeps_every_acknowledged_write() {
    init_tracing();
    println!("mechanism: fault-injection build of corral-server, EIO from every sync while a trigger file exists");
    let work = tempfile::tempdir().unwrap();
    let trigger = work.path().join("eio");
    let trigger_env = trigger.display().to_string();
    let mut server = Server::start(
        &work.path().join("data"),
        &work.path().join("server.log"),
        &[("CORRAL_FAULT_SYNC_EIO_WHEN", &trigger_env)],
        &[],
    );
    let client = connect(&server).await;
    let mut acked = Vec::new();
    for i in 0..20 {
        let path = format!("/acked-{i}");
        let data = format!("value {i}").into_bytes();
        client
            .create(&path, &data, &CreateOptions::persistent())
            .await
            .unwrap();
        acked.push((path, data));
    }
    std::fs::write(&trigger, b"").unwrap();
    let failed = tokio::time::timeout(
        Duration::from_secs(30),
        client.create("/after-eio", b"x", &CreateOptions::persistent()),
    )
    .await;
    assert!(
        !matches!(failed, Ok(Ok(_))),
        "a write was acknowledged after its fsync failed"
    );
    let status = tokio::task::block_in_place(|| server.wait_exit(Duration::from_secs(30)))
        .expect("the server must stop after a failed fsync, not linger");
    println!("server exited with {status} after the fsync error");
    assert!(!status.success(), "exit status must be non-zero: {status}");
    let log = server.log_text();
    assert!(log.contains("log storage failed"), "{log}");
    drop(client);

    std::fs::remove_file(&trigger).unwrap();
    tokio::task::block_in_place(|| server.launch());
    let client = connect(&server).await;
    check_all_present(&client, &acked).await;
    // And it takes writes again.
    client
        .create("/after-restart", b"y", &CreateOptions::persistent())
        .await
        .unwrap();
    client.close().await.unwrap();
    tokio::task::block_in_place(|| server.stop());
}

/// A tmpfs of `bytes` at `path`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(path: &Path, bytes: u64) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}")])
            .arg("tmpfs")
            .arg(path)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a size-limited tmpfs and needs root (CI runs as root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs(path.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `path` with a file, then frees `leave` bytes
/// of it.
fn fill(path: &Path, leave: u64) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0xabu8; 1 << 20];
    let mut written = 0u64;
    loop {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling: {e}"),
        }
    }
    file.set_len(written.saturating_sub(leave)).unwrap();
    file.sync_all().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_keeps_reads_and_recovers_when_space_is_freed() {
    init_tracing();
    println!("mechanism: a 48 MiB tmpfs mounted for the test, filled with a file");
    let work = tempfile::tempdir().unwrap();
    let mnt = Tmpfs::mount(&work.path().join("mnt"), 48 << 20);
    let mut server = Server::start(
        &mnt.0.join("data"),
        &work.path().join("server.log"),
        &[],
        &["--log-segment-bytes", "1048576"],
    );
    // Sessions are log entries: open them while there is space.
    let writer = connect(&server).await;
    let prober = connect(&server).await;
    let mut acked = Vec::new();
    for i in 0..5 {
        let path = format!("/before-{i}");
        let data = vec![i as u8; 1000];
        writer
            .create(&path, &data, &CreateOptions::persistent())
            .await
            .unwrap();
        acked.push((path, data));
    }
    fill(&mnt.0.join("filler"), 2 << 20);

    // Keep writing 64 KiB nodes until the log has no room for a segment.
    let mut refused_after = None;
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut i = 0;
    while refused_after.is_none() {
        assert!(
            Instant::now() < deadline,
            "writes were never refused on a full disk"
        );
        let path = format!("/fill-{i}");
        let data = vec![(i % 251) as u8; 64 * 1024];
        match tokio::time::timeout(
            Duration::from_secs(3),
            writer.create(&path, &data, &CreateOptions::persistent()),
        )
        .await
        {
            Ok(Ok(_)) => acked.push((path, data)),
            Ok(Err(Error::NotReadOnly)) => refused_after = Some(acked.len()),
            // Stuck waiting for space (its outcome unknown): go on with
            // the prober, whose session has nothing in flight.
            Ok(Err(_)) | Err(_) => {
                let probe = prober
                    .create(&format!("/probe-{i}"), b"p", &CreateOptions::persistent())
                    .await;
                match probe {
                    Err(Error::NotReadOnly) => refused_after = Some(acked.len()),
                    Ok(_) => {}
                    Err(e) => panic!("a write on a full disk failed with {e}, not NOTREADONLY"),
                }
            }
        }
        i += 1;
    }
    println!(
        "writes refused with NOTREADONLY after {} acknowledged writes",
        refused_after.unwrap()
    );
    // Reads go on.
    let (data, _) = prober.get_data(&acked[0].0).await.unwrap();
    assert_eq!(data, acked[0].1);
    assert!(matches!(
        prober
            .create("/refused", b"r", &CreateOptions::persistent())
            .await,
        Err(Error::NotReadOnly)
    ));

    // Free the space: writes resume by themselves.
    std::fs::remove_file(mnt.0.join("filler")).unwrap();
    let resumed = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match prober
            .create("/after-space", b"ok", &CreateOptions::persistent())
            .await
        {
            Ok(_) => break,
            Err(Error::NotReadOnly) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("writes did not resume after space was freed: {e}"),
        }
    }
    println!(
        "writes resumed {} ms after space was freed",
        resumed.elapsed().as_millis()
    );
    acked.push(("/after-space".into(), b"ok".to_vec()));
    drop(writer);
    prober.close().await.unwrap();

    tokio::task::block_in_place(|| server.stop());
    tokio::task::block_in_place(|| server.launch());
    let client = connect(&server).await;
    check_all_present(&client, &acked).await;
    client.close().await.unwrap();
    tokio::task::block_in_place(|| server.stop());
}
