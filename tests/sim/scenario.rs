//! What one run does: the clients and their workload, on the kit's network, server and faults.
//! A [`Scenario`] is plain data: [`Scenario::random`] draws one from a seed, regression tests
//! write one by hand. Each client is a [`ScriptBot`] playing its [`ClientPlan`].

use std::collections::BTreeSet;
use std::time::Duration;

use spaces_socket::spaces::{Delivery, SendError, SendPresenceEvent, SpacesEvent, Token};
use spaces_socket_emulator::EmulatorConfig;
use spaces_socket_sim::{
    Bot, Builder, Ctx, Fault, FaultMix, NetPlan, ParticipantConfig, ParticipantId, Rng,
    default_server,
};

/// The spaces clients pick from.
pub const SPACE_POOL: [&str; 3] = ["space-alpha", "space-beta", "space-gamma"];

/// Timer of the final round ([`ScriptBot`]): one send to each wanted space.
pub const FINAL_ROUND: u64 = u64::MAX;
/// Timers retrying final sends refused for room: `FINAL_RETRY + k`.
const FINAL_RETRY: u64 = 1 << 62;
/// Mixed into the seed for the workload's stream (the kit's streams come from the seed itself).
const WORKLOAD_STREAM: u64 = 0x0057_0041_4b4c_4f41;

/// Makes a fault on one client from its handle.
pub type ClientFault = fn(ParticipantId) -> Fault;

/// A complete description of one simulated run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The seed (the kit draws the network, server and faults from it, when random).
    pub seed: u64,
    /// The clients, each with its workload.
    pub clients: Vec<ClientPlan>,
    /// The network, or `None` to draw it from the seed.
    pub net: Option<NetPlan>,
    /// The server, or `None` to draw it from the seed.
    pub server: Option<EmulatorConfig>,
    /// Scripted faults, by virtual time.
    pub faults: Vec<(Duration, Fault)>,
    /// Scripted faults on one client (by its place in `clients`), made from its handle once
    /// it is added.
    pub client_faults: Vec<(Duration, usize, ClientFault)>,
    /// Random faults over `0..active`.
    pub mix: Option<FaultMix>,
    /// Faults and the workload happen in `0..active`; then nothing happens for the kit's
    /// settle time: every client must reconnect, resubscribe and resolve every message.
    pub active: Duration,
    /// After the quiet period, every client sends one more message to each space it wants, and
    /// every other client wanting that space must get exactly one copy.
    pub final_round: bool,
    /// True when the scenario came from [`Scenario::random`], so `SIM_SEED` replays it.
    pub replayable: bool,
}

/// One client: a session's settings and what its user does.
#[derive(Debug, Clone)]
pub struct ClientPlan {
    /// The user id (the participant's name and token).
    pub user: String,
    /// Spaces subscribed before connecting.
    pub spaces: Vec<String>,
    /// User commands, by virtual time since the start.
    pub actions: Vec<(Duration, ClientAction)>,
    /// The session and token provider.
    pub config: ParticipantConfig,
}

/// A user command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientAction {
    /// `send_message(chat(space, text))`; `text` is unique in the run.
    Send {
        /// The space.
        space: String,
        /// The message text.
        text: String,
    },
    /// `subscribe(space)`.
    Subscribe(String),
    /// `unsubscribe(space)`.
    Unsubscribe(String),
    /// `send_presence` (typing) to a space; refused unless connected and subscribed.
    Presence(String),
    /// The user closes the session, then calls `connect` again after `offline`.
    Restart {
        /// How long the session stays closed.
        offline: Duration,
    },
}

impl Scenario {
    /// Draws a scenario from `seed`: 2–3 clients on 1–2 spaces each, up to 20 messages each,
    /// 1.5–4 virtual minutes of faults, then a quiet period and a final round. The workload is
    /// drawn here (from a stream of its own); the network, server and faults by the kit.
    pub fn random(seed: u64) -> Self {
        let r = &mut Rng::new(seed ^ WORKLOAD_STREAM);
        let n_clients = 2 + r.index(2);
        let active = r.ms(90_000, 240_000);
        let mut text_counter = 0u32;
        let clients = (0..n_clients)
            .map(|i| ClientPlan::random(r, i, active, &mut text_counter))
            .collect();
        Self {
            seed,
            clients,
            net: None,
            server: None,
            faults: Vec::new(),
            client_faults: Vec::new(),
            mix: Some(FaultMix::new(active)),
            active,
            final_round: true,
            replayable: true,
        }
    }

