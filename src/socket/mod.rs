//! Socket.IO protocol revision 4 packets (socket.io-parser 3.1.x), as carried in Engine.IO
//! messages.
//!
//! Wire grammar: `<type digit>[<attachments>"-"][<nsp>","][<ack id digits>][<JSON>]`.
//!
//! * [`decode`] parses the text of an Engine.IO message ([`crate::engine::Packet::Message`]). It
//!   borrows from the text; an array payload is validated and split in one pass into raw JSON
//!   elements, which stay unparsed until someone asks ([`Args`], [`Packet::event_name`]).
//! * [`encode`] / [`encode_into`] write a packet byte-exact as socket.io-parser 3.1.x does.
//! * Binary packets ([`PacketKind::BinaryEvent`], [`PacketKind::BinaryAck`]) announce how many
//!   attachments follow as Engine.IO binary messages; their JSON holds
//!   [`placeholder`] objects checked by [`check_placeholders`].

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// The seven Socket.IO packet types, with their wire digit as discriminant.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// `0`: connect to a namespace (client), or the server's acceptance.
    Connect = 0,
    /// `1`: leave a namespace (either side).
    Disconnect = 1,
    /// `2`: an event `[name, ...args]`, with an ack id if the sender wants an answer.
    Event = 2,
    /// `3`: the answer `[...args]` to an event that carried an ack id.
    Ack = 3,
    /// `4`: an error, e.g. a namespace refused by middleware (any JSON value).
    Error = 4,
    /// `5`: an event whose binary arguments follow as attachments.
    BinaryEvent = 5,
    /// `6`: an ack whose binary arguments follow as attachments.
    BinaryAck = 6,
}

impl PacketKind {
    /// The kind whose wire digit is the ASCII byte `digit` (`b'0'`..=`b'6'`), if any.
    pub const fn from_ascii_digit(digit: u8) -> Option<Self> {
        Some(match digit {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::Error,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }

    /// The wire digit of this kind (`'0'`..=`'6'`).
    pub const fn ascii_digit(self) -> char {
        (b'0' + self as u8) as char
    }

    /// Whether this kind carries an attachment count (`<n>-`) and binary attachments.
    pub const fn is_binary(self) -> bool {
        matches!(self, Self::BinaryEvent | Self::BinaryAck)
    }
}

/// The JSON data of a packet, as raw text borrowed from the frame.
#[derive(Debug, Clone)]
pub enum Payload<'a> {
    /// No data (CONNECT, DISCONNECT, sometimes ERROR).
    None,
    /// The elements of a JSON array: always the case for EVENT, ACK and their binary forms.
    Array(Vec<&'a RawValue>),
    /// Any other JSON value: ERROR data, or the (tolerated) data of a CONNECT/DISCONNECT.
    Value(&'a RawValue),
}

/// Two payloads are equal when their raw JSON texts are equal, element by element.
impl PartialEq for Payload<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::None, Self::None) => true,
            (Self::Array(a), Self::Array(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.get() == y.get())
            }
            (Self::Value(a), Self::Value(b)) => a.get() == b.get(),
            _ => false,
        }
    }
}

impl Eq for Payload<'_> {}

/// One decoded Socket.IO packet, borrowing from the text it came from.
///
/// `Debug` redacts the CONNECT query (it usually holds a token).
#[derive(Clone, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The packet type.
    pub kind: PacketKind,
    /// The namespace, `"/"` when absent on the wire.
    pub nsp: &'a str,
    /// CONNECT only: the text after `?` in the namespace (`40/chat?token=x,` gives nsp `/chat`,
    /// query `token=x`). Always `None` for other kinds.
    pub query: Option<&'a str>,
    /// The ack id: on an EVENT, the sender wants an ACK with this id; on an ACK, the id answered.
    pub id: Option<u64>,
    /// How many binary attachments follow (BINARY_EVENT / BINARY_ACK only, else 0).
    pub attachments: usize,
    /// The JSON data.
    pub payload: Payload<'a>,
}

