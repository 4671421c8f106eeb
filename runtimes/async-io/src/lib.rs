//! The shared async driver of [`spaces_socket`]: one task per Avaya Spaces session, written
//! against `futures-io` and `async-io` only, so the same code runs on **smol** and on
//! **async-std** (both sit on async-io's reactor).
//!
//! You normally use it through a runtime crate, whose `connect` spawns the driver for you:
//! `spaces-socket-smol` (recommended) or `spaces-socket-async-std` (async-std is discontinued
//! upstream). Call [`start`] directly to spawn the driver on an executor of your own.
//!
//! # What runs where
//!
//! [`start`] returns two pieces:
//! - a [`Client`]: cheap to clone, usable from any task or thread. Its commands
//!   ([`subscribe`](Client::subscribe), [`send_message`](Client::send_message), …) are plain
//!   methods that lock the session, hand it the command and wake the driver; they never wait
//!   for the network. [`next_event`](Client::next_event) and [`close`](Client::close) are
//!   `async`.
//! - the driver, a `Send + 'static` future that owns the websocket. It drains the sans-IO
//!   [`Spaces`] session in its one poll order ([`Spaces::poll_step`]): it writes what the
//!   session asks for, answers its token requests from the [`TokenProvider`], and queues its
//!   events for the clients; it reads frames into it and runs its timers. Every protocol
//!   decision (heartbeats, reconnection, resubscription, held messages) is the core's.
//!
//! [`Client::next_event`] takes the events from that queue, so a slow reader never holds up
//! the session (a reconnection's replayed subscriptions go out at once).
//! The [`Client`] is also a [`Stream`](futures_lite::Stream) of the same events, and
//! `next_event` is cancel-safe. [`Client::run`] runs a [`Bot`] with async-io timers until the
//! session ends; a [`Shutdown`] handle ends it from anywhere.
//!
//! The driver asks the provider for a fresh token before every (re)connection, with
//! `SystemTime::now()`, while holding the session's lock, so the provider must not block for
//! long (minting a service-app JWT is fine, a blocking HTTP call is not).
//!
//! # Back-pressure
//!
//! When [`Options::max_queued_events`] events (or [`Options::max_queued_bytes`] of their
//! payloads) wait for the reader, the driver stops reading
//! the websocket (so the server and TCP slow down instead of memory growing) but keeps
//! writing, running timers and sending pings, and commands keep working, so a task that sends
//! before reading its events cannot deadlock. A reader that stays behind for longer than the
//! server's heartbeat allows (Engine.IO `pingInterval + pingTimeout`) gets disconnected; the
//! session then reconnects by itself like after any network failure.
//!
//! # Shutting down
//!
//! [`Client::close`] closes gracefully (`41/chat`, then a websocket close frame, waiting at
//! most [`Options::close_timeout`] for the server's answer) and returns once the socket is
//! shut; the remaining events, [`SpacesEvent::Closed`] last, stay readable. Dropping every
//! clone of the [`Client`] does the same on its own. The driver also ends when the session
//! closes for good by itself (refused credentials, reconnection attempts exhausted).
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
//! [`Options`], [`Error`], [`Session`], [`TlsOptions`], [`TlsBackend`] and [`TlsError`] come
//! from `spaces-socket-runtime`: the blocking runtime re-exports the same types, so settings
//! and error handling carry over between runtimes.
//!
//! # Example
//!
//! ```no_run
//! use spaces_socket_async_io::{Options, start};
//! use spaces_socket_async_io::spaces_socket::spaces::{
//!     PRODUCTION_URL, SendMessage, SpacesConfig, SpacesEvent, Token,
//! };
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let config = SpacesConfig::new(PRODUCTION_URL)?;
//! let (client, driver) = start(config, Token::jwt("eyJhbGciOi…"), Options::default())?;
//! // Spawn `driver` on your executor, e.g. `smol::spawn(driver).detach()`.
//! # drop(driver);
//! client.subscribe("my-space-id", None)?;
//! let id = client.send_message(SendMessage::chat("my-space-id", "hello"))?;
//! while let Some(event) = client.next_event().await {
//!     if matches!(event, SpacesEvent::Confirmed { id: confirmed, .. } if confirmed == id) {
//!         break;
//!     }
//! }
//! client.close().await;
//! # Ok(())
//! # }
//! ```
//!
//! [`Spaces`]: spaces_socket::spaces::Spaces
//! [`Spaces::poll_step`]: spaces_socket::spaces::Spaces::poll_step
//! [`TokenProvider`]: spaces_socket::spaces::TokenProvider
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

