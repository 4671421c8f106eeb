//! The user's code in a simulation: a [`Bot`] reacting to events through a [`Ctx`].

use std::any::Any;
use std::time::{Duration, Instant};

use spaces_socket::spaces::{
    SendError, SendId, SendMessage, SendPresenceEvent, Spaces, SpacesEvent,
};

use spaces_socket_emulator::rng::Rng;

use crate::plan::ParticipantId;

/// A participant's code: the bot under test, or a scripted user around it. No threads, no
/// sockets: the simulation calls it with a [`Ctx`] and it answers with commands.
///
/// ```
/// use spaces_socket::spaces::SpacesEvent;
/// use spaces_socket_sim::{Bot, Ctx};
///
/// /// Says hello once connected.
/// struct Greeter;
///
/// impl Bot for Greeter {
///     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
///         ctx.subscribe("lobby");
///     }
///
///     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
///         if let SpacesEvent::Subscribed { space } = event {
///             let _ = ctx.send_text(space, "hello");
///         }
///     }
/// }
/// ```
pub trait Bot: Any {
    /// Called once, at the participant's [`start`](crate::ParticipantConfig::start), before its
    /// session connects: subscribe here.
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let _ = ctx;
    }

    /// Called for every event of the participant's session, in order (a `Spaces` drain).
    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent);

    /// Called when a timer set with [`Ctx::set_timer`] (or poked with
    /// [`Sim::wake`](crate::Sim::wake)) is due.
    fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: u64) {
        let _ = (ctx, timer);
    }
}

/// A command a bot issued, as the trace, the [`Observer`](crate::Observer) and the report see
/// it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `connect` (by the simulation at the start and to reopen, or by the bot).
    Connect {
        /// The session was closed (so this starts a new one).
        was_closed: bool,
    },
    /// `subscribe`.
    Subscribe(String),
    /// `unsubscribe`.
    Unsubscribe(String),
    /// `send_message`.
    Send {
        /// The space (`topicId`).
        space: String,
        /// `content.bodyText` (empty if none).
        text: String,
        /// Unconfirmed messages just before.
        unconfirmed_before: usize,
        /// What `send_message` returned.
        result: Result<SendId, SendError>,
    },
    /// `send_presence`.
    Presence {
        /// The space.
        space: String,
        /// The session was connected and subscribed to the space just before.
        subscribed_before: bool,
        /// What `send_presence` returned.
        result: Result<(), SendError>,
    },
    /// `close`.
    Close {
        /// The session was already closed.
        was_closed: bool,
    },
}

/// What a [`Bot`] can see and do, for one call: the virtual clock, its session's state and
/// commands, a seeded generator and timers. Commands take effect at once; what they cause (frames,
/// events) follows after the call returns.
pub struct Ctx<'a> {
    pub(crate) now: Instant,
    pub(crate) elapsed: Duration,
    pub(crate) index: usize,
    pub(crate) name: &'a str,
    pub(crate) spaces: &'a mut Spaces,
    pub(crate) rng: &'a mut Rng,
    pub(crate) timers: &'a mut Vec<(Duration, u64)>,
    pub(crate) commands: &'a mut Vec<Command>,
}

impl Ctx<'_> {
    /// The virtual now (pass it on to anything that wants an `Instant`).
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since the simulation started.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// This participant's handle.
    pub fn participant(&self) -> ParticipantId {
        ParticipantId(self.index)
    }

    /// This participant's name, which is also its user id on the emulator.
    pub fn name(&self) -> &str {
        self.name
    }

    /// This participant's own generator, drawn from the run's seed: use it for every random
    /// choice, so the run replays.
    pub fn rng(&mut self) -> &mut Rng {
        self.rng
    }

    /// Calls [`Bot::on_timer`] with `timer` after `after` of virtual time.
    pub fn set_timer(&mut self, after: Duration, timer: u64) {
        self.timers.push((after, timer));
    }

    /// The session, to read its state (`is_connected`, `is_subscribed`, `unconfirmed`…).
    pub fn spaces(&self) -> &Spaces {
        self.spaces
    }

    /// `Spaces::subscribe` (no PIN): subscribed now if connected, else once connected, and
    /// again after every reconnect. Expect [`SpacesEvent::Subscribed`].
    pub fn subscribe(&mut self, space: &str) {
        self.spaces.subscribe(self.now, space, None);
        self.commands.push(Command::Subscribe(space.to_owned()));
    }

    /// `Spaces::unsubscribe`.
    pub fn unsubscribe(&mut self, space: &str) {
        self.spaces.unsubscribe(self.now, space);
        self.commands.push(Command::Unsubscribe(space.to_owned()));
    }

    /// `Spaces::send_message`: on `Ok`, expect exactly one [`SpacesEvent::Confirmed`] or
    /// [`SpacesEvent::SendFailed`] with the id.
    pub fn send_message(&mut self, message: SendMessage) -> Result<SendId, SendError> {
        let space = message.topic_id.clone();
        let text = message.content.body_text.clone().unwrap_or_default();
        let unconfirmed_before = self.spaces.unconfirmed();
        let result = self.spaces.send_message(self.now, message);
        self.commands.push(Command::Send {
            space,
            text,
            unconfirmed_before,
            result: result.clone(),
        });
        result
    }

    /// A chat message with `text` to `space`; see [`send_message`](Self::send_message).
    pub fn send_text(&mut self, space: &str, text: &str) -> Result<SendId, SendError> {
        self.send_message(SendMessage::chat(space, text))
    }

    /// `Spaces::send_presence` (only while connected and subscribed).
    pub fn send_presence(&mut self, presence: &SendPresenceEvent) -> Result<(), SendError> {
        let space = presence.topic_id.clone();
        let subscribed_before = self.spaces.is_connected() && self.spaces.is_subscribed(&space);
        let result = self.spaces.send_presence(self.now, presence);
        self.commands.push(Command::Presence {
            space,
            subscribed_before,
            result: result.clone(),
        });
        result
    }

    /// `Spaces::close`: unresolved sends fail with `SendFailure::Closed`; the session stays
    /// closed until [`connect`](Self::connect).
    pub fn close(&mut self) {
        let was_closed = self.spaces.is_closed();
        self.spaces.close(self.now);
        self.commands.push(Command::Close { was_closed });
    }

    /// `Spaces::connect`: starts a session again after a [`close`](Self::close). Tokens are
    /// handed over by the simulation.
    pub fn connect(&mut self) {
        let was_closed = self.spaces.is_closed();
        self.spaces.connect(self.now);
        self.commands.push(Command::Connect { was_closed });
    }
}
