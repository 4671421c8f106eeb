//! The **smol** runtime for [`spaces_socket`], and the recommended way to run a Spaces session
//! asynchronously.
//!
//! [`connect`] builds a session with the shared driver of [`spaces_socket_async_io`] and spawns
//! it on smol's global executor; you get a [`SpacesHandle`] (clone it into as many tasks as
//! you like) and the [`Events`] stream. Everything else, back-pressure and shutdown included,
//! is described in [`spaces_socket_async_io`].
//!
//! # TLS
//!
//! `wss://` uses rustls with Mozilla's roots by default, certificates always verified; add a
//! private CA with [`TlsOptions::extra_roots_pem`]. The optional cargo feature **`native-tls`**
//! (off by default; OpenSSL on Linux, needs libssl-dev and pkg-config) forwards to
//! `spaces-socket-async-io/native-tls` and lets [`TlsOptions::backend`] select
//! `TlsBackend::NativeTls`, the platform TLS library. These TLS types come from
//! `spaces-socket-tls`, the same ones the blocking runtime re-exports.
//!
//! # Example
//!
//! ```no_run
//! use futures_lite::StreamExt;
//! use spaces_socket::spaces::{SendMessage, SpacesConfig, SpacesEvent, Token, PRODUCTION_URL};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     smol::block_on(async {
//!         let config = SpacesConfig::new(PRODUCTION_URL)?;
//!         let (handle, mut events) = spaces_socket_smol::connect(config, Token::jwt("eyJ…"))?;
//!         handle.subscribe("my-space-id", None).await?;
//!         handle.send_message(SendMessage::chat("my-space-id", "hello")).await?;
//!         while let Some(event) = events.next().await {
//!             println!("{event:?}");
//!             if matches!(event, SpacesEvent::Confirmed { .. }) {
//!                 break;
//!             }
//!         }
//!         handle.close().await;
//!         Ok(())
//!     })
//! }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use spaces_socket::spaces::{SpacesConfig, TokenProvider};

pub use spaces_socket;
pub use spaces_socket_async_io::{
    ClientClosed, Events, Options, RuntimeSendError, SpacesHandle, StartError, TlsBackend,
    TlsError, TlsOptions,
};

/// Starts a session with [`Options::default`] and spawns its driver on smol's global executor.
/// The session connects right away, asking `provider` for a token before every connection.
///
/// # Errors
/// [`StartError`] when `config` is invalid.
pub fn connect(
    config: SpacesConfig,
    provider: impl TokenProvider + 'static,
) -> Result<(SpacesHandle, Events), StartError> {
    connect_with(config, provider, Options::default())
}

/// Like [`connect`], with your own [`Options`] (timeouts, extra TLS roots, channel sizes).
///
/// # Errors
/// [`StartError`] when `config` or `options.tls` is unusable.
pub fn connect_with(
    config: SpacesConfig,
    provider: impl TokenProvider + 'static,
    options: Options,
) -> Result<(SpacesHandle, Events), StartError> {
    let (handle, events, driver) = spaces_socket_async_io::start(config, provider, options)?;
    smol::spawn(driver).detach();
    Ok((handle, events))
}
