//! [`Bench`]: the sessions, the setup and cleanup of the benchmark's nodes,
//! and the load tasks of each workload.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corral::client::{Client, Connector, CreateOptions};
use corral::recipes::Mutex;
use corral::Error;
use tokio::sync::Barrier;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::stats::{Report, Stats};
use crate::{Args, Workload};

/// Latency slots reserved per task up front (the vector grows past it).
const LATENCIES_PER_TASK_RESERVED: usize = 16 * 1024;

/// Session timeout asked of the server: long enough that a saturated
/// machine does not expire the benchmark's sessions.
const SESSION_TIMEOUT: Duration = Duration::from_secs(30);

/// How many operations a phase may still start.
struct Budget {
    /// Operations left; `i64::MAX` when only time bounds the phase.
    remaining: AtomicI64,
    deadline: Option<Instant>,
}

impl Budget {
    fn new(ops: Option<u64>, seconds: Option<f64>) -> Budget {
        Budget {
            remaining: AtomicI64::new(
                ops.map_or(i64::MAX, |n| i64::try_from(n).unwrap_or(i64::MAX)),
            ),
            deadline: seconds.map(|s| Instant::now() + Duration::from_secs_f64(s)),
        }
    }

    fn unbounded() -> Budget {
        Budget::new(None, None)
    }

    /// Claims one operation starting at `now`.
    #[inline]
    fn take(&self, now: Instant) -> bool {
        if self.deadline.is_some_and(|d| now >= d) {
            return false;
        }
        // Relaxed: the counter only has to hand out each slot once.
        self.remaining.fetch_sub(1, Ordering::Relaxed) > 0
    }
}

/// The operation a load task repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Create,
    Delete,
    Get,
    Set,
    Exists,
    Mixed,
    Multi,
    /// Creates key nodes (setup), not counted.
    CreateKeys,
    /// Deletes key nodes (cleanup), not counted.
    DeleteKeys,
}

/// Where a task's create and delete numbering stands across phases.
#[derive(Debug, Clone, Copy, Default)]
struct Cursor {
    created: u64,
    deleted: u64,
}

/// What every task reads.
struct Context {
    prefix: String,
    value: Vec<u8>,
    persistent: CreateOptions,
    keys: usize,
    tasks: usize,
    read_pct: u64,
    multi_ops: usize,
}

/// A connected benchmark: its sessions and settings.
pub struct Bench {
    args: Args,
    clients: Vec<Client>,
    ctx: Arc<Context>,
}

/// A connector for the `index`-th session: it tries the hosts of
/// `connect` in order, starting from host `index` (mod their number), so
/// the sessions spread round-robin over an ensemble instead of landing
/// where a shuffle puts them.
fn connector(connect: &str, index: usize) -> Connector {
    Connector::new(&rotated(connect, index))
        .session_timeout(SESSION_TIMEOUT)
        .shuffle_hosts(false)
}

/// `connect` with its host list rotated left by `index`; the chroot, if
/// any, stays at the end. Empty entries are dropped (as the client does).
fn rotated(connect: &str, index: usize) -> String {
    let (hosts, chroot) = connect.split_at(connect.find('/').unwrap_or(connect.len()));
    let mut hosts: Vec<&str> = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    if hosts.is_empty() {
        // Let the client report the bad connect string.
        return connect.to_owned();
    }
    let n = hosts.len();
    hosts.rotate_left(index % n);
    format!("{}{chroot}", hosts.join(","))
}

impl Bench {
    /// Opens `--sessions` sessions and makes the prefix node.
    pub async fn connect(args: Args) -> Result<Bench, Error> {
        let mut pending = JoinSet::new();
        for i in 0..args.sessions {
            let c = connector(&args.connect, i);
            pending.spawn(async move { c.connect().await });
        }
        let mut clients = Vec::with_capacity(args.sessions);
        while let Some(joined) = pending.join_next().await {
            clients.push(joined.map_err(|e| Error::Protocol(e.to_string()))??);
        }
        let prefix = args
            .prefix
            .clone()
            .unwrap_or_else(|| format!("/corral-bench-{}", std::process::id()));
        match clients[0]
            .create(&prefix, b"", &CreateOptions::persistent())
            .await
        {
            Ok(_) | Err(Error::NodeExists { .. }) => {}
            Err(e) => return Err(e),
        }
        let tasks = args.sessions * args.in_flight;
        let ctx = Arc::new(Context {
            prefix,
            value: vec![b'x'; args.value_size],
            persistent: CreateOptions::persistent(),
            keys: args.keys.max(1),
            tasks,
            read_pct: u64::from(args.read_pct),
            multi_ops: args.multi_ops,
        });
        Ok(Bench { args, clients, ctx })
    }

