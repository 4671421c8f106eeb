//! Bots, written once: a [`Bot`] reacts to its session's events and to its own timers through a
//! [`Ctx`], and a [`Host`] runs it. Everything here is sans-IO, so the very same bot type runs on
//! every runtime (their `run`) and in the simulation kit, on a virtual clock.
//!
//! - [`Bot`]: `on_start`, then `on_event` for every [`SpacesEvent`] in order, and `on_timer`
//!   when a timer it set is due.
//! - [`Ctx`]: what a bot can see and do during one call: `now`, a seeded [`Rng`], who it is
//!   ([`Ctx::me`]), the session's commands (subscribe, send, presence, close), its timers, and
//!   read access to the [`Spaces`] session. Commands return the core's own errors
//!   ([`SendError`]), the same in production and in simulation.
//! - [`Host`]: the bot, its timers, its generator and (optionally) a journal of every command
//!   it issued. Whoever owns the session drives it: [`Host::start`] once, then
//!   [`Host::handle_event`] for each event and [`Host::handle_timeout`] when
//!   [`Host::poll_timeout`] is due; or, for a bare [`Spaces`], [`Host::poll_output`] does all
//!   of it in the session's own poll order.
//!
//! # Example
//!
//! A bot that greets a space, driven by hand over a sans-IO session (a runtime's `run` or the
//! simulation does the driving for real):
//!
//! ```
//! use std::time::{Duration, Instant};
//! use spaces_socket::bot::{Bot, Ctx, Host};
//! use spaces_socket::spaces::{Spaces, SpacesConfig, SpacesEvent, Step};
//!
//! /// Says hello once subscribed, then "still here" every minute.
//! struct Greeter;
//!
//! impl Bot for Greeter {
//!     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
//!         ctx.subscribe("lobby");
//!     }
//!
//!     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
//!         if let SpacesEvent::Subscribed { space } = event {
//!             let _ = ctx.send_text(space, "hello");
//!             ctx.set_timer(Duration::from_secs(60), 0);
//!         }
//!     }
//!
//!     fn on_timer(&mut self, ctx: &mut Ctx<'_>, _timer: u64) {
//!         let _ = ctx.send_text("lobby", "still here");
//!     }
//! }
//!
//! let now = Instant::now();
//! let mut spaces = Spaces::new(SpacesConfig::new("http://127.0.0.1:9/chat")?)?;
//! spaces.connect(now);
//! let mut host = Host::new(Greeter, 7);
//! host.start(&mut spaces, now);
//! assert!(!spaces.is_subscribed("lobby")); // wanted: subscribed once connected
//! // The session asks for a token first: a runtime answers it from its TokenProvider.
//! assert!(matches!(host.poll_output(&mut spaces, now), Step::Token { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::rng::Rng;
use crate::spaces::{
    MessageSent, SendError, SendId, SendMessage, SendPresenceEvent, Spaces, SpacesEvent, Step,
};

/// A bot: code that reacts to a Spaces session's events and to its own timers. No threads, no
/// sockets, no clock: a [`Host`] calls it with a [`Ctx`], through which it acts. The same type
/// runs on every runtime (their `run`) and in the simulation.
///
/// ```
/// use spaces_socket::bot::{Bot, Ctx};
/// use spaces_socket::spaces::SpacesEvent;
///
/// /// Answers every chat message of someone else with "echo: <text>".
/// struct Echo;
///
/// impl Bot for Echo {
///     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
///         ctx.subscribe("lobby");
///     }
///
///     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
///         if let SpacesEvent::Message(m) = event {
///             let text = m.content.as_ref().and_then(|c| c.body_text.as_deref());
///             // Our own user's messages from other connections are `OwnMessage`, not
///             // `Message`: an echo bot never answers itself.
///             if let Some(text) = text {
///                 let _ = ctx.send_text("lobby", &format!("echo: {text}"));
///             }
///         }
///     }
/// }
/// ```
pub trait Bot {
    /// Called once, first: subscribe here. The session may not be connected yet (commands
    /// are kept until it is, see [`Spaces::subscribe`]).
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        let _ = ctx;
    }

    /// Called for every event of the session, in order.
    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent);

    /// Called when a timer set with [`Ctx::set_timer`] is due, with its id.
    fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: u64) {
        let _ = (ctx, timer);
    }
}

