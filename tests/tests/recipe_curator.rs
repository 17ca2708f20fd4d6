//! Interoperation with Apache Curator (Debian's `libcurator-recipes-java`,
//! Curator 5.4), against a `corral-server` and an Apache ZooKeeper process.
//! Java programs in `tests/curator/` are compiled with `javac` into a
//! temporary directory.
//!
//! `curator_mutex_interop`: `MutexInterop.java` takes the same lock with
//! Curator's `InterProcessMutex` as Rust clients with [`Mutex`]. Oracles: Curator's lock nodes have the layout the Rust mutex writes
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
use corral::recipes::{
    protected_id, Barrier, DoubleBarrier, Election, LeaderLatch, Membership, Mutex, Queue, RwLock,
    Semaphore, SharedCount,
};
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

/// `CuratorShell.java`, one command per line, one answer per line.
struct Shell {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Shell {
    async fn start(classes: &Path, classpath: &str, connect_string: &str) -> Shell {
        let mut child = tokio::process::Command::new("java")
            .arg("-cp")
            .arg(format!("{}:{classpath}", classes.display()))
            .arg("CuratorShell")
            .arg(connect_string)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start java");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut shell = Shell {
            child,
            stdin,
            stdout,
        };
        assert_eq!(shell.line().await, "ready");
        shell
    }

    async fn line(&mut self) -> String {
        within("curator shell", self.stdout.next_line())
            .await
            .unwrap()
            .expect("curator shell exited")
    }

    /// Sends `command` and returns the answer, which must not be an error.
    async fn run(&mut self, command: &str) -> String {
        use tokio::io::AsyncWriteExt;
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        self.stdin.flush().await.unwrap();
        let answer = self.line().await;
        assert!(!answer.starts_with("error"), "{command}: {answer}");
        answer
    }

    async fn quit(mut self) {
        self.run("quit").await;
        within("java exit", self.child.wait()).await.unwrap();
    }
}