    fn measured_bound(&self) -> (Option<u64>, Option<f64>) {
        match (self.args.ops, self.args.seconds) {
            (None, None) => (None, Some(10.0)),
            bound => bound,
        }
    }

    /// Runs the workload: setup, warm-up, the measured phase, cleanup.
    pub async fn run(self) -> Result<Report, Error> {
        let (ops, seconds) = self.measured_bound();
        let warmup = (self.args.warmup > 0.0).then_some(self.args.warmup);
        let op = match self.args.workload {
            Workload::Churn => return self.run_churn(ops, seconds, warmup).await,
            Workload::Watch => return self.run_watch(ops, seconds, warmup).await,
            Workload::Lock => return self.run_lock(ops, seconds, warmup).await,
            Workload::Lag => return self.run_lag(ops, seconds, warmup).await,
            Workload::Create => Op::Create,
            Workload::Delete => Op::Delete,
            Workload::Get => Op::Get,
            Workload::Set => Op::Set,
            Workload::Exists => Op::Exists,
            Workload::Mixed => Op::Mixed,
            Workload::Multi => Op::Multi,
            Workload::WaitRead => {
                return Err(Error::BadArguments {
                    reason: format!("{} is not a load workload", self.args.workload.name()),
                })
            }
        };
        let mut cursors = vec![Cursor::default(); self.ctx.tasks];
        let uses_keys = matches!(op, Op::Get | Op::Set | Op::Exists | Op::Mixed | Op::Multi);
        if uses_keys {
            self.phase(Op::CreateKeys, &Budget::unbounded(), &mut cursors, false)
                .await
                .check("setup")?;
            self.sync_all().await?;
        }
        if let Some(w) = warmup {
            // Deletes are fed by the create phase below, which warms too.
            let warm = if op == Op::Delete { Op::Create } else { op };
            self.phase(warm, &Budget::new(None, Some(w)), &mut cursors, false)
                .await;
        }
        if op == Op::Delete {
            self.phase(Op::Create, &Budget::new(ops, seconds), &mut cursors, false)
                .await
                .check("create phase of delete")?;
        }
        let start = Instant::now();
        let stats = self
            .phase(op, &Budget::new(ops, seconds), &mut cursors, true)
            .await;
        let elapsed = start.elapsed();
        let report = Report::new(
            self.args.workload.name(),
            self.args.sessions,
            self.args.in_flight,
            self.args.value_size,
            stats,
            elapsed,
        );
        if !self.args.keep {
            self.cleanup(&mut cursors, uses_keys).await?;
        }
        self.close().await;
        Ok(report)
    }

