//! What a [`Spaces`](super::Spaces) session gives its driver: the steps of the poll order and
//! the events for the user.

use std::time::{Duration, Instant};

use crate::client::{ConnectFailure, DisconnectReason, ProtocolViolation, Transmit};

use super::events::{Incoming, MessageSent};
use super::{ErrorPacket, SendFailure};
#[cfg(doc)]
use super::{Input, Spaces, SpacesConfig, Token, TokenProvider};

/// Identifies one [`Spaces::send_message`] call in later events. Only the session makes
/// them, so an id always names a message it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SendId(pub(super) u64);

impl SendId {
    /// The number (increasing from 0 in send order; for logs and ordering).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// What happened, for the Spaces user: [`Step::Event`] from [`Spaces::poll_output`].
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum SpacesEvent {
    /// `/chat` is connected and authenticated; subscriptions are being replayed.
    Connected,
    /// `/chat` was disconnected; unless the session is closed, it reconnects by itself.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
    },
    /// The server refused the credentials (`44/chat` before `/chat` was joined, or an HTTP 401
    /// or 403 on the websocket upgrade) and the session gives up: the token cannot change (a
    /// fixed [`Token`]), or [`SpacesConfig::auth_retries`] refusals came in a row. The session
    /// is closed; fix the credentials and call [`Spaces::connect`].
    AuthFailed(ErrorPacket),
    /// The server refused the credentials, and the token source refreshes
    /// ([`TokenProvider::refreshes`]): the connection is dropped and the next attempt, with a
    /// fresh token, follows the backoff schedule.
    AuthRetrying {
        /// The refusal.
        failure: ErrorPacket,
        /// This retry's number, from 1 (at most [`SpacesConfig::auth_retries`]).
        retry: u32,
    },
    /// An error packet (`44/chat`) after `/chat` was joined: the server reports a problem but
    /// keeps the connection, which stays up (as with socket.io-client's `error` event).
    ServerError(ErrorPacket),
    /// A space is subscribed (`CHANNEL_SUBSCRIBED`); its held messages are being sent.
    Subscribed {
        /// The space id.
        space: String,
    },
    /// A space did not answer SUBSCRIBE_CHANNEL within
    /// [`SpacesConfig::subscribe_timeout`]. It is still wanted: it is requested again on the
    /// next connection, and its held messages wait for that.
    SubscribeTimedOut {
        /// The space id.
        space: String,
    },
    /// Subscribing failed (`SUBSCRIBE_CHANNEL_FAILED`); the space is no longer wanted and its
    /// held messages fail with [`SendFailure::SubscriptionFailed`].
    SubscribeFailed {
        /// The space id.
        space: String,
        /// The payload's `error` as JSON text.
        error: String,
    },
    /// A space was unsubscribed (`CHANNEL_UNSUBSCRIBED`).
    Unsubscribed {
        /// The space id.
        space: String,
    },
    /// One of our messages was echoed back: it is delivered.
    Confirmed {
        /// The id [`Spaces::send_message`] returned.
        id: SendId,
        /// The echo, with the server's `_id`, sender and timestamps.
        message: Box<MessageSent>,
    },
    /// One of our messages will not be delivered.
    SendFailed {
        /// The id [`Spaces::send_message`] returned.
        id: SendId,
        /// The space it was for.
        space: String,
        /// Why.
        failure: SendFailure,
    },
    /// A message (chat, post, task, update) from someone else, or from our own user before
    /// the session knows who that is (see [`Spaces::me`](super::Spaces::me)).
    Message(Box<MessageSent>),
    /// A message of our own user sent by another connection (another device, another
    /// instance with the same credentials): its sender is [`Spaces::me`](super::Spaces::me).
    /// A bot that answers messages skips these, so it never answers itself.
    OwnMessage(Box<MessageSent>),
    /// Any other typed server event (`PRESENCE_EVENT_RESPONSE`, `MEDIA_SESSION_RESPONSE`, …).
    Incoming(Incoming),
    /// A server event this crate has no type for, or a known event whose payload did not fit
    /// its type (`malformed`), with all its arguments intact.
    Unrecognized {
        /// The event name.
        name: String,
        /// Every argument, as received.
        args: crate::client::Args,
        /// True when the name is a known Spaces event but the payload did not match.
        malformed: bool,
    },
    /// An attempt to connect failed (refused, timed out, no token); the next attempt is
    /// scheduled next, unless attempts are exhausted.
    ConnectFailed {
        /// Why.
        failure: ConnectFailure,
    },
    /// The next connection attempt starts after `delay` (backoff with jitter).
    Reconnecting {
        /// The attempt number, from 1.
        attempt: u32,
        /// How long until it starts.
        delay: Duration,
    },
    /// The server answered a heartbeat ping: the connection is alive.
    Pong {
        /// Time since the ping.
        latency: Duration,
    },
    /// The server broke the protocol; the offending packet was skipped (or the connection
    /// dropped and is re-established).
    ProtocolViolation(ProtocolViolation),
    /// Reconnection attempts are exhausted
    /// ([`Config::reconnection_attempts`](crate::client::Config::reconnection_attempts));
    /// [`SpacesEvent::Closed`] follows.
    ReconnectFailed,
    /// The session is closed for good until [`Spaces::connect`].
    Closed,
}

/// What the driver of a [`Spaces`] session does next, from [`Spaces::poll_output`] (or
/// [`Spaces::poll_step`]): the poll order, one step at a time.
#[non_exhaustive]
#[derive(Debug)]
pub enum Step {
    /// Carry this out on the websocket now, then poll again.
    Transmit(Transmit),
    /// A connection is about to open and needs a fresh token: answer with
    /// [`Spaces::handle_input`] ([`Input::Token`], or [`Input::TokenFailed`] when none can be
    /// had; now or later, the connect timeout covers the wait), then poll again.
    /// [`Spaces::poll_step`] answers it from a [`TokenProvider`] and never returns it.
    Token {
        /// 0 for the first connection, then the reconnection attempt.
        attempt: u32,
    },
    /// Hand this to the user, then poll again.
    Event(SpacesEvent),
    /// Nothing is left: wait for the next websocket message, command, or this deadline
    /// (`None`: no timer runs), then feed it in with [`Spaces::handle_input`] or a command.
    Wait(Option<Instant>),
}
