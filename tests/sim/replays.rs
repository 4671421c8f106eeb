//! One seed, one run: the simulation is deterministic, so a failing seed replays exactly.

use super::run_seed;

#[test]
fn the_same_seed_gives_the_same_trace() {
    for seed in [0, 1, 7, 42, 2562] {
        let a = run_seed(seed, false);
        let b = run_seed(seed, false);
        assert_eq!(a.trace_hash, b.trace_hash, "seed {seed}: two runs differ");
        assert_eq!(a.steps, b.steps, "seed {seed}");
        assert_eq!(a.virtual_time, b.virtual_time, "seed {seed}");
    }
}

#[test]
fn printing_the_trace_does_not_change_the_run() {
    // `SIM_SEED=k` prints the trace: it must be the run the sweep saw.
    let quiet = run_seed(3, false);
    let printed = run_seed(3, true);
    assert_eq!(quiet.trace_hash, printed.trace_hash);
}

#[test]
fn different_seeds_give_different_runs() {
    let hashes: std::collections::BTreeSet<u64> = (0..20)
        .map(|seed| run_seed(seed, false).trace_hash)
        .collect();
    assert_eq!(hashes.len(), 20, "the seed must drive the run");
}