    async fn cleanup(&self, cursors: &mut [Cursor], uses_keys: bool) -> Result<(), Error> {
        self.phase(Op::Delete, &Budget::unbounded(), cursors, false)
            .await
            .check("cleanup")?;
        if uses_keys {
            self.phase(Op::DeleteKeys, &Budget::unbounded(), cursors, false)
                .await
                .check("cleanup")?;
        }
        match self.clients[0].delete(&self.ctx.prefix, None).await {
            Ok(()) | Err(Error::NoNode { .. }) | Err(Error::NotEmpty { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Brings every session's server up to date with the leader, so that
    /// reads on other servers of an ensemble see the nodes just made.
    async fn sync_all(&self) -> Result<(), Error> {
        for c in &self.clients {
            c.sync(&self.ctx.prefix).await?;
        }
        Ok(())
    }

    async fn close(&self) {
        for c in &self.clients {
            let _ = c.close().await;
        }
    }

    /// Runs `op` on every task (sessions x in-flight) until the budget ends.
    async fn phase(&self, op: Op, budget: &Budget, cursors: &mut [Cursor], record: bool) -> Stats {
        // The budget is shared by reference through an Arc clone of a fresh
        // copy: tasks are 'static.
        let shared = Arc::new(Budget {
            remaining: AtomicI64::new(budget.remaining.load(Ordering::Relaxed)),
            deadline: budget.deadline,
        });
        let mut set = JoinSet::new();
        for (task, cursor) in cursors.iter().enumerate() {
            let client = self.clients[task / self.args.in_flight].clone();
            let ctx = self.ctx.clone();
            let budget = shared.clone();
            let cursor = *cursor;
            set.spawn(async move {
                let out = load_task(ctx, client, task, op, budget, cursor, record).await;
                (task, out)
            });
        }
        let mut total = Stats::default();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((task, (stats, cursor))) => {
                    cursors[task] = cursor;
                    total.merge(stats);
                }
                Err(e) => total.error(format!("load task failed: {e}")),
            }
        }
        total
    }

    async fn run_churn(
        self,
        ops: Option<u64>,
        seconds: Option<f64>,
        warmup: Option<f64>,
    ) -> Result<Report, Error> {
        if let Some(w) = warmup {
            self.churn_phase(&Budget::new(None, Some(w)), false).await;
        }
        let start = Instant::now();
        let stats = self.churn_phase(&Budget::new(ops, seconds), true).await;
        let elapsed = start.elapsed();
        let report = Report::new(
            "churn",
            self.args.sessions,
            1,
            self.args.value_size,
            stats,
            elapsed,
        );
        if !self.args.keep {
            let _ = self.clients[0].delete(&self.ctx.prefix, None).await;
        }
        self.close().await;
        Ok(report)
    }

    async fn churn_phase(&self, budget: &Budget, record: bool) -> Stats {
        let shared = Arc::new(Budget {
            remaining: AtomicI64::new(budget.remaining.load(Ordering::Relaxed)),
            deadline: budget.deadline,
        });
        let mut set = JoinSet::new();
        for task in 0..self.args.sessions {
            let budget = shared.clone();
            let ctx = self.ctx.clone();
            let connect = self.args.connect.clone();
            set.spawn(async move {
                let mut stats = Stats::with_capacity(LATENCIES_PER_TASK_RESERVED);
                let path = format!("{}/e-{task}", ctx.prefix);
                let ephemeral = CreateOptions::ephemeral();
                loop {
                    let start = Instant::now();
                    if !budget.take(start) {
                        break;
                    }
                    let result = async {
                        let client = connector(&connect, task).connect().await?;
                        let created = client.create(&path, &ctx.value, &ephemeral).await;
                        let closed = client.close().await;
                        created.map(drop).and(closed)
                    }
                    .await;
                    match result {
                        Ok(()) if record => stats.record(start.elapsed()),
                        Ok(()) => {}
                        // A previous session's ephemeral still there: counted.
                        Err(Error::NodeExists { .. }) => stats.expected_errors += 1,
                        Err(e) => stats.error(e),
                    }
                }
                stats
            });
        }
        let mut total = Stats::default();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(stats) => total.merge(stats),
                Err(e) => total.error(format!("churn task failed: {e}")),
            }
        }
        total
    }

    async fn run_lock(
        self,
        ops: Option<u64>,
        seconds: Option<f64>,
        warmup: Option<f64>,
    ) -> Result<Report, Error> {
        let path = format!("{}/lock", self.ctx.prefix);
        if let Some(w) = warmup {
            self.lock_phase(&path, &Budget::new(None, Some(w)), false)
                .await;
        }
        let start = Instant::now();
        let stats = self
            .lock_phase(&path, &Budget::new(ops, seconds), true)
            .await;
        let elapsed = start.elapsed();
        let report = Report::new("lock", self.args.sessions, 1, 0, stats, elapsed);
        if !self.args.keep {
            // The lock node is a container: the server may have removed it.
            let _ = self.clients[0].delete(&path, None).await;
            let _ = self.clients[0].delete(&self.ctx.prefix, None).await;
        }
        self.close().await;
        Ok(report)
    }

