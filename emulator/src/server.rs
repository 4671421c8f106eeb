//! The sans-IO server: connections, rooms and the Spaces `/chat` events, driven by
//! [`Emulator::handle_*`](Emulator) and drained with [`Emulator::poll_output`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use spaces_socket::Secret;
use spaces_socket::client::Query;
use spaces_socket::engine::{self, Handshake};
use spaces_socket::socket::{self, PacketKind};

use crate::auth::{AuthRejection, Authenticator, User};
use crate::ids::Ids;
use crate::rng;

mod spaces;

/// Error codes the emulator sends in `SUBSCRIBE_CHANNEL_FAILED` (`error.code`) and
/// `SEND_MESSAGE_FAILED` (`error`). Codes marked *invented* are not documented by Avaya.
pub mod codes {
    /// SUBSCRIBE_CHANNEL without a usable `channel._id` (documented).
    pub const INVALID_PARAMETERS: &str = "invalid.parameters";
    /// SUBSCRIBE_CHANNEL to a space that does not exist while
    /// [`EmulatorConfig::open_spaces`](super::EmulatorConfig::open_spaces) is off (*invented*).
    pub const SPACE_NOT_FOUND: &str = "space.not.found";
    /// SUBSCRIBE_CHANNEL to a PIN-protected space with a missing or wrong
    /// `channel.password` (*invented*).
    pub const WRONG_PASSWORD: &str = "space.password.invalid";
    /// SEND_MESSAGE without `topicId`, or to a space this socket has not subscribed to
    /// (documented as the failure "type"; the emulator sends it as `error`).
    pub const SUBSCRIPTION_REQUIRED: &str = "app.event.channel.subscription.required";
    /// SEND_MESSAGE whose JSON exceeds the payload limit (*invented*).
    pub const PAYLOAD_TOO_LARGE: &str = "payload.too.large";
    /// SEND_MESSAGE over [`EmulatorConfig::message_rate_limit`](super::EmulatorConfig::message_rate_limit) (*invented*; the real
    /// server's reaction to its documented rate limit is unknown).
    pub const RATE_LIMITED: &str = "rate.limit.exceeded";
    /// `code` of the error packet [`Emulator::send_error`](super::Emulator::send_error) sends by default (*invented*).
    pub const SERVER_ERROR: &str = "server.error";
}

/// Most [`EmulatorEvent`]s kept while nobody drains them; older ones are dropped (and counted
/// in [`EmulatorStats::events_dropped`]).
pub const MAX_QUEUED_EVENTS: usize = 4096;

/// A space the emulator knows.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SpaceInfo {
    /// The space's name, sent as `topicTitle`.
    pub title: String,
    /// The space's PIN: SUBSCRIBE_CHANNEL must carry it as `channel.password` (redacted in
    /// `Debug`).
    pub password: Option<String>,
}

impl SpaceInfo {
    /// An open space called `title`.
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            password: None,
        }
    }
}

impl fmt::Debug for SpaceInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpaceInfo")
            .field("title", &self.title)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// How the emulator behaves. [`Default`] gives socket.io 2.0.4 / engine.io 3.1 defaults and the
