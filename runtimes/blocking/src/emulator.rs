//! A blocking loopback listener for the sans-IO [`Emulator`]: a real websocket server that
//! socket.io-client 2.0.4 (or any client of this crate) can connect to.
//!
//! # Threads and timeouts
//!
//! * **accept thread**: accepts TCP connections on the loopback address and spawns one
//!   connection thread each (at most `max_connections + 64` alive; extra sockets are dropped).
//! * **connection threads**: run the websocket handshake (the request must arrive within
//!   [`HANDSHAKE_TIMEOUT`]); the upgrade's request target is handed to
//!   [`Emulator::handle_connect`] through the core thread, and a [`Rejection`] becomes an HTTP
//!   error response with engine.io's body text. Once open, the thread owns the `WebSocket`:
//!   it reads with a [`READ_POLL`] timeout so it can also write what the core thread queued for
//!   it (a channel per connection). Writes block at most [`WRITE_TIMEOUT`]; a client that
//!   does not read for that long is dropped. After a server close, the thread waits at most
//!   [`CLOSE_GRACE`] for the client's close frame.
//! * **core thread**: owns the [`Emulator`], receives every input on one channel, sleeps with
//!   `recv_timeout` until the emulator's next deadline, and routes each [`ServerOutput`] to its
//!   connection thread.
//!
//! Stopping ([`EmulatorServer::stop`] or drop) kicks every connection, stops the core and accept
//! threads and joins every thread; each exits within the timeouts above.

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use spaces_socket_emulator::{
    Authenticator, ConnId, Emulator, EmulatorConfig, EmulatorEvent, EmulatorStats, Rejection,
    ServerOutput, User,
};
use tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Message, WebSocket, http};

/// How long a connection thread blocks in a read before checking for frames to write: the
/// extra latency of server-to-client frames.
pub const READ_POLL: Duration = Duration::from_millis(5);
/// How long a client has to send its upgrade request.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a write may block before the client is dropped.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the client's close frame after the server closed.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);
/// Largest websocket message accepted (engine.io's default is 100 MB; Spaces payloads are
/// 16 KB). A larger one closes the connection (tungstenite reports a capacity error).
pub const MAX_MESSAGE_SIZE: usize = 1 << 20;
/// How many events an [`EmulatorHandle::events`] or [`EmulatorHandle::messages`] receiver
/// buffers; further ones are dropped until it is drained.
pub const SUBSCRIBER_BUFFER: usize = 1024;

/// The longest the core thread sleeps without a deadline (it wakes for inputs anyway).
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// Connection threads allowed beyond `max_connections` (handshakes in flight, closing ones).
const EXTRA_THREADS: usize = 64;

/// A chat message delivered in a space, for a demo participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpaceMessage {
    /// The space id.
    pub space: String,
    /// Who sent it.
    pub sender: User,
    /// `content.bodyText`.
    pub text: String,
    /// `true` if it came from [`EmulatorHandle::say`] rather than from a client.
    pub from_server: bool,
}

enum Input {
    Connect {
        uri: String,
        outbox: Sender<Outgoing>,
        reply: Sender<Result<ConnId, Rejection>>,
    },
    Text(ConnId, String),
    Binary(ConnId, Vec<u8>),
    Closed(ConnId),
    KickAll,
    Say {
        space: String,
        user: User,
        text: String,
    },
    Stats(Sender<EmulatorStats>),
    Subscribe(Subscriber),
    Stop,
}

enum Outgoing {
    Text(String),
    Binary(Vec<u8>),
    Close,
}

enum Subscriber {
    Events(SyncSender<EmulatorEvent>),
    Messages(SyncSender<SpaceMessage>),
}

impl Subscriber {
    /// Delivers `event`; `false` once the receiver is gone.
    fn deliver(&self, event: &EmulatorEvent) -> bool {
        let sent = match self {
            Self::Events(tx) => tx.try_send(event.clone()).map_err(|e| is_gone(&e)),
            Self::Messages(tx) => match event {
                EmulatorEvent::MessageSent {
                    conn,
                    space,
                    sender,
                    text,
                    ..
                } => tx
                    .try_send(SpaceMessage {
                        space: space.clone(),
                        sender: sender.clone(),
                        text: text.clone(),
                        from_server: conn.is_none(),
                    })
                    .map_err(|e| is_gone(&e)),
                _ => Ok(()),
            },
        };
        // A full buffer drops the event but keeps the subscriber.
        !matches!(sent, Err(true))
    }
}

