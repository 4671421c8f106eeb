//! The shared async driver of [`spaces_socket`]: one task per Avaya Spaces session, written
//! against `futures-io` and `async-io` only, so the same code runs on **smol** and on
//! **async-std** (both sit on async-io's reactor).
//!
//! You normally use it through a runtime crate, which spawns the driver for you:
//! `spaces-socket-smol` (recommended) or `spaces-socket-async-std` (async-std is discontinued
//! upstream). Use [`start`] directly to spawn the [`Driver`] on an executor of your own.
//!
//! # What runs where
//!
//! [`start`] returns three pieces:
//! - a [`SpacesHandle`]: cheap to clone, usable from any task; each call is a command to the
//!   driver ([`subscribe`](SpacesHandle::subscribe),
//!   [`send_message`](SpacesHandle::send_message), [`close`](SpacesHandle::close), …);
//! - an [`Events`] stream of [`SpacesEvent`]s, which ends after [`SpacesEvent::Closed`];
//! - the [`Driver`], a `Send + 'static` future that owns the sans-IO [`Spaces`] session, the
//!   websocket and the [`TokenProvider`]. It moves bytes, reads the clocks and calls the core;
//!   every protocol decision (heartbeats, reconnection, resubscription, held messages) is the
//!   core's.
//!
//! The driver asks the provider for a fresh token before every (re)connection, with
//! `SystemTime::now()`; the provider runs on the driver's task, so it must not block for long
//! (minting a service-app JWT is fine, a blocking HTTP call is not).
//!
//! # Back-pressure
//!
//! Events go through a bounded channel of [`Options::event_capacity`]. When it is full, the
//! driver stops reading the websocket (so the server and TCP slow down instead of memory
//! growing) but keeps serving handle calls, so a task that awaits a handle call before reading
//! events again cannot deadlock. A consumer that stays behind for longer than the server's
//! heartbeat allows (Engine.IO `pingInterval + pingTimeout`) gets disconnected; the session then
//! reconnects by itself like after any network failure.
//!
//! # Shutting down
//!
//! [`SpacesHandle::close`] closes gracefully (`41/chat`, then a websocket close frame) and
//! returns once the socket is shut; the remaining events, [`SpacesEvent::Closed`] last, stay
//! readable on [`Events`]. Dropping every handle *and* the [`Events`] does the same on its own.
//! The driver also ends when the session closes for good by itself (refused credentials,
//! reconnection attempts exhausted).
//!
//! # TLS
//!
//! `wss://` URLs use rustls with the **aws-lc-rs** provider passed explicitly (never a
//! process-wide default provider) and Mozilla's roots from `webpki-roots` (unless
//! [`TlsOptions::webpki_roots`] is off); certificates are always verified. Add a private CA
//! with [`TlsOptions::extra_roots_pem`] (or [`TlsOptions::with_extra_root`]).
//!
//! The optional cargo feature **`native-tls`** (off by default; OpenSSL on Linux, so it needs
//! libssl-dev and pkg-config to build) adds `TlsBackend::NativeTls`: the platform TLS library,
//! trusting the system's roots plus the extra ones. Select it with [`TlsOptions::backend`]. The
//! runtime crates forward the feature under the same name.
//!
//! [`TlsOptions`], [`TlsBackend`] and [`TlsError`] come from `spaces-socket-tls`: the blocking
//! runtime re-exports the same types, so TLS settings carry over between runtimes.
//!
//! # Example
//!
//! ```no_run
//! use futures_lite::StreamExt;
//! use spaces_socket::spaces::{SendMessage, SpacesConfig, SpacesEvent, Token, PRODUCTION_URL};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SpacesConfig::new(PRODUCTION_URL)?;
//! let (handle, mut events, driver) = spaces_socket_async_io::start(
//!     config,
//!     Token::jwt("eyJhbGciOi…"),
//!     spaces_socket_async_io::Options::default(),
//! )?;
//! // Spawn `driver` on your executor, e.g. `smol::spawn(driver).detach()`.
//! # drop(driver);
//! handle.subscribe("my-space-id", None).await?;
//! let id = handle
//!     .send_message(SendMessage::chat("my-space-id", "hello"))
//!     .await?;
//! while let Some(event) = events.next().await {
//!     if let SpacesEvent::Confirmed { id: confirmed, .. } = event {
//!         if confirmed == id {
//!             break;
//!         }
//!     }
//! }
//! handle.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! [`Spaces`]: spaces_socket::spaces::Spaces
//! [`TokenProvider`]: spaces_socket::spaces::TokenProvider
//!
//! # Logging
//!
//! This crate logs through `log` and never writes a token, a space PIN or a session id, at any
//! level (`tests/no_secrets_in_logs.rs` checks it). tungstenite, below it, logs the raw
//! websocket upgrade request at `trace` level, and that request's query carries the token (the
//! Spaces protocol puts it there): keep `tungstenite=trace` off outside a debugging session.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod driver;
mod transport;