mod driver;
mod transport;

use core::fmt;
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use futures_lite::future;
use spaces_socket::bot::SessionCommands;
use spaces_socket::bot::{Bot, Host};
use spaces_socket::spaces::{
    SendId, SendMessage, SendPresenceEvent, SpacesConfig, SpacesEvent, TokenProvider,
};
use spaces_socket_runtime::RecordedSession;

/// The sans-IO core this crate drives, re-exported so one dependency is enough.
pub use spaces_socket;
pub use spaces_socket_runtime::{
    Error, Options, Recorder, Session, TlsBackend, TlsError, TlsOptions,
};

/// Ends a session from any thread or task, without keeping it alive: made by
/// [`Client::shutdown_handle`], cheap to clone. [`shutdown`](Self::shutdown) closes the
/// session gracefully, like [`Client::close`] but without waiting: a [`Client::run`] then
/// hands the bot the last events and returns, and a pull loop reads them, then `None`.
///
/// Ctrl-C: with the `ctrlc` crate, `ctrlc::set_handler(move || stop.shutdown())` where
/// `stop` is the handle; with `async-signal` or `signal-hook`, call `shutdown` from the
/// handler's task or thread the same way.
#[derive(Clone)]
pub struct Shutdown(std::sync::Weak<Mutex<State>>);

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown").finish_non_exhaustive()
    }
}

impl Shutdown {
    /// Closes the session (once; later calls and calls after it ended do nothing).
    pub fn shutdown(&self) {
        if let Some(shared) = self.0.upgrade() {
            lock(&shared).close();
        }
    }
}

/// One session, shared by every [`Client`] clone and the driver task, under one lock.
struct State {
    core: RecordedSession,
    provider: Box<dyn TokenProvider>,
    /// The events the driver drained from the core, in order, each with the payload bytes it
    /// weighs, for [`Client::next_event`].
    events: VecDeque<(SpacesEvent, usize)>,
    /// The sum of the weights in `events`.
    queued_bytes: usize,
    /// The core is closed and the driver has queued everything it produced: once `events` is
    /// empty, [`Client::next_event`] ends.
    drained: bool,
    /// [`Options::max_queued_events`] and [`Options::max_queued_bytes`]: the driver reads the
    /// socket only below both.
    max_queued: (usize, usize),
    /// The driver has something new to look at (a command ran, an event was taken).
    woken: bool,
    driver: Option<Waker>,
    /// Tasks waiting in [`Client::next_event`] or [`Client::close`].
    waiters: Vec<Waker>,
    /// The driver has shut the socket and ended (or was dropped).
    finished: bool,
}

type Shared = Arc<Mutex<State>>;

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A panic elsewhere must not take every handle down with it; the core stays consistent
    // between calls.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl State {
    /// The reader is behind: as many events, or as many payload bytes, as it may leave (those
    /// queued for it and those still in the core, from frames read since the last drain).
    fn backlog(&self) -> bool {
        let (events, bytes) = self.max_queued;
        self.events.len() + self.core.queued_events() >= events
            || self.queued_bytes + self.core.queued_bytes() >= bytes
    }

    /// Queues an event for the readers (the driver wakes them once per drain).
    fn push_event(&mut self, event: SpacesEvent, bytes: usize) {
        self.queued_bytes += bytes;
        self.events.push_back((event, bytes));
    }

    /// Takes the next event, waking the driver when that makes room to read again.
    fn take_event(&mut self) -> Option<SpacesEvent> {
        let backlog = self.backlog();
        let (event, bytes) = self.events.pop_front()?;
        self.queued_bytes -= bytes;
        if self.events.is_empty() {
            // An idle session holds no queue (an event weighs 150 bytes, a queue grows by 4).
            self.events = VecDeque::new();
        }
        if backlog && !self.backlog() {
            self.wake_driver();
        }
        Some(event)
    }

    fn wake_driver(&mut self) {
        self.woken = true;
        if let Some(waker) = self.driver.take() {
            waker.wake();
        }
    }

    fn wake_waiters(&mut self) {
        self.waiters.drain(..).for_each(Waker::wake);
    }

    /// The session is over: no command is taken any more.
    fn ended(&self) -> bool {
        self.finished || self.core.is_closed()
    }

    /// Closes the session (once) and wakes everyone up to see it.
    fn close(&mut self) {
        if !self.core.is_closed() {
            self.core.close(Instant::now());
            self.wake_driver();
            self.wake_waiters();
        }
    }
}

