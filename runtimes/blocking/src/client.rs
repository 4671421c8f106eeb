//! [`SpacesClient`]: the [`Spaces`] state machine driven over a blocking tungstenite websocket
//! on the caller's thread (str0m's blocking loop: the socket's read timeout is the time until
//! the core's next deadline).
//!
//! This file only moves bytes, reads clocks and calls the core; every protocol decision
//! (handshake, heartbeat, reconnection, subscriptions, confirmations) is the core's.

use core::fmt;
use std::collections::VecDeque;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant, SystemTime};

use spaces_socket::client::{ConfigError, Transmit, WsUrl};
use spaces_socket::spaces::{
    SendError, SendId, SendMessage, SendPresenceEvent, Spaces, SpacesConfig, SpacesEvent,
    TokenProvider,
};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Connector, HandshakeError, Message, WebSocket};

use crate::stream::{MIN_WAIT, TimedStream};
use crate::tls::Tls;
use crate::{TlsError, TlsOptions};

type Ws = WebSocket<MaybeTlsStream<TimedStream>>;

/// Adapter settings (the protocol's own timers live in [`SpacesConfig`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Budget for opening one websocket: TCP connect, TLS handshake and HTTP upgrade together
    /// (default 10 s). Name resolution uses the system resolver and its own timeouts.
    pub connect_timeout: Duration,
    /// Longest a single write may block before the connection is declared lost (default 10 s).
    pub write_timeout: Duration,
    /// How long [`SpacesClient::close`] waits for the server to answer our close frame
    /// (default 2 s).
    pub close_timeout: Duration,
    /// TLS settings for `wss://` URLs.
    pub tls: TlsOptions,
    /// Largest websocket message accepted from the server (default 16 MiB, a thousand times
    /// the Spaces payload limit); a larger one drops the connection, which then reconnects.
    /// `None` removes the limit.
    pub max_message_size: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(2),
            tls: TlsOptions::default(),
            max_message_size: Some(16 << 20),
        }
    }
}

