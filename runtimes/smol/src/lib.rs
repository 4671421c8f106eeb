//! The **smol** runtime for [`spaces_socket`], and the recommended way to run a Spaces session
//! asynchronously.
//!
//! [`connect`] builds a session with the shared driver of [`spaces_socket_async_io`] and spawns
//! the driver on smol's global executor; you get a [`Client`] (clone it into as many tasks as
//! you like). Its commands (`subscribe`, `send_message`, …) return at once; events come from
//! `client.next_event().await`. Back-pressure and shutdown are described in
//! [`spaces_socket_async_io`].
//!
//! The names are those of every runtime (`spaces-socket-blocking`, `spaces-socket-async-std`):
//! `connect(config, provider, options)`, a `Client` with `subscribe`, `unsubscribe`,
//! `send_message`, `send_presence`, `next_event`, `close`, `is_closed`, and the shared
//! [`Options`], [`Error`] and [`Session`] of `spaces-socket-runtime`, so switching runtime is
//! a one-line change.
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
//! use spaces_socket_smol::{Options, connect};
//! use spaces_socket_smol::spaces_socket::spaces::{
//!     PRODUCTION_URL, SendMessage, SpacesConfig, SpacesEvent, Token,
//! };
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     smol::block_on(async {
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
    Client, Error, Options, Recorder, Session, TlsBackend, TlsError, TlsOptions,
};

/// Starts a session and spawns its driver on smol's global executor. The session connects
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
    smol::spawn(driver).detach();
    Ok(client)
}
