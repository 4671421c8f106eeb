//! A loopback websocket listener for the sans-IO [`Emulator`]: a real server that
//! socket.io-client 2.0.4 (or any client of `spaces-socket`) can connect to. The only IO in
//! this crate.
//!
//! Start one with [`EmulatorServer::start`], hand [`EmulatorServer::url`] to a client, watch
//! [`EmulatorServer::events`] or [`EmulatorServer::messages`], and drop it (or call
//! [`EmulatorServer::stop`]) to stop.
//!
//! # How it runs
//!
//! One background thread runs a single-threaded executor. One task accepts TCP connections
//! and spawns one task per connection; that task runs the websocket upgrade (handing the
//! request target to [`Emulator::handle_connect`] and answering a [`Rejection`](crate::Rejection)
//! with engine.io's HTTP error), then reads frames and writes the frames queued for it, each
//! awaited on the reactor: there is no thread per connection and no read polling. The
//! [`Emulator`] is shared by the tasks of that one thread; a frame read is fed to it at once and
//! its outputs are routed to the connections' queues, waking their tasks. A timer task sleeps
//! until the emulator's next deadline ([`Emulator::poll_timeout`]) and is woken early when an
//! input brings that deadline forward. Controls from other threads ([`EmulatorHandle`]) arrive
//! on a channel read by one more task.
//!
//! # Bounds
//!
//! A hostile or broken client cannot exhaust the listener; see [`ListenerLimits`] for the
//! values and [`ListenerStats`] for the counters:
//!
//! * at most [`ListenerLimits::max_connections`] TCP connections, upgraded or not; more are
//!   answered `503` and closed at once (the [`Emulator`]'s own
//!   [`max_connections`](crate::EmulatorConfig::max_connections) also refuses upgrades);
//! * the websocket upgrade must complete within [`ListenerLimits::handshake_timeout`];
//! * a connection with nothing received for [`ListenerLimits::idle_timeout`] is closed;
//! * a connection whose queue of unsent frames exceeds [`ListenerLimits::max_queued_bytes`], or
//!   whose single write stalls for [`ListenerLimits::write_timeout`], is dropped;
//! * a websocket message or frame larger than [`ListenerLimits::max_message_size`] closes the
//!   connection with `1009`;
//! * after a server-side close, the client's close frame is awaited at most
//!   [`ListenerLimits::close_grace`].
//!
//! Stopping kicks every connection (close `1000`), waits at most
//! [`ListenerLimits::close_grace`] for their close handshakes, then drops whatever is left and
//! joins the thread.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::task::{Context, Poll, Waker};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_executor::LocalExecutor;
use async_io::Timer;
use async_net::{TcpListener, TcpStream};
use async_tungstenite::WebSocketStream;
use async_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use async_tungstenite::tungstenite::{self, Message, http};
use futures_lite::future::{self, FutureExt as _};
use futures_lite::{AsyncWriteExt as _, StreamExt as _};

use crate::{
    Authenticator, ConnId, Emulator, EmulatorConfig, EmulatorEvent, EmulatorStats, ServerOutput,
    User,
};

/// How many events an [`EmulatorHandle::events`] or [`EmulatorHandle::messages`] receiver
/// buffers; further ones are dropped until it is drained.
pub const SUBSCRIBER_BUFFER: usize = 1024;

