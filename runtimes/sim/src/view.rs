//! Watching a run from outside the bots: the [`Observer`] hook and the read-only [`SimView`].

use std::any::Any;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use spaces_socket::client::{Config, Transmit};
use spaces_socket::spaces::{Spaces, SpacesEvent};

use crate::net::Link;
use crate::plan::{Fault, ParticipantConfig, ParticipantId};
use crate::report::ParticipantReport;
use crate::world::World;
use spaces_socket::bot::Command;
use spaces_socket_emulator::{ConnId, Emulator, EmulatorConfig, EmulatorEvent};

/// How the simulated token provider answered a token request (`Step::Token`).
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Fault, Happening, Observer, SimView, TokenOutcome};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
///
/// /// Keeps how each token request was answered.
/// #[derive(Default)]
/// struct Tokens(Vec<TokenOutcome>);
///
/// impl Observer for Tokens {
///     fn on_happening(&mut self, _sim: &SimView<'_>, what: &Happening<'_>) -> Result<(), String> {
///         if let Happening::Token { outcome, .. } = what {
///             self.0.push(*outcome);
///         }
///         Ok(())
///     }
/// }
///
/// let mut world = Builder::new();
/// world.observer(Tokens::default());
/// let bot = world.participant("bot", Quiet)?;
/// // The next token has expired, and the next connection needs one.
/// world.fault_at(Duration::from_secs(1), Fault::ExpireToken { participant: bot });
/// world.fault_at(Duration::from_secs(2), Fault::Kick { participant: bot });
/// let mut sim = world.build();
/// sim.run_for(Duration::from_secs(10))?;
/// let seen = &sim.observer::<Tokens>().expect("ours").0;
/// assert_eq!(seen[..2], [TokenOutcome::Valid, TokenOutcome::Expired]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenOutcome {
    /// A valid token (the participant's name).
    Valid,
    /// A token the server refuses ([`Fault::ExpireToken`]).
    Expired,
    /// `Input::TokenFailed` ([`ParticipantConfig::token_failure_one_in`]).
    Failed,
}

/// Something that just happened, as an [`Observer`] sees it.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Fault, Happening, Observer, SimView, TokenOutcome};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
///
/// /// Keeps how each token request was answered.
/// #[derive(Default)]
/// struct Tokens(Vec<TokenOutcome>);
///
/// impl Observer for Tokens {
///     fn on_happening(&mut self, _sim: &SimView<'_>, what: &Happening<'_>) -> Result<(), String> {
///         if let Happening::Token { outcome, .. } = what {
///             self.0.push(*outcome);
///         }
///         Ok(())
///     }
/// }
///
/// let mut world = Builder::new();
/// world.observer(Tokens::default());
/// let bot = world.participant("bot", Quiet)?;
/// // The next token has expired, and the next connection needs one.
/// world.fault_at(Duration::from_secs(1), Fault::ExpireToken { participant: bot });
/// world.fault_at(Duration::from_secs(2), Fault::Kick { participant: bot });
/// let mut sim = world.build();
/// sim.run_for(Duration::from_secs(10))?;
/// let seen = &sim.observer::<Tokens>().expect("ours").0;
/// assert_eq!(seen[..2], [TokenOutcome::Valid, TokenOutcome::Expired]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy)]
pub enum Happening<'a> {
    /// A participant's command (from its bot, or the simulation's own `connect`).
    Command {
        /// Which participant.
        participant: ParticipantId,
        /// The command and its result.
        command: &'a Command,
    },
    /// A participant's session asked for a token (`Step::Token`); its simulated provider
    /// answers later ([`Happening::Token`]).
    TokenRequest {
        /// Which participant.
        participant: ParticipantId,
        /// 0 for the first connection, then the reconnection attempt.
        attempt: u32,
    },
    /// A participant's token provider answered.
    Token {
        /// Which participant.
        participant: ParticipantId,
        /// How.
        outcome: TokenOutcome,
    },
    /// A participant's session produced an event (before its bot sees it).
    Event {
        /// Which participant.
        participant: ParticipantId,
        /// The event.
        event: &'a SpacesEvent,
    },
    /// A participant's session asked for a transmit (before the network carries it).
    Transmit {
        /// Which participant.
        participant: ParticipantId,
        /// The transmit.
        transmit: &'a Transmit,
    },
    /// The emulator produced an event.
    Server(&'a EmulatorEvent),
    /// A fault starts.
    Fault(&'a Fault),
}

/// Checks a run as it goes, e.g. a project's invariants. Every hook gets a read-only
/// [`SimView`]; an `Err` stops the run, and [`Sim::run_for`](crate::Sim::run_for) returns it as
/// a [`SimError`](crate::SimError) with the seed, the virtual time and the last trace lines.
/// Install one with [`Builder::observer`](crate::Builder::observer); read it back with
/// [`Sim::observer`](crate::Sim::observer).
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Observer, SimErrorKind, SimView};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
///
/// /// Fails the run at the first step past 2 s.
/// struct Deadline;
///
/// impl Observer for Deadline {
///     fn on_step(&mut self, sim: &SimView<'_>) -> Result<(), String> {
///         if sim.elapsed() > Duration::from_secs(2) {
///             return Err("too late".to_owned());
///         }
///         Ok(())
///     }
/// }
///
/// let mut world = Builder::new();
/// world.seed(3).observer(Deadline);
/// world.participant("bot", Quiet)?;
/// let error = world.run_for(Duration::from_secs(10)).unwrap_err();
/// assert_eq!(error.kind, SimErrorKind::Violation);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Observer: Any {
    /// After every command, token, event, transmit, server event and fault.
    fn on_happening(&mut self, sim: &SimView<'_>, what: &Happening<'_>) -> Result<(), String> {
        let _ = (sim, what);
        Ok(())
    }

    /// After every step (one input fed to one machine, and its drain).
    fn on_step(&mut self, sim: &SimView<'_>) -> Result<(), String> {
        let _ = sim;
        Ok(())
    }

    /// When the test calls [`Sim::checkpoint`](crate::Sim::checkpoint) with `label`.
    fn on_checkpoint(&mut self, sim: &SimView<'_>, label: &str) -> Result<(), String> {
        let _ = (sim, label);
        Ok(())
    }
}