/// Rust recipes and Curator's, on the same paths, through `CuratorShell`:
/// each phase checks that one side sees and honours the other's nodes.
async fn curator_recipes_interop(kind: ServerKind) {
    let classpath = match curator_classpath() {
        Ok(classpath) => classpath,
        Err(reason) => {
            eprintln!("skipped: Curator cannot run here: {reason}");
            return;
        }
    };
    let classes = tempfile::tempdir().unwrap();
    compile("CuratorShell", &classpath, classes.path());
    let connect_string = shared_connect_string(kind).await;
    let client = connect(&connect_string).await;
    let root = unique_root(&client, "curator-recipes").await;
    let mut java = Shell::start(classes.path(), &classpath, &connect_string).await;
    let short = 300;
    let long = 30_000;

    tracing::info!("--- LeaderLatch: a Rust leader, a Curator follower, then the reverse");
    {
        let path = format!("{root}/latch");
        let rust = LeaderLatch::start(&client, &path, "rust-a").await.unwrap();
        within("rust leads", rust.wait_leadership()).await.unwrap();
        java.run(&format!("latch-start {path} java-b")).await;
        assert_eq!(java.run(&format!("latch-await {short}")).await, "false");
        assert_eq!(java.run("latch-leader").await, "rust-a");
        eventually("both participate", || async {
            rust.participants().await.unwrap().len() == 2
        })
        .await;
        assert_eq!(java.run("latch-participants").await, "rust-a,java-b");
        let ids: Vec<String> = rust
            .participants()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.id)
            .collect();
        assert_eq!(ids, ["rust-a", "java-b"]);
        rust.close().await.unwrap();
        assert_eq!(java.run(&format!("latch-await {long}")).await, "true");
        let follower = LeaderLatch::start(&client, &path, "rust-c").await.unwrap();
        assert_eq!(follower.leader().await.unwrap().unwrap().id, "java-b");
        assert!(!follower.has_leadership());
        java.run("latch-close").await;
        within("rust leads again", follower.wait_leadership())
            .await
            .unwrap();
        follower.close().await.unwrap();
    }

    tracing::info!("--- LeaderSelector sees the leader of a Rust Election");
    {
        let path = format!("{root}/selector");
        let lease = Election::new(&client, &path, "rust-leader")
            .campaign()
            .await
            .unwrap();
        assert_eq!(
            java.run(&format!("selector-leader {path}")).await,
            "rust-leader"
        );
        lease.release().await.unwrap();
    }

    tracing::info!("--- InterProcessReadWriteLock against the Rust RwLock");
    {
        let path = format!("{root}/rw");
        let rust = RwLock::new(&client, &path);
        let write = rust.write().await.unwrap();
        assert_eq!(
            java.run(&format!("read-lock {path} {short}")).await,
            "false"
        );
        assert_eq!(
            java.run(&format!("write-lock {path} {short}")).await,
            "false"
        );
        write.release().await.unwrap();
        assert_eq!(java.run(&format!("read-lock {path} {long}")).await, "true");
        // Readers share across languages; a Rust writer waits for Java's read.
        let read = within("shared read", rust.read()).await.unwrap();
        assert!(rust
            .try_write(std::time::Duration::from_millis(short))
            .await
            .unwrap()
            .is_none());
        read.release().await.unwrap();
        java.run("rw-release").await;
        let write = within("write after java", rust.write()).await.unwrap();
        write.release().await.unwrap();
    }

    tracing::info!("--- InterProcessSemaphoreV2 against the Rust Semaphore");
    {
        let path = format!("{root}/sem");
        let rust = Semaphore::new(&client, &path, 2);
        assert_eq!(
            java.run(&format!("sem-acquire {path} 2 {long}")).await,
            "true"
        );
        let lease = within("second lease", rust.acquire()).await.unwrap();
        assert_eq!(
            java.run(&format!("sem-acquire {path} 2 {short}")).await,
            "false"
        );
        assert!(rust
            .try_acquire(std::time::Duration::from_millis(short))
            .await
            .unwrap()
            .is_none());
        lease.release().await.unwrap();
        assert_eq!(
            java.run(&format!("sem-acquire {path} 2 {long}")).await,
            "true"
        );
        java.run("sem-release").await;
        let lease = within("lease after java", rust.acquire()).await.unwrap();
        lease.release().await.unwrap();
    }

    tracing::info!("--- SharedCount both ways");
    {
        let path = format!("{root}/count");
        let rust = SharedCount::start(&client, &path, 10).await.unwrap();
        assert_eq!(rust.add(5).await.unwrap(), 15);
        assert_eq!(java.run(&format!("count-get {path}")).await, "15");
        assert_eq!(java.run(&format!("count-add {path} 7")).await, "22");
        assert_eq!(rust.get().await.unwrap().value, 22);
    }

    tracing::info!("--- DistributedQueue both ways, in order");
    {
        let path = format!("{root}/queue");
        let rust = Queue::new(&client, &path);
        for item in ["a", "b", "c"] {
            rust.put(item.as_bytes()).await.unwrap();
        }
        assert_eq!(
            java.run(&format!("queue-take {path} 3 {long}")).await,
            "a,b,c"
        );
        java.run(&format!("queue-put {path} x")).await;
        java.run(&format!("queue-put {path} y")).await;
        assert_eq!(within("take", rust.take()).await.unwrap(), b"x");
        assert_eq!(within("take", rust.take()).await.unwrap(), b"y");
    }

    tracing::info!("--- DistributedBarrier set by Curator, awaited in Rust");
    {
        let path = format!("{root}/barrier");
        java.run(&format!("barrier-set {path}")).await;
        let barrier = Barrier::new(&client, &path);
        assert!(barrier.is_set().await.unwrap());
        assert!(!barrier
            .wait_timeout(std::time::Duration::from_millis(short))
            .await
            .unwrap());
        java.run(&format!("barrier-remove {path}")).await;
        within("barrier lifted", barrier.wait()).await.unwrap();
    }
    tracing::info!("--- DistributedDoubleBarrier with one Curator and one Rust member");
    {
        let path = format!("{root}/double");
        let rust = DoubleBarrier::new(&client, &path, 2);
        let entering = tokio::spawn(async move {
            rust.enter().await.unwrap();
            rust
        });
        assert_eq!(
            java.run(&format!("dbarrier-enter {path} 2 {long}")).await,
            "true"
        );
        let rust = within("rust entered", entering).await.unwrap();
        let leaving = tokio::spawn(async move { rust.leave().await });
        assert_eq!(java.run(&format!("dbarrier-leave {long}")).await, "true");
        within("rust left", leaving).await.unwrap().unwrap();
    }

    tracing::info!("--- GroupMember and Membership see each other");
    {
        let path = format!("{root}/group");
        let group = Membership::new(&client, &path);
        let me = group.join("rust-1", b"10.0.0.1").await.unwrap();
        java.run(&format!("member-join {path} java-1 10.0.0.2"))
            .await;
        assert_eq!(
            java.run(&format!("members 2 {long}")).await,
            "java-1=10.0.0.2,rust-1=10.0.0.1"
        );
        let mut view = group.watch();
        within("both members", async {
            while view.changed().await.unwrap().len() != 2 {}
        })
        .await;
        assert_eq!(group.members().await.unwrap()["java-1"], b"10.0.0.2");
        me.leave().await.unwrap();
        assert_eq!(
            java.run(&format!("members 1 {long}")).await,
            "java-1=10.0.0.2"
        );
        java.run("member-leave").await;
    }
    java.quit().await;
    client.close().await.unwrap();
}

against_both!(curator_mutex_interop, curator_recipes_interop);
