//! The simulator: the participants' `Spaces` cores and the emulator core wired through a
//! simulated network on a virtual clock, driven by one agenda.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use spaces_socket::client::{Config, Transmit};
use spaces_socket::spaces::{
    AuthError, Incoming, Input, SendError, SendId, Spaces, SpacesConfig, SpacesEvent, Step, Token,
};

use super::bot::{Bot, Command, Ctx};
use super::plan::{Fault, FaultMix, NetPlan, ParticipantConfig, default_server, random_server};
use super::report::{Outcome, ParticipantReport, Received, Report, SendRecord, ServerReport};
use super::trace::{Recorder, Trace};
use super::view::{Happening, Observer, SimView, TokenOutcome};
use crate::rng::Rng;
use crate::{
    CloseReason, ConnId, DemoAuth, Emulator, EmulatorConfig, EmulatorEvent, Rejection, ServerOutput,
};

/// Most messages one direction of one link may hold in flight before the run is stopped
/// ([`SimErrorKind::Model`]): bounded memory.
pub const MAX_IN_FLIGHT: usize = 10_000;
/// Most steps at one virtual instant before the run is declared live-locked (a timer that
/// never clears itself, or two machines answering each other forever).
pub const MAX_STEPS_PER_INSTANT: u64 = 50_000;
/// Most steps in one run.
pub const MAX_STEPS: u64 = 20_000_000;

// ----- errors -----------------------------------------------------------------------------

/// What kind of failure stopped a run.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimErrorKind {
    /// An [`Observer`] hook returned an error: a checked property does not hold.
    Violation,
    /// A machine did something the network cannot carry: writing with no websocket open,
    /// the emulator writing to a closed connection or refusing a well-formed connect, an
    /// in-flight queue past [`MAX_IN_FLIGHT`].
    Model,
    /// More than [`MAX_STEPS_PER_INSTANT`] steps at one virtual instant.
    LiveLock,
    /// More than [`MAX_STEPS`] steps in the run.
    TooManySteps,
}

/// A run stopped early. `Display` gives the seed, the virtual time, what happened and the last
/// trace lines; replay the seed to see the whole trace
/// ([`Builder::keep_trace`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    /// The run's seed.
    pub seed: u64,
    /// Virtual time of the failure.
    pub at: Duration,
    /// What kind.
    pub kind: SimErrorKind,
    /// What happened.
    pub what: String,
    /// The last trace lines before it.
    pub tail: Vec<String>,
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seed {}: {:?} at {:.3}s: {}\nlast trace lines:\n{}",
            self.seed,
            self.kind,
            self.at.as_secs_f64(),
            self.what,
            self.tail.join("\n")
        )
    }
}

impl std::error::Error for SimError {}

// ----- the network ------------------------------------------------------------------------

/// What crosses a simulated connection.
#[derive(Debug, Clone)]
enum Packet {
    /// The websocket upgrade request (path and query).
    Connect(String),
    /// The upgrade was accepted (`handle_open`).
    Accepted,
    /// The connect was refused (`handle_open_failed`).
    Refused,
    Text(String),
    Binary(Vec<u8>),
    /// An orderly close (TCP FIN).
    Fin,
}

#[derive(Debug)]
pub(crate) struct InFlight {
    at: Instant,
    seq: u64,
    packet: Packet,
}

/// One direction of one connection.
#[derive(Debug)]
pub(crate) struct Pipe {
    pub(crate) queue: VecDeque<InFlight>,
    /// Silently dropping everything (half-open, silent server).
    dead: bool,
    /// Delivery time of the last message queued: later ones never arrive before it.
    last_at: Instant,
}

impl Pipe {
    fn new(now: Instant) -> Self {
        Self {
            queue: VecDeque::new(),
            dead: false,
            last_at: now,
        }
    }

    fn kill(&mut self) {
        self.dead = true;
        self.queue.clear();
    }
}

/// A simulated websocket between one participant and the server.
#[derive(Debug)]
pub(crate) struct Link {
    pub(crate) id: u64,
    pub(crate) participant: usize,
    pub(crate) conn: Option<ConnId>,
    pub(crate) client_open: bool,
    pub(crate) server_open: bool,
    pub(crate) up: Pipe,
    pub(crate) down: Pipe,
    pub(crate) opened_at: Instant,
    pub(crate) client_last_recv: Instant,
    pub(crate) server_last_recv: Instant,
    pub(crate) up_dead_at: Option<Instant>,
    pub(crate) down_dead: bool,
    pub(crate) server_rooms: BTreeSet<String>,
    pub(crate) expired_token: bool,
    pub(crate) client_left: bool,
    pub(crate) server_left: bool,
}

impl Link {
    fn kill(&mut self, now: Instant, up: bool, down: bool) {
        if up {
            self.up.kill();
            self.up_dead_at.get_or_insert(now);
        }
        if down {
            self.down.kill();
            self.down_dead = true;
        }
    }
}

// ----- the agenda -------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Action {
    Start(usize),
    Connect(usize),
    Token(usize),
    Timer(usize, u64),
    Fault(Fault),
    EndRefuse,
    EndBlackhole,
    EndSlow(u32),
    EndSilent,
}

#[derive(Debug, Clone, Copy)]
enum Due {
    Agenda,
    Deliver { link: u64, up: bool },
    ClientTimer(usize),
    ServerTimer,
}

// ----- the world --------------------------------------------------------------------------

