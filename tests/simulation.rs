//! The project's deterministic simulation, on the public kit `spaces_socket_sim`
//! (see `tests/sim/mod.rs` for the scenario and `tests/sim/checker.rs` for the invariants): the
//! seed sweep here, the replay tests in `tests/sim/replays.rs` and the regression scenarios in
//! `tests/sim/regressions.rs`.
//!
//! * `cargo test --test simulation`: seeds `0..1000`.
//! * `SIM_SEEDS=N`: seeds `0..N`. Past 1000 seeds the sweep stops early (and passes, saying
//!   so) once `SIM_BUDGET_SECS` (default 60) of wall-clock time is spent; a large sweep such
//!   as 100,000 seeds is a job for `cargo test --release` with a larger budget.
//! * `SIM_FIRST=k`: the sweep starts at seed `k` (seeds `k..k+N`), so a sweep can cover new
//!   ground.
//! * `SIM_SEED=k cargo test --test simulation -- --nocapture`: runs seed `k` alone and prints
//!   its trace.
//!
//! The sweep goes on past a failing seed and ends with the list of failing seeds, each with the
//! invariant it broke, and the command replaying the first.

#![forbid(unsafe_code)]

mod sim;

use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use spaces_socket_sim::Report;

/// Seeds that must always pass before a wall-clock budget may cut a sweep short.
const MIN_SEEDS: u64 = 1000;

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => panic!("{name}={value:?} is not a number"),
    }
}

#[test]
fn seed_sweep_keeps_every_invariant() {
    if let Some(seed) = env_u64("SIM_SEED") {
        let report = sim::run_seed(seed, true);
        println!("{:#?}", Totals::of(&report));
        return;
    }
    let first = env_u64("SIM_FIRST").unwrap_or(0);
    let seeds = env_u64("SIM_SEEDS").unwrap_or(MIN_SEEDS);
    let budget = Duration::from_secs(env_u64("SIM_BUDGET_SECS").unwrap_or(60));
    let started = Instant::now();
    let mut done = 0u64;
    let mut totals = Totals::default();
    // Every failing seed and the first line of its failure (which names the invariant): the
    // sweep goes on past a failure, so one run lists them all.
    let mut failures: Vec<(u64, String)> = Vec::new();
    for seed in first..first.saturating_add(seeds) {
        if done >= MIN_SEEDS && started.elapsed() > budget {
            println!(
                "note: stopped after {done} of {seeds} seeds: the {budget:?} budget is spent \
                 (raise SIM_BUDGET_SECS, or use --release)"
            );
            break;
        }
        match panic::catch_unwind(AssertUnwindSafe(|| sim::run_seed(seed, false))) {
            Ok(report) => totals.add(&report),
            Err(cause) => {
                let text = panic_text(cause.as_ref());
                let first_line = text.lines().next().unwrap_or("(no message)").to_owned();
                eprintln!("seed {seed} failed: {first_line}");
                failures.push((seed, first_line));
            }
        }
        done += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "simulated {done} seeds from {first} in {secs:.1} s ({:.1} seeds/s), {} failed",
        done as f64 / secs.max(1e-9),
        failures.len()
    );
    println!("{totals}");
    if !failures.is_empty() {
        let list: Vec<String> = failures.iter().map(|(s, _)| s.to_string()).collect();
        panic!(
            "{} of {done} seeds failed: {}\n{}\nreplay one with:\n    {}",
            failures.len(),
            list.join(", "),
            failures
                .iter()
                .map(|(s, why)| format!("  seed {s}: {why}"))
                .collect::<Vec<_>>()
                .join("\n"),
            sim::replay_hint(failures[0].0)
        );
    }
    assert!(totals.faults > 0, "the sweep injected no faults");
    assert!(totals.confirmed > 0, "the sweep confirmed no message");
    if done >= MIN_SEEDS {
        // A sweep this long exercises every path; if one count is zero, the model broke.
        assert!(totals.restarts > 0 && totals.closes > 0 && totals.token_errors > 0);
        assert!(totals.server_full > 0);
        assert!(totals.ping_timeouts > 0 && totals.server_ping_timeouts > 0);
        assert!(totals.failed > 0 && totals.duplicates > 0 && totals.presence > 0);
    }
}

/// The message a panic carried (`panic!` with a format string, or a plain `&str`).
fn panic_text(cause: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = cause.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = cause.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "(a panic without a message)".to_owned()
    }
}

/// What a sweep exercised, so a sweep that silently stopped exercising something shows.
#[derive(Debug, Default)]
struct Totals {
    virtual_time: Duration,
    steps: u64,
    faults: usize,
    restarts: u32,
    server_full: u32,
    reconnects: u32,
    sends: usize,
    confirmed: usize,
    failed: usize,
    refused: u32,
    duplicates: usize,
    closes: u32,
    token_errors: u32,
    presence: u32,
    ping_timeouts: u32,
    server_ping_timeouts: u32,
}

impl Totals {
    fn of(r: &Report) -> Self {
        let mut totals = Self::default();
        totals.add(r);
        totals
    }

    fn add(&mut self, r: &Report) {
        self.virtual_time += r.virtual_time;
        self.steps += r.steps;
        self.faults += r.faults.len();
        self.restarts += r.server.restarts;
        self.server_full += r.server.full;
        self.server_ping_timeouts += r.server.ping_timeouts;
        for c in &r.participants {
            self.reconnects += c.connects.saturating_sub(1);
            self.sends += c.sends.len();
            self.confirmed += c.confirmed();
            self.failed += c.failed();
            self.refused += c.sends_refused.values().sum::<u32>();
            let mut texts = std::collections::BTreeSet::new();
            self.duplicates += c.received.iter().filter(|m| !texts.insert(&m.text)).count();
            self.closes += c.closes;
            self.token_errors += c.token_errors;
            self.presence += c.presence_sent;
            self.ping_timeouts += c.disconnects.get("ping timeout").copied().unwrap_or(0);
        }
    }
}

impl std::fmt::Display for Totals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "virtual time {:.1} h, {} steps, {} faults ({} server restarts, {} connects refused \
             by a full server), {} reconnects, \
             {} client ping timeouts, {} server ping timeouts, {} session closes, \
             {} token errors; {} sends: {} confirmed, {} failed, {} refused, \
             {} duplicate deliveries; {} presence events",
            self.virtual_time.as_secs_f64() / 3600.0,
            self.steps,
            self.faults,
            self.restarts,
            self.server_full,
            self.reconnects,
            self.ping_timeouts,
            self.server_ping_timeouts,
            self.closes,
            self.token_errors,
            self.sends,
            self.confirmed,
            self.failed,
            self.refused,
            self.duplicates,
            self.presence
        )
    }
}