    /// Every session contends for one core mutex: acquire, then release.
    /// A session holds at most one place in the queue (the recipe is not
    /// reentrant), so --in-flight does not apply.
    async fn lock_phase(&self, path: &str, budget: &Budget, record: bool) -> Stats {
        let shared = Arc::new(Budget {
            remaining: AtomicI64::new(budget.remaining.load(Ordering::Relaxed)),
            deadline: budget.deadline,
        });
        let mut set = JoinSet::new();
        for client in &self.clients {
            let budget = shared.clone();
            let mutex = Mutex::new(client, path);
            set.spawn(async move {
                let mut stats = Stats::with_capacity(LATENCIES_PER_TASK_RESERVED / 16);
                loop {
                    let start = Instant::now();
                    if !budget.take(start) {
                        break;
                    }
                    let result = match mutex.acquire().await {
                        Ok(lease) => lease.release().await.map(|_| ()),
                        Err(e) => Err(e),
                    };
                    match result {
                        Ok(()) if record => stats.record(start.elapsed()),
                        Ok(()) => {}
                        Err(e) => stats.error(e),
                    }
                }
                stats
            });
        }
        let mut total = Stats::default();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(stats) => total.merge(stats),
                Err(e) => total.error(format!("lock task failed: {e}")),
            }
        }
        total
    }

    async fn run_watch(
        self,
        ops: Option<u64>,
        seconds: Option<f64>,
        warmup: Option<f64>,
    ) -> Result<Report, Error> {
        let path = format!("{}/watched", self.ctx.prefix);
        match self.clients[0]
            .create(&path, &self.ctx.value, &self.ctx.persistent)
            .await
        {
            Ok(_) | Err(Error::NodeExists { .. }) => {}
            Err(e) => return Err(e),
        }
        self.sync_all().await?;
        let watchers = self
            .args
            .watchers
            .unwrap_or(self.args.sessions * self.args.in_flight)
            .max(1);
        let writer = connector(&self.args.connect, self.args.sessions)
            .connect()
            .await?;
        if let Some(w) = warmup {
            self.watch_phase(&writer, &path, watchers, None, Some(w), false)
                .await;
        }
        let rounds = ops.map(|n| n.div_ceil(watchers as u64));
        let start = Instant::now();
        let stats = self
            .watch_phase(&writer, &path, watchers, rounds, seconds, true)
            .await;
        let elapsed = start.elapsed();
        let report = Report::new(
            "watch",
            self.args.sessions,
            watchers.div_ceil(self.args.sessions),
            self.args.value_size,
            stats,
            elapsed,
        );
        let _ = writer.close().await;
        if !self.args.keep {
            let _ = self.clients[0].delete(&path, None).await;
            let _ = self.clients[0].delete(&self.ctx.prefix, None).await;
        }
        self.close().await;
        Ok(report)
    }

    /// Rounds of: every watcher arms a one-shot data watch, the writer
    /// sets the node, every watcher takes its event.
    async fn watch_phase(
        &self,
        writer: &Client,
        path: &str,
        watchers: usize,
        rounds: Option<u64>,
        seconds: Option<f64>,
        record: bool,
    ) -> Stats {
        let armed = Arc::new(Barrier::new(watchers + 1));
        let stop = Arc::new(AtomicBool::new(false));
        // Time of the current write, in ns since `base`.
        let base = Instant::now();
        let written_at = Arc::new(AtomicU64::new(0));
        let mut set = JoinSet::new();
        for w in 0..watchers {
            let client = self.clients[w % self.clients.len()].clone();
            let (armed, stop, written_at) = (armed.clone(), stop.clone(), written_at.clone());
            let path = path.to_owned();
            set.spawn(async move {
                let mut stats = Stats::with_capacity(LATENCIES_PER_TASK_RESERVED / 16);
                loop {
                    let watcher = match client.get_and_watch_data(&path).await {
                        Ok((_, _, watcher)) => Some(watcher),
                        Err(e) => {
                            stats.error(e);
                            None
                        }
                    };
                    armed.wait().await;
                    let Some(watcher) = watcher else {
                        // Keep the barrier count right until the writer stops.
                        if stop.load(Ordering::Acquire) {
                            break;
                        }
                        continue;
                    };
                    let _event = watcher.changed().await;
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    if record {
                        let at = written_at.load(Ordering::Acquire);
                        let now = base.elapsed().as_nanos() as u64;
                        stats.record(Duration::from_nanos(now.saturating_sub(at)));
                    }
                }
                stats
            });
        }
        let deadline = seconds.map(|s| Instant::now() + Duration::from_secs_f64(s));
        let mut total = Stats::default();
        let mut round = 0u64;
        loop {
            armed.wait().await;
            let done =
                rounds.is_some_and(|r| round >= r) || deadline.is_some_and(|d| Instant::now() >= d);
            if done {
                stop.store(true, Ordering::Release);
            } else {
                written_at.store(base.elapsed().as_nanos() as u64, Ordering::Release);
            }
            // The last write releases the armed watchers after `stop`.
            if let Err(e) = writer.set_data(path, &self.ctx.value, None).await {
                total.error(e);
                stop.store(true, Ordering::Release);
            }
            if stop.load(Ordering::Acquire) {
                break;
            }
            round += 1;
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok(stats) => total.merge(stats),
                Err(e) => total.error(format!("watch task failed: {e}")),
            }
        }
        total
    }
}

