//! Deterministic simulation: Spaces client cores and the emulator core, wired through a
//! simulated network with a virtual clock and a seeded fault model, with invariants checked on
//! every step (the quinn `Pair` / str0m `netem` / TigerBeetle VOPR idea, for our two sans-IO
//! machines).
//!
//! * **Clock.** One `Instant` taken once as the origin; the loop jumps to the earliest of
//!   {each client's `poll_timeout`, the emulator's `poll_timeout`, the next in-flight delivery,
//!   the next scripted action or fault}. Nothing else reads the real clock.
//! * **Randomness.** [`Scenario::random`] draws everything (clients, workload, network, faults)
//!   from the seed; the run's own choices (jitter, token delays) come from a stream forked from
//!   the same seed. One seed, one run: [`Report::trace_hash`] hashes every event, frame and
//!   fault with its virtual time.
//! * **Network.** Each websocket is a TCP stream: per direction, messages arrive in order
//!   (jitter never reorders) or, once the link fails, not at all. See [`Fault`] for resets,
//!   half-open links, server restarts, refused or black-holed connects, slow periods and a
//!   silent server.
//! * **Invariants** are listed on [`Sim`]; a violation panics with the seed and the replay
//!   command.

#![allow(dead_code, unreachable_pub)]

pub mod rng;
pub mod scenario;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};

use spaces_socket::client::{ConnectFailure, DisconnectReason, Transmit};
use spaces_socket::spaces::{
    AuthError, Incoming, SendError, SendFailure, SendId, SendMessage, SendPresenceEvent, Spaces,
    SpacesConfig, SpacesEvent, Token,
};
use spaces_socket_emulator::{
    CloseReason, ConnId, DemoAuth, Emulator, EmulatorConfig, EmulatorEvent, Rejection, ServerOutput,
};

pub use rng::{SimRng, TraceHash};
#[allow(unused_imports)]
pub use scenario::{ClientAction, ClientPlan, Fault, NetPlan, SPACE_POOL, Scenario, ServerPlan};

/// Most messages one direction of one link may hold in flight (bounded memory).
pub const MAX_IN_FLIGHT: usize = 10_000;
/// Most steps processed at one virtual instant before the run is declared live-locked (a timer
/// that never clears itself, or two machines answering each other forever).
pub const MAX_STEPS_PER_INSTANT: u64 = 50_000;
/// Most steps in one run.
pub const MAX_STEPS: u64 = 20_000_000;
/// Trace lines kept for a failure message.
const TRACE_TAIL: usize = 60;

/// The replay command printed with every failure.
pub fn replay_hint(seed: u64) -> String {
    format!("SIM_SEED={seed} cargo test --test simulation -- --nocapture")
}

/// Runs the random scenario of `seed` and checks every invariant.
pub fn run_seed(seed: u64, verbose: bool) -> Report {
    let mut sim = Sim::new(Scenario::random(seed));
    sim.verbose = verbose;
    sim.run()
}

// ----- the network ------------------------------------------------------------------------

/// What crosses a simulated connection.
#[derive(Debug, Clone)]
enum Packet {
    /// The websocket upgrade request (path and query).
    Connect(String),
    /// The upgrade was accepted (the client's `handle_open`).
    Accepted,
    /// The connect was refused (the client's `handle_open_failed`).
    Refused,
    Text(String),
    Binary(Vec<u8>),
    /// An orderly close (TCP FIN).
    Fin,
}

#[derive(Debug)]
struct InFlight {
    at: Instant,
    seq: u64,
    packet: Packet,
}

/// One direction of one connection.
#[derive(Debug)]
struct Pipe {
    queue: VecDeque<InFlight>,
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

/// A simulated websocket between one client and the server.
#[derive(Debug)]
struct Link {
    client: usize,
    /// The emulator's id, once the connect was accepted.
    conn: Option<ConnId>,
    /// The client still reads this link (it is the client's current one).
    client_open: bool,
    /// The emulator knows this connection.
    server_open: bool,
    up: Pipe,
    down: Pipe,
    /// Last frame the emulator received on it (its silence timer counts from here).
    server_last_recv: Instant,
    /// Spaces the emulator has this connection subscribed to (from its events).
    server_rooms: BTreeSet<String>,
    /// The handshake carried an expired token (the emulator must refuse it).
    expired_token: bool,
    /// The client sent its namespace DISCONNECT (`41/chat`) on it.
    client_left: bool,
    /// The server was told to disconnect the namespace on it.
    server_left: bool,
}

// ----- the agenda -------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Action {
    Connect(usize),
    User(usize, ClientAction),
    Token(usize),
    Fault(Fault),
    EndRefuse,
    EndBlackhole,
    EndSlow(u32),
    EndSilent,
    FinalRound,
    /// A final-round send, retried while the session has no room for it.
    FinalSend(usize, String, String),
}

#[derive(Debug, Clone, Copy)]
enum Due {
    Agenda,
    Deliver { link: u64, up: bool },
    ClientTimer(usize),
    ServerTimer,
}

// ----- per-client bookkeeping -------------------------------------------------------------

/// How one accepted send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Confirmed with this server `_id`.
    Confirmed(String),
    /// Failed.
    Failed(SendFailure),
}

/// One `send_message` that returned `Ok`.
#[derive(Debug, Clone)]
pub struct SendRecord {
    /// The space.
    pub space: String,
    /// The unique text.
    pub text: String,
    /// When it was accepted.
    pub at: Instant,
    /// How it ended, if it has.
    pub outcome: Option<Outcome>,
}

struct SimClient {
    plan: ClientPlan,
    spaces: Spaces,
    /// The client configuration the session was built from (for the backoff bounds).
    config: spaces_socket::client::Config,
    /// Events waited for the rate window at the last check.
    was_paced: bool,
    link: Option<u64>,
    /// The spaces the user wants (mirror of the session's).
    wanted: BTreeSet<String>,
    /// Last `unsubscribe` of each space.
    unsubscribed_at: BTreeMap<String, Instant>,
    /// A token was handed over since the last `TokenNeeded`.
    token_fresh: bool,
    /// The attempt the next `TokenNeeded` must carry.
    next_token_attempt: u32,
    /// Between `Connected` and `Disconnected`.
    connected: bool,
    /// The user closed the session: a `Closed` (and the failure of every unresolved send) is
    /// legitimate now (server disconnects and expired tokens are told by the link).
    closing: bool,
    /// The most recent link (events of a drain come from it even after it is closed).
    last_link: Option<u64>,
    /// The user closed the session (and reopens it on schedule).
    user_closed: bool,
    /// The next token handed over is `expired`.
    expire_next_token: bool,
    /// The last answer to `TokenNeeded` was an error.
    token_failed: bool,
    /// A `TokenNeeded` not answered yet, since then: the connect timeout covers the wait.
    token_wait_since: Option<Instant>,
    /// Wanted spaces not yet `Subscribed` on this connection, with when they became due.
    awaiting_sub: BTreeMap<String, Instant>,
    /// Current link: when `Transmit::Open` was carried out.
    opened_at: Instant,
    /// Current link: last packet delivered to the client.
    last_recv: Instant,
    /// Current link: nothing can reach the client any more.
    down_dead: bool,
    /// Current link: nothing reaches the server since then.
    up_dead_at: Option<Instant>,
    sends: BTreeMap<SendId, SendRecord>,
    /// Server `_id`s received as `Message`.
    seen_ids: BTreeSet<String>,
    /// Copies received per message text.
    copies: BTreeMap<String, u32>,
    report: ClientReport,
    recorded: Vec<SpacesEvent>,
}

