//! Engine.IO protocol 3 packets over websocket.
//!
//! One websocket frame carries one Engine.IO packet; there is no length prefix and no payload
//! framing (that is polling only). Text frames are `<type digit>[<data>]`; binary frames are one
//! type byte (`0x04` for a message) followed by the raw bytes; a text frame `b<type digit><base64>`
//! is the base64 fallback for binary data (servers send it to clients that asked for `b64=1`).
//!
//! Decoding borrows from the frame: only a base64 frame allocates (for its decoded bytes).
//! A decoded [`Packet::Message`] carries a Socket.IO packet: hand its text to
//! [`crate::socket::decode`]. The open packet's JSON goes to [`Handshake::parse`].

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::redact::Secret;

/// The seven Engine.IO packet types, with their wire digit as discriminant.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// `0`: the handshake, sent once by the server right after the websocket opens.
    Open = 0,
    /// `1`: close. Never sent over websocket by engine.io 3.1.x (polling only).
    Close = 1,
    /// `2`: ping. In protocol 3 the **client** pings and the server answers.
    Ping = 2,
    /// `3`: pong, the server's answer to a ping.
    Pong = 3,
    /// `4`: a message: a Socket.IO packet (text) or a binary attachment.
    Message = 4,
    /// `5`: upgrade (polling to websocket only; irrelevant to a websocket-only client).
    Upgrade = 5,
    /// `6`: noop (polling only); a client ignores it, but it still proves the peer is alive.
    Noop = 6,
}

impl PacketKind {
    /// The kind whose wire digit is the ASCII byte `digit` (`b'0'`..=`b'6'`), if any.
    pub const fn from_ascii_digit(digit: u8) -> Option<Self> {
        Some(match digit {
            b'0' => Self::Open,
            b'1' => Self::Close,
            b'2' => Self::Ping,
            b'3' => Self::Pong,
            b'4' => Self::Message,
            b'5' => Self::Upgrade,
            b'6' => Self::Noop,
            _ => return None,
        })
    }

    /// The wire digit of this kind (`'0'`..=`'6'`).
    pub const fn ascii_digit(self) -> char {
        (b'0' + self as u8) as char
    }
}

/// One decoded Engine.IO packet, borrowing from the frame it came from.
///
/// `Debug` redacts the handshake JSON (it holds the session id) and the query of a Socket.IO
/// CONNECT carried in a message (it usually holds a token).
#[derive(Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// The handshake: the raw JSON text after the `0`. Parse it with [`Handshake::parse`].
    Open(&'a str),
    /// Close (any data after the digit is ignored, as engine.io does).
    Close,
    /// Ping with its (possibly empty) data.
    Ping(&'a str),
    /// Pong with its (possibly empty) data; engine.io 3.1.x always sends a bare `3`.
    Pong(&'a str),
    /// A text message: one Socket.IO packet, to decode with [`crate::socket::decode`].
    Message(&'a str),
    /// A binary message: a `0x04`-prefixed binary frame (borrowed), or a `b4<base64>` text frame
    /// (owned, decoded). It is an attachment of a pending Socket.IO binary packet.
    BinaryMessage(Cow<'a, [u8]>),
    /// Upgrade (any data after the digit is ignored).
    Upgrade,
    /// Noop (any data after the digit is ignored).
    Noop,
}

impl Packet<'_> {
    /// The packet's type. A [`Packet::BinaryMessage`] is a [`PacketKind::Message`].
    pub fn kind(&self) -> PacketKind {
        match self {
            Self::Open(_) => PacketKind::Open,
            Self::Close => PacketKind::Close,
            Self::Ping(_) => PacketKind::Ping,
            Self::Pong(_) => PacketKind::Pong,
            Self::Message(_) | Self::BinaryMessage(_) => PacketKind::Message,
            Self::Upgrade => PacketKind::Upgrade,
            Self::Noop => PacketKind::Noop,
        }
    }
}

impl fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The handshake carries the session id.
            Self::Open(_) => f.write_str("Open(<redacted>)"),
            Self::Close => f.write_str("Close"),
            Self::Ping(data) => f.debug_tuple("Ping").field(data).finish(),
            Self::Pong(data) => f.debug_tuple("Pong").field(data).finish(),
            Self::Message(text) => match connect_query_start(text) {
                // A Socket.IO CONNECT `0/nsp?query,`: the query usually holds a token.
                Some(q) => write!(f, "Message({:?}<redacted>)", text.get(..q).unwrap_or("")),
                None => f.debug_tuple("Message").field(text).finish(),
            },
            Self::BinaryMessage(data) => write!(f, "BinaryMessage({} bytes)", data.len()),
            Self::Upgrade => f.write_str("Upgrade"),
            Self::Noop => f.write_str("Noop"),
        }
    }
}

