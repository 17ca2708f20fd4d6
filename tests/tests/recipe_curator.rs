//! Interoperation with Apache Curator (Debian's `libcurator-recipes-java`):
//! a Java program (`tests/curator/MutexInterop.java`, compiled with
//! `javac` into a temporary directory) takes the same lock with Curator's
//! `InterProcessMutex` as Rust clients with [`Mutex`], against a
//! `corral-server` and an Apache ZooKeeper process.
//!
//! Oracles: Curator's lock nodes have the layout the Rust mutex writes
//! (`_c_<uuid>-lock-<seq>`) and queue behind a Rust holder; every client,
//! Java or Rust, appends `enter <id>` / `exit <id>` to one marker file
//! inside the critical section, and the file must be a sequence of
//! non-overlapping pairs; a versioned read-modify-write of a counter node
//! inside the section never conflicts and ends at the number of sections.
//!
//! Skipped (with a message) when `java`, `javac` or the Curator jars are
//! missing.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};

use corral::client::{Client, CreateOptions};
use corral::recipes::{protected_id, Mutex};
use corral_tests::{
    against_both, connect, eventually, shared_connect_string, unique_root, within, ServerKind,
};

/// Rounds per client; two Java and two Rust clients.
const ROUNDS: usize = 15;
const JAVA_THREADS: usize = 2;
const RUST_CLIENTS: usize = 2;

/// Curator's jars and their dependencies, as Debian installs them.
const JARS: [&str; 8] = [
    "curator-recipes",
    "curator-framework",
    "curator-client",
    "zookeeper",
    "zookeeper-jute",
    "guava",
    "slf4j-api",
    "slf4j-nop",
];

/// The classpath of Curator, `None` (with the reason) when it cannot run.
fn curator_classpath() -> Result<String, String> {
    let mut paths = Vec::new();
    for jar in JARS {
        let path = PathBuf::from(format!("/usr/share/java/{jar}.jar"));
        if !path.exists() {
            return Err(format!("{} is missing", path.display()));
        }
        paths.push(path.display().to_string());
    }
    for tool in ["java", "javac"] {
        let found = std::process::Command::new(tool)
            .arg("-version")
            .output()
            .is_ok();
        if !found {
            return Err(format!("{tool} is not installed"));
        }
    }
    Ok(paths.join(":"))
}

/// Compiles `tests/curator/<class>.java` into `out`.
fn compile(class: &str, classpath: &str, out: &Path) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("curator")
        .join(format!("{class}.java"));
    let output = std::process::Command::new("javac")
        .args(["-cp", classpath, "-d"])
        .arg(out)
        .arg(&source)
        .output()
        .expect("run javac");
    assert!(
        output.status.success(),
        "javac {}: {}",
        source.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn append(markers: &Path, line: &str) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(markers)
        .unwrap();
    file.write_all(format!("{line}\n").as_bytes()).unwrap();
}

/// A versioned read-modify-write of the counter: fails if anyone else
/// wrote it in between.
async fn bump(client: &Client, counter: &str) {
    let (data, stat) = client.get_data(counter).await.unwrap();
    let n: u64 = String::from_utf8(data).unwrap().parse().unwrap();
    tokio::task::yield_now().await;
    client
        .set_data(counter, (n + 1).to_string().as_bytes(), Some(stat.version))
        .await
        .expect("no concurrent writer under the lock");
}

