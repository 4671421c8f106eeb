//! The Socket.IO 2.0.4 client state machine: one Engine.IO session, many namespaces.
//!
//! See [`Client`] for the drain contract.

mod backoff;
mod config;
mod connection;
mod output;
mod receive;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::value::RawValue;

use crate::engine::{self, Handshake};
use crate::rng::Rng;
use crate::socket::{self, PacketKind, Payload};

/// Why an Engine.IO frame could not be decoded (in [`ProtocolViolation::Engine`]).
pub use crate::engine::DecodeError as FrameError;
/// Event arguments as received: raw JSON, parsed only when asked.
pub use crate::socket::Args;
/// Why a Socket.IO packet could not be decoded (in [`ProtocolViolation::Socket`]).
pub use crate::socket::DecodeError as PacketError;
/// The `{"_placeholder":true,"num":N}` object that stands for attachment `N` in binary emits.
pub use crate::socket::placeholder;
use backoff::Backoff;
pub use config::{
    Config, ConfigError, DEFAULT_MAX_ARGS, DEFAULT_MAX_ATTACHMENTS,
    DEFAULT_MAX_BINARY_PACKET_BYTES, DEFAULT_MAX_RECEIVE_BUFFER_BYTES,
    DEFAULT_PING_INTERVAL_BOUNDS, DEFAULT_PING_TIMEOUT_BOUNDS, Endpoint, Query,
};
pub use output::{ConnectFailure, DisconnectReason, Event, ProtocolViolation, Transmit, WsUrl};

/// Why a command was refused. The client's state is unchanged when one is returned.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmitError {
    /// The namespace was never joined (or was left): call [`Client::join`] first.
    #[error("namespace {0:?} is not joined")]
    UnknownNamespace(String),
    /// The namespace's send buffer is full while it is not connected. Wait for
    /// [`Event::Connected`] and retry, or raise [`Config::max_buffered`].
    #[error("send buffer of namespace {nsp:?} is full ({limit} packets)")]
    BufferFull {
        /// The namespace.
        nsp: String,
        /// The configured limit.
        limit: usize,
    },
    /// Too many acks are awaited on the namespace ([`Config::max_pending_acks`]).
    #[error("too many pending acks on namespace {0:?}")]
    TooManyPendingAcks(String),
    /// The arguments are not a JSON array (e.g. `[]`, `["a",1]`).
    #[error("arguments must be a JSON array: {0}")]
    BadArguments(String),
    /// The event name is reserved by socket.io-client and would be emitted locally only.
    #[error("event name {0:?} is reserved")]
    ReservedEventName(String),
    /// The ack id is not owed to the server (never requested, already answered, or from a
    /// connection that has ended).
    #[error("no ack {0} is owed on this namespace")]
    UnknownAck(u64),
    /// A placeholder in the arguments points past the attachments given.
    #[error("placeholders do not match the {0} attachments")]
    BadAttachments(usize),
}

/// Identifies one acknowledgement: an answer we await ([`Client::emit_with_ack`]) or one the
/// server awaits from us ([`Event::Message::ack`], answered with [`Client::ack`]). Only the
/// client makes them, so an id always names an ack that really was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AckId(u64);

