//! Blocking runtime for [`spaces_socket`]: drives the sans-IO core over `tungstenite` on the
//! caller's thread.
//!
//! # The client
//!
//! [`connect`] returns a [`Client`]: one Avaya Spaces connection driven on the calling thread,
//! with no background threads, no locks and no async runtime. It makes progress only inside
//! its methods, chiefly [`Client::next_event`], which reads the websocket until the core's
//! next deadline (a heartbeat, a reconnection delay) or the caller's `max_wait`, whichever
//! comes first. Tokens come from a [`TokenProvider`](spaces_socket::spaces::TokenProvider),
//! asked afresh before every connection; subscriptions are replayed and unconfirmed messages
//! re-sent after every reconnection.
//!
//! ```no_run
//! use std::time::Duration;
//! use spaces_socket_blocking::{Options, connect};
//! use spaces_socket_blocking::spaces_socket::spaces::{
//!     PRODUCTION_URL, SendMessage, SpacesConfig, SpacesEvent, Token,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SpacesConfig::new(PRODUCTION_URL)?;
//! let mut client = connect(config, Token::jwt("eyJ…"), Options::default())?;
//! client.subscribe("SPACE_ID", None)?;
//! let id = client.send_message(SendMessage::chat("SPACE_ID", "Hello"))?;
//! while let Some(event) = client.next_event(Some(Duration::from_secs(30))) {
//!     match event {
//!         SpacesEvent::Confirmed { id: sent, .. } if sent == id => println!("delivered"),
//!         SpacesEvent::Message(m) => println!("{:?} says {:?}", m.sender, m.content),
//!         SpacesEvent::AuthFailed(why) => eprintln!("refused: {}", why.message),
//!         _ => {}
//!     }
//! }
//! client.close();
//! # Ok(())
//! # }
//! ```
//!
//! The same names exist in `spaces-socket-smol` and `spaces-socket-async-std` (there
//! `next_event` and `close` are `async`), and every `Client` implements [`Session`], so
//! switching runtime is a one-line change. [`Options`], [`Error`], [`Session`] and the TLS
//! types come from `spaces-socket-runtime` and are re-exported here.
//!
//! # Running a bot
//!
//! [`Client::run`] runs a [`Bot`](spaces_socket::bot::Bot) on the calling thread (its timers
//! wait in the same read as the websocket) until the session ends; a [`Shutdown`] handle ends
//! it from another thread, and a [`Waker`] wakes a pull loop's [`Client::next_event`] from
//! another thread. The same bot type runs on the async runtimes and in the simulation.
//!
//! Every blocking call is bounded: [`Options::connect_timeout`] covers TCP, TLS and the
//! websocket upgrade, [`Options::write_timeout`] each write, [`Options::close_timeout`] the
//! graceful close, and reads end at the next deadline. Name resolution is the exception: it
//! uses the system resolver and its configured timeouts.
//!
//! # TLS
//!
//! `wss://` (and `https://`) URLs use rustls with the aws-lc-rs provider, configured
//! explicitly (never the process default), trusting the Mozilla roots from `webpki-roots`
//! (unless [`TlsOptions::webpki_roots`] is off) plus any [`TlsOptions::extra_roots_pem`].
//! Certificates and host names are always verified. With the `native-tls` cargo feature,
//! `TlsBackend::NativeTls` uses the platform library and its trust store plus the extra roots
//! instead.
//!
//! [`TlsOptions`], [`TlsBackend`] and [`TlsError`] are the same types the async runtimes
//! re-export, so TLS settings carry over between runtimes.
//!
//! # Logging
//!
//! This crate logs through `log` and never writes a token, a space PIN or a session id, at any
//! level (`tests/no_secrets_in_logs.rs` checks it). tungstenite, below it, logs the raw
//! websocket upgrade request at `trace` level, and that request's query carries the token (the
//! Spaces protocol puts it there): keep `tungstenite=trace` off outside a debugging session.
#![forbid(unsafe_code)]
// Feature labels on items (docs.rs builds with `--cfg docsrs`, every feature, nightly).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

mod client;
mod stream;
mod wake;

pub use client::{Client, connect};
/// The sans-IO core this crate drives, re-exported so one dependency is enough.
pub use spaces_socket;
pub use spaces_socket_runtime::{
    Error, Options, Recorder, Session, TlsBackend, TlsError, TlsOptions,
};
pub use wake::{Shutdown, Waker};