impl<B: Bot + ?Sized> Bot for Box<B> {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        (**self).on_start(ctx);
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
        (**self).on_event(ctx, event);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: u64) {
        (**self).on_timer(ctx, timer);
    }
}

impl<B: Bot + ?Sized> Bot for &mut B {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        (**self).on_start(ctx);
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
        (**self).on_event(ctx, event);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: u64) {
        (**self).on_timer(ctx, timer);
    }
}

/// The session a [`Ctx`] commands: a [`Spaces`], or a wrapper around one that also records
/// (a runtime's recorded session). Each method is the [`Spaces`] one of the same name.
pub trait SessionCommands {
    /// The session, to read its state.
    fn spaces(&self) -> &Spaces;
    /// [`Spaces::connect`].
    fn connect(&mut self, now: Instant);
    /// [`Spaces::subscribe`].
    fn subscribe(&mut self, now: Instant, space: &str, password: Option<&str>);
    /// [`Spaces::unsubscribe`].
    fn unsubscribe(&mut self, now: Instant, space: &str);
    /// [`Spaces::send_message`].
    ///
    /// # Errors
    /// As [`Spaces::send_message`].
    fn send_message(&mut self, now: Instant, message: SendMessage) -> Result<SendId, SendError>;
    /// [`Spaces::send_presence`].
    ///
    /// # Errors
    /// As [`Spaces::send_presence`].
    fn send_presence(
        &mut self,
        now: Instant,
        presence: &SendPresenceEvent,
    ) -> Result<(), SendError>;
    /// [`Spaces::close`].
    fn close(&mut self, now: Instant);
}

impl SessionCommands for Spaces {
    fn spaces(&self) -> &Spaces {
        self
    }
    fn connect(&mut self, now: Instant) {
        Self::connect(self, now);
    }
    fn subscribe(&mut self, now: Instant, space: &str, password: Option<&str>) {
        Self::subscribe(self, now, space, password);
    }
    fn unsubscribe(&mut self, now: Instant, space: &str) {
        Self::unsubscribe(self, now, space);
    }
    fn send_message(&mut self, now: Instant, message: SendMessage) -> Result<SendId, SendError> {
        Self::send_message(self, now, message)
    }
    fn send_presence(
        &mut self,
        now: Instant,
        presence: &SendPresenceEvent,
    ) -> Result<(), SendError> {
        Self::send_presence(self, now, presence)
    }
    fn close(&mut self, now: Instant) {
        Self::close(self, now);
    }
}

/// A command a bot issued, with what it returned, as the [`Host`]'s journal keeps it
/// ([`Host::record_commands`]): what a simulation's trace and checks see.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `connect` ([`Host::connect`]).
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

/// The bot's timers: id by deadline, in the order they were set.
#[derive(Debug, Default)]
struct Timers {
    due: BTreeMap<(Instant, u64), u64>,
    /// Orders timers with the same deadline, and tells timers set during a firing round apart.
    next_seq: u64,
}

/// Everything of a [`Host`] but the bot, so a [`Ctx`] can borrow it while the bot is called.
#[derive(Debug)]
struct HostState {
    rng: Rng,
    timers: Timers,
    journal: Option<Vec<Command>>,
    started: Option<Instant>,
    closed: bool,
}

/// What a [`Bot`] can see and do during one call: the current time, its generator, who it is,
/// its session's state and commands, and its timers. Commands take effect on the session at
/// once; what they cause (frames, events) follows once the call returns.
pub struct Ctx<'a> {
    now: Instant,
    session: &'a mut dyn SessionCommands,
    state: &'a mut HostState,
}