impl AckId {
    /// The number on the wire (for logs and comparisons).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Event names socket.io-client 2.0.4 keeps for itself.
const RESERVED_EVENTS: &[&str] = &[
    "connect",
    "connect_error",
    "connect_timeout",
    "connecting",
    "disconnect",
    "error",
    "reconnect",
    "reconnect_attempt",
    "reconnect_failed",
    "reconnect_error",
    "reconnecting",
    "ping",
    "pong",
];

/// The engine's lifecycle.
#[derive(Debug)]
enum Engine {
    /// Not connected and nothing scheduled: before [`Client::connect`], or closed.
    Idle,
    /// Waiting for [`Client::set_query`] before opening.
    AwaitingQuery { deadline: Option<Instant> },
    /// Websocket requested; waiting for the open packet.
    Opening { deadline: Option<Instant> },
    /// Handshake done.
    Open(Heartbeat),
    /// Waiting to reconnect.
    Backoff { until: Instant },
}

/// engine.io-client 3.1's two heartbeat timers (docs/socketio-2.0.4-protocol.md §1.5).
#[derive(Debug)]
struct Heartbeat {
    interval: Duration,
    timeout: Duration,
    /// When to send the next ping; only re-armed by a pong.
    next_ping: Option<Instant>,
    /// Liveness deadline; armed by the first packet after the handshake.
    deadline: Option<Instant>,
    last_ping: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NspState {
    /// Waiting for the engine to open, or for the server's CONNECT answer.
    Connecting,
    Connected,
    /// Refused with an ERROR packet; retried on the next engine session.
    Refused,
    /// The server sent DISCONNECT; not rejoined until the user joins again.
    ServerClosed,
}

#[derive(Debug)]
struct Buffered {
    frame: String,
    attachments: Vec<Vec<u8>>,
    ack: Option<u64>,
}

#[derive(Debug)]
struct PendingAck {
    deadline: Option<Instant>,
    /// Sent on the current engine session (its answer can still come).
    sent: bool,
}

#[derive(Debug)]
struct Namespace {
    name: String,
    state: NspState,
    /// CONNECT sent on the current engine session.
    connect_sent: bool,
    send_buffer: VecDeque<Buffered>,
    /// Events received before the namespace's CONNECT answer, delivered right after it.
    receive_buffer: VecDeque<Event>,
    /// Bytes held in `receive_buffer` (see [`event_bytes`]).
    receive_bytes: usize,
    next_ack_id: u64,
    pending_acks: BTreeMap<u64, PendingAck>,
    /// Ack ids the server asked for and the user has not answered; at most
    /// [`Config::max_pending_acks`], the lowest forgotten first.
    owed_acks: BTreeSet<u64>,
}

impl Namespace {
    fn new(name: String) -> Self {
        Self {
            name,
            state: NspState::Connecting,
            connect_sent: false,
            send_buffer: VecDeque::new(),
            receive_buffer: VecDeque::new(),
            receive_bytes: 0,
            next_ack_id: 0,
            pending_acks: BTreeMap::new(),
            owed_acks: BTreeSet::new(),
        }
    }
}

/// A binary packet waiting for its attachments.
#[derive(Debug)]
struct Reassembly {
    kind: PacketKind,
    nsp: String,
    id: Option<u64>,
    name: Option<String>,
    args: Args,
    expected: usize,
    attachments: Vec<Vec<u8>>,
    /// The packet's text plus every attachment so far, against
    /// [`Config::max_binary_packet_bytes`].
    bytes: usize,
}

/// A sans-IO Socket.IO 2.0.4 client: one Engine.IO 3 session over websocket, any number of
/// namespaces multiplexed on it.
///
/// # The drain contract
///
/// 1. Feed exactly one input: a command ([`connect`](Self::connect), [`join`](Self::join),
///    [`emit`](Self::emit), [`ack`](Self::ack), [`leave`](Self::leave),
///    [`close`](Self::close), [`set_query`](Self::set_query)), a websocket outcome
///    ([`handle_open`](Self::handle_open), [`handle_open_failed`](Self::handle_open_failed),
///    [`handle_text`](Self::handle_text), [`handle_binary`](Self::handle_binary),
///    [`handle_closed`](Self::handle_closed)) or a timer tick
///    ([`handle_timeout`](Self::handle_timeout)).
/// 2. Drain: call [`poll_transmit`](Self::poll_transmit) until it returns `None` and carry out
///    each [`Transmit`] in order, then [`poll_event`](Self::poll_event) until `None`.
/// 3. Ask [`poll_timeout`](Self::poll_timeout) for the next deadline and wait until it, or
///    until the next websocket message, whichever comes first. Repeat.
///
/// Time only moves when you pass it in; `now` must never go backwards. The client never reads a
/// clock, never blocks and never panics on input: server misbehaviour becomes
/// [`Event::ProtocolViolation`], user mistakes become [`EmitError`]s.
#[derive(Debug)]
pub struct Client {
    config: Config,
    engine: Engine,
    namespaces: Vec<Namespace>,
    /// Whether the server's root `40` arrived on this session (informational: other
    /// namespaces never wait for it, since a 2.0.4 server may never send it).
    root_connected: bool,
    backoff: Backoff,
    rng: Rng,
    /// True while the current (re)connection is part of a reconnection sequence.
    reconnecting: bool,
    /// Boxed: binary packets are rare, and an idle client should not carry room for one.
    reassembly: Option<Box<Reassembly>>,
    /// Attachments still to come for a binary packet that was refused (too many attachments,
    /// too large): dropped unkept and unreported, until a text packet or a new session.
    discard_attachments: usize,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    /// Payload bytes (arguments and attachments) of the queued events.
    queued_bytes: usize,
}

impl Client {
    /// A client for `config`, not yet connected; it has joined `config.namespace`. Call
    /// [`connect`](Self::connect) next (after any more [`join`](Self::join)s).
    pub fn new(config: Config) -> Result<Self, ConfigError> {
        config.validate()?;
        let backoff = Backoff::new(
            config.reconnection_delay,
            config.reconnection_delay_max,
            config.randomization_factor,
        );
        let rng = Rng::new(config.rng_seed.unwrap_or_default());
        let first = Namespace::new(config.namespace.clone());
        Ok(Self {
            config,
            engine: Engine::Idle,
            namespaces: vec![first],
            root_connected: false,
            backoff,
            rng,
            reconnecting: false,
            reassembly: None,
            discard_attachments: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            queued_bytes: 0,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True while the Engine.IO session is open.
    pub fn is_open(&self) -> bool {
        matches!(self.engine, Engine::Open(_))
    }

    /// True when `nsp` is connected.
    pub fn is_connected(&self, nsp: &str) -> bool {
        self.nsp(nsp)
            .is_some_and(|n| n.state == NspState::Connected)
    }

    /// True when the client is neither connected, connecting nor waiting to reconnect.
    pub fn is_closed(&self) -> bool {
        matches!(self.engine, Engine::Idle)
    }

    /// True while a connection attempt waits for [`set_query`](Self::set_query) (the state
    /// [`Event::QueryNeeded`] announced): a runtime that answers from state rather than from
    /// the event checks this.
    pub fn wants_query(&self) -> bool {
        matches!(self.engine, Engine::AwaitingQuery { .. })
    }

    /// Events waiting for [`poll_event`](Self::poll_event).
    pub fn queued_events(&self) -> usize {
        self.events.len()
    }

    /// Payload bytes (event arguments and attachments) of the events waiting for
    /// [`poll_event`](Self::poll_event): what a runtime bounds when its consumer is slow.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Whether the server's root `40` arrived on this session.
    pub fn root_connected(&self) -> bool {
        self.root_connected
    }

    /// Packets waiting in `nsp`'s send buffer.
    pub fn buffered(&self, nsp: &str) -> usize {
        self.nsp(nsp).map_or(0, |n| n.send_buffer.len())
    }

    /// Acks awaited on `nsp`.
    pub fn pending_acks(&self, nsp: &str) -> usize {
        self.nsp(nsp).map_or(0, |n| n.pending_acks.len())
    }

    /// Replaces the query used by the next handshake and namespace CONNECTs (for example a
    /// fresh token). When an [`Event::QueryNeeded`] is outstanding, this also opens the
    /// connection.
    pub fn set_query(&mut self, now: Instant, query: Query) {
        self.config.query = query;
        if matches!(self.engine, Engine::AwaitingQuery { .. }) {
            self.open_transport(now);
        }
    }

    /// Reports that the query asked for by [`Event::QueryNeeded`] could not be produced; the
    /// attempt fails like a refused connection and the reconnection schedule goes on.
    pub fn query_failed(&mut self, now: Instant, reason: impl Into<String>) {
        if matches!(self.engine, Engine::AwaitingQuery { .. }) {
            self.open_failed(now, ConnectFailure::Credentials(reason.into()));
        }
    }

    /// Starts connecting (a no-op when already connecting or connected). Drain next.
    pub fn connect(&mut self, now: Instant) {
        if !matches!(self.engine, Engine::Idle) {
            return;
        }
        self.reconnecting = false;
        self.backoff.reset();
        for n in &mut self.namespaces {
            if n.state == NspState::ServerClosed {
                n.state = NspState::Connecting;
            }
        }
        self.start_open(now, 0);
    }

    /// Joins `nsp` (e.g. `/chat`): its CONNECT is sent now if the session is open, else when it
    /// opens. Joining a namespace again after a server DISCONNECT rejoins it. When the client is
    /// idle (never connected, or closed), this also starts connecting, as socket.io-client's
    /// `io.socket(nsp)` does; drain next.
    pub fn join(&mut self, now: Instant, nsp: &str) -> Result<(), ConfigError> {
        config::validate_namespace(nsp)?;
        match self.nsp_index(nsp) {
            Some(i) => {
                if self.namespaces[i].state == NspState::ServerClosed {
                    self.namespaces[i].state = NspState::Connecting;
                    self.namespaces[i].connect_sent = false;
                }
            }
            None => self.namespaces.push(Namespace::new(nsp.to_owned())),
        }
        if matches!(self.engine, Engine::Open(_)) {
            self.send_connects();
        } else if matches!(self.engine, Engine::Idle) {
            self.connect(now);
        }
        Ok(())
    }

    /// Leaves `nsp`: sends DISCONNECT if connected, reports [`Event::Disconnected`] and discards
    /// its buffer. Leaving the last namespace closes the connection, as socket.io-client does.
    pub fn leave(&mut self, now: Instant, nsp: &str) -> Result<(), EmitError> {
        let i = self
            .nsp_index(nsp)
            .ok_or_else(|| EmitError::UnknownNamespace(nsp.to_owned()))?;
        let mut n = self.namespaces.remove(i);
        self.disconnect_by_user(&mut n);
        if self.namespaces.is_empty() {
            self.shut_down(now);
        }
        Ok(())
    }

    /// Closes everything: DISCONNECT for each connected namespace, then the websocket. No
    /// reconnection follows; [`connect`](Self::connect) starts again with the same namespaces.
    pub fn close(&mut self, now: Instant) {
        let namespaces = std::mem::take(&mut self.namespaces);
        let mut kept = Vec::with_capacity(namespaces.len());
        for mut n in namespaces {
            self.disconnect_by_user(&mut n);
            n.state = NspState::Connecting;
            n.connect_sent = false;
            kept.push(n);
        }
        self.namespaces = kept;
        self.shut_down(now);
    }

    /// Drops the current connection attempt or connection (its websocket closed, namespaces
    /// disconnected as by the transport) and schedules the next attempt on the backoff
    /// schedule, as after a network failure; for a layer above that judges a connection
    /// useless (its credentials refused). A no-op unless connecting or connected. Drain next.
    pub fn reconnect(&mut self, now: Instant) {
        match self.engine {
            Engine::Open(_) => {
                self.transmits.push_back(Transmit::Close);
                self.engine_closed(
                    now,
                    DisconnectReason::TransportError("reconnect requested".to_owned()),
                    false,
                );
            }
            Engine::Opening { .. } | Engine::AwaitingQuery { .. } => {
                self.open_failed(now, ConnectFailure::Transport("reconnect requested".into()));
            }
            Engine::Idle | Engine::Backoff { .. } => {}
        }
    }

    /// Sends event `name` with `args` on `nsp`, or buffers it while `nsp` is not connected.
    /// `args` is anything that serializes to a JSON array: a tuple such as `(&payload,)`, a
    /// `Vec`, `serde_json::json!([…])`, or a [`RawValue`] holding array text. It is encoded
    /// once, straight into the frame. Drain next.
    ///
    /// # Errors
    /// [`EmitError`]: unknown namespace, full buffer, reserved name, arguments that are not an
    /// array. Nothing was sent or buffered then.
    pub fn emit<A: Serialize + ?Sized>(
        &mut self,
        now: Instant,
        nsp: &str,
        name: &str,
        args: &A,
    ) -> Result<(), EmitError> {
        self.emit_inner(now, nsp, name, args, Vec::new(), false)
            .map(|_| ())
    }

    /// Like [`emit`](Self::emit), asking the server for an answer: expect
    /// [`Event::AckReceived`] with the returned id (or [`Event::AckTimedOut`] /
    /// [`Event::AckLost`]).
    ///
    /// # Errors
    /// As [`emit`](Self::emit), and [`EmitError::TooManyPendingAcks`].
    pub fn emit_with_ack<A: Serialize + ?Sized>(
        &mut self,
        now: Instant,
        nsp: &str,
        name: &str,
        args: &A,
    ) -> Result<AckId, EmitError> {
        let id = self.emit_inner(now, nsp, name, args, Vec::new(), true)?;
        Ok(AckId(id.unwrap_or_default()))
    }

    /// Sends a BINARY_EVENT: `args` holds `{"_placeholder":true,"num":N}` objects (see
    /// [`placeholder`]) for each of `attachments`.
    ///
    /// # Errors
    /// As [`emit`](Self::emit), and [`EmitError::BadAttachments`].
    pub fn emit_binary<A: Serialize + ?Sized>(
        &mut self,
        now: Instant,
        nsp: &str,
        name: &str,
        args: &A,
        attachments: Vec<Vec<u8>>,
    ) -> Result<(), EmitError> {
        self.emit_inner(now, nsp, name, args, attachments, false)
            .map(|_| ())
    }

    /// [`emit_binary`](Self::emit_binary) asking for an answer, like
    /// [`emit_with_ack`](Self::emit_with_ack).
    ///
    /// # Errors
    /// As [`emit_binary`](Self::emit_binary) and [`emit_with_ack`](Self::emit_with_ack).
    pub fn emit_binary_with_ack<A: Serialize + ?Sized>(
        &mut self,
        now: Instant,
        nsp: &str,
        name: &str,
        args: &A,
        attachments: Vec<Vec<u8>>,
    ) -> Result<AckId, EmitError> {
        let id = self.emit_inner(now, nsp, name, args, attachments, true)?;
        Ok(AckId(id.unwrap_or_default()))
    }

    /// Answers the server's ack request `id` (from [`Event::Message::ack`]) with `args`
    /// (anything that serializes to a JSON array, as for [`emit`](Self::emit)). Each request
    /// can be answered once, on the session it arrived on. Drain next.
    ///
    /// # Errors
    /// [`EmitError::UnknownNamespace`], [`EmitError::UnknownAck`] (answered already, or from a
    /// connection that has ended), [`EmitError::BadArguments`].
    pub fn ack<A: Serialize + ?Sized>(
        &mut self,
        _now: Instant,
        nsp: &str,
        id: AckId,
        args: &A,
    ) -> Result<(), EmitError> {
        let i = self
            .nsp_index(nsp)
            .ok_or_else(|| EmitError::UnknownNamespace(nsp.to_owned()))?;
        if !self.namespaces[i].owed_acks.contains(&id.0) {
            return Err(EmitError::UnknownAck(id.0));
        }
        let frame = encode_args_frame(PacketKind::Ack, nsp, Some(id.0), 0, None, args)?;
        self.namespaces[i].owed_acks.remove(&id.0);
        self.transmits.push_back(Transmit::Text(frame));
        Ok(())
    }

    // ----- inputs from the websocket ---------------------------------------------------------

    /// The websocket asked for by [`Transmit::Open`] is open; the server's open packet is next.
    pub fn handle_open(&mut self, _now: Instant) {
        // Nothing to do until the open packet; the connect timer keeps running.
    }

    /// The websocket asked for by [`Transmit::Open`] could not be opened.
    pub fn handle_open_failed(&mut self, now: Instant, reason: impl Into<String>) {
        if matches!(self.engine, Engine::Opening { .. }) {
            self.open_failed(now, ConnectFailure::Transport(reason.into()));
        }
    }

    /// The websocket closed without us asking: `error` is `None` for an orderly close by the
    /// peer, or the failure's description.
    pub fn handle_closed(&mut self, now: Instant, error: Option<String>) {
        match self.engine {
            Engine::Opening { .. } => {
                let why = error.unwrap_or_else(|| "closed before the open packet".to_owned());
                self.open_failed(now, ConnectFailure::Transport(why));
            }
            Engine::Open(_) => {
                let reason = match error {
                    None => DisconnectReason::TransportClose,
                    Some(e) => DisconnectReason::TransportError(e),
                };
                self.engine_closed(now, reason, false);
            }
            _ => {}
        }
    }

    /// A text websocket message arrived.
    pub fn handle_text(&mut self, now: Instant, text: &str) {
        match engine::decode_text(text) {
            Ok(packet) => self.handle_engine_packet(now, packet),
            // engine.io-client decodes odd base64 frames into packets of no known type, which
            // it skips (after counting them as a sign of life): so do we, and say so.
            Err(
                e @ (engine::DecodeError::MissingBase64Type
                | engine::DecodeError::UnexpectedBase64Type(_)
                | engine::DecodeError::BadBase64),
            ) => {
                self.events
                    .push_back(Event::ProtocolViolation(ProtocolViolation::Engine(e)));
                self.handle_engine_packet(now, engine::Packet::Noop);
            }
            Err(e) => self.engine_violation(now, ProtocolViolation::Engine(e)),
        }
    }

    /// A binary websocket message arrived.
    pub fn handle_binary(&mut self, now: Instant, data: &[u8]) {
        match engine::decode_binary(data) {
            Ok(packet) => self.handle_engine_packet(now, packet),
            // engine.io-client ignores binary frames of other types; tell the user, keep going.
            Err(e) => self
                .events
                .push_back(Event::ProtocolViolation(ProtocolViolation::Engine(e))),
        }
    }

    /// Call when the deadline from [`poll_timeout`](Self::poll_timeout) has passed (calling
    /// early or late is harmless).
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.engine {
            Engine::AwaitingQuery { deadline } | Engine::Opening { deadline } => {
                if deadline.is_some_and(|d| now >= d) {
                    self.open_failed(now, ConnectFailure::Timeout);
                }
            }
            Engine::Backoff { until } => {
                if now >= *until {
                    let attempt = self.backoff.attempts();
                    self.events.push_back(Event::ReconnectAttempt { attempt });
                    self.start_open(now, attempt);
                }
            }
            Engine::Open(hb) => {
                if hb.deadline.is_some_and(|d| now >= d) {
                    self.transmits.push_back(Transmit::Close);
                    self.engine_closed(now, DisconnectReason::PingTimeout, false);
                    return;
                }
                if hb.next_ping.is_some_and(|p| now >= p) {
                    hb.next_ping = None;
                    hb.last_ping = Some(now);
                    hb.deadline = Some(now + hb.timeout);
                    self.transmits.push_back(Transmit::Text(engine::encode_text(
                        engine::PacketKind::Ping,
                        "",
                    )));
                    self.events.push_back(Event::Ping);
                }
            }
            Engine::Idle => {}
        }
        self.expire_acks(now);
    }

    // ----- outputs ---------------------------------------------------------------------------

    /// The next thing the runtime must do, in order; `None` when there is nothing left.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let transmit = self.transmits.pop_front();
        settle(&mut self.transmits);
        transmit
    }

    /// True when [`poll_transmit`](Self::poll_transmit) has something, without taking it: a
    /// runtime whose writer runs on another task checks this after taking an event, to wake
    /// the writer only when there is something to write.
    pub fn has_transmit(&self) -> bool {
        !self.transmits.is_empty()
    }

    /// The next event for the user; `None` when there is nothing left.
    ///
    /// The queue holds what the inputs since the last drain produced, so following the drain
    /// contract keeps it bounded: one frame adds at most a few events, whose bytes are bounded
    /// by the frame (or, for a binary packet, [`Config::max_binary_packet_bytes`]); a namespace
    /// CONNECT answer adds the events held before it (at most [`Config::max_buffered`] and
    /// [`Config::max_receive_buffer_bytes`]); a closed connection adds one event per namespace
    /// and per awaited ack ([`Config::max_pending_acks`]).
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        self.queued_bytes -= payload_bytes(&event);
        settle(&mut self.events);
        Some(event)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next; `None` when no timer
    /// runs (idle, or waiting only for the network with no deadline).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let engine = match &self.engine {
            Engine::Idle => None,
            Engine::AwaitingQuery { deadline } | Engine::Opening { deadline } => *deadline,
            Engine::Backoff { until } => Some(*until),
            Engine::Open(hb) => min_opt(hb.next_ping, hb.deadline),
        };
        let acks = self
            .namespaces
            .iter()
            .flat_map(|n| n.pending_acks.values())
            .filter_map(|a| a.deadline)
            .min();
        min_opt(engine, acks)
    }