/// How long [`EmulatorHandle::stats`] and [`EmulatorHandle::listener_stats`] wait for the
/// server thread's answer.
const STATS_WAIT: Duration = Duration::from_secs(1);
/// Back-off after a failed `accept` (e.g. out of file descriptors), instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The listener's bounds. [`Default`] suits tests and demos; change single fields:
///
/// ```
/// use spaces_socket_emulator::listener::ListenerLimits;
/// let mut limits = ListenerLimits::default();
/// limits.max_connections = 8;
/// ```
///
/// then pass it to [`EmulatorServer::start_with_limits`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerLimits {
    /// Most TCP connections open at once, websocket upgrades in progress included (default
    /// 1024). One more is answered `HTTP 503` and closed without reading its request.
    pub max_connections: usize,
    /// Most bytes of frames queued for one connection and not yet written (default 1 MiB). A
    /// connection that would exceed it is dropped (no close handshake: it is not reading); so is
    /// one sent a single larger frame (e.g. a huge [`EmulatorHandle::say`]).
    pub max_queued_bytes: usize,
    /// Time from accepting a TCP connection to a completed websocket upgrade (default 10 s).
    /// A slower client is dropped.
    pub handshake_timeout: Duration,
    /// A websocket connection from which nothing (no frame, not even a websocket ping) arrives
    /// for this long is closed with `1001` (default 120 s). Keep it above the emulator's
    /// `ping_interval + ping_timeout`, which closes silent Engine.IO sessions first.
    pub idle_timeout: Duration,
    /// Longest a single frame write may wait for the client to read (default 10 s); then the
    /// connection is dropped.
    pub write_timeout: Duration,
    /// Largest websocket message (and frame) accepted, in bytes (default 1 MiB; engine.io's is
    /// 100 MB, Spaces payloads are 16 KB). A larger one closes the connection with `1009`.
    pub max_message_size: usize,
    /// How long to wait for the client's close frame after the server closed, and at stop for
    /// all connections to finish closing (default 1 s).
    pub close_grace: Duration,
}

impl Default for ListenerLimits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_queued_bytes: 1 << 20,
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(120),
            write_timeout: Duration::from_secs(10),
            max_message_size: 1 << 20,
            close_grace: Duration::from_secs(1),
        }
    }
}

/// The listener's counters (the [`Emulator`]'s own are [`EmulatorStats`]). Read them with
/// [`EmulatorHandle::listener_stats`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListenerStats {
    /// TCP connections open now, upgraded or not.
    pub sockets: usize,
    /// TCP connections accepted and served.
    pub accepted: u64,
    /// TCP connections refused because [`ListenerLimits::max_connections`] were open.
    pub refused: u64,
    /// Connections dropped for not completing the upgrade within
    /// [`ListenerLimits::handshake_timeout`].
    pub handshake_timeouts: u64,
    /// Connections closed after [`ListenerLimits::idle_timeout`] of silence.
    pub idle_closes: u64,
    /// Connections dropped for exceeding [`ListenerLimits::max_queued_bytes`].
    pub overflow_drops: u64,
    /// Connections dropped because a write stalled for [`ListenerLimits::write_timeout`].
    pub write_timeouts: u64,
    /// Connections closed for a message over [`ListenerLimits::max_message_size`].
    pub oversized_messages: u64,
}

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

/// What other threads ask of the server thread.
enum Control {
    KickAll,
    Say {
        space: String,
        user: User,
        text: String,
    },
    Stats(mpsc::Sender<EmulatorStats>),
    ListenerStats(mpsc::Sender<ListenerStats>),
    Subscribe(Subscriber),
    Stop,
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

/// A cloneable control handle on a running [`EmulatorServer`], for other threads (a demo bot).
/// Calls after the server stopped do nothing.
#[derive(Debug, Clone)]
pub struct EmulatorHandle {
    control: async_channel::Sender<Control>,
}

impl EmulatorHandle {
    fn send(&self, control: Control) -> bool {
        self.control.send_blocking(control).is_ok()
    }

    /// Closes every connection at the transport level (clients see `transport close` and
    /// reconnect).
    pub fn kick_all(&self) {
        self.send(Control::KickAll);
    }

    /// `user` says `text` in `space` (see [`Emulator::say`]); watch it arrive with
    /// [`messages`](Self::messages).
    pub fn say(&self, space: &str, user: &User, text: &str) {
        self.send(Control::Say {
            space: space.to_owned(),
            user: user.clone(),
            text: text.to_owned(),
        });
    }

    /// The emulator's counters, or all zeros if the server has stopped (waits at most 1 s).
    pub fn stats(&self) -> EmulatorStats {
        let (tx, rx) = mpsc::channel();
        if !self.send(Control::Stats(tx)) {
            return EmulatorStats::default();
        }
        rx.recv_timeout(STATS_WAIT).unwrap_or_default()
    }

