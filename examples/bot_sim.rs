//! The echo bot under deterministic simulation: the very [`EchoBot`] type that
//! `examples/echo_bot.rs` runs against a real server answers every message in its space with
//! `echo: <text>`, while two users chat, its own user now and then speaks from a second
//! connection, and the network and the server misbehave. Each seed is
//! one world (latencies, server quirks, faults, who says what when); the check is that every
//! message the bot received from someone else got exactly one confirmed answer, and its own
//! user's none.
//!
//! ```sh
//! cargo run --release --example bot_sim -- --seeds 1000   # sweep seeds 0..1000
//! cargo run --example bot_sim -- --seed 17                # replay one seed: its trace, then the result
//! cargo run --example bot_sim -- --buggy --seeds 200      # a bot with a bug: fails, names the seeds
//! cargo run --example bot_sim -- --buggy --seed 1 --shrink # the few faults that make seed 1 fail
//! cargo run --example bot_sim -- --buggy --seed 1 --faults 3,7/1500   # replay those faults only
//! ```
//!
//! It prints one JSON line, `{"seeds":N,"failures":F,…,"virtual_secs":…,"wall_secs":…}`
//! (with `"failing_seeds":[…]` when F > 0), and exits 0 exactly when F is 0. With `--shrink` it
//! reduces the failing seed's fault schedule to a few faults that still make it fail, prints
//! them and the command replaying them, then one JSON line
//! `{"seed":K,"faults_before":N,"faults_after":M,"still_fails":true}`, and exits 1.
//!
//! Delivery is at least once: when a connection drops before a message's echo came back, the
//! library sends it again, and the others may see it twice (a new server `_id`, the same text).
//! So the bot remembers what it answered, keyed by what the message is (sender and text), and
//! skips server `_id`s it already handled; it answers again only when its answer failed. The
//! `--buggy` bot forgets across a reconnect the answers still waiting for their echo and answers
//! those messages again, although the library already re-sends them: two answers.

#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use spaces_socket::bot::{Bot, Ctx};
use spaces_socket::spaces::{SpacesEvent, Token};
use spaces_socket_examples::echo::EchoBot;
use spaces_socket_sim::{
    BadFaultPicks, Builder, Fault, FaultMix, FaultPicks, Outcome, ParticipantConfig, ParticipantId,
    Report, shrink,
};

/// The space everyone talks in.
const SPACE: &str = "lobby";
/// Faults and chatter happen in the first two minutes; then the world is calm until everything
/// settled.
const WINDOW: Duration = Duration::from_secs(120);

/// A user who says something every 0.3–3 s during the window.
pub(crate) struct Chatter {
    pub(crate) name: &'static str,
    pub(crate) said: u32,
}

impl Bot for Chatter {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.subscribe(SPACE);
        let first = ctx.rng().ms(300, 3_000);
        ctx.set_timer(first, 0);
    }

    fn on_event(&mut self, _ctx: &mut Ctx<'_>, _event: &SpacesEvent) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, _timer: u64) {
        // Chatters start at 0, so the bot's elapsed time is the run's.
        if ctx.elapsed() >= WINDOW {
            return;
        }
        self.said += 1;
        let text = format!("{} #{}", self.name, self.said);
        let _ = ctx.send_text(SPACE, &text);
        let next = ctx.rng().ms(300, 3_000);
        ctx.set_timer(next, 0);
    }
}

/// The fault mix: the kit's default, plus now and then a second connection of the bot's own
/// user (which says something the bot must not answer).
fn faults() -> FaultMix {
    let mut mix = FaultMix::new(WINDOW);
    mix.weights.second_connection = 6;
    mix
}

