//! The borrowed, one-pass decoding of event arrays agrees with the slow path (a whole
//! `serde_json::Value` parse of the same JSON): on the benchmark's MESSAGE_SENT frame, and on
//! every fuzz seed that decodes to an array payload.

use serde_json::Value;
use spaces_socket::engine;
use spaces_socket::socket::{self, Args, Payload};
use spaces_socket::spaces::Incoming;

/// The frame the benches decode (benches/fixtures/message_sent.txt).
const FRAME: &str = include_str!("../../benches/fixtures/message_sent.txt");

/// Each raw element parsed on its own.
fn element_values(elements: &[&serde_json::value::RawValue]) -> Vec<Value> {
    elements
        .iter()
        .map(|e| serde_json::from_str(e.get()).expect("an element is valid JSON"))
        .collect()
}

#[test]
fn the_benchmark_frame_decodes_as_a_full_parse_reads_it() {
    let Ok(engine::Packet::Message(text)) = engine::decode_text(FRAME) else {
        panic!("the fixture is an Engine.IO message");
    };
    let packet = socket::decode(text).expect("the fixture decodes");
    assert_eq!(packet.nsp, "/chat");
    assert_eq!(packet.event_name().as_deref(), Some("MESSAGE_SENT"));

    let json = FRAME.strip_prefix("42/chat,").expect("a /chat event");
    let slow: Vec<Value> = serde_json::from_str(json).expect("valid JSON");
    assert_eq!(element_values(packet.elements()), slow);
    // The wire bytes survive: the packet re-encodes to the frame's text.
    assert_eq!(packet.encode(), text);

    // The owned arguments and the typed event read the same payload.
    let args = Args::from_elements(packet.elements().get(1..).unwrap_or_default());
    let first: Value = args.parse(0).expect("one argument");
    assert_eq!(first, slow[1]);
    let Incoming::MessageSent(message) = Incoming::decode("MESSAGE_SENT", args.get(0)) else {
        panic!("the fixture is a well-formed MESSAGE_SENT");
    };
    assert_eq!(
        serde_json::to_value(&*message).expect("serializable"),
        slow[1]
    );
}

#[test]
fn every_fuzz_seed_with_an_array_decodes_as_a_full_parse_reads_it() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/socket_decode");
    let mut compared = 0;
    for entry in std::fs::read_dir(dir).expect("the fuzz seeds are in the repository") {
        let bytes = std::fs::read(entry.expect("a seed").path()).expect("readable seed");
        let Ok(text) = std::str::from_utf8(&bytes) else {
            continue;
        };
        let Ok(packet) = socket::decode(text) else {
            continue;
        };
        let Payload::Array(elements) = &packet.payload else {
            continue;
        };
        // The JSON is what follows the header, which re-encodes byte for byte unless the wire
        // spelt it unusually (`2/,…`); those seeds are left out.
        let header = socket::encode(
            packet.kind,
            packet.nsp,
            packet.query,
            packet.id,
            packet.attachments,
            None,
        );
        let Some(json) = text.strip_prefix(&header) else {
            continue;
        };
        let slow: Vec<Value> = serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("{text:?} decoded, but is not a JSON array: {e}"));
        assert_eq!(element_values(elements), slow, "{text:?}");
        compared += 1;
    }
    // The seeds hold dozens of event and ack packets; a handful would mean they went missing.
    assert!(compared >= 20, "only {compared} seeds compared");
}
