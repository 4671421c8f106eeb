//! The simulation kit as a user's test sees it: a run replays byte for byte, every fault kind
//! does what it says (injected while running too), participants are addressed by handle with
//! their own session configuration and token source, the world steps one event at a time, a
//! failing run shrinks, and a bot's commands reach the emulator. The echo bot's own
//! simulation (`bot_sim`) is tested with the examples.

use std::time::Duration;

use spaces_socket::spaces::{SendFailure, SpacesEvent, Token};
use spaces_socket_sim::emulator::EmulatorEvent;
use spaces_socket_sim::{
    AddError, Bot, Builder, Ctx, Fault, FaultMix, FaultPicks, Happening, Observer, Outcome,
    ParticipantConfig, ParticipantId, ParticipantReport, Report, Sim, SimView, shrink,
};

/// Says something every 0.3–3 s for a minute.
struct Talker {
    name: &'static str,
    said: u32,
}

impl Bot for Talker {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.subscribe("lobby");
        let first = ctx.rng().ms(300, 3_000);
        ctx.set_timer(first, 0);
    }

    fn on_event(&mut self, _ctx: &mut Ctx<'_>, _event: &SpacesEvent) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, _timer: u64) {
        if ctx.elapsed() < Duration::from_secs(60) {
            self.said += 1;
            let _ = ctx.send_text("lobby", &format!("{} #{}", self.name, self.said));
            let next = ctx.rng().ms(300, 3_000);
            ctx.set_timer(next, 0);
        }
    }
}

/// Two talkers on a random network and server, with the default fault mix over a minute.
fn chatty_world(seed: u64) -> Builder {
    let mut world = Builder::new();
    world
        .seed(seed)
        .random_network()
        .random_server()
        .faults(FaultMix::new(Duration::from_secs(60)));
    for name in ["a", "b"] {
        let talker = Talker { name, said: 0 };
        world.participant(name, talker).expect("a new name");
    }
    world
}

fn chatty_run(seed: u64, keep_trace: bool) -> Sim {
    let mut world = chatty_world(seed);
    world.keep_trace(keep_trace);
    let mut sim = world.build();
    sim.run_for(Duration::from_secs(90)).expect("runs");
    sim
}

#[test]
fn the_same_seed_gives_the_same_trace_byte_for_byte() {
    let trace = |seed| chatty_run(seed, true).trace().to_string();
    let first = trace(5);
    assert!(first.lines().count() > 100, "a trace has every frame");
    assert_eq!(first, trace(5), "two runs of one seed differ");
    assert_ne!(first, trace(6), "the seed must drive the run");
}

#[test]
fn the_trace_hash_does_not_depend_on_keeping_the_trace() {
    assert_eq!(
        chatty_run(9, false).trace_hash(),
        chatty_run(9, true).trace_hash()
    );
}

/// The "bug" a shrink test looks for: participant `a` losing its connection to an error.
struct NoErrorsOnA;

impl Observer for NoErrorsOnA {
    fn on_happening(&mut self, _sim: &SimView<'_>, what: &Happening<'_>) -> Result<(), String> {
        match what {
            Happening::Event {
                participant,
                event: SpacesEvent::Disconnected { reason },
            } if participant.index() == 0 && reason.as_str() == "transport error" => {
                Err("a lost its connection to an error".to_owned())
            }
            _ => Ok(()),
        }
    }
}

#[test]
fn a_failing_run_shrinks_to_fewer_faults_that_still_fail_and_replay() {
    let fails = |seed: u64, picks: Option<&FaultPicks>| {
        let mut world = chatty_world(seed);
        world.observer(NoErrorsOnA);
        if let Some(picks) = picks {
            world.only_faults(picks.clone());
        }
        let mut sim = world.build();
        let failed = sim.run_for(Duration::from_secs(90)).is_err();
        (failed, sim.faults().to_vec())
    };
    // The first seed among the first 50 that fails with more than one fault.
    let (seed, schedule) = (0..50)
        .map(|seed| (seed, fails(seed, None)))
        .find(|(_, (failed, faults))| *failed && faults.len() > 1)
        .map(|(seed, (_, faults))| (seed, faults))
        .expect("a seed where a loses its connection among other faults");
    let shrunk = shrink(&schedule, |picks| fails(seed, Some(picks)).0);
    assert!(shrunk.still_fails);
    assert_eq!(shrunk.before, schedule.len());
    assert!(
        shrunk.picks.len() < schedule.len(),
        "seed {seed}: {} of {} faults",
        shrunk.picks.len(),
        schedule.len()
    );
    // Replayed from its printed form: the reduced schedule, and still failing.
    let printed: FaultPicks = shrunk.picks.to_string().parse().expect("parses back");
    assert_eq!(printed, shrunk.picks);
    let (failed, replayed) = fails(seed, Some(&printed));
    assert!(failed, "seed {seed}: the reduced schedule fails on replay");
    assert_eq!(replayed, shrunk.picks.apply(&schedule));
    // A run that does not fail does not shrink.
    let calm = shrink(&schedule, |_| false);
    assert!(!calm.still_fails);
    assert_eq!(calm.runs, 1);
}