async fn curator_mutex_interop(kind: ServerKind) {
    let classpath = match curator_classpath() {
        Ok(classpath) => classpath,
        Err(reason) => {
            eprintln!("skipped: Curator cannot run here: {reason}");
            return;
        }
    };
    let classes = tempfile::tempdir().unwrap();
    compile("MutexInterop", &classpath, classes.path());

    let connect_string = shared_connect_string(kind).await;
    let admin = connect(&connect_string).await;
    let root = unique_root(&admin, "curator-mutex").await;
    let lock_path = format!("{root}/lock");
    let counter = format!("{root}/counter");
    admin
        .create(&counter, b"0", &CreateOptions::persistent())
        .await
        .unwrap();
    let markers = classes.path().join("markers.txt");
    std::fs::write(&markers, b"").unwrap();

    let rust: Vec<Client> =
        futures::future::join_all((0..RUST_CLIENTS).map(|_| connect(&connect_string))).await;
    let mutex = Mutex::new(&rust[0], &lock_path).with_data(b"rust-0");

    tracing::info!("--- a Rust client holds the lock; Curator queues behind it");
    let lease = mutex.acquire().await.unwrap();
    let mut java = tokio::process::Command::new("java")
        .arg("-cp")
        .arg(format!("{}:{classpath}", classes.path().display()))
        .arg("MutexInterop")
        .args([&connect_string, &lock_path, &counter])
        .arg(&markers)
        .args([ROUNDS.to_string(), JAVA_THREADS.to_string()])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start java");
    let mut stdout = BufReader::new(java.stdout.take().unwrap()).lines();
    let first = within("java connected", stdout.next_line()).await.unwrap();
    assert_eq!(first.as_deref(), Some("connected"));
    eventually("Curator's contenders queued", || async {
        mutex.participant_nodes().await.unwrap().len() == 1 + JAVA_THREADS
    })
    .await;
    {
        let nodes = mutex.participant_nodes().await.unwrap();
        assert_eq!(nodes[0], lease.path(), "the Rust holder sorts first");
        let mut java_ids = Vec::new();
        for node in &nodes {
            let name = node.rsplit('/').next().unwrap();
            let uuid = protected_id(name).unwrap_or_else(|| panic!("unprotected node {name}"));
            let seq = name
                .strip_prefix(&format!("_c_{uuid}-lock-"))
                .unwrap_or_else(|| panic!("not a lock node: {name}"));
            assert!(seq.len() == 10 && seq.bytes().all(|b| b.is_ascii_digit()));
            let (data, stat) = admin.get_data(node).await.unwrap();
            assert_ne!(stat.ephemeral_owner, 0);
            java_ids.push(String::from_utf8(data).unwrap());
        }
        java_ids.sort();
        assert_eq!(java_ids, ["java-0", "java-1", "rust-0"]);
    }
    lease.release().await.unwrap();

    tracing::info!("--- Rust and Curator clients contend");
    let mut tasks = Vec::new();
    for (i, client) in rust.iter().enumerate() {
        let (client, lock_path, counter, markers) = (
            client.clone(),
            lock_path.clone(),
            counter.clone(),
            markers.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mutex = Mutex::new(&client, &lock_path).with_data(format!("rust-{i}").as_bytes());
            for _ in 0..ROUNDS {
                let lease = within("rust acquire", mutex.acquire()).await.unwrap();
                append(&markers, &format!("enter rust-{i}"));
                bump(&client, &counter).await;
                append(&markers, &format!("exit rust-{i}"));
                lease.release().await.unwrap();
            }
        }));
    }
    for task in tasks {
        within("rust contender", task).await.unwrap();
    }
    let status = within("java done", java.wait()).await.unwrap();
    let mut rest = Vec::new();
    while let Ok(Some(line)) = stdout.next_line().await {
        rest.push(line);
    }
    assert!(status.success(), "MutexInterop failed: {}", rest.join("\n"));
    assert_eq!(rest.last().map(String::as_str), Some("done"));

    let log = std::fs::read_to_string(&markers).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    let sections = (JAVA_THREADS + RUST_CLIENTS) * ROUNDS;
    assert_eq!(lines.len(), 2 * sections, "{log}");
    for pair in lines.chunks(2) {
        let enter = pair[0]
            .strip_prefix("enter ")
            .unwrap_or_else(|| panic!("overlap: {pair:?}\n{log}"));
        assert_eq!(pair[1], format!("exit {enter}"), "overlap in\n{log}");
    }
    let handovers = lines
        .chunks(2)
        .collect::<Vec<_>>()
        .windows(2)
        .filter(|w| w[0][0] != w[1][0])
        .count();
    tracing::info!(handovers, "sections checked");
    let (data, _) = admin.get_data(&counter).await.unwrap();
    assert_eq!(data, sections.to_string().as_bytes());
    for client in rust {
        client.close().await.unwrap();
    }
    admin.close().await.unwrap();
}

against_both!(curator_mutex_interop);
