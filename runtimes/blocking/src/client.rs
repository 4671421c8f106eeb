//! [`Client`]: the [`Spaces`] state machine driven over a blocking tungstenite websocket on the
//! caller's thread (str0m's blocking loop: [`Spaces::poll_step`] says what to do, and the
//! socket's read deadline is the core's next deadline).
//!
//! This file only moves bytes, reads clocks and calls the core; every protocol decision
//! (handshake, heartbeat, reconnection, subscriptions, confirmations, token requests) is the
//! core's, and every event stays queued in the core until [`Client::next_event`] takes it.

use core::fmt;
use std::io;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use spaces_socket::bot::SessionCommands;
use spaces_socket::bot::{Bot, Host};
use spaces_socket::client::{Transmit, WsUrl};
use spaces_socket::spaces::{
    Input, SendId, SendMessage, SendPresenceEvent, Spaces, SpacesConfig, SpacesEvent, Step,
    TokenProvider,
};
use spaces_socket_runtime::{
    Error, OpenError, Options, RecordedSession, TlsBackend, TlsError, TlsOptions, describe,
    normal_close,
};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Connector, HandshakeError, Message, WebSocket};

use crate::stream::{MIN_WAIT, TimedStream};
use crate::wake::{Alarm, Shutdown, Waker};

type Ws = WebSocket<MaybeTlsStream<TimedStream>>;

/// Opens a session for `config`: the core starts connecting (asking `provider` for a token
/// before this and every later connection), but nothing happens on the network until the
/// first call on the returned [`Client`]; call [`Client::subscribe`] next, then
/// [`Client::next_event`] in a loop.
///
/// # Errors
/// [`Error::Config`] when the core refuses `config`, [`Error::Tls`] when `options.tls` is
/// unusable.
pub fn connect(
    config: SpacesConfig,
    provider: impl TokenProvider + 'static,
    options: Options,
) -> Result<Client, Error> {
    let tls = tls_connector(&options.tls)?;
    let core = spaces_socket_runtime::session(config, Instant::now(), &options)?;
    let provider = Box::new(provider);
    Ok(Client {
        core,
        provider,
        options,
        tls,
        ws: None,
        alarm: Alarm::new(),
    })
}

/// A blocking Avaya Spaces session: one websocket, driven on the calling thread. Made by
/// [`connect`].
///
/// There are no background threads and no locks: the connection only makes progress inside
/// [`next_event`](Self::next_event) and the commands. Call `next_event` regularly: heartbeats,
/// reconnection and confirmations all happen there. After [`SpacesEvent::Closed`] (from
/// [`close`](Self::close), an authentication failure, or exhausted reconnection attempts) the
/// session has ended: commands return [`Error::Closed`]; [`connect`] again for a new one.
///
/// Every blocking call is bounded: by [`Options`] while opening, writing and closing, and by
/// the core's next deadline or the caller's `max_wait` while reading. `Debug` output shows
/// state only, never tokens.
pub struct Client {
    core: RecordedSession,
    provider: Box<dyn TokenProvider>,
    options: Options,
    tls: Tls,
    ws: Option<Ws>,
    alarm: Arc<Alarm>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("connected", &self.core.is_connected())
            .field("closed", &self.core.is_closed())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// [`Spaces::subscribe`](spaces_socket::spaces::Spaces::subscribe) on this session: wants
    /// `space` subscribed, now and after every reconnect. Its events come from
    /// [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// [`Error::Closed`] once the session has ended.
    pub fn subscribe(&mut self, space: &str, password: Option<&str>) -> Result<(), Error> {
        self.command(|core, now| core.subscribe(now, space, password))
    }

