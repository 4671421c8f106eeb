//! Engine.IO 3 websocket frames, byte-exact, from docs/socketio-2.0.4-protocol.md (§1.2-1.4, §2.9):
//! every form decodes to the right packet and encodes back to the same bytes; malformed frames
//! give the right typed error.

use std::borrow::Cow;
use std::time::Duration;

use spaces_socket::engine::{
    DecodeError, Handshake, MAX_HANDSHAKE_TIMER_MS, Packet, PacketKind, decode_binary, decode_text,
    encode_base64_message, encode_binary_message, encode_text,
};

const OPEN_DEFAULT: &str =
    r#"0{"sid":"4DHXq2hN5tu2tWtpAAAA","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#;
const OPEN_SESSION: &str =
    r#"0{"sid":"RZEDoV0QuT_GfherAAAA","upgrades":[],"pingInterval":1500,"pingTimeout":1000}"#;

#[test]
fn open_packet_decodes_parses_and_reencodes_byte_exact() {
    for (frame, sid, interval, timeout) in [
        (OPEN_DEFAULT, "4DHXq2hN5tu2tWtpAAAA", 25_000, 60_000),
        (OPEN_SESSION, "RZEDoV0QuT_GfherAAAA", 1_500, 1_000),
    ] {
        let Ok(Packet::Open(json)) = decode_text(frame) else {
            panic!("not an open packet: {frame}");
        };
        assert_eq!(json, &frame[1..]);
        let hs = Handshake::parse(json).expect("valid handshake");
        assert_eq!(hs.sid.expose(), sid);
        assert!(hs.upgrades.is_empty());
        assert_eq!(hs.ping_interval, Duration::from_millis(interval));
        assert_eq!(hs.ping_timeout, Duration::from_millis(timeout));
        assert_eq!(hs.to_json(), json);
        assert_eq!(encode_text(PacketKind::Open, &hs.to_json()), frame);
    }
}

