//! `corral-wal-stress`: the log crash simulator run long (see
//! `server/src/raft/wal/crash_sim.rs`). `cargo run --release -p corral-server
//! --features simulation --bin corral-wal-stress -- [crash states] [seed]`.

use corral_server::storage_simulation::{run, SimConfig};

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let states: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(rand_seed);
    println!("crash simulator: seed {seed}, goal {states} crash states");
    let started = std::time::Instant::now();
    // Every I/O call in turn for the first half, random ones (longer
    // workloads) for the rest.
    let halves = [
        SimConfig {
            seed,
            crash_states: states / 2,
            ops: 40,
            outcomes_per_crash: 4,
            every_call: true,
            damage_trials: 20,
        },
        SimConfig {
            seed: seed.wrapping_add(1_000_000),
            crash_states: states - states / 2,
            ops: 120,
            outcomes_per_crash: 4,
            every_call: false,
            damage_trials: 20,
        },
    ];
    for config in halves {
        match run(config) {
            Ok(report) => println!(
                "{} workloads, {} crash states ({} torn appends renamed aside), {} damage trials ({} refused), {:.1} s",
                report.workloads,
                report.crash_states,
                report.torn_appends_seen,
                report.damage_trials,
                report.damage_refused,
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                eprintln!("VIOLATION: {e}");
                return std::process::ExitCode::FAILURE;
            }
        }
    }
    std::process::ExitCode::SUCCESS
}

fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}