    /// [`Spaces::unsubscribe`](spaces_socket::spaces::Spaces::unsubscribe) on this session. Its
    /// events come from [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// [`Error::Closed`] once the session has ended.
    pub fn unsubscribe(&mut self, space: &str) -> Result<(), Error> {
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
    pub fn send_message(&mut self, message: SendMessage) -> Result<SendId, Error> {
        Ok(self.command(|core, now| core.send_message(now, message))??)
    }

    /// [`Spaces::send_presence`](spaces_socket::spaces::Spaces::send_presence) on this session
    /// (never held).
    ///
    /// # Errors
    /// [`Error::Refused`] with the session's [`SendError`](spaces_socket::spaces::SendError), or
    /// [`Error::Closed`].
    pub fn send_presence(&mut self, presence: &SendPresenceEvent) -> Result<(), Error> {
        Ok(self.command(|core, now| core.send_presence(now, presence))??)
    }

    /// Drives the connection until the next event or until `max_wait` has passed
    /// (`None`: no limit). Returns `None` on timeout, or once the session has ended and
    /// every event was returned (then [`is_closed`](Self::is_closed) is true).
    ///
    /// `Some(Duration::ZERO)` polls: it runs due timers and takes what has already arrived
    /// on the socket, without waiting.
    ///
    /// `max_wait` bounds the waiting for the network, not the work: when a (re)connection
    /// attempt starts inside the call, opening the websocket may take up to
    /// [`Options::connect_timeout`], and a write up to [`Options::write_timeout`].
    ///
    /// Another thread ends the wait early with a [`Waker`] (`None` at once, as on a timeout)
    /// or a [`Shutdown`] (the session closes here, the last events follow, then `None`).
    pub fn next_event(&mut self, max_wait: Option<Duration>) -> Option<SpacesEvent> {
        let give_up = max_wait.and_then(|w| Instant::now().checked_add(w));
        // Read at least once per call, so that a zero `max_wait` still polls the socket.
        let mut read = false;
        loop {
            self.flush();
            let (now, wall) = (Instant::now(), SystemTime::now());
            let deadline = match self.core.poll_step(now, wall, &mut *self.provider) {
                Step::Transmit(transmit) => {
                    self.execute(transmit);
                    continue;
                }
                Step::Event(event) => {
                    // Taking an event may have queued transmits (a replayed subscription).
                    self.transmit();
                    return Some(event);
                }
                Step::Wait(_) if self.core.is_closed() => return None,
                Step::Wait(Some(due)) if due <= now => {
                    self.core.handle_input(now, Input::Timeout);
                    if self.core.poll_timeout().is_some_and(|due| due <= now) {
                        // A timer that does not move would make this loop spin; never let it.
                        std::thread::sleep(MIN_WAIT);
                    }
                    continue;
                }
                Step::Wait(deadline) => deadline,
                // `poll_step` answers token requests itself.
                _ => continue,
            };
            if self.alarm.take() {
                if !self.alarm.stop_requested() {
                    return None;
                }
                self.close();
                continue;
            }
            if give_up.is_some_and(|g| now >= g) && (read || self.ws.is_none()) {
                return None;
            }
            let wake = deadline.into_iter().chain(give_up).min();
            match wake {
                // With `wake` already past, this takes only what has arrived.
                _ if self.ws.is_some() => read = self.read_once(wake),
                // No socket, no timer, not closed: nothing but a ring can ever happen.
                None if !self.alarm.can_ring() => return None,
                // No socket: backing off between attempts, wait for the timer (or a ring).
                _ => {
                    let _ = self.alarm.wait(None, wake.map(|w| w.max(now + MIN_WAIT)));
                }
            }
        }
    }

    /// Closes gracefully: the core leaves `/chat` (`41/chat`) and asks for the websocket to
    /// close; the close frame is flushed and the server's answer awaited for at most
    /// [`Options::close_timeout`]. Unconfirmed messages fail with `SendFailure::Closed`; the
    /// remaining events, ending with [`SpacesEvent::Closed`] unless the session had already
    /// ended, can still be read with [`next_event`](Self::next_event). Afterwards
    /// [`is_closed`](Self::is_closed) is true.
    pub fn close(&mut self) {
        self.core.close(Instant::now());
        self.transmit();
        // The core only asks to close a socket it considers open; drop any other.
        shut(self.ws.take(), false, &self.options);
    }

    /// True once the session has ended for good: commands return [`Error::Closed`].
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// A handle that wakes this client's [`next_event`](Self::next_event) from another thread.
    pub fn waker(&self) -> Waker {
        Waker(Arc::clone(&self.alarm))
    }

    /// A handle that closes this session from another thread: see [`Shutdown`].
    pub fn shutdown_handle(&self) -> Shutdown {
        Shutdown(Arc::clone(&self.alarm))
    }

    /// Runs `bot` on this session, on the calling thread, until the session has ended (the bot
    /// called [`Ctx::close`](spaces_socket::bot::Ctx::close), a [`Shutdown`] was asked for, the
    /// credentials were refused for good, or reconnection attempts ran out) and every event was
    /// handed to the bot; returns the bot. Its timers wait in the same read as the websocket;
    /// its [`Ctx::rng`](spaces_socket::bot::Ctx::rng) is seeded from the OS.
    ///
    /// ```no_run
    /// use spaces_socket_blocking::spaces_socket::bot::{Bot, Ctx};
    /// use spaces_socket_blocking::spaces_socket::spaces::{PRODUCTION_URL, SpacesConfig, SpacesEvent, Token};
    /// use spaces_socket_blocking::{Options, connect};
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
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut client = connect(SpacesConfig::new(PRODUCTION_URL)?, Token::jwt("eyJ…"), Options::default())?;
    /// let stop = client.shutdown_handle(); // `stop.shutdown()` from any thread ends the run
    /// let _bot: Hello = client.run(Hello);
    /// # drop(stop);
    /// # Ok(())
    /// # }
    /// ```
    pub fn run<B: Bot>(&mut self, bot: B) -> B {
        let mut host = Host::new(bot, spaces_socket_runtime::os_seed());
        self.with_core(|core, now| host.start(core, now));
        loop {
            let now = Instant::now();
            let wait = host
                .poll_timeout()
                .map(|at| at.saturating_duration_since(now));
            match self.next_event(wait) {
                Some(event) => self.with_core(|core, now| host.handle_event(core, now, &event)),
                None if self.is_closed() => return host.into_bot(),
                // A timer is due (or a waker rang: nothing is due then).
                None => self.with_core(|core, now| host.handle_timeout(core, now)),
            }
        }
    }

    /// Hands the session to a bot's host, then carries out what it asks for.
    fn with_core(&mut self, f: impl FnOnce(&mut RecordedSession, Instant)) {
        f(&mut self.core, Instant::now());
        self.transmit();
    }

    /// The sans-IO session underneath, for inspection (`is_connected`, `is_subscribed`,
    /// `unconfirmed`, …).
    pub fn core(&self) -> &Spaces {
        &self.core
    }

    // ----- driving the core ------------------------------------------------------------------

    /// Feeds one command to the core, then carries out what it asks for.
    fn command<T>(
        &mut self,
        f: impl FnOnce(&mut RecordedSession, Instant) -> T,
    ) -> Result<T, Error> {
        if self.core.is_closed() {
            return Err(Error::Closed);
        }
        let out = f(&mut self.core, Instant::now());
        self.transmit();
        Ok(out)
    }

    /// Carries out every transmit (answering token requests), leaving the events queued in the
    /// core for [`next_event`](Self::next_event).
    fn transmit(&mut self) {
        loop {
            let (now, wall) = (Instant::now(), SystemTime::now());
            match self.core.poll_write(now, wall, &mut *self.provider) {
                Some(transmit) => self.execute(transmit),
                None => return self.flush(),
            }
        }
    }

    fn execute(&mut self, transmit: Transmit) {
        match transmit {
            Transmit::Open(url) => {
                log::debug!("spaces-socket-blocking: opening {url:?}");
                match self.open(&url) {
                    Ok(ws) => {
                        self.ws = Some(ws);
                        self.core.handle_input(Instant::now(), Input::Opened);
                    }
                    Err(failure) => failure.report(&mut self.core, Instant::now()),
                }
            }
            Transmit::Text(text) => self.write(Message::text(text)),
            Transmit::Binary(data) => self.write(Message::binary(data)),
            // Wait for the server's answer only when the session is over.
            Transmit::Close => shut(self.ws.take(), self.core.is_closed(), &self.options),
        }
    }

    /// Queues one message; frames meant for a socket that is already gone are dropped (the
    /// core learnt of the loss and re-sends what matters after reconnecting).
    fn write(&mut self, message: Message) {
        let Some(ws) = self.ws.as_mut() else {
            return log::debug!("spaces-socket-blocking: no websocket; frame dropped");
        };
        if let Err(e) = ws.write(message) {
            self.lost(Some(describe(&e)));
        }
    }

    fn flush(&mut self) {
        if let Some(Err(e)) = self.ws.as_mut().map(WebSocket::flush) {
            self.lost(Some(describe(&e)));
        }
    }

    /// The websocket failed or was closed by the server: forget it and tell the core.
    fn lost(&mut self, error: Option<String>) {
        self.ws = None;
        let error = error.as_deref();
        self.core
            .handle_input(Instant::now(), Input::Closed { error });
    }

    /// Reads at most one message, waiting until `until` at the latest, and feeds it to the
    /// core. True: a read was made.
    fn read_once(&mut self, until: Option<Instant>) -> bool {
        let Some(ws) = self.ws.as_mut() else {
            return false;
        };
        let Some(stream) = timed(ws) else {
            // Unreachable with the TLS backends compiled in; never read without a bound.
            self.lost(Some("unsupported stream type".to_owned()));
            return false;
        };
        stream.set_read_deadline(until);
        let result = ws.read();
        let now = Instant::now();
        match result {
            Ok(Message::Text(text)) => self.core.handle_input(now, Input::Text(text.as_str())),
            Ok(Message::Binary(data)) => self.core.handle_input(now, Input::Binary(&data)),
            Ok(Message::Close(_)) => {
                // tungstenite queued the answering close frame; send it, then let go.
                let _ = ws.flush();
                self.lost(None);
            }
            // Ping/pong frames are tungstenite's business; its pong goes out with the flush.
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            // The deadline passed; `next_event` decides what is due.
            Err(tungstenite::Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                self.lost(None)
            }
            Err(e) => self.lost(Some(describe(&e))),
        }
        true
    }

    /// Opens the websocket for `url` within [`Options::connect_timeout`]: resolve, TCP connect,
    /// TLS for `wss`, HTTP upgrade. The error is a one-line reason with no credentials.
    fn open(&self, url: &WsUrl) -> Result<Ws, OpenError> {
        let deadline = Instant::now() + self.options.connect_timeout;
        let endpoint = url.endpoint();
        let tcp = connect_tcp(&endpoint.host, endpoint.port_or_default(), deadline)?;
        // Engine.IO frames are small and latency-bound (pings, acks): do not batch them.
        let _ = tcp.set_nodelay(true);
        let stream = TimedStream::opening(tcp, deadline);
        let request = url.expose().into_client_request();
        let request = request.map_err(|e| describe(&e))?;
        let connector = match endpoint.secure {
            true => (self.tls)(),
            false => Connector::Plain,
        };
        // Reads of up to 4 KiB, not 1: a thread under load then takes several frames per
        // syscall (issue 20: 1.22x -> 1.13x the floor's CPU in the 100 x 1000 fan-out). The
        // thread's stack dwarfs the 3 KiB more an idle connection keeps.
        let config = self.options.websocket_config().read_buffer_size(4 << 10);
        match tungstenite::client_tls_with_config(request, stream, Some(config), Some(connector)) {
            Ok((mut ws, _response)) => {
                let stream = timed(&mut ws).ok_or("unsupported stream type")?;
                let run = stream.run(self.options.write_timeout);
                run.map_err(|e| format!("socket option: {e}"))?;
                stream.set_alarm(Arc::clone(&self.alarm));
                Ok(ws)
            }
            Err(HandshakeError::Failure(e)) => Err(OpenError::upgrade(&e)),
            Err(HandshakeError::Interrupted(_)) => Err("websocket upgrade timed out".into()),
        }
    }
}

spaces_socket_runtime::impl_session!(Client, |client, max_wait|
    next_event: Client::next_event(client, max_wait),
    close: Client::close(client),
);

/// Makes the connector of the chosen TLS backend for each connection, from the configuration
/// built once per client.
type Tls = Box<dyn Fn() -> Connector + Send>;

fn tls_connector(options: &TlsOptions) -> Result<Tls, TlsError> {
    match options.backend {
        TlsBackend::Rustls => {
            let config = spaces_socket_runtime::rustls_client_config(options)?;
            Ok(Box::new(move || Connector::Rustls(Arc::clone(&config))))
        }
        #[cfg(feature = "native-tls")]
        TlsBackend::NativeTls => {
            let connector = spaces_socket_runtime::native_tls_connector(options)?;
            Ok(Box::new(move || Connector::NativeTls(connector.clone())))
        }
        // Another crate may turn on a backend this crate was built without.
        other => Err(TlsError::BackendUnavailable(other)),
    }
}

/// Sends a close frame (code 1000) and lets the socket go; when `graceful`, first waits up to
/// [`Options::close_timeout`] for the server's answering close.
fn shut(ws: Option<Ws>, graceful: bool, options: &Options) {
    let Some(mut ws) = ws else { return };
    if ws.close(Some(normal_close())).is_err() || !graceful {
        return;
    }
    let until = Instant::now() + options.close_timeout;
    let Some(stream) = timed(&mut ws) else { return };
    stream.set_read_deadline(Some(until));
    // Anything still arriving belongs to a session the core has closed. The clock check
    // stops a server that keeps talking past the deadline.
    while Instant::now() < until && ws.read().is_ok() {}
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
    let addrs = (host, port).to_socket_addrs();
    let mut last = format!("{host} resolved to no address");
    for addr in addrs.map_err(|e| format!("cannot resolve {host}: {e}"))? {
        let left = deadline.saturating_duration_since(Instant::now());
        match TcpStream::connect_timeout(&addr, left.max(MIN_WAIT)) {
            Ok(tcp) => return Ok(tcp),
            Err(e) => last = format!("cannot connect to {addr}: {e}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use spaces_socket::spaces::Token;

    #[test]
    fn the_client_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<Client>();
    }

    #[test]
    fn debug_shows_state_not_the_token() {
        let config = SpacesConfig::new("http://127.0.0.1:9/chat?token=URL_SECRET").unwrap();
        let mut c = connect(config, Token::jwt("TOKEN_SECRET"), Options::default()).unwrap();
        c.subscribe("s1", Some("PIN_SECRET")).unwrap();
        let shown = format!("{c:?}");
        assert!(
            shown.contains("Client") && shown.contains("closed"),
            "{shown}"
        );
        for secret in ["URL_SECRET", "TOKEN_SECRET", "PIN_SECRET"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
    }

    #[test]
    fn open_failures_never_show_the_credential_url() {
        let config = SpacesConfig::new("http://h/chat").unwrap();
        let mut core = Spaces::new(config).unwrap();
        core.connect(Instant::now());
        let token = Token::jwt("SECRET");
        core.handle_input(
            Instant::now(),
            Input::Token {
                token: &token,
                refreshes: false,
            },
        );
        let Step::Transmit(Transmit::Open(url)) = core.poll_output() else {
            panic!("no open transmit");
        };
        let error = tungstenite::error::UrlError::UnableToConnect(url.expose().to_owned());
        let text = describe(&tungstenite::Error::Url(error));
        assert!(!text.contains("SECRET"), "{text}");
    }

    #[test]
    fn each_backend_gets_its_own_connector() {
        let tls = tls_connector(&TlsOptions::default()).map(|make| make());
        assert!(matches!(tls, Ok(Connector::Rustls(_))));
        #[cfg(feature = "native-tls")]
        {
            let options = TlsOptions::default().with_backend(TlsBackend::NativeTls);
            let tls = tls_connector(&options).map(|make| make());
            assert!(matches!(tls, Ok(Connector::NativeTls(_))));
        }
    }

    #[test]
    fn refusals_come_from_the_shared_builders() {
        let options = TlsOptions::default().without_webpki_roots();
        assert!(matches!(
            tls_connector(&options).err(),
            Some(TlsError::NoRoots)
        ));
    }
}