impl core::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ctx")
            .field("now", &self.now)
            .finish_non_exhaustive()
    }
}

impl Ctx<'_> {
    /// The current time (virtual in a simulation): pass it on to anything wanting an `Instant`.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Time since [`Bot::on_start`] was called.
    pub fn elapsed(&self) -> Duration {
        let started = self.state.started.unwrap_or(self.now);
        self.now.saturating_duration_since(started)
    }

    /// The bot's own generator, seeded by its [`Host`]: draw every random choice from it, so a
    /// simulation replays.
    pub fn rng(&mut self) -> &mut Rng {
        &mut self.state.rng
    }

    /// Our own user id ([`Spaces::me`]): from
    /// [`SpacesConfig::user_id`](crate::spaces::SpacesConfig::user_id) when set, else learnt
    /// from the first echo of one of our messages; `None` until then.
    pub fn me(&self) -> Option<&str> {
        self.session.spaces().me()
    }

    /// True when `message` was sent by our own user ([`Spaces::is_own`]). Messages of our user
    /// from other connections already arrive as [`SpacesEvent::OwnMessage`]; this also tells
    /// our own in other events.
    pub fn is_own(&self, message: &MessageSent) -> bool {
        self.session.spaces().is_own(message)
    }

    /// The session, to read its state (`is_connected`, `is_subscribed`, `unconfirmed`, …).
    pub fn spaces(&self) -> &Spaces {
        self.session.spaces()
    }

    fn journal(&mut self, command: impl FnOnce() -> Command) {
        if let Some(journal) = self.state.journal.as_mut() {
            journal.push(command());
        }
    }

    /// Wants `space` subscribed, now and after every reconnection ([`Spaces::subscribe`], no
    /// PIN). Expect [`SpacesEvent::Subscribed`] or [`SpacesEvent::SubscribeFailed`].
    pub fn subscribe(&mut self, space: &str) {
        self.session.subscribe(self.now, space, None);
        self.journal(|| Command::Subscribe(space.to_owned()));
    }

    /// [`subscribe`](Self::subscribe) to a space that has a PIN.
    pub fn subscribe_with_pin(&mut self, space: &str, pin: &str) {
        self.session.subscribe(self.now, space, Some(pin));
        self.journal(|| Command::Subscribe(space.to_owned()));
    }

    /// Stops wanting `space` ([`Spaces::unsubscribe`]).
    pub fn unsubscribe(&mut self, space: &str) {
        self.session.unsubscribe(self.now, space);
        self.journal(|| Command::Unsubscribe(space.to_owned()));
    }

    /// Sends a message ([`Spaces::send_message`]): on `Ok`, expect exactly one
    /// [`SpacesEvent::Confirmed`] or [`SpacesEvent::SendFailed`] with the returned id.
    ///
    /// # Errors
    /// [`SendError`]: not subscribed, too large, the queue full or rate limited; nothing was
    /// queued.
    pub fn send_message(&mut self, message: SendMessage) -> Result<SendId, SendError> {
        let journal = self.state.journal.is_some().then(|| {
            let text = message.content.body_text.clone().unwrap_or_default();
            (message.topic_id.clone(), text, self.spaces().unconfirmed())
        });
        let result = self.session.send_message(self.now, message);
        if let Some((space, text, unconfirmed_before)) = journal {
            let result = result.clone();
            self.journal(|| Command::Send {
                space,
                text,
                unconfirmed_before,
                result,
            });
        }
        result
    }

    /// A chat message with `text` to `space`; see [`send_message`](Self::send_message).
    ///
    /// # Errors
    /// As [`send_message`](Self::send_message).
    pub fn send_text(&mut self, space: &str, text: &str) -> Result<SendId, SendError> {
        self.send_message(SendMessage::chat(space, text))
    }

    /// Sends a presence event ([`Spaces::send_presence`]), only while connected and subscribed
    /// to its space.
    ///
    /// # Errors
    /// [`SendError::NotConnected`] otherwise, or a size error.
    pub fn send_presence(&mut self, presence: &SendPresenceEvent) -> Result<(), SendError> {
        let space = &presence.topic_id;
        let subscribed_before = self.spaces().is_connected() && self.spaces().is_subscribed(space);
        let result = self.session.send_presence(self.now, presence);
        let result_copy = result.clone();
        self.journal(|| Command::Presence {
            space: presence.topic_id.clone(),
            subscribed_before,
            result: result_copy,
        });
        result
    }

    /// Closes the session ([`Spaces::close`]): unconfirmed messages fail with
    /// [`SendFailure::Closed`](crate::spaces::SendFailure::Closed), [`SpacesEvent::Closed`]
    /// follows, and a runtime's `run` returns once the socket is shut.
    pub fn close(&mut self) {
        let was_closed = self.spaces().is_closed();
        self.session.close(self.now);
        self.state.closed = true;
        self.journal(|| Command::Close { was_closed });
    }

    /// Calls [`Bot::on_timer`] with `timer` once `after` has passed. Several timers may share
    /// an id; each fires once.
    pub fn set_timer(&mut self, after: Duration, timer: u64) {
        let at = self.now.checked_add(after).unwrap_or(self.now);
        let timers = &mut self.state.timers;
        timers.due.insert((at, timers.next_seq), timer);
        timers.next_seq += 1;
    }

    /// Cancels every pending timer with id `timer`; returns how many there were.
    pub fn cancel_timer(&mut self, timer: u64) -> usize {
        let due = &mut self.state.timers.due;
        let before = due.len();
        due.retain(|_, id| *id != timer);
        before - due.len()
    }
}

