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
//! [`Instant`]: std::time::Instant
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod emulator;
pub mod engine;
pub mod redact;
mod rng;
pub mod socket;
pub mod spaces;

pub use redact::Secret;