/// Byte offset just past the `?` of a Socket.IO CONNECT packet's query, if `text` is one.
fn connect_query_start(text: &str) -> Option<usize> {
    let nsp_part = text.strip_prefix("0/")?;
    let end = nsp_part.find(',').unwrap_or(nsp_part.len());
    nsp_part.get(..end)?.find('?').map(|q| q + 3)
}

/// Why a frame or a handshake could not be decoded.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The frame was empty (engine.io-parser reports a parser error).
    #[error("empty engine.io frame")]
    Empty,
    /// A text frame whose first character is neither a packet type digit `0`-`6` nor `b`.
    /// engine.io-client treats this as a transport error.
    #[error("unknown engine.io packet type {0:?}")]
    UnknownPacketType(char),
    /// A text frame that is just `b`, with no packet type after it.
    #[error("base64 engine.io frame without a packet type")]
    MissingBase64Type,
    /// A `b<type><base64>` frame whose type is unknown, or one that carries text (open, or
    /// ping/pong with data) and so makes no sense in base64. engine.io-client ignores these.
    #[error("unexpected base64 engine.io packet type {0:?}")]
    UnexpectedBase64Type(char),
    /// The body of a `b<type>` frame is not valid standard base64.
    #[error("invalid base64 in engine.io frame")]
    BadBase64,
    /// A binary frame whose type byte is not `0x04` (message). engine.io-client ignores these.
    #[error("unexpected engine.io binary packet type byte {0:#04x}")]
    UnexpectedBinaryType(u8),
    /// The open packet's JSON is not a valid handshake. The message names the problem but never
    /// quotes a value (the JSON holds the session id).
    #[error("invalid engine.io handshake: {0}")]
    BadHandshake(String),
}

/// Decodes one websocket **text** frame.
///
/// `b<digit><base64>` frames are decoded here too: `b4` gives a [`Packet::BinaryMessage`];
/// `b1`, `b5`, `b6` give close, upgrade and noop; `b2`/`b3` with no data give an empty ping or
/// pong; anything else is [`DecodeError::UnexpectedBase64Type`].
///
/// Never allocates except for the decoded bytes of a base64 frame.
pub fn decode_text(frame: &str) -> Result<Packet<'_>, DecodeError> {
    let Some(&first) = frame.as_bytes().first() else {
        return Err(DecodeError::Empty);
    };
    if first == b'b' {
        return decode_base64_frame(frame);
    }
    let Some(kind) = PacketKind::from_ascii_digit(first) else {
        let c = frame.chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
        return Err(DecodeError::UnknownPacketType(c));
    };
    // The first byte is an ASCII digit, so index 1 is a char boundary.
    let data = frame.get(1..).unwrap_or("");
    Ok(match kind {
        PacketKind::Open => Packet::Open(data),
        PacketKind::Close => Packet::Close,
        PacketKind::Ping => Packet::Ping(data),
        PacketKind::Pong => Packet::Pong(data),
        PacketKind::Message => Packet::Message(data),
        PacketKind::Upgrade => Packet::Upgrade,
        PacketKind::Noop => Packet::Noop,
    })
}