/// The world of one seed, and the echo bot's handle.
pub(crate) fn world(seed: u64, buggy: bool) -> (Builder, ParticipantId) {
    let mut world = Builder::new();
    world
        .seed(seed)
        .random_network()
        .random_server()
        .faults(faults());
    let bot = if buggy {
        EchoBot::buggy(SPACE)
    } else {
        EchoBot::new(SPACE)
    };
    // The bot knows its user, as a deployed bot does (its own messages from a second
    // connection may come before it has sent anything).
    let mut config = ParticipantConfig::default();
    config.session.user_id = Some("echo".to_owned());
    let echo = world.participant_with("echo", bot, config, Token::jwt("echo"));
    let echo = echo.expect("a new name");
    for name in ["alice", "bob"] {
        let chatter = Chatter { name, said: 0 };
        world.participant(name, chatter).expect("a new name");
    }
    (world, echo)
}

/// Every message the bot received got exactly one confirmed answer, and it answered nothing
/// else. `Err` says what went wrong.
pub(crate) fn check(report: &Report, echo: ParticipantId) -> Result<(), String> {
    let bot = report.participant(echo);
    let mut confirmed: BTreeMap<&str, usize> = BTreeMap::new();
    for send in &bot.sends {
        let Some(original) = send.text.strip_prefix("echo: ") else {
            return Err(format!("the bot sent {:?}", send.text));
        };
        let entry = confirmed.entry(original).or_default();
        if matches!(send.outcome, Some(Outcome::Confirmed(_))) {
            *entry += 1;
        }
    }
    if let Some(own) = bot
        .own_received
        .iter()
        .find(|m| confirmed.contains_key(m.text.as_str()))
    {
        return Err(format!("answered {:?}, its own user's message", own.text));
    }
    let received: BTreeSet<&str> = bot
        .received
        .iter()
        .filter(|m| m.sender != "echo")
        .map(|m| m.text.as_str())
        .collect();
    for text in &received {
        match confirmed.get(text).copied().unwrap_or(0) {
            1 => {}
            n => return Err(format!("{text:?} got {n} confirmed answers")),
        }
    }
    if let Some(extra) = confirmed.keys().find(|t| !received.contains(*t)) {
        return Err(format!("answered {extra:?}, which it never received"));
    }
    Ok(())
}

/// One run: whether it passed (or why not), the virtual time it took, its fault schedule and
/// its trace (when kept).
pub(crate) struct Run {
    pub(crate) result: Result<(), String>,
    pub(crate) elapsed: Duration,
    pub(crate) faults: Vec<(Duration, Fault)>,
    pub(crate) trace: String,
    /// The participants' names, by index.
    pub(crate) names: Vec<String>,
}

/// Runs seed `seed`, with only the faults `picks` keeps (all of them if `None`).
pub(crate) fn run(seed: u64, buggy: bool, keep_trace: bool, picks: Option<&FaultPicks>) -> Run {
    let (mut world, echo) = world(seed, buggy);
    world.keep_trace(keep_trace);
    if let Some(picks) = picks {
        world.only_faults(picks.clone());
    }
    let mut sim = world.build();
    // The settle time is measured after the window: what is still queued then counts.
    let ran = sim.run_for(WINDOW).and_then(|()| {
        let settle = sim.settle_time();
        sim.run_for(settle)
    });
    let result = match ran {
        Ok(()) => check(&sim.report(), echo),
        Err(e) => Err(e.to_string()),
    };
    Run {
        result,
        elapsed: sim.elapsed(),
        faults: sim.faults().to_vec(),
        trace: sim.trace().to_string(),
        names: sim
            .report()
            .participants
            .into_iter()
            .map(|p| p.name)
            .collect(),
    }
}

