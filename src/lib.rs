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
//!   limits) and its typed events.
//!
//! A Spaces server emulator built on the same codecs lives in its own crate,
//! `spaces-socket-emulator`; this crate holds no server code.
//!
//! Secrets (tokens, key material, session ids, space PINs) are wrapped in [`Secret`] or
//! redacted by hand in every `Debug` implementation.
//!
//! [`Instant`]: std::time::Instant
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod engine;
pub mod redact;
mod rng;
pub mod socket;
pub mod spaces;

pub use redact::Secret;