/// Subscribes to `lobby` and stays quiet.
struct Quiet;

impl Bot for Quiet {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.subscribe("lobby");
    }

    fn on_event(&mut self, _ctx: &mut Ctx<'_>, _event: &SpacesEvent) {}
}

/// Two quiet participants `a` and `b`, the faults `faults(a, b)` gives (at whole seconds),
/// 40 s in all.
fn with_faults(faults: impl Fn(ParticipantId, ParticipantId) -> Vec<(u64, Fault)>) -> Report {
    let mut world = Builder::new();
    world.seed(1).record_events(true);
    let a = world.participant("a", Quiet).expect("a new name");
    let b = world.participant("b", Quiet).expect("a new name");
    for (secs, fault) in faults(a, b) {
        world.fault_at(Duration::from_secs(secs), fault);
    }
    world
        .run_for(Duration::from_secs(40))
        .expect("the run keeps going")
}

/// What participant `who` went through.
fn of<'r>(report: &'r Report, who: &str) -> &'r ParticipantReport {
    report.named(who).expect("a participant of the run")
}

fn disconnects(report: &Report, who: &str, reason: &str) -> u32 {
    let p = of(report, who);
    p.disconnects.get(reason).copied().unwrap_or(0)
}

#[test]
fn each_fault_happens() {
    let r = with_faults(|a, _| vec![(5, Fault::Reset { participant: a })]);
    assert_eq!(disconnects(&r, "a", "transport error"), 1);
    assert_eq!(of(&r, "a").connects, 2, "reconnected");
    assert_eq!(of(&r, "b").connects, 1, "the other one untouched");
    assert_eq!(r.faults.len(), 1);
    assert_eq!(of(&r, "a").faults.len(), 1);

    let r = with_faults(|a, _| vec![(5, Fault::Kick { participant: a })]);
    assert_eq!(disconnects(&r, "a", "transport close"), 1);

    let half_open = |participant, up, down| Fault::HalfOpen {
        participant,
        up,
        down,
    };
    let r = with_faults(|_, b| vec![(5, half_open(b, false, true))]);
    assert_eq!(disconnects(&r, "b", "ping timeout"), 1);
    assert_eq!(of(&r, "b").connects, 2);
    let r = with_faults(|_, b| vec![(5, half_open(b, true, false))]);
    assert_eq!(
        r.server.ping_timeouts, 1,
        "the server forgot the silent connection"
    );
    assert_eq!(of(&r, "b").connects, 2);

    let r = with_faults(|a, _| vec![(5, Fault::ServerDisconnect { participant: a })]);
    assert_eq!(disconnects(&r, "a", "io server disconnect"), 1);
    assert_eq!(of(&r, "a").closes, 1);
    assert_eq!(of(&r, "a").connect_calls, 2, "reopened");

    let r = with_faults(|a, _| {
        let kick = Fault::Kick { participant: a };
        vec![(5, Fault::ExpireToken { participant: a }), (6, kick)]
    });
    let auth_failed = of(&r, "a").events.iter();
    assert_eq!(
        auth_failed
            .filter(|(_, e)| matches!(e, SpacesEvent::AuthFailed(_)))
            .count(),
        1
    );
    assert_eq!(of(&r, "a").connects, 2, "back after reopening");

    let down = Duration::from_secs(3);
    let r = with_faults(|_, _| vec![(5, Fault::RestartServer { down_for: down })]);
    assert_eq!(r.server.restarts, 1);
    for who in ["a", "b"] {
        assert_eq!(of(&r, who).connects, 2, "{who} reconnected");
        assert!(of(&r, who).connect_failures >= 1, "{who} was refused");
    }

    for blackhole in [false, true] {
        let refuse = Fault::RefuseConnects {
            duration: Duration::from_secs(4),
            blackhole,
        };
        let r = with_faults(|a, _| vec![(5, refuse.clone()), (6, Fault::Kick { participant: a })]);
        assert!(of(&r, "a").connect_failures >= 1, "{blackhole}");
        assert_eq!(of(&r, "a").connects, 2);
    }

    let slow = Fault::Slow {
        duration: Duration::from_secs(10),
        factor: 10,
    };
    let r = with_faults(|_, _| vec![(5, slow.clone())]);
    let slowest = r
        .named("a")
        .expect("a")
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            SpacesEvent::Pong { latency } => Some(*latency),
            _ => None,
        });
    assert!(slowest.max().unwrap_or_default() >= Duration::from_millis(400));

    let silent = Fault::Silent {
        duration: Duration::from_secs(5),
    };
    let r = with_faults(|_, _| vec![(5, silent.clone())]);
    for who in ["a", "b"] {
        assert_eq!(disconnects(&r, who, "ping timeout"), 1, "{who}");
        assert_eq!(of(&r, who).connects, 2, "{who}");
    }
}

