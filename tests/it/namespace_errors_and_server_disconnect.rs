//! `44/chat,{…}` refuses the namespace until the next session; `41/chat,` ends it for good.

use crate::support::client::ClientHarness;
use spaces_socket::client::{DisconnectReason, Event, ProtocolViolation, Transmit};
use spaces_socket::spaces::Input;

#[test]
fn an_auth_error_is_reported_with_its_payload_and_retried_only_on_reconnect() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |c| c.rng_seed = Some(2));
    h.connect();
    h.open(25_000, 60_000);
    h.take();
    let payload = r#"{"message":"jwt expired","code":"invalid_token","type":"UnauthorizedError"}"#;
    h.feed(&format!("44/chat,{payload}"));
    let (t, e) = h.take();
    assert!(t.is_empty(), "no retry on the same session");
    assert_eq!(
        e,
        vec![Event::NamespaceError {
            nsp: "/chat".into(),
            data: payload.into()
        }]
    );
    assert!(!h.client.is_connected("/chat"));
    h.put(Input::Closed { error: None });
    h.drain();
    h.run_until_open(100_000).unwrap();
    h.open(25_000, 60_000);
    assert_eq!(
        h.take_texts(),
        vec!["40/chat,"],
        "CONNECT again on the new session"
    );
}

#[test]
fn a_string_error_payload_is_kept_as_json() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
    h.connect();
    h.open(25_000, 60_000);
    h.take();
    h.feed(r#"44/chat,"Authentication error""#);
    let (_, e) = h.take();
    assert_eq!(
        e,
        vec![Event::NamespaceError {
            nsp: "/chat".into(),
            data: r#""Authentication error""#.into()
        }]
    );
}

#[test]
fn a_server_disconnect_of_the_last_namespace_closes_without_reconnecting() {
    let mut h = ClientHarness::connected(|_| {});
    h.feed("41/chat,");
    let (t, e) = h.take();
    assert_eq!(t, vec![Transmit::Close]);
    assert_eq!(
        e,
        vec![
            Event::Disconnected {
                nsp: "/chat".into(),
                reason: DisconnectReason::ServerDisconnect
            },
            Event::Closed
        ]
    );
    assert!(h.client.is_closed());
    assert_eq!(h.client.poll_timeout(), None);
    // Joining again reconnects.
    h.client.join(h.now, "/chat").unwrap();
    h.drain();
    assert!(h.transmits.iter().any(|t| matches!(t, Transmit::Open(_))));
}

/// A client with `/chat` and `/b` connected on one engine, everything taken.
fn chat_and_b_connected() -> ClientHarness {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
    h.client.join(h.now, "/b").unwrap();
    h.connect();
    h.open(25_000, 60_000);
    h.feed("40/chat,");
    h.feed("40/b,");
    h.take();
    h
}

#[test]
fn a_server_disconnect_of_one_namespace_keeps_the_others() {
    let mut h = chat_and_b_connected();
    h.feed("41/b,");
    let (t, _) = h.take();
    assert!(t.is_empty());
    assert!(h.client.is_connected("/chat"));
    assert!(!h.client.is_connected("/b"));
    assert!(h.client.is_open());
}

#[test]
fn leaving_sends_disconnect_and_closing_is_graceful() {
    let mut h = chat_and_b_connected();
    h.client.leave(h.now, "/b").unwrap();
    assert_eq!(h.take_texts(), vec!["41/b,"]);
    h.client.close(h.now);
    let (t, e) = h.take();
    assert_eq!(t, vec![Transmit::Text("41/chat,".into()), Transmit::Close]);
    assert!(e.contains(&Event::Disconnected {
        nsp: "/chat".into(),
        reason: DisconnectReason::ClientDisconnect
    }));
    assert_eq!(e.last(), Some(&Event::Closed));
    assert_eq!(h.client.poll_timeout(), None);
}

#[test]
fn the_session_id_and_token_never_appear_in_debug_output() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat?token=TOPSECRET", |_| {});
    h.connect();
    h.open(25_000, 60_000);
    let shown = format!("{:?} {:?} {:?}", h.client, h.transmits, h.events);
    assert!(!shown.contains("TOPSECRET"), "{shown}");
    assert!(!shown.contains("SID_SECRET"), "{shown}");
}

#[test]
fn odd_base64_frames_are_reported_and_skipped_like_engine_io_client_does() {
    let mut h = ClientHarness::connected(|_| {});
    for odd in ["b", "b9AAAA", "b4!!!"] {
        h.feed(odd);
    }
    let (transmits, events) = h.take();
    let violations = events
        .iter()
        .filter(|e| matches!(e, Event::ProtocolViolation(ProtocolViolation::Engine(_))))
        .count();
    assert_eq!(violations, 3, "{events:?}");
    assert!(transmits.is_empty(), "nothing closed: {transmits:?}");
    assert!(h.client.is_connected("/chat"));
    h.feed(r#"42/chat,["still","here"]"#);
    let (_, events) = h.take();
    assert!(
        matches!(&events[..], [Event::Message { name, .. }] if name == "still"),
        "{events:?}"
    );
}