impl fmt::Debug for Packet<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("kind", &self.kind)
            .field("nsp", &self.nsp)
            .field("query", &self.query.map(|_| "<redacted>"))
            .field("id", &self.id)
            .field("attachments", &self.attachments)
            .field("payload", &self.payload)
            .finish()
    }
}

impl<'a> Packet<'a> {
    /// The event name of an EVENT or BINARY_EVENT: its first array element, unescaped.
    /// Borrows from the frame unless the name contains escapes. `None` for other kinds.
    ///
    /// For a packet returned by [`decode`] this is always `Some` on (binary) events: decode
    /// rejects events without a valid string name.
    pub fn event_name(&self) -> Option<Cow<'a, str>> {
        if !matches!(self.kind, PacketKind::Event | PacketKind::BinaryEvent) {
            return None;
        }
        let Payload::Array(elements) = &self.payload else {
            return None;
        };
        let first: &'a RawValue = elements.first()?;
        json_string(first.get())
    }

    /// The array elements (event name first for events), or an empty slice for other payloads.
    pub fn elements(&self) -> &[&'a RawValue] {
        match &self.payload {
            Payload::Array(elements) => elements,
            Payload::None | Payload::Value(_) => &[],
        }
    }

    /// Encodes this packet back to wire text (see [`encode_into`]). An array payload is written
    /// as `[a,b,…]` from its raw elements, so insignificant whitespace between them is dropped.
    pub fn encode(&self) -> String {
        let mut data = String::new();
        let data = match &self.payload {
            Payload::None => None,
            Payload::Value(value) => Some(value.get()),
            Payload::Array(elements) => {
                push_array(&mut data, elements.iter().map(|e| e.get()));
                Some(data.as_str())
            }
        };
        encode(
            self.kind,
            self.nsp,
            self.query,
            self.id,
            self.attachments,
            data,
        )
    }
}

/// Decodes a JSON string literal, borrowing when it has no escapes.
fn json_string(raw: &str) -> Option<Cow<'_, str>> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// Why a Socket.IO packet (or an argument list) could not be decoded.
#[non_exhaustive]
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The packet text is empty (an Engine.IO message `4` with nothing after it).
    #[error("empty socket.io packet")]
    Empty,
    /// The first character is not a packet type digit `0`-`6`.
    #[error("unknown socket.io packet type {0:?}")]
    UnknownPacketType(char),
    /// A BINARY_EVENT/BINARY_ACK without a valid `<count>-` after its type (socket.io-parser
    /// throws "Illegal attachments").
    #[error("illegal attachments")]
    IllegalAttachments,
    /// A binary packet announces more than `MAX_ATTACHMENTS` attachments.
    #[error("too many attachments (more than {MAX_ATTACHMENTS})")]
    TooManyAttachments,
    /// The ack id does not fit in a `u64`.
    #[error("ack id out of range")]
    BadAckId,
    /// The payload is not valid JSON, or has trailing garbage. The message comes from the JSON
    /// parser (position and expectation; it does not quote the input).
    #[error("invalid JSON payload: {0}")]
    BadJson(String),
    /// An EVENT, ACK or binary packet whose payload is valid JSON but not an array.
    #[error("payload is not a JSON array")]
    NotAnArray,
    /// An EVENT, ACK or binary packet with no payload at all.
    #[error("missing payload")]
    MissingPayload,
    /// An EVENT or BINARY_EVENT whose array is empty or does not start with a string.
    #[error("event without a name")]
    MissingEventName,
    /// An event name that is a JSON string but not valid Unicode (a lone surrogate escape).
    #[error("event name is not valid Unicode")]
    BadEventName,
    /// An object with `"_placeholder": true` whose `num` is missing or not a non-negative
    /// integer.
    #[error("placeholder without a valid num")]
    BadPlaceholder,
    /// A placeholder whose `num` is not below the packet's attachment count.
    #[error("placeholder num {num} out of range for {attachments} attachments")]
    PlaceholderOutOfRange {
        /// The placeholder's `num`.
        num: u64,
        /// The packet's attachment count.
        attachments: usize,
    },
    /// The JSON nests deeper than `MAX_DEPTH` arrays/objects.
    #[error("JSON nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// An EVENT/ACK array has more top-level elements than the decoder was allowed
    /// (`decode_bounded`); decoding stopped there.
    #[error("more than {limit} elements in the packet's array")]
    TooManyElements {
        /// The limit that was passed.
        limit: usize,
    },
}

