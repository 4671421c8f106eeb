//! Describing a run: [`Builder`].

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use spaces_socket::client::ConfigError;
use spaces_socket::spaces::{Spaces, Token, TokenProvider};
use spaces_socket_emulator::rng::Rng;
use spaces_socket_emulator::{DemoAuth, Emulator, EmulatorConfig};

use spaces_socket::bot::{Bot, Host};

use crate::bot::SimBot;
use crate::error::SimError;
use crate::plan::{
    Fault, FaultMix, NetPlan, ParticipantConfig, ParticipantId, default_server, random_server,
};
use crate::report::{Report, ServerReport};
use crate::shrink::FaultPicks;
use crate::sim::Sim;
use crate::trace::Recorder;
use crate::view::Observer;
use crate::world::{Action, Participant, Tokens, World};

struct Entry {
    name: String,
    bot: Box<dyn SimBot>,
    config: ParticipantConfig,
    tokens: Box<dyn TokenProvider>,
}

/// Why [`Builder::participant`] refused a participant.
///
/// ```
/// use spaces_socket_sim::{AddError, Builder};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
///
/// let mut world = Builder::new();
/// world.participant("bot", Quiet)?;
/// let again = world.participant("bot", Quiet);
/// assert_eq!(again, Err(AddError::DuplicateName("bot".to_owned())));
/// assert!(matches!(world.participant("two words", Quiet), Err(AddError::BadName(_))));
/// # Ok::<(), AddError>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddError {
    /// Another participant already has this name (reports and traces name participants, so a
    /// name says which one).
    DuplicateName(String),
    /// The name is empty or not a plain word (letters, digits, `-`, `_`, `.`; it is also the
    /// default token and user id).
    BadName(String),
    /// `Spaces::new` refused the participant's session configuration.
    Config(ConfigError),
}

impl fmt::Display for AddError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::DuplicateName(name) => write!(f, "a participant is already called {name:?}"),
            Self::BadName(name) => write!(f, "{name:?} is not a plain word"),
            Self::Config(e) => write!(f, "the session configuration is refused: {e}"),
        }
    }
}

impl std::error::Error for AddError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            _ => None,
        }
    }
}

