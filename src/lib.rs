//! # spaces-socket
//!
//! A sans-IO client for Socket.IO 2.0.4 (Engine.IO protocol 3, Socket.IO protocol revision 4)
//! over websocket, with a layer for the Avaya Spaces real-time API.
//!
//! The core never touches a socket, a clock, a thread or a global random source: websocket
//! messages and timer ticks come in through `handle_*` methods with the current [`Instant`],
//! and frames to write, events and the next deadline come out through `poll_*` methods.
//! Runtime adapters (blocking tungstenite, smol, async-std) live in their own crates under
//! `runtimes/`.
//!
//! The layers, bottom up (data flows down and back up; nothing skips a layer):
//! - [`engine`]: Engine.IO 3 packets over websocket (text, `0x04` binary, `b4` base64) and the
//!   open handshake;
//! - [`socket`]: Socket.IO revision 4 packets, decoded by borrowing from the frame with event
//!   arguments kept as raw JSON ([`socket::Args`]) until asked;
//! - [`client`]: the [`Client`](client::Client) state machine — one Engine.IO session, many
//!   namespaces, client-driven heartbeat, reconnection with backo2's schedule, buffered emits,
//!   acks, binary reassembly. Its type documents the drain contract every runtime follows;
//! - [`spaces`]: the Avaya Spaces session on `/chat` (tokens, subscriptions, correlated sends,
//!   limits) and its typed events;
//! - [`emulator`]: a sans-IO Spaces server built from the same codecs, for tests, simulations
//!   and offline development.
//!
//! Secrets (tokens, key material, session ids, space PINs) are wrapped in [`Secret`] or
//! redacted by hand in every `Debug` implementation.
//!
//! [`Instant`]: std::time::Instant
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Without `wire` the codec modules are private, so the links to them above resolve only in
// `--document-private-items` builds; that is expected, not a broken link.
#![cfg_attr(not(feature = "wire"), allow(rustdoc::private_intra_doc_links))]

pub mod client;
pub mod emulator;
// The wire codecs: public only with the `wire` feature, for the emulator crate and the fuzzers.
#[cfg(feature = "wire")]
pub mod engine;
#[cfg(not(feature = "wire"))]
#[allow(unreachable_pub, dead_code)]
mod engine;
pub mod redact;
mod rng;
#[cfg(feature = "wire")]
pub mod socket;
#[cfg(not(feature = "wire"))]
#[allow(unreachable_pub, dead_code)]
mod socket;
pub mod spaces;

pub use client::Transmit;
pub use redact::Secret;
pub use spaces::{
    SendError, SendFailure, SendId, SendMessage, Spaces, SpacesConfig, SpacesEvent, Step, Token,
    TokenProvider,
};