    /// A hand-written scenario: `clients`, a calm 20 ms network with no jitter, the kit's
    /// default server (1 s / 1.5 s heartbeat), no faults yet, `active` of activity, then the
    /// quiet period and the final round. Push faults and actions.
    pub fn manual(clients: Vec<ClientPlan>, active: Duration) -> Self {
        Self {
            seed: 0,
            clients,
            net: Some(NetPlan::default()),
            server: Some(default_server()),
            faults: Vec::new(),
            client_faults: Vec::new(),
            mix: None,
            active,
            final_round: true,
            replayable: false,
        }
    }

    /// The kit's builder for this scenario, with one [`ScriptBot`] per client (its user's
    /// name as a fixed token), and the clients' handles in order.
    pub fn builder(&self) -> (Builder, Vec<ParticipantId>) {
        let mut b = Builder::new();
        b.seed(self.seed);
        match &self.net {
            Some(net) => b.network(net.clone()),
            None => b.random_network(),
        };
        match &self.server {
            Some(server) => b.server(server.clone()),
            None => b.random_server(),
        };
        if let Some(mix) = &self.mix {
            b.faults(mix.clone());
        }
        let ids: Vec<ParticipantId> = self
            .clients
            .iter()
            .map(|plan| {
                let bot = ScriptBot::new(plan);
                let token = Token::jwt(plan.user.as_str());
                b.participant_with(&plan.user, bot, plan.config.clone(), token)
                    .expect("a client of its own name and a valid session")
            })
            .collect();
        for (at, fault) in &self.faults {
            b.fault_at(*at, fault.clone());
        }
        for &(at, client, make) in &self.client_faults {
            b.fault_at(at, make(ids[client]));
        }
        // A user restarting the session: its bot closes it at the action's time (or at its
        // start, if later), and the kit connects it again `offline` later.
        for (plan, &id) in self.clients.iter().zip(&ids) {
            for (at, action) in &plan.actions {
                if let ClientAction::Restart { offline } = action {
                    b.reopen_at((*at).max(plan.config.start) + *offline, id);
                }
            }
        }
        (b, ids)
    }
}

impl ClientPlan {
    /// A default client for hand-written scenarios: `user`, subscribed to `spaces`, no
    /// workload, the kit's default session (socket.io-client's backoff).
    pub fn new(user: &str, spaces: &[&str]) -> Self {
        Self {
            user: user.to_owned(),
            spaces: spaces.iter().map(|s| (*s).to_owned()).collect(),
            actions: Vec::new(),
            config: {
                let mut config = ParticipantConfig::default();
                config.session.client.rng_seed = Some(1);
                config
            },
        }
    }

    fn random(r: &mut Rng, i: usize, active: Duration, text_counter: &mut u32) -> Self {
        let mut pool: Vec<&str> = SPACE_POOL.to_vec();
        let n_spaces = 1 + r.index(2);
        let mut spaces = Vec::new();
        for _ in 0..n_spaces {
            let k = r.index(pool.len());
            spaces.push(pool.remove(k).to_owned());
        }
        let active_ms = active.as_millis() as u64;
        let mut actions = Vec::new();
        for _ in 0..r.range(0, 20) {
            let at = r.ms(0, active_ms);
            // Mostly a space we want; sometimes one we may not (refused: NotSubscribed).
            let space = if r.chance(1, 12) {
                (*r.pick(&SPACE_POOL).expect("a non-empty pool")).to_owned()
            } else {
                r.pick(&spaces).expect("a client wants a space").clone()
            };
            *text_counter += 1;
            let text = format!("c{i}-m{text_counter}");
            actions.push((at, ClientAction::Send { space, text }));
        }
        // Subscription churn for some clients: leave a space (maybe coming back), or join one.
        if r.chance(1, 3) {
            for _ in 0..r.range(1, 3) {
                let at = r.ms(0, active_ms);
                let space = (*r.pick(&SPACE_POOL).expect("a non-empty pool")).to_owned();
                if r.chance(1, 2) {
                    actions.push((at, ClientAction::Unsubscribe(space.clone())));
                    if r.chance(2, 3) {
                        let back = at + r.ms(0, 20_000);
                        actions.push((back.min(active), ClientAction::Subscribe(space)));
                    }
                } else {
                    actions.push((at, ClientAction::Subscribe(space)));
                }
            }
        }
        for _ in 0..r.range(0, 5) {
            let at = r.ms(0, active_ms);
            actions.push((
                at,
                ClientAction::Presence(r.pick(&spaces).expect("a client wants a space").clone()),
            ));
        }
        // Some users close and reopen the session.
        if r.chance(1, 6) {
            for _ in 0..r.range(1, 2) {
                let at = r.ms(0, active_ms);
                let offline = r.ms(0, 5_000);
                actions.push((at, ClientAction::Restart { offline }));
            }
        }
        actions.sort_by_key(|(at, _)| *at);
        Self {
            user: format!("user{i}"),
            spaces,
            actions,
            config: {
                // One participant in three is at most once (drawn before the rest).
                let delivery = if r.chance(1, 3) {
                    Delivery::AtMostOnce
                } else {
                    Delivery::default()
                };
                let mut config = ParticipantConfig::random(r);
                config.session.delivery = delivery;
                config
            },
        }
    }
}