    // ----- internals -------------------------------------------------------------------------

    fn nsp_index(&self, nsp: &str) -> Option<usize> {
        self.namespaces.iter().position(|n| n.name == nsp)
    }

    fn nsp(&self, nsp: &str) -> Option<&Namespace> {
        self.namespaces.iter().find(|n| n.name == nsp)
    }

    fn transmit_packet(&mut self, kind: PacketKind, nsp: &str, data: Option<&str>) {
        let frame = encode_frame(kind, nsp, None, 0, data);
        self.transmits.push_back(Transmit::Text(frame));
    }

    fn emit_inner<A: Serialize + ?Sized>(
        &mut self,
        now: Instant,
        nsp: &str,
        name: &str,
        args: &A,
        attachments: Vec<Vec<u8>>,
        want_ack: bool,
    ) -> Result<Option<u64>, EmitError> {
        if RESERVED_EVENTS.contains(&name) {
            return Err(EmitError::ReservedEventName(name.to_owned()));
        }
        let ack_timeout = self.config.ack_timeout;
        let max_buffered = self.config.max_buffered;
        let max_acks = self.config.max_pending_acks;
        let i = self
            .nsp_index(nsp)
            .ok_or_else(|| EmitError::UnknownNamespace(nsp.to_owned()))?;
        let n = &mut self.namespaces[i];
        let connected = n.state == NspState::Connected;
        if !connected && n.send_buffer.len() >= max_buffered {
            return Err(EmitError::BufferFull {
                nsp: nsp.to_owned(),
                limit: max_buffered,
            });
        }
        if want_ack && n.pending_acks.len() >= max_acks {
            return Err(EmitError::TooManyPendingAcks(nsp.to_owned()));
        }
        let id = want_ack.then_some(n.next_ack_id);
        let kind = if attachments.is_empty() {
            PacketKind::Event
        } else {
            PacketKind::BinaryEvent
        };
        let frame = encode_args_frame(kind, nsp, id, attachments.len(), Some(name), args)?;
        if !attachments.is_empty() {
            // Only binary emits look inside the arguments again: their placeholders must
            // match the attachments, and the user wrote them.
            check_frame_placeholders(&frame, attachments.len())?;
        }
        if let Some(id) = id {
            n.next_ack_id = n.next_ack_id.wrapping_add(1);
            n.pending_acks.insert(
                id,
                PendingAck {
                    deadline: ack_timeout.map(|t| now + t),
                    sent: connected,
                },
            );
        }
        if connected {
            self.transmits.push_back(Transmit::Text(frame));
            self.transmits.extend(
                attachments
                    .iter()
                    .map(|a| Transmit::Binary(engine::encode_binary_message(a))),
            );
        } else {
            n.send_buffer.push_back(Buffered {
                frame,
                attachments,
                ack: id,
            });
        }
        Ok(id)
    }
}

/// Gives a queue's memory back once it is empty, so an idle session holds no queue memory at
/// all (idle connections are what users keep by the thousand). Refilling costs one small
/// allocation, tens of nanoseconds against the microseconds a frame takes.
pub(crate) fn settle<T>(queue: &mut VecDeque<T>) {
    if queue.is_empty() && queue.capacity() > 0 {
        queue.shrink_to(0);
    }
}

/// `d` limited to `bounds`.
fn clamp(d: Duration, bounds: &std::ops::RangeInclusive<Duration>) -> Duration {
    d.max(*bounds.start()).min(*bounds.end())
}

/// What an event's data costs in memory, roughly: name, JSON arguments and attachments.
fn event_bytes(name: &str, args: &Args, attachments: &[Vec<u8>]) -> usize {
    name.len() + args.as_json().len() + attachments.iter().map(Vec::len).sum::<usize>()
}

/// What an event holds of the server's payload, as counted in [`Client::queued_bytes`] (the
/// same measure as the receive buffer's).
fn payload_bytes(event: &Event) -> usize {
    match event {
        Event::Message {
            name,
            args,
            attachments,
            ..
        } => event_bytes(name, args, attachments),
        Event::AckReceived {
            args, attachments, ..
        } => event_bytes("", args, attachments),
        _ => 0,
    }
}

fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// An Engine.IO message frame carrying an EVENT or ACK: the header, then `args` serialized
/// straight into the frame with the event name (if any) spliced in as the first element.
fn encode_args_frame<A: Serialize + ?Sized>(
    kind: PacketKind,
    nsp: &str,
    id: Option<u64>,
    attachments: usize,
    name: Option<&str>,
    args: &A,
) -> Result<String, EmitError> {
    let mut out = String::with_capacity(128);
    out.push('4');
    socket::encode_into(&mut out, kind, nsp, None, id, attachments, None);
    let mut bytes = out.into_bytes();
    let head = bytes.len();
    if let Some(name) = name {
        bytes.push(b'[');
        serde_json::to_writer(&mut bytes, name).map_err(bad_args)?;
    }
    let start = bytes.len();
    serde_json::to_writer(&mut bytes, args).map_err(bad_args)?;
    if bytes.get(start) != Some(&b'[') {
        return Err(EmitError::BadArguments(
            "the arguments must serialize to a JSON array".to_owned(),
        ));
    }
    if name.is_some() {
        if bytes.len() - start == 2 {
            // `[]`: the name alone.
            bytes.truncate(start);
            bytes.push(b']');
        } else {
            bytes[start] = b',';
        }
    }
    debug_assert!(bytes.len() > head);
    // serde_json writes UTF-8 only, and the header is ASCII.
    String::from_utf8(bytes).map_err(|e| bad_args(e.to_string()))
}

fn bad_args(e: impl ToString) -> EmitError {
    EmitError::BadArguments(e.to_string())
}

/// Checks the placeholders of a binary frame we just encoded against its attachments.
fn check_frame_placeholders(frame: &str, attachments: usize) -> Result<(), EmitError> {
    let packet = frame
        .get(1..)
        .and_then(|p| socket::decode(p).ok())
        .ok_or(EmitError::BadAttachments(attachments))?;
    socket::check_placeholders(packet.elements(), attachments)
        .map_err(|_| EmitError::BadAttachments(attachments))
}

/// An Engine.IO message frame (`4` + Socket.IO packet).
fn encode_frame(
    kind: PacketKind,
    nsp: &str,
    id: Option<u64>,
    attachments: usize,
    data: Option<&str>,
) -> String {
    let mut out = String::with_capacity(8 + nsp.len() + data.map_or(0, str::len));
    out.push('4');
    socket::encode_into(&mut out, kind, nsp, None, id, attachments, data);
    out
}

fn encode_connect(nsp: &str, query: Option<&str>) -> String {
    let mut out = String::from("4");
    socket::encode_into(&mut out, PacketKind::Connect, nsp, query, None, 0, None);
    out
}

/// Splits an EVENT's array into its name and the remaining arguments; ACKs keep all.
fn split_event(packet: &socket::Packet<'_>) -> (Option<String>, Args) {
    let elements: &[&RawValue] = match &packet.payload {
        Payload::Array(a) => a,
        _ => &[],
    };
    match packet.kind {
        PacketKind::Event | PacketKind::BinaryEvent => {
            let name = packet.event_name().map(|n| n.into_owned());
            let rest = elements.get(1..).unwrap_or(&[]);
            (name, Args::from_elements(rest))
        }
        _ => (None, Args::from_elements(elements)),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::{Client, Config, Event};

    #[test]
    fn queued_bytes_count_the_payloads_waiting_and_return_to_zero_once_taken() {
        let now = Instant::now();
        let mut client = Client::new(Config::new("http://127.0.0.1:1/chat").unwrap()).unwrap();
        client.connect(now);
        client.handle_open(now);
        client.handle_text(
            now,
            r#"0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":5000}"#,
        );
        client.handle_text(now, "40/chat");
        while client.poll_event().is_some() {}
        assert_eq!(client.queued_bytes(), 0);
        client.handle_text(now, r#"42/chat,["ev",{"text":"0123456789"}]"#);
        client.handle_text(now, r#"42/chat,["ev",[1,2,3]]"#);
        let expected = "ev".len() * 2 + r#"[{"text":"0123456789"}]"#.len() + "[[1,2,3]]".len();
        assert_eq!(client.queued_bytes(), expected);
        assert!(matches!(client.poll_event(), Some(Event::Message { .. })));
        assert_eq!(
            client.queued_bytes(),
            expected - 2 - r#"[{"text":"0123456789"}]"#.len()
        );
        assert!(matches!(client.poll_event(), Some(Event::Message { .. })));
        assert_eq!(client.queued_bytes(), 0);
    }
}