pub(crate) struct Participant {
    pub(crate) name: String,
    pub(crate) config: ParticipantConfig,
    pub(crate) session_config: Config,
    pub(crate) spaces: Spaces,
    rng: Rng,
    pub(crate) link: Option<u64>,
    pub(crate) last_link: Option<u64>,
    /// The bot closed the session: do not reopen it.
    user_closed: bool,
    expire_next_token: bool,
    pub(crate) report: ParticipantReport,
    send_index: BTreeMap<SendId, usize>,
}

/// Everything but the bots and the observer, so that both can be called while it is borrowed.
pub(crate) struct World {
    pub(crate) seed: u64,
    pub(crate) base: Instant,
    pub(crate) now: Instant,
    rng: Rng,
    seq: u64,
    agenda: BTreeMap<(Instant, u64), Action>,
    pub(crate) parts: Vec<Participant>,
    pub(crate) server: Emulator,
    server_config: EmulatorConfig,
    generation: u64,
    pub(crate) conns: BTreeMap<ConnId, u64>,
    pub(crate) links: BTreeMap<u64, Link>,
    next_link: u64,
    pub(crate) net: NetPlan,
    pub(crate) max_latency: Duration,
    pub(crate) chaos_until: Option<Duration>,
    faults: Vec<(Duration, Fault)>,
    refusing: u32,
    blackholing: u32,
    silent: u32,
    slow: Vec<u32>,
    rec: Recorder,
    record_events: bool,
    steps: u64,
    same_instant: u64,
    server_report: ServerReport,
    injected: Vec<(Duration, Fault)>,
    error: Option<SimError>,
    /// Filled by a [`Ctx`], emptied after each bot call.
    commands: Vec<Command>,
    timers: Vec<(Duration, u64)>,
}

impl World {
    pub(crate) fn calm(&self) -> bool {
        self.chaos_until
            .is_some_and(|until| self.now >= self.base + until)
    }

    fn elapsed(&self) -> Duration {
        self.now - self.base
    }

    fn trace(&mut self, what: fmt::Arguments<'_>) {
        let at = self.elapsed();
        self.rec.line(at, what);
    }

    fn show(&mut self, what: fmt::Arguments<'_>) {
        let at = self.elapsed();
        self.rec.show(at, what);
    }

    fn fail(&mut self, kind: SimErrorKind, what: String) {
        if self.error.is_none() {
            self.error = Some(SimError {
                seed: self.seed,
                at: self.elapsed(),
                kind,
                what,
                tail: self.rec.tail.iter().cloned().collect(),
            });
        }
    }

    fn schedule(&mut self, at: Instant, action: Action) {
        self.seq += 1;
        self.agenda.insert((at, self.seq), action);
    }

    fn latency(&mut self, up: bool) -> Duration {
        let base = if up {
            self.net.up_latency
        } else {
            self.net.down_latency
        };
        let jitter = self.rng.ms(0, self.net.jitter.as_millis() as u64);
        let factor = self.slow.iter().copied().max().unwrap_or(1).max(1);
        (base + jitter) * factor
    }

    fn send(&mut self, l: u64, up: bool, packet: Packet) {
        let lat = self.latency(up);
        let now = self.now;
        self.seq += 1;
        let seq = self.seq;
        let Some(link) = self.links.get_mut(&l) else {
            return;
        };
        let pipe = if up { &mut link.up } else { &mut link.down };
        if pipe.dead {
            return;
        }
        let at = pipe.last_at.max(now + lat);
        pipe.last_at = at;
        pipe.queue.push_back(InFlight { at, seq, packet });
        if pipe.queue.len() > MAX_IN_FLIGHT {
            self.fail(
                SimErrorKind::Model,
                format!("more than {MAX_IN_FLIGHT} in flight"),
            );
        }
    }

    /// The earliest thing to happen; ties go to the agenda, then deliveries, then the
    /// participants' timers, then the server's.
    fn next_due(&self) -> Option<(Instant, Due)> {
        let mut best: Option<(Instant, Due)> = None;
        let mut offer = |at: Instant, due: Due| {
            if best.is_none_or(|(b, _)| at < b) {
                best = Some((at, due));
            }
        };
        if let Some(((at, _), _)) = self.agenda.first_key_value() {
            offer(*at, Due::Agenda);
        }
        let mut delivery: Option<(Instant, u64, Due)> = None;
        for (&id, link) in &self.links {
            for (up, pipe) in [(true, &link.up), (false, &link.down)] {
                if let Some(f) = pipe.queue.front()
                    && delivery.is_none_or(|(at, seq, _)| (f.at, f.seq) < (at, seq))
                {
                    delivery = Some((f.at, f.seq, Due::Deliver { link: id, up }));
                }
            }
        }
        if let Some((at, _, due)) = delivery {
            offer(at, due);
        }
        for (i, p) in self.parts.iter().enumerate() {
            if let Some(t) = p.spaces.poll_timeout() {
                offer(t.max(self.now), Due::ClientTimer(i));
            }
        }
        if let Some(t) = self.server.poll_timeout() {
            offer(t.max(self.now), Due::ServerTimer);
        }
        best
    }

    /// Drops links nothing can happen on any more.
    fn collect_links(&mut self) {
        self.links.retain(|_, l| {
            l.client_open || l.server_open || !l.up.queue.is_empty() || !l.down.queue.is_empty()
        });
    }

    fn link_of_conn_mut(&mut self, conn: ConnId) -> Option<&mut Link> {
        let l = *self.conns.get(&conn)?;
        self.links.get_mut(&l)
    }