use core::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_lite::Stream;
use spaces_socket::Secret;
use spaces_socket::client::ConfigError;
use spaces_socket::spaces::{
    SendError, SendId, SendMessage, SendPresenceEvent, Spaces, SpacesConfig, SpacesEvent,
    TokenProvider,
};

pub use spaces_socket;
/// The TLS settings, shared with every spaces-socket runtime (see `spaces-socket-tls`).
pub use spaces_socket_tls::{TlsBackend, TlsError, TlsOptions};

use driver::Command;

/// Tuning of the driver. Start from [`Options::default`] and change what you need.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct Options {
    /// Longest time for one websocket to open: DNS, TCP, TLS and the HTTP upgrade (default
    /// 10 s). A slower attempt fails and the session's reconnection schedule goes on.
    pub connect_timeout: Duration,
    /// Longest time one websocket write (or the closing frame) may take before the connection
    /// is treated as broken (default 10 s).
    pub write_timeout: Duration,
    /// TLS settings for `wss://` URLs.
    pub tls: TlsOptions,
    /// Events buffered for the [`Events`] stream before the driver stops reading the websocket
    /// (default 1024; at least 1). See the crate docs on back-pressure.
    pub event_capacity: usize,
    /// Handle calls queued for the driver before callers wait (default 64; at least 1).
    pub command_capacity: usize,
    /// Largest websocket message or frame accepted from the server, in bytes (default 16 MiB).
    /// A larger one fails the connection, which then reconnects.
    pub max_message_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            tls: TlsOptions::default(),
            event_capacity: 1024,
            command_capacity: 64,
            max_message_size: 16 << 20,
        }
    }
}

/// Why [`start`] refused to build a session.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The [`SpacesConfig`] is invalid (for example a zero `reconnection_delay_max`).
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The TLS configuration could not be built.
    #[error("TLS setup failed: {0}")]
    Tls(#[from] TlsError),
}

/// The session has ended (closed by the user, by the server refusing the credentials, or after
/// exhausted reconnection attempts), or its driver was dropped. Nothing more can be done with
/// this handle; start a new session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the Spaces session has ended")]
pub struct ClientClosed;

/// Why [`SpacesHandle::send_message`] or [`SpacesHandle::send_presence`] failed.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuntimeSendError {
    /// The session refused the send (too large, rate limited, space not subscribed, …); it is
    /// unchanged, so you may retry as the error says.
    #[error(transparent)]
    Refused(#[from] SendError),
    /// The session has ended.
    #[error(transparent)]
    Closed(#[from] ClientClosed),
}

/// Commands for one session's driver. Clone it freely: every clone talks to the same session,
/// from any task or thread.
///
/// Each call waits until the driver has taken the command (briefly, unless
/// [`Options::command_capacity`] calls are already queued); calls that return a result also
/// wait for the session's answer.
#[derive(Clone)]
pub struct SpacesHandle {
    commands: async_channel::Sender<Command>,
    /// Never carries a value: closed when the driver has shut the socket down.
    finished: async_channel::Receiver<()>,
}

impl fmt::Debug for SpacesHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpacesHandle")
            .field("closed", &self.commands.is_closed())
            .finish()
    }
}

impl SpacesHandle {
    async fn command(&self, command: Command) -> Result<(), ClientClosed> {
        self.commands.send(command).await.map_err(|_| ClientClosed)
    }

    /// Wants `space` subscribed, now and after every reconnection; `password` is the space's
    /// PIN, if it has one. Watch [`Events`] for [`SpacesEvent::Subscribed`] or
    /// [`SpacesEvent::SubscribeFailed`].
    ///
    /// # Errors
    /// [`ClientClosed`] when the session has ended.
    pub async fn subscribe(&self, space: &str, password: Option<&str>) -> Result<(), ClientClosed> {
        self.command(Command::Subscribe {
            space: space.to_owned(),
            password: password.map(|p| Secret::new(p.to_owned())),
        })
        .await
    }

    /// Stops wanting `space`; expect [`SpacesEvent::Unsubscribed`]. Messages still held for it
    /// fail with [`SendFailure::Unsubscribed`](spaces_socket::spaces::SendFailure::Unsubscribed).
    ///
    /// # Errors
    /// [`ClientClosed`] when the session has ended.
    pub async fn unsubscribe(&self, space: &str) -> Result<(), ClientClosed> {
        self.command(Command::Unsubscribe {
            space: space.to_owned(),
        })
        .await
    }

    /// Sends a message to its space (subscribe to it first). It goes out now if the space is
    /// subscribed, else as soon as it is, across reconnections. Expect exactly one
    /// [`SpacesEvent::Confirmed`] or [`SpacesEvent::SendFailed`] with the returned id.
    ///
    /// # Errors
    /// [`RuntimeSendError::Refused`] with the session's reason (nothing was queued), or
    /// [`RuntimeSendError::Closed`] when the session has ended.
    pub async fn send_message(&self, message: SendMessage) -> Result<SendId, RuntimeSendError> {
        let (reply, answer) = async_channel::bounded(1);
        self.command(Command::SendMessage {
            message: Box::new(message),
            reply,
        })
        .await?;
        Ok(answer.recv().await.map_err(|_| ClientClosed)??)
    }