/// documented Spaces limits.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// `pingInterval` announced in the open packet (engine.io 3.1 default: 25 s).
    pub ping_interval: Duration,
    /// `pingTimeout` announced in the open packet (engine.io 3.1 default: 60 s). A connection
    /// silent for `ping_interval + ping_timeout` is closed.
    pub ping_timeout: Duration,
    /// The Spaces namespace, `/chat`. Any other namespace is answered `"Invalid namespace"`.
    pub namespace: String,
    /// `true`: answer a namespace CONNECT (and send DISCONNECT) as `40/chat,` like
    /// socket.io 2.0.4; `false`: `40/chat` like socket.io 1.7.3 and observed production.
    pub namespace_comma: bool,
    /// `true`: send the root `40` right after the open packet. `false` reproduces socket.io
    /// 2.0.4 bug #3082, where it never comes (the namespace still works).
    pub send_root_connect: bool,
    /// Largest SEND_MESSAGE / SEND_PRESENCE_EVENT argument, in bytes of JSON (Spaces documents
    /// 16 KB).
    pub max_payload: usize,
    /// Most simultaneous connections; more are refused with [`Rejection::TooManyConnections`].
    pub max_connections: usize,
    /// Seed for session ids, message ids and socket session ids.
    pub seed: u64,
    /// The spaces that exist, by id.
    pub spaces: BTreeMap<String, SpaceInfo>,
    /// `true`: a SUBSCRIBE_CHANNEL to an unknown id opens that space (titled with its id); it
    /// lives as long as it has subscribers and is never added to [`spaces`](Self::spaces), so
    /// spaces joined and left do not accumulate. `false`: it fails with
    /// [`codes::SPACE_NOT_FOUND`].
    pub open_spaces: bool,
    /// Unix time, in milliseconds, of the first `Instant` the emulator is given; `created`
    /// timestamps count from it. Default: 2021-01-01T00:00:00.000Z.
    pub base_time_unix_ms: u64,
    /// Live-service mode (default `false`): the sender's own MESSAGE_SENT comes back
    /// *without* the `loopbackMetadata` it sent, as a server that drops it would.
    pub drop_loopback: bool,
    /// Live-service mode (default `false`): every MESSAGE_SENT carries fields of unexpected
    /// types: a number `version` (`2`), an object `assignees` (`{"odd":true}`) and a string
    /// `mentions` (`"everyone"`).
    pub odd_message_fields: bool,
    /// Live-service mode (default empty): SUBSCRIBE_CHANNEL to these space ids is never
    /// answered (no CHANNEL_SUBSCRIBED, no failure, no room).
    pub unanswered_spaces: BTreeSet<String>,
    /// Live-service mode (default 0: off): one SUBSCRIBE_CHANNEL in this many, drawn from
    /// [`seed`](Self::seed), is never answered, as for
    /// [`unanswered_spaces`](Self::unanswered_spaces).
    pub unanswered_subscribe_one_in: u64,
    /// Live-service mode (default `None`): most SEND_MESSAGEs a connection may send per
    /// fixed window (the window starts at the first SEND_MESSAGE after the previous one
    /// ended). One over it is answered SEND_MESSAGE_FAILED: the payload that was sent, plus
    /// `sender` and `"error": "rate.limit.exceeded"` ([`codes::RATE_LIMITED`]); it is not
    /// delivered. Refused sends count towards the window too.
    pub message_rate_limit: Option<RateLimit>,
}

/// A fixed-window limit: at most [`max`](Self::max) per [`window`](Self::window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Most events per window.
    pub max: u32,
    /// The window's length.
    pub window: Duration,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_millis(25_000),
            ping_timeout: Duration::from_millis(60_000),
            namespace: "/chat".to_owned(),
            namespace_comma: true,
            send_root_connect: true,
            max_payload: 16 * 1024,
            max_connections: 1024,
            seed: 0x5EED,
            spaces: BTreeMap::new(),
            open_spaces: true,
            base_time_unix_ms: 1_609_459_200_000,
            drop_loopback: false,
            odd_message_fields: false,
            unanswered_spaces: BTreeSet::new(),
            unanswered_subscribe_one_in: 0,
            message_rate_limit: None,
        }
    }
}

/// Identifies one websocket connection of the emulator (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// Something the listener must do on a connection.
#[derive(Clone, PartialEq, Eq)]
pub enum ServerOutput {
    /// Send this websocket text frame.
    Text {
        /// The connection.
        conn: ConnId,
        /// The frame (an Engine.IO packet).
        text: String,
    },
    /// Send this websocket binary frame (the emulator itself never sends binary today).
    Binary {
        /// The connection.
        conn: ConnId,
        /// The frame.
        data: Vec<u8>,
    },
    /// Close the websocket (after writing the frames queued before this). The emulator has
    /// already forgotten the connection; a later [`Emulator::handle_closed`] for it is a no-op.
    Close {
        /// The connection.
        conn: ConnId,
    },
}

impl ServerOutput {
    /// The connection this output is for.
    pub fn conn(&self) -> ConnId {
        match self {
            Self::Text { conn, .. } | Self::Binary { conn, .. } | Self::Close { conn } => *conn,
        }
    }
}

