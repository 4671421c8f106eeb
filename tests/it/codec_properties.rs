//! Properties of both codecs: whatever we encode decodes back to the same packet, and no input
//! at all (arbitrary bytes, arbitrary strings, protocol-shaped strings) makes a decoder panic.

use std::borrow::Cow;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::Value;
use serde_json::value::RawValue;
use spaces_socket::engine::{self, Handshake, MAX_HANDSHAKE_TIMER_MS};
use spaces_socket::socket::{
    self, Args, DecodeError, MAX_ATTACHMENTS, PacketKind, Payload, check_placeholders, placeholder,
};

/// Arbitrary JSON. Object keys are lowercase letters, so no generated object is a placeholder
/// by accident; placeholders are added on purpose where wanted.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN or infinity", |f| f.is_finite())
            .prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn socket_kind() -> impl Strategy<Value = PacketKind> {
    prop_oneof![
        Just(PacketKind::Connect),
        Just(PacketKind::Disconnect),
        Just(PacketKind::Event),
        Just(PacketKind::Ack),
        Just(PacketKind::Error),
        Just(PacketKind::BinaryEvent),
        Just(PacketKind::BinaryAck),
    ]
}

/// A packet as a sender describes it, with its data as a JSON value.
#[derive(Debug, Clone)]
struct Spec {
    kind: PacketKind,
    nsp: String,
    query: Option<String>,
    id: Option<u64>,
    attachments: usize,
    data: Option<Value>,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        socket_kind(),
        prop_oneof![Just("/".to_owned()), "/[^,?]{0,12}"],
        proptest::option::of("[^,]{0,16}"),
        proptest::option::of(any::<u64>()),
        0..=MAX_ATTACHMENTS,
        ".*",
        prop::collection::vec(json(), 0..5),
        proptest::option::of(json()),
        proptest::option::of(".*"),
    )
        .prop_map(
            |(kind, nsp, query, id, attachments, name, args, value, error)| {
                let attachments = if kind.is_binary() { attachments } else { 0 };
                let query = query.filter(|_| kind == PacketKind::Connect);
                // Placeholders for (some of) the attachments, as a sender would write them.
                let placeholders = (0..attachments.min(3))
                    .map(|n| serde_json::from_str(&placeholder(n)).expect("placeholder is JSON"));
                let data = match kind {
                    PacketKind::Event | PacketKind::BinaryEvent => Some(Value::Array(
                        std::iter::once(Value::String(name))
                            .chain(args)
                            .chain(placeholders)
                            .collect(),
                    )),
                    PacketKind::Ack | PacketKind::BinaryAck => {
                        Some(Value::Array(args.into_iter().chain(placeholders).collect()))
                    }
                    // A string or an object: never a bare number right after the header
                    // (the wire format cannot tell it from an ack id).
                    PacketKind::Error => error.map(Value::String).or(Some(Value::Object(
                        [("v".to_owned(), value.unwrap_or(Value::Null))]
                            .into_iter()
                            .collect(),
                    ))),
                    _ => value.map(|v| Value::Object([("v".to_owned(), v)].into_iter().collect())),
                };
                Spec {
                    kind,
                    nsp,
                    query,
                    id,
                    attachments,
                    data,
                }
            },
        )
}

/// A string made mostly of the protocol's own characters, to reach deep into the decoders.
fn protocolish() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9b/,?\\-\\[\\]{}\":a-z_ ]{0,40}",
        "[0-6][0-9]{0,3}-?(/[a-z?=]{0,5},?)?[0-9]{0,22}(\\[.{0,20}\\]|\\{.{0,20}\\}|\".{0,10}\")?",
        "[0-6]{1,2}[^\\\\]{0,30}",
        ".{0,40}",
    ]
}