/// Node's `Buffer.from(s, 'base64')` accepts missing padding; so do we.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn decode_base64_frame(frame: &str) -> Result<Packet<'_>, DecodeError> {
    // `frame` starts with the ASCII `b`.
    let rest = frame.get(1..).unwrap_or("");
    let Some(type_char) = rest.chars().next() else {
        return Err(DecodeError::MissingBase64Type);
    };
    let Some(kind) = u8::try_from(type_char)
        .ok()
        .and_then(PacketKind::from_ascii_digit)
    else {
        return Err(DecodeError::UnexpectedBase64Type(type_char));
    };
    let body = rest.get(1..).unwrap_or("");
    let data = BASE64_LENIENT
        .decode(body)
        .map_err(|_| DecodeError::BadBase64)?;
    match kind {
        PacketKind::Message => Ok(Packet::BinaryMessage(Cow::Owned(data))),
        PacketKind::Close => Ok(Packet::Close),
        PacketKind::Upgrade => Ok(Packet::Upgrade),
        PacketKind::Noop => Ok(Packet::Noop),
        PacketKind::Ping if data.is_empty() => Ok(Packet::Ping("")),
        PacketKind::Pong if data.is_empty() => Ok(Packet::Pong("")),
        PacketKind::Open | PacketKind::Ping | PacketKind::Pong => {
            Err(DecodeError::UnexpectedBase64Type(type_char))
        }
    }
}

/// Decodes one websocket **binary** frame: byte 0 is the packet type, the rest is the data.
///
/// Only `0x04` (message) is meaningful: it gives a borrowed [`Packet::BinaryMessage`]. Any other
/// type byte is [`DecodeError::UnexpectedBinaryType`], which a client should ignore (as
/// engine.io-client does) rather than treat as fatal.
pub fn decode_binary(frame: &[u8]) -> Result<Packet<'_>, DecodeError> {
    match frame.split_first() {
        None => Err(DecodeError::Empty),
        Some((&4, data)) => Ok(Packet::BinaryMessage(Cow::Borrowed(data))),
        Some((&other, _)) => Err(DecodeError::UnexpectedBinaryType(other)),
    }
}

/// Encodes a text packet: `<digit><data>`. For a message, `data` is an encoded Socket.IO packet.
///
/// To avoid the intermediate string when sending a Socket.IO packet, push `'4'` to a buffer and
/// call [`crate::socket::encode_into`].
pub fn encode_text(kind: PacketKind, data: &str) -> String {
    let mut out = String::with_capacity(1 + data.len());
    encode_text_into(&mut out, kind, data);
    out
}

/// Appends the text packet `<digit><data>` to `out` (see [`encode_text`]).
pub fn encode_text_into(out: &mut String, kind: PacketKind, data: &str) {
    out.push(kind.ascii_digit());
    out.push_str(data);
}

/// Encodes a binary message frame: `0x04` followed by `data` (send it as a websocket binary
/// frame).
pub fn encode_binary_message(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + data.len());
    out.push(PacketKind::Message as u8);
    out.extend_from_slice(data);
    out
}

/// Encodes a binary message as the text frame `b4<standard base64>`, for peers that cannot
/// take binary frames (a server answering a `b64=1` client).
pub fn encode_base64_message(data: &[u8]) -> String {
    let mut out = String::with_capacity(2 + data.len().div_ceil(3) * 4);
    out.push_str("b4");
    STANDARD.encode_string(data, &mut out);
    out
}

/// Largest timer value accepted in a handshake, in milliseconds: JavaScript timers cannot hold
/// more (`setTimeout` fires at once past 2^31-1 ms), and it keeps `Instant` arithmetic far from
/// overflow.
pub const MAX_HANDSHAKE_TIMER_MS: u64 = i32::MAX as u64;

/// The server's open packet: session id, allowed upgrades, heartbeat timers.
///
/// Obtain it with [`Handshake::parse`] on the data of a [`Packet::Open`]; then schedule the first
/// ping `ping_interval` from now (in protocol 3 the client pings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// The engine session id (redacted in `Debug`).
    pub sid: Secret<String>,
    /// Transports the server would upgrade to; `[]` on a direct websocket connection.
    pub upgrades: Vec<String>,
    /// How long after a pong (or the handshake) the client sends its next ping.
    pub ping_interval: Duration,
    /// How long the client waits for a pong after a ping before giving up.
    pub ping_timeout: Duration,
}

/// The handshake keys, kept raw so that errors can be reported without quoting values.
#[derive(Deserialize)]
struct RawHandshake<'a> {
    #[serde(borrow, default)]
    sid: Option<&'a RawValue>,
    #[serde(borrow, default)]
    upgrades: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "pingInterval")]
    ping_interval: Option<&'a RawValue>,
    #[serde(borrow, default, rename = "pingTimeout")]
    ping_timeout: Option<&'a RawValue>,
}