/// Shrinks the faults of failing seed `seed` and prints the reduced schedule, its replay
/// command, and one JSON line. Exit 1 when the seed fails (shrunk or not), 0 when it passes.
fn shrink_seed(seed: u64, buggy: bool) -> ExitCode {
    let first = run(seed, buggy, false, None);
    let Err(why) = &first.result else {
        println!("seed {seed} passes: nothing to shrink");
        println!(
            "{{\"seed\":{seed},\"faults_before\":{},\"faults_after\":{},\"still_fails\":false}}",
            first.faults.len(),
            first.faults.len()
        );
        return ExitCode::SUCCESS;
    };
    println!(
        "seed {seed} fails with {} faults: {}",
        first.faults.len(),
        first_line(why)
    );
    let shrunk = shrink(&first.faults, |picks| {
        run(seed, buggy, false, Some(picks)).result.is_err()
    });
    let reduced = run(seed, buggy, false, Some(&shrunk.picks));
    let still_fails = reduced.result.is_err();
    println!(
        "reduced to {} of {} faults in {} runs:",
        shrunk.picks.len(),
        first.faults.len(),
        shrunk.runs
    );
    for (at, fault) in shrunk.picks.apply(&first.faults) {
        let on = fault.participant().map(|p| &first.names[p.index()]);
        let on = on.map(|name| format!(" on {name}")).unwrap_or_default();
        println!("  {:>8.3}s  {fault:?}{on}", at.as_secs_f64());
    }
    if let Err(why) = &reduced.result {
        println!("it still fails: {}", first_line(why));
    }
    let buggy_flag = if buggy { " --buggy" } else { "" };
    println!(
        "replay: cargo run --release --example bot_sim --{buggy_flag} --seed {seed} --faults {}",
        shrunk.picks
    );
    println!(
        "{{\"seed\":{seed},\"faults_before\":{},\"faults_after\":{},\"still_fails\":{still_fails}}}",
        first.faults.len(),
        shrunk.picks.len()
    );
    ExitCode::FAILURE
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

const USAGE: &str = "usage: bot_sim [--seeds N | --seed K [--shrink | --faults LIST]] [--buggy]";

struct Args {
    seeds: u64,
    seed: Option<u64>,
    buggy: bool,
    shrink: bool,
    faults: Option<FaultPicks>,
}

fn args() -> Result<Args, String> {
    let mut args = Args {
        seeds: 100,
        seed: None,
        buggy: false,
        shrink: false,
        faults: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let value = it.next().ok_or(format!("{name} needs a number"))?;
            value
                .parse()
                .map_err(|_| format!("{name} {value:?} is not a number"))
        };
        match arg.as_str() {
            "--seeds" => args.seeds = number("--seeds")?,
            "--seed" => args.seed = Some(number("--seed")?),
            "--buggy" => args.buggy = true,
            "--shrink" => args.shrink = true,
            "--faults" => {
                let list = it.next().ok_or("--faults needs a list")?;
                args.faults = Some(list.parse().map_err(|e: BadFaultPicks| e.to_string())?);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if (args.shrink || args.faults.is_some()) && args.seed.is_none() {
        eprintln!("--shrink and --faults replay one seed: add --seed K\n{USAGE}");
        return ExitCode::from(2);
    }
    if args.shrink {
        return shrink_seed(args.seed.unwrap_or_default(), args.buggy);
    }
    let started = Instant::now();
    let seeds: Vec<u64> = match args.seed {
        Some(k) => vec![k],
        None => (0..args.seeds).collect(),
    };
    let mut failing = Vec::new();
    let mut virtual_time = Duration::ZERO;
    for &seed in &seeds {
        let keep_trace = args.seed.is_some();
        let Run {
            result,
            elapsed,
            trace,
            ..
        } = run(seed, args.buggy, keep_trace, args.faults.as_ref());
        print!("{trace}");
        virtual_time += elapsed;
        if let Err(why) = result {
            eprintln!("seed {seed}: {why}");
            failing.push(seed);
        }
    }
    let failing_seeds = if failing.is_empty() {
        String::new()
    } else {
        let list: Vec<String> = failing.iter().map(u64::to_string).collect();
        format!(",\"failing_seeds\":[{}]", list.join(","))
    };
    println!(
        "{{\"seeds\":{},\"failures\":{}{failing_seeds},\"virtual_secs\":{:.1},\"wall_secs\":{:.3}}}",
        seeds.len(),
        failing.len(),
        virtual_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    if failing.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
