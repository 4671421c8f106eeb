//! Namespaces share one engine; `/` is never CONNECTed by the client, and other namespaces
//! never wait for the root `40` (a 2.0.4 server may never send it).

use crate::support::client::ClientHarness;
use spaces_socket::client::{Event, Query, Transmit};

#[test]
fn the_handshake_url_and_the_connect_carry_the_same_query() {
    let mut h = ClientHarness::new("http://127.0.0.1:3000/chat", |c| {
        c.query = Query::new()
            .with("tokenType", "jwt")
            .with("token", "abc.def");
    });
    h.connect();
    let (t, _) = h.take();
    match &t[..] {
        [Transmit::Open(url)] => assert_eq!(
            url.expose(),
            "ws://127.0.0.1:3000/socket.io/?tokenType=jwt&token=abc.def&EIO=3&transport=websocket"
        ),
        other => panic!("{other:?}"),
    }
    h.open(25_000, 60_000);
    assert_eq!(h.take_texts(), vec!["40/chat?tokenType=jwt&token=abc.def,"]);
}

#[test]
fn chat_connects_without_the_root_40_and_root_is_never_connected_by_the_client() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
    h.connect();
    h.open(25_000, 60_000);
    let texts = h.take_texts();
    assert!(!texts.iter().any(|t| t == "40"), "never send 40 for /");
    h.feed("40/chat,");
    assert!(h.client.is_connected("/chat"));
    assert!(!h.client.root_connected());
    h.feed("40");
    assert!(h.client.root_connected());
}

#[test]
fn several_namespaces_multiplex_on_one_engine() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
    h.client.join(h.now, "/admin").unwrap();
    h.connect();
    h.open(25_000, 60_000);
    assert_eq!(h.take_texts(), vec!["40/chat,", "40/admin,"]);
    h.take();
    h.feed("40/admin,");
    h.feed(r#"42/admin,["x"]"#);
    h.feed(r#"42/chat,["early"]"#);
    let (_, e) = h.take();
    assert!(matches!(&e[0], Event::Connected { nsp } if nsp == "/admin"));
    assert!(matches!(&e[1], Event::Message { nsp, .. } if nsp == "/admin"));
    assert_eq!(e.len(), 2, "the /chat event waits for /chat's CONNECT");
    h.feed("40/chat");
    let (_, e) = h.take();
    assert!(matches!(&e[0], Event::Connected { nsp } if nsp == "/chat"));
    assert!(matches!(&e[1], Event::Message { name, .. } if name == "early"));
}

#[test]
fn events_for_unjoined_namespaces_and_bad_packets_do_not_disturb_others() {
    let mut h = ClientHarness::connected(|_| {});
    h.feed(r#"42/nope,["x"]"#);
    h.feed(r#"42/chat,["ev""#);
    h.feed("47[1]");
    h.feed(r#"42/chat,["ok"]"#);
    let (_, e) = h.take();
    assert!(matches!(e.last(), Some(Event::Message { name, .. }) if name == "ok"));
    assert!(h.client.is_connected("/chat"));
}

#[test]
fn an_undecodable_engine_frame_drops_the_connection_and_reconnects() {
    let mut h = ClientHarness::connected(|_| {});
    h.feed("9abc");
    let (t, e) = h.take();
    assert!(t.contains(&Transmit::Close));
    assert!(e.iter().any(
        |e| matches!(e, Event::Disconnected { reason, .. } if reason.as_str() == "transport error")
    ));
    assert!(
        e.iter()
            .any(|e| matches!(e, Event::ReconnectScheduled { .. }))
    );
}