/// `Debug` decodes the frame with the engine codec, whose `Debug` redacts the session id.
impl fmt::Debug for ServerOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text { conn, text } => match engine::decode_text(text) {
                Ok(packet) => write!(f, "Text({conn:?}, {packet:?})"),
                Err(_) => write!(f, "Text({conn:?}, {} bytes)", text.len()),
            },
            Self::Binary { conn, data } => write!(f, "Binary({conn:?}, {} bytes)", data.len()),
            Self::Close { conn } => write!(f, "Close({conn:?})"),
        }
    }
}

/// Why the emulator refused a websocket upgrade: answer HTTP [`status`](Self::status) with
/// [`body`](Self::body) (engine.io's texts) and close.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Rejection {
    /// The path is not under `/socket.io/`.
    #[error("Bad request")]
    BadRequest,
    /// `transport` is missing or not `websocket` (the emulator is websocket-only).
    #[error("Transport unknown")]
    UnknownTransport,
    /// The URL names a session (`sid`): there are no polling sessions to upgrade.
    #[error("Session ID unknown")]
    UnknownSession,
    /// [`EmulatorConfig::max_connections`] connections are already open.
    #[error("Too many connections")]
    TooManyConnections,
}

impl Rejection {
    /// The HTTP status: 400, or 503 for [`Rejection::TooManyConnections`].
    pub fn status(&self) -> u16 {
        match self {
            Self::TooManyConnections => 503,
            Self::BadRequest | Self::UnknownTransport | Self::UnknownSession => 400,
        }
    }

    /// The response body, e.g. `Transport unknown`.
    pub fn body(&self) -> &'static str {
        match self {
            Self::BadRequest => "Bad request",
            Self::UnknownTransport => "Transport unknown",
            Self::UnknownSession => "Session ID unknown",
            Self::TooManyConnections => "Too many connections",
        }
    }
}

/// Why the emulator forgot a connection.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    /// The peer went away ([`Emulator::handle_closed`]).
    TransportClose,
    /// Nothing arrived for `ping_interval + ping_timeout`.
    PingTimeout,
    /// An undecodable Engine.IO text frame (engine.io: `parse error`).
    ParseError,
    /// A Socket.IO packet that makes socket.io-parser 3.1 throw (bad attachment count, empty
    /// message, binary data with no pending binary packet): socket.io 2.0.4 closes the engine.
    ProtocolError,
    /// [`Emulator::kick`] or [`Emulator::kick_all`].
    Kicked,
}

/// Something that happened in the emulator, for logs and demo participants. Drain with
/// [`Emulator::poll_event`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmulatorEvent {
    /// A websocket was accepted.
    Connected {
        /// The connection.
        conn: ConnId,
    },
    /// A connection joined the namespace as `user`.
    Joined {
        /// The connection.
        conn: ConnId,
        /// Who it is.
        user: User,
    },
    /// A namespace CONNECT was refused by the [`Authenticator`].
    AuthFailed {
        /// The connection.
        conn: ConnId,
        /// Why.
        rejection: AuthRejection,
    },
    /// A connection left the namespace (it sent `41/chat`, or
    /// [`Emulator::disconnect_namespace`]); the connection itself stays open.
    Left {
        /// The connection.
        conn: ConnId,
        /// Who it was.
        user: User,
        /// `true` when the server sent the DISCONNECT.
        by_server: bool,
    },
    /// A connection subscribed to a space.
    Subscribed {
        /// The connection.
        conn: ConnId,
        /// The space id.
        space: String,
        /// Who.
        user: User,
    },
    /// A connection unsubscribed from a space (explicitly; closes do not produce this).
    Unsubscribed {
        /// The connection.
        conn: ConnId,
        /// The space id.
        space: String,
        /// Who.
        user: User,
    },
    /// A chat message (or post, task) was delivered into a space.
    MessageSent {
        /// The sending connection; `None` for [`Emulator::say`].
        conn: Option<ConnId>,
        /// The space id.
        space: String,
        /// The sender.
        sender: User,
        /// `content.bodyText`, or empty.
        text: String,
        /// The message `_id` the emulator assigned.
        message_id: String,
    },
    /// The emulator forgot a connection.
    Closed {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
}