fn is_gone<T>(e: &TrySendError<T>) -> bool {
    matches!(e, TrySendError::Disconnected(_))
}

/// A cloneable control handle on a running [`EmulatorServer`] (for a demo bot thread).
/// Calls after the server stopped do nothing.
#[derive(Debug, Clone)]
pub struct EmulatorHandle {
    inputs: Sender<Input>,
}

impl EmulatorHandle {
    /// Closes every connection at the transport level (clients see `transport close` and
    /// reconnect).
    pub fn kick_all(&self) {
        let _ = self.inputs.send(Input::KickAll);
    }

    /// `user` says `text` in `space` (see [`Emulator::say`]).
    pub fn say(&self, space: &str, user: &User, text: &str) {
        let _ = self.inputs.send(Input::Say {
            space: space.to_owned(),
            user: user.clone(),
            text: text.to_owned(),
        });
    }

    /// The emulator's counters, or all zeros if the server has stopped (waits at most 1 s).
    pub fn stats(&self) -> EmulatorStats {
        let (tx, rx) = mpsc::channel();
        if self.inputs.send(Input::Stats(tx)).is_err() {
            return EmulatorStats::default();
        }
        rx.recv_timeout(Duration::from_secs(1)).unwrap_or_default()
    }

    /// Every [`EmulatorEvent`] from now on (joins, subscriptions, messages, closes). The
    /// receiver buffers [`SUBSCRIBER_BUFFER`] events; more are dropped until it is drained.
    pub fn events(&self) -> Receiver<EmulatorEvent> {
        let (tx, rx) = mpsc::sync_channel(SUBSCRIBER_BUFFER);
        let _ = self.inputs.send(Input::Subscribe(Subscriber::Events(tx)));
        rx
    }

    /// Every chat message delivered in any space from now on, including
    /// [`say`](Self::say)'s (marked [`SpaceMessage::from_server`], so a bot can skip its own).
    /// Buffered like [`events`](Self::events).
    pub fn messages(&self) -> Receiver<SpaceMessage> {
        let (tx, rx) = mpsc::sync_channel(SUBSCRIBER_BUFFER);
        let _ = self.inputs.send(Input::Subscribe(Subscriber::Messages(tx)));
        rx
    }
}

/// A running emulator on a loopback port. Dropping it stops it (see [`stop`](Self::stop)).
#[derive(Debug)]
pub struct EmulatorServer {
    addr: SocketAddr,
    namespace: String,
    handle: EmulatorHandle,
    stopping: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    core: Option<JoinHandle<()>>,
    conn_threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl EmulatorServer {
    /// Binds `addr` (a loopback address such as `"127.0.0.1:0"`; anything else is refused with
    /// [`io::ErrorKind::InvalidInput`]) and starts serving.
    ///
    /// `config.base_time_unix_ms` is replaced by the wall-clock time now, so `created`
    /// timestamps are real. Then hand [`url`](Self::url) to a client.
    pub fn start(
        addr: &str,
        mut config: EmulatorConfig,
        auth: Box<dyn Authenticator>,
    ) -> io::Result<Self> {
        let addr = addr
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address"))?;
        if !addr.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the emulator only listens on loopback addresses",
            ));
        }
        let listener = TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;

        config.base_time_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let namespace = config.namespace.clone();
        let max_threads = config.max_connections.saturating_add(EXTRA_THREADS);
        let emulator = Emulator::new(config, auth);

        let (inputs, inputs_rx) = mpsc::channel();
        let core = thread::Builder::new()
            .name("spaces-emulator-core".into())
            .spawn(move || run_core(emulator, &inputs_rx))?;

        let stopping = Arc::new(AtomicBool::new(false));
        let conn_threads = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let inputs = inputs.clone();
            let stopping = Arc::clone(&stopping);
            let conn_threads = Arc::clone(&conn_threads);
            thread::Builder::new()
                .name("spaces-emulator-accept".into())
                .spawn(move || {
                    run_accept(&listener, &inputs, &stopping, &conn_threads, max_threads);
                })
        };
        let accept = match accept {
            Ok(accept) => accept,
            Err(e) => {
                let _ = inputs.send(Input::Stop);
                let _ = core.join();
                return Err(e);
            }
        };
        Ok(Self {
            addr,
            namespace,
            handle: EmulatorHandle { inputs },
            stopping,
            accept: Some(accept),
            core: Some(core),
            conn_threads,
        })
    }

    /// The bound address (with the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL a Socket.IO client connects to: `http://127.0.0.1:PORT/chat`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.namespace)
    }

    /// A cloneable handle for other threads.
    pub fn handle(&self) -> EmulatorHandle {
        self.handle.clone()
    }

    /// See [`EmulatorHandle::kick_all`].
    pub fn kick_all(&self) {
        self.handle.kick_all();
    }

    /// See [`EmulatorHandle::say`].
    pub fn say(&self, space: &str, user: &User, text: &str) {
        self.handle.say(space, user, text);
    }

    /// See [`EmulatorHandle::stats`].
    pub fn stats(&self) -> EmulatorStats {
        self.handle.stats()
    }

    /// See [`EmulatorHandle::events`].
    pub fn events(&self) -> Receiver<EmulatorEvent> {
        self.handle.events()
    }

    /// See [`EmulatorHandle::messages`].
    pub fn messages(&self) -> Receiver<SpaceMessage> {
        self.handle.messages()
    }

    /// Closes every connection and joins every thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        let _ = self.handle.inputs.send(Input::Stop);
        // Wake the accept thread, blocked in accept().
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        if let Some(core) = self.core.take() {
            let _ = core.join();
        }
        let threads = std::mem::take(
            &mut *self
                .conn_threads
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for EmulatorServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run_accept(
    listener: &TcpListener,
    inputs: &Sender<Input>,
    stopping: &AtomicBool,
    conn_threads: &Mutex<Vec<JoinHandle<()>>>,
    max_threads: usize,
) {
    for stream in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // E.g. out of file descriptors: back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        let mut threads = conn_threads.lock().unwrap_or_else(PoisonError::into_inner);
        threads.retain(|t| !t.is_finished());
        if threads.len() >= max_threads {
            continue; // dropping the stream refuses it
        }
        let inputs = inputs.clone();
        let spawned = thread::Builder::new()
            .name("spaces-emulator-conn".into())
            .spawn(move || serve_connection(stream, &inputs));
        if let Ok(t) = spawned {
            threads.push(t);
        }
    }
}

