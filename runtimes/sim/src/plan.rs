//! What a run is made of, as plain data: the network, each participant's settings, the server's,
//! and the faults. Each has a `random` constructor that draws it from an [`Rng`], so a whole
//! world comes from one seed.

use std::fmt;
use std::time::Duration;

use spaces_socket::spaces::SpacesConfig;

use spaces_socket_emulator::rng::Rng;
use spaces_socket_emulator::{EmulatorConfig, RateLimit};

/// The network between every participant and the server. Each connection is a TCP stream: per
/// direction, messages arrive in order (jitter never reorders) or, once the link fails, not at
/// all.
///
/// Pass it to [`Builder::network`](crate::Builder::network).
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, NetPlan};
///
/// // A slow uplink with some jitter.
/// let net = NetPlan {
///     up_latency: Duration::from_millis(80),
///     down_latency: Duration::from_millis(5),
///     jitter: Duration::from_millis(10),
/// };
/// assert_eq!(net.calm_latency(), Duration::from_millis(90));
/// Builder::new().network(net);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetPlan {
    /// One-way latency participant → server.
    pub up_latency: Duration,
    /// One-way latency server → participant.
    pub down_latency: Duration,
    /// Extra delay per message, uniform in `0..=jitter`; order is kept regardless.
    pub jitter: Duration,
}

impl Default for NetPlan {
    /// A calm 20 ms network without jitter.
    fn default() -> Self {
        Self {
            up_latency: Duration::from_millis(20),
            down_latency: Duration::from_millis(20),
            jitter: Duration::ZERO,
        }
    }
}

impl NetPlan {
    /// Latencies log-uniform in 1–150 ms each way, jitter up to 30 ms.
    pub fn random(rng: &mut Rng) -> Self {
        Self {
            up_latency: rng.log_ms(1, 150),
            down_latency: rng.log_ms(1, 150),
            jitter: rng.ms(0, 30),
        }
    }

    /// The largest one-way delay without faults.
    pub fn calm_latency(&self) -> Duration {
        self.up_latency.max(self.down_latency) + self.jitter
    }
}

/// The emulator settings a simulation starts from: socket.io 2.0.4's defaults but a 1 s / 1.5 s
/// heartbeat, so dead links show within seconds of virtual time. Pass it, changed as you like,
/// to [`Builder::server`](crate::Builder::server).
///
/// ```
/// use spaces_socket_sim::{Builder, default_server};
///
/// let mut server = default_server();
/// server.max_connections = 2; // a full server refuses a third connection (HTTP 503)
/// Builder::new().server(server);
/// ```
pub fn default_server() -> EmulatorConfig {
    EmulatorConfig {
        ping_interval: Duration::from_millis(1000),
        ping_timeout: Duration::from_millis(1500),
        seed: 7,
        ..EmulatorConfig::default()
    }
}

/// [`default_server`] with the live-service behaviours drawn from `rng`: the root `40` missing
/// one run in four (socket.io 2.0.4 bug #3082), `40/chat,` or `40/chat` half and half, and, one
/// run in five, barely room for `participants` connections (so stale half-open connections fill
/// the server and connects are refused with HTTP 503). The emulator's live-service modes, each
/// on in a share of runs (most runs have none): echoes without `loopbackMetadata`
/// ([`EmulatorConfig::drop_loopback`], one in six), MESSAGE_SENT fields of odd types
/// ([`EmulatorConfig::odd_message_fields`], one in six), and a per-connection limit of 200–240
/// SEND_MESSAGEs a minute ([`EmulatorConfig::message_rate_limit`], one in eight: the documented
/// limit, which a session paced at its default `rate_limit` stays under). Unanswered
/// subscriptions are not drawn: a session re-requests a timed-out subscription only on its
/// next connection, so a run could never settle; set them yourself.
///
/// ```
/// use spaces_socket_sim::{Rng, random_server};
///
/// let server = random_server(&mut Rng::new(7), 3);
/// assert!(server.max_connections >= 3);
/// ```
pub fn random_server(rng: &mut Rng, participants: usize) -> EmulatorConfig {
    let base = random_server_base(rng, participants);
    EmulatorConfig {
        drop_loopback: rng.chance(1, 6),
        odd_message_fields: rng.chance(1, 6),
        message_rate_limit: rng.chance(1, 8).then(|| RateLimit {
            max: rng.range(200, 240) as u32,
            window: Duration::from_secs(60),
        }),
        ..base
    }
}