/// Why a [`SpacesClient`] could not be built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// The [`SpacesConfig`] was refused by the core.
    #[error("invalid configuration: {0}")]
    Config(#[from] ConfigError),
    /// The TLS settings are unusable (for example a malformed extra root certificate).
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A blocking Avaya Spaces client: one websocket, driven on the calling thread.
///
/// There are no background threads and no locks: the connection only makes progress inside
/// [`next_event`](Self::next_event) (or [`events`](Self::events)) and the commands. Call
/// `next_event` regularly: heartbeats, reconnection and confirmations all happen there.
///
/// The first command or `next_event` connects (asking the [`TokenProvider`] for a token, as
/// it does again before every reconnection). After [`SpacesEvent::Closed`] (from
/// [`close`](Self::close), an authentication failure, or exhausted reconnection attempts) the
/// client stays closed until [`connect`](Self::connect).
///
/// Every blocking call is bounded: by [`Options`] while opening, writing and closing, and by
/// the core's next deadline or the caller's `max_wait` while reading. `Debug` output shows
/// state only, never tokens.
pub struct SpacesClient {
    core: Spaces,
    provider: Box<dyn TokenProvider>,
    options: Options,
    tls: Tls,
    ws: Option<Ws>,
    events: VecDeque<SpacesEvent>,
    /// `connect` was called (explicitly or by first use).
    started: bool,
    /// [`SpacesEvent::Closed`] was queued, or [`SpacesClient::close`] ran.
    closed: bool,
    /// Inside [`SpacesClient::close`]: a close transmit waits for the server's answer.
    graceful: bool,
}

impl fmt::Debug for SpacesClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpacesClient")
            .field("connected", &self.core.is_connected())
            .field("socket_open", &self.ws.is_some())
            .field("unconfirmed", &self.core.unconfirmed())
            .field("queued_events", &self.events.len())
            .field("closed", &self.closed)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl SpacesClient {
    /// A client for `config` with default [`Options`]; nothing happens on the network until
    /// the first command or [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// [`BuildError`] when the configuration or the default TLS setup is refused.
    pub fn new(
        config: SpacesConfig,
        provider: impl TokenProvider + 'static,
    ) -> Result<Self, BuildError> {
        Self::with_options(config, provider, Options::default())
    }

    /// Like [`new`](Self::new) with adapter [`Options`] (timeouts, TLS roots, limits).
    ///
    /// # Errors
    /// [`BuildError`] when the configuration or the TLS settings are refused.
    pub fn with_options(
        config: SpacesConfig,
        provider: impl TokenProvider + 'static,
        options: Options,
    ) -> Result<Self, BuildError> {
        let tls = Tls::new(&options.tls)?;
        let core = Spaces::new(config)?;
        Ok(Self {
            core,
            provider: Box::new(provider),
            options,
            tls,
            ws: None,
            events: VecDeque::new(),
            started: false,
            closed: false,
            graceful: false,
        })
    }

    /// Starts connecting now (the first command does this by itself), or again after
    /// [`SpacesEvent::Closed`]. Wanted subscriptions are replayed once connected. A no-op
    /// while connected or reconnecting.
    pub fn connect(&mut self) {
        self.started = true;
        self.closed = false;
        self.core.connect(Instant::now());
        self.drain();
    }

    fn start(&mut self) {
        if !self.started {
            self.connect();
        }
    }

    /// Wants `space` subscribed, now and after every reconnect; `password` is its PIN if it has
    /// one. Expect [`SpacesEvent::Subscribed`] or [`SpacesEvent::SubscribeFailed`] from
    /// [`next_event`](Self::next_event).
    pub fn subscribe(&mut self, space: &str, password: Option<&str>) {
        self.start();
        self.core.subscribe(Instant::now(), space, password);
        self.drain();
    }

    /// Stops wanting `space`; expect [`SpacesEvent::Unsubscribed`] if it was subscribed.
    pub fn unsubscribe(&mut self, space: &str) {
        self.start();
        self.core.unsubscribe(Instant::now(), space);
        self.drain();
    }

    /// Sends a message to its space (subscribe first). It goes out now if the space is
    /// subscribed, else as soon as it is, across reconnects. Expect exactly one
    /// [`SpacesEvent::Confirmed`] or [`SpacesEvent::SendFailed`] with the returned id.
    ///
    /// # Errors
    /// [`SendError`] when the message is refused before reaching the wire (not subscribed,
    /// too large, rate limited, too many waiting); nothing was sent then.
    pub fn send_message(&mut self, message: SendMessage) -> Result<SendId, SendError> {
        self.start();
        let result = self.core.send_message(Instant::now(), message);
        self.drain();
        result
    }

    /// Sends a presence event (online, typing, …) to a subscribed space. Never held.
    ///
    /// # Errors
    /// [`SendError::NotConnected`] unless connected and subscribed to its space, or a size
    /// error; nothing was sent then.
    pub fn send_presence(&mut self, presence: &SendPresenceEvent) -> Result<(), SendError> {
        self.start();
        let result = self.core.send_presence(Instant::now(), presence);
        self.drain();
        result
    }

    /// Drives the connection until the next event or until `max_wait` has passed
    /// (`None`: no limit). Returns `None` on timeout, or once the session is closed and
    /// every event was returned (then [`is_closed`](Self::is_closed) is true).
    ///
    /// `Some(Duration::ZERO)` polls: it runs due timers and takes what has already arrived
    /// on the socket, without waiting.
    ///
    /// `max_wait` bounds the waiting for the network, not the work: when a (re)connection
    /// attempt starts inside the call, opening the websocket may take up to
    /// [`Options::connect_timeout`], and a write up to [`Options::write_timeout`].
    pub fn next_event(&mut self, max_wait: Option<Duration>) -> Option<SpacesEvent> {
        let give_up = max_wait.and_then(|w| Instant::now().checked_add(w));
        self.start();
        // Read at least once per call, so that a zero `max_wait` still polls the socket.
        let mut read = false;
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            if self.closed {
                return None;
            }
            let now = Instant::now();
            let deadline = self.core.poll_timeout();
            if deadline.is_some_and(|d| now >= d) {
                self.core.handle_timeout(now);
                self.drain();
                if self.core.poll_timeout().is_some_and(|d| d <= now) {
                    // A timer that does not move would make this loop spin; never let it.
                    std::thread::sleep(MIN_WAIT);
                }
                if self.events.is_empty() && give_up.is_some_and(|g| now >= g) {
                    return None;
                }
                continue;
            }
            let expired = give_up.is_some_and(|g| now >= g);
            if expired && (read || self.ws.is_none()) {
                return None;
            }
            let wake = match (deadline, give_up) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            if self.ws.is_some() {
                // With `wake` already past, this takes only what has arrived.
                self.read_once(wake);
                read = true;
            } else if let Some(wake) = wake {
                // Backing off between attempts: nothing to read, just wait for the timer.
                std::thread::sleep(wake.saturating_duration_since(now).max(MIN_WAIT));
            } else {
                // No socket, no timer, not closed: nothing can ever happen.
                log::warn!("spaces-socket-blocking: idle with no socket and no timer");
                return None;
            }
        }
    }

    /// Every event until the session is closed: [`next_event`](Self::next_event) with no
    /// time limit.
    pub fn events(&mut self) -> impl Iterator<Item = SpacesEvent> + '_ {
        std::iter::from_fn(move || self.next_event(None))
    }

    /// Closes gracefully: the core leaves `/chat` (`41/chat`) and asks for the websocket to
    /// close; the close frame is flushed and the server's answer awaited for at most
    /// [`Options::close_timeout`]. Unconfirmed messages fail with `SendFailure::Closed`; the
    /// remaining events (ending with [`SpacesEvent::Closed`] unless the session was already
    /// closed or never started) can still be read with [`next_event`](Self::next_event).
    /// Afterwards [`is_closed`](Self::is_closed) is true; [`connect`](Self::connect) starts
    /// again.
    pub fn close(&mut self) {
        self.started = true;
        self.graceful = true;
        self.core.close(Instant::now());
        self.drain();
        self.graceful = false;
        // The core only asks to close a socket it considers open; drop any other.
        if let Some(ws) = self.ws.take() {
            self.shut(ws, false);
        }
        self.closed = true;
    }

    /// True once the session is closed for good (until [`connect`](Self::connect)).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The sans-IO session underneath, for inspection (`is_connected`, `is_subscribed`,
    /// `unconfirmed`, …).
    pub fn core(&self) -> &Spaces {
        &self.core
    }

    // ----- driving the core ------------------------------------------------------------------

    /// Carries out every transmit and handles every event the core has, until it has none:
    /// the drain half of the core's contract, run after each input.
    fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(transmit) = self.core.poll_transmit() {
                progressed = true;
                self.execute(transmit);
            }
            self.flush();
            while let Some(event) = self.core.poll_event() {
                progressed = true;
                self.on_event(event);
            }
            if !progressed {
                return;
            }
        }
    }

    fn on_event(&mut self, event: SpacesEvent) {
        match event {
            SpacesEvent::TokenNeeded { attempt } => {
                let token = self.provider.token(SystemTime::now());
                let now = Instant::now();
                match token {
                    Ok(token) => self.core.handle_token(now, &token),
                    Err(e) => {
                        log::warn!("spaces-socket-blocking: no token for attempt {attempt}: {e}");
                        self.core.handle_token_error(now, &e);
                    }
                }
            }
            SpacesEvent::Closed => {
                self.closed = true;
                self.events.push_back(SpacesEvent::Closed);
            }
            other => self.events.push_back(other),
        }
    }

    fn execute(&mut self, transmit: Transmit) {
        match transmit {
            Transmit::Open(url) => {
                if let Some(old) = self.ws.take() {
                    self.shut(old, false);
                }
                log::debug!("spaces-socket-blocking: opening {url:?}");
                match self.open(&url) {
                    Ok(ws) => {
                        self.ws = Some(ws);
                        self.core.handle_open(Instant::now());
                    }
                    Err(reason) => {
                        log::debug!("spaces-socket-blocking: open failed: {reason}");
                        self.core.handle_open_failed(Instant::now(), reason);
                    }
                }
            }
            Transmit::Text(text) => self.write(Message::text(text)),
            Transmit::Binary(data) => self.write(Message::binary(data)),
            Transmit::Close => {
                if let Some(ws) = self.ws.take() {
                    let graceful = self.graceful;
                    self.shut(ws, graceful);
                }
            }
        }
    }

    /// Queues one message; frames meant for a socket that is already gone are dropped (the
    /// core learnt of the loss and re-sends what matters after reconnecting).
    fn write(&mut self, message: Message) {
        let Some(ws) = self.ws.as_mut() else {
            log::debug!("spaces-socket-blocking: no websocket; frame dropped");
            return;
        };
        if let Err(e) = ws.write(message) {
            self.lost(Some(describe(&e)));
        }
    }

    fn flush(&mut self) {
        if let Some(ws) = self.ws.as_mut()
            && let Err(e) = ws.flush()
        {
            self.lost(Some(describe(&e)));
        }
    }

    /// The websocket failed or was closed by the server: forget it and tell the core.
    fn lost(&mut self, error: Option<String>) {
        self.ws = None;
        self.core.handle_closed(Instant::now(), error);
    }

    /// Reads at most one message, waiting until `until` at the latest, and feeds it to the
    /// core.
    fn read_once(&mut self, until: Option<Instant>) {
        let Some(ws) = self.ws.as_mut() else { return };
        match timed(ws) {
            Some(stream) => stream.set_read_deadline(until),
            None => {
                // Unreachable with the TLS backends compiled in; never read without a bound.
                self.lost(Some("unsupported stream type".to_owned()));
                self.drain();
                return;
            }
        }
        let result = ws.read();
        let now = Instant::now();
        match result {
            Ok(Message::Text(text)) => self.core.handle_text(now, text.as_str()),
            Ok(Message::Binary(data)) => self.core.handle_binary(now, &data),
            Ok(Message::Close(_)) => {
                // tungstenite queued the answering close frame; send it, then let go.
                if let Some(mut ws) = self.ws.take() {
                    let _ = ws.flush();
                }
                self.core.handle_closed(now, None);
            }
            // Ping/pong frames are tungstenite's business; its pong goes out with the flush.
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                // The deadline passed; `next_event` decides what is due.
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                self.lost(None)
            }
            Err(e) => self.lost(Some(describe(&e))),
        }
        self.flush();
        self.drain();
    }

    /// Opens the websocket for `url` within [`Options::connect_timeout`]: resolve, TCP connect,
    /// TLS for `wss`, HTTP upgrade. The error is a one-line reason with no credentials.
    fn open(&self, url: &WsUrl) -> Result<Ws, String> {
        let deadline = Instant::now() + self.options.connect_timeout;
        let endpoint = url.endpoint();
        let tcp = connect_tcp(&endpoint.host, endpoint.port_or_default(), deadline)?;
        // Engine.IO frames are small and latency-bound (pings, acks): do not batch them.
        let _ = tcp.set_nodelay(true);
        let stream = TimedStream::opening(tcp, deadline);
        let request = url
            .expose()
            .into_client_request()
            .map_err(|e| scrub(describe(&e), url))?;
        let connector = if endpoint.secure {
            self.tls.connector()
        } else {
            Connector::Plain
        };
        let config = WebSocketConfig::default().max_message_size(self.options.max_message_size);
        match tungstenite::client_tls_with_config(request, stream, Some(config), Some(connector)) {
            Ok((mut ws, _response)) => {
                let stream = timed(&mut ws).ok_or("unsupported stream type")?;
                stream
                    .run(self.options.write_timeout)
                    .map_err(|e| format!("socket option: {e}"))?;
                Ok(ws)
            }
            Err(HandshakeError::Failure(e)) => Err(scrub(describe(&e), url)),
            Err(HandshakeError::Interrupted(_)) => Err("websocket upgrade timed out".to_owned()),
        }
    }

    /// Sends a close frame (code 1000) and lets the socket go; when `graceful`, first waits up
    /// to [`Options::close_timeout`] for the server's answering close.
    fn shut(&self, mut ws: Ws, graceful: bool) {
        let frame = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        if ws.close(Some(frame)).is_err() || !graceful {
            return;
        }
        let until = Instant::now() + self.options.close_timeout;
        let Some(stream) = timed(&mut ws) else { return };
        stream.set_read_deadline(Some(until));
        // Anything still arriving belongs to a session the core has closed. The clock check
        // stops a server that keeps talking past the deadline.
        while Instant::now() < until && ws.read().is_ok() {}
    }
}