fn error_response(status: u16, body: &str) -> ErrorResponse {
    let mut response = http::Response::new(Some(body.to_owned()));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/html"),
    );
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    headers.insert(
        http::header::CONTENT_LENGTH,
        http::HeaderValue::from(body.len()),
    );
    response
}

/// One connection: handshake, then pump frames both ways until either side closes.
fn serve_connection(stream: TcpStream, inputs: &Sender<Input>) {
    let configured = stream.set_nodelay(true).is_ok()
        && stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT)).is_ok()
        && stream.set_write_timeout(Some(WRITE_TIMEOUT)).is_ok();
    if !configured {
        return;
    }
    let (outbox, outbox_rx) = mpsc::channel();
    let mut conn = None;
    // The error type is tungstenite's `Callback` signature, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        let uri = request.uri().path_and_query().map_or_else(
            || request.uri().path().to_owned(),
            |pq| pq.as_str().to_owned(),
        );
        let (reply, reply_rx) = mpsc::channel();
        let asked = inputs.send(Input::Connect { uri, outbox, reply });
        match asked
            .ok()
            .and_then(|()| reply_rx.recv_timeout(HANDSHAKE_TIMEOUT).ok())
        {
            Some(Ok(id)) => {
                conn = Some(id);
                Ok(response)
            }
            Some(Err(rejection)) => Err(error_response(rejection.status(), rejection.body())),
            None => Err(error_response(503, "Server stopping")),
        }
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE_SIZE))
        .max_frame_size(Some(MAX_MESSAGE_SIZE));
    // `.ok()` drops a failed handshake (and with it the callback's borrow of `conn`).
    let ws = tungstenite::accept_hdr_with_config(stream, callback, Some(config)).ok();
    let Some(conn) = conn else {
        return; // refused, or not a websocket request
    };
    if let Some(mut ws) = ws
        && ws.get_mut().set_read_timeout(Some(READ_POLL)).is_ok()
    {
        pump(&mut ws, conn, &outbox_rx, inputs);
    }
    let _ = inputs.send(Input::Closed(conn));
}

