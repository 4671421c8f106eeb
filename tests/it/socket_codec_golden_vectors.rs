//! Socket.IO rev 4 packets, byte-exact, from docs/socketio-2.0.4-protocol.md (§2.2, §2.4, §2.9): every
//! form decodes (through the Engine.IO layer, as on the wire) to the right packet and encodes
//! back to the same bytes; the malformed inputs of §2.8 give the right typed error.

use std::borrow::Cow;

use spaces_socket::engine;
use spaces_socket::socket::{
    DecodeError, MAX_ATTACHMENTS, MAX_DEPTH, Packet, PacketKind, Payload, check_placeholders,
    decode, encode, encode_into, placeholder,
};

/// The Socket.IO packet inside an Engine.IO text frame, decoded as a client would.
fn sio(frame: &str) -> Result<Packet<'_>, DecodeError> {
    match engine::decode_text(frame) {
        Ok(engine::Packet::Message(text)) => decode(text),
        other => panic!("{frame} is not an engine message: {other:?}"),
    }
}

fn raw<'a>(packet: &'a Packet<'_>) -> Vec<&'a str> {
    packet.elements().iter().map(|e| e.get()).collect()
}

fn value<'a>(packet: &'a Packet<'_>) -> Option<&'a str> {
    match &packet.payload {
        Payload::Value(v) => Some(v.get()),
        _ => None,
    }
}

/// Expected decoding of one frame, and the arguments that encode it back.
struct Vector {
    frame: &'static str,
    kind: PacketKind,
    nsp: &'static str,
    query: Option<&'static str>,
    id: Option<u64>,
    attachments: usize,
    /// The JSON data exactly as on the wire.
    data: Option<&'static str>,
}

const fn v(
    frame: &'static str,
    kind: PacketKind,
    nsp: &'static str,
    id: Option<u64>,
    attachments: usize,
    data: Option<&'static str>,
) -> Vector {
    Vector {
        frame,
        kind,
        nsp,
        query: None,
        id,
        attachments,
        data,
    }
}

use PacketKind::{Ack, BinaryAck, BinaryEvent, Connect, Disconnect, Error, Event};