/// Counters, for tests and logs.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EmulatorStats {
    /// Open websocket connections.
    pub connections: usize,
    /// Connections that joined the namespace.
    pub members: usize,
    /// Space subscriptions, summed over connections.
    pub subscriptions: usize,
    /// Spaces with at least one subscriber.
    pub rooms: usize,
    /// Spaces the emulator holds in memory: the configured ones, plus the ones opened on demand
    /// (see [`EmulatorConfig::open_spaces`]) while they have subscribers. An empty room is
    /// forgotten, so this does not grow with spaces joined and left.
    pub spaces: usize,
    /// MESSAGE_SENT deliveries (one per message, not per recipient).
    pub messages_sent: u64,
    /// SEND_MESSAGE_FAILED answers.
    pub messages_failed: u64,
    /// Refused namespace CONNECTs.
    pub auth_failures: u64,
    /// Connections closed for silence.
    pub ping_timeouts: u64,
    /// Frames received.
    pub frames_in: u64,
    /// Frames queued for sending.
    pub frames_out: u64,
    /// Events dropped because nobody drained [`Emulator::poll_event`].
    pub events_dropped: u64,
}

/// A connection's membership of the namespace.
#[derive(Debug)]
struct Member {
    user: User,
    /// The Spaces socket session id (`sessionId` in CHANNEL_SUBSCRIBED and presence).
    session_id: String,
    /// Subscribed space ids.
    rooms: BTreeSet<String>,
}

#[derive(Debug)]
struct Conn {
    /// The engine.io session id (kept for diagnostics; redacted in `Debug`).
    #[allow(dead_code)]
    sid: Secret<String>,
    /// The handshake URL's query (its `Debug` redacts values).
    url_query: Query,
    /// Closed for silence at this instant; `None` if the timers overflow `Instant`.
    deadline: Option<Instant>,
    member: Option<Member>,
    /// Binary attachments still to swallow for a binary packet being skipped.
    skip_attachments: usize,
    /// [`EmulatorConfig::message_rate_limit`]: the current window's start and its count.
    rate_window: Option<(Instant, u32)>,
}

/// The sans-IO Spaces server.
///
/// # The drain contract
///
/// 1. Feed one input: a new websocket ([`handle_connect`](Self::handle_connect)), a frame
///    ([`handle_text`](Self::handle_text), [`handle_binary`](Self::handle_binary)), a closed
///    websocket ([`handle_closed`](Self::handle_closed)), a timer tick
///    ([`handle_timeout`](Self::handle_timeout)) or a control ([`kick`](Self::kick),
///    [`kick_all`](Self::kick_all), [`disconnect_namespace`](Self::disconnect_namespace),
///    [`say`](Self::say)).
/// 2. Drain [`poll_output`](Self::poll_output) until `None`, carrying out each output in order
///    (per connection, order matters: a `Close` comes after the frames to flush before it).
///    Then drain [`poll_event`](Self::poll_event) if you care (it keeps at most
///    [`MAX_QUEUED_EVENTS`]).
/// 3. Sleep until [`poll_timeout`](Self::poll_timeout) or the next input; at the deadline call
///    [`handle_timeout`](Self::handle_timeout). Repeat.
///
/// `now` should not go backwards. Inputs for unknown or closed connections are ignored; no
/// input, however malformed, makes it panic.
pub struct Emulator {
    config: EmulatorConfig,
    auth: Box<dyn Authenticator>,
    ids: Ids,
    conns: BTreeMap<u64, Conn>,
    next_conn: u64,
    /// Space id → subscribed connections.
    rooms: BTreeMap<String, BTreeSet<u64>>,
    /// The first `Instant` seen: `base_time_unix_ms` corresponds to it.
    epoch: Option<Instant>,
    outputs: VecDeque<ServerOutput>,
    events: VecDeque<EmulatorEvent>,
    stats: EmulatorStats,
    /// Draws [`EmulatorConfig::unanswered_subscribe_one_in`].
    modes_rng: rng::Rng,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("config", &self.config)
            .field("connections", &self.conns.len())
            .field("rooms", &self.rooms.len())
            .field("queued_outputs", &self.outputs.len())
            .finish_non_exhaustive()
    }
}