fn random_server_base(rng: &mut Rng, participants: usize) -> EmulatorConfig {
    EmulatorConfig {
        send_root_connect: rng.chance(3, 4),
        namespace_comma: rng.chance(1, 2),
        seed: rng.next_u64(),
        max_connections: if rng.chance(1, 5) {
            participants + rng.index(3)
        } else {
            1024
        },
        ..default_server()
    }
}

/// A participant of a run, as [`Builder::participant`](crate::Builder::participant) returns it:
/// address faults ([`Fault::Reset`]…), reports ([`Report::participant`](crate::Report::participant))
/// and views ([`SimView::participant`](crate::SimView::participant)) with it.
///
/// ```
/// use spaces_socket_sim::{Builder, Fault, ParticipantId};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &spaces_socket::spaces::SpacesEvent) {}
/// # }
///
/// let mut world = Builder::new();
/// let alice: ParticipantId = world.participant("alice", Quiet)?;
/// world.fault_at(std::time::Duration::from_secs(5), Fault::Reset { participant: alice });
/// let report = world.run_for(std::time::Duration::from_secs(20))?;
/// assert_eq!(report.participant(alice).connects, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParticipantId(pub(crate) usize);

impl ParticipantId {
    /// Its place among the participants, from 0 in the order they were added (the index of
    /// its report in [`Report::participants`](crate::Report::participants)).
    pub fn index(self) -> usize {
        self.0
    }
}

impl fmt::Debug for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// One participant's session and its simulated token provider. Pass it to
/// [`Builder::participant_with`](crate::Builder::participant_with), with the token source.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket::spaces::Delivery;
/// use spaces_socket_sim::ParticipantConfig;
///
/// let mut config = ParticipantConfig::default();
/// // The session exactly as the bot ships with it.
/// config.session.confirm_timeout = Some(Duration::from_secs(10));
/// config.session.delivery = Delivery::AtMostOnce;
/// // A token provider that is slow and fails one request in four while the faults last.
/// config.token_delay_max = Duration::from_secs(2);
/// config.token_failure_one_in = 4;
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ParticipantConfig {
    /// The session's configuration, as a runtime takes it: every policy (`confirm_timeout`,
    /// `delivery`, `auth_retries`, `rate_limit`…) and the client's backoff and timeouts. Its
    /// URL only shapes the websocket request the emulator reads. `client.rng_seed` of `None`
    /// is drawn from the run's seed (so a run replays).
    pub session: SpacesConfig,
    /// When the participant starts ([`Bot::on_start`](crate::Bot::on_start), then `connect`).
    pub start: Duration,
    /// A token is handed over at most this long after its request (`Step::Token`; at most
    /// 300 ms once the fault window is over): a slow token provider.
    pub token_delay_max: Duration,
    /// One token request in this many fails (`Input::TokenFailed`) during the fault window;
    /// 0: never.
    pub token_failure_one_in: u64,
    /// After the session closes by itself (authentication failure, server disconnect), call
    /// `connect` again 0.5–3 s later, as an app would. A close the bot asked for is not undone.
    pub reopen_after_close: bool,
}

/// The URL the kit's sessions are configured with (any URL works: only its path and query
/// reach the emulator).
pub const SIM_URL: &str = "http://sim.invalid/chat";

impl Default for ParticipantConfig {
    /// A default [`SpacesConfig`] with socket.io-client's backoff (1 s to 5 s, factor 0.5) and
    /// a 5 s connect timeout, an instant and infallible token provider, and reopening.
    fn default() -> Self {
        let mut session = SpacesConfig::new(SIM_URL).expect("a static URL");
        let c = &mut session.client;
        c.reconnection_delay = Duration::from_millis(1000);
        c.reconnection_delay_max = Duration::from_millis(5000);
        c.randomization_factor = 0.5;
        c.connect_timeout = Some(Duration::from_secs(5));
        Self {
            session,
            start: Duration::ZERO,
            token_delay_max: Duration::ZERO,
            token_failure_one_in: 0,
            reopen_after_close: true,
        }
    }
}