/// What one client went through.
#[derive(Debug, Clone, Default)]
pub struct ClientReport {
    /// The user id.
    pub user: String,
    /// `TokenNeeded` events (one per connection attempt).
    pub tokens_asked: u32,
    /// Websockets opened.
    pub opens: u32,
    /// `Connected` events.
    pub connects: u32,
    /// `Disconnected` events by reason.
    pub disconnects: BTreeMap<&'static str, u32>,
    /// Failed connection attempts.
    pub connect_failures: u32,
    /// `ReconnectAttempt` events.
    pub reconnect_attempts: u32,
    /// `connect` calls that started a connection (the first, and after each close).
    pub connect_calls: u32,
    /// Times the session closed (user close, auth failure, server disconnect).
    pub closes: u32,
    /// Token requests answered with an error.
    pub token_errors: u32,
    /// Presence sends accepted.
    pub presence_sent: u32,
    /// `send_message` calls that returned `Ok`.
    pub sends_ok: u32,
    /// ... and those refused, by error.
    pub sends_refused: BTreeMap<&'static str, u32>,
    /// `Confirmed` events.
    pub confirmed: u32,
    /// `SendFailed` events.
    pub failed: u32,
    /// Other users' messages received.
    pub received: u32,
    /// Received copies of a text already received (at-least-once resends).
    pub duplicate_texts: u32,
    /// `Transmit::Open` while the previous websocket was still open.
    pub open_without_close: u32,
}

/// The outcome of a run that kept every invariant.
#[derive(Debug, Clone)]
pub struct Report {
    /// The scenario's seed.
    pub seed: u64,
    /// Hash of the whole trace: equal for two runs of one seed.
    pub trace_hash: u64,
    /// Steps taken.
    pub steps: u64,
    /// Virtual time simulated.
    pub virtual_time: Duration,
    /// Per client.
    pub clients: Vec<ClientReport>,
    /// Faults injected.
    pub faults: usize,
    /// Server restarts.
    pub server_restarts: u32,
    /// Connections the emulator closed for silence.
    pub server_ping_timeouts: u32,
    /// Messages the emulator accepted (resends included).
    pub server_messages: u32,
    /// Connects refused because the emulator was full (HTTP 503).
    pub server_full: u32,
    /// Every event of each client, when [`Sim::record_events`] was set.
    pub events: Vec<Vec<SpacesEvent>>,
    /// Every send of each client.
    pub sends: Vec<BTreeMap<SendId, SendRecord>>,
}

/// A server message, from the emulator's events.
#[derive(Debug, Clone)]
struct ServerMsg {
    /// The link it was accepted on.
    link: Option<u64>,
    sender: String,
    text: String,
    space: String,
}

/// The simulator. Invariants checked (each failure names its number):
///
/// 1. Every `send_message` that returned `Ok` ends in exactly one `Confirmed` or `SendFailed`
///    for its id: never both, never twice, and never neither once the quiet period is over. A
///    `SendFailed` is only legitimate as `Unsubscribed` after the user unsubscribed that space;
///    a `Confirmed` carries the text sent and a server `_id` the emulator gave that user's
///    message. `send_message` refuses exactly when it should (`NotSubscribed` iff the space is
///    not wanted, `QueueFull` iff `max_held` messages are unconfirmed).
/// 2. After every `Connected`, every wanted space gets `Subscribed` before the next
///    disconnect, within a round trip of the worst latency unless the link failed first; after
///    the quiet period the client and the emulator agree on every subscription.
/// 3. A dead link is detected: an open engine never outlives its last received packet by more
///    than pingInterval + pingTimeout; a link dead only towards the server is dropped within
///    pingInterval + pingTimeout + one worst latency of its death; a link dead towards the
///    client ends in `PingTimeout`; a `PingTimeout` only comes after pingTimeout of silence;
///    a connect is given up within the connect timeout. The emulator, too, forgets a silent
///    connection within pingInterval + pingTimeout.
/// 4. Every `ReconnectScheduled { attempt, delay }` lies in `reconnect_delay_bounds(attempt)`;
///    every connection attempt asks for exactly one fresh token, and opens only with one.
/// 5. Messages: the emulator accepts a message only from a connection in that space's room
///    and attributes it to the right user; no server `_id` reaches a client twice (so at most
///    once per connection), every copy is of a message the emulator accepted, and the copies of one text at a client
///    never outnumber the times the emulator accepted it (resends after a lost echo are the
///    only duplicates). A client's own message comes back as a `Message` only from an older
///    connection of its own that the server still had open (a late original racing its
///    resend), never from the connection it is on. Order is not asserted: a resend after a
///    lost echo can overtake later messages at other subscribers. In the final
///    round, with the network calm, each message reaches every other subscriber exactly once.
/// 6. No panic, no protocol violation, no unexpected event (auth failure, subscribe failure,
///    closed session); bounded memory: `unconfirmed() <= max_held`, in-flight queues below
///    [`MAX_IN_FLIGHT`], the emulator's connection count equal to the links it has not
///    closed (and to the number of clients at the end), no live-lock at one instant.
pub struct Sim {
    sc: Scenario,
    base: Instant,
    now: Instant,
    rng: SimRng,
    seq: u64,
    agenda: BTreeMap<(Instant, u64), Action>,
    clients: Vec<SimClient>,
    server: Emulator,
    generation: u64,
    /// The current emulator's connections → link.
    conns: BTreeMap<ConnId, u64>,
    links: BTreeMap<u64, Link>,
    next_link: u64,
    refusing: u32,
    blackholing: u32,
    silent: u32,
    slow: Vec<u32>,
    server_msgs: BTreeMap<String, ServerMsg>,
    /// Times the emulator accepted each text.
    accepted: BTreeMap<String, u32>,
    /// Final-round messages: (sender, space, text).
    finals: Vec<(usize, String, String)>,
    /// Final-round sends not accepted yet.
    final_pending: u32,
    /// When the last final-round send was accepted.
    last_final_at: Instant,
    ping_total: Duration,
    max_latency: Duration,
    hash: TraceHash,
    line: String,
    tail: VecDeque<String>,
    steps: u64,
    same_instant: u64,
    server_restarts: u32,
    server_ping_timeouts: u32,
    server_full: u32,
    /// Print the trace as it happens.
    pub verbose: bool,
    /// Keep every client event for the report.
    pub record_events: bool,
}

impl Sim {
    /// A simulation of `scenario`, not started.
    pub fn new(scenario: Scenario) -> Self {
        let base = Instant::now();
        let mut root = SimRng::new(scenario.seed);
        // Skip the stream the scenario was drawn from.
        let _ = root.fork();
        let rng = root.fork();
        let server = Emulator::new(emulator_config(&scenario.server, 0), Box::new(DemoAuth));
        let clients = scenario
            .clients
            .iter()
            .map(|plan| SimClient::new(plan, base))
            .collect();
        Self {
            ping_total: scenario.server.ping_interval + scenario.server.ping_timeout,
            max_latency: scenario.max_latency(),
            sc: scenario,
            base,
            now: base,
            rng,
            seq: 0,
            agenda: BTreeMap::new(),
            clients,
            server,
            generation: 0,
            conns: BTreeMap::new(),
            links: BTreeMap::new(),
            next_link: 0,
            refusing: 0,
            blackholing: 0,
            silent: 0,
            slow: Vec::new(),
            server_msgs: BTreeMap::new(),
            accepted: BTreeMap::new(),
            finals: Vec::new(),
            final_pending: 0,
            last_final_at: base,
            hash: TraceHash::default(),
            line: String::new(),
            tail: VecDeque::new(),
            steps: 0,
            same_instant: 0,
            server_restarts: 0,
            server_ping_timeouts: 0,
            server_full: 0,
            verbose: false,
            record_events: false,
        }
    }

