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
//! # From a tokio application
//!
//! Use this crate as it is: no adapter, no smol executor of your own. [`connect`] spawns the
//! driver on smol's global executor, which runs on its own thread (`SMOL_THREADS`, default 1)
//! with async-io's reactor thread beside it, never on tokio's workers; the [`Client`]'s futures
//! wake through ordinary wakers, so tokio tasks await them like any other future. Measured
//! against the real socket.io 2.0.4 server (`tests/it/runs_inside_a_tokio_runtime.rs`): a whole
//! session from a task on a multi-thread runtime and on a current-thread runtime, and a client
//! dropped without `close` that ends its session while the runtime shuts down at once.
//!
//! ```no_run
//! use std::time::Duration;
//! use spaces_socket_smol::{Options, connect};
//! use spaces_socket_smol::spaces_socket::spaces::{PRODUCTION_URL, SpacesConfig, SpacesEvent, Token};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = SpacesConfig::new(PRODUCTION_URL)?;
//!     let client = connect(config, Token::jwt("eyJ…"), Options::default())?;
//!     client.subscribe("my-space-id", None)?;
//!     // Clones go into tokio tasks; tokio's timer bounds our futures.
//!     let reader = client.clone();
//!     let events = tokio::spawn(async move {
//!         while let Ok(Some(event)) =
//!             tokio::time::timeout(Duration::from_secs(60), reader.next_event()).await
//!         {
//!             println!("{event:?}");
//!             if matches!(event, SpacesEvent::Closed) {
//!                 break;
//!             }
//!         }
//!     });
//!     // … `client.send_message(…)` from any task …
//!     client.close().await;
//!     events.await?;
//!     Ok(())
//! }
//! ```
//!
//! What to keep in mind:
//! - The cost is the two threads above, in the same process as tokio's.
//! - Await the async methods (`next_event`, `close`); the commands (`subscribe`,
//!   `send_message`, …) return at once and are fine anywhere. The [`Session`] trait's methods
//!   block the calling thread: not on a tokio worker (use `tokio::task::spawn_blocking`), and no
//!   `smol::block_on` inside a tokio task either.
//! - The session belongs to its `Client`s, not to the tokio runtime: it ends when the last
//!   clone is dropped (the driver leaves `/chat` on its own) or at `client.close().await`.
//!   Dropping or shutting down the tokio runtime does not wait for it.
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
    Client, Error, Options, Recorder, Session, Shutdown, TlsBackend, TlsError, TlsOptions,
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
