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
//!     async_std::task::block_on(async {
//!         let config = SpacesConfig::new(PRODUCTION_URL)?;
//!         let (handle, mut events) =
//!             spaces_socket_async_std::connect(config, Token::jwt("eyJ…"))?;
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

/// Starts a session with [`Options::default`] and spawns its driver with
/// `async_std::task::spawn`. The session connects right away, asking `provider` for a token
/// before every connection.
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
    // The task detaches when its JoinHandle is dropped.
    let _task = async_std::task::spawn(driver);
    Ok((handle, events))
}