    /// The listener's counters (sockets, refusals, bounds hit), or all zeros if the server has
    /// stopped (waits at most 1 s).
    pub fn listener_stats(&self) -> ListenerStats {
        let (tx, rx) = mpsc::channel();
        if !self.send(Control::ListenerStats(tx)) {
            return ListenerStats::default();
        }
        rx.recv_timeout(STATS_WAIT).unwrap_or_default()
    }

    /// Every [`EmulatorEvent`] from now on (joins, subscriptions, messages, closes); iterate
    /// the receiver, which ends when the server stops. It buffers [`SUBSCRIBER_BUFFER`]
    /// events; more are dropped until it is drained.
    pub fn events(&self) -> Receiver<EmulatorEvent> {
        let (tx, rx) = mpsc::sync_channel(SUBSCRIBER_BUFFER);
        self.send(Control::Subscribe(Subscriber::Events(tx)));
        rx
    }

    /// Every chat message delivered in any space from now on, including
    /// [`say`](Self::say)'s (marked [`SpaceMessage::from_server`], so a bot can skip its own).
    /// Buffered, and ending, like [`events`](Self::events).
    pub fn messages(&self) -> Receiver<SpaceMessage> {
        let (tx, rx) = mpsc::sync_channel(SUBSCRIBER_BUFFER);
        self.send(Control::Subscribe(Subscriber::Messages(tx)));
        rx
    }
}

/// A running emulator on a loopback port. Dropping it stops it (see [`stop`](Self::stop)).
#[derive(Debug)]
pub struct EmulatorServer {
    addr: SocketAddr,
    namespace: String,
    handle: EmulatorHandle,
    thread: Option<JoinHandle<()>>,
}

impl EmulatorServer {
    /// [`start_with_limits`](Self::start_with_limits) with [`ListenerLimits::default`].
    pub fn start(
        addr: &str,
        config: EmulatorConfig,
        auth: Box<dyn Authenticator>,
    ) -> io::Result<Self> {
        Self::start_with_limits(addr, config, auth, ListenerLimits::default())
    }

    /// Binds `addr` (a loopback address such as `"127.0.0.1:0"`; anything else is refused with
    /// [`io::ErrorKind::InvalidInput`]) and starts serving on a background thread.
    ///
    /// `config.base_time_unix_ms` is replaced by the wall-clock time now, so `created`
    /// timestamps are real. Then hand [`url`](Self::url) to a client.
    pub fn start_with_limits(
        addr: &str,
        mut config: EmulatorConfig,
        auth: Box<dyn Authenticator>,
        limits: ListenerLimits,
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
        let listener = std::net::TcpListener::bind(addr)?;
        let addr = listener.local_addr()?;
        let listener = TcpListener::try_from(listener)?;

        config.base_time_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let namespace = config.namespace.clone();
        let emulator = Emulator::new(config, auth);

        let (control, control_rx) = async_channel::unbounded();
        let thread = thread::Builder::new()
            .name("spaces-emulator".into())
            .spawn(move || serve(emulator, limits, &listener, &control_rx))?;
        Ok(Self {
            addr,
            namespace,
            handle: EmulatorHandle { control },
            thread: Some(thread),
        })
    }

    /// The bound address (with the real port when started on port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
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

    /// See [`EmulatorHandle::listener_stats`].
    pub fn listener_stats(&self) -> ListenerStats {
        self.handle.listener_stats()
    }

    /// See [`EmulatorHandle::events`].
    pub fn events(&self) -> Receiver<EmulatorEvent> {
        self.handle.events()
    }

    /// See [`EmulatorHandle::messages`].
    pub fn messages(&self) -> Receiver<SpaceMessage> {
        self.handle.messages()
    }

    /// Closes every connection (waiting at most [`ListenerLimits::close_grace`] for their
    /// close handshakes) and joins the server thread. Dropping the server does the same.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.handle.send(Control::Stop);
        if thread.join().is_err() {
            log::error!("the emulator thread panicked");
        }
    }
}