    /// Runs the scenario to the end, checking every invariant; panics on a violation.
    pub fn run(mut self) -> Report {
        self.setup();
        let quiet_end = self.base + self.sc.active + self.sc.quiet;
        self.run_until(quiet_end);
        self.check_settled("after the quiet period");
        if self.sc.final_round {
            self.schedule(self.now, Action::FinalRound);
            let settle = self.sc.calm_latency() * 4 + Duration::from_secs(2);
            let give_up = self.now + Duration::from_secs(120);
            // Until every final send is accepted (some wait for the rate limit or for room),
            // and for `settle` after the last one.
            loop {
                let end = self.now + settle;
                self.run_until(end);
                let settled = self.last_final_at + settle <= self.now;
                if (self.final_pending == 0 && settled) || self.now > give_up {
                    break;
                }
            }
            if self.final_pending > 0 {
                self.fail(1, format_args!("final sends still refused"));
            }
            self.check_settled("after the final round");
            self.check_final_round();
        }
        let steps = self.steps;
        self.trace(format_args!("end: {steps} steps"));
        self.report()
    }

    fn setup(&mut self) {
        let now = self.now;
        for i in 0..self.clients.len() {
            let plan = self.clients[i].plan.clone();
            for space in &plan.spaces {
                self.clients[i].spaces.subscribe(now, space, None);
                self.clients[i].wanted.insert(space.clone());
            }
            self.drain_client(i);
            self.schedule(self.base + plan.start, Action::Connect(i));
            for (at, action) in plan.actions {
                self.schedule(self.base + at, Action::User(i, action));
            }
        }
        for (at, fault) in self.sc.faults.clone() {
            self.schedule(self.base + at, Action::Fault(fault));
        }
    }

    fn schedule(&mut self, at: Instant, action: Action) {
        self.seq += 1;
        self.agenda.insert((at, self.seq), action);
    }

    // ----- the loop -----------------------------------------------------------------------

    fn run_until(&mut self, end: Instant) {
        while let Some((at, due)) = self.next_due() {
            if at > end {
                break;
            }
            if at > self.now {
                self.now = at;
                self.same_instant = 0;
            } else {
                self.same_instant += 1;
                if self.same_instant > MAX_STEPS_PER_INSTANT {
                    self.fail(
                        6,
                        format_args!("live-lock: {due:?} keeps being due at one instant"),
                    );
                }
            }
            self.steps += 1;
            if self.steps > MAX_STEPS {
                self.fail(6, format_args!("more than {MAX_STEPS} steps"));
            }
            self.dispatch(due);
            self.collect_links();
            self.check_step();
        }
        self.now = self.now.max(end);
        self.check_step();
    }