/// The deadline-aware TCP stream under whatever TLS wraps it.
fn timed(ws: &mut Ws) -> Option<&mut TimedStream> {
    match ws.get_mut() {
        MaybeTlsStream::Plain(s) => Some(s),
        MaybeTlsStream::Rustls(s) => Some(&mut s.sock),
        #[cfg(feature = "native-tls")]
        MaybeTlsStream::NativeTls(s) => Some(s.get_mut()),
        _ => None,
    }
}

/// Connects to the first address of `host` that answers before `deadline`.
fn connect_tcp(host: &str, port: u16, deadline: Instant) -> Result<TcpStream, String> {
    // The system resolver applies its own timeouts (resolv.conf); std takes none from us.
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    let mut last = format!("{host} resolved to no address");
    for addr in addrs {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("connecting to {host}:{port} timed out"));
        }
        match TcpStream::connect_timeout(&addr, left) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

/// A one-line reason for the core (and from there the user's events and logs).
fn describe(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Io(io) => {
            // rustls reports handshake failures (bad certificate, alert) through io::Error.
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return format!("TLS handshake failed: {tls}");
            }
            match io.kind() {
                io::ErrorKind::TimedOut => "connect timeout reached".to_owned(),
                _ => format!("IO error: {io}"),
            }
        }
        other => other.to_string(),
    }
}