/// The most attachments a binary packet may announce; more is [`DecodeError::TooManyAttachments`].
pub const MAX_ATTACHMENTS: usize = 1000;

/// The deepest nesting [`check_placeholders`] walks, counting the payload array as level 1.
/// Real payloads nest a handful of levels; this stays below serde_json's own recursion limit
/// (128 per element), so the typed [`DecodeError::TooDeep`] is what a caller sees.
pub const MAX_DEPTH: usize = 100;

/// Decodes the text of one Engine.IO message as a Socket.IO packet.
///
/// Rules (socket.io-parser 3.1.x, with the tightening noted):
/// * The namespace is present only if the character after the type (and attachment count) is
///   `/`; it runs up to `,` or the end, so `40/chat` and `40/chat,` both mean `/chat`.
///   For CONNECT, `?query` inside it goes to [`Packet::query`].
/// * The ack id is a run of ASCII digits (any kind may carry one, as in the JS parser);
///   overflowing `u64` is [`DecodeError::BadAckId`].
/// * EVENT, ACK, BINARY_EVENT, BINARY_ACK need a JSON array payload (as parser 3.1.3), and
///   events need a string name first. For binary packets the count `<n>-` is required and
///   capped at [`MAX_ATTACHMENTS`], and placeholders are checked with [`check_placeholders`].
/// * ERROR takes any JSON value, or none.
/// * CONNECT and DISCONNECT take no data in revision 4, but optional data is accepted as
///   [`Payload::Value`]: parser 3.1.2 accepts and ignores it, 3.1.3 drops the packet; keeping
///   the packet means a server that adds data does not break the namespace.
///
/// The payload must be valid JSON with nothing after it (whitespace aside). Never panics.
///
/// An array payload may have any number of elements; [`decode_bounded`] limits them.
pub fn decode(text: &str) -> Result<Packet<'_>, DecodeError> {
    decode_bounded(text, usize::MAX)
}

/// [`decode`], refusing an array payload of more than `max_elements` top-level elements with
/// [`DecodeError::TooManyElements`] as soon as the element after the limit is reached, so the
/// memory spent on a hostile frame of tiny elements (`[0,0,0,…]`, some 16 bytes of element
/// list per 2 bytes of frame) stays bounded by the limit, not by the frame. Elements nested
/// inside an element are not counted: they stay raw text.
pub fn decode_bounded(text: &str, max_elements: usize) -> Result<Packet<'_>, DecodeError> {
    let bytes = text.as_bytes();
    let Some(&first) = bytes.first() else {
        return Err(DecodeError::Empty);
    };
    let Some(kind) = PacketKind::from_ascii_digit(first) else {
        let c = text.chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
        return Err(DecodeError::UnknownPacketType(c));
    };
    // Every delimiter below is ASCII, so every `pos` is a char boundary of `text`.
    let mut pos = 1;

    let mut attachments = 0;
    if kind.is_binary() {
        let digits = ascii_digits(bytes, pos);
        if digits.is_empty() || bytes.get(pos + digits.len()) != Some(&b'-') {
            return Err(DecodeError::IllegalAttachments);
        }
        attachments = digits
            .iter()
            .try_fold(0usize, |n, &d| {
                n.checked_mul(10)?
                    .checked_add(usize::from(d - b'0'))
                    .filter(|&n| n <= MAX_ATTACHMENTS)
            })
            .ok_or(DecodeError::TooManyAttachments)?;
        pos += digits.len() + 1;
    }

    let mut nsp = "/";
    let mut query = None;
    if bytes.get(pos) == Some(&b'/') {
        let len = bytes
            .get(pos..)
            .and_then(|rest| rest.iter().position(|&b| b == b','))
            .unwrap_or(bytes.len() - pos);
        nsp = text.get(pos..pos + len).unwrap_or("/");
        pos = (pos + len + 1).min(bytes.len());
        if kind == PacketKind::Connect
            && let Some((path, q)) = nsp.split_once('?')
        {
            nsp = path;
            query = Some(q);
        }
    }

    let mut id = None;
    let digits = ascii_digits(bytes, pos);
    if !digits.is_empty() {
        let n = digits
            .iter()
            .try_fold(0u64, |n, &d| {
                n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            })
            .ok_or(DecodeError::BadAckId)?;
        id = Some(n);
        pos += digits.len();
    }

    let rest = text.get(pos..).unwrap_or("");
    let payload = match kind {
        PacketKind::Connect | PacketKind::Disconnect | PacketKind::Error => {
            if rest.is_empty() {
                Payload::None
            } else {
                Payload::Value(serde_json::from_str::<&RawValue>(rest).map_err(|e| bad_json(&e))?)
            }
        }
        PacketKind::Event | PacketKind::Ack | PacketKind::BinaryEvent | PacketKind::BinaryAck => {
            let elements = split_array(rest, max_elements)?;
            if matches!(kind, PacketKind::Event | PacketKind::BinaryEvent) {
                check_event_name(&elements)?;
            }
            if kind.is_binary() {
                check_placeholders(&elements, attachments)?;
            }
            Payload::Array(elements)
        }
    };

    Ok(Packet {
        kind,
        nsp,
        query,
        id,
        attachments,
        payload,
    })
}

