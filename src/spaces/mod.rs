//! The Avaya Spaces layer, still sans-IO: the [`Spaces`] session on `/chat`, credentials and
//! typed events.
//!
//! - [`Spaces`]: a [`Client`](crate::client::Client) on `/chat` that asks for a fresh token
//!   before every (re)connection ([`Step::Token`] → [`Spaces::handle_input`] with [`Input::Token`]),
//!   replays the wanted subscriptions after every reconnect, holds messages until their space is
//!   subscribed, confirms each one by its own `MESSAGE_SENT` echo, and enforces the documented
//!   limits (16 KB payload, send rate) as typed [`SendError`]s.
//! - [`auth`]: what goes in the handshake query (`tokenType`, `token`). A [`TokenProvider`] is
//!   asked for a fresh [`Token`] before every (re)connection, with the wall-clock time the
//!   adapter read; [`ServiceKeyProvider`] mints service-app JWTs from a downloaded
//!   [`ServiceKey`].
//! - [`events`]: the `/chat` payloads ([`SendMessage`],
//!   [`SendPresenceEvent`], …) and [`Incoming`] for what the server sends, which never loses a
//!   payload it cannot type.
//!
//! # One example per token type
//!
//! Each token goes in the handshake URL *and* in the `/chat` CONNECT query, because a 2.0.4
//! server may drop the CONNECT query. The runtimes answer [`Step::Token`] from a
//! [`TokenProvider`] for you; here the sans-IO session is driven by hand.
//!
//! A user JWT (`tokenType=jwt`):
//! ```
//! use std::time::Instant;
//! use spaces_socket::client::Transmit;
//! use spaces_socket::spaces::{Input, Spaces, SpacesConfig, Step, Token};
//!
//! let now = Instant::now();
//! let mut spaces = Spaces::new(SpacesConfig::new("wss://spacesapis-socket.avayacloud.com/chat")?)?;
//! spaces.connect(now);
//! let token = Token::jwt("eyJhbGciOi.payload.signature");
//! spaces.handle_input(now, Input::Token { token: &token, refreshes: false });
//! let Step::Transmit(Transmit::Open(url)) = spaces.poll_output() else { unreachable!() };
//! assert_eq!(
//!     url.expose(),
//!     "wss://spacesapis-socket.avayacloud.com/socket.io/?tokenType=jwt&token=eyJhbGciOi.payload.signature&EIO=3&transport=websocket"
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! An OAuth2 access token (`tokenType=oauth`):
//! ```
//! # use std::time::Instant;
//! # use spaces_socket::client::Transmit;
//! # use spaces_socket::spaces::{Input, Spaces, SpacesConfig, Step, Token, STAGING_URL};
//! # let now = Instant::now();
//! let mut spaces = Spaces::new(SpacesConfig::new(STAGING_URL)?)?;
//! spaces.connect(now);
//! let token = Token::oauth("f746696f5de4528u128ae2f274eea253");
//! spaces.handle_input(now, Input::Token { token: &token, refreshes: false });
//! let Step::Transmit(Transmit::Open(url)) = spaces.poll_output() else { unreachable!() };
//! assert!(url.expose().contains("?tokenType=oauth&token=f746696f5de4528u128ae2f274eea253&EIO=3"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A service app, minting a fresh RS256 JWT from its downloaded key file for every connection
//! (`exp` at most 3600 s ahead; feature `service-app`, on by default):
//! ```
//! # #[cfg(feature = "service-app")] {
//! use std::time::{Duration, SystemTime};
//! use spaces_socket::spaces::{ServiceKey, ServiceKeyProvider, TokenProvider, TokenType};
//!
//! let json = std::fs::read_to_string("tests/fixtures/test-service-key.json")?; // service-key-<kid>.json
//! let key = ServiceKey::from_json(&json)?;
//! let mut provider = ServiceKeyProvider::new(key, Duration::from_secs(600))?;
//! let token = provider.token(SystemTime::now())?; // what a runtime does before each connection
//! assert_eq!(token.token_type(), TokenType::Jwt);
//! assert_eq!(token.expose().split('.').count(), 3);
//! assert!(format!("{token:?}").contains("redacted"));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod auth;
mod config;
mod errors;
pub mod events;
mod input;
mod output;
mod session;
mod space_map;

pub use auth::{
    AuthError, DEFAULT_SERVICE_TOKEN_TTL, KeyFileProblem, MAX_SERVICE_TOKEN_TTL, SPACES_AUDIENCE,
    Token, TokenFn, TokenProvider, TokenType, token_fn,
};
#[cfg(feature = "service-app")]
#[cfg_attr(docsrs, doc(cfg(feature = "service-app")))]
pub use auth::{ServiceKey, ServiceKeyProvider};
pub use config::{
    CHAT_NAMESPACE, DEFAULT_CONFIRM_TIMEOUT, Delivery, MAX_PAYLOAD_BYTES, PRODUCTION_URL,
    STAGING_URL, SpacesConfig,
};
pub use errors::{ErrorPacket, SendError, SendFailure};
pub use events::{
    Assignee, Category, ChannelRef, ChannelSubscribed, ChannelUnsubscribed, Content, Incoming,
    MediaSession, MediaSessionResponse, MessageSent, ParentMsg, PresenceContent,
    PresenceEventResponse, SendMessage, SendMessageFailed, SendPresenceEvent, Sender,
    SubscribeChannelFailed,
};
pub use input::{Input, ask_token};
pub use output::{SendId, SpacesEvent, Step};
pub use session::Spaces;
pub(crate) use session::loopback_prefix;
