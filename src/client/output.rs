//! What the client asks of its runtime (transmits) and tells its user (events).

use core::fmt;
use std::time::Duration;

use crate::client::{AckId, Endpoint};
use crate::socket::Args;

/// A websocket URL that may carry credentials in its query: `Debug` shows only the part
/// before `?` and the query keys.
#[derive(Clone, PartialEq, Eq)]
pub struct WsUrl {
    url: String,
    endpoint: Endpoint,
}

impl WsUrl {
    pub(crate) fn new(url: String, endpoint: Endpoint) -> Self {
        Self { url, endpoint }
    }

    /// The full URL, credentials included: pass it to the websocket library, never to a log.
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// Where to dial: host, port and whether TLS is needed, already parsed.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl fmt::Debug for WsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.url.split_once('?') {
            None => write!(f, "{:?}", self.url),
            Some((base, query)) => {
                write!(f, "\"{base}?")?;
                for (i, pair) in query.split('&').enumerate() {
                    let key = pair.split('=').next().unwrap_or("");
                    if i > 0 {
                        f.write_str("&")?;
                    }
                    match key {
                        "EIO" | "transport" => f.write_str(pair)?,
                        _ => write!(f, "{key}=<redacted>")?,
                    }
                }
                f.write_str("\"")
            }
        }
    }
}

/// Something the runtime must do on the client's behalf, in order.
///
/// `Debug` redacts credentials: the URL's query values and a CONNECT packet's query.
#[derive(Clone, PartialEq, Eq)]
pub enum Transmit {
    /// Open a websocket to this URL (dropping any previous one), then report the outcome with
    /// [`Client::handle_open`](crate::client::Client::handle_open) or
    /// [`Client::handle_open_failed`](crate::client::Client::handle_open_failed).
    Open(WsUrl),
    /// Send a text websocket message.
    Text(String),
    /// Send a binary websocket message.
    Binary(Vec<u8>),
    /// Close the current websocket (code 1000). Do not report its closing back.
    Close,
}

impl fmt::Debug for Transmit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open(url) => f.debug_tuple("Open").field(url).finish(),
            Self::Text(text) => {
                // `40/nsp?query,`: the query carries the token.
                let redacted = match (text.starts_with("40/"), text.split_once('?')) {
                    (true, Some((head, rest))) => {
                        let tail = rest.split_once(',').map_or("", |(_, t)| t);
                        format!("{head}?<redacted>,{tail}")
                    }
                    _ => crate::redact::redact_frame(text),
                };
                f.debug_tuple("Text").field(&redacted).finish()
            }
            Self::Binary(data) => f.debug_tuple("Binary").field(data).finish(),
            Self::Close => f.write_str("Close"),
        }
    }
}

/// Why a namespace or the connection was disconnected, with the socket.io-client 2.0.4 name
/// available from [`DisconnectReason::as_str`] for logs.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The server sent DISCONNECT for the namespace (`io server disconnect`). The namespace is
    /// not rejoined automatically: call [`Client::join`](crate::client::Client::join) again.
    ServerDisconnect,
    /// The user left or closed (`io client disconnect`).
    ClientDisconnect,
    /// The websocket was closed by the peer or the network (`transport close`).
    TransportClose,
    /// No packet from the server in time (`ping timeout`).
    PingTimeout,
    /// The websocket failed, or a frame could not be decoded (`transport error`).
    TransportError(String),
}

impl DisconnectReason {
    /// The reason string socket.io-client 2.0.4 would report.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::ServerDisconnect => "io server disconnect",
            Self::ClientDisconnect => "io client disconnect",
            Self::TransportClose => "transport close",
            Self::PingTimeout => "ping timeout",
            Self::TransportError(_) => "transport error",
        }
    }

    /// True when the client will reconnect by itself after this (subject to `reconnection`).
    pub fn reconnects(&self) -> bool {
        matches!(
            self,
            Self::TransportClose | Self::PingTimeout | Self::TransportError(_)
        )
    }
}

/// Why an attempt to open a connection failed (`connect_error` in socket.io-client).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectFailure {
    /// No Engine.IO open packet within the connect timeout.
    Timeout,
    /// The websocket could not be opened, or closed before the open packet.
    Transport(String),
    /// The open packet was malformed.
    BadHandshake(String),
    /// The query (credentials) for this attempt could not be produced.
    Credentials(String),
    /// The session opened but the namespace never answered its CONNECT in time (the Spaces
    /// layer's `join_timeout`); the connection was dropped and the next attempt scheduled.
    NamespaceTimeout,
}