/// The run of ASCII digits starting at `pos` (empty if none, or if `pos` is past the end).
fn ascii_digits(bytes: &[u8], pos: usize) -> &[u8] {
    let rest = bytes.get(pos..).unwrap_or_default();
    let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    rest.get(..len).unwrap_or_default()
}

fn bad_json(e: &serde_json::Error) -> DecodeError {
    DecodeError::BadJson(e.to_string())
}

/// Validates `json` as a JSON array and splits it into raw elements in one pass, refusing more
/// than `max_elements` elements.
fn split_array(json: &str, max_elements: usize) -> Result<Vec<&RawValue>, DecodeError> {
    if json.is_empty() {
        return Err(DecodeError::MissingPayload);
    }
    // JSON whitespace only; anything else before the `[` is an error either way.
    if !json
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .starts_with('[')
    {
        // Cold path: a second parse tells a valid non-array from bad JSON, and keeps type
        // errors (which would quote the value) out of the message.
        return Err(match serde_json::from_str::<&RawValue>(json) {
            Ok(_) => DecodeError::NotAnArray,
            Err(e) => bad_json(&e),
        });
    }
    let fault = Cell::new(None);
    let mut de = serde_json::Deserializer::from_str(json);
    let elements = Elements {
        max: max_elements,
        fault: &fault,
    };
    (&mut de)
        .deserialize_seq(elements)
        .and_then(|v| de.end().map(|()| v))
        .map_err(|e| fault.take().unwrap_or_else(|| bad_json(&e)))
}

/// Collects the raw elements of a JSON array, failing past `max` of them.
struct Elements<'c> {
    max: usize,
    fault: &'c Cell<Option<DecodeError>>,
}

impl<'de> Visitor<'de> for Elements<'_> {
    type Value = Vec<&'de RawValue>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        // Events carry a name and one or two arguments: room for them without regrowing.
        let mut out = Vec::with_capacity(self.max.min(4));
        while let Some(element) = seq.next_element::<&'de RawValue>()? {
            if out.len() == self.max {
                self.fault
                    .set(Some(DecodeError::TooManyElements { limit: self.max }));
                return Err(de::Error::custom("too many elements"));
            }
            out.push(element);
        }
        Ok(out)
    }
}

fn check_event_name(elements: &[&RawValue]) -> Result<(), DecodeError> {
    let name = elements.first().ok_or(DecodeError::MissingEventName)?.get();
    if !name.starts_with('"') {
        return Err(DecodeError::MissingEventName);
    }
    // Raw JSON accepts lone surrogate escapes; make sure `event_name` can decode the name.
    if name.contains('\\') && json_string(name).is_none() {
        return Err(DecodeError::BadEventName);
    }
    Ok(())
}

