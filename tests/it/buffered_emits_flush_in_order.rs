//! Emits made while a namespace is not connected are kept, bounded, and sent in order once it
//! connects again.

use crate::support::client::{ClientHarness, raw};
use spaces_socket::client::{EmitError, Event};
use spaces_socket::spaces::Input;

#[test]
fn emits_before_connect_are_sent_after_the_namespace_connects_in_order() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
    h.connect();
    h.client.emit(h.now, "/chat", "a", &raw(r#"[1]"#)).unwrap();
    let id = h
        .client
        .emit_with_ack(h.now, "/chat", "b", &raw(r#"["x",{"y":2}]"#))
        .unwrap();
    assert_eq!(id.get(), 0);
    h.client.emit(h.now, "/chat", "c", &raw("[]")).unwrap();
    assert_eq!(h.client.buffered("/chat"), 3);
    h.open(25_000, 60_000);
    assert_eq!(
        h.take_texts(),
        vec!["40/chat,"],
        "only the CONNECT before the server answers"
    );
    h.feed("40/chat,");
    assert_eq!(
        h.take_texts(),
        vec![
            r#"42/chat,["a",1]"#,
            r#"42/chat,0["b","x",{"y":2}]"#,
            r#"42/chat,["c"]"#
        ]
    );
    assert_eq!(h.client.buffered("/chat"), 0);
}

#[test]
fn emits_made_while_disconnected_are_delivered_after_the_reconnect() {
    let mut h = ClientHarness::connected(|c| c.rng_seed = Some(3));
    h.put(Input::Closed { error: None });
    h.drain();
    for i in 0..5 {
        h.client.emit(h.now, "/chat", "m", &(i,)).unwrap();
    }
    assert!(
        h.take_texts().is_empty(),
        "nothing on the wire while offline"
    );
    h.run_until_open(100_000).unwrap();
    h.open(25_000, 60_000);
    assert_eq!(h.take_texts(), vec!["40/chat,"]);
    h.feed("40/chat");
    let sent = h.take_texts();
    let expected: Vec<String> = (0..5).map(|i| format!(r#"42/chat,["m",{i}]"#)).collect();
    assert_eq!(sent, expected);
}

#[test]
fn a_full_buffer_is_an_error_not_a_drop() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |c| c.max_buffered = 2);
    h.connect();
    h.client.emit(h.now, "/chat", "a", &raw("[]")).unwrap();
    h.client.emit(h.now, "/chat", "b", &raw("[]")).unwrap();
    let err = h.client.emit(h.now, "/chat", "c", &raw("[]")).unwrap_err();
    assert_eq!(
        err,
        EmitError::BufferFull {
            nsp: "/chat".into(),
            limit: 2
        }
    );
    assert_eq!(h.client.buffered("/chat"), 2);
}

#[test]
fn bad_arguments_and_reserved_names_are_refused() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
    assert!(matches!(
        h.client.emit(h.now, "/chat", "a", &raw("{}")),
        Err(EmitError::BadArguments(_))
    ));
    assert!(matches!(
        // Text is a JSON string, not an argument array.
        h.client.emit(h.now, "/chat", "a", "[1"),
        Err(EmitError::BadArguments(_))
    ));
    assert_eq!(
        h.client.emit(h.now, "/chat", "connect", &raw("[]")),
        Err(EmitError::ReservedEventName("connect".into()))
    );
    assert_eq!(
        h.client.emit(h.now, "/other", "a", &raw("[]")),
        Err(EmitError::UnknownNamespace("/other".into()))
    );
    assert_eq!(h.client.buffered("/chat"), 0);
}

#[test]
fn closing_reports_discarded_buffered_packets() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
    h.connect();
    h.client.emit(h.now, "/chat", "a", &raw("[]")).unwrap();
    h.client.close(h.now);
    h.drain();
    assert!(h.events.contains(&Event::BufferDiscarded {
        nsp: "/chat".into(),
        packets: 1
    }));
    assert!(h.events.contains(&Event::Closed));
}
