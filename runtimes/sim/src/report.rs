//! What a run reports: per participant, what it saw and did.

use std::collections::BTreeMap;
use std::time::Duration;

use spaces_socket::spaces::{MessageSent, SendFailure, SendId, SpacesEvent};

use crate::plan::{Fault, ParticipantId};

/// How one accepted send ended.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Outcome};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Reader;
/// # impl Bot for Reader {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Hello;
/// # impl Bot for Hello {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
/// #         if let SpacesEvent::Subscribed { space } = event {
/// #             let _ = ctx.send_text(space, "hello");
/// #         }
/// #     }
/// # }
///
/// let mut world = Builder::new();
/// let alice = world.participant("alice", Hello)?;
/// let bob = world.participant("bob", Reader)?;
/// let report = world.run_for(Duration::from_secs(3))?;
/// let send = &report.participant(alice).sends[0];
/// assert!(matches!(&send.outcome, Some(Outcome::Confirmed(id)) if !id.is_empty()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Confirmed (echoed back) with this server message `_id`.
    Confirmed(String),
    /// Failed.
    Failed(SendFailure),
}

/// One `send_message` that returned `Ok`.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Outcome};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Reader;
/// # impl Bot for Reader {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Hello;
/// # impl Bot for Hello {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
/// #         if let SpacesEvent::Subscribed { space } = event {
/// #             let _ = ctx.send_text(space, "hello");
/// #         }
/// #     }
/// # }
///
/// let mut world = Builder::new();
/// let alice = world.participant("alice", Hello)?;
/// let bob = world.participant("bob", Reader)?;
/// let report = world.run_for(Duration::from_secs(3))?;
/// let send = &report.participant(alice).sends[0];
/// assert_eq!((send.space.as_str(), send.text.as_str()), ("lobby", "hello"));
/// assert!(send.outcome.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendRecord {
    /// The id `send_message` returned.
    pub id: SendId,
    /// The space.
    pub space: String,
    /// `content.bodyText` (empty if none).
    pub text: String,
    /// When it was accepted (virtual time since the start).
    pub at: Duration,
    /// How it ended; `None` while unresolved.
    pub outcome: Option<Outcome>,
}

/// A message as a participant received it ([`SpacesEvent::Message`] or
/// [`SpacesEvent::OwnMessage`]).
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Outcome};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Reader;
/// # impl Bot for Reader {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Hello;
/// # impl Bot for Hello {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
/// #         if let SpacesEvent::Subscribed { space } = event {
/// #             let _ = ctx.send_text(space, "hello");
/// #         }
/// #     }
/// # }
///
/// let mut world = Builder::new();
/// let alice = world.participant("alice", Hello)?;
/// let bob = world.participant("bob", Reader)?;
/// let report = world.run_for(Duration::from_secs(3))?;
/// let got = &report.participant(bob).received;
/// assert_eq!(got[0].sender, "alice");
/// assert_eq!(got[0].text, "hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// When (virtual time since the start).
    pub at: Duration,
    /// The server's message `_id`.
    pub id: String,
    /// The space (`topicId`).
    pub space: String,
    /// The sender's user id (`sender._id`).
    pub sender: String,
    /// `content.bodyText` (empty if none).
    pub text: String,
}

impl Received {
    pub(crate) fn of(at: Duration, m: &MessageSent) -> Self {
        Self {
            at,
            id: m.id.clone().unwrap_or_default(),
            space: m.topic_id.clone().unwrap_or_default(),
            sender: (m.sender.as_ref().and_then(|s| s.id.clone())).unwrap_or_default(),
            text: (m.content.as_ref().and_then(|c| c.body_text.clone())).unwrap_or_default(),
        }
    }
}

/// What one participant went through. Find it with [`Report::participant`].
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Outcome};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Reader;
/// # impl Bot for Reader {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Hello;
/// # impl Bot for Hello {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
/// #         if let SpacesEvent::Subscribed { space } = event {
/// #             let _ = ctx.send_text(space, "hello");
/// #         }
/// #     }
/// # }
///
/// let mut world = Builder::new();
/// let alice = world.participant("alice", Hello)?;
/// let bob = world.participant("bob", Reader)?;
/// let report = world.run_for(Duration::from_secs(3))?;
/// let alice = report.participant(alice);
/// assert_eq!((alice.name.as_str(), alice.connects, alice.confirmed()), ("alice", 1, 1));
/// assert_eq!(alice.unresolved(), 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct ParticipantReport {
    /// Its name (and user id on the emulator).
    pub name: String,
    /// Every event with its virtual time, when
    /// [`Builder::record_events`](crate::Builder::record_events) is on.
    pub events: Vec<(Duration, SpacesEvent)>,
    /// Messages from others ([`SpacesEvent::Message`]), in arrival order.
    pub received: Vec<Received>,
    /// Messages of its own user from another connection ([`SpacesEvent::OwnMessage`]), in
    /// arrival order.
    pub own_received: Vec<Received>,
    /// Every accepted send, in send order, with its outcome.
    pub sends: Vec<SendRecord>,
    /// Sends refused by `send_message`, by error (`"not subscribed"`, `"queue full"`,
    /// `"rate limited"`, `"other"`).
    pub sends_refused: BTreeMap<&'static str, u32>,
    /// Faults that hit it (its own, and the server's), with their virtual time.
    pub faults: Vec<(Duration, Fault)>,
    /// Token requests (`Step::Token`).
    pub tokens_asked: u32,
    /// Token requests answered with an error.
    pub token_errors: u32,
    /// Websockets opened.
    pub opens: u32,
    /// A websocket opened while the previous one was still open.
    pub open_without_close: u32,
    /// `connect` calls that started a session (the first, and after each close).
    pub connect_calls: u32,
    /// `Connected` events.
    pub connects: u32,
    /// `Disconnected` events by reason (`DisconnectReason::as_str`).
    pub disconnects: BTreeMap<&'static str, u32>,
    /// `ConnectFailed` events.
    pub connect_failures: u32,
    /// Token requests (`Step::Token`) for a reconnection attempt.
    pub reconnect_attempts: u32,
    /// `Closed` events.
    pub closes: u32,
    /// Presence events accepted.
    pub presence_sent: u32,
}