/// Shared by every clone of one [`Client`]: the last clone to go closes the session.
struct Handle(Shared);

impl Drop for Handle {
    fn drop(&mut self) {
        let mut state = lock(&self.0);
        if !state.core.is_closed() {
            log::debug!("spaces driver: every client is dropped; closing the session");
        }
        state.close();
    }
}

/// Builds a session: the core from `config`, the TLS configuration from `options`. Returns
/// the [`Client`] and the driver future, which you spawn on an executor (smol, async-std, or
/// any other: async-io runs its reactor on a helper thread when the executor does not drive
/// it). The session connects as soon as the driver runs, asking `provider` for a token first
/// (and again before every reconnection). The runtime crates' `connect` does this for you.
///
/// The driver ends once the session has ended and its socket is shut. Dropping it without
/// running it ends the session: commands return [`Error::Closed`].
///
/// # Errors
/// [`Error::Config`] for an invalid `config`, [`Error::Tls`] for unusable [`TlsOptions`].
pub fn start(
    config: SpacesConfig,
    provider: impl TokenProvider + 'static,
    options: Options,
) -> Result<(Client, impl Future<Output = ()> + Send + 'static), Error> {
    let tls = transport::Tls::new(&options.tls)?;
    let core = spaces_socket_runtime::session(config, Instant::now(), &options)?;
    let shared = Arc::new(Mutex::new(State {
        core,
        provider: Box::new(provider),
        events: VecDeque::new(),
        queued_bytes: 0,
        drained: false,
        max_queued: options.queue_limits(),
        woken: false,
        driver: None,
        waiters: Vec::new(),
        finished: false,
    }));
    let driver = driver::Driver {
        shared: Arc::clone(&shared),
        tls,
        options,
        ws: None,
        batch: Vec::new(),
    };
    let handle = Arc::new(Handle(shared));
    Ok((Client { handle }, driver.run()))
}

/// One Spaces session. Clone it freely: every clone talks to the same session, from any task
/// or thread; dropping the last one closes the session gracefully.
///
/// Commands return at once; their outcome arrives as events from
/// [`next_event`](Self::next_event), which several tasks may await at once (each event goes
/// to one of them).
#[derive(Clone)]
pub struct Client {
    handle: Arc<Handle>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let closed = self.is_closed();
        f.debug_struct("Client").field("closed", &closed).finish()
    }
}

