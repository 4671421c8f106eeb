//! BINARY_EVENT and BINARY_ACK headers wait for exactly their attachments.

use crate::support::client::{ClientHarness, raw};
use spaces_socket::client::{Event, ProtocolViolation, Transmit};

#[test]
fn a_binary_event_is_delivered_once_all_attachments_arrived() {
    let mut h = ClientHarness::connected(|_| {});
    h.feed(
        r#"452-/chat,["file",{"a":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":1}]"#,
    );
    h.feed_binary(&[4, 1, 2, 3]);
    assert!(h.take().1.is_empty(), "one attachment still missing");
    h.feed("b4CQg="); // base64 text form of 09 08
    let (_, events) = h.take();
    match &events[..] {
        [
            Event::Message {
                name,
                attachments,
                args,
                ack: None,
                ..
            },
        ] => {
            assert_eq!(name, "file");
            assert_eq!(attachments, &vec![vec![1, 2, 3], vec![9, 8]]);
            assert_eq!(args.len(), 2);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_binary_ack_resolves_the_emit() {
    let mut h = ClientHarness::connected(|_| {});
    let id = h
        .client
        .emit_with_ack(h.now, "/chat", "q", &raw("[]"))
        .unwrap();
    h.take();
    h.feed(&format!(
        r#"461-/chat,{}["ok",{{"_placeholder":true,"num":0}}]"#,
        id.get()
    ));
    h.feed_binary(&[4, 9, 8]);
    let (_, events) = h.take();
    assert!(
        matches!(&events[..], [Event::AckReceived { id: got, attachments, .. }] if *got == id && attachments == &vec![vec![9u8, 8]])
    );
}

#[test]
fn an_attachment_without_a_header_is_a_violation_and_nothing_else_changes() {
    let mut h = ClientHarness::connected(|_| {});
    h.feed_binary(&[4, 1]);
    let (t, e) = h.take();
    assert!(t.is_empty());
    assert_eq!(
        e,
        vec![Event::ProtocolViolation(
            ProtocolViolation::UnexpectedAttachment
        )]
    );
    assert!(h.client.is_connected("/chat"));
}

#[test]
fn a_placeholder_out_of_range_is_refused() {
    let mut h = ClientHarness::connected(|_| {});
    h.feed(r#"451-/chat,["f",{"_placeholder":true,"num":1}]"#);
    let (_, e) = h.take();
    assert!(matches!(
        &e[..],
        [Event::ProtocolViolation(ProtocolViolation::Socket(_))]
    ));
    h.feed_binary(&[4, 1]);
    let (_, e) = h.take();
    assert_eq!(
        e,
        vec![Event::ProtocolViolation(
            ProtocolViolation::UnexpectedAttachment
        )]
    );
}

#[test]
fn a_text_packet_interrupting_a_binary_one_discards_the_partial_packet() {
    let mut h = ClientHarness::connected(|_| {});
    h.feed(r#"451-/chat,["f",{"_placeholder":true,"num":0}]"#);
    h.feed(r#"42/chat,["plain"]"#);
    let (_, e) = h.take();
    assert_eq!(
        e[0],
        Event::ProtocolViolation(ProtocolViolation::IncompleteBinaryPacket)
    );
    assert!(matches!(&e[1], Event::Message { name, .. } if name == "plain"));
}

#[test]
fn binary_emits_send_the_header_then_each_attachment_with_the_0x04_byte() {
    let mut h = ClientHarness::connected(|_| {});
    let args = format!(r#"["hello",{}]"#, spaces_socket::socket::placeholder(0));
    let id = h
        .client
        .emit_binary_with_ack(h.now, "/chat", "up", &raw(&args), vec![vec![0xde, 0xad]])
        .unwrap();
    assert_eq!(id.get(), 0);
    let (t, _) = h.take();
    assert_eq!(
        t,
        vec![
            Transmit::Text(r#"451-/chat,0["up","hello",{"_placeholder":true,"num":0}]"#.into()),
            Transmit::Binary(vec![4, 0xde, 0xad]),
        ]
    );
}
