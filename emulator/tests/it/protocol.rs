//! The sans-IO Spaces emulator speaks socket.io 2.0.4's server side and the Spaces events
//! (docs/spaces-socket-api.md §1-§3, §7), driven directly with a virtual clock.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{Value, json};
use spaces_socket::engine::Handshake;
use spaces_socket::socket;
use spaces_socket_emulator::{
    CloseReason, ConnId, DemoAuth, Emulator, EmulatorConfig, EmulatorEvent, Rejection,
    ServerOutput, SpaceInfo, User, codes,
};

const URL: &str = "/socket.io/?EIO=3&transport=websocket";

struct Sim {
    emu: Emulator,
    start: Instant,
    now: Instant,
}

impl Sim {
    fn new(tweak: impl FnOnce(&mut EmulatorConfig)) -> Self {
        let mut config = EmulatorConfig::default();
        tweak(&mut config);
        let start = Instant::now();
        Self {
            emu: Emulator::new(config, Box::new(DemoAuth)),
            start,
            now: start,
        }
    }

    fn at(&mut self, ms: u64) {
        self.now = self.start + Duration::from_millis(ms);
    }

    fn connect(&mut self, uri: &str) -> ConnId {
        self.emu.handle_connect(self.now, uri).expect("accepted")
    }

    fn text(&mut self, conn: ConnId, text: &str) {
        self.emu.handle_text(self.now, conn, text);
    }

    fn drain(&mut self) -> Vec<ServerOutput> {
        std::iter::from_fn(|| self.emu.poll_output()).collect()
    }

    fn events(&mut self) -> Vec<EmulatorEvent> {
        std::iter::from_fn(|| self.emu.poll_event()).collect()
    }

    /// Connects, joins `/chat` as `token` and drains.
    fn join(&mut self, token: &str) -> ConnId {
        let conn = self.connect(URL);
        self.text(conn, &format!("40/chat?token={token}&tokenType=jwt,"));
        let out = self.drain();
        assert_eq!(
            texts(&out, conn).last().map(String::as_str),
            Some("40/chat,")
        );
        conn
    }

    /// Joins as `token` and subscribes to `space`; returns the connection and its sessionId.
    fn member(&mut self, token: &str, space: &str) -> (ConnId, String) {
        let conn = self.join(token);
        self.emit(
            conn,
            "SUBSCRIBE_CHANNEL",
            json!({"channel": {"_id": space, "type": "topic"}}),
        );
        let out = self.drain();
        let (name, payload) = only_event(&out, conn);
        assert_eq!(name, "CHANNEL_SUBSCRIBED");
        let session = payload["sessionId"].as_str().expect("sessionId").to_owned();
        (conn, session)
    }

    fn emit(&mut self, conn: ConnId, name: &str, payload: Value) {
        let frame = format!("42/chat,{}", json!([name, payload]));
        self.text(conn, &frame);
    }
}

/// The text frames sent to `conn`.
fn texts(out: &[ServerOutput], conn: ConnId) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            ServerOutput::Text { conn: c, text } if *c == conn => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn closed(out: &[ServerOutput], conn: ConnId) -> bool {
    out.iter()
        .any(|o| matches!(o, ServerOutput::Close { conn: c } if *c == conn))
}

/// Decodes `42/chat,["NAME",payload]`.
fn parse_event(frame: &str) -> (String, Value) {
    let packet = socket::decode(frame.strip_prefix('4').expect("message")).expect("packet");
    assert_eq!(packet.kind, socket::PacketKind::Event, "{frame}");
    assert_eq!(packet.nsp, "/chat");
    assert_eq!(packet.id, None, "the server never asks for acks");
    let name = packet.event_name().expect("name").into_owned();
    let payload = serde_json::from_str(packet.elements()[1].get()).expect("json");
    (name, payload)
}

fn events_for(out: &[ServerOutput], conn: ConnId) -> Vec<(String, Value)> {
    texts(out, conn).iter().map(|t| parse_event(t)).collect()
}

fn only_event(out: &[ServerOutput], conn: ConnId) -> (String, Value) {
    let mut events = events_for(out, conn);
    assert_eq!(events.len(), 1, "{out:?}");
    events.remove(0)
}

// ----- Engine.IO -----