/// The observer that checks nothing.
impl Observer for () {}

/// A read-only look at a running simulation. Get one in an [`Observer`] hook or from
/// [`Sim::view`](crate::Sim::view).
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::Builder;
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
///
/// let mut world = Builder::new();
/// let bot = world.participant("bot", Quiet)?;
/// let mut sim = world.build();
/// sim.run_for(Duration::from_secs(2))?;
/// let view = sim.view();
/// assert_eq!(view.elapsed(), Duration::from_secs(2));
/// assert_eq!(view.participants().count(), 1);
/// assert!(view.participant(bot).spaces().is_connected());
/// assert_eq!(view.emulator().connections(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct SimView<'a> {
    pub(crate) w: &'a World,
}

impl<'a> SimView<'a> {
    /// The virtual now.
    pub fn now(&self) -> Instant {
        self.w.now
    }

    /// Virtual time since the start.
    pub fn elapsed(&self) -> Duration {
        self.w.now - self.w.base
    }

    /// The `Instant` virtual time counts from.
    pub fn base(&self) -> Instant {
        self.w.base
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.w.seed
    }

    /// Every participant, in the order they were added (then the second connections
    /// [`Fault::SecondConnection`] opened).
    pub fn participants(&self) -> impl Iterator<Item = ParticipantView<'a>> + 'a {
        let w = self.w;
        (0..w.parts.len()).map(move |index| ParticipantView { w, index })
    }

    /// One participant (panics for an id of another run's, out of range).
    pub fn participant(&self, id: ParticipantId) -> ParticipantView<'a> {
        assert!(
            id.0 < self.w.parts.len(),
            "{id:?} is not a participant of this run"
        );
        ParticipantView {
            w: self.w,
            index: id.0,
        }
    }

    /// Every connection that can still carry something.
    pub fn links(&self) -> impl Iterator<Item = LinkView<'a>> + 'a {
        self.w.links.values().map(|link| LinkView { link })
    }

    /// The connection the emulator calls `conn`, while the network still knows it.
    pub fn link_of_conn(&self, conn: ConnId) -> Option<LinkView<'a>> {
        let id = self.w.conns.get(&conn)?;
        self.w.links.get(id).map(|link| LinkView { link })
    }

    /// The emulator (the current one, after restarts).
    pub fn emulator(&self) -> &'a Emulator {
        &self.w.server
    }

    /// The emulator's configuration (heartbeat, limits).
    pub fn server_config(&self) -> &'a EmulatorConfig {
        self.w.server.config()
    }

    /// The longest a dead link can go unnoticed by a heartbeat: `ping_interval + ping_timeout`.
    pub fn heartbeat_bound(&self) -> Duration {
        let c = self.w.server.config();
        c.ping_interval + c.ping_timeout
    }

    /// The largest one-way delay any message can see in this run (latency, jitter and the
    /// worst slow-down among its faults).
    pub fn max_latency(&self) -> Duration {
        self.w.max_latency
    }

    /// The largest one-way delay without faults.
    pub fn calm_latency(&self) -> Duration {
        self.w.net.calm_latency()
    }

    /// The end of the fault window ([`FaultMix::window`](crate::FaultMix::window)), if any.
    pub fn fault_window(&self) -> Option<Duration> {
        self.w.chaos_until
    }

    /// Whether the fault window is over (always false without a [`FaultMix`](crate::FaultMix)).
    pub fn calm(&self) -> bool {
        self.w.calm()
    }
}