    /// The emulator's id for `participant`'s current connection, if the emulator has it open.
    fn server_conn_of(&self, participant: usize) -> Option<ConnId> {
        let l = self.parts.get(participant)?.link?;
        let link = self.links.get(&l)?;
        link.conn.filter(|_| link.server_open)
    }

    fn emulator_config(&self) -> EmulatorConfig {
        let mut config = self.server_config.clone();
        config.seed ^= self.generation.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        config
    }

    fn open_link(&mut self, i: usize, expired_token: bool) -> u64 {
        let now = self.now;
        let id = self.next_link;
        self.next_link += 1;
        self.links.insert(
            id,
            Link {
                id,
                participant: i,
                conn: None,
                client_open: true,
                server_open: false,
                up: Pipe::new(now),
                down: Pipe::new(now),
                opened_at: now,
                client_last_recv: now,
                server_last_recv: now,
                up_dead_at: None,
                down_dead: false,
                server_rooms: BTreeSet::new(),
                expired_token,
                client_left: false,
                server_left: false,
            },
        );
        let p = &mut self.parts[i];
        p.link = Some(id);
        p.last_link = Some(id);
        id
    }

    /// The participant closes its side: it reads nothing more; the server hears the FIN later.
    fn client_close(&mut self, l: u64) {
        if let Some(link) = self.links.get_mut(&l) {
            link.client_open = false;
            link.down.queue.clear();
        }
        self.send(l, true, Packet::Fin);
    }

    fn record_command(&mut self, i: usize, command: &Command) {
        let name = &self.parts[i].name;
        let at = self.now - self.base;
        match command {
            Command::Connect { .. } => self.rec.line(at, format_args!("{name} connect")),
            Command::Subscribe(space) => {
                self.rec.line(at, format_args!("{name} subscribe {space}"));
            }
            Command::Unsubscribe(space) => {
                self.rec
                    .line(at, format_args!("{name} unsubscribe {space}"));
            }
            Command::Send {
                space,
                text,
                result,
                ..
            } => self.rec.line(
                at,
                format_args!("{name} send {text:?} to {space}: {result:?}"),
            ),
            Command::Presence { space, result, .. } => self
                .rec
                .line(at, format_args!("{name} presence to {space}: {result:?}")),
            Command::Close { .. } => self.rec.line(at, format_args!("{name} close")),
        }
        let p = &mut self.parts[i];
        match command {
            Command::Connect { was_closed } => {
                p.report.connect_calls += u32::from(*was_closed);
                p.user_closed = false;
            }
            Command::Close { was_closed: false } => p.user_closed = true,
            Command::Send {
                space,
                text,
                result: Ok(id),
                ..
            } => {
                p.send_index.insert(*id, p.report.sends.len());
                p.report.sends.push(SendRecord {
                    id: *id,
                    space: space.clone(),
                    text: text.clone(),
                    at,
                    outcome: None,
                });
            }
            Command::Send { result: Err(e), .. } => {
                let kind = match e {
                    SendError::NotSubscribed(_) => "not subscribed",
                    SendError::QueueFull { .. } => "queue full",
                    SendError::RateLimited { .. } => "rate limited",
                    _ => "other",
                };
                *p.report.sends_refused.entry(kind).or_default() += 1;
            }
            Command::Presence { result: Ok(()), .. } => p.report.presence_sent += 1,
            _ => {}
        }
    }

    /// The simulation's own bookkeeping of a participant's token request (after the observer
    /// saw it): its provider answers after a drawn delay.
    fn book_token_request(&mut self, i: usize, attempt: u32) {
        let now = self.now;
        let calm = self.calm();
        let p = &mut self.parts[i];
        p.report.tokens_asked += 1;
        if attempt > 0 {
            p.report.reconnect_attempts += 1;
        }
        // A slow token provider is a fault: once calm, tokens come promptly.
        let max = if calm {
            p.config.token_delay_max.min(Duration::from_millis(300))
        } else {
            p.config.token_delay_max
        };
        let delay = self.rng.ms(0, max.as_millis() as u64);
        self.schedule(now + delay, Action::Token(i));
    }

    /// The simulation's own bookkeeping of a participant's event (after the observer saw it,
    /// before the bot does).
    fn book_event(&mut self, i: usize, e: &SpacesEvent) {
        let now = self.now;
        let at = now - self.base;
        let mut later = None;
        let p = &mut self.parts[i];
        if self.record_events {
            p.report.events.push((at, e.clone()));
        }
        match e {
            SpacesEvent::Connected => p.report.connects += 1,
            SpacesEvent::Disconnected { reason } => {
                *p.report.disconnects.entry(reason.as_str()).or_default() += 1;
            }
            SpacesEvent::ConnectFailed { .. } => p.report.connect_failures += 1,
            SpacesEvent::Confirmed { id, message } => {
                let server_id = message.id.clone().unwrap_or_default();
                if let Some(&k) = p.send_index.get(id) {
                    p.report.sends[k]
                        .outcome
                        .get_or_insert(Outcome::Confirmed(server_id));
                }
            }
            SpacesEvent::SendFailed { id, failure, .. } => {
                if let Some(&k) = p.send_index.get(id) {
                    p.report.sends[k]
                        .outcome
                        .get_or_insert(Outcome::Failed(failure.clone()));
                }
            }
            SpacesEvent::Message(m) => p.report.received.push(Received {
                at,
                id: m.id.clone().unwrap_or_default(),
                space: m.topic_id.clone().unwrap_or_default(),
                sender: m
                    .sender
                    .as_ref()
                    .and_then(|s| s.id.clone())
                    .unwrap_or_default(),
                text: m
                    .content
                    .as_ref()
                    .and_then(|c| c.body_text.clone())
                    .unwrap_or_default(),
            }),
            SpacesEvent::Closed => {
                p.report.closes += 1;
                if !p.user_closed && p.config.reopen_after_close {
                    // Reopen as an app would after an auth failure or a server disconnect.
                    let reopen = self.rng.ms(500, 3_000);
                    later = Some((now + reopen, Action::Connect(i)));
                }
                p.user_closed = false;
            }
            _ => {}
        }
        if let Some((at, action)) = later {
            self.schedule(at, action);
        }
    }
}