impl ParticipantReport {
    /// Sends confirmed.
    pub fn confirmed(&self) -> usize {
        self.sends
            .iter()
            .filter(|s| matches!(s.outcome, Some(Outcome::Confirmed(_))))
            .count()
    }

    /// Sends failed.
    pub fn failed(&self) -> usize {
        self.sends
            .iter()
            .filter(|s| matches!(s.outcome, Some(Outcome::Failed(_))))
            .count()
    }

    /// Sends not resolved yet.
    pub fn unresolved(&self) -> usize {
        self.sends.iter().filter(|s| s.outcome.is_none()).count()
    }
}

/// The server's side of a run.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Outcome};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Reader;
/// # impl Bot for Reader {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Hello;
/// # impl Bot for Hello {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
/// #         if let SpacesEvent::Subscribed { space } = event {
/// #             let _ = ctx.send_text(space, "hello");
/// #         }
/// #     }
/// # }
///
/// let mut world = Builder::new();
/// let alice = world.participant("alice", Hello)?;
/// let bob = world.participant("bob", Reader)?;
/// let report = world.run_for(Duration::from_secs(3))?;
/// assert_eq!(report.server.messages, 1);
/// assert_eq!(report.server.restarts, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct ServerReport {
    /// Server restarts.
    pub restarts: u32,
    /// Connections the emulator closed for silence.
    pub ping_timeouts: u32,
    /// Messages the emulator accepted (re-sends included).
    pub messages: u32,
    /// Connects refused because the emulator was full (HTTP 503).
    pub full: u32,
}

/// What a run did, from [`Sim::report`](crate::Sim::report) or
/// [`Builder::run_for`](crate::Builder::run_for): assert on it in a test.
///
/// ```
/// use std::time::Duration;
///
/// use spaces_socket_sim::{Builder, Outcome};
/// # use spaces_socket_sim::{Bot, Ctx};
/// # use spaces_socket::spaces::SpacesEvent;
/// # struct Quiet;
/// # impl Bot for Quiet {
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Reader;
/// # impl Bot for Reader {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, _: &mut Ctx<'_>, _: &SpacesEvent) {}
/// # }
/// # struct Hello;
/// # impl Bot for Hello {
/// #     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
/// #         ctx.subscribe("lobby");
/// #     }
/// #     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
/// #         if let SpacesEvent::Subscribed { space } = event {
/// #             let _ = ctx.send_text(space, "hello");
/// #         }
/// #     }
/// # }
///
/// let mut world = Builder::new();
/// let alice = world.participant("alice", Hello)?;
/// let bob = world.participant("bob", Reader)?;
/// let report = world.run_for(Duration::from_secs(3))?;
/// assert_eq!(report.participants.len(), 2);
/// assert!(report.faults.is_empty());
/// assert_eq!(report.participant(bob).received.len(), 1);
/// assert!(report.steps > 0 && report.virtual_time == Duration::from_secs(3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Hash of the whole trace: equal for two runs of one seed.
    pub trace_hash: u64,
    /// Steps taken (inputs fed to a machine).
    pub steps: u64,
    /// Virtual time simulated.
    pub virtual_time: Duration,
    /// Per participant, in the order they were added (index them with
    /// [`ParticipantId::index`], or call [`participant`](Self::participant)), then the second
    /// connections ([`Fault::SecondConnection`]).
    pub participants: Vec<ParticipantReport>,
    /// Every fault injected, with its virtual time.
    pub faults: Vec<(Duration, Fault)>,
    /// The server.
    pub server: ServerReport,
}

impl Report {
    /// What `participant` went through (panics for an id of another run's, out of range).
    pub fn participant(&self, participant: ParticipantId) -> &ParticipantReport {
        self.participants
            .get(participant.0)
            .unwrap_or_else(|| panic!("{participant:?} is not a participant of this run"))
    }

    /// The participant called `name`, if any (a second connection's is `"<name>'"`).
    pub fn named(&self, name: &str) -> Option<&ParticipantReport> {
        self.participants.iter().find(|p| p.name == name)
    }
}
