//! [`EchoBot`]: the bot of `examples/echo_bot.rs`, and the very type the simulation
//! (`bot_sim`) tests.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use spaces_socket::bot::{Bot, Ctx};
use spaces_socket::spaces::{Category, SendId, SpacesEvent};

/// The timer that retries answers the session refused for now.
const RETRY: u64 = 0;
/// How long a refused answer waits before it is tried again.
const RETRY_AFTER: Duration = Duration::from_millis(500);

/// What the bot knows of one message it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Not sent yet (the session refused it for now).
    Queued,
    /// Sent, waiting for its echo.
    Sent(SendId),
    /// Confirmed.
    Done,
}

/// Answers every chat message of someone else in its space with `echo: <text>`, exactly once,
/// and never a message of its own user (from this connection or another,
/// [`Ctx::is_own`]).
///
/// Delivery is at least once: when a connection drops before a message's echo came back, the
/// sender's library sends it again and we may see it twice (a new server `_id`, the same
/// text). So the bot remembers what it answered, keyed by sender and text, and skips server
/// `_id`s it has handled; it answers again only when its answer failed
/// ([`SpacesEvent::SendFailed`]), and retries an answer the session refused for now
/// (not subscribed again yet, rate limited) on a timer.
///
/// ```
/// use spaces_socket::bot::Host;
/// use spaces_socket_examples::echo::EchoBot;
///
/// let host = Host::new(EchoBot::new("lobby"), 7); // what every runtime's `run` does
/// assert_eq!(host.bot().answered(), 0);
/// ```
#[derive(Debug)]
pub struct EchoBot {
    space: String,
    /// Forget unconfirmed answers across a reconnect (the simulation's planted bug).
    buggy: bool,
    /// Server `_id`s already handled.
    seen: BTreeSet<String>,
    /// Every message answered or to answer, by (sender, text).
    answers: BTreeMap<(String, String), Answer>,
    /// Answers on the wire, by send id.
    sent: BTreeMap<SendId, (String, String)>,
}

impl EchoBot {
    /// An echo bot for `space`.
    pub fn new(space: &str) -> Self {
        Self {
            space: space.to_owned(),
            buggy: false,
            seen: BTreeSet::new(),
            answers: BTreeMap::new(),
            sent: BTreeMap::new(),
        }
    }

    /// An echo bot with a bug, for the simulation to catch: it believes answers waiting for
    /// their echo are lost with a dropped connection and answers those messages again, although
    /// the library re-sends them: two answers.
    pub fn buggy(space: &str) -> Self {
        Self {
            buggy: true,
            ..Self::new(space)
        }
    }

    /// Answers confirmed so far.
    pub fn answered(&self) -> usize {
        self.answers
            .values()
            .filter(|a| **a == Answer::Done)
            .count()
    }

    fn answer(&mut self, ctx: &mut Ctx<'_>, key: (String, String)) {
        match ctx.send_text(&self.space, &format!("echo: {}", key.1)) {
            Ok(id) => {
                self.answers.insert(key.clone(), Answer::Sent(id));
                self.sent.insert(id, key);
            }
            // Not subscribed again yet, rate limited, queue full: try again soon.
            Err(_) => {
                self.answers.insert(key, Answer::Queued);
                ctx.cancel_timer(RETRY);
                ctx.set_timer(RETRY_AFTER, RETRY);
            }
        }
    }

    fn retry(&mut self, ctx: &mut Ctx<'_>) {
        let queued: Vec<_> = self
            .answers
            .iter()
            .filter(|(_, a)| **a == Answer::Queued)
            .map(|(k, _)| k.clone())
            .collect();
        for key in queued {
            self.answer(ctx, key);
        }
    }
}

impl Bot for EchoBot {
    fn on_start(&mut self, ctx: &mut Ctx<'_>) {
        ctx.subscribe(&self.space);
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
        match event {
            SpacesEvent::Message(m) => {
                let ours = m.topic_id.as_deref().is_none_or(|s| s == self.space);
                if !ours || m.category != Category::Chat || ctx.is_own(m) {
                    return;
                }
                let sender = m.sender.as_ref().and_then(|s| s.id.clone());
                let text = m.content.as_ref().and_then(|c| c.body_text.clone());
                let (Some(id), Some(sender), Some(text)) = (m.id.clone(), sender, text) else {
                    return;
                };
                if !self.seen.insert(id) {
                    return;
                }
                let key = (sender, text);
                if !self.answers.contains_key(&key) {
                    self.answer(ctx, key);
                }
            }
            SpacesEvent::Confirmed { id, .. } => {
                if let Some(key) = self.sent.remove(id) {
                    self.answers.insert(key, Answer::Done);
                }
            }
            // Not delivered (the session closed, the server refused it): answer again.
            SpacesEvent::SendFailed { id, .. } => {
                if let Some(key) = self.sent.remove(id) {
                    self.answer(ctx, key);
                }
            }
            SpacesEvent::Subscribed { .. } => self.retry(ctx),
            SpacesEvent::Disconnected { .. } if self.buggy => {
                for (_, key) in std::mem::take(&mut self.sent) {
                    self.answers.insert(key, Answer::Queued);
                }
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_>, _timer: u64) {
        self.retry(ctx);
    }
}