/// socketio-jwt's `UnauthorizedError` data, in its key order.
#[derive(Serialize)]
struct Unauthorized<'a> {
    message: &'a str,
    code: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
}

impl Emulator {
    /// A server with no connections. Then call [`handle_connect`](Self::handle_connect) for each
    /// accepted websocket.
    pub fn new(config: EmulatorConfig, auth: Box<dyn Authenticator>) -> Self {
        let modes_rng = rng::Rng::new(config.seed ^ 0x6d6f_6465_735f_726e);
        Self {
            ids: Ids::new(config.seed),
            config,
            auth,
            conns: BTreeMap::new(),
            next_conn: 1,
            rooms: BTreeMap::new(),
            epoch: None,
            outputs: VecDeque::new(),
            events: VecDeque::new(),
            stats: EmulatorStats::default(),
            modes_rng,
        }
    }

    /// The configuration, to flip the live-service modes at run time
    /// ([`drop_loopback`](EmulatorConfig::drop_loopback),
    /// [`odd_message_fields`](EmulatorConfig::odd_message_fields), the unanswered
    /// subscriptions, [`message_rate_limit`](EmulatorConfig::message_rate_limit)); they apply
    /// from the next event. Changing `seed`, the heartbeat or `max_connections` does not
    /// affect existing connections.
    pub fn config_mut(&mut self) -> &mut EmulatorConfig {
        &mut self.config
    }

    /// Sends the error packet `44/chat,{"message":…,"code":…}` to `conn` while it is joined,
    /// as a server reporting a failure on a live connection (`code`: `None` sends
    /// [`codes::SERVER_ERROR`]). The connection, its membership and its rooms stay. Returns
    /// whether it was sent (`false` if `conn` has not joined).
    pub fn send_error(
        &mut self,
        now: Instant,
        conn: ConnId,
        message: &str,
        code: Option<&str>,
    ) -> bool {
        self.clock(now);
        if self.conns.get(&conn.0).is_none_or(|c| c.member.is_none()) {
            return false;
        }
        let data = serde_json::json!({
            "message": message,
            "code": code.unwrap_or(codes::SERVER_ERROR),
        })
        .to_string();
        let nsp = self.config.namespace.clone();
        self.send_packet(conn.0, PacketKind::Error, &nsp, Some(&data));
        true
    }

    /// The configuration as given (spaces opened on demand are not added to its `spaces`).
    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// A websocket upgrade for `request_uri` (the request target, e.g.
    /// `/socket.io/?token=t&tokenType=jwt&EIO=3&transport=websocket`) is being accepted.
    ///
    /// On success the open packet (and, if configured, the root `40`) is queued: complete the
    /// upgrade, then drain [`poll_output`](Self::poll_output). On a [`Rejection`], answer HTTP
    /// [`Rejection::status`] with [`Rejection::body`] instead. `EIO` is not checked, as
    /// engine.io 3.1 does not check it.
    pub fn handle_connect(&mut self, now: Instant, request_uri: &str) -> Result<ConnId, Rejection> {
        self.clock(now);
        let (path, query) = request_uri.split_once('?').unwrap_or((request_uri, ""));
        // engine.io intercepts every path that starts with its own (trailing slash included).
        if !path.starts_with("/socket.io/") {
            return Err(Rejection::BadRequest);
        }
        let query = Query::parse(query);
        if query.get("transport") != Some("websocket") {
            return Err(Rejection::UnknownTransport);
        }
        if query.get("sid").is_some() {
            return Err(Rejection::UnknownSession);
        }
        if self.conns.len() >= self.config.max_connections {
            return Err(Rejection::TooManyConnections);
        }
        let id = self.next_conn;
        self.next_conn += 1;
        let handshake = Handshake {
            sid: Secret::new(self.ids.sid()),
            upgrades: Vec::new(),
            ping_interval: self.config.ping_interval,
            ping_timeout: self.config.ping_timeout,
        };
        self.send_text(
            id,
            engine::encode_text(engine::PacketKind::Open, &handshake.to_json()),
        );
        if self.config.send_root_connect {
            self.send_text(id, "40".to_owned());
        }
        self.conns.insert(
            id,
            Conn {
                sid: handshake.sid,
                url_query: query,
                deadline: self.deadline_from(now),
                member: None,
                skip_attachments: 0,
                rate_window: None,
            },
        );
        self.push_event(EmulatorEvent::Connected { conn: ConnId(id) });
        Ok(ConnId(id))
    }