/// Sends one message once subscribed.
struct Sayer;

impl Bot for Sayer {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.subscribe("lobby");
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
        if let SpacesEvent::Subscribed { space } = event {
            ctx.send_text(space, "hi from a bot").expect("subscribed");
        }
    }
}

/// Keeps what the emulator saw.
#[derive(Default)]
struct ServerLog(Vec<EmulatorEvent>);

impl Observer for ServerLog {
    fn on_happening(&mut self, _sim: &SimView<'_>, what: &Happening<'_>) -> Result<(), String> {
        if let Happening::Server(ev) = what {
            self.0.push((*ev).clone());
        }
        Ok(())
    }
}

#[test]
fn a_bots_commands_reach_the_emulator() {
    let mut world = Builder::new();
    let sayer = world.participant("sayer", Sayer).expect("a new name");
    let reader = world.participant("reader", Quiet).expect("a new name");
    world.observer(ServerLog::default());
    let mut sim = world.build();
    sim.run_for(Duration::from_secs(3)).expect("runs");
    let log = &sim.observer::<ServerLog>().expect("our observer").0;
    assert!(log.iter().any(|e| matches!(e,
        EmulatorEvent::Subscribed { space, user, .. } if space == "lobby" && user.id == "sayer")));
    assert!(log.iter().any(|e| matches!(e,
        EmulatorEvent::MessageSent { text, sender, .. }
            if text == "hi from a bot" && sender.id == "sayer")));
    let report = sim.report();
    assert_eq!(report.participant(sayer).confirmed(), 1);
    let got = &report.participant(reader).received;
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].sender.as_str(), got[0].text.as_str()),
        ("sayer", "hi from a bot")
    );
}

#[test]
fn a_name_taken_twice_or_not_a_plain_word_is_refused() {
    let mut world = Builder::new();
    let first = world.participant("bot", Quiet).expect("a new name");
    assert_eq!(
        world.participant("bot", Quiet),
        Err(AddError::DuplicateName("bot".to_owned()))
    );
    for bad in ["", "two words", "quote'"] {
        assert!(
            matches!(world.participant(bad, Quiet), Err(AddError::BadName(_))),
            "{bad:?}"
        );
    }
    let second = world.participant("other", Quiet).expect("a new name");
    assert_ne!(first, second);
    let report = world.run_for(Duration::from_secs(2)).expect("runs");
    assert_eq!(report.participants.len(), 2, "refused ones are not added");
    assert_eq!(report.participant(second).name, "other");
}

#[test]
fn a_participant_runs_with_its_own_session_configuration_and_token_source() {
    // A session that gives up on an unconfirmed message after 1 s, and a token source that
    // names another user: the emulator sees that user.
    let mut config = ParticipantConfig::default();
    config.session.confirm_timeout = Some(Duration::from_secs(1));
    let mut world = Builder::new();
    let sayer = world
        .participant_with("sayer", Sayer, config, Token::jwt("carol"))
        .expect("a valid configuration");
    let reader = world.participant("reader", Quiet).expect("a new name");
    let mut sim = world.build();
    while sim.report().participant(sayer).sends.is_empty() {
        sim.step().expect("runs").expect("something is due");
    }
    // The message is on its way up: its echo never comes back.
    sim.inject(Fault::HalfOpen {
        participant: sayer,
        up: false,
        down: true,
    })
    .expect("runs");
    sim.run_for(Duration::from_secs(10)).expect("runs");
    let report = sim.report();
    // (It says hello again once subscribed on its next connection.)
    let sent = &report.participant(sayer).sends;
    assert!(
        matches!(
            sent[0].outcome,
            Some(Outcome::Failed(SendFailure::Unconfirmed))
        ),
        "{:?}",
        sent[0]
    );
    let got = &report.participant(reader).received;
    assert_eq!(
        got[0].sender, "carol",
        "the token's user, not the participant's name"
    );

    let mut bad = ParticipantConfig::default();
    bad.session.client.namespace = "/elsewhere".to_owned();
    let refused = Builder::new().participant_with("x", Quiet, bad, Token::jwt("x"));
    assert!(matches!(refused, Err(AddError::Config(_))), "{refused:?}");
}