/// Runs one [`Bot`]: owns it, its timers, its generator and an optional journal of its
/// commands, and is driven by whoever owns the session (a runtime's `run`, the simulation, a
/// test). Sans-IO: time comes in as `now`.
///
/// Drive it in one of two ways:
/// - by event: [`start`](Self::start) once, then [`handle_event`](Self::handle_event) with
///   every event taken from the session, and [`handle_timeout`](Self::handle_timeout) when
///   [`poll_timeout`](Self::poll_timeout) has passed (a runtime waits for the earlier of that
///   and the next event);
/// - for a bare [`Spaces`]: [`start`](Self::start), then [`poll_output`](Self::poll_output)
///   in place of [`Spaces::poll_output`], which hands events and due timers to the bot and
///   returns only transmits, token requests and the deadline to wait for.
#[derive(Debug)]
pub struct Host<B> {
    bot: B,
    state: HostState,
}

impl<B: Bot> Host<B> {
    /// A host for `bot`, whose [`Ctx::rng`] draws from `seed` (runtimes draw it from the OS;
    /// simulations from their seed). Call [`start`](Self::start) next.
    pub fn new(bot: B, seed: u64) -> Self {
        Self {
            bot,
            state: HostState {
                rng: Rng::new(seed),
                timers: Timers::default(),
                journal: None,
                started: None,
                closed: false,
            },
        }
    }

    /// Keeps every command the bot issues from now on, with its result, for
    /// [`take_commands`](Self::take_commands).
    pub fn record_commands(&mut self) {
        self.state.journal.get_or_insert_with(Vec::new);
    }