    /// A websocket text frame arrived on `conn`.
    pub fn handle_text(&mut self, now: Instant, conn: ConnId, text: &str) {
        if !self.received(now, conn) {
            return;
        }
        match engine::decode_text(text) {
            Ok(engine::Packet::Ping(_)) => self.send_text(conn.0, "3".to_owned()),
            Ok(engine::Packet::Message(message)) => self.on_socket_text(now, conn.0, message),
            Ok(engine::Packet::BinaryMessage(data)) => self.on_attachment(conn.0, &data),
            // open, pong, close, upgrade, noop: engine.io 3.1 ignores them over websocket.
            Ok(_) => {}
            // engine.io-parser yields its `error` packet: the server closes ("parse error").
            Err(engine::DecodeError::Empty | engine::DecodeError::UnknownPacketType(_)) => {
                self.close(conn.0, CloseReason::ParseError, true);
            }
            // A `b` frame with an odd type or bad base64 decodes to a typeless packet there,
            // which engine.io ignores.
            Err(_) => {}
        }
    }

    /// A websocket binary frame arrived on `conn`. Only `0x04` (message) frames matter; they
    /// are attachments of a binary packet, which the emulator swallows.
    pub fn handle_binary(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        if !self.received(now, conn) {
            return;
        }
        // Other type bytes decode to a typeless packet that engine.io ignores.
        if let Ok(engine::Packet::BinaryMessage(data)) = engine::decode_binary(data) {
            self.on_attachment(conn.0, &data);
        }
    }