impl Bench {
    async fn run_lag(
        self,
        ops: Option<u64>,
        seconds: Option<f64>,
        warmup: Option<f64>,
    ) -> Result<Report, Error> {
        let hosts: Vec<&str> = self
            .args
            .connect
            .split('/')
            .next()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect();
        if hosts.len() < 2 {
            return Err(Error::BadArguments {
                reason: "lag needs two hosts: the writer's, then the reader's".into(),
            });
        }
        let only = |host: &str| {
            Connector::new(host)
                .session_timeout(SESSION_TIMEOUT)
                .shuffle_hosts(false)
        };
        let writer = only(hosts[0]).connect().await?;
        let reader = only(hosts[1]).connect().await?;
        let path = format!("{}/lag", self.ctx.prefix);
        match writer
            .create(&path, &self.ctx.value, &self.ctx.persistent)
            .await
        {
            Ok(_) | Err(Error::NodeExists { .. }) => {}
            Err(e) => return Err(e),
        }
        reader.sync(&path).await?;
        let mut cursors = vec![Cursor::default(); self.ctx.tasks];
        let load = self.args.lag_load;
        if load {
            self.phase(Op::CreateKeys, &Budget::unbounded(), &mut cursors, false)
                .await
                .check("setup")?;
            self.sync_all().await?;
        }
        let probe_seconds = warmup.unwrap_or(0.0) + seconds.unwrap_or(0.0);
        let load_budget = Budget::new(None, Some(probe_seconds.max(1.0) + 0.5));
        let probe = async {
            if let Some(w) = warmup {
                lag_phase(&writer, &reader, &path, &self.ctx.value, None, Some(w)).await;
            }
            let start = Instant::now();
            let stats = lag_phase(&writer, &reader, &path, &self.ctx.value, ops, seconds).await;
            (stats, start.elapsed())
        };
        let ((stats, elapsed), _) = if load {
            tokio::join!(probe, async {
                self.phase(Op::Set, &load_budget, &mut cursors, false).await
            })
        } else {
            (probe.await, Stats::default())
        };
        let report = Report::new(
            "lag",
            self.args.sessions,
            self.args.in_flight,
            self.args.value_size,
            stats,
            elapsed,
        );
        let _ = writer.delete(&path, None).await;
        let _ = writer.close().await;
        let _ = reader.close().await;
        if !self.args.keep {
            self.cleanup(&mut cursors, load).await?;
        }
        self.close().await;
        Ok(report)
    }
}