    /// The commands issued since the last call, oldest first (empty unless
    /// [`record_commands`](Self::record_commands) was called).
    pub fn take_commands(&mut self) -> Vec<Command> {
        self.state
            .journal
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Calls `f` with the bot and a [`Ctx`] on `session` at `now`.
    fn call(
        &mut self,
        session: &mut dyn SessionCommands,
        now: Instant,
        f: impl FnOnce(&mut B, &mut Ctx<'_>),
    ) {
        let mut ctx = Ctx {
            now,
            session,
            state: &mut self.state,
        };
        f(&mut self.bot, &mut ctx);
    }

    /// Calls [`Bot::on_start`] (once; later calls do nothing). Then drain the session.
    pub fn start(&mut self, session: &mut dyn SessionCommands, now: Instant) {
        if self.state.started.is_none() {
            self.state.started = Some(now);
            self.call(session, now, |bot, ctx| bot.on_start(ctx));
        }
    }

    /// Hands `event` (just taken from `session`) to [`Bot::on_event`]. Then drain the session.
    pub fn handle_event(
        &mut self,
        session: &mut dyn SessionCommands,
        now: Instant,
        event: &SpacesEvent,
    ) {
        self.call(session, now, |bot, ctx| bot.on_event(ctx, event));
    }

    /// Fires every timer due at `now`, earliest first ([`Bot::on_timer`]). Timers set meanwhile
    /// wait for the next call, even when already due, so a bot re-arming a zero delay cannot
    /// loop here. Early or late is harmless. Then drain the session.
    pub fn handle_timeout(&mut self, session: &mut dyn SessionCommands, now: Instant) {
        let round = self.state.timers.next_seq;
        loop {
            let due = self.state.timers.due.iter();
            let next = due.take_while(|((at, _), _)| *at <= now);
            let Some(key) = next.map(|(key, _)| *key).find(|(_, seq)| *seq < round) else {
                return;
            };
            let Some(timer) = self.state.timers.due.remove(&key) else {
                return;
            };
            self.call(session, now, |bot, ctx| bot.on_timer(ctx, timer));
        }
    }

    /// Calls [`Bot::on_timer`] with `timer` now, as if a timer were due (a test or a
    /// simulation poking the bot). Then drain the session.
    pub fn fire(&mut self, session: &mut dyn SessionCommands, now: Instant, timer: u64) {
        self.call(session, now, |bot, ctx| bot.on_timer(ctx, timer));
    }

    /// Starts the session ([`Spaces::connect`], journaled as [`Command::Connect`]): for a
    /// driver that opens the session itself, such as a simulation (runtimes connect on their
    /// own).
    pub fn connect(&mut self, session: &mut dyn SessionCommands, now: Instant) {
        let was_closed = session.spaces().is_closed();
        session.connect(now);
        if let Some(journal) = self.state.journal.as_mut() {
            journal.push(Command::Connect { was_closed });
        }
    }

    /// The earliest deadline of the bot's timers (`None`: none set): call
    /// [`handle_timeout`](Self::handle_timeout) once it has passed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.state.timers.due.keys().next().map(|(at, _)| *at)
    }

    /// [`Spaces::poll_output`] with the bot in the loop: events go to [`Bot::on_event`] and
    /// due timers to [`Bot::on_timer`], and what the bot does comes out of the following
    /// calls. Returns transmits and token requests to carry out, or [`Step::Wait`] with the
    /// earlier of the session's and the bot's deadlines. Call it after every input until it
    /// returns [`Step::Wait`].
    pub fn poll_output(&mut self, spaces: &mut Spaces, now: Instant) -> Step {
        loop {
            match spaces.poll_output() {
                Step::Event(event) => self.handle_event(spaces, now, &event),
                Step::Wait(deadline) => {
                    if self.poll_timeout().is_some_and(|at| at <= now) {
                        self.handle_timeout(spaces, now);
                        continue;
                    }
                    let deadline = deadline.into_iter().chain(self.poll_timeout()).min();
                    return Step::Wait(deadline);
                }
                step => return step,
            }
        }
    }

    /// True once the bot has called [`Ctx::close`].
    pub fn closed_by_bot(&self) -> bool {
        self.state.closed
    }

    /// The bot.
    pub fn bot(&self) -> &B {
        &self.bot
    }

    /// The bot, to change it between calls.
    pub fn bot_mut(&mut self) -> &mut B {
        &mut self.bot
    }

    /// The bot, giving up the host.
    pub fn into_bot(self) -> B {
        self.bot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spaces::SpacesConfig;

    /// Records what it was called with; sends on start, sets timers as told.
    #[derive(Default)]
    struct Probe {
        calls: Vec<String>,
        rearm_zero: bool,
    }

    impl Bot for Probe {
        fn on_start(&mut self, ctx: &mut Ctx<'_>) {
            self.calls.push("start".into());
            ctx.subscribe("s1");
            let refused = ctx.send_text("elsewhere", "x");
            assert!(matches!(refused, Err(SendError::NotSubscribed(_))));
            ctx.set_timer(Duration::from_secs(2), 2);
            ctx.set_timer(Duration::from_secs(1), 1);
            ctx.set_timer(Duration::from_secs(1), 9);
            assert_eq!(ctx.cancel_timer(9), 1);
        }

        fn on_event(&mut self, _ctx: &mut Ctx<'_>, event: &SpacesEvent) {
            self.calls.push(format!("event {event:?}"));
        }

        fn on_timer(&mut self, ctx: &mut Ctx<'_>, timer: u64) {
            self.calls
                .push(format!("timer {timer} at {:?}", ctx.elapsed()));
            if self.rearm_zero {
                ctx.set_timer(Duration::ZERO, timer);
            }
        }
    }

    fn spaces() -> Spaces {
        Spaces::new(SpacesConfig::new("http://127.0.0.1:9/chat").unwrap()).unwrap()
    }

    #[test]
    fn timers_fire_in_deadline_order_and_cancelled_ones_never() {
        let t0 = Instant::now();
        let mut s = spaces();
        let mut host = Host::new(Probe::default(), 1);
        host.record_commands();
        host.start(&mut s, t0);
        host.start(&mut s, t0);
        assert_eq!(host.poll_timeout(), Some(t0 + Duration::from_secs(1)));
        host.handle_timeout(&mut s, t0 + Duration::from_millis(999));
        host.handle_timeout(&mut s, t0 + Duration::from_secs(5));
        assert_eq!(host.poll_timeout(), None);
        let calls = &host.bot().calls;
        assert_eq!(calls, &["start", "timer 1 at 5s", "timer 2 at 5s"]);
        let commands = host.take_commands();
        assert_eq!(commands[0], Command::Subscribe("s1".into()));
        assert!(matches!(&commands[1], Command::Send { result: Err(_), .. }));
        assert!(host.take_commands().is_empty());
    }

    #[test]
    fn a_timer_rearmed_at_zero_delay_waits_for_the_next_round() {
        let t0 = Instant::now();
        let mut s = spaces();
        let probe = Probe {
            rearm_zero: true,
            ..Probe::default()
        };
        let mut host = Host::new(probe, 1);
        host.start(&mut s, t0);
        let t = t0 + Duration::from_secs(3);
        host.handle_timeout(&mut s, t);
        assert_eq!(host.bot().calls.len(), 3, "{:?}", host.bot().calls);
        assert_eq!(host.poll_timeout(), Some(t));
    }

    #[test]
    fn poll_output_hands_events_to_the_bot_and_waits_for_its_timers_too() {
        let t0 = Instant::now();
        let mut s = spaces();
        let mut host = Host::new(Probe::default(), 1);
        host.start(&mut s, t0);
        host.close_for_test(&mut s, t0);
        let step = host.poll_output(&mut s, t0);
        assert!(
            matches!(step, Step::Wait(Some(at)) if at == t0 + Duration::from_secs(1)),
            "{step:?}"
        );
        let step = host.poll_output(&mut s, t0 + Duration::from_secs(1));
        assert!(matches!(step, Step::Wait(Some(_))), "{step:?}");
        assert_eq!(host.bot().calls.last().unwrap(), "timer 1 at 1s");
        assert!(host.closed_by_bot());
    }

    impl<B: Bot> Host<B> {
        fn close_for_test(&mut self, s: &mut Spaces, now: Instant) {
            self.call(s, now, |_, ctx| ctx.close());
        }
    }
}
