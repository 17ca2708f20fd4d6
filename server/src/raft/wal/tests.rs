//! Tests of the segment log on the simulated disk and on real files.

use super::crash_sim::{self, SimConfig};

#[test]
fn crash_simulator_finds_no_lost_or_invented_entry() {
    let report = crash_sim::run(SimConfig {
        seed: 1,
        crash_states: 2_000,
        ops: 30,
        outcomes_per_crash: 3,
        every_call: true,
        damage_trials: 10,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    println!("crash simulator: {report:?}");
    assert!(report.crash_states >= 2_000);
}