/// Replaces the credential-carrying URL in an error text by its redacted form.
fn scrub(text: String, url: &WsUrl) -> String {
    if text.contains(url.expose()) {
        text.replace(url.expose(), &format!("{url:?}"))
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spaces_socket::spaces::Token;

    #[test]
    fn the_client_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<SpacesClient>();
    }

    #[test]
    fn debug_shows_state_not_the_token() {
        let config = SpacesConfig::new("http://127.0.0.1:9/chat?token=URL_SECRET").unwrap();
        let mut c = SpacesClient::new(config, Token::jwt("TOKEN_SECRET")).unwrap();
        c.subscribe("s1", Some("PIN_SECRET"));
        let shown = format!("{c:?}");
        assert!(
            shown.contains("SpacesClient") && shown.contains("closed"),
            "{shown}"
        );
        for secret in ["URL_SECRET", "TOKEN_SECRET", "PIN_SECRET"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
    }

    #[test]
    fn scrub_replaces_the_credential_url() {
        let config = SpacesConfig::new("http://h/chat").unwrap();
        let mut core = Spaces::new(config).unwrap();
        core.connect(Instant::now());
        core.handle_token(Instant::now(), &Token::jwt("SECRET"));
        let Some(Transmit::Open(url)) = core.poll_transmit() else {
            panic!("no open transmit");
        };
        let text = scrub(format!("Unable to connect to {}", url.expose()), &url);
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("token=<redacted>"), "{text}");
    }
}