impl Client {
    /// Feeds one command to the core and wakes the driver to carry out what it asks for.
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.handle.0)
    }

    /// Resolves to what `ready` returns, polling it on every wake-up.
    async fn until<T>(&self, mut ready: impl FnMut(&mut State) -> Option<T>) -> T {
        poll_fn(|cx| {
            let mut state = self.state();
            let out = ready(&mut state);
            if out.is_none() && !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
                state.waiters.push(cx.waker().clone());
            }
            out.map_or(Poll::Pending, Poll::Ready)
        })
        .await
    }

    fn command<T>(&self, f: impl FnOnce(&mut RecordedSession, Instant) -> T) -> Result<T, Error> {
        let mut state = self.state();
        if state.ended() {
            return Err(Error::Closed);
        }
        let out = f(&mut state.core, Instant::now());
        // The driver carries out what it asks for, and queues the events some commands make
        // (held messages failing on unsubscribe).
        state.wake_driver();
        Ok(out)
    }

    /// [`Spaces::subscribe`](spaces_socket::spaces::Spaces::subscribe) on this session: wants
    /// `space` subscribed, now and after every reconnect. Its events come from
    /// [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// [`Error::Closed`] once the session has ended.
    pub fn subscribe(&self, space: &str, password: Option<&str>) -> Result<(), Error> {
        self.command(|core, now| core.subscribe(now, space, password))
    }

    /// [`Spaces::unsubscribe`](spaces_socket::spaces::Spaces::unsubscribe) on this session. Its
    /// events come from [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// [`Error::Closed`] once the session has ended.
    pub fn unsubscribe(&self, space: &str) -> Result<(), Error> {
        self.command(|core, now| core.unsubscribe(now, space))
    }

    /// [`Spaces::send_message`](spaces_socket::spaces::Spaces::send_message) on this session: the
    /// returned id comes back in exactly one `Confirmed` or `SendFailed` event. Its events come
    /// from [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// [`Error::Refused`] with the session's
    /// [`SendError`](spaces_socket::spaces::SendError) (nothing was queued), or
    /// [`Error::Closed`].
    pub fn send_message(&self, message: SendMessage) -> Result<SendId, Error> {
        Ok(self.command(|core, now| core.send_message(now, message))??)
    }

    /// [`Spaces::send_presence`](spaces_socket::spaces::Spaces::send_presence) on this session
    /// (never held).
    ///
    /// # Errors
    /// [`Error::Refused`] with the session's [`SendError`](spaces_socket::spaces::SendError), or
    /// [`Error::Closed`].
    pub fn send_presence(&self, presence: &SendPresenceEvent) -> Result<(), Error> {
        Ok(self.command(|core, now| core.send_presence(now, presence))??)
    }

    /// The next event, in order; `None` once the session has ended and every event was taken
    /// (after [`SpacesEvent::Closed`], or when the driver is gone). Call it in a loop until
    /// `None`. The [`Client`] is also a [`Stream`](futures_lite::Stream) of the same events.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: an event is taken from the session only in the poll that returns it, so
    /// dropping the future mid-wait (raced against a timer, a signal or a channel with
    /// `futures_lite::future::or`, `select!`, a timeout) loses no event; the next call returns
    /// it. To wait with a deadline:
    ///
    /// ```no_run
    /// # async fn f(client: spaces_socket_async_io::Client) {
    /// use std::time::Duration;
    /// use futures_lite::future;
    ///
    /// let timeout = async {
    ///     async_io::Timer::after(Duration::from_secs(5)).await;
    ///     None
    /// };
    /// match future::or(async { Some(client.next_event().await) }, timeout).await {
    ///     Some(Some(event)) => println!("{event:?}"),
    ///     Some(None) => println!("the session has ended"),
    ///     None => println!("nothing for 5 s"),
    /// }
    /// # }
    /// ```
    pub async fn next_event(&self) -> Option<SpacesEvent> {
        poll_fn(|cx| self.poll_event(cx)).await
    }

    /// One poll of [`next_event`](Self::next_event): an event leaves the queue only in the poll
    /// that returns it, which is what makes `next_event` cancel-safe.
    fn poll_event(&self, cx: &mut Context<'_>) -> Poll<Option<SpacesEvent>> {
        let mut state = self.state();
        let out = match state.take_event() {
            Some(event) => Some(Some(event)),
            None => (state.drained || state.finished).then_some(None),
        };
        if out.is_none() && !state.waiters.iter().any(|w| w.will_wake(cx.waker())) {
            state.waiters.push(cx.waker().clone());
        }
        out.map_or(Poll::Pending, Poll::Ready)
    }

    /// Runs `bot` on this session until it has ended (the bot called
    /// [`Ctx::close`](spaces_socket::bot::Ctx::close), a [`Shutdown`] was asked for, the
    /// credentials were refused for good, or reconnection attempts ran out) and every event
    /// was handed to the bot; returns the bot. Its timers are real timers on async-io's
    /// reactor; its [`Ctx::rng`](spaces_socket::bot::Ctx::rng) is seeded from the OS. Other
    /// clones of the client keep working meanwhile (their commands and the bot's go to the
    /// same session), but do not read events from them while the bot runs.
    ///
    /// ```no_run
    /// use spaces_socket_async_io::spaces_socket::bot::{Bot, Ctx};
    /// use spaces_socket_async_io::spaces_socket::spaces::SpacesEvent;
    ///
    /// struct Hello;
    ///
    /// impl Bot for Hello {
    ///     fn on_start(&mut self, ctx: &mut Ctx<'_>) {
    ///         ctx.subscribe("lobby");
    ///     }
    ///     fn on_event(&mut self, ctx: &mut Ctx<'_>, event: &SpacesEvent) {
    ///         if let SpacesEvent::Subscribed { space } = event {
    ///             let _ = ctx.send_text(space, "hello");
    ///             ctx.close();
    ///         }
    ///     }
    /// }
    ///
    /// # async fn f(client: spaces_socket_async_io::Client) {
    /// let stop = client.shutdown_handle(); // `stop.shutdown()` from anywhere ends the run
    /// let _bot: Hello = client.run(Hello).await;
    /// # drop(stop);
    /// # }
    /// ```
    pub async fn run<B: Bot>(&self, bot: B) -> B {
        let mut host = Host::new(bot, spaces_socket_runtime::os_seed());
        self.with_core(|core, now| host.start(core, now));
        loop {
            let timer = host.poll_timeout();
            let event = async { Some(self.next_event().await) };
            let due = async {
                match timer {
                    Some(at) => async_io::Timer::at(at).await,
                    None => future::pending().await,
                };
                None
            };
            match future::or(event, due).await {
                Some(Some(event)) => {
                    self.with_core(|core, now| host.handle_event(core, now, &event))
                }
                Some(None) => return host.into_bot(),
                None => self.with_core(|core, now| host.handle_timeout(core, now)),
            }
        }
    }

    /// A handle that ends this session from any thread or task: see [`Shutdown`].
    pub fn shutdown_handle(&self) -> Shutdown {
        Shutdown(Arc::downgrade(&self.handle.0))
    }

    /// Hands the session to a bot's host, then wakes the driver to carry out what it did (and
    /// queue the events that made).
    fn with_core<T>(&self, f: impl FnOnce(&mut RecordedSession, Instant) -> T) -> T {
        let mut state = self.state();
        let out = f(&mut state.core, Instant::now());
        state.wake_driver();
        out
    }

    /// Closes the session gracefully: `41/chat` and a websocket close frame go out,
    /// unconfirmed messages fail with
    /// [`SendFailure::Closed`](spaces_socket::spaces::SendFailure::Closed). Returns once the
    /// socket is shut (at once if the session has already ended; after a connection attempt
    /// in progress, at most [`Options::connect_timeout`]); the last events,
    /// [`SpacesEvent::Closed`] included, remain readable with [`next_event`](Self::next_event).
    pub async fn close(&self) {
        self.state().close();
        self.until(|state| state.finished.then_some(())).await;
    }

    /// True once the session has ended: commands return [`Error::Closed`], and
    /// [`next_event`](Self::next_event) returns what is left, then `None`.
    pub fn is_closed(&self) -> bool {
        self.state().ended()
    }
}