impl ParticipantConfig {
    /// Everything drawn from `rng`: a start within 2 s, backoff of 0.1–1 s up to 1–5 s with
    /// any randomization factor, a 2–8 s connect timeout, sometimes a tiny `max_held` (one in
    /// four) or rate limit (one in eight), sometimes a token provider slower than the connect
    /// timeout (one in ten) or failing (one in six).
    pub fn random(rng: &mut Rng) -> Self {
        let mut config = Self {
            start: rng.ms(0, 2000),
            ..Self::default()
        };
        let c = &mut config.session.client;
        c.rng_seed = Some(rng.next_u64());
        c.reconnection_delay = rng.ms(100, 1000);
        c.reconnection_delay_max = c.reconnection_delay.max(rng.ms(1000, 5000));
        c.randomization_factor = *rng
            .pick(&[0.0, 0.1, 0.5, 0.5, 1.0])
            .expect("a non-empty list");
        c.connect_timeout = Some(rng.ms(2000, 8000));
        let s = &mut config.session;
        s.max_held = if rng.chance(1, 4) {
            rng.range(2, 6) as usize
        } else {
            1000
        };
        s.rate_limit = if rng.chance(1, 8) {
            rng.range(5, 15) as u32
        } else {
            200
        };
        config.token_delay_max = if rng.chance(1, 10) {
            rng.ms(1_000, 10_000)
        } else {
            rng.ms(0, 300)
        };
        config.token_failure_one_in = if rng.chance(1, 6) { rng.range(2, 6) } else { 0 };
        config
    }

    /// The longest this participant can take to be back after a fault: the longest backoff,
    /// a connect timing out, and the slowest token.
    pub fn worst_recovery(&self) -> Duration {
        let c = &self.session.client;
        c.reconnection_delay_max + c.connect_timeout.unwrap_or_default() + self.token_delay_max
    }
}

/// Something that goes wrong: at a virtual time given to
/// [`Builder::fault_at`](crate::Builder::fault_at) or [`Sim::inject_at`](crate::Sim::inject_at),
/// now with [`Sim::inject`](crate::Sim::inject), or drawn by a [`FaultMix`]. Participants are
/// addressed by their [`ParticipantId`].
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Fault, ParticipantId};
///
/// fn cut_then_refuse(bot: ParticipantId) -> Vec<(Duration, Fault)> {
///     vec![
///         (Duration::from_millis(4_040), Fault::Reset { participant: bot }),
///         (
///             Duration::from_millis(4_050),
///             Fault::RefuseConnects { duration: Duration::from_secs(3), blackhole: false },
///         ),
///     ]
/// }
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The participant's current connection is reset: both ends are told at once, in-flight
    /// data is lost.
    Reset {
        /// Which participant.
        participant: ParticipantId,
    },
    /// The participant's current connection silently stops delivering in one or both
    /// directions; nobody is told.
    HalfOpen {
        /// Which participant.
        participant: ParticipantId,
        /// Participant → server stops.
        up: bool,
        /// Server → participant stops.
        down: bool,
    },
    /// The server process restarts: every connection is reset (both ends told), a new emulator
    /// with no rooms replaces the old one, and connects are refused for `down_for`.
    RestartServer {
        /// How long connects are refused afterwards.
        down_for: Duration,
    },
    /// Connects fail for a while: refused (the participant hears after a round trip) or, with
    /// `blackhole`, never answered (its connect timeout must fire).
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
    /// The server closes the participant's connection (`Emulator::kick`): a transport close,
    /// after which the session reconnects by itself.
    Kick {
        /// Which participant.
        participant: ParticipantId,
    },
    /// The server disconnects the participant's namespace (`Emulator::disconnect_namespace`):
    /// the session closes for good (and reopens if
    /// [`ParticipantConfig::reopen_after_close`]).
    ServerDisconnect {
        /// Which participant.
        participant: ParticipantId,
    },
    /// The next token handed to the participant has expired: the server refuses it, the
    /// session closes (`AuthFailed`), and reopens as above.
    ExpireToken {
        /// Which participant.
        participant: ParticipantId,
    },
    /// A second connection of the participant's user (the same token) opens: another
    /// session of the same user elsewhere. It joins the spaces the participant subscribed to,
    /// says one chat message in each (`"<name> elsewhere #<k>"`) and leaves after `duration`.
    /// A bot must not take that user's messages for someone else's: they come from itself.
    /// Its session shows in the report as one more participant, named `"<name>'"` (then
    /// `"<name>'2"`…; one at a time: drawn while one runs, it does nothing).
    SecondConnection {
        /// Whose user.
        participant: ParticipantId,
        /// How long the second connection stays.
        duration: Duration,
    },
    /// The server sends an error packet (`44/chat,{"message":…,"code":…}`,
    /// `Emulator::send_error`) on the participant's joined connection: the session reports
    /// `ServerError` and keeps the connection.
    ServerError {
        /// Which participant.
        participant: ParticipantId,
    },
}