impl Handshake {
    /// Parses the open packet's JSON. Keys `sid` (string), `upgrades` (array of strings),
    /// `pingInterval` and `pingTimeout` (milliseconds, integers in
    /// `0..=`[`MAX_HANDSHAKE_TIMER_MS`]) are required; unknown keys are ignored.
    pub fn parse(json: &str) -> Result<Self, DecodeError> {
        let raw: RawHandshake<'_> = serde_json::from_str(json).map_err(|e| {
            // Syntax errors never quote the input; type errors might, so they get our words.
            let why = if e.is_syntax() || e.is_eof() {
                format!("invalid JSON at line {} column {}", e.line(), e.column())
            } else {
                "not a JSON object, or a duplicate key".to_owned()
            };
            DecodeError::BadHandshake(why)
        })?;
        let sid: String = field(raw.sid, "sid", "a string")?;
        let upgrades: Vec<String> = field(raw.upgrades, "upgrades", "an array of strings")?;
        let ping_interval = timer(raw.ping_interval, "pingInterval")?;
        let ping_timeout = timer(raw.ping_timeout, "pingTimeout")?;
        Ok(Self {
            sid: Secret::new(sid),
            upgrades,
            ping_interval,
            ping_timeout,
        })
    }

    /// The handshake JSON exactly as engine.io 3.1.x writes it (key order `sid`, `upgrades`,
    /// `pingInterval`, `pingTimeout`; no spaces). Prefix it with `0` ([`encode_text`]) to send it.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(80 + self.sid.expose().len());
        out.push_str("{\"sid\":");
        push_json_string(&mut out, self.sid.expose());
        out.push_str(",\"upgrades\":[");
        for (i, upgrade) in self.upgrades.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_json_string(&mut out, upgrade);
        }
        out.push_str("],\"pingInterval\":");
        out.push_str(&self.ping_interval.as_millis().to_string());
        out.push_str(",\"pingTimeout\":");
        out.push_str(&self.ping_timeout.as_millis().to_string());
        out.push('}');
        out
    }
}

fn push_json_string(out: &mut String, s: &str) {
    // Serializing a &str to JSON cannot fail; fall back to an empty string just in case.
    match serde_json::to_string(s) {
        Ok(json) => out.push_str(&json),
        Err(_) => out.push_str("\"\""),
    }
}

fn field<T: serde::de::DeserializeOwned>(
    raw: Option<&RawValue>,
    name: &str,
    expected: &str,
) -> Result<T, DecodeError> {
    let raw = raw.ok_or_else(|| DecodeError::BadHandshake(format!("missing or null `{name}`")))?;
    serde_json::from_str(raw.get())
        .map_err(|_| DecodeError::BadHandshake(format!("`{name}` is not {expected}")))
}

fn timer(raw: Option<&RawValue>, name: &str) -> Result<Duration, DecodeError> {
    let ms: u64 = field(raw, name, "a non-negative integer")?;
    if ms > MAX_HANDSHAKE_TIMER_MS {
        return Err(DecodeError::BadHandshake(format!(
            "`{name}` is above {MAX_HANDSHAKE_TIMER_MS} ms"
        )));
    }
    Ok(Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_handshake_and_connect_query() {
        let open = decode_text(r#"0{"sid":"SECRETSID"}"#).unwrap();
        assert!(!format!("{open:?}").contains("SECRETSID"));
        let connect = decode_text("40/chat?token=SECRET,").unwrap();
        let shown = format!("{connect:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("0/chat?"), "{shown}");
        let event = decode_text(r#"42/chat,["ev","x?y"]"#).unwrap();
        assert!(format!("{event:?}").contains("x?y"));
    }

    #[test]
    fn connect_query_start_only_in_the_namespace_part() {
        assert_eq!(connect_query_start("0/chat?t=1,"), Some(7));
        assert_eq!(connect_query_start("0/chat,"), None);
        assert_eq!(connect_query_start("0/chat,{\"a\":\"?\"}"), None);
        assert_eq!(connect_query_start("2/chat?x,"), None);
    }
}