    /// The earliest thing to happen; ties go to scripted actions, then deliveries, then
    /// client timers, then the server's.
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
        for (i, c) in self.clients.iter().enumerate() {
            if let Some(t) = c.spaces.poll_timeout() {
                offer(t.max(self.now), Due::ClientTimer(i));
            }
        }
        if let Some(t) = self.server.poll_timeout() {
            offer(t.max(self.now), Due::ServerTimer);
        }
        best
    }

    fn dispatch(&mut self, due: Due) {
        match due {
            Due::Agenda => {
                if let Some((_, action)) = self.agenda.pop_first() {
                    self.act(action);
                }
            }
            Due::Deliver { link, up } => self.deliver(link, up),
            Due::ClientTimer(i) => {
                let now = self.now;
                self.clients[i].spaces.handle_timeout(now);
                self.drain_client(i);
            }
            Due::ServerTimer => {
                let now = self.now;
                self.server.handle_timeout(now);
                self.drain_server();
            }
        }
    }

    fn act(&mut self, action: Action) {
        let now = self.now;
        match action {
            Action::Connect(i) => {
                self.trace(format_args!("c{i} connect"));
                let c = &mut self.clients[i];
                if c.spaces.is_closed() {
                    c.report.connect_calls += 1;
                    c.next_token_attempt = 0;
                }
                c.user_closed = false;
                c.spaces.connect(now);
                self.drain_client(i);
            }
            Action::Token(i) => {
                let active = now < self.base + self.sc.active;
                let one_in = self.clients[i].plan.token_failure_one_in;
                if active && one_in > 0 && self.rng.chance(1, one_in) {
                    self.trace(format_args!("c{i} token error"));
                    let c = &mut self.clients[i];
                    // A late answer (the attempt already timed out) fails nothing.
                    c.token_failed = c.token_wait_since.is_some();
                    c.token_wait_since = None;
                    c.report.token_errors += 1;
                    let error = AuthError::Provider("simulated outage".to_owned());
                    c.spaces.handle_token_error(now, &error);
                } else {
                    let c = &mut self.clients[i];
                    c.token_wait_since = None;
                    let value = if std::mem::take(&mut c.expire_next_token) {
                        "expired".to_owned()
                    } else {
                        c.plan.user.clone()
                    };
                    self.trace(format_args!("c{i} token {value}"));
                    let c = &mut self.clients[i];
                    c.token_fresh = true;
                    c.spaces.handle_token(now, &Token::jwt(value));
                }
                self.drain_client(i);
            }
            Action::User(i, action) => self.user_action(i, action),
            Action::Fault(fault) => self.fault(fault),
            Action::EndRefuse => {
                self.trace(format_args!("fault end: refusing"));
                self.refusing -= 1;
            }
            Action::EndBlackhole => {
                self.trace(format_args!("fault end: black hole"));
                self.blackholing -= 1;
            }
            Action::EndSlow(factor) => {
                self.trace(format_args!("fault end: slow x{factor}"));
                if let Some(k) = self.slow.iter().position(|f| *f == factor) {
                    self.slow.remove(k);
                }
            }
            Action::EndSilent => {
                self.trace(format_args!("fault end: silent"));
                self.silent -= 1;
            }
            Action::FinalRound => {
                for i in 0..self.clients.len() {
                    let spaces: Vec<String> = self.clients[i].wanted.iter().cloned().collect();
                    for space in spaces {
                        let text = format!("final-{}-{space}", self.clients[i].plan.user);
                        self.final_pending += 1;
                        self.act(Action::FinalSend(i, space, text));
                    }
                }
            }
            Action::FinalSend(i, space, text) => {
                let result = self.clients[i]
                    .spaces
                    .send_message(now, SendMessage::chat(space.clone(), text.clone()));
                self.trace(format_args!("c{i} final send {text:?}: {result:?}"));
                match result {
                    Ok(id) => {
                        self.final_pending -= 1;
                        self.last_final_at = now;
                        self.finals.push((i, space.clone(), text.clone()));
                        let record = SendRecord {
                            space,
                            text,
                            at: now,
                            outcome: None,
                        };
                        self.clients[i].report.sends_ok += 1;
                        self.clients[i].sends.insert(id, record);
                    }
                    // A small max_held or rate limit: try again when there is room.
                    Err(SendError::QueueFull { .. }) => {
                        let later = now + self.sc.calm_latency() * 2 + Duration::from_millis(10);
                        self.schedule(later, Action::FinalSend(i, space, text));
                    }
                    Err(SendError::RateLimited { retry_after }) => {
                        let later = now + retry_after + Duration::from_millis(1);
                        self.schedule(later, Action::FinalSend(i, space, text));
                    }
                    Err(e) => self.fail(1, format_args!("c{i}: final send refused: {e:?}")),
                }
                self.drain_client(i);
            }
        }
    }

    fn user_action(&mut self, i: usize, action: ClientAction) {
        let now = self.now;
        match action {
            ClientAction::Send { space, text } => {
                let before = self.clients[i].spaces.unconfirmed();
                let max_held = self.clients[i].plan.max_held;
                let wanted = self.clients[i].wanted.contains(&space);
                let result = self.clients[i]
                    .spaces
                    .send_message(now, SendMessage::chat(space.clone(), text.clone()));
                self.trace(format_args!("c{i} send {text:?} to {space}: {result:?}"));
                match result {
                    Ok(id) => {
                        if !wanted {
                            self.fail(1, format_args!("c{i}: accepted a send to unwanted {space}"));
                        }
                        if before >= max_held {
                            self.fail(6, format_args!("c{i}: accepted a send beyond max_held"));
                        }
                        let c = &mut self.clients[i];
                        c.report.sends_ok += 1;
                        let record = SendRecord {
                            space,
                            text,
                            at: now,
                            outcome: None,
                        };
                        if c.sends.insert(id, record).is_some() {
                            self.fail(1, format_args!("c{i}: send id {id:?} reused"));
                        }
                    }
                    Err(e) => {
                        let kind = match &e {
                            SendError::NotSubscribed(_) => "not subscribed",
                            SendError::QueueFull { .. } => "queue full",
                            SendError::RateLimited { .. } => "rate limited",
                            _ => "other",
                        };
                        let plausible = match &e {
                            SendError::NotSubscribed(_) => !wanted,
                            SendError::QueueFull { .. } => wanted && before >= max_held,
                            SendError::RateLimited { retry_after } => {
                                wanted && *retry_after <= Duration::from_secs(60)
                            }
                            _ => false,
                        };
                        if !plausible {
                            self.fail(
                                1,
                                format_args!(
                                    "c{i}: send to {space} refused with {e:?} \
                                     (wanted: {wanted}, unconfirmed: {before})"
                                ),
                            );
                        }
                        *self.clients[i]
                            .report
                            .sends_refused
                            .entry(kind)
                            .or_default() += 1;
                    }
                }
            }
            ClientAction::Subscribe(space) => {
                self.trace(format_args!("c{i} subscribe {space}"));
                let c = &mut self.clients[i];
                if c.wanted.insert(space.clone()) && c.connected {
                    c.awaiting_sub.insert(space.clone(), now);
                }
                c.spaces.subscribe(now, &space, None);
            }
            ClientAction::Presence(space) => {
                let c = &mut self.clients[i];
                let allowed = c.spaces.is_connected() && c.spaces.is_subscribed(&space);
                let presence = SendPresenceEvent::typing(space.clone());
                let result = c.spaces.send_presence(now, &presence);
                self.trace(format_args!("c{i} presence to {space}: {result:?}"));
                match result {
                    Ok(()) if allowed => self.clients[i].report.presence_sent += 1,
                    Err(SendError::NotConnected(_)) if !allowed => {}
                    other => self.fail(
                        6,
                        format_args!("c{i}: presence {other:?} (connected+subscribed: {allowed})"),
                    ),
                }
            }
            ClientAction::Restart { offline } => {
                self.trace(format_args!("c{i} close (back in {offline:?})"));
                let c = &mut self.clients[i];
                if !c.spaces.is_closed() {
                    c.closing = true;
                    c.user_closed = true;
                }
                c.spaces.close(now);
                self.schedule(now + offline, Action::Connect(i));
            }
            ClientAction::Unsubscribe(space) => {
                self.trace(format_args!("c{i} unsubscribe {space}"));
                let c = &mut self.clients[i];
                if c.wanted.remove(&space) {
                    c.unsubscribed_at.insert(space.clone(), now);
                }
                c.awaiting_sub.remove(&space);
                c.spaces.unsubscribe(now, &space);
            }
        }
        self.drain_client(i);
    }

    // ----- faults -------------------------------------------------------------------------

    fn fault(&mut self, fault: Fault) {
        self.trace(format_args!("FAULT {fault:?}"));
        let now = self.now;
        match fault {
            Fault::Reset { client } => {
                if let Some(l) = self.clients.get(client).and_then(|c| c.link) {
                    self.reset_link(l);
                }
            }
            Fault::HalfOpen { client, up, down } => {
                let Some(l) = self.clients.get(client).and_then(|c| c.link) else {
                    return;
                };
                if let Some(link) = self.links.get_mut(&l) {
                    if up {
                        link.up.kill();
                    }
                    if down {
                        link.down.kill();
                    }
                }
                let c = &mut self.clients[client];
                c.down_dead |= down;
                if up && c.up_dead_at.is_none() {
                    c.up_dead_at = Some(now);
                }
            }
            Fault::Kick { client } => {
                if let Some(conn) = self.server_conn_of(client) {
                    self.server.kick(now, conn);
                    self.drain_server();
                }
            }
            Fault::ServerDisconnect { client } => {
                if let Some(conn) = self.server_conn_of(client) {
                    if let Some(link) = self.conns.get(&conn).and_then(|l| self.links.get_mut(l)) {
                        link.server_left = true;
                    }
                    self.server.disconnect_namespace(now, conn);
                    self.drain_server();
                }
            }
            Fault::ExpireToken { client } => {
                if let Some(c) = self.clients.get_mut(client) {
                    c.expire_next_token = true;
                }
            }
            Fault::RestartServer { down_for } => {
                let open: Vec<u64> = self
                    .links
                    .iter()
                    .filter(|(_, l)| l.server_open)
                    .map(|(id, _)| *id)
                    .collect();
                for l in open {
                    // The process is gone: nothing to tell it, but the clients see resets.
                    if let Some(link) = self.links.get_mut(&l) {
                        link.server_open = false;
                    }
                    self.reset_link(l);
                }
                self.generation += 1;
                self.server_restarts += 1;
                self.conns.clear();
                self.server = Emulator::new(
                    emulator_config(&self.sc.server, self.generation),
                    Box::new(DemoAuth),
                );
                if !down_for.is_zero() {
                    self.refusing += 1;
                    self.schedule(now + down_for, Action::EndRefuse);
                }
            }
            Fault::RefuseConnects {
                duration,
                blackhole,
            } => {
                if blackhole {
                    self.blackholing += 1;
                    self.schedule(now + duration, Action::EndBlackhole);
                } else {
                    self.refusing += 1;
                    self.schedule(now + duration, Action::EndRefuse);
                }
            }
            Fault::Slow { duration, factor } => {
                self.slow.push(factor);
                self.schedule(now + duration, Action::EndSlow(factor));
            }
            Fault::Silent { duration } => {
                self.silent += 1;
                for link in self.links.values_mut() {
                    link.up.kill();
                    link.down.kill();
                }
                for c in &mut self.clients {
                    if c.link.is_some() {
                        c.down_dead = true;
                        c.up_dead_at.get_or_insert(now);
                    }
                }
                self.schedule(now + duration, Action::EndSilent);
            }
        }
    }

    /// Whether `client`'s most recent link (the one a drain's events come from, even if the
    /// client closed it earlier in the drain) has `what`.
    fn last_link_had(&self, client: usize, what: impl Fn(&Link) -> bool) -> bool {
        self.clients[client]
            .last_link
            .and_then(|l| self.links.get(&l))
            .is_some_and(what)
    }

    /// A session close is expected now: the user closed, the server disconnected the
    /// namespace, or the connection's token had expired.
    fn closing_legit(&self, client: usize) -> bool {
        self.clients[client].closing
            || self.last_link_had(client, |l| l.server_left || l.expired_token)
    }

    /// The emulator's id for `client`'s current connection, if the emulator has it open.
    fn server_conn_of(&self, client: usize) -> Option<ConnId> {
        let l = self.clients.get(client)?.link?;
        let link = self.links.get(&l)?;
        link.conn.filter(|_| link.server_open)
    }

    /// Both ends are told at once; in-flight data is lost.
    fn reset_link(&mut self, l: u64) {
        let now = self.now;
        let Some(link) = self.links.get_mut(&l) else {
            return;
        };
        link.up.queue.clear();
        link.down.queue.clear();
        let (server_open, client_open, conn, client) =
            (link.server_open, link.client_open, link.conn, link.client);
        link.server_open = false;
        link.client_open = false;
        if server_open && let Some(conn) = conn {
            self.server.handle_closed(now, conn);
            self.drain_server();
        }
        if client_open {
            self.clients[client].link = None;
            self.clients[client]
                .spaces
                .handle_closed(now, Some("reset".to_owned()));
            self.drain_client(client);
        }
    }

    // ----- the network --------------------------------------------------------------------

    fn latency(&mut self, up: bool) -> Duration {
        let base = if up {
            self.sc.net.up_latency
        } else {
            self.sc.net.down_latency
        };
        let jitter_ms = self.sc.net.jitter.as_millis() as u64;
        let jitter = self.rng.ms(0, jitter_ms);
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
    }

    fn deliver(&mut self, l: u64, up: bool) {
        let now = self.now;
        let Some(link) = self.links.get_mut(&l) else {
            return;
        };
        let pipe = if up { &mut link.up } else { &mut link.down };
        let Some(InFlight { packet, .. }) = pipe.queue.pop_front() else {
            return;
        };
        let client = link.client;
        if up {
            let conn = link.conn.filter(|_| link.server_open);
            if conn.is_some() && !matches!(packet, Packet::Fin) {
                link.server_last_recv = now;
            }
            self.trace_packet(client, true, &packet);
            match (packet, conn) {
                (Packet::Connect(uri), _) => self.server_accept(l, &uri),
                (Packet::Text(text), Some(conn)) => {
                    self.server.handle_text(now, conn, &text);
                    self.drain_server();
                }
                (Packet::Binary(data), Some(conn)) => {
                    self.server.handle_binary(now, conn, &data);
                    self.drain_server();
                }
                (Packet::Fin, Some(conn)) => {
                    if let Some(link) = self.links.get_mut(&l) {
                        link.server_open = false;
                    }
                    self.server.handle_closed(now, conn);
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
        if matches!(packet, Packet::Fin) {
            link.client_open = false;
        }
        self.trace_packet(client, false, &packet);
        let c = &mut self.clients[client];
        match packet {
            Packet::Accepted => c.spaces.handle_open(now),
            Packet::Refused => c.spaces.handle_open_failed(now, "connection refused"),
            Packet::Text(text) => {
                c.last_recv = now;
                c.spaces.handle_text(now, &text);
            }
            Packet::Binary(data) => {
                c.last_recv = now;
                c.spaces.handle_binary(now, &data);
            }
            Packet::Fin => {
                c.link = None;
                c.spaces.handle_closed(now, None);
            }
            Packet::Connect(_) => {}
        }
        self.drain_client(client);
    }

    fn server_accept(&mut self, l: u64, uri: &str) {
        let now = self.now;
        if self.silent > 0 || self.blackholing > 0 {
            self.trace(format_args!("connect dropped"));
            return;
        }
        if self.refusing > 0 {
            self.send(l, false, Packet::Refused);
            return;
        }
        match self.server.handle_connect(now, uri) {
            Ok(conn) => {
                if let Some(link) = self.links.get_mut(&l) {
                    link.conn = Some(conn);
                    link.server_open = true;
                    link.server_last_recv = now;
                }
                self.conns.insert(conn, l);
                self.send(l, false, Packet::Accepted);
                self.drain_server();
            }
            // HTTP 503: the client hears a failed open.
            Err(Rejection::TooManyConnections) => {
                self.server_full += 1;
                self.send(l, false, Packet::Refused);
            }
            Err(rejection) => {
                self.fail(
                    6,
                    format_args!("the emulator rejected {uri:?}: {rejection:?}"),
                );
            }
        }
    }

    /// Drops links nothing can happen on any more.
    fn collect_links(&mut self) {
        self.links.retain(|_, l| {
            l.client_open || l.server_open || !l.up.queue.is_empty() || !l.down.queue.is_empty()
        });
    }

    // ----- the emulator -------------------------------------------------------------------

    fn drain_server(&mut self) {
        while let Some(out) = self.server.poll_output() {
            let conn = out.conn();
            let Some(&l) = self.conns.get(&conn) else {
                self.fail(6, format_args!("emulator output for unknown {conn:?}"));
            };
            let server_open = self.links.get(&l).is_some_and(|k| k.server_open);
            if !server_open {
                self.fail(
                    6,
                    format_args!("emulator wrote to {conn:?} after it was closed: {out:?}"),
                );
            }
            match out {
                ServerOutput::Text { text, .. } => {
                    self.hash.write(text.as_bytes());
                    self.send(l, false, Packet::Text(text));
                }
                ServerOutput::Binary { data, .. } => {
                    self.hash.write(&data);
                    self.send(l, false, Packet::Binary(data));
                }
                ServerOutput::Close { .. } => {
                    if let Some(link) = self.links.get_mut(&l) {
                        link.server_open = false;
                    }
                    self.send(l, false, Packet::Fin);
                }
            }
        }
        while let Some(ev) = self.server.poll_event() {
            self.on_server_event(ev);
        }
    }

    fn on_server_event(&mut self, ev: EmulatorEvent) {
        if self.verbose {
            self.show(format_args!("server {ev:?}"));
        }
        let link_of = |sim: &Self, conn: ConnId| sim.conns.get(&conn).copied();
        match ev {
            EmulatorEvent::MessageSent {
                conn,
                space,
                sender,
                text,
                message_id,
            } => {
                let link = conn.and_then(|c| link_of(self, c));
                if let Some(l) = link {
                    let owner = self.links.get(&l).map(|k| k.client);
                    let user = owner.map(|c| self.clients[c].plan.user.clone());
                    if user.as_deref() != Some(sender.id.as_str()) {
                        self.fail(
                            5,
                            format_args!("emulator attributed {text:?} to {:?}", sender.id),
                        );
                    }
                    let in_room = self
                        .links
                        .get(&l)
                        .is_some_and(|k| k.server_rooms.contains(&space));
                    if !in_room {
                        self.fail(
                            5,
                            format_args!("emulator took {text:?} from outside {space}"),
                        );
                    }
                }
                *self.accepted.entry(text.clone()).or_default() += 1;
                let msg = ServerMsg {
                    link,
                    sender: sender.id,
                    text,
                    space,
                };
                if self.server_msgs.insert(message_id.clone(), msg).is_some() {
                    self.fail(5, format_args!("emulator reused message id {message_id}"));
                }
            }
            EmulatorEvent::Subscribed { conn, space, .. } => {
                if let Some(link) = link_of(self, conn).and_then(|l| self.links.get_mut(&l)) {
                    link.server_rooms.insert(space);
                }
            }
            EmulatorEvent::Unsubscribed { conn, space, .. } => {
                if let Some(link) = link_of(self, conn).and_then(|l| self.links.get_mut(&l)) {
                    link.server_rooms.remove(&space);
                }
            }
            EmulatorEvent::Closed { conn, reason } => {
                if reason == CloseReason::PingTimeout {
                    self.server_ping_timeouts += 1;
                }
                if matches!(reason, CloseReason::ParseError | CloseReason::ProtocolError) {
                    self.fail(6, format_args!("emulator closed {conn:?}: {reason:?}"));
                }
            }
            EmulatorEvent::AuthFailed { conn, rejection } => {
                let expired = link_of(self, conn)
                    .and_then(|l| self.links.get(&l))
                    .is_some_and(|l| l.expired_token);
                if !expired {
                    self.fail(6, format_args!("emulator refused {conn:?}: {rejection:?}"));
                }
            }
            EmulatorEvent::Left {
                conn, by_server, ..
            } => {
                let link = link_of(self, conn).and_then(|l| self.links.get(&l));
                let legit = link.is_some_and(|l| {
                    if by_server {
                        l.server_left
                    } else {
                        l.client_left
                    }
                });
                if !legit {
                    self.fail(6, format_args!("{conn:?} left the namespace unasked"));
                }
            }
            EmulatorEvent::Joined { conn, user } => {
                let owner = link_of(self, conn)
                    .and_then(|l| self.links.get(&l))
                    .map(|k| self.clients[k.client].plan.user.clone());
                if owner.as_deref() != Some(user.id.as_str()) {
                    self.fail(6, format_args!("{conn:?} joined as {:?}", user.id));
                }
            }
            _ => {}
        }
    }

    // ----- the clients --------------------------------------------------------------------

    fn drain_client(&mut self, i: usize) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.clients[i].spaces.poll_transmit() {
                progressed = true;
                self.on_transmit(i, t);
            }
            while let Some(e) = self.clients[i].spaces.poll_event() {
                progressed = true;
                self.on_client_event(i, e);
            }
            if !progressed {
                break;
            }
        }
    }

    fn on_transmit(&mut self, i: usize, t: Transmit) {
        let now = self.now;
        match t {
            Transmit::Open(url) => {
                self.trace(format_args!("c{i} open"));
                let c = &mut self.clients[i];
                if !c.token_fresh {
                    self.fail(
                        4,
                        format_args!("c{i} opened a websocket without a fresh token"),
                    );
                }
                c.token_fresh = false;
                c.report.opens += 1;
                let url = url.expose();
                let token = format!("token={}", c.plan.user);
                let expired_token = url.contains("token=expired&");
                if !url.contains(&token) && !expired_token {
                    self.fail(4, format_args!("c{i} opened without its token"));
                }
                let uri = url
                    .split_once("://")
                    .and_then(|(_, rest)| rest.find('/').map(|k| rest[k..].to_owned()))
                    .unwrap_or_default();
                if let Some(old) = self.clients[i].link.take() {
                    self.clients[i].report.open_without_close += 1;
                    self.client_close(old);
                }
                let id = self.next_link;
                self.next_link += 1;
                self.links.insert(
                    id,
                    Link {
                        client: i,
                        conn: None,
                        client_open: true,
                        server_open: false,
                        up: Pipe::new(now),
                        down: Pipe::new(now),
                        server_last_recv: now,
                        server_rooms: BTreeSet::new(),
                        expired_token,
                        client_left: false,
                        server_left: false,
                    },
                );
                let c = &mut self.clients[i];
                c.link = Some(id);
                c.last_link = Some(id);
                c.opened_at = now;
                c.last_recv = now;
                c.down_dead = false;
                c.up_dead_at = None;
                self.send(id, true, Packet::Connect(uri));
            }
            Transmit::Text(text) => {
                self.hash.write(text.as_bytes());
                if self.verbose {
                    self.show(format_args!("c{i} > {:?}", Transmit::Text(text.clone())));
                }
                let Some(l) = self.clients[i].link else {
                    self.fail(6, format_args!("c{i} wrote with no websocket open"));
                };
                if text.starts_with("41/chat")
                    && let Some(link) = self.links.get_mut(&l)
                {
                    link.client_left = true;
                }
                self.send(l, true, Packet::Text(text));
            }
            Transmit::Binary(data) => {
                self.hash.write(&data);
                let Some(l) = self.clients[i].link else {
                    self.fail(6, format_args!("c{i} wrote with no websocket open"));
                };
                self.send(l, true, Packet::Binary(data));
            }
            Transmit::Close => {
                self.trace(format_args!("c{i} close"));
                if let Some(l) = self.clients[i].link.take() {
                    self.client_close(l);
                }
            }
        }
    }

    /// The client closes its side: it reads nothing more; the server hears the FIN later.
    fn client_close(&mut self, l: u64) {
        if let Some(link) = self.links.get_mut(&l) {
            link.client_open = false;
            link.down.queue.clear();
        }
        self.send(l, true, Packet::Fin);
    }

    fn on_client_event(&mut self, i: usize, e: SpacesEvent) {
        let now = self.now;
        self.trace(format_args!("c{i} {}", EventLine(&e)));
        if self.record_events {
            self.clients[i].recorded.push(e.clone());
        }
        match e {
            SpacesEvent::TokenNeeded { attempt } => {
                let c = &mut self.clients[i];
                c.report.tokens_asked += 1;
                if attempt > 0 {
                    // A reconnection attempt starts (one the user's close cancelled never does).
                    c.report.reconnect_attempts += 1;
                }
                c.token_fresh = false;
                c.token_failed = false;
                c.token_wait_since = Some(now);
                if attempt != c.next_token_attempt {
                    let want = c.next_token_attempt;
                    self.fail(
                        4,
                        format_args!("c{i}: TokenNeeded attempt {attempt}, want {want}"),
                    );
                }
                // Slow token providers are a fault: the quiet period answers promptly.
                let max = if now < self.base + self.sc.active {
                    self.clients[i].plan.token_delay_max
                } else {
                    self.clients[i]
                        .plan
                        .token_delay_max
                        .min(Duration::from_millis(300))
                };
                let delay = self.rng.ms(0, max.as_millis() as u64);
                self.schedule(now + delay, Action::Token(i));
            }
            SpacesEvent::Connected => {
                let c = &mut self.clients[i];
                if c.connected {
                    self.fail(2, format_args!("c{i}: Connected twice"));
                }
                c.connected = true;
                c.closing = false;
                c.report.connects += 1;
                c.awaiting_sub = c.wanted.iter().map(|s| (s.clone(), now)).collect();
            }
            SpacesEvent::Disconnected { reason } => self.on_disconnected(i, &reason),
            SpacesEvent::Subscribed { space } => {
                let c = &mut self.clients[i];
                if !c.connected {
                    self.fail(
                        2,
                        format_args!("c{i}: Subscribed {space} while disconnected"),
                    );
                }
                c.awaiting_sub.remove(&space);
            }
            SpacesEvent::Unsubscribed { .. } => {}
            SpacesEvent::Confirmed { id, message } => {
                let text = message
                    .content
                    .as_ref()
                    .and_then(|c| c.body_text.clone())
                    .unwrap_or_default();
                let server_id = message.id.clone().unwrap_or_default();
                let user = self.clients[i].plan.user.clone();
                let Some(record) = self.clients[i].sends.get(&id).cloned() else {
                    self.fail(1, format_args!("c{i}: Confirmed unknown {id:?}"));
                };
                if let Some(prev) = &record.outcome {
                    self.fail(1, format_args!("c{i}: {id:?} Confirmed after {prev:?}"));
                }
                if text != record.text || message.topic_id.as_deref() != Some(&record.space) {
                    self.fail(
                        1,
                        format_args!("c{i}: {id:?} confirmed with the wrong message"),
                    );
                }
                match self.server_msgs.get(&server_id) {
                    Some(m) if m.sender == user && m.text == record.text => {}
                    other => self.fail(
                        1,
                        format_args!(
                            "c{i}: {id:?} confirmed as {server_id:?}: server has {other:?}"
                        ),
                    ),
                }
                let c = &mut self.clients[i];
                c.report.confirmed += 1;
                if let Some(r) = c.sends.get_mut(&id) {
                    r.outcome = Some(Outcome::Confirmed(server_id));
                }
            }
            SpacesEvent::SendFailed { id, space, failure } => {
                let Some(record) = self.clients[i].sends.get(&id).cloned() else {
                    self.fail(1, format_args!("c{i}: SendFailed for unknown {id:?}"));
                };
                if let Some(prev) = &record.outcome {
                    self.fail(1, format_args!("c{i}: {id:?} failed after {prev:?}"));
                }
                let unsubscribed = self.clients[i]
                    .unsubscribed_at
                    .get(&record.space)
                    .is_some_and(|t| *t >= record.at);
                let legit = match failure {
                    SendFailure::Unsubscribed => unsubscribed,
                    // Every unresolved send fails when the session closes.
                    SendFailure::Closed => self.closing_legit(i),
                    _ => false,
                };
                if !legit || space != record.space {
                    self.fail(
                        1,
                        format_args!("c{i}: {id:?} to {space} failed: {failure:?}"),
                    );
                }
                let c = &mut self.clients[i];
                c.report.failed += 1;
                if let Some(r) = c.sends.get_mut(&id) {
                    r.outcome = Some(Outcome::Failed(failure));
                }
            }
            SpacesEvent::Message(msg) => {
                let server_id = msg.id.clone().unwrap_or_default();
                let user = self.clients[i].plan.user.clone();
                let Some(m) = self.server_msgs.get(&server_id).cloned() else {
                    self.fail(
                        5,
                        format_args!("c{i}: message {server_id:?} the server never sent"),
                    );
                };
                // Our own message comes back as someone else's only when an older connection
                // of ours delivered it late (the server still had it open): never from the
                // connection we are on.
                if m.sender == user && (m.link.is_none() || m.link == self.clients[i].link) {
                    self.fail(
                        5,
                        format_args!("c{i}: got its own {:?} as a Message", m.text),
                    );
                }
                if msg.sender.as_ref().and_then(|s| s.id.as_deref()) != Some(&m.sender) {
                    self.fail(5, format_args!("c{i}: {server_id} has the wrong sender"));
                }
                let c = &mut self.clients[i];
                if !c.seen_ids.insert(server_id.clone()) {
                    self.fail(5, format_args!("c{i}: message {server_id} arrived twice"));
                }
                c.report.received += 1;
                let copies = c.copies.entry(m.text.clone()).or_default();
                *copies += 1;
                if *copies > 1 {
                    c.report.duplicate_texts += 1;
                }
                let copies = *copies;
                let accepted = self.accepted.get(&m.text).copied().unwrap_or(0);
                if copies > accepted {
                    self.fail(
                        5,
                        format_args!("c{i}: {copies} copies of {:?}, sent {accepted}", m.text),
                    );
                }
            }
            SpacesEvent::Incoming(Incoming::PresenceEventResponse(_)) => {}
            SpacesEvent::AuthFailed(failure) => {
                if !self.last_link_had(i, |l| l.expired_token) {
                    self.fail(6, format_args!("c{i}: unexpected {failure:?}"));
                }
            }
            SpacesEvent::Closed => {
                let legit = self.closing_legit(i);
                let c = &mut self.clients[i];
                if !legit {
                    self.fail(6, format_args!("c{i}: the session closed by itself"));
                }
                c.closing = false;
                c.connected = false;
                c.token_wait_since = None;
                c.awaiting_sub.clear();
                c.report.closes += 1;
                if !c.user_closed {
                    // Reopen it as an app would after an auth failure or a server disconnect.
                    let reopen = self.rng.ms(500, 3_000);
                    self.schedule(now + reopen, Action::Connect(i));
                }
                self.clients[i].user_closed = false;
            }
            SpacesEvent::Reconnecting { attempt, delay } => {
                let (lo, hi) = self.clients[i].config.reconnect_delay_bounds(attempt);
                if delay < lo || delay > hi {
                    self.fail(
                        4,
                        format_args!(
                            "c{i}: attempt {attempt} delay {delay:?} outside {lo:?}..={hi:?}"
                        ),
                    );
                }
                // The attempt's token request must carry this number.
                self.clients[i].next_token_attempt = attempt;
            }
            SpacesEvent::ConnectFailed { failure } => self.on_connect_failed(i, failure),
            SpacesEvent::Pong { .. } => {}
            other => {
                self.fail(6, format_args!("c{i}: unexpected {other:?}"));
            }
        }
    }

    fn on_disconnected(&mut self, i: usize, reason: &DisconnectReason) {
        let now = self.now;
        let t = self.sc.server.ping_timeout;
        let c = &mut self.clients[i];
        if !c.connected {
            self.fail(2, format_args!("c{i}: Disconnected while not connected"));
        }
        c.connected = false;
        // Subscriptions still awaited here: the link failed first, which is allowed.
        c.awaiting_sub.clear();
        *c.report.disconnects.entry(reason.as_str()).or_default() += 1;
        let (down_dead, last_recv) = (c.down_dead, c.last_recv);
        match reason {
            DisconnectReason::PingTimeout => {
                if now < last_recv + t {
                    self.fail(
                        3,
                        format_args!(
                            "c{i}: ping timeout only {:?} after the last packet",
                            now - last_recv
                        ),
                    );
                }
            }
            DisconnectReason::TransportClose if down_dead => {
                self.fail(3, format_args!("c{i}: heard a close through a dead link"));
            }
            DisconnectReason::TransportClose => {}
            DisconnectReason::TransportError(e) if e == "reset" => {}
            // The user closed, or the server disconnected the namespace.
            DisconnectReason::ClientDisconnect if self.clients[i].closing => {}
            DisconnectReason::ServerDisconnect if self.last_link_had(i, |l| l.server_left) => {}
            other => self.fail(6, format_args!("c{i}: disconnected for {other:?}")),
        }
    }

    fn on_connect_failed(&mut self, i: usize, failure: ConnectFailure) {
        let c = &mut self.clients[i];
        c.report.connect_failures += 1;
        c.token_wait_since = None;
        let token_failed = std::mem::take(&mut c.token_failed);
        let legit = match failure {
            ConnectFailure::Credentials(_) => token_failed,
            ConnectFailure::Timeout | ConnectFailure::Transport(_) => !token_failed,
            _ => false,
        };
        if !legit {
            self.fail(6, format_args!("c{i}: connect failed: {failure:?}"));
        }
    }

    // ----- invariants ---------------------------------------------------------------------

    fn check_step(&mut self) {
        let now = self.now;
        let ping = self.ping_total;
        let round_trip = self.max_latency * 2 + Duration::from_millis(1);
        for i in 0..self.clients.len() {
            let c = &self.clients[i];
            if c.spaces.unconfirmed() > c.plan.max_held {
                self.fail(
                    6,
                    format_args!("c{i}: {} unconfirmed", c.spaces.unconfirmed()),
                );
            }
            let open = c.spaces.is_open();
            if open && now > c.last_recv + ping {
                self.fail(
                    3,
                    format_args!(
                        "c{i}: link silent for {:?}, not detected",
                        now - c.last_recv
                    ),
                );
            }
            // Dead only towards the server: the emulator's silence timer closes it, and its
            // close reaches the client (if the other direction dies too, the bound above
            // applies instead).
            if open
                && c.link.is_some()
                && !c.down_dead
                && let Some(dead) = c.up_dead_at
                && now > dead + ping + self.max_latency
            {
                self.fail(
                    3,
                    format_args!("c{i}: link dead since {:?}", dead - self.base),
                );
            }
            if !open && c.link.is_some() && now > c.opened_at + c.plan.connect_timeout {
                self.fail(
                    3,
                    format_args!("c{i}: connect not given up after its timeout"),
                );
            }
            if let Some(since) = c.token_wait_since
                && now > since + c.plan.connect_timeout
            {
                self.fail(
                    3,
                    format_args!("c{i}: waited for a token past the connect timeout"),
                );
            }
            let healthy = !c.down_dead && c.up_dead_at.is_none();
            let paced = c.spaces.paced() > 0;
            if paced || c.was_paced {
                // Waiting for the rate window (or just released from it): a subscription's
                // round trip starts when it leaves.
                for since in self.clients[i].awaiting_sub.values_mut() {
                    *since = now;
                }
            }
            self.clients[i].was_paced = paced;
            let c = &self.clients[i];
            if c.connected
                && healthy
                && let Some((space, since)) =
                    c.awaiting_sub.iter().find(|(_, t)| now > **t + round_trip)
            {
                self.fail(
                    2,
                    format_args!("c{i}: {space} not subscribed {:?} after", now - *since),
                );
            }
        }
        let mut server_open = 0;
        for link in self.links.values() {
            if link.up.queue.len() > MAX_IN_FLIGHT || link.down.queue.len() > MAX_IN_FLIGHT {
                self.fail(6, format_args!("unbounded in-flight queue"));
            }
            if link.server_open {
                server_open += 1;
                if now > link.server_last_recv + ping {
                    self.fail(3, format_args!("emulator kept a silent connection"));
                }
            }
        }
        if self.server.connections() != server_open {
            self.fail(
                6,
                format_args!(
                    "emulator has {} connections, the network {server_open}",
                    self.server.connections()
                ),
            );
        }
    }

    /// Everything has settled: connected, subscribed on both sides, every send resolved, no
    /// stale connection left on the emulator.
    fn check_settled(&mut self, when: &str) {
        for i in 0..self.clients.len() {
            let c = &self.clients[i];
            if !c.spaces.is_connected() || !c.connected {
                self.fail(2, format_args!("c{i} not connected {when}"));
            }
            let rooms = c
                .link
                .and_then(|l| self.links.get(&l))
                .filter(|l| l.server_open)
                .map(|l| l.server_rooms.clone());
            let Some(rooms) = rooms else {
                self.fail(
                    2,
                    format_args!("c{i}: no live connection on the emulator {when}"),
                );
            };
            if !c.awaiting_sub.is_empty() {
                self.fail(
                    2,
                    format_args!("c{i}: awaiting {:?} {when}", c.awaiting_sub),
                );
            }
            for space in &c.wanted {
                if !c.spaces.is_subscribed(space) || !rooms.contains(space) {
                    self.fail(
                        2,
                        format_args!("c{i}: {space} not subscribed on both sides {when}"),
                    );
                }
            }
            if let Some(extra) = rooms.iter().find(|s| !c.wanted.contains(*s)) {
                self.fail(2, format_args!("c{i}: still in {extra} {when}"));
            }
            if let Some((id, _)) = c.sends.iter().find(|(_, r)| r.outcome.is_none()) {
                self.fail(1, format_args!("c{i}: {id:?} unresolved {when}"));
            }
            if c.spaces.unconfirmed() != 0 {
                self.fail(
                    1,
                    format_args!("c{i}: {} unconfirmed {when}", c.spaces.unconfirmed()),
                );
            }
            // One token per connection attempt: the first, then one per reconnection attempt.
            let r = &c.report;
            if r.tokens_asked != r.connect_calls + r.reconnect_attempts || r.opens > r.tokens_asked
            {
                self.fail(4, format_args!("c{i}: tokens {r:?}"));
            }
        }
        if self.server.connections() != self.clients.len() {
            self.fail(
                6,
                format_args!("{} emulator connections {when}", self.server.connections()),
            );
        }
    }

    fn check_final_round(&mut self) {
        for (sender, space, text) in self.finals.clone() {
            let confirmed = self.clients[sender]
                .sends
                .values()
                .any(|r| r.text == text && matches!(r.outcome, Some(Outcome::Confirmed(_))));
            if !confirmed {
                self.fail(1, format_args!("final {text:?} not confirmed"));
            }
            for j in 0..self.clients.len() {
                if j == sender {
                    continue;
                }
                let copies = self.clients[j].copies.get(&text).copied().unwrap_or(0);
                let want = u32::from(self.clients[j].wanted.contains(&space));
                if copies != want {
                    self.fail(
                        5,
                        format_args!("c{j} got {copies} copies of final {text:?}"),
                    );
                }
            }
        }
    }

    // ----- trace and failure --------------------------------------------------------------

    fn trace(&mut self, what: fmt::Arguments<'_>) {
        let t = self.now - self.base;
        self.line.clear();
        let _ = write!(self.line, "{:>9.3} {what}", t.as_secs_f64());
        self.hash.write(self.line.as_bytes());
        if self.verbose {
            println!("{}", self.line);
        }
        if self.tail.len() == TRACE_TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(self.line.clone());
    }

    /// A delivery: hashed as its time and direction (frames are hashed when sent), shown in
    /// full when verbose.
    fn trace_packet(&mut self, client: usize, up: bool, packet: &Packet) {
        let t = (self.now - self.base).as_micros() as u64;
        self.hash.write(&t.to_le_bytes());
        self.hash.write(&[u8::from(up), client as u8]);
        if !self.verbose {
            return;
        }
        let arrow = if up { "=> server" } else { "=> c" };
        let shown = match packet {
            Packet::Text(t) => format!("{:?}", Transmit::Text(t.clone())),
            Packet::Connect(_) => "Connect".to_owned(),
            other => format!("{other:?}"),
        };
        if up {
            self.show(format_args!("c{client} {arrow} {shown}"));
        } else {
            self.show(format_args!("{arrow}{client} {shown}"));
        }
    }

    /// A line for the printed trace only (not hashed), so that the trace hash of a run does
    /// not depend on whether it is printed.
    fn show(&mut self, what: fmt::Arguments<'_>) {
        let t = self.now - self.base;
        let line = format!("{:>9.3} {what}", t.as_secs_f64());
        println!("{line}");
        if self.tail.len() == TRACE_TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(line);
    }

    fn fail(&self, invariant: u32, what: fmt::Arguments<'_>) -> ! {
        let t = self.now - self.base;
        let tail: Vec<&str> = self.tail.iter().map(String::as_str).collect();
        let replay = if self.sc.replayable {
            format!("replay: {}", replay_hint(self.sc.seed))
        } else {
            "hand-written scenario".to_owned()
        };
        panic!(
            "seed {}: invariant {invariant} violated at {:.3}s: {what}\n{replay}\nlast trace lines:\n{}",
            self.sc.seed,
            t.as_secs_f64(),
            tail.join("\n")
        );
    }

    fn report(self) -> Report {
        Report {
            seed: self.sc.seed,
            trace_hash: self.hash.finish(),
            steps: self.steps,
            virtual_time: self.now - self.base,
            faults: self.sc.faults.len(),
            server_restarts: self.server_restarts,
            server_ping_timeouts: self.server_ping_timeouts,
            server_messages: self.accepted.values().sum(),
            server_full: self.server_full,
            events: self.clients.iter().map(|c| c.recorded.clone()).collect(),
            sends: self.clients.iter().map(|c| c.sends.clone()).collect(),
            clients: self.clients.into_iter().map(|c| c.report).collect(),
        }
    }
}