impl Drop for EmulatorServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

// ----- the server thread -----------------------------------------------------------------

/// How a connection's outgoing queue ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The emulator closed it: write what is queued, then a close frame.
    Close,
    /// Over [`ListenerLimits::max_queued_bytes`]: drop it now.
    Overflow,
}

/// Frames the emulator queued for one connection, and the waker of its task.
#[derive(Default)]
struct Outbox {
    frames: VecDeque<Message>,
    bytes: usize,
    ending: Option<Ending>,
    waker: Option<Waker>,
}

/// What a connection task takes next from its [`Outbox`].
enum Next {
    Frame(Message),
    End(Ending),
}

impl Outbox {
    fn wake(&mut self) {
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Ready once the queue overflowed: ends a write in progress at once.
    fn poll_overflow(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.ending == Some(Ending::Overflow) {
            return Poll::Ready(());
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Next> {
        if self.ending == Some(Ending::Overflow) {
            return Poll::Ready(Next::End(Ending::Overflow));
        }
        if let Some(frame) = self.frames.pop_front() {
            self.bytes = self.bytes.saturating_sub(frame.len());
            return Poll::Ready(Next::Frame(frame));
        }
        if let Some(ending) = self.ending {
            return Poll::Ready(Next::End(ending));
        }
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Everything the server thread's tasks share (behind one `RefCell`, never borrowed across an
/// `await`).
struct Core {
    emulator: Emulator,
    limits: ListenerLimits,
    outboxes: HashMap<ConnId, Rc<RefCell<Outbox>>>,
    subscribers: Vec<Subscriber>,
    stats: ListenerStats,
    /// The deadline the timer task sleeps until.
    timer_target: Option<Instant>,
    /// Set, with `timer_waker` woken, when the emulator's deadline moved before `timer_target`.
    timer_moved: bool,
    timer_waker: Option<Waker>,
    /// Woken when the last socket closes (for stop).
    all_closed: Option<Waker>,
}

type Shared = Rc<RefCell<Core>>;

impl Core {
    /// Carries out every output of the emulator, hands its events to the subscribers and
    /// wakes the timer task if the next deadline moved earlier. Call after every input.
    fn drain(&mut self) {
        while let Some(output) = self.emulator.poll_output() {
            self.route(output);
        }
        while let Some(event) = self.emulator.poll_event() {
            log::debug!("emulator: {event:?}");
            self.subscribers.retain(|s| s.deliver(&event));
        }
        if let Some(next) = self.emulator.poll_timeout()
            && self.timer_target.is_none_or(|target| next < target)
        {
            self.timer_moved = true;
            if let Some(waker) = self.timer_waker.take() {
                waker.wake();
            }
        }
    }

    fn route(&mut self, output: ServerOutput) {
        let (conn, frame) = match output {
            ServerOutput::Text { conn, text } => (conn, Message::text(text)),
            ServerOutput::Binary { conn, data } => (conn, Message::binary(data)),
            ServerOutput::Close { conn } => {
                if let Some(outbox) = self.outboxes.remove(&conn) {
                    let mut outbox = outbox.borrow_mut();
                    outbox.ending.get_or_insert(Ending::Close);
                    outbox.wake();
                }
                return;
            }
        };
        let Some(outbox) = self.outboxes.get(&conn) else {
            return; // its task is ending; the emulator hears of it
        };
        let overflow = {
            let mut outbox = outbox.borrow_mut();
            outbox.bytes = outbox.bytes.saturating_add(frame.len());
            if outbox.bytes > self.limits.max_queued_bytes {
                outbox.frames.clear();
                outbox.ending = Some(Ending::Overflow);
            } else {
                outbox.frames.push_back(frame);
            }
            outbox.wake();
            outbox.ending == Some(Ending::Overflow)
        };
        if overflow {
            log::debug!("emulator listener: {conn:?} dropped, its queue is full");
            self.stats.overflow_drops += 1;
            self.outboxes.remove(&conn);
            // Its rooms hear `party.leaves` now, from the loop draining us.
            self.emulator.handle_closed(Instant::now(), conn);
        }
    }
}

/// The server thread: one executor, the accept loop, the timer and the control channel.
fn serve(
    emulator: Emulator,
    limits: ListenerLimits,
    listener: &TcpListener,
    control: &async_channel::Receiver<Control>,
) {
    let close_grace = limits.close_grace;
    let core: Shared = Rc::new(RefCell::new(Core {
        emulator,
        limits,
        outboxes: HashMap::new(),
        subscribers: Vec::new(),
        stats: ListenerStats::default(),
        timer_target: None,
        timer_moved: false,
        timer_waker: None,
        all_closed: None,
    }));
    let executor = LocalExecutor::new();
    async_io::block_on(executor.run(async {
        executor.spawn(run_timer(Rc::clone(&core))).detach();
        accept_loop(&executor, listener, &core)
            .or(control_loop(&core, control))
            .await;
        {
            let mut c = core.borrow_mut();
            c.emulator.kick_all(Instant::now());
            c.drain();
        }
        all_sockets_closed(&core)
            .or(async {
                Timer::after(close_grace).await;
            })
            .await;
    }));
    // Cancels the tasks still running (upgrades in progress, clients slow to close); their
    // guards tell the emulator, and the subscribers' channels close with `core`.
    drop(executor);
}

async fn accept_loop(executor: &LocalExecutor<'_>, listener: &TcpListener, core: &Shared) {
    loop {
        let (mut stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                log::warn!("emulator listener: accept failed: {e}");
                Timer::after(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let full = {
            let mut c = core.borrow_mut();
            let full = c.stats.sockets >= c.limits.max_connections;
            if full {
                c.stats.refused += 1;
            } else {
                c.stats.sockets += 1;
                c.stats.accepted += 1;
            }
            full
        };
        if full {
            log::debug!("emulator listener: refused a connection, too many open");
            // One attempt that cannot block: a fresh socket's send buffer is empty.
            let _ = future::poll_once(stream.write_all(REFUSED_RESPONSE)).await;
            continue;
        }
        let slot = Socket(Rc::clone(core));
        executor
            .spawn(serve_connection(Rc::clone(core), stream, slot))
            .detach();
    }
}

/// The answer to a connection over [`ListenerLimits::max_connections`].
const REFUSED_RESPONSE: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\
Content-Type: text/html\r\nContent-Length: 20\r\n\r\nToo many connections";

/// Counts an open socket in [`ListenerStats::sockets`] while alive.
struct Socket(Shared);

impl Drop for Socket {
    fn drop(&mut self) {
        // Not borrowed: guards drop between polls, or when the executor is dropped.
        if let Ok(mut c) = self.0.try_borrow_mut() {
            c.stats.sockets = c.stats.sockets.saturating_sub(1);
            if c.stats.sockets == 0
                && let Some(waker) = c.all_closed.take()
            {
                waker.wake();
            }
        }
    }
}

async fn all_sockets_closed(core: &Shared) {
    future::poll_fn(|cx| {
        let mut c = core.borrow_mut();
        if c.stats.sockets == 0 {
            Poll::Ready(())
        } else {
            c.all_closed = Some(cx.waker().clone());
            Poll::Pending
        }
    })
    .await;
}

/// Sleeps until the emulator's next deadline (or until an input moves it earlier) and calls
/// [`Emulator::handle_timeout`] when it is due.
async fn run_timer(core: Shared) {
    loop {
        let target = {
            let mut c = core.borrow_mut();
            let target = c.emulator.poll_timeout();
            c.timer_target = target;
            c.timer_moved = false;
            target
        };
        let sleep = async {
            match target {
                Some(at) => Timer::at(at).await,
                None => Timer::never().await,
            };
        };
        let moved = future::poll_fn(|cx| {
            let mut c = core.borrow_mut();
            if c.timer_moved {
                Poll::Ready(())
            } else {
                c.timer_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        sleep.or(moved).await;
        let now = Instant::now();
        let mut c = core.borrow_mut();
        // Frames may have pushed the deadline later since it was read: check again.
        if c.emulator.poll_timeout().is_some_and(|due| due <= now) {
            c.emulator.handle_timeout(now);
            c.drain();
        }
    }
}

/// Serves [`EmulatorHandle`] requests until [`Control::Stop`] (or every handle is gone).
async fn control_loop(core: &Shared, control: &async_channel::Receiver<Control>) {
    while let Ok(request) = control.recv().await {
        let now = Instant::now();
        {
            let mut c = core.borrow_mut();
            match request {
                Control::KickAll => c.emulator.kick_all(now),
                Control::Say { space, user, text } => c.emulator.say(now, &space, &user, &text),
                Control::Stats(reply) => {
                    let _ = reply.send(c.emulator.stats());
                }
                Control::ListenerStats(reply) => {
                    let _ = reply.send(c.stats);
                }
                Control::Subscribe(subscriber) => c.subscribers.push(subscriber),
                Control::Stop => return,
            }
            c.drain();
        }
        // Let the connections write what this queued before the next request.
        future::yield_now().await;
    }
}

/// `future`, or `None` once `limit` has passed.
async fn within<T>(limit: Duration, future: impl Future<Output = T>) -> Option<T> {
    async { Some(future.await) }
        .or(async {
            Timer::after(limit).await;
            None
        })
        .await
}

/// Keeps the emulator informed of a connection it accepted: when the task ends (or is
/// cancelled), the emulator forgets the connection and its rooms hear `party.leaves`.
struct Registered {
    core: Shared,
    conn: ConnId,
}

impl Drop for Registered {
    fn drop(&mut self) {
        if let Ok(mut c) = self.core.try_borrow_mut() {
            c.outboxes.remove(&self.conn);
            c.emulator.handle_closed(Instant::now(), self.conn);
            c.drain();
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

/// Why a connection's frame pumps stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The client closed, or the connection failed.
    Gone,
    /// The emulator closed it and the close handshake finished (or its grace ran out).
    Closed,
    /// Nothing arrived for [`ListenerLimits::idle_timeout`].
    Idle,
    /// A message over [`ListenerLimits::max_message_size`].
    TooBig,
    /// The queue overflowed.
    Overflow,
    /// A write stalled for [`ListenerLimits::write_timeout`].
    WriteStalled,
}

type Ws = WebSocketStream<TcpStream>;

/// One connection: the upgrade, then its frames both ways until either side ends it.
async fn serve_connection(core: Shared, stream: TcpStream, _socket: Socket) {
    let limits = core.borrow().limits.clone();
    let _ = stream.set_nodelay(true);
    let accepted: Cell<Option<ConnId>> = Cell::new(None);
    let outbox: Rc<RefCell<Outbox>> = Rc::default();
    // The error type is tungstenite's `Callback` signature, not ours to shrink.
    #[allow(clippy::result_large_err)]
    let callback = |request: &Request, response: Response| {
        let uri = request.uri().path_and_query().map_or_else(
            || request.uri().path().to_owned(),
            |pq| pq.as_str().to_owned(),
        );
        let mut c = core.borrow_mut();
        match c.emulator.handle_connect(Instant::now(), &uri) {
            Ok(conn) => {
                accepted.set(Some(conn));
                c.outboxes.insert(conn, Rc::clone(&outbox));
                c.drain();
                Ok(response)
            }
            Err(rejection) => Err(error_response(rejection.status(), rejection.body())),
        }
    };
    let config = WebSocketConfig::default()
        .max_message_size(Some(limits.max_message_size))
        .max_frame_size(Some(limits.max_message_size));
    let upgrade = within(
        limits.handshake_timeout,
        async_tungstenite::accept_hdr_async_with_config(stream, callback, Some(config)),
    )
    .await;
    // From here on, however the task ends, the emulator hears of it.
    let _registered = accepted.get().map(|conn| Registered {
        core: Rc::clone(&core),
        conn,
    });
    let ws = match upgrade {
        Some(Ok(ws)) if accepted.get().is_some() => ws,
        // Refused (answered with HTTP), not a websocket request, or failed.
        Some(_) => return,
        None => {
            log::debug!("emulator listener: upgrade not done within the handshake timeout");
            core.borrow_mut().stats.handshake_timeouts += 1;
            return;
        }
    };
    pump(&core, accepted.get(), &outbox, ws, &limits).await;
}

/// Reads frames into the emulator and writes the connection's queue, concurrently, until one
/// side ends; then closes as [`End`] requires.
async fn pump(
    core: &Shared,
    conn: Option<ConnId>,
    outbox: &RefCell<Outbox>,
    ws: Ws,
    limits: &ListenerLimits,
) -> End {
    let Some(conn) = conn else {
        return End::Gone;
    };
    let (mut tx, mut rx) = ws.split();
    let reading = async {
        loop {
            let Some(next) = within(limits.idle_timeout, rx.next()).await else {
                return End::Idle;
            };
            let now = Instant::now();
            match next {
                Some(Ok(Message::Text(text))) => {
                    let mut c = core.borrow_mut();
                    c.emulator.handle_text(now, conn, text.as_str());
                    c.drain();
                }
                Some(Ok(Message::Binary(data))) => {
                    let mut c = core.borrow_mut();
                    c.emulator.handle_binary(now, conn, &data);
                    c.drain();
                }
                // Pings and close frames are answered by tungstenite.
                Some(Ok(_)) => {}
                Some(Err(tungstenite::Error::Capacity(_))) => return End::TooBig,
                // Closed by the client (after its close frame), reset, protocol error.
                None | Some(Err(_)) => return End::Gone,
            }
            // Let the connections write what this frame queued before reading the next.
            future::yield_now().await;
        }
    };
    let writing = async {
        loop {
            let next = future::poll_fn(|cx| outbox.borrow_mut().poll_next(cx)).await;
            match next {
                Next::Frame(frame) => {
                    let send = async { Some(tx.send(frame).await) };
                    let overflow = async {
                        future::poll_fn(|cx| outbox.borrow_mut().poll_overflow(cx)).await;
                        None
                    };
                    match within(limits.write_timeout, send.or(overflow)).await {
                        Some(Some(Ok(()))) => {}
                        Some(Some(Err(_))) => return End::Gone,
                        Some(None) => return End::Overflow,
                        None => return End::WriteStalled,
                    }
                }
                Next::End(Ending::Overflow) => return End::Overflow,
                Next::End(Ending::Close) => {
                    // engine.io closes with 1000; the reader sees the client's answer.
                    let frame = close_frame(CloseCode::Normal);
                    if within(limits.write_timeout, tx.close(Some(frame)))
                        .await
                        .is_none()
                    {
                        return End::WriteStalled;
                    }
                    Timer::after(limits.close_grace).await;
                    return End::Closed;
                }
            }
        }
    };
    let end = reading.or(writing).await;
    {
        let mut c = core.borrow_mut();
        match end {
            End::Idle => c.stats.idle_closes += 1,
            End::TooBig => c.stats.oversized_messages += 1,
            End::WriteStalled => c.stats.write_timeouts += 1,
            // Counted where the queue overflowed.
            End::Overflow | End::Gone | End::Closed => {}
        }
    }
    let code = match end {
        // Like the ws module under engine.io: an oversized message closes with 1009.
        End::TooBig => CloseCode::Size,
        End::Idle => CloseCode::Away,
        // Nothing to say, or nobody listening: drop the socket.
        End::Gone | End::Closed | End::Overflow | End::WriteStalled => return end,
    };
    {
        // The emulator forgets it now, so its rooms hear `party.leaves` at once.
        let mut c = core.borrow_mut();
        c.outboxes.remove(&conn);
        c.emulator.handle_closed(Instant::now(), conn);
        c.drain();
    }
    let closing = async {
        tx.close(Some(close_frame(code))).await.ok()?;
        while rx.next().await.is_some() {}
        Some(())
    };
    within(limits.close_grace, closing).await;
    end
}

fn close_frame(code: CloseCode) -> CloseFrame {
    CloseFrame {
        code,
        reason: "".into(),
    }
}