/// Rounds of: the reader arms a data watch, the writer sets the node, the
/// lag is from the writer's acknowledgement to the reader's event.
async fn lag_phase(
    writer: &Client,
    reader: &Client,
    path: &str,
    value: &[u8],
    rounds: Option<u64>,
    seconds: Option<f64>,
) -> Stats {
    let mut stats = Stats::with_capacity(LATENCIES_PER_TASK_RESERVED);
    let deadline = seconds.map(|s| Instant::now() + Duration::from_secs_f64(s));
    let mut round = 0u64;
    while rounds.is_none_or(|r| round < r) && deadline.is_none_or(|d| Instant::now() < d) {
        round += 1;
        let watcher = match reader.get_and_watch_data(path).await {
            Ok((_, _, watcher)) => watcher,
            Err(e) => {
                stats.error(e);
                break;
            }
        };
        // The event may arrive before the acknowledgement: take whichever
        // comes first and note its time.
        let event = watcher.changed();
        tokio::pin!(event);
        let write = writer.set_data(path, value, None);
        tokio::pin!(write);
        let mut acked = None;
        let mut seen = None;
        while acked.is_none() || seen.is_none() {
            tokio::select! {
                r = &mut write, if acked.is_none() => {
                    if let Err(e) = r {
                        stats.error(e);
                        return stats;
                    }
                    acked = Some(Instant::now());
                }
                _ = &mut event, if seen.is_none() => seen = Some(Instant::now()),
            }
        }
        let (acked, seen) = (acked.expect("set"), seen.expect("set"));
        stats.record(seen.saturating_duration_since(acked));
    }
    stats
}

trait CheckStats {
    fn check(self, what: &str) -> Result<(), Error>;
}

impl CheckStats for Stats {
    fn check(self, what: &str) -> Result<(), Error> {
        match self.first_error {
            Some(err) if self.errors > 0 => Err(Error::Protocol(format!(
                "{what}: {} errors, first: {err}",
                self.errors
            ))),
            _ => Ok(()),
        }
    }
}

/// A small xorshift generator: per task, no shared state.
struct XorShift(u64);

impl XorShift {
    #[inline]
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// One in-flight slot: repeats `op` until the budget (or, for deletes and
/// key setup, its own range) ends.
async fn load_task(
    ctx: Arc<Context>,
    client: Client,
    task: usize,
    op: Op,
    budget: Arc<Budget>,
    mut cursor: Cursor,
    record: bool,
) -> (Stats, Cursor) {
    let mut stats = if record {
        Stats::with_capacity(LATENCIES_PER_TASK_RESERVED)
    } else {
        Stats::default()
    };
    let mut path = String::with_capacity(ctx.prefix.len() + 32);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15 ^ (task as u64 + 1));
    let mut n: u64 = 0;
    let tasks = ctx.tasks;
    // Key index of the n-th op of this task: tasks interleave over the keys.
    let key = |n: u64| (task as u64 + n * tasks as u64) % ctx.keys as u64;
    loop {
        path.clear();
        match op {
            Op::Delete if cursor.deleted >= cursor.created => break,
            Op::CreateKeys | Op::DeleteKeys => {
                let k = task as u64 + n * tasks as u64;
                if k >= ctx.keys as u64 {
                    break;
                }
                let _ = write!(path, "{}/k-{k}", ctx.prefix);
            }
            Op::Create => {
                let _ = write!(path, "{}/c-{task}-{}", ctx.prefix, cursor.created);
            }
            Op::Delete => {
                let _ = write!(path, "{}/c-{task}-{}", ctx.prefix, cursor.deleted);
            }
            Op::Get | Op::Set | Op::Exists | Op::Mixed | Op::Multi => {
                let _ = write!(path, "{}/k-{}", ctx.prefix, key(n));
            }
        }
        let start = Instant::now();
        if !matches!(op, Op::CreateKeys | Op::DeleteKeys) && !budget.take(start) {
            break;
        }
        let result = match op {
            Op::Create | Op::CreateKeys => client
                .create(&path, &ctx.value, &ctx.persistent)
                .await
                .map(drop),
            Op::Delete | Op::DeleteKeys => client.delete(&path, None).await,
            Op::Get => client.get_data(&path).await.map(drop),
            Op::Set => client.set_data(&path, &ctx.value, None).await.map(drop),
            Op::Exists => match client.exists(&path).await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(Error::NoNode { path: path.clone() }),
                Err(e) => Err(e),
            },
            Op::Mixed => {
                if rng.next() % 100 < ctx.read_pct {
                    client.get_data(&path).await.map(drop)
                } else {
                    client.set_data(&path, &ctx.value, None).await.map(drop)
                }
            }
            Op::Multi => {
                let mut multi = client.multi().set_data(&path, &ctx.value, None);
                for j in 1..ctx.multi_ops {
                    path.clear();
                    let _ = write!(
                        path,
                        "{}/k-{}",
                        ctx.prefix,
                        (key(n) + j as u64) % ctx.keys as u64
                    );
                    multi = multi.set_data(&path, &ctx.value, None);
                }
                multi.commit().await.map(drop)
            }
        };
        n += 1;
        match result {
            Ok(()) => {
                if record {
                    stats.record(start.elapsed());
                }
                match op {
                    Op::Create => cursor.created += 1,
                    Op::Delete => cursor.deleted += 1,
                    _ => {}
                }
            }
            // Setup on a server that has the keys already, cleanup of a
            // node that is gone: fine.
            Err(Error::NodeExists { .. }) if op == Op::CreateKeys => {}
            Err(Error::NoNode { .. }) if op == Op::DeleteKeys => {}
            Err(Error::NoNode { .. }) if op == Op::Delete => {
                stats.expected_errors += 1;
                cursor.deleted += 1;
            }
            Err(e) => {
                stats.error(e);
                if op == Op::Create {
                    // Do not retry the same name forever.
                    cursor.created += 1;
                }
                if op == Op::Delete {
                    cursor.deleted += 1;
                }
            }
        }
    }
    (stats, cursor)
}

