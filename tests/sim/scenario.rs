//! What one run does: the clients and their workload, the network, the faults. A
//! [`Scenario`] is plain data: [`Scenario::random`] draws one from a seed, regression tests
//! write one by hand.

use std::time::Duration;

use super::rng::SimRng;

/// The spaces clients pick from.
pub const SPACE_POOL: [&str; 3] = ["space-alpha", "space-beta", "space-gamma"];

/// A complete description of one simulated run.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The seed this scenario was drawn from (and the one printed on failure).
    pub seed: u64,
    /// The clients, each with its workload.
    pub clients: Vec<ClientPlan>,
    /// The network.
    pub net: NetPlan,
    /// The server.
    pub server: ServerPlan,
    /// Faults, by virtual time since the start. They all fall inside `active`.
    pub faults: Vec<(Duration, Fault)>,
    /// Faults and the workload happen in `0..active`.
    pub active: Duration,
    /// Then nothing happens for this long: every client must reconnect, resubscribe and
    /// resolve every message.
    pub quiet: Duration,
    /// After the quiet period, every client sends one more message to each space it wants, and
    /// every other client wanting that space must get exactly one copy.
    pub final_round: bool,
    /// True when the scenario came from [`Scenario::random`], so `SIM_SEED` replays it.
    pub replayable: bool,
}

/// One client: a Spaces session and what its user does.
#[derive(Debug, Clone)]
pub struct ClientPlan {
    /// The user id; also the token (the emulator's `DemoAuth` maps a token to that user).
    pub user: String,
    /// Spaces subscribed before connecting.
    pub spaces: Vec<String>,
    /// When to call `connect`.
    pub start: Duration,
    /// User commands, by virtual time since the start.
    pub actions: Vec<(Duration, ClientAction)>,
    /// `rng_seed` of the client (reconnection jitter).
    pub rng_seed: u64,
    /// `reconnection_delay`.
    pub reconnection_delay: Duration,
    /// `reconnection_delay_max`.
    pub reconnection_delay_max: Duration,
    /// `randomization_factor`.
    pub randomization_factor: f64,
    /// `connect_timeout`.
    pub connect_timeout: Duration,
    /// `max_held`.
    pub max_held: usize,
    /// `rate_limit` (per minute).
    pub rate_limit: u32,
    /// A token is handed over this long (at most) after `TokenNeeded` (at most 300 ms once
    /// the active period is over).
    pub token_delay_max: Duration,
    /// One token request in this many fails (`handle_token_error`); 0: never.
    pub token_failure_one_in: u64,
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

/// The network between every client and the server. Each connection is a TCP stream: per
/// direction, messages arrive in order or (when the link fails) not at all.
#[derive(Debug, Clone)]
pub struct NetPlan {
    /// One-way latency client → server.
    pub up_latency: Duration,
    /// One-way latency server → client.
    pub down_latency: Duration,
    /// Extra delay per message, uniform in `0..=jitter`; order is kept regardless.
    pub jitter: Duration,
}

/// The emulator's settings.
#[derive(Debug, Clone)]
pub struct ServerPlan {
    /// `pingInterval`.
    pub ping_interval: Duration,
    /// `pingTimeout`.
    pub ping_timeout: Duration,
    /// Send the root `40` after the open packet (false: socket.io 2.0.4 bug #3082).
    pub send_root_connect: bool,
    /// `40/chat,` (2.0.4) rather than `40/chat` (1.7.3).
    pub namespace_comma: bool,
    /// Seed of the first emulator; each restart derives a new one.
    pub seed: u64,
    /// Most simultaneous connections; more are refused (HTTP 503).
    pub max_connections: usize,
}

/// Something that goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The client's current connection is reset: both ends are told at once, in-flight data
    /// is lost.
    Reset {
        /// Which client.
        client: usize,
    },
    /// The client's current connection silently stops delivering in one or both directions;
    /// nobody is told.
    HalfOpen {
        /// Which client.
        client: usize,
        /// Client → server stops.
        up: bool,
        /// Server → client stops.
        down: bool,
    },
    /// The server process restarts: every connection is reset (both ends told), a new
    /// emulator with no rooms replaces the old one, and connects are refused for `down_for`.
    RestartServer {
        /// How long connects are refused afterwards.
        down_for: Duration,
    },
    /// Connects fail for a while: refused (the client hears after a round trip) or, with
    /// `blackhole`, never answered (the client's connect timeout must fire).
    RefuseConnects {
        /// How long.
        duration: Duration,
        /// Silently drop connects instead of refusing them.
        blackhole: bool,
    },
    /// Every message sent meanwhile takes `factor` times the base latency (order kept).
    Slow {
        /// How long.
        duration: Duration,
        /// Latency multiplier.
        factor: u32,
    },
    /// The server host vanishes from the network: every existing connection stops delivering
    /// both ways, nobody is told, and new connects are dropped until it is back.
    Silent {
        /// How long.
        duration: Duration,
    },
    /// The server closes the client's connection (`Emulator::kick`): a transport close, after
    /// which the client reconnects by itself.
    Kick {
        /// Which client.
        client: usize,
    },
    /// The server disconnects the client's namespace (`Emulator::disconnect_namespace`): the
    /// session closes for good, and the user calls `connect` again.
    ServerDisconnect {
        /// Which client.
        client: usize,
    },
    /// The next token handed to the client has expired: the server refuses it, the session
    /// closes (`AuthFailed`), and the user calls `connect` again.
    ExpireToken {
        /// Which client.
        client: usize,
    },
}