/// The events of [`Client::next_event`], as a stream; it ends once the session has ended and
/// every event was taken. Cancel-safe like `next_event`.
impl futures_lite::Stream for Client {
    type Item = SpacesEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SpacesEvent>> {
        self.poll_event(cx)
    }
}

// The blocking form, for code that picks its runtime at run time (`Box<dyn Session>`):
// `next_event` and `close` block the calling thread on async-io's `block_on`, so they are
// for threads, never for async tasks.
spaces_socket_runtime::impl_session!(Client, |client, max_wait|
    next_event: async_io::block_on(future::or(Client::next_event(client), async {
        match max_wait {
            Some(wait) => async_io::Timer::after(wait).await,
            None => future::pending().await,
        };
        None
    })),
    close: async_io::block_on(Client::close(client)),
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_can_be_shared_between_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Client>();
    }

    #[test]
    fn dropping_the_driver_unused_ends_the_session() {
        let config = SpacesConfig::new("http://127.0.0.1:9/chat").unwrap();
        let token = spaces_socket::spaces::Token::jwt("t");
        let (client, driver) = start(config, token, Options::default()).unwrap();
        assert!(!client.is_closed());
        drop(driver);
        assert!(client.is_closed());
        assert_eq!(client.subscribe("s", None), Err(Error::Closed));
        async_io::block_on(client.close());
    }
}