#[test]
fn ping_pong_and_messages_are_digit_plus_data() {
    let cases: [(&str, Packet<'_>, PacketKind, &str); 7] = [
        ("2", Packet::Ping(""), PacketKind::Ping, ""),
        ("3", Packet::Pong(""), PacketKind::Pong, ""),
        ("2probe", Packet::Ping("probe"), PacketKind::Ping, "probe"),
        ("3probe", Packet::Pong("probe"), PacketKind::Pong, "probe"),
        ("40", Packet::Message("0"), PacketKind::Message, "0"),
        (
            "40/chat,",
            Packet::Message("0/chat,"),
            PacketKind::Message,
            "0/chat,",
        ),
        (
            r#"42["queued1","a"]"#,
            Packet::Message(r#"2["queued1","a"]"#),
            PacketKind::Message,
            r#"2["queued1","a"]"#,
        ),
    ];
    for (frame, packet, kind, data) in cases {
        assert_eq!(decode_text(frame), Ok(packet.clone()), "{frame}");
        assert_eq!(packet.kind(), kind);
        assert_eq!(encode_text(kind, data), frame);
    }
    // The byte table of §1.3.
    assert_eq!(encode_text(PacketKind::Ping, "").as_bytes(), [0x32]);
    assert_eq!(encode_text(PacketKind::Pong, "").as_bytes(), [0x33]);
    assert_eq!(
        encode_text(PacketKind::Message, "0").as_bytes(),
        [0x34, 0x30]
    );
    assert_eq!(
        encode_text(PacketKind::Message, "0/chat,").as_bytes(),
        [0x34, 0x30, 0x2f, 0x63, 0x68, 0x61, 0x74, 0x2c]
    );
}

#[test]
fn dataless_packets_ignore_trailing_data() {
    assert_eq!(decode_text("1"), Ok(Packet::Close));
    assert_eq!(decode_text("1bye"), Ok(Packet::Close));
    assert_eq!(decode_text("5"), Ok(Packet::Upgrade));
    assert_eq!(decode_text("6"), Ok(Packet::Noop));
    assert_eq!(encode_text(PacketKind::Close, ""), "1");
    assert_eq!(encode_text(PacketKind::Upgrade, ""), "5");
    assert_eq!(encode_text(PacketKind::Noop, ""), "6");
}

#[test]
fn kind_digits_round_trip() {
    for digit in b'0'..=b'6' {
        let kind = PacketKind::from_ascii_digit(digit).expect("known digit");
        assert_eq!(kind.ascii_digit(), char::from(digit));
        assert_eq!(kind as u8, digit - b'0');
    }
    assert_eq!(PacketKind::from_ascii_digit(b'7'), None);
    assert_eq!(PacketKind::from_ascii_digit(b'b'), None);
}

#[test]
fn binary_frames_carry_the_type_byte() {
    for bytes in [
        &[0x04, 0x01, 0x02, 0x03][..],
        &[0x04, 0x09, 0x08],
        &[0x04, 0xde, 0xad],
    ] {
        let Ok(Packet::BinaryMessage(data)) = decode_binary(bytes) else {
            panic!("not a binary message: {bytes:02x?}");
        };
        assert!(
            matches!(data, Cow::Borrowed(_)),
            "binary decode must borrow"
        );
        assert_eq!(&*data, &bytes[1..]);
        assert_eq!(encode_binary_message(&data), bytes);
    }
    assert_eq!(
        decode_binary(&[0x04]),
        Ok(Packet::BinaryMessage(Cow::Borrowed(&[])))
    );
}

#[test]
fn base64_text_frame_is_a_binary_message() {
    let Ok(Packet::BinaryMessage(data)) = decode_text("b4AQID") else {
        panic!("b4AQID is not a binary message");
    };
    assert_eq!(&*data, [1, 2, 3]);
    assert_eq!(encode_base64_message(&[1, 2, 3]), "b4AQID");
    assert_eq!(encode_base64_message(&[9, 8]), "b4CQg=");
    // Node's decoder accepts missing padding, and so do we.
    assert_eq!(
        decode_text("b4CQg"),
        Ok(Packet::BinaryMessage(Cow::Owned(vec![9, 8])))
    );
    assert_eq!(
        decode_text("b4"),
        Ok(Packet::BinaryMessage(Cow::Owned(vec![])))
    );
}

#[test]
fn other_base64_types_decode_only_when_sensible() {
    assert_eq!(decode_text("b1"), Ok(Packet::Close));
    assert_eq!(decode_text("b5"), Ok(Packet::Upgrade));
    assert_eq!(decode_text("b6AQID"), Ok(Packet::Noop));
    assert_eq!(decode_text("b2"), Ok(Packet::Ping("")));
    assert_eq!(decode_text("b3"), Ok(Packet::Pong("")));
    assert_eq!(
        decode_text("b2AQID"),
        Err(DecodeError::UnexpectedBase64Type('2'))
    );
    assert_eq!(
        decode_text("b0e30="),
        Err(DecodeError::UnexpectedBase64Type('0'))
    );
    assert_eq!(
        decode_text("b9AQID"),
        Err(DecodeError::UnexpectedBase64Type('9'))
    );
    assert_eq!(
        decode_text("bé"),
        Err(DecodeError::UnexpectedBase64Type('é'))
    );
}

#[test]
fn malformed_frames_give_typed_errors() {
    assert_eq!(decode_text(""), Err(DecodeError::Empty));
    assert_eq!(decode_binary(&[]), Err(DecodeError::Empty));
    assert_eq!(
        decode_text("9abc"),
        Err(DecodeError::UnknownPacketType('9'))
    );
    assert_eq!(decode_text("7"), Err(DecodeError::UnknownPacketType('7')));
    assert_eq!(decode_text("x"), Err(DecodeError::UnknownPacketType('x')));
    assert_eq!(decode_text("é4"), Err(DecodeError::UnknownPacketType('é')));
    assert_eq!(decode_text("b"), Err(DecodeError::MissingBase64Type));
    assert_eq!(decode_text("b4A"), Err(DecodeError::BadBase64));
    assert_eq!(decode_text("b4AQ!D"), Err(DecodeError::BadBase64));
    // A raw frame with no type prefix: engine.io-client drops it.
    assert_eq!(
        decode_binary(&[0xaa, 0xbb]),
        Err(DecodeError::UnexpectedBinaryType(0xaa))
    );
    assert_eq!(
        decode_binary(&[0x02]),
        Err(DecodeError::UnexpectedBinaryType(0x02))
    );
}

fn handshake_error(json: &str) -> String {
    match Handshake::parse(json) {
        Err(DecodeError::BadHandshake(why)) => why,
        other => panic!("expected BadHandshake for {json}, got {other:?}"),
    }
}

#[test]
fn handshake_rejects_missing_and_invalid_fields() {
    let ok =
        r#"{"sid":"s","upgrades":["websocket"],"pingInterval":1,"pingTimeout":0,"maxPayload":9}"#;
    let hs = Handshake::parse(ok).expect("unknown keys are ignored");
    assert_eq!(hs.upgrades, ["websocket"]);
    assert_eq!(hs.ping_timeout, Duration::ZERO);
    assert_eq!(
        hs.to_json(),
        r#"{"sid":"s","upgrades":["websocket"],"pingInterval":1,"pingTimeout":0}"#
    );

    let missing = handshake_error(r#"{"sid":"s","upgrades":[],"pingInterval":1}"#);
    assert!(missing.contains("pingTimeout"), "{missing}");
    for bad in [
        r#"{"sid":"s","upgrades":[],"pingInterval":-1,"pingTimeout":1}"#,
        r#"{"sid":"s","upgrades":[],"pingInterval":1.5,"pingTimeout":1}"#,
        r#"{"sid":"s","upgrades":[],"pingInterval":"1","pingTimeout":1}"#,
        r#"{"sid":"s","upgrades":[],"pingInterval":null,"pingTimeout":1}"#,
        r#"{"sid":"s","upgrades":[],"pingInterval":2147483648,"pingTimeout":1}"#,
    ] {
        assert!(handshake_error(bad).contains("pingInterval"), "{bad}");
    }
    assert!(
        handshake_error(r#"{"sid":1,"upgrades":[],"pingInterval":1,"pingTimeout":1}"#)
            .contains("sid")
    );
    assert!(
        handshake_error(r#"{"sid":"s","upgrades":"x","pingInterval":1,"pingTimeout":1}"#)
            .contains("upgrades")
    );
    handshake_error("[]");
    handshake_error(r#"{"sid":"s""#);
    handshake_error("");
    handshake_error(r#"{"sid":"a","sid":"b","upgrades":[],"pingInterval":1,"pingTimeout":1}"#);

    let max = format!(
        r#"{{"sid":"s","upgrades":[],"pingInterval":{MAX_HANDSHAKE_TIMER_MS},"pingTimeout":1}}"#
    );
    let hs = Handshake::parse(&max).expect("the maximum is accepted");
    assert_eq!(
        hs.ping_interval,
        Duration::from_millis(MAX_HANDSHAKE_TIMER_MS)
    );
}

#[test]
fn handshake_errors_and_debug_never_show_the_sid() {
    let wrong_types = r#"{"sid":"SECRET1","upgrades":"SECRET2","pingInterval":"SECRET3"}"#;
    let why = handshake_error(wrong_types);
    assert!(!why.contains("SECRET"), "{why}");
    let why = handshake_error(r#""SECRET4""#);
    assert!(!why.contains("SECRET"), "{why}");

    let hs = Handshake::parse(&OPEN_DEFAULT[1..]).expect("valid handshake");
    let shown = format!("{hs:?} {:?}", decode_text(OPEN_DEFAULT));
    assert!(!shown.contains("4DHXq2hN5tu2tWtpAAAA"), "{shown}");
}

#[test]
fn handshake_sid_is_json_escaped_on_encode() {
    let hs = Handshake {
        sid: "a\"b\\c".to_owned().into(),
        upgrades: vec![],
        ping_interval: Duration::from_millis(25_000),
        ping_timeout: Duration::from_millis(60_000),
    };
    let json = hs.to_json();
    assert_eq!(
        json,
        r#"{"sid":"a\"b\\c","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#
    );
    assert_eq!(Handshake::parse(&json), Ok(hs));
}