/// Encodes a packet byte-exact as socket.io-parser 3.1.x (see [`encode_into`]).
pub fn encode(
    kind: PacketKind,
    nsp: &str,
    query: Option<&str>,
    id: Option<u64>,
    attachments: usize,
    data: Option<&str>,
) -> String {
    let mut out = String::new();
    encode_into(&mut out, kind, nsp, query, id, attachments, data);
    out
}

/// Appends a packet to `out`, so that a buffer can be reused (or an Engine.IO `'4'` pushed first).
///
/// * `attachments` is written (`<n>-`) for binary kinds only, even when 0; ignored otherwise.
/// * `nsp` is omitted when it is `/` or empty; otherwise it is written followed by a comma,
///   always (`40/chat,`). It must start with `/` and contain no `,`.
/// * `query` is used for CONNECT only, appended to the nsp as `/chat?query` (also for the root
///   namespace: `0/?query,`). It must contain no `,`.
/// * `data` is already-serialized JSON, written verbatim after the ack id. It must not start
///   with a digit when nothing separates it from a namespace-less header (the JS parser has the
///   same ambiguity); arrays, objects and strings are always safe.
pub fn encode_into(
    out: &mut String,
    kind: PacketKind,
    nsp: &str,
    query: Option<&str>,
    id: Option<u64>,
    attachments: usize,
    data: Option<&str>,
) {
    let query = query.filter(|_| kind == PacketKind::Connect);
    out.reserve(
        1 + 21 + nsp.len() + query.map_or(0, |q| q.len() + 1) + 21 + data.map_or(0, str::len),
    );
    out.push(kind.ascii_digit());
    if kind.is_binary() {
        push_decimal(out, attachments as u64);
        out.push('-');
    }
    let nsp = if nsp.is_empty() { "/" } else { nsp };
    if nsp != "/" || query.is_some() {
        out.push_str(nsp);
        if let Some(query) = query {
            out.push('?');
            out.push_str(query);
        }
        out.push(',');
    }
    if let Some(id) = id {
        push_decimal(out, id);
    }
    if let Some(data) = data {
        out.push_str(data);
    }
}

fn push_decimal(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
}

fn push_array<'s>(out: &mut String, elements: impl Iterator<Item = &'s str>) {
    out.push('[');
    for (i, element) in elements.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(element);
    }
    out.push(']');
}

/// The placeholder object that stands for attachment `num` in a binary packet's JSON:
/// `{"_placeholder":true,"num":N}`.
pub fn placeholder(num: usize) -> String {
    let mut out = String::with_capacity(32);
    out.push_str("{\"_placeholder\":true,\"num\":");
    push_decimal(&mut out, num as u64);
    out.push('}');
    out
}

/// Checks every placeholder in a binary packet's payload: each object with
/// `"_placeholder": true` must have an integer `num` below `attachments`.
///
/// Walks the JSON depth-first without building a tree, to at most [`MAX_DEPTH`] levels
/// (the payload array counts as level 1). An object whose `_placeholder` is anything but `true`
/// is ordinary data (socket.io-parser 4.x's rule; 3.1.x took any truthy value). [`decode`]
/// already calls this for binary packets.
pub fn check_placeholders(payload: &[&RawValue], attachments: usize) -> Result<(), DecodeError> {
    let fault = Cell::new(None);
    for element in payload {
        let walk = Walk {
            depth: 2,
            attachments,
            fault: &fault,
        };
        let mut de = serde_json::Deserializer::from_str(element.get());
        if let Err(e) = walk.deserialize(&mut de) {
            return Err(fault.take().unwrap_or_else(|| bad_json(&e)));
        }
    }
    Ok(())
}

/// What the walker learnt about a value: only `true` and unsigned integers matter.
enum Shape {
    True,
    Unsigned(u64),
    Other,
}

