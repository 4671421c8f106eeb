//! How a [`Spaces`](super::Spaces) session is set up: the endpoints, the limits and the policies.

use std::time::Duration;

#[cfg(doc)]
use super::{SendError, SendFailure, Spaces, SpacesEvent, TokenProvider};
#[cfg(doc)]
use crate::client::ConnectFailure;
use crate::client::{Config, ConfigError, Query};

/// The Spaces socket namespace.
pub const CHAT_NAMESPACE: &str = "/chat";
/// Production socket URL.
pub const PRODUCTION_URL: &str = "wss://spacesapis-socket.avayacloud.com/chat";
/// Staging socket URL.
pub const STAGING_URL: &str = "wss://loganstagingapis-socket.esna.com/chat";
/// Largest event payload Spaces accepts (16 KB of JSON, from the limits guide).
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;

/// Options of a [`Spaces`] session. Build one with [`SpacesConfig::new`], then set the public
/// fields; [`Spaces::new`] checks them.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct SpacesConfig {
    /// The underlying client configuration (URL, reconnection, timeouts, seed). Its
    /// `namespace` and `fresh_query_per_connection` belong to the session: leave them as
    /// [`SpacesConfig::new`] sets them, or [`Spaces::new`] refuses the configuration.
    pub client: Config,
    /// Most events the session emits per [`SpacesConfig::rate_window`] (default 200 per
    /// minute, the documented socket limit), counting every event: subscribes, unsubscribes,
    /// presence, messages and their re-sends. Past it, events wait their turn in order (a
    /// sliding window: one leaves when the oldest of the window is a window old); nothing is
    /// refused for the rate alone, see [`SendError::RateLimited`].
    ///
    /// One exception: the subscriptions replayed when `/chat` is joined (after a reconnect)
    /// go out at once, even over a full window, and count in it (so what follows waits for
    /// them). A connection that is joined but not yet subscribed silently misses every
    /// message sent to its spaces, for up to a whole window; going over the limit by the
    /// number of wanted spaces, once per connection, is the lesser harm.
    pub rate_limit: u32,
    /// The window of [`SpacesConfig::rate_limit`].
    pub rate_window: Duration,
    /// Largest serialized event payload (default [`MAX_PAYLOAD_BYTES`]).
    pub max_payload: usize,
    /// Most messages kept while their space is not (yet) subscribed, over all spaces
    /// (default 1000); more are refused with [`SendError::QueueFull`].
    pub max_held: usize,
    /// How long a message on the wire may wait for its echo, while connected, before it fails
    /// with [`SendFailure::Unconfirmed`] (default [`DEFAULT_CONFIRM_TIMEOUT`], so nothing waits
    /// forever); `None` waits as long as the connection lives.
    pub confirm_timeout: Option<Duration>,
    /// What happens to a message written to a connection that drops before its echo came
    /// back (default: at least once, re-sent up to 3 times). See [`Delivery`].
    pub delivery: Delivery,
    /// How long `/chat` may take to answer its CONNECT once the session is open (default
    /// 20 s); past it the connection is dropped ([`ConnectFailure::NamespaceTimeout`]) and the
    /// next attempt follows the backoff schedule.
    pub join_timeout: Duration,
    /// How long a space may take to answer SUBSCRIBE_CHANNEL (default 20 s); past it
    /// [`SpacesEvent::SubscribeTimedOut`] reports it, its messages stay held, and it is
    /// requested again on the next connection.
    pub subscribe_timeout: Duration,
    /// Credential refusals in a row that a refreshing token source ([`TokenProvider::refreshes`])
    /// may retry, each after the reconnection backoff, before the session gives up with
    /// [`SpacesEvent::AuthFailed`] (default 3). A fixed token never retries.
    pub auth_retries: u32,
    /// Whether binary events are accepted at all. Spaces defines none, so by default (`false`)
    /// the session sets [`Config::max_attachments`] to 0 (and refuses a configuration that
    /// changed it, which would have no effect): any BINARY_EVENT or BINARY_ACK that
    /// announces attachments is refused with
    /// [`ProtocolViolation::TooManyAttachments`](crate::client::ProtocolViolation::TooManyAttachments)
    /// (passed on as [`SpacesEvent::ProtocolViolation`]), is not delivered, and its attachments are
    /// discarded without being kept. With `true`, `client.max_attachments` and
    /// `client.max_binary_packet_bytes` apply, and a binary event reaches the user as
    /// [`SpacesEvent::Unrecognized`] (its attachments are not passed on).
    pub binary_events: bool,
    /// Our own user id (`sender._id` of our messages), when you know it: a service app's bot
    /// user, or the id your login returned. Default `None`: the session learns it from the
    /// first echo of one of our messages that carries our `loopbackMetadata` tag. Either way
    /// [`Spaces::me`](super::Spaces::me) tells it, and once it is known a message of our own
    /// user sent by another connection arrives as [`SpacesEvent::OwnMessage`](super::SpacesEvent::OwnMessage),
    /// never as [`SpacesEvent::Message`](super::SpacesEvent::Message). Set it when messages
    /// of our own user may arrive before we have sent anything (an echo bot with a second
    /// instance running).
    pub user_id: Option<String>,
}

impl SpacesConfig {
    /// A configuration for a Spaces socket URL such as [`PRODUCTION_URL`] or an emulator's
    /// `http://127.0.0.1:PORT/chat`. The namespace is always `/chat`.
    pub fn new(url: &str) -> Result<Self, ConfigError> {
        let mut client = Config::new(url)?;
        // The guide's URLs name the namespace; accept a bare host too.
        client.namespace = CHAT_NAMESPACE.to_owned();
        client.query = Query::new();
        client.fresh_query_per_connection = true;
        Ok(Self {
            client,
            rate_limit: 200,
            rate_window: Duration::from_secs(60),
            max_payload: MAX_PAYLOAD_BYTES,
            max_held: 1000,
            confirm_timeout: Some(DEFAULT_CONFIRM_TIMEOUT),
            delivery: Delivery::default(),
            join_timeout: Duration::from_secs(20),
            subscribe_timeout: Duration::from_secs(20),
            auth_retries: 3,
            binary_events: false,
            user_id: None,
        })
    }
}

/// Default of [`SpacesConfig::confirm_timeout`]: a minute, far beyond a healthy echo's
/// milliseconds, so only a server that silently dropped the message trips it.
pub const DEFAULT_CONFIRM_TIMEOUT: Duration = Duration::from_secs(60);

/// The delivery policy for a message whose connection drops after it was written and before
/// its echo came back: the server may or may not have taken it, and nothing says which.
/// A message whose echo was seen is never sent again, and a message never written is always
/// sent once its space is subscribed, whatever the policy.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Send it again after resubscribing, at most `max_resends` times; then it fails with
    /// [`SendFailure::MaybeDelivered`]. Nothing is lost unreported, but a message the server
    /// did take before the drop appears twice in the space.
    AtLeastOnce {
        /// Re-sends allowed per message (after that many drops it fails).
        max_resends: u32,
    },
    /// Never send it again: it fails at once with [`SendFailure::MaybeDelivered`]. No message
    /// is ever written twice, but one the server did not take is lost (reported, so the caller
    /// may decide). This is what socket.io-client does, silently.
    AtMostOnce,
}

impl Default for Delivery {
    fn default() -> Self {
        Self::AtLeastOnce { max_resends: 3 }
    }
}
