//! Engine.IO decoding of arbitrary frames: never panics, and whatever decodes encodes back.
//!
//! `cargo +nightly fuzz run engine_decode`
#![no_main]

use libfuzzer_sys::fuzz_target;
use spaces_socket::engine::{self, Handshake, Packet};

fuzz_target!(|data: &[u8]| {
    // As a binary frame: a message is the type byte 0x04 and the bytes, borrowed.
    if let Ok(packet) = engine::decode_binary(data) {
        let Packet::BinaryMessage(bytes) = packet else {
            panic!("a binary frame decoded to {packet:?}");
        };
        assert_eq!(engine::encode_binary_message(&bytes), data);
    }

    // As a text frame.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Handshake::parse(text);
    match engine::decode_text(text) {
        Ok(Packet::Open(json)) => {
            if let Ok(handshake) = Handshake::parse(json) {
                assert_eq!(Handshake::parse(&handshake.to_json()), Ok(handshake));
            }
        }
        Ok(Packet::BinaryMessage(bytes)) => {
            let again = engine::encode_base64_message(&bytes);
            match engine::decode_text(&again) {
                Ok(Packet::BinaryMessage(decoded)) => assert_eq!(decoded, bytes),
                other => panic!("{again} decoded to {other:?}"),
            }
        }
        // Text packets that carry data are exactly `<digit><data>` (b-frames aside).
        Ok(packet @ (Packet::Ping(d) | Packet::Pong(d) | Packet::Message(d))) => {
            if !text.starts_with('b') {
                assert_eq!(engine::encode_text(packet.kind(), d), text);
            }
        }
        Ok(_) | Err(_) => {}
    }
});