    /// Sends a presence event (online, typing, …) to a subscribed space. Presence is momentary:
    /// it is refused unless the session is connected and the space subscribed.
    ///
    /// # Errors
    /// [`RuntimeSendError::Refused`] (for example
    /// [`SendError::NotConnected`]), or [`RuntimeSendError::Closed`].
    pub async fn send_presence(&self, presence: SendPresenceEvent) -> Result<(), RuntimeSendError> {
        let (reply, answer) = async_channel::bounded(1);
        self.command(Command::SendPresence {
            presence: Box::new(presence),
            reply,
        })
        .await?;
        Ok(answer.recv().await.map_err(|_| ClientClosed)??)
    }

    /// Closes the session gracefully: `41/chat` and a websocket close frame go out, unconfirmed
    /// messages fail with [`SendFailure::Closed`](spaces_socket::spaces::SendFailure::Closed).
    /// Returns once the socket is shut (at once if the session has already ended; after a
    /// connection attempt in progress, at most [`Options::connect_timeout`]); the last events,
    /// [`SpacesEvent::Closed`] included, remain readable on [`Events`].
    pub async fn close(&self) {
        // An error means the driver is gone already; either way wait for it to be done.
        let _ = self.commands.send(Command::Close).await;
        let _ = self.finished.recv().await;
    }

    /// True once the session has ended: every further call returns [`ClientClosed`].
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }
}

/// The session's events, in order. Ends (yields `None`) after [`SpacesEvent::Closed`], or if
/// the driver is dropped.
///
/// Read it steadily: it is bounded by [`Options::event_capacity`] (see the crate docs on
/// back-pressure). Keeping it alive keeps the session alive even when every [`SpacesHandle`]
/// is dropped; drop it too to close the session.
pub struct Events {
    /// Boxed: the receiver is `!Unpin`, and a pinned box keeps `Events` easy to poll.
    events: Pin<Box<async_channel::Receiver<SpacesEvent>>>,
    /// Keeps the command channel open while the stream lives, so the driver closes the
    /// session only once every handle *and* this stream are gone.
    _alive: async_channel::Sender<Command>,
    ended: bool,
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("buffered", &self.events.len())
            .field("ended", &self.ended)
            .finish()
    }
}

impl Stream for Events {
    type Item = SpacesEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SpacesEvent>> {
        if self.ended {
            return Poll::Ready(None);
        }
        match self.events.as_mut().poll_next(cx) {
            Poll::Ready(Some(event)) => {
                if matches!(event, SpacesEvent::Closed) {
                    self.ended = true;
                }
                Poll::Ready(Some(event))
            }
            Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The future that runs one session: spawn it on an executor (smol, async-std, or any other:
/// async-io runs its reactor on a helper thread when the executor does not drive it). It ends
/// after the session has closed and its last events are delivered (or the [`Events`] stream
/// is dropped).
///
/// Dropping it without running it ends the session: handle calls return [`ClientClosed`].
#[must_use = "the session does nothing unless the driver is spawned or awaited"]
pub struct Driver {
    inner: Pin<Box<dyn Future<Output = ()> + Send + 'static>>,
}

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

/// Builds a session: the core from `config`, the TLS configuration from `options`. The
/// session connects as soon as the returned [`Driver`] runs, asking `provider` for a token
/// first (and again before every reconnection). The runtime crates spawn the driver for you.
///
/// # Errors
/// [`StartError::Config`] for an invalid `config`, [`StartError::Tls`] for unusable
/// [`TlsOptions`].
pub fn start(
    config: SpacesConfig,
    provider: impl TokenProvider + 'static,
    options: Options,
) -> Result<(SpacesHandle, Events, Driver), StartError> {
    let core = Spaces::new(config)?;
    let connector = transport::Connector::new(&options.tls, options.max_message_size)?;
    let (command_tx, command_rx) = async_channel::bounded(options.command_capacity.max(1));
    let (event_tx, event_rx) = async_channel::bounded(options.event_capacity.max(1));
    let (finished_tx, finished_rx) = async_channel::bounded(1);
    let driver = driver::Driver::new(driver::Parts {
        core,
        provider,
        connector,
        commands: command_rx,
        events: event_tx,
        finished: finished_tx,
        connect_timeout: options.connect_timeout,
        write_timeout: options.write_timeout,
    });
    let handle = SpacesHandle {
        commands: command_tx.clone(),
        finished: finished_rx,
    };
    let events = Events {
        events: Box::pin(event_rx),
        _alive: command_tx,
        ended: false,
    };
    Ok((
        handle,
        events,
        Driver {
            inner: Box::pin(driver.run()),
        },
    ))
}
