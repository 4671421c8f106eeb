//! Describing a run: [`Builder`].

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use spaces_socket::client::Config;
use spaces_socket::spaces::{Spaces, SpacesConfig};
use spaces_socket_emulator::rng::Rng;
use spaces_socket_emulator::{DemoAuth, Emulator, EmulatorConfig};

use crate::bot::{Bot, Ctx};
use crate::error::SimError;
use crate::plan::{Fault, FaultMix, NetPlan, ParticipantConfig, default_server, random_server};
use crate::report::{ParticipantReport, Report, ServerReport};
use crate::sim::Sim;
use crate::trace::Recorder;
use crate::view::Observer;
use crate::world::{Action, Participant, World};

struct Entry {
    name: String,
    bot: Box<dyn Bot>,
    config: Option<ParticipantConfig>,
}

/// Describes a simulation: its seed, world and participants. Start from [`Builder::new`], add
/// participants with [`participant`](Self::participant), then [`build`](Self::build) a [`Sim`]
/// (or [`run_for`](Self::run_for) straight to a [`Report`]).
///
/// Every random choice comes from the seed, in this order: your own draws from
/// [`rng`](Self::rng) while building, then at [`build`](Self::build) the network (if
/// [`random_network`](Self::random_network)), the server (if
/// [`random_server`](Self::random_server)) and the faults (if [`faults`](Self::faults)); the
/// run's latencies and tokens, and each bot's [`Ctx::rng`], have streams of their own.
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
            record_events: false,
            keep_trace: false,
            observer: Box::new(()),
        }
    }

    /// The seed every choice derives from. Set it first: it restarts [`rng`](Self::rng).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self.scenario = scenario_rng(seed);
        self
    }

    /// The scenario's generator (derived from the seed): draw your own choices from it while
    /// building (how many participants, what they do), so that one seed decides everything.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.scenario
    }

    /// Adds a participant called `name` (a plain word: it is also its token and user id)
    /// running `bot`, with [`ParticipantConfig::default`]. Participants are numbered from 0 in
    /// the order they are added.
    pub fn participant(self, name: &str, bot: impl Bot) -> Self {
        self.add(name, Box::new(bot), None)
    }

    /// [`participant`](Self::participant) with its own settings.
    pub fn participant_with(self, name: &str, bot: impl Bot, config: ParticipantConfig) -> Self {
        self.add(name, Box::new(bot), Some(config))
    }

    /// [`participant_with`](Self::participant_with) for a boxed bot.
    pub fn participant_boxed(
        self,
        name: &str,
        bot: Box<dyn Bot>,
        config: ParticipantConfig,
    ) -> Self {
        self.add(name, bot, Some(config))
    }

    fn add(mut self, name: &str, bot: Box<dyn Bot>, config: Option<ParticipantConfig>) -> Self {
        self.entries.push(Entry {
            name: name.to_owned(),
            bot,
            config,
        });
        self
    }

    /// The network (default: [`NetPlan::default`]).
    pub fn network(mut self, net: NetPlan) -> Self {
        self.net = net;
        self.random_net = false;
        self
    }

    /// Draws the network from the seed at [`build`](Self::build) ([`NetPlan::random`]).
    pub fn random_network(mut self) -> Self {
        self.random_net = true;
        self
    }

    /// The emulator's configuration (default: [`default_server`]). A server restart starts a
    /// new emulator from it, with a seed of its own.
    pub fn server(mut self, config: EmulatorConfig) -> Self {
        self.server = config;
        self.random_server = false;
        self
    }

    /// Draws the server's behaviours from the seed at [`build`](Self::build)
    /// ([`random_server`](crate::random_server)).
    pub fn random_server(mut self) -> Self {
        self.random_server = true;
        self
    }

    /// Random faults drawn from the seed over `mix.window`; after the window, the world is
    /// calm.
    pub fn faults(mut self, mix: FaultMix) -> Self {
        self.mix = Some(mix);
        self
    }

    /// One more fault at virtual time `at`.
    pub fn fault_at(mut self, at: Duration, fault: Fault) -> Self {
        self.faults.push((at, fault));
        self
    }

    /// Keeps every event of every participant in the report
    /// ([`ParticipantReport::events`](crate::ParticipantReport::events)); off by default.
    pub fn record_events(mut self, on: bool) -> Self {
        self.record_events = on;
        self
    }

    /// Keeps the whole trace as lines ([`Sim::trace`]); off by default (the hash is always
    /// kept).
    pub fn keep_trace(mut self, on: bool) -> Self {
        self.keep_trace = on;
        self
    }

    /// Checks the run as it goes (see [`Observer`]).
    pub fn observer(mut self, observer: impl Observer) -> Self {
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
        let base = Instant::now();
        let mut parts = Vec::new();
        let mut bot_list = Vec::new();
        for entry in self.entries {
            let config = entry.config.unwrap_or_default();
            let rng = bots.fork();
            let session_seed = config.rng_seed.unwrap_or_else(|| bots.next_u64());
            let (spaces, session_config) = session(&config, session_seed);
            parts.push(Participant {
                name: entry.name.clone(),
                config,
                session_config,
                spaces,
                rng,
                link: None,
                last_link: None,
                user_closed: false,
                expire_next_token: false,
                report: ParticipantReport {
                    name: entry.name,
                    ..ParticipantReport::default()
                },
                send_index: BTreeMap::new(),
            });
            bot_list.push(entry.bot);
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
            commands: Vec::new(),
            timers: Vec::new(),
        };
        for i in 0..world.parts.len() {
            let start = world.parts[i].config.start;
            world.schedule(base + start, Action::Start(i));
        }
        for (at, fault) in faults {
            world.schedule(base + at, Action::Fault(fault));
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

/// Runs `f` with a [`Ctx`] for participant `i` at the world's now.
pub(crate) fn with_ctx<R>(w: &mut World, i: usize, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
    let p = &mut w.parts[i];
    let mut ctx = Ctx {
        now: w.now,
        elapsed: w.now - w.base,
        index: i,
        name: &p.name,
        spaces: &mut p.spaces,
        rng: &mut p.rng,
        timers: &mut w.timers,
        commands: &mut w.commands,
    };
    f(&mut ctx)
}

fn scenario_rng(seed: u64) -> Rng {
    Rng::new(seed).fork()
}

fn session(config: &ParticipantConfig, seed: u64) -> (Spaces, Config) {
    let mut spaces_config = SpacesConfig::new("http://sim.invalid/chat").expect("static URL");
    let c = &mut spaces_config.client;
    c.rng_seed = Some(seed);
    c.reconnection_delay = config.reconnection_delay;
    c.reconnection_delay_max = config.reconnection_delay_max;
    c.randomization_factor = config.randomization_factor;
    c.connect_timeout = Some(config.connect_timeout);
    spaces_config.max_held = config.max_held;
    spaces_config.rate_limit = config.rate_limit;
    spaces_config.delivery = config.delivery;
    let client_config = spaces_config.client.clone();
    let spaces = Spaces::new(spaces_config).expect("a valid simulated configuration");
    (spaces, client_config)
}