impl SimClient {
    fn new(plan: &ClientPlan, base: Instant) -> Self {
        let mut config = SpacesConfig::new("http://sim.invalid/chat").expect("static URL");
        config.client.rng_seed = Some(plan.rng_seed);
        config.client.reconnection_delay = plan.reconnection_delay;
        config.client.reconnection_delay_max = plan.reconnection_delay_max;
        config.client.randomization_factor = plan.randomization_factor;
        config.client.connect_timeout = Some(plan.connect_timeout);
        config.max_held = plan.max_held;
        config.rate_limit = plan.rate_limit;
        let client_config = config.client.clone();
        let spaces = Spaces::new(config).expect("valid simulated configuration");
        Self {
            plan: plan.clone(),
            spaces,
            config: client_config,
            was_paced: false,
            link: None,
            wanted: BTreeSet::new(),
            unsubscribed_at: BTreeMap::new(),
            token_fresh: false,
            next_token_attempt: 0,
            connected: false,
            closing: false,
            last_link: None,
            user_closed: false,
            expire_next_token: false,
            token_failed: false,
            token_wait_since: None,
            awaiting_sub: BTreeMap::new(),
            opened_at: base,
            last_recv: base,
            down_dead: false,
            up_dead_at: None,
            sends: BTreeMap::new(),
            seen_ids: BTreeSet::new(),
            copies: BTreeMap::new(),
            report: ClientReport {
                user: plan.user.clone(),
                ..ClientReport::default()
            },
            recorded: Vec::new(),
        }
    }
}

fn emulator_config(plan: &ServerPlan, generation: u64) -> EmulatorConfig {
    EmulatorConfig {
        ping_interval: plan.ping_interval,
        ping_timeout: plan.ping_timeout,
        send_root_connect: plan.send_root_connect,
        namespace_comma: plan.namespace_comma,
        seed: plan.seed ^ generation.wrapping_mul(0x9E37_79B9_7F4A_7C15),
        max_connections: plan.max_connections,
        ..EmulatorConfig::default()
    }
}

/// A compact, deterministic line for an event (pings and pongs are most of a trace).
struct EventLine<'a>(&'a SpacesEvent);

impl fmt::Display for EventLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            SpacesEvent::Pong { latency } => write!(f, "pong {latency:?}"),
            SpacesEvent::Message(m) => write!(f, "message {:?}", m.id),
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
