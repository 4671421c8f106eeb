//! Why a command was refused, why a message failed, and the server's error packets.

use std::time::Duration;

#[cfg(doc)]
use super::{Delivery, Spaces, SpacesConfig, SpacesEvent};

/// Why a command was refused. The session is unchanged when one is returned.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The serialized payload is larger than the limit (16 KB by default).
    #[error("payload of {size} bytes exceeds the {limit}-byte limit")]
    TooLarge {
        /// Serialized size in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The queue is full ([`SpacesConfig::max_held`]) while messages wait for the rate window
    /// ([`SpacesConfig::rate_limit`]); retry after the duration, when the next one leaves.
    #[error("rate limit reached; retry in {retry_after:?}")]
    RateLimited {
        /// How long until a send would be accepted.
        retry_after: Duration,
    },
    /// Too many messages are held while offline ([`SpacesConfig::max_held`]).
    #[error("{limit} messages are already waiting to be sent")]
    QueueFull {
        /// The limit.
        limit: usize,
    },
    /// The space was not subscribed with [`Spaces::subscribe`]; the server rejects messages to
    /// spaces the socket has not joined.
    #[error("space {0:?} is not subscribed")]
    NotSubscribed(String),
    /// Presence is only meaningful while connected and subscribed.
    #[error("not connected to space {0:?}")]
    NotConnected(String),
    /// The message has no `topicId`.
    #[error("the message has no topicId")]
    MissingTopic,
    /// The payload could not be serialized.
    #[error("payload could not be serialized: {0}")]
    Serialize(String),
}

/// Why a message that was accepted by [`Spaces::send_message`] will not be confirmed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendFailure {
    /// The server answered SEND_MESSAGE_FAILED; the payload's `error` as JSON text.
    Rejected(String),
    /// Subscribing to the message's space failed.
    SubscriptionFailed,
    /// The user unsubscribed from the space before the message could be sent, or before its
    /// echo came back on a connection that then dropped (it may have been delivered).
    Unsubscribed,
    /// The session closed for good (by the user, an authentication failure, or exhausted
    /// reconnection attempts).
    Closed,
    /// No echo within [`SpacesConfig::confirm_timeout`] while connected: the server may or may
    /// not have delivered it (Spaces does not say what it does with events over its limits).
    Unconfirmed,
    /// It was written to a connection that dropped before its echo came back, and the
    /// [`Delivery`] policy sends it no more (at most once, or re-sends exhausted): it may or may
    /// not have been delivered.
    MaybeDelivered,
}

/// An error packet from the server (`44/chat,{…}`): a refusal of the credentials before
/// `/chat` is joined ([`SpacesEvent::AuthFailed`], [`SpacesEvent::AuthRetrying`]), a problem
/// reported on a joined connection after it ([`SpacesEvent::ServerError`]). An HTTP 401 or 403
/// on the websocket upgrade refuses the credentials too and is reported the same way: the
/// status is the `code`, and `raw` is empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPacket {
    /// `message`, e.g. `jwt expired` (or the whole payload when it is a plain string).
    pub message: String,
    /// `code`, e.g. `invalid_token` or `credentials_required`, when present.
    pub code: Option<String>,
    /// The payload as sent, JSON text.
    pub raw: String,
}