proptest! {
    #[test]
    fn socket_packets_round_trip(spec in spec()) {
        let data = spec.data.as_ref().map(|d| d.to_string());
        let text = socket::encode(
            spec.kind, &spec.nsp, spec.query.as_deref(), spec.id, spec.attachments, data.as_deref(),
        );
        let packet = socket::decode(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(packet.kind, spec.kind);
        prop_assert_eq!(packet.nsp, spec.nsp.as_str());
        prop_assert_eq!(packet.query, spec.query.as_deref());
        prop_assert_eq!(packet.id, spec.id);
        prop_assert_eq!(packet.attachments, spec.attachments);
        match (&packet.payload, &spec.data) {
            (Payload::None, None) => {}
            (Payload::Value(raw), Some(value)) => prop_assert_eq!(raw.get(), value.to_string()),
            (Payload::Array(elements), Some(Value::Array(values))) => {
                prop_assert_eq!(elements.len(), values.len());
                for (raw, value) in elements.iter().zip(values) {
                    prop_assert_eq!(raw.get(), value.to_string());
                }
                if let Some(Value::String(name)) = values.first().filter(|_| {
                    matches!(spec.kind, PacketKind::Event | PacketKind::BinaryEvent)
                }) {
                    prop_assert_eq!(packet.event_name(), Some(Cow::Borrowed(name.as_str())));
                }
            }
            (payload, data) => prop_assert!(false, "payload {:?} for data {:?}", payload, data),
        }
        // Re-encoding the decoded packet gives the same bytes, also behind an engine message.
        prop_assert_eq!(packet.encode(), text.clone());
        let frame = engine::encode_text(engine::PacketKind::Message, &text);
        prop_assert_eq!(engine::decode_text(&frame), Ok(engine::Packet::Message(&text)));
    }

    #[test]
    fn engine_text_packets_round_trip(kind in 0u8..7, data in ".*") {
        let kind = engine::PacketKind::from_ascii_digit(b'0' + kind).expect("0..7 are kinds");
        let frame = engine::encode_text(kind, &data);
        let packet = engine::decode_text(&frame).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(packet.kind(), kind);
        let expected = match kind {
            engine::PacketKind::Open => engine::Packet::Open(&data),
            engine::PacketKind::Ping => engine::Packet::Ping(&data),
            engine::PacketKind::Pong => engine::Packet::Pong(&data),
            engine::PacketKind::Message => engine::Packet::Message(&data),
            engine::PacketKind::Close => engine::Packet::Close,
            engine::PacketKind::Upgrade => engine::Packet::Upgrade,
            _ => engine::Packet::Noop,
        };
        prop_assert_eq!(packet, expected);
    }

    #[test]
    fn engine_binary_and_base64_round_trip(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let frame = engine::encode_binary_message(&bytes);
        prop_assert_eq!(
            engine::decode_binary(&frame),
            Ok(engine::Packet::BinaryMessage(Cow::Borrowed(&bytes[..])))
        );
        let text = engine::encode_base64_message(&bytes);
        prop_assert_eq!(
            engine::decode_text(&text),
            Ok(engine::Packet::BinaryMessage(Cow::Owned(bytes.clone())))
        );
    }

    #[test]
    fn handshake_round_trips(
        sid in ".*",
        upgrades in prop::collection::vec(".*", 0..3),
        interval in 0..=MAX_HANDSHAKE_TIMER_MS,
        timeout in 0..=MAX_HANDSHAKE_TIMER_MS,
    ) {
        let hs = Handshake {
            sid: sid.into(),
            upgrades,
            ping_interval: Duration::from_millis(interval),
            ping_timeout: Duration::from_millis(timeout),
        };
        prop_assert_eq!(Handshake::parse(&hs.to_json()), Ok(hs));
    }

    #[test]
    fn args_round_trip(values in prop::collection::vec(json(), 0..6)) {
        let json = Value::Array(values.clone()).to_string();
        let args = Args::from_json(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(args.len(), values.len());
        prop_assert_eq!(args.is_empty(), values.is_empty());
        prop_assert_eq!(args.to_json(), json.clone());
        for (i, value) in values.iter().enumerate() {
            let text = value.to_string();
            prop_assert_eq!(args.get(i), Some(text.as_str()));
            let reparsed: Value = serde_json::from_str(&text).expect("valid JSON");
            prop_assert_eq!(args.parse::<Value>(i).ok(), Some(reparsed));
        }
        prop_assert_eq!(args.get(values.len()), None);
        let elements: Vec<&RawValue> = serde_json::from_str(&json).expect("an array");
        prop_assert_eq!(Args::from_elements(&elements), args);
    }

    #[test]
    fn placeholders_are_checked_against_the_count(
        attachments in 0usize..20, num in 0usize..40, noise in prop::collection::vec(json(), 0..3)
    ) {
        let mut values = noise;
        values.push(Value::Array(vec![serde_json::from_str(&placeholder(num)).expect("JSON")]));
        let json = Value::Array(values).to_string();
        let elements: Vec<&RawValue> = serde_json::from_str(&json).expect("an array");
        let expected = if num < attachments {
            Ok(())
        } else {
            Err(DecodeError::PlaceholderOutOfRange { num: num as u64, attachments })
        };
        prop_assert_eq!(check_placeholders(&elements, attachments), expected);
    }

    #[test]
    fn decoders_never_panic_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = engine::decode_binary(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let _ = engine::decode_text(&text);
        let _ = socket::decode(&text);
        let _ = Args::from_json(&text);
        let _ = Handshake::parse(&text);
    }

    #[test]
    fn decoders_never_panic_on_strings(text in protocolish()) {
        let _ = engine::decode_binary(text.as_bytes());
        let _ = engine::decode_text(&text);
        let _ = Handshake::parse(&text);
        let _ = Args::from_json(&text);
        if let Ok(elements) = serde_json::from_str::<Vec<&RawValue>>(&text) {
            let _ = check_placeholders(&elements, 1);
        }
        // Whatever decodes re-encodes to text that decodes to the same packet, except a bare
        // number payload, which the wire format cannot tell from an ack id.
        if let Ok(packet) = socket::decode(&text) {
            let number_payload = matches!(&packet.payload,
                Payload::Value(v) if v.get().starts_with(|c: char| c.is_ascii_digit()));
            let again = packet.encode();
            if !number_payload {
                prop_assert_eq!(socket::decode(&again), Ok(packet), "{} -> {}", text, again);
            }
        }
    }

    #[test]
    fn check_placeholders_never_panics(values in prop::collection::vec(json(), 0..4), n in 0usize..4) {
        let json = Value::Array(values).to_string();
        let elements: Vec<&RawValue> = serde_json::from_str(&json).expect("an array");
        let _ = check_placeholders(&elements, n);
    }
}