/// A protocol violation by the server: the offending packet was skipped (or, for an
/// undecodable Engine.IO frame, the connection was dropped and will be re-established).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolViolation {
    /// An Engine.IO frame could not be decoded.
    #[error("bad engine.io frame: {0}")]
    Engine(#[from] crate::engine::DecodeError),
    /// A Socket.IO packet could not be decoded.
    #[error("bad socket.io packet: {0}")]
    Socket(#[from] crate::socket::DecodeError),
    /// A packet arrived before the open packet, or a second open packet arrived.
    #[error("packet out of order: {0}")]
    OutOfOrder(&'static str),
    /// A binary attachment arrived with no binary packet waiting for it.
    #[error("binary frame with no binary packet pending")]
    UnexpectedAttachment,
    /// A text packet arrived while a binary packet still waited for attachments; the partial
    /// packet was discarded.
    #[error("binary packet interrupted before all attachments arrived")]
    IncompleteBinaryPacket,
    /// The server sent an ack for an id it never received, or acked twice.
    #[error("ack for unknown id {0}")]
    UnknownAck(u64),
    /// A binary packet announced more attachments than
    /// [`Config::max_attachments`](crate::client::Config::max_attachments); it was dropped and
    /// its attachments are discarded as they arrive.
    #[error("binary packet announces {announced} attachments (limit {limit})")]
    TooManyAttachments {
        /// The count the packet announced.
        announced: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A binary packet grew past
    /// [`Config::max_binary_packet_bytes`](crate::client::Config::max_binary_packet_bytes); the
    /// partial packet was dropped and its remaining attachments are discarded as they arrive.
    #[error("binary packet larger than {limit} bytes")]
    BinaryPacketTooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// An event arrived before its namespace's CONNECT answer while the namespace's receive
    /// buffer was full ([`Config::max_buffered`](crate::client::Config::max_buffered) events or
    /// [`Config::max_receive_buffer_bytes`](crate::client::Config::max_receive_buffer_bytes));
    /// it was dropped.
    #[error("receive buffer of namespace {nsp:?} is full; event dropped")]
    ReceiveBufferFull {
        /// The namespace.
        nsp: String,
    },
}

/// Something that happened, for the user. Drain with
/// [`Client::poll_event`](crate::client::Client::poll_event).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// [`Config::fresh_query_per_connection`](crate::client::Config::fresh_query_per_connection)
    /// is set and a connection is about to open: answer with
    /// [`Client::set_query`](crate::client::Client::set_query) (or
    /// [`Client::query_failed`](crate::client::Client::query_failed)).
    QueryNeeded {
        /// 0 for the first connection, then the reconnection attempt number.
        attempt: u32,
    },
    /// The Engine.IO session is open (a fresh session id each time).
    Opened {
        /// The ping interval in use: the server's, clamped to
        /// [`Config::ping_interval_bounds`](crate::client::Config::ping_interval_bounds).
        ping_interval: Duration,
        /// The ping timeout in use: the server's, clamped to
        /// [`Config::ping_timeout_bounds`](crate::client::Config::ping_timeout_bounds).
        ping_timeout: Duration,
    },
    /// A namespace is connected (the server's `40…`). Buffered emits follow on the wire.
    Connected {
        /// The namespace.
        nsp: String,
    },
    /// The server refused a namespace (`44/nsp,<data>`), for example an authentication
    /// failure. The namespace retries on the next reconnection only.
    NamespaceError {
        /// The namespace.
        nsp: String,
        /// The error payload as JSON text (a string or an object).
        data: String,
    },
    /// An event from the server.
    Message {
        /// The namespace.
        nsp: String,
        /// The event name.
        name: String,
        /// The arguments after the name, parsed lazily.
        args: Args,
        /// Binary attachments referenced by `{"_placeholder":true,"num":N}` in `args`.
        attachments: Vec<Vec<u8>>,
        /// Set when the server wants an answer: call
        /// [`Client::ack`](crate::client::Client::ack) with it.
        ack: Option<AckId>,
    },
    /// The server answered one of our emits.
    AckReceived {
        /// The namespace.
        nsp: String,
        /// The id [`Client::emit_with_ack`](crate::client::Client::emit_with_ack) returned.
        id: AckId,
        /// The answer's arguments.
        args: Args,
        /// Binary attachments of the answer.
        attachments: Vec<Vec<u8>>,
    },
    /// No answer within [`Config::ack_timeout`](crate::client::Config::ack_timeout).
    AckTimedOut {
        /// The namespace.
        nsp: String,
        /// The ack id.
        id: AckId,
    },
    /// The emit was sent but its connection ended first, so its answer can never come
    /// (socket.io-client 2.0.4 would wait forever).
    AckLost {
        /// The namespace.
        nsp: String,
        /// The ack id.
        id: AckId,
    },
    /// A namespace is disconnected.
    Disconnected {
        /// The namespace.
        nsp: String,
        /// Why.
        reason: DisconnectReason,
    },
    /// Emits buffered for a namespace were discarded because the user closed or left it.
    BufferDiscarded {
        /// The namespace.
        nsp: String,
        /// How many packets were never sent.
        packets: usize,
    },
    /// An attempt to open the connection failed (`connect_error`).
    ConnectFailed {
        /// Why.
        failure: ConnectFailure,
    },
    /// A reconnection is scheduled after `delay` (`reconnecting`).
    ReconnectScheduled {
        /// The attempt number, from 1.
        attempt: u32,
        /// How long until it starts.
        delay: Duration,
    },
    /// A reconnection attempt starts now (`reconnect_attempt`).
    ReconnectAttempt {
        /// The attempt number, from 1.
        attempt: u32,
    },
    /// The connection was re-established (`reconnect`); namespaces reconnect next.
    Reconnected {
        /// The attempt that succeeded.
        attempt: u32,
    },
    /// Reconnection attempts are exhausted (`reconnect_failed`); the client is closed.
    ReconnectFailed,
    /// The client is closed for good (by the user, a server DISCONNECT of the last namespace,
    /// or exhausted attempts) until [`Client::connect`](crate::client::Client::connect).
    Closed,
    /// A ping was sent.
    Ping,
    /// The server answered a ping.
    Pong {
        /// Time since the ping.
        latency: Duration,
    },
    /// The server broke the protocol; see [`ProtocolViolation`].
    ProtocolViolation(ProtocolViolation),
}