/// A client playing its [`ClientPlan`]: subscribes at the start, runs each action at its time,
/// and on [`FINAL_ROUND`] sends one message to each space it wants (again later while the
/// session has no room for it).
#[derive(Debug)]
pub struct ScriptBot {
    user: String,
    /// When it starts (a bot's `Ctx::elapsed` counts from there; the plan's times from 0).
    start: Duration,
    spaces: Vec<String>,
    actions: Vec<(Duration, ClientAction)>,
    /// Mirror of the session's wanted spaces.
    wanted: BTreeSet<String>,
    /// Final-round sends not accepted yet, by retry timer.
    finals: Vec<Option<(String, String)>>,
    /// Final-round sends not accepted yet.
    pub final_pending: usize,
    /// When the last final-round send was accepted.
    pub last_final_at: Duration,
}

impl ScriptBot {
    /// The bot of `plan`.
    pub fn new(plan: &ClientPlan) -> Self {
        Self {
            user: plan.user.clone(),
            start: plan.config.start,
            spaces: plan.spaces.clone(),
            actions: plan.actions.clone(),
            wanted: BTreeSet::new(),
            finals: Vec::new(),
            final_pending: 0,
            last_final_at: Duration::ZERO,
        }
    }

    fn act(&mut self, ctx: &mut Ctx<'_>, action: ClientAction) {
        match action {
            ClientAction::Send { space, text } => {
                let _ = ctx.send_text(&space, &text);
            }
            ClientAction::Subscribe(space) => {
                self.wanted.insert(space.clone());
                ctx.subscribe(&space);
            }
            ClientAction::Unsubscribe(space) => {
                self.wanted.remove(&space);
                ctx.unsubscribe(&space);
            }
            ClientAction::Presence(space) => {
                let _ = ctx.send_presence(&SendPresenceEvent::typing(space));
            }
            ClientAction::Restart { offline } => {
                // The kit reopens it `offline` later (`Builder::reopen_at`, see `builder`): a
                // bot cannot connect again, as a runtime's `run` returns once it closes.
                let _ = offline;
                ctx.close();
            }
        }
    }

    fn final_send(&mut self, ctx: &mut Ctx<'_>, k: usize) {
        let Some((space, text)) = self.finals[k].clone() else {
            return;
        };
        match ctx.send_text(&space, &text) {
            Ok(_) => {
                self.finals[k] = None;
                self.final_pending -= 1;
                self.last_final_at = self.start + ctx.elapsed();
            }
            // A small max_held or rate limit: try again when there is room.
            Err(SendError::QueueFull { .. }) => {
                ctx.set_timer(Duration::from_millis(100), FINAL_RETRY + k as u64);
            }
            Err(SendError::RateLimited { retry_after }) => {
                let later = retry_after + Duration::from_millis(1);
                ctx.set_timer(later, FINAL_RETRY + k as u64);
            }
            // The checker flags the refusal.
            Err(_) => {}
        }
    }
}

impl Bot for ScriptBot {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        for space in self.spaces.clone() {
            self.wanted.insert(space.clone());
            ctx.subscribe(&space);
        }
        let now = self.start;
        for (k, (at, _)) in self.actions.iter().enumerate() {
            ctx.set_timer(at.saturating_sub(now), k as u64);
        }
    }

    fn on_event(&mut self, _ctx: &mut Ctx<'_>, event: &SpacesEvent) {
        if let SpacesEvent::SubscribeFailed { space, .. } = event {
            self.wanted.remove(space);
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: u64) {
        match timer {
            FINAL_ROUND => {
                let user = self.user.clone();
                for space in self.wanted.clone() {
                    let text = format!("final-{user}-{space}");
                    self.finals.push(Some((space, text)));
                    self.final_pending += 1;
                    self.final_send(ctx, self.finals.len() - 1);
                }
            }
            t if t >= FINAL_RETRY => self.final_send(ctx, (t - FINAL_RETRY) as usize),
            k => {
                let action = self.actions[k as usize].1.clone();
                self.act(ctx, action);
            }
        }
    }
}
