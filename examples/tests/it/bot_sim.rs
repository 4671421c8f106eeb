//! `bot_sim`: the very `EchoBot` of `examples/echo_bot.rs` under the simulation kit. The bot
//! passes over many seeds (a second connection of its own user among the faults) and never
//! answers its own user, its buggy twin is caught with its seeds, and a failing seed shrinks.

use std::time::Duration;

use spaces_socket_sim::{Fault, FaultPicks, shrink};

#[allow(dead_code, unreachable_pub)]
#[path = "../../bot_sim.rs"]
mod example;

use example as bot_sim;

#[test]
fn the_echo_bot_answers_every_message_exactly_once_over_many_seeds() {
    for seed in 0..40 {
        if let Err(why) = bot_sim::run(seed, false, false, None).result {
            panic!("seed {seed}: {why}");
        }
    }
}

/// Seed 3534 of the 20,000-seed CI sweep: a burst of answers at the end of the window waits
/// behind the rate window for longer than the run lasted, because the settle time was taken
/// before the run instead of after the window. Every answer is confirmed once the run waits
/// for them.
#[test]
fn answers_paced_at_the_end_of_the_window_are_waited_for() {
    let run = bot_sim::run(3534, false, false, None);
    assert_eq!(run.result, Ok(()));
    assert!(run.elapsed > Duration::from_secs(180), "{:?}", run.elapsed);
}

#[test]
fn the_buggy_echo_bot_is_caught_and_its_seeds_are_named() {
    let failing: Vec<u64> = (0..40)
        .filter(|&seed| bot_sim::run(seed, true, false, None).result.is_err())
        .collect();
    // The default fault mix triggers the bug (an answer awaiting its echo across a reconnect)
    // in about a third of the seeds.
    assert!(failing.len() >= 5, "caught only in seeds {failing:?}");
    let run = bot_sim::run(failing[0], true, false, None);
    let why = run
        .result
        .expect_err("a failing seed fails again on replay");
    assert!(why.contains("confirmed answers"), "{why}");
}

#[test]
fn a_failing_seed_shrinks_to_fewer_faults_that_still_fail_and_replay() {
    // The first seed where the buggy echo bot fails with more than one fault.
    let buggy = true;
    let (seed, first) = (0..40)
        .map(|seed| (seed, bot_sim::run(seed, buggy, false, None)))
        .find(|(_, run)| run.result.is_err() && run.faults.len() > 1)
        .expect("a failing seed");
    let fails = |picks: &FaultPicks| {
        bot_sim::run(seed, buggy, false, Some(picks))
            .result
            .is_err()
    };
    let shrunk = shrink(&first.faults, fails);
    assert!(shrunk.still_fails);
    assert_eq!(shrunk.before, first.faults.len());
    assert!(
        shrunk.picks.len() < first.faults.len(),
        "{} of {} faults",
        shrunk.picks.len(),
        first.faults.len()
    );
    // Replayed from its printed form: the reduced schedule, and still failing.
    let printed: FaultPicks = shrunk.picks.to_string().parse().expect("parses back");
    assert_eq!(printed, shrunk.picks);
    let replay = bot_sim::run(seed, buggy, false, Some(&printed));
    assert!(
        replay.result.is_err(),
        "the reduced schedule fails on replay"
    );
    assert_eq!(replay.faults, shrunk.picks.apply(&first.faults));
    // A passing seed does not shrink.
    let passing = bot_sim::run(seed, false, false, None);
    assert!(passing.result.is_ok());
    let not = shrink(&passing.faults, |picks| {
        bot_sim::run(seed, false, false, Some(picks))
            .result
            .is_err()
    });
    assert!(!not.still_fails);
    assert_eq!(not.runs, 1);
}

#[test]
fn the_echo_bot_never_answers_its_own_user_speaking_from_a_second_connection() {
    let (mut world, echo) = bot_sim::world(1, false);
    // Early, while the bot has answered nothing yet: it knows its user from its config.
    world.fault_at(
        Duration::from_millis(2_500),
        Fault::SecondConnection {
            participant: echo,
            duration: Duration::from_secs(5),
        },
    );
    let mut sim = world.build();
    sim.run_for(Duration::from_secs(120)).expect("runs");
    let settle = sim.settle_time();
    sim.run_for(settle).expect("runs");
    let report = sim.report();
    let bot = report.participant(echo);
    let own: Vec<&str> = bot.own_received.iter().map(|m| m.text.as_str()).collect();
    assert!(own.contains(&"echo elsewhere #1"), "{own:?}");
    assert!(
        bot.sends.iter().all(|s| !s.text.contains("elsewhere")),
        "answered its own user"
    );
    bot_sim::check(&report, echo).expect("every other message answered once");
}