impl Fault {
    /// The participant this fault targets, or `None` when it hits the server (everyone).
    pub fn participant(&self) -> Option<ParticipantId> {
        match self {
            Self::Reset { participant }
            | Self::SecondConnection { participant, .. }
            | Self::HalfOpen { participant, .. }
            | Self::Kick { participant }
            | Self::ServerDisconnect { participant }
            | Self::ExpireToken { participant }
            | Self::ServerError { participant } => Some(*participant),
            Self::RestartServer { .. }
            | Self::RefuseConnects { .. }
            | Self::Slow { .. }
            | Self::Silent { .. } => None,
        }
    }

    /// How long the fault lasts (`ZERO` for the instant ones).
    pub fn duration(&self) -> Duration {
        match self {
            Self::RestartServer { down_for } => *down_for,
            Self::RefuseConnects { duration, .. }
            | Self::Slow { duration, .. }
            | Self::Silent { duration }
            | Self::SecondConnection { duration, .. } => *duration,
            _ => Duration::ZERO,
        }
    }

    /// The same fault lasting `duration` instead (the instant ones are unchanged): how
    /// [`shrink`](crate::shrink) shortens a window.
    pub fn with_duration(&self, duration: Duration) -> Self {
        let mut fault = self.clone();
        match &mut fault {
            Self::RestartServer { down_for: d }
            | Self::RefuseConnects { duration: d, .. }
            | Self::Slow { duration: d, .. }
            | Self::Silent { duration: d }
            | Self::SecondConnection { duration: d, .. } => *d = duration,
            _ => {}
        }
        fault
    }

    /// The latency multiplier of a [`Fault::Slow`], else 1.
    pub fn slow_factor(&self) -> u32 {
        match self {
            Self::Slow { factor, .. } => (*factor).max(1),
            _ => 1,
        }
    }
}

/// How often each kind of [`Fault`] is drawn, relative to the others (0: never).
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Fault, FaultMix, FaultWeights, Rng};
///
/// // Only second connections of a participant's user.
/// let weights = FaultWeights {
///     reset: 0,
///     kick: 0,
///     half_open: 0,
///     server_disconnect: 0,
///     expire_token: 0,
///     restart_server: 0,
///     refuse_connects: 0,
///     slow: 0,
///     silent: 0,
///     server_error: 0,
///     second_connection: 1,
/// };
/// let mut mix = FaultMix::new(Duration::from_secs(60));
/// mix.weights = weights;
/// mix.calm_one_in = 0;
/// let faults = mix.draw(&mut Rng::new(1), 2);
/// assert!(!faults.is_empty());
/// assert!(faults.iter().all(|(_, f)| matches!(f, Fault::SecondConnection { .. })));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultWeights {
    /// [`Fault::Reset`].
    pub reset: u32,
    /// [`Fault::Kick`].
    pub kick: u32,
    /// [`Fault::HalfOpen`] (up, down or both, equally).
    pub half_open: u32,
    /// [`Fault::ServerDisconnect`].
    pub server_disconnect: u32,
    /// [`Fault::ExpireToken`].
    pub expire_token: u32,
    /// [`Fault::RestartServer`] (down for 0–8 s).
    pub restart_server: u32,
    /// [`Fault::RefuseConnects`] (0.5–15 s, half of them black holes).
    pub refuse_connects: u32,
    /// [`Fault::Slow`] (1–20 s, ×3 to ×30).
    pub slow: u32,
    /// [`Fault::Silent`] (1–15 s).
    pub silent: u32,
    /// [`Fault::ServerError`].
    pub server_error: u32,
    /// [`Fault::SecondConnection`] (for 1–20 s). 0 by default, so that the default mix draws
    /// what it always drew: a seed stays the same run.
    pub second_connection: u32,
}

impl Default for FaultWeights {
    fn default() -> Self {
        Self {
            reset: 24,
            kick: 6,
            half_open: 20,
            server_disconnect: 3,
            expire_token: 3,
            restart_server: 7,
            refuse_connects: 10,
            slow: 17,
            silent: 10,
            server_error: 4,
            second_connection: 0,
        }
    }
}

