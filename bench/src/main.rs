//! `corral-bench`: a load generator for any ZooKeeper-protocol server
//! (Corral, Apache ZooKeeper), built on the core client.
//!
//! `--sessions` connections each carry `--in-flight` concurrent requests
//! (pipelined on the one connection); the workload runs for `--seconds` or
//! `--ops`, after an optional `--warmup`, and the tool prints ops/s and
//! p50/p99/p99.9 latency (`--json` for one JSON object per line). Unexpected
//! errors make the exit status 1; errors a workload expects (NodeExists in
//! session churn) are counted only.
//!
//! With several hosts in `--connect` the sessions spread round-robin over
//! them (session i tries host i mod n first), and every session syncs
//! after the setup so that reads on any server find the nodes it made.
//!
//! The generator shares the machine with the server it measures, so it is
//! kept lean: one tokio runtime (current-thread by default, `--threads` for
//! more), one task per in-flight slot with its own reused path buffer and
//! latency vector, and no locks on the hot path (only an atomic op budget).

mod stats;
mod workload;

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::workload::Bench;

/// What each operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Workload {
    /// Create persistent nodes (removed afterwards unless --keep).
    Create,
    /// getData on --keys existing nodes.
    Get,
    /// setData on --keys existing nodes.
    Set,
    /// exists on --keys existing nodes.
    Exists,
    /// delete nodes made by an unmeasured create phase of the same bound.
    Delete,
    /// getData (--read-pct %) and setData on --keys nodes.
    Mixed,
    /// Session churn: connect, create an ephemeral node, close; --sessions
    /// loops run at once (--in-flight does not apply).
    Churn,
    /// Watch fan-out: --watchers one-shot data watches on one node spread
    /// over --sessions sessions; a writer sets the node and each event's
    /// latency is from the write to its delivery.
    Watch,
    /// Lock contention: every session loops acquire/release on one core
    /// mutex (Curator layout); ops/s are acquisitions/s, latency is from
    /// the acquire call to the release reply (--in-flight does not apply).
    Lock,
    /// multi of --multi-ops setData ops on --keys nodes.
    Multi,
    /// Visibility lag across an ensemble: a writer on the first host sets
    /// a node watched by a session on the second host; the latency is from
    /// the write's acknowledgement to the watch event (the second server
    /// has applied it), 0 when the event came first. With --lag-load the
    /// --sessions x --in-flight set load runs meanwhile (unmeasured).
    Lag,
    /// Wait until getData of --path succeeds; prints the milliseconds taken
    /// (for restart-to-first-read timings).
    WaitRead,
}

impl Workload {
    /// The workload's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Create => "create",
            Workload::Get => "get",
            Workload::Set => "set",
            Workload::Exists => "exists",
            Workload::Delete => "delete",
            Workload::Mixed => "mixed",
            Workload::Churn => "churn",
            Workload::Watch => "watch",
            Workload::Lock => "lock",
            Workload::Multi => "multi",
            Workload::Lag => "lag",
            Workload::WaitRead => "wait-read",
        }
    }

    /// Whether this build can run the workload (all can; the script asks,
    /// so that it keeps working with builds that lack one).
    pub fn available(self) -> bool {
        true
    }
}

/// Command-line flags.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "corral-bench",
    version,
    about = "Load generator for ZooKeeper-protocol servers"
)]
pub struct Args {
    /// Connect string (host:port[,host:port...][/chroot]). With several
    /// hosts, session i connects to host i mod n first (round-robin, not
    /// shuffled), so the sessions spread evenly over an ensemble.
    #[arg(long, default_value = "127.0.0.1:2181")]
    pub connect: String,
    /// Workload to run.
    #[arg(long, short = 'w', value_enum, default_value = "get")]
    pub workload: Workload,
    /// Sessions (connections).
    #[arg(long, short = 'c', default_value_t = 16)]
    pub sessions: usize,
    /// Requests in flight on each session.
    #[arg(long, short = 'p', default_value_t = 16)]
    pub in_flight: usize,
    /// Value size in bytes.
    #[arg(long, default_value_t = 1024)]
    pub value_size: usize,
    /// Stop after this many operations (default: run --seconds).
    #[arg(long)]
    pub ops: Option<u64>,
    /// Stop after this many seconds (default 10 when --ops is not given).
    #[arg(long)]
    pub seconds: Option<f64>,
    /// Seconds of the same load before measuring.
    #[arg(long, default_value_t = 0.0)]
    pub warmup: f64,
    /// Percentage of reads in the mixed workload.
    #[arg(long, default_value_t = 90)]
    pub read_pct: u8,
    /// Nodes read and written by get, set, exists, mixed and multi.
    #[arg(long, default_value_t = 1024)]
    pub keys: usize,
    /// Watchers in the watch workload (default: sessions x in-flight).
    #[arg(long)]
    pub watchers: Option<usize>,
    /// setData ops per multi.
    #[arg(long, default_value_t = 4)]
    pub multi_ops: usize,
    /// Parent node of the benchmark's nodes (default /corral-bench-PID).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Leave the nodes in place afterwards (e.g. to measure memory).
    #[arg(long)]
    pub keep: bool,
    /// Print one JSON object per result line instead of text.
    #[arg(long)]
    pub json: bool,
    /// Runtime worker threads (1: a current-thread runtime).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Node read by wait-read.
    #[arg(long, default_value = "/")]
    pub path: String,
    /// Give up wait-read after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
    /// lag: run the set load of --sessions x --in-flight during the probe.
    #[arg(long)]
    pub lag_load: bool,
    /// List the workloads this build can run, then exit.
    #[arg(long)]
    pub list_workloads: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.list_workloads {
        for w in Workload::value_variants() {
            if w.available() && *w != Workload::WaitRead {
                println!("{}", w.name());
            }
        }
        return ExitCode::SUCCESS;
    }
    if !args.workload.available() {
        eprintln!(
            "corral-bench: the {} workload is not in this build",
            args.workload.name()
        );
        return ExitCode::from(2);
    }
    if args.sessions == 0 || args.in_flight == 0 || args.read_pct > 100 || args.multi_ops == 0 {
        eprintln!(
            "corral-bench: --sessions, --in-flight, --multi-ops must be > 0, --read-pct <= 100"
        );
        return ExitCode::from(2);
    }
    let runtime = if args.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("corral-bench: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        if args.workload == Workload::WaitRead {
            let timeout = Duration::from_secs_f64(args.timeout);
            return workload::wait_read(&args.connect, &args.path, timeout)
                .await
                .map(|elapsed| {
                    println!("{:.1}", elapsed.as_secs_f64() * 1000.0);
                    true
                });
        }
        let bench = Bench::connect(args.clone()).await?;
        let report = bench.run().await?;
        if args.json {
            println!("{}", report.to_json());
        } else {
            println!("{report}");
        }
        Ok(report.errors == 0)
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("corral-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
