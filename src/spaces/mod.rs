//! The Avaya Spaces layer: credentials and typed events. Pure data: no IO, no clock.
//!
//! - [`auth`]: what goes in the handshake query (`tokenType`, `token`). A [`TokenProvider`] is
//!   asked for a fresh [`Token`] before every (re)connection, with the wall-clock time the
//!   adapter read; [`ServiceKeyProvider`] mints service-app JWTs from a downloaded
//!   [`ServiceKey`].
//! - [`events`]: the `/chat` events. Build client payloads ([`SubscribeChannel`],
//!   [`SendMessage`], [`SendPresenceEvent`], …) and emit them as
//!   `(E::NAME, e.to_json())` via [`OutgoingEvent`]; turn every received event into an
//!   [`Incoming`] with [`Incoming::decode`], which never loses a payload it cannot type.
//!
//! Payload sizes (the 16 KB limit), subscriptions, held sends and reconnects are handled by the
//! Spaces state machine on top of these types.

pub mod auth;
pub mod events;
mod session;

pub use auth::{
    AuthError, DEFAULT_SERVICE_TOKEN_TTL, KeyFileProblem, MAX_SERVICE_TOKEN_TTL, SPACES_AUDIENCE,
    ServiceKey, ServiceKeyProvider, Token, TokenProvider, TokenType,
};
pub use events::{
    Assignee, Category, Channel, ChannelRef, ChannelSubscribed, ChannelUnsubscribed, Content,
    Incoming, MediaSession, MediaSessionResponse, MessageSent, OutgoingEvent, ParentMsg,
    PresenceContent, PresenceEventResponse, SendMessage, SendMessageFailed, SendPresenceEvent,
    Sender, SubscribeChannel, SubscribeChannelFailed, UnsubscribeChannel,
};
pub use session::{
    AuthFailure, CHAT_NAMESPACE, MAX_PAYLOAD_BYTES, PRODUCTION_URL, STAGING_URL, SendError,
    SendFailure, SendId, Spaces, SpacesConfig, SpacesEvent,
};