    /// The peer went away (websocket closed or failed): the connection leaves its rooms, and
    /// the rest of each room gets a server-origin `party.leaves`.
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId) {
        self.clock(now);
        self.close(conn.0, CloseReason::TransportClose, false);
    }

    /// Closes every connection silent for `ping_interval + ping_timeout` (engine.io 3.1: any
    /// inbound packet resets the timer; the server never pings). Call it at
    /// [`poll_timeout`](Self::poll_timeout).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.clock(now);
        let expired: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.deadline.is_some_and(|d| d <= now))
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            self.stats.ping_timeouts += 1;
            self.close(id, CloseReason::PingTimeout, true);
        }
    }

    /// The next output to carry out, in order.
    pub fn poll_output(&mut self) -> Option<ServerOutput> {
        self.outputs.pop_front()
    }

    /// The next event, in order.
    pub fn poll_event(&mut self) -> Option<EmulatorEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called: the earliest
    /// connection deadline, or `None` with no connections.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns.values().filter_map(|c| c.deadline).min()
    }

    /// Closes `conn` at the transport level (the client sees `transport close` and
    /// reconnects). Its rooms get `party.leaves`.
    pub fn kick(&mut self, now: Instant, conn: ConnId) {
        self.clock(now);
        self.close(conn.0, CloseReason::Kicked, true);
    }

    /// [`kick`](Self::kick)s every connection.
    pub fn kick_all(&mut self, now: Instant) {
        self.clock(now);
        let all: Vec<u64> = self.conns.keys().copied().collect();
        for id in all {
            self.close(id, CloseReason::Kicked, true);
        }
    }

    /// Sends the namespace DISCONNECT (`41/chat,`) to `conn`, as socket.io's
    /// `socket.disconnect()`: the client sees `io server disconnect` and does not reconnect;
    /// the websocket stays open. Its rooms get `party.leaves`. No-op if `conn` has not joined.
    pub fn disconnect_namespace(&mut self, now: Instant, conn: ConnId) {
        self.clock(now);
        if self.leave_namespace(conn.0, true) {
            let nsp = self.config.namespace.clone();
            self.send_packet(conn.0, PacketKind::Disconnect, &nsp, None);
        }
    }

    /// Number of open connections.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Current counters.
    pub fn stats(&self) -> EmulatorStats {
        let members = self.conns.values().filter(|c| c.member.is_some()).count();
        EmulatorStats {
            connections: self.conns.len(),
            members,
            subscriptions: self.rooms.values().map(BTreeSet::len).sum(),
            rooms: self.rooms.len(),
            spaces: self.config.spaces.len()
                + self
                    .rooms
                    .keys()
                    .filter(|id| !self.config.spaces.contains_key(*id))
                    .count(),
            ..self.stats
        }
    }

    // ----- engine and socket layers -----

    /// Records the first `Instant` (the origin of `created` timestamps).
    fn clock(&mut self, now: Instant) {
        self.epoch.get_or_insert(now);
    }

    /// Milliseconds since the Unix epoch at `now`, per [`EmulatorConfig::base_time_unix_ms`].
    fn unix_ms(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        let elapsed = u64::try_from(now.saturating_duration_since(epoch).as_millis());
        self.config
            .base_time_unix_ms
            .saturating_add(elapsed.unwrap_or(u64::MAX))
    }

    fn deadline_from(&self, now: Instant) -> Option<Instant> {
        now.checked_add(
            self.config
                .ping_interval
                .saturating_add(self.config.ping_timeout),
        )
    }

    /// Bookkeeping for any inbound frame: resets the silence deadline. `false` if `conn` is
    /// unknown.
    fn received(&mut self, now: Instant, conn: ConnId) -> bool {
        self.clock(now);
        let deadline = self.deadline_from(now);
        let Some(c) = self.conns.get_mut(&conn.0) else {
            return false;
        };
        c.deadline = deadline;
        self.stats.frames_in += 1;
        true
    }

    fn on_socket_text(&mut self, now: Instant, conn: u64, text: &str) {
        let packet = match socket::decode(text) {
            Ok(packet) => packet,
            // socket.io-parser 3.1 throws on these; socket.io 2.0.4 then closes the engine.
            Err(
                socket::DecodeError::Empty
                | socket::DecodeError::IllegalAttachments
                | socket::DecodeError::TooManyAttachments,
            ) => {
                self.close(conn, CloseReason::ProtocolError, true);
                return;
            }
            // Anything else is socket.io-parser's ERROR packet, which the server drops. A
            // binary header we refuse (e.g. a placeholder out of range) still announced its
            // attachments: swallow them rather than fail on them.
            Err(_) => {
                if let Some(n) = binary_attachment_count(text)
                    && let Some(c) = self.conns.get_mut(&conn)
                {
                    c.skip_attachments = n;
                }
                return;
            }
        };
        let joined = packet.nsp == self.config.namespace;
        match packet.kind {
            PacketKind::Connect => self.on_connect(conn, packet.nsp, packet.query),
            PacketKind::Disconnect if joined => {
                self.leave_namespace(conn, false);
            }
            PacketKind::Event if joined => self.on_event(now, conn, &packet),
            // No Spaces event is binary: swallow the attachments, drop the packet.
            PacketKind::BinaryEvent | PacketKind::BinaryAck => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.skip_attachments = packet.attachments;
                }
            }
            // Root DISCONNECT and events, acks (Spaces uses none), client ERRORs: ignored.
            _ => {}
        }
    }

    fn on_attachment(&mut self, conn: u64, _data: &[u8]) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        if c.skip_attachments > 0 {
            c.skip_attachments -= 1;
        } else {
            // socket.io-parser throws "got binary data when not reconstructing a packet".
            self.close(conn, CloseReason::ProtocolError, true);
        }
    }

    fn on_connect(&mut self, conn: u64, nsp: &str, connect_query: Option<&str>) {
        // socket.io 2.0.4 never answers a root CONNECT a second time.
        if nsp == "/" {
            return;
        }
        if nsp != self.config.namespace {
            self.send_packet(conn, PacketKind::Error, nsp, Some("\"Invalid namespace\""));
            return;
        }
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        // socket.io 2.0.4's buildHandshake: Object.assign({}, connectQuery, urlQuery), so the
        // handshake URL wins.
        let connect_query = Query::parse(connect_query.unwrap_or(""));
        let param = |key: &str| {
            c.url_query
                .get(key)
                .or_else(|| connect_query.get(key))
                .map(|v| Secret::new(v.to_owned()))
        };
        let token_type = param("tokenType");
        let token = param("token");
        let already = c.member.is_some();
        let verdict = self.auth.authenticate(
            token_type.as_ref().map(|t| t.expose().as_str()),
            token.as_ref().map(|t| t.expose().as_str()),
        );
        let nsp = self.config.namespace.clone();
        match verdict {
            Ok(user) => {
                if !already {
                    let session_id = self.ids.session_id();
                    if let Some(c) = self.conns.get_mut(&conn) {
                        c.member = Some(Member {
                            user: user.clone(),
                            session_id,
                            rooms: BTreeSet::new(),
                        });
                    }
                    self.push_event(EmulatorEvent::Joined {
                        conn: ConnId(conn),
                        user,
                    });
                }
                self.send_packet(conn, PacketKind::Connect, &nsp, None);
            }
            Err(rejection) => {
                self.stats.auth_failures += 1;
                let data = serde_json::to_string(&Unauthorized {
                    message: &rejection.message,
                    code: &rejection.code,
                    kind: "UnauthorizedError",
                })
                .unwrap_or_else(|_| "\"Authentication error\"".to_owned());
                self.send_packet(conn, PacketKind::Error, &nsp, Some(&data));
                self.push_event(EmulatorEvent::AuthFailed {
                    conn: ConnId(conn),
                    rejection,
                });
            }
        }
    }

    /// Takes `conn` out of the namespace (and its rooms, with `party.leaves`). `false` if it
    /// had not joined.
    fn leave_namespace(&mut self, conn: u64, by_server: bool) -> bool {
        let Some(member) = self.conns.get_mut(&conn).and_then(|c| c.member.take()) else {
            return false;
        };
        self.leave_rooms(conn, &member);
        self.push_event(EmulatorEvent::Left {
            conn: ConnId(conn),
            user: member.user,
            by_server,
        });
        true
    }

    /// Forgets `conn`; `send_close` queues the transport close.
    fn close(&mut self, conn: u64, reason: CloseReason, send_close: bool) {
        let Some(c) = self.conns.remove(&conn) else {
            return;
        };
        if let Some(member) = &c.member {
            self.leave_rooms(conn, member);
        }
        if send_close {
            self.outputs
                .push_back(ServerOutput::Close { conn: ConnId(conn) });
        }
        self.push_event(EmulatorEvent::Closed {
            conn: ConnId(conn),
            reason,
        });
    }

    fn push_event(&mut self, event: EmulatorEvent) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
            self.stats.events_dropped += 1;
        }
        self.events.push_back(event);
    }

    fn send_text(&mut self, conn: u64, text: String) {
        self.stats.frames_out += 1;
        self.outputs.push_back(ServerOutput::Text {
            conn: ConnId(conn),
            text,
        });
    }

    /// Queues `4` + a Socket.IO packet. With `namespace_comma` off, a packet with nothing after
    /// its namespace is written as socket.io-parser 2.3 does: without the trailing comma.
    fn send_packet(&mut self, conn: u64, kind: PacketKind, nsp: &str, data: Option<&str>) {
        let mut out = String::from("4");
        socket::encode_into(&mut out, kind, nsp, None, None, 0, data);
        if data.is_none() && !self.config.namespace_comma && out.ends_with(',') {
            out.pop();
        }
        self.send_text(conn, out);
    }
}

/// The attachment count of a binary packet header (`5<n>-…` / `6<n>-…`), if well-formed.
fn binary_attachment_count(text: &str) -> Option<usize> {
    let rest = text.strip_prefix(['5', '6'])?;
    let (digits, _) = rest.split_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits
        .parse::<usize>()
        .ok()
        .filter(|&n| n <= socket::MAX_ATTACHMENTS)
}