/// A read-only look at one participant, from [`SimView::participant`].
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::Builder;
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
///
/// let mut world = Builder::new();
/// let bot = world.participant("bot", Quiet)?;
/// let mut sim = world.build();
/// sim.run_for(Duration::from_secs(2))?;
/// let view = sim.view();
/// let p = view.participant(bot);
/// assert_eq!((p.id(), p.name()), (bot, "bot"));
/// assert_eq!(p.report().connects, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct ParticipantView<'a> {
    w: &'a World,
    index: usize,
}

impl<'a> ParticipantView<'a> {
    /// Its handle.
    pub fn id(&self) -> ParticipantId {
        ParticipantId(self.index)
    }

    /// Its name (and user id).
    pub fn name(&self) -> &'a str {
        &self.w.parts[self.index].name
    }

    /// Its session.
    pub fn spaces(&self) -> &'a Spaces {
        &self.w.parts[self.index].spaces
    }

    /// Its simulation settings, its session's configuration among them.
    pub fn config(&self) -> &'a ParticipantConfig {
        &self.w.parts[self.index].config
    }

    /// The client configuration its session was built from (backoff bounds, timeouts).
    pub fn session_config(&self) -> &'a Config {
        &self.w.parts[self.index].session_config
    }

    /// Its current websocket, if one is open on its side.
    pub fn link(&self) -> Option<LinkView<'a>> {
        self.w.parts[self.index]
            .link
            .and_then(|id| self.w.links.get(&id))
            .map(|link| LinkView { link })
    }

    /// Its most recent websocket (the one a drain's events come from, even when it was closed
    /// earlier in the drain), while the network still knows it.
    pub fn last_link(&self) -> Option<LinkView<'a>> {
        self.w.parts[self.index]
            .last_link
            .and_then(|id| self.w.links.get(&id))
            .map(|link| LinkView { link })
    }

    /// What it went through so far.
    pub fn report(&self) -> &'a ParticipantReport {
        &self.w.parts[self.index].report
    }
}

/// A read-only look at one simulated websocket.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::Builder;
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
///
/// let mut world = Builder::new();
/// let bot = world.participant("bot", Quiet)?;
/// let mut sim = world.build();
/// sim.run_for(Duration::from_secs(2))?;
/// let view = sim.view();
/// let link = view.participant(bot).link().expect("connected");
/// assert!(link.client_open() && link.server_open());
/// assert_eq!(link.participant(), bot);
/// assert!(link.conn().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct LinkView<'a> {
    link: &'a Link,
}

impl<'a> LinkView<'a> {
    /// The network's id for it (increasing, never reused).
    pub fn id(&self) -> u64 {
        self.link.id
    }

    /// The participant that opened it.
    pub fn participant(&self) -> ParticipantId {
        ParticipantId(self.link.participant)
    }

    /// The emulator's id, once it accepted the connect.
    pub fn conn(&self) -> Option<ConnId> {
        self.link.conn
    }

    /// The participant still reads it.
    pub fn client_open(&self) -> bool {
        self.link.client_open
    }

    /// The emulator knows it.
    pub fn server_open(&self) -> bool {
        self.link.server_open
    }

    /// When the participant opened it.
    pub fn opened_at(&self) -> Instant {
        self.link.opened_at
    }

    /// When the participant last received something on it (`opened_at` before that).
    pub fn client_last_recv(&self) -> Instant {
        self.link.client_last_recv
    }

    /// When the emulator last received a frame on it.
    pub fn server_last_recv(&self) -> Instant {
        self.link.server_last_recv
    }

    /// Since when nothing reaches the server on it (a half-open link or a silent server).
    pub fn up_dead_since(&self) -> Option<Instant> {
        self.link.up_dead_at
    }

    /// Nothing can reach the participant on it any more.
    pub fn down_dead(&self) -> bool {
        self.link.down_dead
    }

    /// The spaces the emulator has it subscribed to.
    pub fn server_rooms(&self) -> &'a BTreeSet<String> {
        &self.link.server_rooms
    }

    /// Its handshake carried an expired token.
    pub fn expired_token(&self) -> bool {
        self.link.expired_token
    }

    /// The participant sent its namespace DISCONNECT (`41/chat`) on it.
    pub fn client_left(&self) -> bool {
        self.link.client_left
    }

    /// The server was told to disconnect the namespace on it.
    pub fn server_left(&self) -> bool {
        self.link.server_left
    }

    /// Messages in flight towards the server.
    pub fn in_flight_up(&self) -> usize {
        self.link.up.queue.len()
    }

    /// Messages in flight towards the participant.
    pub fn in_flight_down(&self) -> usize {
        self.link.down.queue.len()
    }
}