/// Polls until getData of `path` succeeds; the time it took.
///
/// The client retries a refused or dropped connection after at most
/// `WAIT_READ_RETRY` (not the default backoff of up to 1 s), so the figure
/// is within about that of the moment the server can serve the read. It
/// asks for a 1 s session, which also bounds each connection attempt to
/// 1 s: a server that accepts connections while it is still loading and
/// answers none of them (ZooKeeper did, now and then) would otherwise hold
/// an attempt for the default 10 s and add it to the figure.
pub async fn wait_read(connect: &str, path: &str, timeout: Duration) -> Result<Duration, Error> {
    const WAIT_READ_RETRY: Duration = Duration::from_millis(10);
    const WAIT_READ_ATTEMPT: Duration = Duration::from_secs(1);
    let start = Instant::now();
    loop {
        let left = timeout.saturating_sub(start.elapsed());
        let attempt = async {
            let client = Connector::new(connect)
                .connect_timeout(left)
                .session_timeout(WAIT_READ_ATTEMPT)
                .reconnect_backoff(WAIT_READ_RETRY)
                .request_timeout(Duration::from_secs(2))
                .connect()
                .await?;
            let read = client.get_data(path).await.map(drop);
            let _ = client.close().await;
            read
        }
        .await;
        match attempt {
            Ok(()) => return Ok(start.elapsed()),
            Err(e) if start.elapsed() >= timeout => return Err(e),
            Err(_) => tokio::time::sleep(WAIT_READ_RETRY).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::rotated;

    #[test]
    fn rotation_spreads_sessions_round_robin() {
        let hosts = "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3";
        assert_eq!(rotated(hosts, 0), hosts);
        assert_eq!(rotated(hosts, 1), "127.0.0.1:2,127.0.0.1:3,127.0.0.1:1");
        assert_eq!(rotated(hosts, 2), "127.0.0.1:3,127.0.0.1:1,127.0.0.1:2");
        assert_eq!(rotated(hosts, 3), hosts);
        let firsts: Vec<String> = (0..6)
            .map(|i| rotated(hosts, i).split(',').next().unwrap().to_owned())
            .collect();
        assert_eq!(
            firsts,
            ["127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"].repeat(2)
        );
    }

    #[test]
    fn rotation_keeps_chroot_and_single_hosts() {
        assert_eq!(rotated("a:1,b:2/app/x", 1), "b:2,a:1/app/x");
        assert_eq!(rotated("a:1", 5), "a:1");
        assert_eq!(rotated("[::1]:2181, b:2 ,", 1), "b:2,[::1]:2181");
        assert_eq!(rotated("/app", 1), "/app");
    }
}