/// A streaming, depth-bounded visit of one JSON value. Faults found are reported through
/// `fault` (serde errors cannot carry our typed error).
struct Walk<'c> {
    /// Nesting level of the value about to be visited if it is an array or object.
    depth: usize,
    attachments: usize,
    fault: &'c Cell<Option<DecodeError>>,
}

impl Walk<'_> {
    fn fail<E: de::Error>(&self, fault: DecodeError) -> E {
        self.fault.set(Some(fault));
        E::custom("placeholder check failed")
    }

    fn child(&self) -> Self {
        Walk {
            depth: self.depth + 1,
            attachments: self.attachments,
            fault: self.fault,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Shape;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Shape, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Shape, E> {
        Ok(if v { Shape::True } else { Shape::Other })
    }

    fn visit_u64<E>(self, v: u64) -> Result<Shape, E> {
        Ok(Shape::Unsigned(v))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        if self.depth > MAX_DEPTH {
            return Err(self.fail(DecodeError::TooDeep));
        }
        while seq.next_element_seed(self.child())?.is_some() {}
        Ok(Shape::Other)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        if self.depth > MAX_DEPTH {
            return Err(self.fail(DecodeError::TooDeep));
        }
        // Like JSON.parse, the last of duplicate keys wins.
        let mut is_placeholder = false;
        let mut num = None;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let value = map.next_value_seed(self.child())?;
            match key {
                Key::Placeholder => is_placeholder = matches!(value, Shape::True),
                Key::Num => num = Some(value),
                Key::Other => {}
            }
        }
        if is_placeholder {
            match num {
                Some(Shape::Unsigned(n)) if n < self.attachments as u64 => {}
                Some(Shape::Unsigned(n)) => {
                    return Err(self.fail(DecodeError::PlaceholderOutOfRange {
                        num: n,
                        attachments: self.attachments,
                    }));
                }
                _ => return Err(self.fail(DecodeError::BadPlaceholder)),
            }
        }
        Ok(Shape::Other)
    }
}

/// The object keys the placeholder check cares about.
enum Key {
    Placeholder,
    Num,
    Other,
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Key, E> {
        Ok(match key {
            "_placeholder" => Key::Placeholder,
            "num" => Key::Num,
            _ => Key::Other,
        })
    }
}

/// The arguments of an event or ack, owned, kept as raw JSON until asked for.
///
/// One allocation holds the text `[a,b,…]` (plus one for the element spans when there are
/// several). Build it from a decoded packet with [`Args::from_elements`]
/// (`Args::from_elements(packet.elements())`), then read elements with [`Args::get`] (raw JSON)
/// or [`Args::parse`] (typed).
#[derive(Clone, PartialEq, Eq)]
pub struct Args {
    /// A JSON array, rebuilt as `[` + elements joined by `,` + `]`.
    text: Box<str>,
    spans: Spans,
}

/// Where each element sits in [`Args::text`]. Always [`Spans::One`] for exactly one element, so
/// that derived equality stays equality of contents.
#[derive(Clone, PartialEq, Eq)]
enum Spans {
    /// Exactly one element: the text between the brackets. Spaces events carry one argument,
    /// and this saves an allocation on that hot path.
    One,
    /// Zero or several elements: byte range of each. `usize`, not `u32`, so no input length can
    /// overflow it.
    Many(Vec<(usize, usize)>),
}