#[test]
fn stepping_moves_one_event_at_a_time() {
    let mut world = Builder::new();
    let bot = world.participant("bot", Quiet).expect("a new name");
    let mut sim = world.build();
    let mut last = Duration::ZERO;
    let mut steps = 0;
    while !sim.view().participant(bot).spaces().is_connected() {
        let at = sim.step().expect("runs").expect("something is due");
        assert!(at >= last, "time never goes back");
        last = at;
        steps += 1;
    }
    assert_eq!(sim.report().steps, steps, "one step each");
    assert!(steps > 3, "open, accept, handshake… took {steps} steps");
    assert_eq!(sim.elapsed(), last);
}

#[test]
fn a_fault_injected_while_running_happens_then_and_there() {
    let mut world = Builder::new();
    let a = world.participant("a", Quiet).expect("a new name");
    let b = world.participant("b", Quiet).expect("a new name");
    let mut sim = world.build();
    sim.run_for(Duration::from_secs(3)).expect("runs");
    assert_eq!(sim.report().participant(a).connects, 1);
    sim.inject(Fault::Reset { participant: a }).expect("runs");
    assert!(
        !sim.view().participant(a).spaces().is_connected(),
        "at once"
    );
    sim.inject_at(Duration::from_secs(20), Fault::Kick { participant: b });
    sim.run_for(Duration::from_secs(30)).expect("runs");
    let report = sim.report();
    assert_eq!(report.participant(a).connects, 2);
    assert_eq!(report.participant(b).connects, 2);
    let at: Vec<Duration> = sim.faults().iter().map(|(at, _)| *at).collect();
    assert_eq!(at, [Duration::from_secs(3), Duration::from_secs(20)]);
    assert_eq!(report.participant(b).faults[0].0, Duration::from_secs(20));
}

#[test]
fn a_second_connection_of_the_same_user_speaks_as_that_user() {
    let mut world = Builder::new();
    let bot = world.participant("bot", Quiet).expect("a new name");
    let reader = world.participant("reader", Quiet).expect("a new name");
    world.fault_at(
        Duration::from_secs(3),
        Fault::SecondConnection {
            participant: bot,
            duration: Duration::from_secs(5),
        },
    );
    // Drawn while the first runs: nothing; after it left: another one, of another name.
    for at in [5, 12] {
        world.fault_at(
            Duration::from_secs(at),
            Fault::SecondConnection {
                participant: bot,
                duration: Duration::from_secs(2),
            },
        );
    }
    let report = world.run_for(Duration::from_secs(20)).expect("runs");
    let names: Vec<&str> = report
        .participants
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(names, ["bot", "reader", "bot'", "bot'2"]);
    let twin = report
        .named("bot'")
        .expect("the second connection's report");
    assert_eq!(twin.connects, 1);
    assert_eq!(twin.confirmed(), 1, "{twin:?}");
    assert_eq!(twin.closes, 1, "it left after its time");
    let from_bot: Vec<&str> = report
        .participant(reader)
        .received
        .iter()
        .filter(|m| m.sender == "bot")
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(
        from_bot,
        ["bot elsewhere #1", "bot elsewhere #1"],
        "the other user sees the bot's user, once from each second connection"
    );
    // The bot's own session gets it too: from its own user, on another connection.
    let own = &report.participant(bot).received;
    assert!(
        own.iter()
            .any(|m| m.sender == "bot" && m.text == "bot elsewhere #1"),
        "{own:?}"
    );
}

/// Closes its session at 2 s.
struct Leaver;

impl Bot for Leaver {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.subscribe("lobby");
        ctx.set_timer(Duration::from_secs(2), 0);
    }

    fn on_event(&mut self, _ctx: &mut Ctx<'_>, _event: &SpacesEvent) {}

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, _timer: u64) {
        ctx.close();
    }
}

#[test]
fn a_user_reopens_a_session_its_bot_closed_even_at_the_same_instant() {
    for (reopen, connects) in [(5, 2), (2, 2), (1, 2)] {
        let mut world = Builder::new();
        let bot = world.participant("bot", Leaver).expect("a new name");
        world.reopen_at(Duration::from_secs(reopen), bot);
        let report = world.run_for(Duration::from_secs(10)).expect("runs");
        let bot = report.participant(bot);
        assert_eq!(bot.closes, 1, "reopen at {reopen} s");
        assert_eq!(bot.connects, connects, "reopen at {reopen} s: {bot:?}");
    }
}