/// Random faults over a window of virtual time, drawn from the run's seed. Pass it to
/// [`Builder::faults`](crate::Builder::faults). The window also bounds the token provider's
/// faults ([`ParticipantConfig::token_delay_max`], [`ParticipantConfig::token_failure_one_in`]):
/// after it, the world is calm and everything must recover.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, FaultMix};
///
/// let mut mix = FaultMix::new(Duration::from_secs(120));
/// mix.calm_one_in = 0; // faults in every run
/// mix.weights.second_connection = 5; // and now and then the bot's own user elsewhere
/// Builder::new().faults(mix);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultMix {
    /// Faults happen in `0..window`.
    pub window: Duration,
    /// One run in this many has no faults at all (0: every run has some).
    pub calm_one_in: u64,
    /// The mean gap between faults is drawn per run in this range (3–40 s by default).
    pub mean_gap: (Duration, Duration),
    /// The kinds' relative frequencies.
    pub weights: FaultWeights,
}

impl FaultMix {
    /// The default mix over `0..window`: one run in ten calm, the others a fault every 3–40 s
    /// on average, mostly resets, half-open links and slow periods.
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            calm_one_in: 10,
            mean_gap: (Duration::from_secs(3), Duration::from_secs(40)),
            weights: FaultWeights::default(),
        }
    }

    /// Draws the faults of one run for `participants` participants, in time order.
    pub fn draw(&self, rng: &mut Rng, participants: usize) -> Vec<(Duration, Fault)> {
        let mut faults = Vec::new();
        if self.calm_one_in > 0 && rng.chance(1, self.calm_one_in) {
            return faults;
        }
        let w = &self.weights;
        let table = [
            w.reset,
            w.kick,
            w.half_open,
            w.server_disconnect,
            w.expire_token,
            w.restart_server,
            w.refuse_connects,
            w.slow,
            w.silent,
            w.server_error,
            w.second_connection,
        ];
        let total: u64 = table.iter().map(|&x| u64::from(x)).sum();
        if total == 0 || participants == 0 {
            return faults;
        }
        let (lo, hi) = self.mean_gap;
        let mean_gap = rng
            .range(lo.as_millis() as u64, hi.as_millis() as u64)
            .max(1);
        let window_ms = self.window.as_millis() as u64;
        // The last fault ends a little before the window does.
        let last = window_ms.saturating_sub(1_000);
        let mut t = rng.range(0, mean_gap);
        while t < last {
            let room = last - t;
            let mut pick = rng.range(0, total - 1);
            let mut kind = 0;
            while pick >= u64::from(table[kind]) {
                pick -= u64::from(table[kind]);
                kind += 1;
            }
            let mut p = || ParticipantId(rng.index(participants));
            let fault = match kind {
                0 => Fault::Reset { participant: p() },
                1 => Fault::Kick { participant: p() },
                2 => {
                    let participant = p();
                    let (up, down) = *rng
                        .pick(&[(true, false), (false, true), (true, true)])
                        .expect("a non-empty list");
                    Fault::HalfOpen {
                        participant,
                        up,
                        down,
                    }
                }
                3 => Fault::ServerDisconnect { participant: p() },
                4 => Fault::ExpireToken { participant: p() },
                5 => Fault::RestartServer {
                    down_for: Duration::from_millis(rng.range(0, 8_000).min(room)),
                },
                6 => Fault::RefuseConnects {
                    duration: Duration::from_millis(rng.range(500, 15_000).min(room)),
                    blackhole: rng.chance(1, 2),
                },
                7 => Fault::Slow {
                    duration: Duration::from_millis(rng.range(1_000, 20_000).min(room)),
                    factor: rng.range(3, 30) as u32,
                },
                8 => Fault::Silent {
                    duration: Duration::from_millis(rng.range(1_000, 15_000).min(room)),
                },
                9 => Fault::ServerError { participant: p() },
                _ => Fault::SecondConnection {
                    participant: p(),
                    duration: Duration::from_millis(rng.range(1_000, 20_000).min(room)),
                },
            };
            faults.push((Duration::from_millis(t), fault));
            t += rng.range(mean_gap / 5, mean_gap * 9 / 5).max(1);
        }
        faults
    }
}