impl Scenario {
    /// Draws a scenario from `seed`: 2–3 clients on 1–2 spaces each, up to 20 messages each,
    /// 1.5–4 virtual minutes of faults, then a quiet period and a final round.
    pub fn random(seed: u64) -> Self {
        let mut root = SimRng::new(seed);
        let mut r = root.fork();
        let n_clients = 2 + r.index(2);
        let active = r.ms(90_000, 240_000);
        let net = NetPlan {
            up_latency: r.log_ms(1, 150),
            down_latency: r.log_ms(1, 150),
            jitter: r.ms(0, 30),
        };
        let server = ServerPlan {
            ping_interval: Duration::from_millis(1000),
            ping_timeout: Duration::from_millis(1500),
            send_root_connect: r.chance(3, 4),
            namespace_comma: r.chance(1, 2),
            seed: r.next_u64(),
            // Sometimes barely room for everyone: stale half-open connections then fill it.
            max_connections: if r.chance(1, 5) {
                n_clients + r.index(3)
            } else {
                1024
            },
        };
        let mut text_counter = 0u32;
        let clients = (0..n_clients)
            .map(|i| ClientPlan::random(&mut r, i, active, &mut text_counter))
            .collect();
        let faults = random_faults(&mut r, n_clients, active);
        let mut scenario = Self {
            seed,
            clients,
            net,
            server,
            faults,
            active,
            quiet: Duration::ZERO,
            final_round: true,
            replayable: true,
        };
        scenario.quiet = scenario.settle_time();
        scenario
    }

    /// A hand-written scenario: `clients`, a calm 20 ms network with no jitter, the default
    /// server (1 s / 1.5 s heartbeat), no faults yet, `active` of activity, then the quiet
    /// period and the final round. Push faults and actions, then call [`Scenario::settled`].
    pub fn manual(clients: Vec<ClientPlan>, active: Duration) -> Self {
        Self {
            seed: 0,
            clients,
            net: NetPlan {
                up_latency: Duration::from_millis(20),
                down_latency: Duration::from_millis(20),
                jitter: Duration::ZERO,
            },
            server: ServerPlan {
                ping_interval: Duration::from_millis(1000),
                ping_timeout: Duration::from_millis(1500),
                send_root_connect: true,
                namespace_comma: true,
                seed: 7,
                max_connections: 1024,
            },
            faults: Vec::new(),
            active,
            quiet: Duration::ZERO,
            final_round: true,
            replayable: false,
        }
    }

    /// Sets the quiet period from the scenario as it is now (see [`Scenario::settle_time`]).
    pub fn settled(mut self) -> Self {
        self.quiet = self.settle_time();
        self
    }

    /// The largest one-way delay any message can see in this run (base latency, jitter and
    /// the worst slow-down).
    pub fn max_latency(&self) -> Duration {
        let factor = self
            .faults
            .iter()
            .filter_map(|(_, f)| match f {
                Fault::Slow { factor, .. } => Some(*factor),
                _ => None,
            })
            .max()
            .unwrap_or(1)
            .max(1);
        let base = self.net.up_latency.max(self.net.down_latency) + self.net.jitter;
        base * factor
    }

    /// The largest one-way delay without faults.
    pub fn calm_latency(&self) -> Duration {
        self.net.up_latency.max(self.net.down_latency) + self.net.jitter
    }

    /// A quiet period long enough for everything to settle after the last fault: a message
    /// still crossing a slowed link, a dead link being detected, the longest backoff, a
    /// black-holed connect timing out, then reconnecting, resubscribing and resending.
    pub fn settle_time(&self) -> Duration {
        let ping = self.server.ping_interval + self.server.ping_timeout;
        let client_worst = self
            .clients
            .iter()
            .map(|c| c.reconnection_delay_max + c.connect_timeout + c.token_delay_max)
            .max()
            .unwrap_or_default();
        // Events over the rate limit wait their turn: a client's whole workload (every action
        // emits at most one event, plus a subscription per space and reconnection) may still
        // be draining through a one-minute window.
        let pacing = self
            .clients
            .iter()
            .map(|c| {
                let events = (c.actions.len() + c.spaces.len() * 4) as u32;
                Duration::from_secs(60) * (events / c.rate_limit.max(1) + 1)
            })
            .max()
            .unwrap_or_default();
        Duration::from_secs(10) + self.max_latency() * 2 + ping * 2 + client_worst * 2 + pacing
    }
}

