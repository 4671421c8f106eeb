//! A sans-IO client for the real-time API of [Avaya Spaces]: Socket.IO 2.0.4 (Engine.IO 3,
//! Socket.IO revision 4) over websocket, namespace `/chat`.
//!
//! [`Spaces`] is the whole protocol as a state machine: websocket messages, timer ticks and
//! token answers go in, frames, events and the next deadline come out. It touches no socket,
//! clock, thread or global randomness (time and a seed are arguments), so the same session runs
//! in a blocking program, any async runtime, or a deterministic simulation.
//!
//! [Avaya Spaces]: https://spaces.avayacloud.com
//!
//! # Connect with a runtime
//!
//! Most programs use a runtime crate, which moves the bytes and reads the clocks:
//! `spaces-socket-blocking` (tungstenite, on the calling thread), `spaces-socket-smol`
//! (recommended for async, also from tokio) or `spaces-socket-async-std`. Each re-exports this
//! crate as `spaces_socket` and has the same `connect(config, tokens, options)` and `Client`
//! (the example is compiled in the blocking crate's documentation):
//!
//! ```ignore
//! use spaces_socket_blocking::{Options, connect};
//! use spaces_socket_blocking::spaces_socket::spaces::{PRODUCTION_URL, SendMessage, SpacesConfig, SpacesEvent, Token};
//!
//! let mut client = connect(SpacesConfig::new(PRODUCTION_URL)?, Token::jwt("eyJ…"), Options::default())?;
//! client.subscribe("SPACE_ID", None)?;
//! client.send_message(SendMessage::chat("SPACE_ID", "Hello"))?;
//! while let Some(event) = client.next_event(None) {
//!     if let SpacesEvent::Message(m) = event { println!("{:?}: {:?}", m.sender, m.content) }
//! }
//! ```
//!
//! Tokens come from a [`TokenProvider`], asked afresh before every connection: a fixed
//! [`Token::jwt`] or [`Token::oauth`], a closure ([`spaces::token_fn`]), or, with the
//! `service-app` feature, `ServiceKeyProvider`, which mints an RS256 JWT from a service app's
//! key file for each connection.
//!
//! # The drain loop
//!
//! Driving [`Spaces`] yourself (a simulation, a runtime of your own) is one loop:
//!
//! 1. **Feed one input** with the current `Instant`: a websocket outcome or the timer through
//!    [`Spaces::handle_input`] ([`Input`]), or a command ([`Spaces::connect`],
//!    [`Spaces::subscribe`], [`Spaces::send_message`], [`Spaces::close`], …).
//! 2. **Drain**: call [`Spaces::poll_output`] until it returns [`Step::Wait`]. It gives every
//!    transmit first, then a token request ([`Step::Token`], answered with [`Input::Token`]),
//!    then the events one at a time. [`Spaces::poll_step`] is the same loop with the token
//!    requests answered from a [`TokenProvider`].
//! 3. **Wait** until the deadline of [`Step::Wait`] or the next websocket message, whichever
//!    comes first, and feed it in.
//!
//! Here a scripted server stands in for the websocket:
//!
//! ```rust
//! use std::time::Instant;
//! use spaces_socket::{Input, SendMessage, Spaces, SpacesConfig, SpacesEvent, Step, Token, Transmit};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut spaces = Spaces::new(SpacesConfig::new("wss://spacesapis-socket.avayacloud.com/chat")?)?;
//! let token = Token::jwt("eyJhbGciOi.payload.signature");
//! let now = Instant::now();
//! spaces.subscribe(now, "my-space", None);
//! spaces.connect(now);
//!
//! let mut server = [
//!     r#"0{"sid":"a1","upgrades":[],"pingInterval":25000,"pingTimeout":5000}"#,
//!     "40/chat",
//!     r#"42/chat,["CHANNEL_SUBSCRIBED",{"channel":{"_id":"my-space","type":"topic"}}]"#,
//! ]
//! .into_iter();
//! let mut written = Vec::new();
//! loop {
//!     match spaces.poll_output() {
//!         // Ask your token source (`poll_step` asks a `TokenProvider` for you).
//!         Step::Token { .. } => spaces.handle_input(now, Input::Token { token: &token, refreshes: false }),
//!         // Open a websocket to `url.expose()` (it carries the token: never log it).
//!         Step::Transmit(Transmit::Open(_url)) => spaces.handle_input(now, Input::Opened),
//!         Step::Transmit(Transmit::Text(frame)) => written.push(frame),
//!         Step::Transmit(_) => {}
//!         Step::Event(SpacesEvent::Subscribed { space }) => {
//!             spaces.send_message(now, SendMessage::chat(space, "hello"))?;
//!         }
//!         Step::Event(event) => println!("{event:?}"),
//!         // Sleep until `deadline` or the next websocket message; feed in what came first.
//!         Step::Wait(_deadline) => match server.next() {
//!             Some(frame) => spaces.handle_input(now, Input::Text(frame)),
//!             None => break,
//!         },
//!         _ => {}
//!     }
//! }
//! assert_eq!(written[0], "40/chat?tokenType=jwt&token=eyJhbGciOi.payload.signature,");
//! assert!(written[1].starts_with(r#"42/chat,["SUBSCRIBE_CHANNEL""#));
//! assert!(written[2].starts_with(r#"42/chat,["SEND_MESSAGE",{"category":"chat""#));
//! # Ok(())
//! # }
//! ```
//!
//! # Policies in brief
//!
//! The live service's echoes, error packets and limits cannot all be checked from outside, so
//! the session takes none of them for granted. Each policy is a field of [`SpacesConfig`]:
//!
//! - **Confirmation**: every accepted message ends in exactly one [`SpacesEvent::Confirmed`]
//!   (its own `MESSAGE_SENT` echo, recognised by a per-session `loopbackMetadata` tag, or by
//!   space and text when a server drops it) or [`SpacesEvent::SendFailed`]; our own message is
//!   never reported as someone else's.
//! - **Delivery** ([`Delivery`](spaces::Delivery)): at least once (re-sent after a reconnect, 3 times by default)
//!   or at most once; messages sent while disconnected are held (bounded) until their space is
//!   subscribed again.
//! - **Credentials**: a refused fixed token stops the session ([`SpacesEvent::AuthFailed`]); a
//!   refreshing token source retries with a fresh token ([`SpacesEvent::AuthRetrying`]).
//! - **Deadlines and pacing**: unanswered joins and subscriptions are retried; every event goes
//!   through one sliding rate window (200 a minute by default).
//! - **Bounded and private**: every buffer is bounded, bad input is a typed error or event and
//!   never a panic, and tokens, keys, session ids and PINs never appear in `Debug` or logs.
//!
//! # Where next
//!
//! - [`spaces`]: the session, its configuration, events and payload types, tokens.
//! - [`bot`]: write a bot once (a [`Bot`](bot::Bot) reacting through a [`Ctx`](bot::Ctx)); every
//!   runtime's `run` and the simulation kit run the same type.
//! - [`client`]: the Socket.IO 2 client under it (one Engine.IO session, many namespaces), for
//!   raw Socket.IO users.
//! - [`record`]: the session recording format that the runtimes write and the emulator replays.
//! - The runtime crates for IO, `spaces-socket-sim` to test a bot deterministically (a virtual
//!   clock, a simulated network with faults, one seed, shrinking),
//!   `spaces-socket-emulator` for a Spaces server to test against, and the repository's
//!   README for the demo, the tests and the performance figures.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Without `wire` the codec modules are private, so the links to them above resolve only in
// `--document-private-items` builds; that is expected, not a broken link.
#![cfg_attr(not(feature = "wire"), allow(rustdoc::private_intra_doc_links))]
// Without `service-app` the minting types are gone, so the links to them in the `spaces`
// docs do not resolve; docs.rs builds with every feature.
#![cfg_attr(not(feature = "service-app"), allow(rustdoc::broken_intra_doc_links))]
// Feature labels on items (docs.rs builds with `--cfg docsrs`, every feature, nightly).
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod bot;
pub mod client;
// The wire codecs: public only with the `wire` feature, for the emulator crate and the fuzzers.
#[cfg(feature = "wire")]
pub mod engine;
#[cfg(not(feature = "wire"))]
#[allow(unreachable_pub, dead_code)]
mod engine;
pub mod record;
pub mod redact;
pub mod rng;
#[cfg(feature = "wire")]
pub mod socket;
#[cfg(not(feature = "wire"))]
#[allow(unreachable_pub, dead_code)]
mod socket;
pub mod spaces;

pub use client::Transmit;
pub use redact::Secret;
pub use spaces::{
    Input, SendError, SendFailure, SendId, SendMessage, Spaces, SpacesConfig, SpacesEvent, Step,
    Token, TokenProvider,
};