fn pump(
    ws: &mut WebSocket<TcpStream>,
    conn: ConnId,
    outbox: &Receiver<Outgoing>,
    inputs: &Sender<Input>,
) {
    let mut closing: Option<Instant> = None;
    loop {
        // Write everything the core queued, then flush once.
        let mut wrote = false;
        while closing.is_none() {
            let result = match outbox.try_recv() {
                Ok(Outgoing::Text(text)) => ws.write(Message::text(text)),
                Ok(Outgoing::Binary(data)) => ws.write(Message::binary(data)),
                // Told to close, or the server stopped: engine.io closes with 1000.
                Ok(Outgoing::Close) | Err(mpsc::TryRecvError::Disconnected) => {
                    closing = Some(Instant::now());
                    ws.close(Some(CloseFrame {
                        code: CloseCode::Normal,
                        reason: "".into(),
                    }))
                }
                Err(mpsc::TryRecvError::Empty) => break,
            };
            if result.is_err() {
                return;
            }
            wrote = true;
        }
        if wrote && closing.is_none() && ws.flush().is_err() {
            return;
        }

        match ws.read() {
            Ok(Message::Text(text)) if closing.is_none() => {
                let _ = inputs.send(Input::Text(conn, text.as_str().to_owned()));
            }
            Ok(Message::Binary(data)) if closing.is_none() => {
                let _ = inputs.send(Input::Binary(conn, data.to_vec()));
            }
            // Pings and close frames are answered by tungstenite; data after our close is moot.
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            // Like the ws module under engine.io: an oversized message closes with 1009.
            Err(tungstenite::Error::Capacity(_)) if closing.is_none() => {
                closing = Some(Instant::now());
                let size = CloseFrame {
                    code: CloseCode::Size,
                    reason: "".into(),
                };
                if ws.close(Some(size)).is_err() {
                    return;
                }
            }
            // Closed (either way), reset, protocol error.
            Err(_) => return,
        }
        if closing.is_some_and(|since| since.elapsed() > CLOSE_GRACE) {
            return;
        }
    }
}

fn run_core(mut emulator: Emulator, inputs: &Receiver<Input>) {
    let mut outboxes: HashMap<ConnId, Sender<Outgoing>> = HashMap::new();
    let mut subscribers: Vec<Subscriber> = Vec::new();
    loop {
        let wait = emulator.poll_timeout().map_or(IDLE_WAIT, |deadline| {
            deadline
                .saturating_duration_since(Instant::now())
                .min(IDLE_WAIT)
        });
        let input = match inputs.recv_timeout(wait) {
            Ok(input) => Some(input),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let now = Instant::now();
        let mut stop = false;
        match input {
            Some(Input::Connect { uri, outbox, reply }) => {
                let result = emulator.handle_connect(now, &uri);
                if let Ok(id) = result {
                    outboxes.insert(id, outbox);
                }
                if reply.send(result).is_err()
                    && let Ok(id) = result
                {
                    // The connection thread gave up waiting.
                    outboxes.remove(&id);
                    emulator.handle_closed(now, id);
                }
            }
            Some(Input::Text(id, text)) => emulator.handle_text(now, id, &text),
            Some(Input::Binary(id, data)) => emulator.handle_binary(now, id, &data),
            Some(Input::Closed(id)) => {
                outboxes.remove(&id);
                emulator.handle_closed(now, id);
            }
            Some(Input::KickAll) => emulator.kick_all(now),
            Some(Input::Say { space, user, text }) => emulator.say(now, &space, &user, &text),
            Some(Input::Stats(reply)) => {
                let _ = reply.send(emulator.stats());
            }
            Some(Input::Subscribe(subscriber)) => subscribers.push(subscriber),
            Some(Input::Stop) => {
                emulator.kick_all(now);
                stop = true;
            }
            None => {}
        }
        if emulator
            .poll_timeout()
            .is_some_and(|deadline| deadline <= now)
        {
            emulator.handle_timeout(now);
        }
        while let Some(output) = emulator.poll_output() {
            route(&mut outboxes, output);
        }
        while let Some(event) = emulator.poll_event() {
            log::debug!("emulator: {event:?}");
            subscribers.retain(|s| s.deliver(&event));
        }
        if stop {
            break;
        }
    }
    // Dropping the outboxes tells any remaining connection thread to close.
}

fn route(outboxes: &mut HashMap<ConnId, Sender<Outgoing>>, output: ServerOutput) {
    // A failed send means the connection thread is gone; its Closed input is on its way.
    match output {
        ServerOutput::Text { conn, text } => {
            if let Some(tx) = outboxes.get(&conn) {
                let _ = tx.send(Outgoing::Text(text));
            }
        }
        ServerOutput::Binary { conn, data } => {
            if let Some(tx) = outboxes.get(&conn) {
                let _ = tx.send(Outgoing::Binary(data));
            }
        }
        ServerOutput::Close { conn } => {
            if let Some(tx) = outboxes.remove(&conn) {
                let _ = tx.send(Outgoing::Close);
            }
        }
    }
}
