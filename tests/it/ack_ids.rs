//! Ack ids count from 0 per namespace; answers resolve once; lost and timed-out acks are
//! reported; server ack requests are answered once.

use std::time::Duration;

use crate::support::client::{ClientHarness, raw};
use spaces_socket::client::{EmitError, Event, ProtocolViolation};
use spaces_socket::spaces::Input;

#[test]
fn ids_count_from_zero_and_answers_resolve_exactly_once() {
    let mut h = ClientHarness::connected(|_| {});
    let a = h
        .client
        .emit_with_ack(h.now, "/chat", "q", &raw("[]"))
        .unwrap();
    h.client.emit(h.now, "/chat", "plain", &raw("[]")).unwrap();
    let b = h
        .client
        .emit_with_ack(h.now, "/chat", "q", &raw("[1]"))
        .unwrap();
    assert_eq!((a.get(), b.get()), (0, 1));
    assert_eq!(
        h.take_texts(),
        vec![
            r#"42/chat,0["q"]"#,
            r#"42/chat,["plain"]"#,
            r#"42/chat,1["q",1]"#
        ]
    );
    h.feed(r#"43/chat,1[1,"two"]"#);
    h.feed(r#"43/chat,1["again"]"#);
    let (_, events) = h.take();
    let received: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::AckReceived { id, args, .. } => Some((id.get(), args.to_json())),
            _ => None,
        })
        .collect();
    assert_eq!(received, vec![(1, r#"[1,"two"]"#.to_owned())]);
    assert!(events.contains(&Event::ProtocolViolation(ProtocolViolation::UnknownAck(1))));
    assert_eq!(h.client.pending_acks("/chat"), 1);
}

#[test]
fn acks_time_out_when_configured() {
    let mut h = ClientHarness::connected(|c| c.ack_timeout = Some(Duration::from_millis(100)));
    let id = h
        .client
        .emit_with_ack(h.now, "/chat", "q", &raw("[]"))
        .unwrap();
    h.advance(99);
    assert!(h.take().1.is_empty());
    h.advance(1);
    assert_eq!(
        h.take().1,
        vec![Event::AckTimedOut {
            nsp: "/chat".into(),
            id
        }]
    );
    assert_eq!(h.client.pending_acks("/chat"), 0);
}

#[test]
fn a_sent_ack_is_lost_when_the_connection_drops_but_a_buffered_one_survives() {
    let mut h = ClientHarness::connected(|_| {});
    let sent = h
        .client
        .emit_with_ack(h.now, "/chat", "q", &raw("[]"))
        .unwrap();
    h.put(Input::Closed { error: None });
    h.drain();
    let buffered = h
        .client
        .emit_with_ack(h.now, "/chat", "q", &raw("[]"))
        .unwrap();
    assert!(h.events.contains(&Event::AckLost {
        nsp: "/chat".into(),
        id: sent
    }));
    assert_eq!(h.client.pending_acks("/chat"), 1);
    assert_eq!(buffered.get(), 1, "ids are never reset");
}

#[test]
fn server_ack_requests_are_answered_once() {
    let mut h = ClientHarness::connected(|_| {});
    h.feed(r#"42/chat,7["ev","x"]"#);
    let (_, events) = h.take();
    let [
        Event::Message {
            ack: Some(id),
            name,
            ..
        },
    ] = &events[..]
    else {
        panic!("expected one event asking for an ack: {events:?}");
    };
    assert_eq!((id.get(), name.as_str()), (7, "ev"));
    h.client.ack(h.now, "/chat", *id, &("thanks",)).unwrap();
    assert_eq!(h.take_texts(), vec![r#"43/chat,7["thanks"]"#]);
    // Each request is answered once; ids the server never sent cannot even be written down.
    assert_eq!(
        h.client.ack(h.now, "/chat", *id, &raw("[]")),
        Err(EmitError::UnknownAck(7))
    );
}

#[test]
fn large_server_ack_ids_are_kept_as_u64() {
    let mut h = ClientHarness::connected(|_| {});
    h.feed(r#"42/chat,9007199254740993["ev"]"#);
    let (_, events) = h.take();
    assert!(matches!(
        &events[..],
        [Event::Message {
            ack: Some(id),
            ..
        }] if id.get() == 9007199254740993
    ));
}