/// A compact, deterministic line for an event (pongs are most of a trace).
struct EventLine<'a>(&'a SpacesEvent);

impl fmt::Display for EventLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SpacesEvent::Pong { latency } => write!(f, "pong {latency:?}"),
            SpacesEvent::Message(m) => {
                let text = m.content.as_ref().and_then(|c| c.body_text.as_deref());
                let from = m.sender.as_ref().and_then(|s| s.id.as_deref());
                write!(
                    f,
                    "message {:?} from {:?}: {:?}",
                    m.id.as_deref().unwrap_or(""),
                    from.unwrap_or(""),
                    text.unwrap_or("")
                )
            }
            SpacesEvent::Confirmed { id, message } => {
                write!(f, "confirmed {id:?} {:?}", message.id)
            }
            SpacesEvent::Incoming(Incoming::PresenceEventResponse(p)) => {
                write!(f, "presence {:?}", p.category)
            }
            other => write!(f, "{other:?}"),
        }
    }
}

// ----- the builder ------------------------------------------------------------------------

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
    /// ([`random_server`](super::random_server)).
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
    /// ([`ParticipantReport::events`](super::ParticipantReport::events)); off by default.
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
fn with_ctx<R>(w: &mut World, i: usize, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
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

// ----- the simulation ---------------------------------------------------------------------

/// A running simulation: participants' `Spaces` cores and the emulator core on a simulated
/// network and a virtual clock. Made by [`Builder::build`]; advance it with
/// [`run_for`](Self::run_for), then read [`report`](Self::report) and [`trace`](Self::trace).
pub struct Sim {
    w: World,
    bots: Vec<Box<dyn Bot>>,
    observer: Box<dyn Observer>,
}

impl Sim {
    /// Runs `duration` more of virtual time (everything due up to and including its end).
    /// After an error the simulation is stopped: every later call returns the same error.
    pub fn run_for(&mut self, duration: Duration) -> Result<(), SimError> {
        let end = self.w.now + duration;
        self.run_until(end);
        self.result()
    }

    /// Calls the observer's [`on_checkpoint`](Observer::on_checkpoint) with `label` now (for
    /// checks at chosen moments, e.g. "everything settled after the faults").
    pub fn checkpoint(&mut self, label: &str) -> Result<(), SimError> {
        self.result()?;
        let result = self.observer.on_checkpoint(&SimView { w: &self.w }, label);
        if let Err(what) = result {
            self.w.fail(SimErrorKind::Violation, what);
        }
        self.result()
    }

    /// Calls participant `index`'s [`Bot::on_timer`] with `timer` now, as if a timer were due:
    /// a way for a test to make a bot act at a chosen moment.
    pub fn wake(&mut self, index: usize, timer: u64) -> Result<(), SimError> {
        self.result()?;
        self.call_bot(index, |bot, ctx| bot.on_timer(ctx, timer));
        self.drain_client(index);
        self.check_step();
        self.result()
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.w.elapsed()
    }

    /// A read-only look at the world now.
    pub fn view(&self) -> SimView<'_> {
        SimView { w: &self.w }
    }

    /// What the run did so far.
    pub fn report(&self) -> Report {
        Report {
            seed: self.w.seed,
            trace_hash: self.w.rec.hash.finish(),
            steps: self.w.steps,
            virtual_time: self.w.elapsed(),
            participants: self.w.parts.iter().map(|p| p.report.clone()).collect(),
            faults: self.w.injected.clone(),
            server: self.w.server_report.clone(),
        }
    }

    /// The trace so far (empty unless [`Builder::keep_trace`]).
    pub fn trace(&self) -> &Trace {
        &self.w.rec.trace
    }

    /// The hash of the trace so far (always kept).
    pub fn trace_hash(&self) -> u64 {
        self.w.rec.hash.finish()
    }

    /// Every fault of the run (scripted and drawn), by virtual time.
    pub fn faults(&self) -> &[(Duration, Fault)] {
        &self.w.faults
    }

    /// How long after the fault window everything needs to settle: a message still crossing
    /// a slowed link, a dead link being detected, the longest backoff, a black-holed connect
    /// timing out and the slowest token, twice over, plus 10 s.
    pub fn settle_time(&self) -> Duration {
        let c = self.w.server.config();
        let heartbeat = c.ping_interval + c.ping_timeout;
        let worst = self
            .w
            .parts
            .iter()
            .map(|p| p.config.worst_recovery())
            .max()
            .unwrap_or_default();
        // Events over a session's rate limit wait their turn through one-minute windows: what
        // is still queued must drain too.
        let pacing = self
            .w
            .parts
            .iter()
            .map(|p| {
                let queued = (p.spaces.unconfirmed() + p.spaces.paced()) as u32;
                // A full window may have to pass before the first of them leaves.
                let windows = match queued {
                    0 => 0,
                    n => n / p.config.rate_limit.max(1) + 1,
                };
                Duration::from_secs(60) * windows
            })
            .max()
            .unwrap_or_default();
        Duration::from_secs(10) + self.w.max_latency * 2 + heartbeat * 2 + worst * 2 + pacing
    }

    /// Participant `index`'s bot, if it is a `B`.
    pub fn bot<B: Bot>(&self, index: usize) -> Option<&B> {
        let bot: &dyn Any = self.bots.get(index)?.as_ref();
        bot.downcast_ref()
    }

    /// The observer, if it is an `O`.
    pub fn observer<O: Observer>(&self) -> Option<&O> {
        let observer: &dyn Any = self.observer.as_ref();
        observer.downcast_ref()
    }

    fn result(&self) -> Result<(), SimError> {
        match &self.w.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn observe(&mut self, what: Happening<'_>) {
        if self.w.error.is_some() {
            return;
        }
        if let Err(e) = self.observer.on_happening(&SimView { w: &self.w }, &what) {
            self.w.fail(SimErrorKind::Violation, e);
        }
    }

    fn check_step(&mut self) {
        if self.w.error.is_some() {
            return;
        }
        if let Err(e) = self.observer.on_step(&SimView { w: &self.w }) {
            self.w.fail(SimErrorKind::Violation, e);
        }
    }

    // ----- the loop -----------------------------------------------------------------------

    fn run_until(&mut self, end: Instant) {
        if self.w.error.is_some() {
            return;
        }
        while let Some((at, due)) = self.w.next_due() {
            if at > end {
                break;
            }
            if at > self.w.now {
                self.w.now = at;
                self.w.same_instant = 0;
            } else {
                self.w.same_instant += 1;
                if self.w.same_instant > MAX_STEPS_PER_INSTANT {
                    self.w.fail(
                        SimErrorKind::LiveLock,
                        format!("{due:?} keeps being due at one instant"),
                    );
                    return;
                }
            }
            self.w.steps += 1;
            if self.w.steps > MAX_STEPS {
                self.w
                    .fail(SimErrorKind::TooManySteps, format!("more than {MAX_STEPS}"));
                return;
            }
            self.dispatch(due);
            self.w.collect_links();
            self.check_step();
            if self.w.error.is_some() {
                return;
            }
        }
        self.w.now = self.w.now.max(end);
        self.check_step();
    }

    fn dispatch(&mut self, due: Due) {
        let now = self.w.now;
        match due {
            Due::Agenda => {
                if let Some((_, action)) = self.w.agenda.pop_first() {
                    self.act(action);
                }
            }
            Due::Deliver { link, up } => self.deliver(link, up),
            Due::ClientTimer(i) => {
                self.w.parts[i].spaces.handle_input(now, Input::Timeout);
                self.drain_client(i);
            }
            Due::ServerTimer => {
                self.w.server.handle_timeout(now);
                self.drain_server();
            }
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Start(i) => {
                self.call_bot(i, |bot, ctx| {
                    bot.on_start(ctx);
                    ctx.connect();
                });
                self.drain_client(i);
            }
            Action::Connect(i) => {
                // The simulation's own `connect` (reopening), recorded like a bot's.
                with_ctx(&mut self.w, i, |ctx| ctx.connect());
                self.after_bot(i);
                self.drain_client(i);
            }
            Action::Timer(i, timer) => {
                self.call_bot(i, |bot, ctx| bot.on_timer(ctx, timer));
                self.drain_client(i);
            }
            Action::Token(i) => self.token(i),
            Action::Fault(fault) => self.fault(fault),
            Action::EndRefuse => {
                self.w.trace(format_args!("fault end: refusing"));
                self.w.refusing -= 1;
            }
            Action::EndBlackhole => {
                self.w.trace(format_args!("fault end: black hole"));
                self.w.blackholing -= 1;
            }
            Action::EndSlow(factor) => {
                self.w.trace(format_args!("fault end: slow x{factor}"));
                if let Some(k) = self.w.slow.iter().position(|f| *f == factor) {
                    self.w.slow.remove(k);
                }
            }
            Action::EndSilent => {
                self.w.trace(format_args!("fault end: silent"));
                self.w.silent -= 1;
            }
        }
    }

    fn token(&mut self, i: usize) {
        let now = self.w.now;
        let one_in = self.w.parts[i].config.token_failure_one_in;
        let faulty = !self.w.calm() && one_in > 0;
        let outcome = if faulty && self.w.rng.chance(1, one_in) {
            let name = &self.w.parts[i].name;
            self.w
                .rec
                .line(now - self.w.base, format_args!("{name} token error"));
            self.w.parts[i].report.token_errors += 1;
            let error = AuthError::Provider("simulated outage".to_owned());
            self.w.parts[i]
                .spaces
                .handle_input(now, Input::TokenFailed(&error));
            TokenOutcome::Failed
        } else {
            let p = &mut self.w.parts[i];
            let expired = std::mem::take(&mut p.expire_next_token);
            let value = if expired {
                "expired".to_owned()
            } else {
                p.name.clone()
            };
            let token = Token::jwt(value.clone());
            p.spaces.handle_input(
                now,
                Input::Token {
                    token: &token,
                    refreshes: false,
                },
            );
            let name = &self.w.parts[i].name;
            self.w
                .rec
                .line(now - self.w.base, format_args!("{name} token {value}"));
            if expired {
                TokenOutcome::Expired
            } else {
                TokenOutcome::Valid
            }
        };
        self.observe(Happening::Token {
            participant: i,
            outcome,
        });
        self.drain_client(i);
    }

    // ----- bots and commands --------------------------------------------------------------

    /// Calls participant `i`'s bot with a [`Ctx`], then records its commands and timers.
    fn call_bot(&mut self, i: usize, f: impl FnOnce(&mut dyn Bot, &mut Ctx<'_>)) {
        let bot = self.bots[i].as_mut();
        with_ctx(&mut self.w, i, |ctx| f(bot, ctx));
        self.after_bot(i);
    }

    fn after_bot(&mut self, i: usize) {
        let now = self.w.now;
        for (after, timer) in std::mem::take(&mut self.w.timers) {
            self.w.schedule(now + after, Action::Timer(i, timer));
        }
        let commands = std::mem::take(&mut self.w.commands);
        for command in &commands {
            self.w.record_command(i, command);
            self.observe(Happening::Command {
                participant: i,
                command,
            });
        }
    }

    // ----- faults -------------------------------------------------------------------------

    fn fault(&mut self, fault: Fault) {
        self.w.trace(format_args!("FAULT {fault:?}"));
        let now = self.w.now;
        let at = self.w.elapsed();
        self.w.injected.push((at, fault.clone()));
        match fault.participant() {
            Some(i) => {
                if let Some(p) = self.w.parts.get_mut(i) {
                    p.report.faults.push((at, fault.clone()));
                }
            }
            None => {
                for p in &mut self.w.parts {
                    p.report.faults.push((at, fault.clone()));
                }
            }
        }
        self.observe(Happening::Fault(&fault));
        match fault {
            Fault::Reset { participant } => {
                if let Some(l) = self.w.parts.get(participant).and_then(|p| p.link) {
                    self.reset_link(l);
                }
            }
            Fault::HalfOpen {
                participant,
                up,
                down,
            } => {
                if let Some(link) = self
                    .w
                    .parts
                    .get(participant)
                    .and_then(|p| p.link)
                    .and_then(|l| self.w.links.get_mut(&l))
                {
                    link.kill(now, up, down);
                }
            }
            Fault::Kick { participant } => {
                if let Some(conn) = self.w.server_conn_of(participant) {
                    self.w.server.kick(now, conn);
                    self.drain_server();
                }
            }
            Fault::ServerDisconnect { participant } => {
                if let Some(conn) = self.w.server_conn_of(participant) {
                    if let Some(link) = self
                        .w
                        .conns
                        .get(&conn)
                        .and_then(|l| self.w.links.get_mut(l))
                    {
                        link.server_left = true;
                    }
                    self.w.server.disconnect_namespace(now, conn);
                    self.drain_server();
                }
            }
            Fault::ExpireToken { participant } => {
                if let Some(p) = self.w.parts.get_mut(participant) {
                    p.expire_next_token = true;
                }
            }
            Fault::ServerError { participant } => {
                if let Some(conn) = self.w.server_conn_of(participant)
                    && self
                        .w
                        .server
                        .send_error(now, conn, "simulated server error", None)
                {
                    self.drain_server();
                }
            }
            Fault::RestartServer { down_for } => {
                let open: Vec<u64> = self
                    .w
                    .links
                    .iter()
                    .filter(|(_, l)| l.server_open)
                    .map(|(id, _)| *id)
                    .collect();
                for l in open {
                    // The process is gone: nothing to tell it, but the participants see resets.
                    if let Some(link) = self.w.links.get_mut(&l) {
                        link.server_open = false;
                    }
                    self.reset_link(l);
                }
                self.w.generation += 1;
                self.w.server_report.restarts += 1;
                self.w.conns.clear();
                self.w.server = Emulator::new(self.w.emulator_config(), Box::new(DemoAuth));
                if !down_for.is_zero() {
                    self.w.refusing += 1;
                    self.w.schedule(now + down_for, Action::EndRefuse);
                }
            }
            Fault::RefuseConnects {
                duration,
                blackhole,
            } => {
                if blackhole {
                    self.w.blackholing += 1;
                    self.w.schedule(now + duration, Action::EndBlackhole);
                } else {
                    self.w.refusing += 1;
                    self.w.schedule(now + duration, Action::EndRefuse);
                }
            }
            Fault::Slow { duration, factor } => {
                self.w.slow.push(factor);
                self.w.schedule(now + duration, Action::EndSlow(factor));
            }
            Fault::Silent { duration } => {
                self.w.silent += 1;
                for link in self.w.links.values_mut() {
                    link.kill(now, true, true);
                }
                self.w.schedule(now + duration, Action::EndSilent);
            }
        }
    }

    /// Both ends are told at once; in-flight data is lost.
    fn reset_link(&mut self, l: u64) {
        let now = self.w.now;
        let Some(link) = self.w.links.get_mut(&l) else {
            return;
        };
        link.up.queue.clear();
        link.down.queue.clear();
        let (server_open, client_open, conn, i) = (
            link.server_open,
            link.client_open,
            link.conn,
            link.participant,
        );
        link.server_open = false;
        link.client_open = false;
        if server_open && let Some(conn) = conn {
            self.w.server.handle_closed(now, conn);
            self.drain_server();
        }
        if client_open {
            self.w.parts[i].link = None;
            self.w.parts[i].spaces.handle_input(
                now,
                Input::Closed {
                    error: Some("reset"),
                },
            );
            self.drain_client(i);
        }
    }

    // ----- the network --------------------------------------------------------------------

    fn deliver(&mut self, l: u64, up: bool) {
        let now = self.w.now;
        let Some(link) = self.w.links.get_mut(&l) else {
            return;
        };
        let pipe = if up { &mut link.up } else { &mut link.down };
        let Some(InFlight { packet, .. }) = pipe.queue.pop_front() else {
            return;
        };
        let i = link.participant;
        if up {
            let conn = link.conn.filter(|_| link.server_open);
            if conn.is_some() && !matches!(packet, Packet::Fin) {
                link.server_last_recv = now;
            }
            self.trace_packet(i, true, &packet);
            match (packet, conn) {
                (Packet::Connect(uri), _) => self.server_accept(l, &uri),
                (Packet::Text(text), Some(conn)) => {
                    self.w.server.handle_text(now, conn, &text);
                    self.drain_server();
                }
                (Packet::Binary(data), Some(conn)) => {
                    self.w.server.handle_binary(now, conn, &data);
                    self.drain_server();
                }
                (Packet::Fin, Some(conn)) => {
                    if let Some(link) = self.w.links.get_mut(&l) {
                        link.server_open = false;
                    }
                    self.w.server.handle_closed(now, conn);
                    self.drain_server();
                }
                // The emulator already forgot this connection.
                _ => {}
            }
            return;
        }
        if !link.client_open {
            return;
        }
        match packet {
            Packet::Fin => link.client_open = false,
            Packet::Text(_) | Packet::Binary(_) => link.client_last_recv = now,
            _ => {}
        }
        self.trace_packet(i, false, &packet);
        let spaces = &mut self.w.parts[i].spaces;
        match packet {
            Packet::Accepted => spaces.handle_input(now, Input::Opened),
            Packet::Refused => {
                let reason = "connection refused";
                spaces.handle_input(now, Input::OpenFailed { reason });
            }
            Packet::Text(text) => spaces.handle_input(now, Input::Text(&text)),
            Packet::Binary(data) => spaces.handle_input(now, Input::Binary(&data)),
            Packet::Fin => {
                self.w.parts[i].link = None;
                self.w.parts[i]
                    .spaces
                    .handle_input(now, Input::Closed { error: None });
            }
            Packet::Connect(_) => {}
        }
        self.drain_client(i);
    }

    /// A delivery: hashed as its time and direction (frames are hashed when sent), shown in
    /// full when the trace is kept.
    fn trace_packet(&mut self, i: usize, up: bool, packet: &Packet) {
        let t = (self.w.now - self.w.base).as_micros() as u64;
        self.w.rec.hash.write(&t.to_le_bytes());
        self.w.rec.hash.write(&[u8::from(up), i as u8]);
        if !self.w.rec.showing() {
            return;
        }
        let shown = match packet {
            Packet::Text(t) => format!("{:?}", Transmit::Text(t.clone())),
            Packet::Connect(_) => "Connect".to_owned(),
            other => format!("{other:?}"),
        };
        let name = self.w.parts[i].name.clone();
        if up {
            self.w.show(format_args!("{name} => server {shown}"));
        } else {
            self.w.show(format_args!("=> {name} {shown}"));
        }
    }

    fn server_accept(&mut self, l: u64, uri: &str) {
        let now = self.w.now;
        if self.w.silent > 0 || self.w.blackholing > 0 {
            self.w.trace(format_args!("connect dropped"));
            return;
        }
        if self.w.refusing > 0 {
            self.w.send(l, false, Packet::Refused);
            return;
        }
        match self.w.server.handle_connect(now, uri) {
            Ok(conn) => {
                if let Some(link) = self.w.links.get_mut(&l) {
                    link.conn = Some(conn);
                    link.server_open = true;
                    link.server_last_recv = now;
                }
                self.w.conns.insert(conn, l);
                self.w.send(l, false, Packet::Accepted);
                self.drain_server();
            }
            // HTTP 503: the participant hears a failed open.
            Err(Rejection::TooManyConnections) => {
                self.w.server_report.full += 1;
                self.w.send(l, false, Packet::Refused);
            }
            Err(rejection) => {
                self.w.fail(
                    SimErrorKind::Model,
                    format!("the emulator rejected {uri:?}: {rejection:?}"),
                );
            }
        }
    }

    // ----- the emulator -------------------------------------------------------------------

    fn drain_server(&mut self) {
        while let Some(out) = self.w.server.poll_output() {
            let conn = out.conn();
            let Some(&l) = self.w.conns.get(&conn) else {
                self.w.fail(
                    SimErrorKind::Model,
                    format!("emulator output for unknown {conn:?}"),
                );
                return;
            };
            let server_open = self.w.links.get(&l).is_some_and(|k| k.server_open);
            if !server_open {
                self.w.fail(
                    SimErrorKind::Model,
                    format!("emulator wrote to {conn:?} after it was closed: {out:?}"),
                );
                return;
            }
            match out {
                ServerOutput::Text { text, .. } => {
                    self.w.rec.hash.write(text.as_bytes());
                    self.w.send(l, false, Packet::Text(text));
                }
                ServerOutput::Binary { data, .. } => {
                    self.w.rec.hash.write(&data);
                    self.w.send(l, false, Packet::Binary(data));
                }
                ServerOutput::Close { .. } => {
                    if let Some(link) = self.w.links.get_mut(&l) {
                        link.server_open = false;
                    }
                    self.w.send(l, false, Packet::Fin);
                }
            }
        }
        while let Some(ev) = self.w.server.poll_event() {
            self.on_server_event(&ev);
        }
    }

    fn on_server_event(&mut self, ev: &EmulatorEvent) {
        if self.w.rec.showing() {
            self.w.show(format_args!("server {ev:?}"));
        }
        match ev {
            EmulatorEvent::MessageSent { .. } => self.w.server_report.messages += 1,
            EmulatorEvent::Subscribed { conn, space, .. } => {
                if let Some(link) = self.w.link_of_conn_mut(*conn) {
                    link.server_rooms.insert(space.clone());
                }
            }
            EmulatorEvent::Unsubscribed { conn, space, .. } => {
                if let Some(link) = self.w.link_of_conn_mut(*conn) {
                    link.server_rooms.remove(space);
                }
            }
            EmulatorEvent::Closed {
                reason: CloseReason::PingTimeout,
                ..
            } => self.w.server_report.ping_timeouts += 1,
            _ => {}
        }
        self.observe(Happening::Server(ev));
    }

    // ----- the participants ---------------------------------------------------------------

    /// Takes a participant's outputs in its session's poll order (`Spaces::poll_output`) until
    /// it waits. The transmits that taking events queues are carried out after that run of
    /// events, as the kit always did, so that a seed draws the same run.
    fn drain_client(&mut self, i: usize) {
        // Within a run of events (and token requests), transmits wait in `later`.
        let mut in_events = false;
        let mut later = VecDeque::new();
        while self.w.error.is_none() {
            match self.w.parts[i].spaces.poll_output() {
                Step::Transmit(t) if !in_events => self.on_transmit(i, t),
                Step::Transmit(t) => later.push_back(t),
                Step::Token { attempt } => {
                    in_events = true;
                    self.on_token_request(i, attempt);
                }
                Step::Event(e) => {
                    in_events = true;
                    self.on_client_event(i, &e);
                }
                _ if later.is_empty() => break,
                _ => {
                    in_events = false;
                    while let Some(t) = later.pop_front() {
                        self.on_transmit(i, t);
                    }
                }
            }
        }
    }

    fn on_token_request(&mut self, i: usize, attempt: u32) {
        let name = &self.w.parts[i].name;
        let at = self.w.now - self.w.base;
        self.w.rec.line(
            at,
            format_args!("{name} TokenNeeded {{ attempt: {attempt} }}"),
        );
        self.observe(Happening::TokenRequest {
            participant: i,
            attempt,
        });
        self.w.book_token_request(i, attempt);
    }

    fn on_transmit(&mut self, i: usize, t: Transmit) {
        self.observe(Happening::Transmit {
            participant: i,
            transmit: &t,
        });
        match t {
            Transmit::Open(url) => {
                let name = self.w.parts[i].name.clone();
                self.w.trace(format_args!("{name} open"));
                self.w.parts[i].report.opens += 1;
                let url = url.expose();
                let expired_token =
                    url.contains("token=expired&") || url.ends_with("token=expired");
                let uri = url
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|k| rest[k..].to_owned()))
                    .unwrap_or_default();
                if let Some(old) = self.w.parts[i].link.take() {
                    self.w.parts[i].report.open_without_close += 1;
                    self.w.client_close(old);
                }
                let id = self.w.open_link(i, expired_token);
                self.w.send(id, true, Packet::Connect(uri));
            }
            Transmit::Text(text) => {
                self.w.rec.hash.write(text.as_bytes());
                if self.w.rec.showing() {
                    let name = self.w.parts[i].name.clone();
                    self.w
                        .show(format_args!("{name} > {:?}", Transmit::Text(text.clone())));
                }
                let Some(l) = self.w.parts[i].link else {
                    let name = &self.w.parts[i].name;
                    let what = format!("{name} wrote with no websocket open");
                    self.w.fail(SimErrorKind::Model, what);
                    return;
                };
                if text.starts_with("41/chat")
                    && let Some(link) = self.w.links.get_mut(&l)
                {
                    link.client_left = true;
                }
                self.w.send(l, true, Packet::Text(text));
            }
            Transmit::Binary(data) => {
                self.w.rec.hash.write(&data);
                let Some(l) = self.w.parts[i].link else {
                    let name = &self.w.parts[i].name;
                    let what = format!("{name} wrote with no websocket open");
                    self.w.fail(SimErrorKind::Model, what);
                    return;
                };
                self.w.send(l, true, Packet::Binary(data));
            }
            Transmit::Close => {
                let name = self.w.parts[i].name.clone();
                self.w.trace(format_args!("{name} close websocket"));
                if let Some(l) = self.w.parts[i].link.take() {
                    self.w.client_close(l);
                }
            }
        }
    }

    fn on_client_event(&mut self, i: usize, e: &SpacesEvent) {
        let name = &self.w.parts[i].name;
        let at = self.w.now - self.w.base;
        self.w.rec.line(at, format_args!("{name} {}", EventLine(e)));
        self.observe(Happening::Event {
            participant: i,
            event: e,
        });
        self.w.book_event(i, e);
        self.call_bot(i, |bot, ctx| bot.on_event(ctx, e));
    }
}