const VECTORS: &[Vector] = &[
    v("40", Connect, "/", None, 0, None),
    v("40/chat,", Connect, "/chat", None, 0, None),
    Vector {
        frame: "40/chat?token=good&a=%26b,",
        query: Some("token=good&a=%26b"),
        ..v("", Connect, "/chat", None, 0, None)
    },
    Vector {
        frame: "40/chat?token=good,",
        query: Some("token=good"),
        ..v("", Connect, "/chat", None, 0, None)
    },
    v("41", Disconnect, "/", None, 0, None),
    v("41/chat,", Disconnect, "/chat", None, 0, None),
    v(
        r#"42["queued1","a"]"#,
        Event,
        "/",
        None,
        0,
        Some(r#"["queued1","a"]"#),
    ),
    v(
        r#"420["queued2"]"#,
        Event,
        "/",
        Some(0),
        0,
        Some(r#"["queued2"]"#),
    ),
    v(
        r#"42/chat,7["ev","x"]"#,
        Event,
        "/chat",
        Some(7),
        0,
        Some(r#"["ev","x"]"#),
    ),
    v(
        r#"43/chat,7[1,"two"]"#,
        Ack,
        "/chat",
        Some(7),
        0,
        Some(r#"[1,"two"]"#),
    ),
    v(
        r#"43/chat,0["thanks"]"#,
        Ack,
        "/chat",
        Some(0),
        0,
        Some(r#"["thanks"]"#),
    ),
    v(
        r#"44/chat,"Authentication error""#,
        Error,
        "/chat",
        None,
        0,
        Some(r#""Authentication error""#),
    ),
    v(
        r#"44/foo,"Invalid namespace""#,
        Error,
        "/foo",
        None,
        0,
        Some(r#""Invalid namespace""#),
    ),
    v(
        r#"44{"code":401,"reason":"bad"}"#,
        Error,
        "/",
        None,
        0,
        Some(r#"{"code":401,"reason":"bad"}"#),
    ),
    v(
        r#"44/chat,{"message":"jwt expired","code":"invalid_token","type":"UnauthorizedError"}"#,
        Error,
        "/chat",
        None,
        0,
        Some(r#"{"message":"jwt expired","code":"invalid_token","type":"UnauthorizedError"}"#),
    ),
    v(
        r#"451-/chat,0["welcome",{"x":1},{"_placeholder":true,"num":0}]"#,
        BinaryEvent,
        "/chat",
        Some(0),
        1,
        Some(r#"["welcome",{"x":1},{"_placeholder":true,"num":0}]"#),
    ),
    v(
        r#"451-/chat,0["hello","world",{"_placeholder":true,"num":0}]"#,
        BinaryEvent,
        "/chat",
        Some(0),
        1,
        Some(r#"["hello","world",{"_placeholder":true,"num":0}]"#),
    ),
    v(
        r#"461-/chat,0["ok",{"_placeholder":true,"num":0}]"#,
        BinaryAck,
        "/chat",
        Some(0),
        1,
        Some(r#"["ok",{"_placeholder":true,"num":0}]"#),
    ),
];

#[test]
fn every_reference_packet_decodes_and_encodes_byte_exact() {
    for vector in VECTORS {
        let frame = vector.frame;
        let packet = sio(frame).unwrap_or_else(|e| panic!("{frame}: {e}"));
        assert_eq!(packet.kind, vector.kind, "{frame}");
        assert_eq!(packet.nsp, vector.nsp, "{frame}");
        assert_eq!(packet.query, vector.query, "{frame}");
        assert_eq!(packet.id, vector.id, "{frame}");
        assert_eq!(packet.attachments, vector.attachments, "{frame}");
        let decoded_data = match &packet.payload {
            Payload::None => None,
            Payload::Value(v) => Some(v.get().to_owned()),
            Payload::Array(_) => Some(format!("[{}]", raw(&packet).join(","))),
        };
        assert_eq!(decoded_data.as_deref(), vector.data, "{frame}");

        let encoded = encode(
            vector.kind,
            vector.nsp,
            vector.query,
            vector.id,
            vector.attachments,
            vector.data,
        );
        assert_eq!(format!("4{encoded}"), frame);
        assert_eq!(format!("4{}", packet.encode()), frame);

        // encode_into appends, after the Engine.IO digit.
        let mut buf = String::from("4");
        encode_into(
            &mut buf,
            vector.kind,
            vector.nsp,
            vector.query,
            vector.id,
            vector.attachments,
            vector.data,
        );
        assert_eq!(buf, frame);
    }
}

#[test]
fn namespace_without_comma_is_the_same_namespace() {
    // socket.io 1.7.3 servers write `40/chat`, 2.0.4 servers `40/chat,`.
    assert_eq!(sio("40/chat"), sio("40/chat,"));
    assert_eq!(sio("40/chat").map(|p| p.encode()), Ok("0/chat,".to_owned()));
    assert_eq!(sio("41/chat").map(|p| p.nsp), Ok("/chat"));
    let q = sio("40/chat?token=x").expect("query without comma");
    assert_eq!((q.nsp, q.query), ("/chat", Some("token=x")));
}

#[test]
fn events_expose_their_name_and_arguments() {
    let packet = sio(r#"42/chat,7["ev","x"]"#).expect("event");
    assert_eq!(packet.event_name(), Some(Cow::Borrowed("ev")));
    assert_eq!(raw(&packet), [r#""ev""#, r#""x""#]);

    let binary = sio(r#"451-/chat,0["welcome",{"x":1},{"_placeholder":true,"num":0}]"#)
        .expect("binary event");
    assert_eq!(binary.event_name().as_deref(), Some("welcome"));
    assert_eq!(
        raw(&binary),
        [
            "\"welcome\"",
            r#"{"x":1}"#,
            r#"{"_placeholder":true,"num":0}"#
        ]
    );

    let escaped = decode(r#"2["a\u00e9\n\"b"]"#).expect("escaped name");
    assert_eq!(escaped.event_name(), Some(Cow::Owned("aé\n\"b".to_owned())));

    // An ACK has no event name even if its first argument is a string.
    let ack = sio(r#"43/chat,0["thanks"]"#).expect("ack");
    assert_eq!(ack.event_name(), None);
    assert_eq!(sio("40").expect("connect").event_name(), None);

    // Whitespace around elements is allowed and not part of them.
    let spaced = decode("2 [ \"a\" , 1 ]\n").expect("whitespace");
    assert_eq!(raw(&spaced), ["\"a\"", "1"]);
}

#[test]
fn placeholder_text_is_exact() {
    assert_eq!(placeholder(0), r#"{"_placeholder":true,"num":0}"#);
    assert_eq!(placeholder(12), r#"{"_placeholder":true,"num":12}"#);
    let data = format!(r#"["hello","world",{}]"#, placeholder(0));
    assert_eq!(
        encode(BinaryEvent, "/chat", None, Some(0), 1, Some(&data)),
        r#"51-/chat,0["hello","world",{"_placeholder":true,"num":0}]"#
    );
}

#[test]
fn encode_details_match_the_js_parser() {
    // Attachments are written for binary kinds even when 0, and ignored for the others.
    assert_eq!(
        encode(BinaryEvent, "/", None, None, 0, Some("[\"a\"]")),
        "50-[\"a\"]"
    );
    assert_eq!(
        encode(Event, "/", None, None, 3, Some("[\"a\"]")),
        "2[\"a\"]"
    );
    // An empty nsp is the root; a query is only for CONNECT.
    assert_eq!(encode(Connect, "", None, None, 0, None), "0");
    assert_eq!(
        encode(Event, "/chat", Some("t=1"), Some(1), 0, Some("[\"a\"]")),
        "2/chat,1[\"a\"]"
    );
    assert_eq!(encode(Connect, "/", Some("t=1"), None, 0, None), "0/?t=1,");
    let root_query = decode("0/?t=1,").expect("root connect with query");
    assert_eq!((root_query.nsp, root_query.query), ("/", Some("t=1")));
    assert_eq!(
        encode(Ack, "/", None, Some(u64::MAX), 0, Some("[]")),
        "318446744073709551615[]"
    );
}

#[test]
fn connect_and_error_payload_tolerance() {
    // CONNECT/DISCONNECT data is tolerated as a value (parser 3.1.2 accepts it).
    let connect = sio(r#"40/chat,{"sid":"x"}"#).expect("connect with data");
    assert_eq!(value(&connect), Some(r#"{"sid":"x"}"#));
    let disconnect = sio(r#"41"bye""#).expect("disconnect with data");
    assert_eq!(value(&disconnect), Some(r#""bye""#));
    // ERROR without data.
    let error = decode("4/chat,").expect("error without data");
    assert_eq!((error.kind, error.payload), (Error, Payload::None));
    // A query is only split off for CONNECT.
    let event = decode(r#"2/chat?x,["a"]"#).expect("event nsp with ?");
    assert_eq!((event.nsp, event.query), ("/chat?x", None));
}

#[test]
fn debug_redacts_the_connect_query() {
    let packet = sio("40/chat?token=SECRET,").expect("connect");
    let shown = format!("{packet:?}");
    assert!(!shown.contains("SECRET"), "{shown}");
    assert!(shown.contains("/chat"), "{shown}");
}

#[test]
fn malformed_packets_from_the_reference_give_typed_errors() {
    assert!(matches!(sio(r#"42["ev""#), Err(DecodeError::BadJson(_))));
    assert_eq!(sio("47[1]"), Err(DecodeError::UnknownPacketType('7')));
    assert_eq!(decode("x"), Err(DecodeError::UnknownPacketType('x')));
    assert_eq!(sio(r#"42{"a":1}"#), Err(DecodeError::NotAnArray));
    assert_eq!(sio(r#"43"a""#), Err(DecodeError::NotAnArray));
    assert_eq!(sio("45"), Err(DecodeError::IllegalAttachments));
    assert_eq!(sio("45woooot"), Err(DecodeError::IllegalAttachments));
    assert_eq!(sio(r#"45-["a"]"#), Err(DecodeError::IllegalAttachments));
    assert_eq!(sio(r#"451["a"]"#), Err(DecodeError::IllegalAttachments));
    assert_eq!(
        sio(r#"46/chat,["a"]"#),
        Err(DecodeError::IllegalAttachments)
    );
    assert_eq!(sio("4"), Err(DecodeError::Empty));
    assert_eq!(
        sio(r#"4218446744073709551616["a"]"#),
        Err(DecodeError::BadAckId)
    );
    let max = sio(r#"4218446744073709551615["a"]"#).expect("u64::MAX id");
    assert_eq!(max.id, Some(u64::MAX));
}

#[test]
fn trailing_garbage_and_missing_payloads_are_rejected() {
    for bad in [
        r#"2["a"]x"#,
        r#"2["a"],"#,
        r#"4"a" "b""#,
        "0/chat,{",
        "2   ",
        r#"3[1]]"#,
    ] {
        assert!(matches!(decode(bad), Err(DecodeError::BadJson(_))), "{bad}");
    }
    assert_eq!(decode("2"), Err(DecodeError::MissingPayload));
    assert_eq!(decode("3/chat,5"), Err(DecodeError::MissingPayload));
    assert_eq!(decode("2[]"), Err(DecodeError::MissingEventName));
    assert_eq!(decode("2[1,\"a\"]"), Err(DecodeError::MissingEventName));
    assert_eq!(decode("50-[]"), Err(DecodeError::MissingEventName));
    assert_eq!(decode(r#"2["\ud800"]"#), Err(DecodeError::BadEventName));
    // An ACK may be empty.
    assert_eq!(decode("3/chat,5[]").map(|p| p.elements().len()), Ok(0));
}

#[test]
fn attachment_counts_are_capped() {
    let at_cap = format!(r#"5{MAX_ATTACHMENTS}-["a"]"#);
    assert_eq!(decode(&at_cap).map(|p| p.attachments), Ok(MAX_ATTACHMENTS));
    let over = format!(r#"5{}-["a"]"#, MAX_ATTACHMENTS + 1);
    assert_eq!(decode(&over), Err(DecodeError::TooManyAttachments));
    assert_eq!(
        decode(r#"599999999999999999999999999999-["a"]"#),
        Err(DecodeError::TooManyAttachments)
    );
    // Leading zeros are a number, as in the JS parser.
    assert_eq!(decode(r#"6002-[]"#).map(|p| p.attachments), Ok(2));
}

#[test]
fn placeholders_must_point_at_an_attachment() {
    assert_eq!(
        decode(r#"51-["a",{"_placeholder":true,"num":1}]"#),
        Err(DecodeError::PlaceholderOutOfRange {
            num: 1,
            attachments: 1
        })
    );
    for bad in [
        r#"51-["a",{"_placeholder":true}]"#,
        r#"51-["a",{"_placeholder":true,"num":-1}]"#,
        r#"51-["a",{"_placeholder":true,"num":"0"}]"#,
        r#"51-["a",{"_placeholder":true,"num":0.0}]"#,
        r#"52-["a",[{"deep":{"_placeholder":true,"num":null}}]]"#,
    ] {
        assert_eq!(decode(bad), Err(DecodeError::BadPlaceholder), "{bad}");
    }
    // Key order does not matter, and the last duplicate wins (as JSON.parse).
    assert!(
        decode(r#"62-[{"num":1,"_placeholder":true},{"x":[{"_placeholder":true,"num":0}]}]"#)
            .is_ok()
    );
    assert!(decode(r#"61-["a",{"_placeholder":true,"num":5,"num":0}]"#).is_ok());
    // Placeholders in a plain EVENT are not substituted, hence not checked.
    assert!(decode(r#"2["a",{"_placeholder":true,"num":7}]"#).is_ok());
}

#[test]
fn placeholder_walk_is_depth_bounded() {
    let nested = |depth: usize| {
        format!(
            r#"51-["a",{}{{"_placeholder":true,"num":0}}{}]"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    // The payload array is level 1, the placeholder object level depth + 2.
    assert!(decode(&nested(MAX_DEPTH - 2)).is_ok());
    assert_eq!(decode(&nested(MAX_DEPTH - 1)), Err(DecodeError::TooDeep));
    // Far deeper than any stack could recurse: still a typed error.
    assert_eq!(decode(&nested(200_000)), Err(DecodeError::TooDeep));
    let deep = serde_json::value::RawValue::from_string(format!(
        "{}{}",
        "[".repeat(50_000),
        "]".repeat(50_000)
    ))
    .expect("valid deep JSON");
    let elements = [&*deep];
    assert_eq!(check_placeholders(&elements, 0), Err(DecodeError::TooDeep));
}
