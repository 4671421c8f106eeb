//! The emulator's loopback listener is a real websocket server: a raw tungstenite client can
//! handshake, join `/chat`, subscribe, send and get its echo.

use std::time::{Duration, Instant};

use serde_json::json;
use spaces_socket_emulator::User;
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

use crate::support::{READ_LIMIT, event, member, next_text, open, send, start};

#[test]
fn a_raw_websocket_client_can_join_subscribe_send_and_get_its_echo() {
    let server = start(|_| {});
    assert_eq!(
        server.url(),
        format!("http://127.0.0.1:{}/chat", server.local_addr().port())
    );
    assert_eq!(server.port(), server.local_addr().port());
    let messages = server.messages();
    let mut a = member(&server, "u1", "s1");
    let mut b = member(&server, "u2", "s1");
    let (name, request) = event(&next_text(&mut a));
    assert_eq!(name, "PRESENCE_EVENT_RESPONSE");
    assert_eq!(request["category"], "app.event.presence.request.parties");
    assert_eq!(request["sender"]["_id"], "u2");

    send(&mut a, "2");
    assert_eq!(next_text(&mut a), "3");

    send(
        &mut a,
        r#"42/chat,["SEND_MESSAGE",{"category":"chat","topicId":"s1","content":{"bodyText":"hello"},"loopbackMetadata":"lb"}]"#,
    );
    let (name, echo) = event(&next_text(&mut a));
    assert_eq!(name, "MESSAGE_SENT");
    assert_eq!(echo["loopbackMetadata"], "lb");
    assert_eq!(echo["sender"]["_id"], "u1");
    assert_eq!(echo["content"]["bodyText"], "hello");
    let created = echo["created"].as_str().expect("created");
    assert!(
        created.starts_with("20") && created.ends_with('Z'),
        "{created}"
    );
    let (name, copy) = event(&next_text(&mut b));
    assert_eq!(name, "MESSAGE_SENT");
    assert_eq!(copy["_id"], echo["_id"]);
    assert!(copy.get("loopbackMetadata").is_none());

    let seen = messages.recv_timeout(READ_LIMIT).expect("message reported");
    assert_eq!(
        (
            seen.space.as_str(),
            seen.sender.id.as_str(),
            seen.text.as_str()
        ),
        ("s1", "u1", "hello")
    );
    assert!(!seen.from_server);

    server.say("s1", &User::named("bot", "Bot"), "hi all");
    for ws in [&mut a, &mut b] {
        let (name, said) = event(&next_text(ws));
        assert_eq!(name, "MESSAGE_SENT");
        assert_eq!(said["content"], json!({"bodyText": "hi all", "cid": "bot"}));
    }
    assert!(messages.recv_timeout(READ_LIMIT).unwrap().from_server);

    let stats = server.stats();
    assert_eq!(
        (stats.connections, stats.subscriptions, stats.messages_sent),
        (2, 2, 2)
    );

    // B goes away: A hears party.leaves.
    drop(b);
    let (name, leaves) = event(&next_text(&mut a));
    assert_eq!(name, "PRESENCE_EVENT_RESPONSE");
    assert_eq!(leaves["category"], "app.event.presence.party.leaves");
    assert_eq!(leaves["sender"]["_id"], "u2");
}

#[test]
fn bad_paths_and_transports_get_http_400() {
    let server = start(|_| {});
    for (path, body) in [
        ("/chat?EIO=3&transport=websocket", "Bad request"),
        ("/socket.io/?EIO=3&transport=polling", "Transport unknown"),
    ] {
        match open(&server, path) {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 400, "{path}");
                assert_eq!(response.body().as_deref(), Some(body.as_bytes()), "{path}");
            }
            other => panic!("{path}: expected HTTP 400, got {:?}", other.map(|_| ())),
        }
    }
    assert_eq!(server.stats().connections, 0);
}

#[test]
fn kick_all_and_ping_timeout_close_with_1000_and_stop_is_prompt() {
    let server = start(|c| {
        c.ping_interval = Duration::from_millis(150);
        c.ping_timeout = Duration::from_millis(100);
        c.namespace_comma = false;
    });
    let url = "/socket.io/?EIO=3&transport=websocket";

    // A silent client is closed about interval + timeout (250 ms) after the handshake.
    let mut silent = open(&server, url).unwrap();
    let opened = Instant::now();
    next_text(&mut silent);
    next_text(&mut silent);
    let close = loop {
        match silent.read() {
            Ok(Message::Close(frame)) => break frame,
            Ok(_) => {}
            Err(e) => panic!("expected a close frame, got {e}"),
        }
    };
    let after = opened.elapsed();
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Normal));
    assert!(
        after >= Duration::from_millis(200) && after < Duration::from_secs(3),
        "{after:?}"
    );

    // A client that pings stays; kick_all closes it.
    let mut pinger = open(&server, url).unwrap();
    next_text(&mut pinger);
    next_text(&mut pinger);
    send(&mut pinger, "40/chat?token=u9");
    assert_eq!(next_text(&mut pinger), "40/chat", "namespace_comma = false");
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(100));
        send(&mut pinger, "2");
        assert_eq!(next_text(&mut pinger), "3");
    }
    assert_eq!(server.stats().connections, 1);
    server.kick_all();
    let closed = loop {
        match pinger.read() {
            Ok(Message::Close(frame)) => break frame,
            Ok(_) => {}
            Err(e) => panic!("expected a close frame, got {e}"),
        }
    };
    assert_eq!(closed.map(|f| f.code), Some(CloseCode::Normal));

    // A connected client that never reads does not hold up stop().
    let mut idle = open(&server, url).unwrap();
    next_text(&mut idle);
    let stopping = Instant::now();
    server.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "{:?}",
        stopping.elapsed()
    );
}