impl ClientPlan {
    /// A default client for hand-written scenarios: `user`, subscribed to `spaces`, no
    /// workload, socket.io-client's default backoff.
    pub fn new(user: &str, spaces: &[&str]) -> Self {
        Self {
            user: user.to_owned(),
            spaces: spaces.iter().map(|s| (*s).to_owned()).collect(),
            start: Duration::ZERO,
            actions: Vec::new(),
            rng_seed: 1,
            reconnection_delay: Duration::from_millis(1000),
            reconnection_delay_max: Duration::from_millis(5000),
            randomization_factor: 0.5,
            connect_timeout: Duration::from_secs(5),
            max_held: 1000,
            rate_limit: 200,
            token_delay_max: Duration::ZERO,
            token_failure_one_in: 0,
        }
    }

    fn random(r: &mut SimRng, i: usize, active: Duration, text_counter: &mut u32) -> Self {
        let mut pool: Vec<&str> = SPACE_POOL.to_vec();
        let n_spaces = 1 + r.index(2);
        let mut spaces = Vec::new();
        for _ in 0..n_spaces {
            let k = r.index(pool.len());
            spaces.push(pool.remove(k).to_owned());
        }
        let active_ms = active.as_millis() as u64;
        let mut actions = Vec::new();
        let n_messages = r.range(0, 20);
        for _ in 0..n_messages {
            let at = r.ms(0, active_ms);
            // Mostly a space we want; sometimes one we may not (refused: NotSubscribed).
            let space = if r.chance(1, 12) {
                (*r.pick(&SPACE_POOL)).to_owned()
            } else {
                r.pick(&spaces).clone()
            };
            *text_counter += 1;
            let text = format!("c{i}-m{text_counter}");
            actions.push((at, ClientAction::Send { space, text }));
        }
        // Subscription churn for some clients: leave a space (maybe coming back), or join one.
        if r.chance(1, 3) {
            for _ in 0..r.range(1, 3) {
                let at = r.ms(0, active_ms);
                let space = (*r.pick(&SPACE_POOL)).to_owned();
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
            actions.push((at, ClientAction::Presence(r.pick(&spaces).clone())));
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
        let reconnection_delay = r.ms(100, 1000);
        let reconnection_delay_max = reconnection_delay.max(r.ms(1000, 5000));
        Self {
            user: format!("user{i}"),
            spaces,
            start: r.ms(0, 2000),
            actions,
            rng_seed: r.next_u64(),
            reconnection_delay,
            reconnection_delay_max,
            randomization_factor: *r.pick(&[0.0, 0.1, 0.5, 0.5, 1.0]),
            connect_timeout: r.ms(2000, 8000),
            max_held: if r.chance(1, 4) {
                r.range(2, 6) as usize
            } else {
                1000
            },
            rate_limit: if r.chance(1, 8) {
                r.range(5, 15) as u32
            } else {
                200
            },
            // Some token providers are slower than the connect timeout.
            token_delay_max: if r.chance(1, 10) {
                r.ms(1_000, 10_000)
            } else {
                r.ms(0, 300)
            },
            token_failure_one_in: if r.chance(1, 6) { r.range(2, 6) } else { 0 },
        }
    }
}

fn random_faults(r: &mut SimRng, n_clients: usize, active: Duration) -> Vec<(Duration, Fault)> {
    let mut faults = Vec::new();
    // One run in ten has no faults at all; the others a fault every 3–40 s on average.
    if r.chance(1, 10) {
        return faults;
    }
    let mean_gap = r.range(3_000, 40_000);
    let active_ms = active.as_millis() as u64;
    // The last fault window must end a little before the quiet period.
    let last = active_ms.saturating_sub(1_000);
    let mut t = r.range(0, mean_gap);
    while t < last {
        let room = last - t;
        let fault = match r.range(0, 99) {
            0..=23 => Fault::Reset {
                client: r.index(n_clients),
            },
            24..=29 => Fault::Kick {
                client: r.index(n_clients),
            },
            30..=49 => {
                let (up, down) = *r.pick(&[(true, false), (false, true), (true, true)]);
                Fault::HalfOpen {
                    client: r.index(n_clients),
                    up,
                    down,
                }
            }
            50..=52 => Fault::ServerDisconnect {
                client: r.index(n_clients),
            },
            53..=55 => Fault::ExpireToken {
                client: r.index(n_clients),
            },
            56..=62 => Fault::RestartServer {
                down_for: Duration::from_millis(r.range(0, 8_000).min(room)),
            },
            63..=72 => Fault::RefuseConnects {
                duration: Duration::from_millis(r.range(500, 15_000).min(room)),
                blackhole: r.chance(1, 2),
            },
            73..=89 => Fault::Slow {
                duration: Duration::from_millis(r.range(1_000, 20_000).min(room)),
                factor: r.range(3, 30) as u32,
            },
            _ => Fault::Silent {
                duration: Duration::from_millis(r.range(1_000, 15_000).min(room)),
            },
        };
        faults.push((Duration::from_millis(t), fault));
        t += r.range(mean_gap / 5, mean_gap * 9 / 5).max(1);
    }
    faults
}
