//! Socket.IO decoding of arbitrary text: never panics, what decodes is consistent, and it
//! re-encodes to text that decodes to the same packet.
//!
//! `cargo +nightly fuzz run socket_decode`
#![no_main]

use libfuzzer_sys::fuzz_target;
use spaces_socket::socket::{self, Args, PacketKind, Payload, check_placeholders};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = Args::from_json(text);
    let Ok(packet) = socket::decode(text) else {
        return;
    };

    // decode already vetted event names and placeholders; the helpers must agree.
    if matches!(packet.kind, PacketKind::Event | PacketKind::BinaryEvent) {
        assert!(packet.event_name().is_some(), "{text}");
    }
    if packet.kind.is_binary() {
        assert_eq!(
            check_placeholders(packet.elements(), packet.attachments),
            Ok(())
        );
    } else {
        assert_eq!(packet.attachments, 0);
    }
    if packet.kind != PacketKind::Connect {
        assert_eq!(packet.query, None);
    }

    let args = Args::from_elements(packet.elements());
    assert_eq!(args.len(), packet.elements().len());
    assert!(args.iter().eq(packet.elements().iter().map(|e| e.get())));
    assert_eq!(Args::from_json(&args.to_json()), Ok(args));

    // A bare number right after the header cannot be told from an ack id (as in the JS
    // parser), so such a payload does not survive a re-encode.
    let number_payload = matches!(&packet.payload,
        Payload::Value(v) if v.get().starts_with(|c: char| c.is_ascii_digit()));
    if !number_payload {
        let again = packet.encode();
        assert_eq!(socket::decode(&again), Ok(packet), "{text} -> {again}");
    }
});