#[test]
fn handshake_sends_the_open_packet_then_root_connect() {
    let mut sim = Sim::new(|_| {});
    let conn = sim.connect("/socket.io/?token=t&tokenType=jwt&EIO=3&transport=websocket");
    let out = sim.drain();
    let sent = texts(&out, conn);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let open = sent[0].strip_prefix('0').expect("open packet");
    let handshake = Handshake::parse(open).expect("handshake");
    let sid = handshake.sid.expose();
    assert_eq!(sid.len(), 20);
    assert!(
        sid.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(
        sent[0],
        format!(r#"0{{"sid":"{sid}","upgrades":[],"pingInterval":25000,"pingTimeout":60000}}"#)
    );
    assert_eq!(sent[1], "40");

    // Same seed, same sid; another seed, another sid; never twice the same.
    let mut twin = Sim::new(|_| {});
    let twin_conn = twin.connect(URL);
    assert_eq!(texts(&twin.drain(), twin_conn)[0], sent[0]);
    let mut other = Sim::new(|c| c.seed = 99);
    let other_conn = other.connect(URL);
    assert_ne!(texts(&other.drain(), other_conn)[0], sent[0]);
    let second = sim.connect(URL);
    assert_ne!(texts(&sim.drain(), second)[0], sent[0]);
}

#[test]
fn root_connect_can_be_withheld_and_is_never_sent_twice() {
    let mut sim = Sim::new(|c| {
        c.send_root_connect = false;
        c.ping_interval = Duration::from_millis(1500);
        c.ping_timeout = Duration::from_millis(1000);
    });
    let conn = sim.connect(URL);
    let sent = texts(&sim.drain(), conn);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].ends_with(r#","upgrades":[],"pingInterval":1500,"pingTimeout":1000}"#));
    sim.text(conn, "40");
    assert!(sim.drain().is_empty(), "a root CONNECT is never answered");
    // /chat works without the root 40.
    sim.text(conn, "40/chat?token=u1,");
    assert_eq!(texts(&sim.drain(), conn), ["40/chat,"]);
}

#[test]
fn ping_gets_a_bare_pong_and_other_engine_packets_are_ignored() {
    let mut sim = Sim::new(|_| {});
    let conn = sim.connect(URL);
    sim.drain();
    sim.text(conn, "2");
    assert_eq!(texts(&sim.drain(), conn), ["3"]);
    sim.text(conn, "2probe");
    assert_eq!(
        texts(&sim.drain(), conn),
        ["3"],
        "pong never carries the data"
    );
    for ignored in ["1", "3", "5", "6", "0{}", "b6", "b9AA==", "bx"] {
        sim.text(conn, ignored);
        assert!(sim.drain().is_empty(), "{ignored:?}");
    }
    for ignored in [&[0x02u8][..], &[0x09, 1, 2], &[]] {
        sim.emu.handle_binary(sim.now, conn, ignored);
        assert!(sim.drain().is_empty(), "{ignored:?}");
    }
    assert_eq!(sim.emu.connections(), 1);
}

#[test]
fn undecodable_text_frame_closes_the_connection() {
    for frame in ["9abc", "", "x"] {
        let mut sim = Sim::new(|_| {});
        let conn = sim.connect(URL);
        sim.drain();
        sim.events();
        sim.text(conn, frame);
        assert!(closed(&sim.drain(), conn), "{frame:?}");
        assert_eq!(sim.emu.connections(), 0);
        assert!(sim.events().contains(&EmulatorEvent::Closed {
            conn,
            reason: CloseReason::ParseError
        }));
    }
}

#[test]
fn bad_upgrade_requests_are_rejected_with_engine_io_texts() {
    let mut sim = Sim::new(|c| c.max_connections = 1);
    let cases = [
        ("/chat/?EIO=3&transport=websocket", Rejection::BadRequest),
        (
            "/socket.io?EIO=3&transport=websocket",
            Rejection::BadRequest,
        ),
        (
            "/socket.io/?EIO=3&transport=polling",
            Rejection::UnknownTransport,
        ),
        ("/socket.io/?EIO=3", Rejection::UnknownTransport),
        (
            "/socket.io/?EIO=3&transport=websocket&sid=abc",
            Rejection::UnknownSession,
        ),
    ];
    for (uri, want) in cases {
        assert_eq!(sim.emu.handle_connect(sim.now, uri), Err(want), "{uri}");
    }
    assert_eq!(Rejection::UnknownTransport.body(), "Transport unknown");
    assert_eq!(Rejection::BadRequest.body(), "Bad request");
    assert_eq!(Rejection::BadRequest.status(), 400);
    assert!(sim.drain().is_empty());
    sim.connect(URL);
    assert_eq!(
        sim.emu.handle_connect(sim.now, URL),
        Err(Rejection::TooManyConnections)
    );
}

#[test]
fn silent_connection_is_closed_at_exactly_interval_plus_timeout() {
    let mut sim = Sim::new(|c| {
        c.ping_interval = Duration::from_millis(300);
        c.ping_timeout = Duration::from_millis(200);
    });
    let quiet = sim.connect(URL);
    let chatty = sim.connect(URL);
    sim.drain();
    assert_eq!(
        sim.emu.poll_timeout(),
        Some(sim.start + Duration::from_millis(500))
    );
    sim.at(400);
    sim.text(chatty, "6"); // any packet counts, even a noop
    sim.at(499);
    sim.emu.handle_timeout(sim.now);
    assert!(sim.drain().is_empty(), "not before +500 ms");
    sim.at(500);
    sim.emu.handle_timeout(sim.now);
    let out = sim.drain();
    assert!(closed(&out, quiet));
    assert!(!closed(&out, chatty));
    assert_eq!(
        sim.emu.poll_timeout(),
        Some(sim.start + Duration::from_millis(900))
    );
    sim.at(900);
    sim.emu.handle_timeout(sim.now);
    assert!(closed(&sim.drain(), chatty));
    assert_eq!(sim.emu.poll_timeout(), None);
    assert_eq!(sim.emu.stats().ping_timeouts, 2);
}

// ----- Socket.IO namespace -----

#[test]
fn namespace_connect_answer_with_and_without_comma() {
    let mut sim = Sim::new(|_| {});
    let conn = sim.join("u1");
    sim.emu.disconnect_namespace(sim.now, conn);
    assert_eq!(texts(&sim.drain(), conn), ["41/chat,"]);

    let mut old = Sim::new(|c| c.namespace_comma = false);
    let conn = old.connect(URL);
    old.drain();
    old.text(conn, "40/chat?token=u1");
    assert_eq!(texts(&old.drain(), conn), ["40/chat"]);
    old.emu.disconnect_namespace(old.now, conn);
    assert_eq!(texts(&old.drain(), conn), ["41/chat"]);
    assert_eq!(old.emu.connections(), 1, "the websocket stays open");
}

#[test]
fn missing_or_bad_tokens_get_the_unauthorized_error_bytes() {
    let cases = [
        (
            "40/chat,",
            r#"44/chat,{"message":"No Authorization header was found","code":"credentials_required","type":"UnauthorizedError"}"#,
        ),
        (
            "40/chat?tokenType=jwt&token=expired,",
            r#"44/chat,{"message":"jwt expired","code":"invalid_token","type":"UnauthorizedError"}"#,
        ),
        (
            "40/chat?token=bad1",
            r#"44/chat,{"message":"invalid signature","code":"invalid_token","type":"UnauthorizedError"}"#,
        ),
    ];
    for (connect, want) in cases {
        let mut sim = Sim::new(|_| {});
        let conn = sim.connect(URL);
        sim.drain();
        sim.text(conn, connect);
        assert_eq!(texts(&sim.drain(), conn), [want]);
        // Not joined: Spaces events are ignored, and the websocket stays open.
        sim.emit(conn, "SUBSCRIBE_CHANNEL", json!({"channel": {"_id": "s1"}}));
        assert!(sim.drain().is_empty());
        assert_eq!(sim.emu.connections(), 1);
        assert_eq!(sim.emu.stats().auth_failures, 1);
    }
}

#[test]
fn handshake_url_token_wins_over_the_connect_query() {
    let mut sim = Sim::new(|_| {});
    let conn = sim.connect("/socket.io/?token=expired&EIO=3&transport=websocket");
    sim.drain();
    sim.text(conn, "40/chat?token=u1,");
    let sent = texts(&sim.drain(), conn);
    assert!(sent[0].contains("jwt expired"), "{sent:?}");

    let conn = sim.connect("/socket.io/?token=alice%40example.com&EIO=3&transport=websocket");
    sim.drain();
    sim.events();
    sim.text(conn, "40/chat?token=mallory,");
    assert_eq!(texts(&sim.drain(), conn), ["40/chat,"]);
    let joined = sim.events();
    assert!(
        joined.contains(&EmulatorEvent::Joined {
            conn,
            user: User::named("alice@example.com", "alice@example.com")
        }),
        "{joined:?}"
    );
}

#[test]
fn unknown_namespace_is_refused_with_query_stripped() {
    let mut sim = Sim::new(|_| {});
    let conn = sim.connect(URL);
    sim.drain();
    sim.text(conn, "40/admin?token=u1,");
    assert_eq!(
        texts(&sim.drain(), conn),
        [r#"44/admin,"Invalid namespace""#]
    );
}

#[test]
fn client_namespace_disconnect_leaves_rooms_and_later_events_are_ignored() {
    let mut sim = Sim::new(|_| {});
    let (a, _) = sim.member("u1", "s1");
    let (b, _) = sim.member("u2", "s1");
    sim.drain();
    sim.text(b, "41/chat,");
    let out = sim.drain();
    assert!(
        texts(&out, b).is_empty(),
        "no answer to a client DISCONNECT"
    );
    let (name, leaves) = only_event(&out, a);
    assert_eq!(name, "PRESENCE_EVENT_RESPONSE");
    assert_eq!(leaves["category"], "app.event.presence.party.leaves");
    assert_eq!(leaves["sender"]["_id"], "u2");
    sim.emit(
        b,
        "SEND_MESSAGE",
        json!({"topicId": "s1", "content": {"bodyText": "x"}}),
    );
    assert!(sim.drain().is_empty());
}

// ----- Spaces events -----

#[test]
fn subscribe_send_unsubscribe_between_two_connections() {
    let mut sim = Sim::new(|c| {
        c.spaces.insert("s1".into(), SpaceInfo::new("Project room"));
    });
    let (a, a_session) = sim.member("u1", "s1");
    // B joins: A is asked to re-announce itself.
    let b = sim.join("u2");
    sim.emit(
        b,
        "SUBSCRIBE_CHANNEL",
        json!({"channel": {"_id": "s1", "type": "topic"}}),
    );
    let out = sim.drain();
    let (name, subscribed) = only_event(&out, b);
    assert_eq!(name, "CHANNEL_SUBSCRIBED");
    assert_eq!(subscribed["channel"], json!({"_id": "s1", "type": "topic"}));
    assert!(subscribed["dtsid"].is_string());
    let b_session = subscribed["sessionId"].as_str().unwrap().to_owned();
    assert_ne!(a_session, b_session);
    let (name, request) = only_event(&out, a);
    assert_eq!(name, "PRESENCE_EVENT_RESPONSE");
    assert_eq!(
        request,
        json!({
            "category": "app.event.presence.request.parties",
            "sender": {"_id": "u2", "type": "user", "username": "u2", "displayname": "u2"},
            "topicId": "s1",
            "content": {"sessionId": b_session, "data": []},
        })
    );

    // A sends: its echo carries loopbackMetadata, B's copy does not.
    sim.at(1500);
    sim.emit(
        a,
        "SEND_MESSAGE",
        json!({"category": "chat", "topicId": "s1", "content": {"bodyText": "hello"},
               "loopbackMetadata": "m-1"}),
    );
    let out = sim.drain();
    let (name, echo) = only_event(&out, a);
    assert_eq!(name, "MESSAGE_SENT");
    assert_eq!(echo["loopbackMetadata"], "m-1");
    let (name, copy) = only_event(&out, b);
    assert_eq!(name, "MESSAGE_SENT");
    assert!(copy.get("loopbackMetadata").is_none(), "{copy}");
    let mut stripped = echo.clone();
    stripped.as_object_mut().unwrap().remove("loopbackMetadata");
    assert_eq!(stripped, copy, "same message otherwise");
    let id = copy["_id"].as_str().unwrap();
    assert_eq!(id.len(), 24);
    assert!(id.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(copy["created"], "2021-01-01T00:00:01.500Z");
    assert_eq!(
        copy["sender"],
        json!({"_id": "u1", "type": "user", "username": "u1", "displayname": "u1"})
    );
    assert_eq!(copy["topicTitle"], "Project room");
    assert_eq!(copy["topicType"], "group");
    assert_eq!(copy["content"], json!({"bodyText": "hello", "cid": "u1"}));
    assert_eq!(copy["category"], "chat");

    // Next message: a fresh id.
    sim.emit(
        b,
        "SEND_MESSAGE",
        json!({"topicId": "s1", "content": {"bodyText": "hi"}}),
    );
    let out = sim.drain();
    let (_, reply) = only_event(&out, a);
    assert_ne!(reply["_id"], copy["_id"]);
    assert_eq!(reply["sender"]["_id"], "u2");
    assert_eq!(
        only_event(&out, b).1["_id"],
        reply["_id"],
        "sender echo without loopback"
    );

    // B unsubscribes: B gets CHANNEL_UNSUBSCRIBED, A a server-origin party.leaves.
    sim.emit(
        b,
        "UNSUBSCRIBE_CHANNEL",
        json!({"channel": {"_id": "s1", "type": "topic"}}),
    );
    let out = sim.drain();
    assert_eq!(
        only_event(&out, b),
        (
            "CHANNEL_UNSUBSCRIBED".to_owned(),
            json!({"channel": {"_id": "s1", "type": "topic"}})
        )
    );
    let (name, leaves) = only_event(&out, a);
    assert_eq!(name, "PRESENCE_EVENT_RESPONSE");
    assert_eq!(
        leaves,
        json!({
            "origin": "server",
            "category": "app.event.presence.party.leaves",
            "sender": {"_id": "u2", "type": "user", "username": "u2", "displayname": "u2"},
            "topicId": "s1",
            "content": {"emitedby": "server", "sessionId": b_session, "data": []},
        })
    );
    // After leaving, B no longer receives the room's messages.
    sim.emit(
        a,
        "SEND_MESSAGE",
        json!({"topicId": "s1", "content": {"bodyText": "bye"}}),
    );
    let out = sim.drain();
    assert!(texts(&out, b).is_empty());
    assert_eq!(sim.emu.stats().messages_sent, 3);
    assert_eq!(sim.emu.stats().subscriptions, 1);
}

#[test]
fn send_message_fails_when_not_subscribed_or_too_large() {
    let mut sim = Sim::new(|c| c.max_payload = 200);
    let (a, _) = sim.member("u1", "s1");
    let sent = json!({"category": "chat", "topicId": "elsewhere", "content": {"bodyText": "x"}});
    sim.emit(a, "SEND_MESSAGE", sent.clone());
    let (name, failed) = only_event(&sim.drain(), a);
    assert_eq!(name, "SEND_MESSAGE_FAILED");
    let mut want = sent;
    want["sender"] = json!({"_id": "u1", "type": "user", "username": "u1", "displayname": "u1"});
    want["error"] = json!(codes::SUBSCRIPTION_REQUIRED);
    assert_eq!(failed, want);

    sim.emit(
        a,
        "SEND_MESSAGE",
        json!({"content": {"bodyText": "no topic"}}),
    );
    let (_, failed) = only_event(&sim.drain(), a);
    assert_eq!(failed["error"], "app.event.channel.subscription.required");

    let big = "x".repeat(300);
    sim.emit(
        a,
        "SEND_MESSAGE",
        json!({"topicId": "s1", "content": {"bodyText": big}}),
    );
    let (name, failed) = only_event(&sim.drain(), a);
    assert_eq!(name, "SEND_MESSAGE_FAILED");
    assert_eq!(failed["error"], codes::PAYLOAD_TOO_LARGE);
    assert_eq!(failed["content"]["bodyText"], big);
    assert_eq!(sim.emu.stats().messages_failed, 3);
    assert_eq!(sim.emu.stats().messages_sent, 0);
}

#[test]
fn subscribe_failures() {
    let mut sim = Sim::new(|c| {
        c.open_spaces = false;
        c.spaces.insert(
            "pin".into(),
            SpaceInfo {
                title: "Locked".into(),
                password: Some("1234".into()),
            },
        );
    });
    let a = sim.join("u1");
    let fail = |sim: &mut Sim, payload: Value| {
        sim.emit(a, "SUBSCRIBE_CHANNEL", payload);
        let (name, failed) = only_event(&sim.drain(), a);
        assert_eq!(name, "SUBSCRIBE_CHANNEL_FAILED");
        failed
    };
    assert_eq!(
        fail(&mut sim, json!({"version": "1.1"})),
        json!({"channel": null, "error": {"code": "invalid.parameters",
                                          "message": "channel data was not provided"}})
    );
    let failed = fail(&mut sim, json!({"channel": {"connected": false}}));
    assert_eq!(failed["error"]["code"], codes::INVALID_PARAMETERS);
    assert_eq!(failed["channel"], json!({"connected": false}));
    let failed = fail(
        &mut sim,
        json!({"channel": {"_id": "nope", "type": "topic"}}),
    );
    assert_eq!(failed["error"]["code"], codes::SPACE_NOT_FOUND);
    let failed = fail(
        &mut sim,
        json!({"channel": {"_id": "pin", "type": "topic", "password": "0000"}}),
    );
    assert_eq!(failed["error"]["code"], codes::WRONG_PASSWORD);
    assert!(
        failed["channel"].get("password").is_none(),
        "PIN never echoed"
    );
    fail(
        &mut sim,
        json!({"channel": {"_id": "pin", "password": null}}),
    );

    sim.emit(
        a,
        "SUBSCRIBE_CHANNEL",
        json!({"channel": {"_id": "pin", "type": "topic", "password": "1234"}}),
    );
    assert_eq!(only_event(&sim.drain(), a).0, "CHANNEL_SUBSCRIBED");
    assert_eq!(sim.emu.stats().subscriptions, 1);
}

#[test]
fn presence_goes_to_the_others_and_echoes_only_with_loopback_metadata() {
    let mut sim = Sim::new(|_| {});
    let (a, a_session) = sim.member("u1", "s1");
    let (b, _) = sim.member("u2", "s1");
    sim.drain();
    let online = json!({"category": "app.event.presence.party.online",
                        "content": {"idle": false, "role": "member"}});

    sim.emit(a, "SEND_PRESENCE_EVENT", online.clone());
    assert!(sim.drain().is_empty(), "no topicId: ignored");

    let mut event = online.clone();
    event["topicId"] = json!("s1");
    event["sender"] = json!({"_id": "spoofed"});
    sim.emit(a, "SEND_PRESENCE_EVENT", event);
    let out = sim.drain();
    assert!(
        texts(&out, a).is_empty(),
        "no echo without loopbackMetadata"
    );
    let (name, got) = only_event(&out, b);
    assert_eq!(name, "PRESENCE_EVENT_RESPONSE");
    assert_eq!(
        got,
        json!({
            "category": "app.event.presence.party.online",
            "topicId": "s1",
            "sender": {"_id": "u1", "type": "user", "username": "u1", "displayname": "u1"},
            "content": {"idle": false, "role": "member", "sessionId": a_session},
        })
    );

    let mut event = online;
    event["topicId"] = json!("s1");
    event["loopbackMetadata"] = json!({"n": 7});
    sim.emit(a, "SEND_PRESENCE_EVENT", event);
    let out = sim.drain();
    let (_, echo) = only_event(&out, a);
    assert_eq!(echo["loopbackMetadata"], json!({"n": 7}));
    let (_, copy) = only_event(&out, b);
    assert!(copy.get("loopbackMetadata").is_none());
}

#[test]
fn closing_or_kicking_sends_party_leaves_to_every_room() {
    let mut sim = Sim::new(|_| {});
    let (a, _) = sim.member("u1", "s1");
    sim.emit(a, "SUBSCRIBE_CHANNEL", json!({"channel": {"_id": "s2"}}));
    let (b, _) = sim.member("u2", "s1");
    let (c, _) = sim.member("u3", "s2");
    sim.drain();

    sim.emu.handle_closed(sim.now, a);
    let out = sim.drain();
    assert!(texts(&out, a).is_empty() && !closed(&out, a));
    for (conn, space) in [(b, "s1"), (c, "s2")] {
        let (name, leaves) = only_event(&out, conn);
        assert_eq!(name, "PRESENCE_EVENT_RESPONSE");
        assert_eq!(leaves["category"], "app.event.presence.party.leaves");
        assert_eq!(leaves["origin"], "server");
        assert_eq!(leaves["topicId"], space);
        assert_eq!(leaves["sender"]["_id"], "u1");
    }

    sim.emu.kick(sim.now, b);
    let out = sim.drain();
    assert!(closed(&out, b));
    assert!(texts(&out, c).is_empty(), "c is not in b's room");
    sim.emu.handle_closed(sim.now, b); // the listener reports it later: a no-op
    assert_eq!(sim.emu.connections(), 1);

    let stats = sim.emu.stats();
    assert_eq!(
        (stats.connections, stats.members, stats.subscriptions),
        (1, 1, 1)
    );
    sim.emu.kick_all(sim.now);
    assert!(closed(&sim.drain(), c));
    assert_eq!(sim.emu.stats().rooms, 0);
}

#[test]
fn a_server_participant_can_say_something() {
    let mut sim = Sim::new(|_| {});
    let (a, _) = sim.member("u1", "s1");
    let (b, _) = sim.member("u2", "s1");
    sim.drain();
    sim.events();
    let bot = User::named("bot", "Echo Bot");
    sim.emu.say(sim.now, "s1", &bot, "welcome");
    let out = sim.drain();
    for conn in [a, b] {
        let (name, message) = only_event(&out, conn);
        assert_eq!(name, "MESSAGE_SENT");
        assert_eq!(
            message["content"],
            json!({"bodyText": "welcome", "cid": "bot"})
        );
        assert_eq!(message["sender"]["displayname"], "Echo Bot");
    }
    let events = sim.events();
    assert!(matches!(
        &events[..],
        [EmulatorEvent::MessageSent { conn: None, space, text, .. }] if space == "s1" && text == "welcome"
    ));
}

#[test]
fn client_acks_and_binary_events_are_swallowed() {
    let mut sim = Sim::new(|_| {});
    let (a, _) = sim.member("u1", "s1");
    sim.emit(a, "UNKNOWN_EVENT", json!({}));
    assert!(sim.drain().is_empty());
    // An ack id is ignored, the event still handled.
    sim.text(
        a,
        r#"42/chat,7["SEND_MESSAGE",{"topicId":"s1","content":{"bodyText":"x"}}]"#,
    );
    let (name, _) = only_event(&sim.drain(), a);
    assert_eq!(name, "MESSAGE_SENT");
    // A binary event and its attachment are consumed; the connection stays open.
    sim.text(a, r#"451-/chat,["bin",{"_placeholder":true,"num":0}]"#);
    sim.emu.handle_binary(sim.now, a, &[4, 1, 2, 3]);
    sim.text(a, "b4AQID"); // an unexpected attachment: socket.io-parser throws
    assert!(closed(&sim.drain(), a));
}

#[test]
fn malformed_socket_io_packets_are_dropped_or_close_like_socket_io_2_0_4() {
    let dropped = [
        r#"42/chat,["ev""#,
        "47[1]",
        r#"42/chat,{"a":1}"#,
        r#"42/chat,[]"#,
        r#"42/chat,[1,2]"#,
        "43/chat,1[]",
        r#"44/chat,"x""#,
        "41",
        r#"42["SEND_MESSAGE",{}]"#,
        r#"42/chat,["SEND_MESSAGE","not an object"]"#,
        r#"42/chat,["SEND_MESSAGE"]"#,
        r#"42/chat,["SUBSCRIBE_CHANNEL"]"#,
        r#"42/chat,["UNSUBSCRIBE_CHANNEL",null]"#,
        r#"42/chat,["SEND_PRESENCE_EVENT",[]]"#,
        r#"42/chat,["SEND_MESSAGE",{"topicId":"s1","content":"plain"}]"#,
    ];
    let mut sim = Sim::new(|_| {});
    let (a, _) = sim.member("u1", "s1");
    for frame in dropped {
        sim.text(a, frame);
        let out = sim.drain();
        assert!(!closed(&out, a), "{frame:?}");
    }
    assert_eq!(sim.emu.connections(), 1);

    for frame in ["4", "45", "45woot", "4599999-[]"] {
        let mut sim = Sim::new(|_| {});
        let conn = sim.join("u1");
        sim.text(conn, frame);
        assert!(closed(&sim.drain(), conn), "{frame:?}");
    }
    let mut sim = Sim::new(|_| {});
    let conn = sim.join("u1");
    sim.emu.handle_binary(sim.now, conn, &[4, 1]);
    assert!(
        closed(&sim.drain(), conn),
        "binary data with no pending packet"
    );
}

/// Every frame the emulator sends is a well-formed Engine.IO packet.
fn assert_well_formed(out: &[ServerOutput]) {
    for o in out {
        if let ServerOutput::Text { text, .. } = o {
            assert!(spaces_socket::engine::decode_text(text).is_ok(), "{text:?}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_input_never_panics(
        frames in proptest::collection::vec(
            prop_oneof![
                any::<String>().prop_map(|s| (true, s.into_bytes())),
                "4[0-6]{0,2}(/chat,)?[0-9]{0,3}.{0,40}".prop_map(|s| (true, s.into_bytes())),
                r#"42/chat,\["(SUBSCRIBE_CHANNEL|SEND_MESSAGE|SEND_PRESENCE_EVENT|UNSUBSCRIBE_CHANNEL)",\{"(channel|topicId|content)":.{0,20}\}\]"#
                    .prop_map(|s| (true, s.into_bytes())),
                proptest::collection::vec(any::<u8>(), 0..16).prop_map(|b| (false, b)),
            ],
            1..24,
        )
    ) {
        let mut sim = Sim::new(|c| c.max_payload = 64);
        let (a, _) = sim.member("u1", "s1");
        let (b, _) = sim.member("u2", "s1");
        sim.drain();
        for (i, (is_text, bytes)) in frames.into_iter().enumerate() {
            let conn = if i % 2 == 0 { a } else { b };
            if is_text {
                sim.text(conn, &String::from_utf8_lossy(&bytes));
            } else {
                sim.emu.handle_binary(sim.now, conn, &bytes);
            }
            let out = sim.drain();
            assert_well_formed(&out);
            prop_assert!(sim.emu.connections() <= 2);
        }
        sim.at(85_000);
        sim.emu.handle_timeout(sim.now);
        sim.drain();
        prop_assert_eq!(sim.emu.connections(), 0);
        prop_assert_eq!(sim.emu.stats().subscriptions, 0);
    }
}

// ----- Live-service modes -----

/// A chat SEND_MESSAGE to `space` with `text` and a loopbackMetadata.
fn chat(space: &str, text: &str) -> Value {
    json!({
        "topicId": space,
        "category": "chat",
        "content": {"bodyText": text},
        "loopbackMetadata": "lb-1",
    })
}

#[test]
fn drop_loopback_echoes_without_loopback_metadata() {
    let mut sim = Sim::new(|c| c.drop_loopback = true);
    let (a, _) = sim.member("alice", "s");
    sim.emit(a, "SEND_MESSAGE", chat("s", "hi"));
    let out = sim.drain();
    let (name, payload) = only_event(&out, a);
    assert_eq!(name, "MESSAGE_SENT");
    assert_eq!(payload["content"]["bodyText"], "hi");
    assert!(payload.get("loopbackMetadata").is_none(), "{payload}");

    // Flipped off at run time: the loopback comes back again.
    sim.emu.config_mut().drop_loopback = false;
    sim.emit(a, "SEND_MESSAGE", chat("s", "again"));
    let (_, payload) = only_event(&sim.drain(), a);
    assert_eq!(payload["loopbackMetadata"], "lb-1");
}

#[test]
fn odd_message_fields_send_unexpected_types() {
    let mut sim = Sim::new(|c| c.odd_message_fields = true);
    let (a, _) = sim.member("alice", "s");
    let (b, _) = sim.member("bob", "s");
    sim.emit(a, "SEND_MESSAGE", chat("s", "hi"));
    let out = sim.drain();
    for conn in [a, b] {
        let (name, payload) = only_event(&out, conn);
        assert_eq!(name, "MESSAGE_SENT");
        assert_eq!(payload["version"], json!(2));
        assert_eq!(payload["assignees"], json!({"odd": true}));
        assert_eq!(payload["mentions"], json!("everyone"));
    }
    let (_, own) = only_event(&out, a);
    assert_eq!(own["loopbackMetadata"], "lb-1");
    // Server-side participants' messages too.
    sim.emu.say(
        sim.now,
        "s",
        &User::named("carol", "Carol"),
        "from the server",
    );
    let (_, payload) = only_event(&sim.drain(), b);
    assert_eq!(payload["version"], json!(2));
}

#[test]
fn send_error_sends_an_error_packet_and_keeps_the_connection() {
    let mut sim = Sim::new(|_| {});
    let (a, _) = sim.member("alice", "s");
    assert!(
        sim.emu
            .send_error(sim.now, a, "something broke", Some("boom"))
    );
    let out = sim.drain();
    let sent = texts(&out, a);
    assert_eq!(sent.len(), 1);
    let data = sent[0].strip_prefix("44/chat,").expect("an error packet");
    let data: Value = serde_json::from_str(data).expect("json");
    assert_eq!(data, json!({"message": "something broke", "code": "boom"}));
    assert!(!closed(&out, a));
    assert!(sim.emu.send_error(sim.now, a, "again", None));
    let out = sim.drain();
    assert!(texts(&out, a)[0].contains(codes::SERVER_ERROR));
    // Still joined and subscribed: a message goes through.
    sim.emit(a, "SEND_MESSAGE", chat("s", "still here"));
    let (name, _) = only_event(&sim.drain(), a);
    assert_eq!(name, "MESSAGE_SENT");
    // Not joined: nothing is sent.
    let c = sim.connect(URL);
    sim.drain();
    assert!(!sim.emu.send_error(sim.now, c, "nope", None));
    assert!(sim.drain().is_empty());
}

#[test]
fn unanswered_spaces_never_answer_subscribe() {
    let mut sim = Sim::new(|c| {
        c.unanswered_spaces.insert("quiet".to_owned());
    });
    let a = sim.join("alice");
    sim.emit(
        a,
        "SUBSCRIBE_CHANNEL",
        json!({"channel": {"_id": "quiet", "type": "topic"}}),
    );
    assert!(sim.drain().is_empty());
    assert_eq!(sim.emu.stats().subscriptions, 0);
    // Other spaces still answer.
    sim.emit(
        a,
        "SUBSCRIBE_CHANNEL",
        json!({"channel": {"_id": "loud", "type": "topic"}}),
    );
    let (name, _) = only_event(&sim.drain(), a);
    assert_eq!(name, "CHANNEL_SUBSCRIBED");
}

#[test]
fn unanswered_subscribe_one_in_drops_a_share_drawn_from_the_seed() {
    let run = |seed: u64| {
        let mut sim = Sim::new(|c| {
            c.seed = seed;
            c.unanswered_subscribe_one_in = 3;
        });
        let a = sim.join("alice");
        (0..60)
            .map(|k| {
                sim.emit(
                    a,
                    "SUBSCRIBE_CHANNEL",
                    json!({"channel": {"_id": format!("s{k}"), "type": "topic"}}),
                );
                !sim.drain().is_empty()
            })
            .collect::<Vec<bool>>()
    };
    let answered = run(1);
    let silent = answered.iter().filter(|a| !**a).count();
    assert!((5..=40).contains(&silent), "{silent} of 60 unanswered");
    assert_eq!(answered, run(1), "the same seed drops the same ones");
}

#[test]
fn message_rate_limit_refuses_sends_over_a_fixed_window() {
    let mut sim = Sim::new(|c| {
        c.message_rate_limit = Some(spaces_socket_emulator::RateLimit {
            max: 2,
            window: Duration::from_secs(10),
        });
    });
    let (a, _) = sim.member("alice", "s");
    let (b, _) = sim.member("bob", "s");
    let send = |sim: &mut Sim, conn, text: &str| {
        sim.emit(conn, "SEND_MESSAGE", chat("s", text));
        only_event(&sim.drain(), conn)
    };
    assert_eq!(send(&mut sim, a, "1").0, "MESSAGE_SENT");
    sim.at(5_000);
    assert_eq!(send(&mut sim, a, "2").0, "MESSAGE_SENT");
    sim.at(9_999);
    let (name, payload) = send(&mut sim, a, "3");
    assert_eq!(name, "SEND_MESSAGE_FAILED");
    assert_eq!(payload["error"], codes::RATE_LIMITED);
    assert_eq!(payload["content"]["bodyText"], "3");
    assert_eq!(payload["loopbackMetadata"], "lb-1");
    assert_eq!(payload["sender"]["_id"], "alice");
    // Per connection: bob has his own window.
    assert_eq!(send(&mut sim, b, "b1").0, "MESSAGE_SENT");
    // A new window starts with the first send after the old one ended.
    sim.at(10_000);
    assert_eq!(send(&mut sim, a, "4").0, "MESSAGE_SENT");
    assert_eq!(sim.emu.stats().messages_failed, 1);
}