/// Describes a simulation: its seed, world and participants. Start from [`Builder::new`], add
/// participants with [`participant`](Self::participant) (each returns the [`ParticipantId`]
/// that addresses it), then [`build`](Self::build) a [`Sim`] (or [`run_for`](Self::run_for)
/// straight to a [`Report`]).
///
/// Every random choice comes from the seed, in this order: your own draws from
/// [`rng`](Self::rng) while building, then at [`build`](Self::build) the network (if
/// [`random_network`](Self::random_network)), the server (if
/// [`random_server`](Self::random_server)) and the faults (if [`faults`](Self::faults)); the
/// run's latencies and tokens, and each bot's `Ctx::rng`, have streams of their own.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{AddError, Builder, FaultMix};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &spaces_socket::spaces::SpacesEvent) {}
/// # }
///
/// let mut world = Builder::new();
/// world
///     .seed(42)
///     .random_network()
///     .random_server()
///     .faults(FaultMix::new(Duration::from_secs(60)));
/// let bot = world.participant("bot", Quiet)?;
/// // Names say which participant a report or a trace line is about: they may not repeat.
/// assert!(matches!(world.participant("bot", Quiet), Err(AddError::DuplicateName(_))));
/// let mut sim = world.build();
/// sim.run_for(Duration::from_secs(60))?;
/// let settle = sim.settle_time(); // after the window: what is still queued counts
/// sim.run_for(settle)?;
/// assert!(sim.report().participant(bot).connects >= 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Builder {
    seed: u64,
    scenario: Rng,
    net: NetPlan,
    random_net: bool,
    server: EmulatorConfig,
    random_server: bool,
    entries: Vec<Entry>,
    mix: Option<FaultMix>,
    faults: Vec<(Duration, Fault)>,
    only_faults: Option<FaultPicks>,
    reopens: Vec<(Duration, ParticipantId)>,
    record_events: bool,
    keep_trace: bool,
    observer: Box<dyn Observer>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// Seed 0, a calm 20 ms network, [`default_server`], no faults, no participants.
    pub fn new() -> Self {
        Self {
            seed: 0,
            scenario: scenario_rng(0),
            net: NetPlan::default(),
            random_net: false,
            server: default_server(),
            random_server: false,
            entries: Vec::new(),
            mix: None,
            faults: Vec::new(),
            only_faults: None,
            reopens: Vec::new(),
            record_events: false,
            keep_trace: false,
            observer: Box::new(()),
        }
    }

    /// The seed every choice derives from. Set it first: it restarts [`rng`](Self::rng).
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = seed;
        self.scenario = scenario_rng(seed);
        self
    }

    /// The scenario's generator (derived from the seed): draw your own choices from it while
    /// building (how many participants, what they do), so that one seed decides everything.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.scenario
    }

    /// Adds a participant called `name` running `bot`, with [`ParticipantConfig::default`] and
    /// a fixed token: the JWT `name`, which the emulator takes as the user `name`. The
    /// [`ParticipantId`] it returns addresses it in faults, reports and views.
    ///
    /// # Errors
    /// [`AddError::DuplicateName`] when a participant already has this name,
    /// [`AddError::BadName`] when it is not a plain word.
    pub fn participant(
        &mut self,
        name: &str,
        bot: impl Bot + 'static,
    ) -> Result<ParticipantId, AddError> {
        let tokens = Token::jwt(name);
        self.add(
            name,
            Box::new(bot),
            ParticipantConfig::default(),
            Box::new(tokens),
        )
    }

    /// [`participant`](Self::participant) with its own session configuration and token
    /// source, as a runtime's `connect` takes them. The source is asked for a token at each
    /// connection attempt, on the virtual wall clock
    /// ([`EmulatorConfig::base_time_unix_ms`](spaces_socket_emulator::EmulatorConfig::base_time_unix_ms)
    /// plus the virtual time); the emulator takes a plain token as the user of that name, a
    /// JWT's `sub` claim otherwise (see `DemoAuth`). A second participant with the same token
    /// is the same user on another connection.
    ///
    /// # Errors
    /// As [`participant`](Self::participant), and [`AddError::Config`] when `Spaces::new`
    /// refuses `config.session`.
    pub fn participant_with(
        &mut self,
        name: &str,
        bot: impl Bot + 'static,
        config: ParticipantConfig,
        tokens: impl TokenProvider + 'static,
    ) -> Result<ParticipantId, AddError> {
        self.add(name, Box::new(bot), config, Box::new(tokens))
    }

    fn add(
        &mut self,
        name: &str,
        bot: Box<dyn SimBot>,
        config: ParticipantConfig,
        tokens: Box<dyn TokenProvider>,
    ) -> Result<ParticipantId, AddError> {
        let plain = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
        if name.is_empty() || !name.chars().all(plain) {
            return Err(AddError::BadName(name.to_owned()));
        }
        if self.entries.iter().any(|e| e.name == name) {
            return Err(AddError::DuplicateName(name.to_owned()));
        }
        // Refused now, with the name at hand, rather than at `build`.
        Spaces::new(config.session.clone()).map_err(AddError::Config)?;
        self.entries.push(Entry {
            name: name.to_owned(),
            bot,
            config,
            tokens,
        });
        Ok(ParticipantId(self.entries.len() - 1))
    }

    /// The network (default: [`NetPlan::default`]).
    pub fn network(&mut self, net: NetPlan) -> &mut Self {
        self.net = net;
        self.random_net = false;
        self
    }

    /// Draws the network from the seed at [`build`](Self::build) ([`NetPlan::random`]).
    pub fn random_network(&mut self) -> &mut Self {
        self.random_net = true;
        self
    }

    /// The emulator's configuration (default: [`default_server`]). A server restart starts a
    /// new emulator from it, with a seed of its own.
    pub fn server(&mut self, config: EmulatorConfig) -> &mut Self {
        self.server = config;
        self.random_server = false;
        self
    }

    /// Draws the server's behaviours from the seed at [`build`](Self::build)
    /// ([`random_server`](crate::random_server)).
    pub fn random_server(&mut self) -> &mut Self {
        self.random_server = true;
        self
    }

    /// Random faults drawn from the seed over `mix.window`; after the window, the world is
    /// calm.
    pub fn faults(&mut self, mix: FaultMix) -> &mut Self {
        self.mix = Some(mix);
        self
    }

    /// One more fault at virtual time `at` (see also [`Sim::inject_at`] while the world runs).
    pub fn fault_at(&mut self, at: Duration, fault: Fault) -> &mut Self {
        self.faults.push((at, fault));
        self
    }

    /// Keeps only these faults of the run's schedule (the scripted and drawn faults in time
    /// order, as [`Sim::faults`] lists them), each with its window shortened where `picks`
    /// says: what [`shrink`](crate::shrink) found, replayed. Everything else is drawn as
    /// without it.
    pub fn only_faults(&mut self, picks: FaultPicks) -> &mut Self {
        self.only_faults = Some(picks);
        self
    }

    /// Calls `connect` on `participant`'s session at virtual time `at`, as its user would
    /// after closing it: a bot can close its session ([`Ctx::close`](crate::Ctx::close)) but
    /// not open it again (a runtime's `run` returns once the bot closes). A session still
    /// open then (its bot closes it at that very instant, or later) is reopened right after
    /// its bot closes it.
    pub fn reopen_at(&mut self, at: Duration, participant: ParticipantId) -> &mut Self {
        self.reopens.push((at, participant));
        self
    }

    /// Keeps every event of every participant in the report
    /// ([`ParticipantReport::events`](crate::ParticipantReport::events)); off by default.
    pub fn record_events(&mut self, on: bool) -> &mut Self {
        self.record_events = on;
        self
    }

    /// Keeps the whole trace as lines ([`Sim::trace`]); off by default (the hash is always
    /// kept).
    pub fn keep_trace(&mut self, on: bool) -> &mut Self {
        self.keep_trace = on;
        self
    }

    /// Checks the run as it goes (see [`Observer`]).
    pub fn observer(&mut self, observer: impl Observer) -> &mut Self {
        self.observer = Box::new(observer);
        self
    }

    /// The simulation, at virtual time zero. Then [`Sim::run_for`].
    pub fn build(mut self) -> Sim {
        let mut root = Rng::new(self.seed);
        let _scenario = root.fork();
        let run = root.fork();
        let mut bots = root.fork();
        if self.random_net {
            self.net = NetPlan::random(&mut self.scenario);
        }
        if self.random_server {
            self.server = random_server(&mut self.scenario, self.entries.len());
        }
        let mut faults = std::mem::take(&mut self.faults);
        if let Some(mix) = &self.mix {
            faults.extend(mix.draw(&mut self.scenario, self.entries.len()));
        }
        faults.sort_by_key(|(at, _)| *at);
        if let Some(picks) = &self.only_faults {
            faults = picks.apply(&faults);
        }
        let base = Instant::now();
        let mut parts = Vec::new();
        let mut bot_list = Vec::new();
        for entry in self.entries {
            // The bot's generator (a fork of the bots' stream, as `Rng::fork` draws it).
            let bot_seed = bots.next_u64();
            let session_seed = entry.config.session.client.rng_seed;
            let session_seed = session_seed.unwrap_or_else(|| bots.next_u64());
            parts.push(Participant::new(
                entry.name,
                entry.config,
                Tokens::Own(entry.tokens),
                session_seed,
            ));
            let mut host = Host::new(entry.bot, bot_seed);
            host.record_commands();
            bot_list.push(host);
        }
        let factor = faults
            .iter()
            .map(|(_, f)| f.slow_factor())
            .max()
            .unwrap_or(1);
        let server = Emulator::new(self.server.clone(), Box::new(DemoAuth));
        let mut world = World {
            seed: self.seed,
            base,
            now: base,
            rng: run,
            seq: 0,
            agenda: BTreeMap::new(),
            parts,
            server,
            server_config: self.server,
            generation: 0,
            conns: BTreeMap::new(),
            links: BTreeMap::new(),
            next_link: 0,
            max_latency: self.net.calm_latency() * factor,
            net: self.net,
            chaos_until: self.mix.as_ref().map(|m| m.window),
            faults: faults.clone(),
            refusing: 0,
            blackholing: 0,
            silent: 0,
            slow: Vec::new(),
            rec: Recorder {
                keep: self.keep_trace,
                ..Recorder::default()
            },
            record_events: self.record_events,
            steps: 0,
            same_instant: 0,
            server_report: ServerReport::default(),
            injected: Vec::new(),
            error: None,
        };
        for i in 0..world.parts.len() {
            let start = world.parts[i].config.start;
            world.schedule(base + start, Action::Start(i));
        }
        for (at, fault) in faults {
            world.schedule(base + at, Action::Fault(fault));
        }
        for (at, participant) in self.reopens {
            world.schedule(base + at, Action::Reopen(participant.0));
        }
        Sim {
            w: world,
            bots: bot_list,
            observer: self.observer,
        }
    }

    /// Builds and runs for `duration` of virtual time: the report, or the first failure.
    pub fn run_for(self, duration: Duration) -> Result<Report, SimError> {
        let mut sim = self.build();
        sim.run_for(duration)?;
        Ok(sim.report())
    }
}

fn scenario_rng(seed: u64) -> Rng {
    Rng::new(seed).fork()
}
