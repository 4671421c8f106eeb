//! The **async-std** runtime for [`spaces_socket`].
//!
//! **async-std is discontinued upstream** (its maintainers recommend smol; RustSec advisory
//! RUSTSEC-2025-0052 flags it as unmaintained, so `cargo audit`/`cargo deny` warn on any
//! dependency tree containing it). Prefer `spaces-socket-smol` for new code; this crate exists
//! for applications that already run on async-std.
//!
//! It differs from the smol crate only in how the driver is spawned
//! (`async_std::task::spawn`): both run the same runtime-agnostic driver of
//! [`spaces_socket_async_io`] on async-io's reactor, which async-std 1.x itself uses.
//! Back-pressure, shutdown and TLS are described there.
//!
//! The names are those of every runtime (`spaces-socket-blocking`, `spaces-socket-smol`):
//! `connect(config, provider, options)`, a `Client` with `subscribe`, `unsubscribe`,
//! `send_message`, `send_presence`, `next_event`, `close`, `is_closed`, and the shared
//! [`Options`], [`Error`] and [`Session`] of `spaces-socket-runtime`.
//!
//! # TLS
//!
//! `wss://` uses rustls with Mozilla's roots by default, certificates always verified; add a
//! private CA with [`TlsOptions::extra_roots_pem`]. The optional cargo feature **`native-tls`**
//! (off by default; OpenSSL on Linux, needs libssl-dev and pkg-config) forwards to
//! `spaces-socket-async-io/native-tls` and lets [`TlsOptions::backend`] select
//! `TlsBackend::NativeTls`, the platform TLS library. These TLS types come from
//! `spaces-socket-runtime`, the same ones the blocking runtime re-exports.
//!
//! # Logging
//!
//! Nothing here logs a token, a PIN or a session id; tungstenite's `trace` level logs the
//! upgrade request, whose query carries the token: keep it off (see
//! [`spaces_socket_async_io`]).
//!
//! # Example
//!
//! ```no_run
//! use spaces_socket_async_std::{Options, connect};
//! use spaces_socket_async_std::spaces_socket::spaces::{
//!     PRODUCTION_URL, SendMessage, SpacesConfig, SpacesEvent, Token,
//! };
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     async_std::task::block_on(async {
//!         let config = SpacesConfig::new(PRODUCTION_URL)?;
//!         let client = connect(config, Token::jwt("eyJ…"), Options::default())?;
//!         client.subscribe("my-space-id", None)?;
//!         client.send_message(SendMessage::chat("my-space-id", "hello"))?;
//!         while let Some(event) = client.next_event().await {
//!             println!("{event:?}");
//!             if matches!(event, SpacesEvent::Confirmed { .. }) {
//!                 break;
//!             }
//!         }
//!         client.close().await;
//!         Ok(())
//!     })
//! }
//! ```
#![forbid(unsafe_code)]
// Feature labels on items (docs.rs builds with `--cfg docsrs`, every feature, nightly).
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]

use spaces_socket::spaces::{SpacesConfig, TokenProvider};

/// The sans-IO core, re-exported so one dependency is enough.
pub use spaces_socket;
pub use spaces_socket_async_io::{
    Client, Error, Options, Recorder, Session, Shutdown, TlsBackend, TlsError, TlsOptions,
};

/// Starts a session and spawns its driver with `async_std::task::spawn`. The session connects
/// right away, asking `provider` for a token before every connection; call
/// [`Client::subscribe`] next, then `client.next_event().await` in a loop.
///
/// # Errors
/// [`Error::Config`] when `config` is invalid, [`Error::Tls`] when `options.tls` is unusable.
pub fn connect(
    config: SpacesConfig,
    provider: impl TokenProvider + 'static,
    options: Options,
) -> Result<Client, Error> {
    let (client, driver) = spaces_socket_async_io::start(config, provider, options)?;
    // The task detaches when its JoinHandle is dropped.
    let _task = async_std::task::spawn(driver);
    Ok(client)
}