impl Args {
    /// Copies raw elements into owned arguments.
    ///
    /// The text is rebuilt as `[a,b,…]` rather than copied from the frame by pointer offsets
    /// (which needs the enclosing slice): this is one exact-size allocation, works for elements
    /// from any source, and only drops insignificant whitespace between elements. Each element's
    /// text is kept byte for byte.
    pub fn from_elements(elements: &[&RawValue]) -> Self {
        let len = 2
            + elements.len().saturating_sub(1)
            + elements.iter().map(|e| e.get().len()).sum::<usize>();
        let mut text = String::with_capacity(len);
        let mut spans = Vec::with_capacity(if elements.len() == 1 {
            0
        } else {
            elements.len()
        });
        text.push('[');
        for (i, element) in elements.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let start = text.len();
            text.push_str(element.get());
            if elements.len() != 1 {
                spans.push((start, text.len()));
            }
        }
        text.push(']');
        Self {
            text: text.into_boxed_str(),
            spans: if elements.len() == 1 {
                Spans::One
            } else {
                Spans::Many(spans)
            },
        }
    }

    /// Validates `array_json` as a JSON array and splits it.
    /// Errors: [`DecodeError::BadJson`], [`DecodeError::NotAnArray`],
    /// [`DecodeError::MissingPayload`] (empty text).
    pub fn from_json(array_json: &str) -> Result<Self, DecodeError> {
        split_array(array_json, usize::MAX).map(|elements| Self::from_elements(&elements))
    }

    /// Number of arguments.
    pub fn len(&self) -> usize {
        match &self.spans {
            Spans::One => 1,
            Spans::Many(spans) => spans.len(),
        }
    }

    /// Whether there are no arguments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw JSON text of argument `i`, if it exists.
    pub fn get(&self, i: usize) -> Option<&str> {
        let (start, end) = match &self.spans {
            Spans::One if i == 0 => (1, self.text.len().saturating_sub(1)),
            Spans::One => return None,
            Spans::Many(spans) => *spans.get(i)?,
        };
        self.text.get(start..end)
    }

    /// Deserializes argument `i` (it may borrow from `self`, e.g. as `&str` when unescaped).
    /// A missing argument is a `serde_json` "custom" error naming the index.
    pub fn parse<'de, T: serde::Deserialize<'de>>(
        &'de self,
        i: usize,
    ) -> Result<T, serde_json::Error> {
        let raw = self
            .get(i)
            .ok_or_else(|| de::Error::custom(format_args!("no argument at index {i}")))?;
        serde_json::from_str(raw)
    }

    /// The raw JSON text of each argument, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + '_ {
        // Every index below `len` has a span, so the fallback is never used.
        (0..self.len()).map(|i| self.get(i).unwrap_or("null"))
    }

    /// The arguments as a JSON array text `[a,b,…]`, borrowed.
    pub fn as_json(&self) -> &str {
        &self.text
    }

    /// The arguments as a JSON array text `[a,b,…]`.
    pub fn to_json(&self) -> String {
        self.text.to_string()
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Event payloads may carry session ids or tokens (e.g. CHANNEL_SUBSCRIBED's sessionId).
        write!(f, "Args({})", crate::redact::redact_frame(&self.text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_walk_ignores_non_placeholder_objects() {
        let json = r#"[{"_placeholder":false,"num":99},{"_placeholder":1},{"a":{"_placeholder":true,"num":1}}]"#;
        let elements: Vec<&RawValue> = serde_json::from_str(json).unwrap();
        assert_eq!(check_placeholders(&elements, 2), Ok(()));
        assert_eq!(
            check_placeholders(&elements, 1),
            Err(DecodeError::PlaceholderOutOfRange {
                num: 1,
                attachments: 1
            })
        );
    }

    #[test]
    fn decode_bounded_stops_after_the_limit() {
        assert_eq!(
            decode_bounded(r#"2["e",1,2]"#, 3).map(|p| p.elements().len()),
            Ok(3)
        );
        assert_eq!(
            decode_bounded(r#"2["e",1,2,3]"#, 3).unwrap_err(),
            DecodeError::TooManyElements { limit: 3 }
        );
        // Bad JSON after the limit is still reported as too many elements (decoding stopped).
        assert!(matches!(
            decode_bounded(r#"2["e",1,2,3"#, 3),
            Err(DecodeError::TooManyElements { .. })
        ));
        assert!(matches!(
            decode_bounded(r#"2["e",1] x"#, 3),
            Err(DecodeError::BadJson(_))
        ));
        assert!(matches!(
            decode_bounded(r#"2["e",1"#, 3),
            Err(DecodeError::BadJson(_))
        ));
    }

    #[test]
    fn push_decimal_writes_extremes() {
        let mut s = String::new();
        push_decimal(&mut s, 0);
        s.push(' ');
        push_decimal(&mut s, u64::MAX);
        assert_eq!(s, "0 18446744073709551615");
    }
}
