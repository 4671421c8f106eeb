//! `spaces-server.js` behaves as documented (docs/spaces-socket-api.md §7 plus the conventions in
//! its header), on both socket.io versions: rooms, echoes with and without
//! loopbackMetadata, presence fan-out, party.leaves, failures, the 16 KB limit and the
//! stdin controls. Probed with raw websockets so the facts do not depend on any client.

use std::time::Duration;

use crate::support::peer::{SIO_VERSIONS, spaces_server};
use crate::support::raw_ws::{FRAME_TIMEOUT, RawWs, Received, chat_emit, chat_event};
use serde_json::{Value, json};

const QUIET: Duration = Duration::from_millis(300);

/// Subscribes `ws` to `space`, returns the CHANNEL_SUBSCRIBED payload.
fn subscribe(ws: &mut RawWs, space: &str) -> Value {
    ws.send(&chat_emit(
        "SUBSCRIBE_CHANNEL",
        &json!({"channel": {"_id": space, "type": "topic"}}),
    ));
    let frame = ws.recv_text_matching(
        "CHANNEL_SUBSCRIBED",
        |t| is_event(t, "CHANNEL_SUBSCRIBED"),
        FRAME_TIMEOUT,
    );
    chat_event(&frame).expect("event").1
}

fn is_event(frame: &str, name: &str) -> bool {
    chat_event(frame).is_some_and(|(n, _)| n == name)
}

fn next_event(ws: &mut RawWs, name: &str) -> Value {
    let frame = ws.recv_text_matching(name, |t| is_event(t, name), FRAME_TIMEOUT);
    chat_event(&frame).expect("event").1
}

#[test]
fn room_fan_out_echoes_and_presence() {
    for sio in SIO_VERSIONS {
        let mut server = spaces_server(sio, 25_000, 60_000);
        let (mut alice, _) = RawWs::chat_session(server.port(), "alice");
        let (mut bob, _) = RawWs::chat_session(server.port(), "bob~phone");

        let alice_sub = subscribe(&mut alice, "s1");
        let bob_sub = subscribe(&mut bob, "s1");
        assert_ne!(alice_sub["sessionId"], bob_sub["sessionId"], "{sio}");

        // Existing members are asked to announce themselves when someone joins.
        let request = next_event(&mut alice, "PRESENCE_EVENT_RESPONSE");
        assert_eq!(
            request["category"], "app.event.presence.request.parties",
            "{sio}"
        );
        assert_eq!(request["topicId"], "s1", "{sio}");
        assert_eq!(
            request["sender"]["_id"], "bob",
            "{sio}: user id stops at '~'"
        );
        assert_eq!(
            request["content"]["sessionId"], bob_sub["sessionId"],
            "{sio}"
        );
        assert_eq!(request["content"]["data"], json!([]), "{sio}");

        // SEND_MESSAGE: sender gets loopbackMetadata, the room gets the same message without it.
        alice.send(&chat_emit(
            "SEND_MESSAGE",
            &json!({"category": "chat", "topicId": "s1", "content": {"bodyText": "hi"},
                    "loopbackMetadata": "lb-1"}),
        ));
        let mine = next_event(&mut alice, "MESSAGE_SENT");
        let theirs = next_event(&mut bob, "MESSAGE_SENT");
        assert_eq!(mine["loopbackMetadata"], "lb-1", "{sio}: {mine}");
        assert!(theirs.get("loopbackMetadata").is_none(), "{sio}: {theirs}");
        assert_eq!(mine["_id"], theirs["_id"], "{sio}");
        let expected_sender = json!({"_id": "alice", "type": "user",
            "username": "alice@example.test", "displayname": "User alice"});
        assert_eq!(theirs["sender"], expected_sender, "{sio}");
        assert_eq!(theirs["topicTitle"], "Space s1", "{sio}");
        assert_eq!(theirs["topicType"], "group", "{sio}");
        assert_eq!(theirs["content"]["bodyText"], "hi", "{sio}");

        // Presence without loopbackMetadata: others only.
        alice.send(&chat_emit(
            "SEND_PRESENCE_EVENT",
            &json!({"category": "app.event.presence.party.online", "topicId": "s1",
                    "content": {"idle": false}}),
        ));
        let online = next_event(&mut bob, "PRESENCE_EVENT_RESPONSE");
        assert_eq!(
            online["category"], "app.event.presence.party.online",
            "{sio}"
        );
        assert_eq!(online["sender"], expected_sender, "{sio}");
        assert_eq!(online["content"]["idle"], false, "{sio}");
        assert_eq!(
            online["content"]["sessionId"], alice_sub["sessionId"],
            "{sio}"
        );
        alice.assert_no_text_matching(
            "presence echo",
            |t| is_event(t, "PRESENCE_EVENT_RESPONSE"),
            QUIET,
        );

        // With loopbackMetadata the sender gets an echo too (and others still do not see it).
        alice.send(&chat_emit(
            "SEND_PRESENCE_EVENT",
            &json!({"category": "party.typing", "topicId": "s1", "loopbackMetadata": "lb-2"}),
        ));
        let echo = next_event(&mut alice, "PRESENCE_EVENT_RESPONSE");
        assert_eq!(echo["loopbackMetadata"], "lb-2", "{sio}");
        assert_eq!(
            echo["content"]["sessionId"], alice_sub["sessionId"],
            "{sio}"
        );
        let typing = next_event(&mut bob, "PRESENCE_EVENT_RESPONSE");
        assert_eq!(typing["category"], "party.typing", "{sio}");
        assert!(typing.get("loopbackMetadata").is_none(), "{sio}: {typing}");

        // Presence without a topicId is ignored.
        alice.send(&chat_emit(
            "SEND_PRESENCE_EVENT",
            &json!({"category": "party.typing", "content": {"topicId": "s1"}}),
        ));
        bob.assert_no_text_matching("ignored presence", |t| t.starts_with("42/chat,"), QUIET);

        // `say` reaches every member, from server-bot.
        assert_eq!(server.command("say s1 hello room"), "2", "{sio}");
        for ws in [&mut alice, &mut bob] {
            let said = next_event(ws, "MESSAGE_SENT");
            assert_eq!(said["sender"]["_id"], "server-bot", "{sio}");
            assert_eq!(said["content"]["bodyText"], "hello room", "{sio}");
        }

        // UNSUBSCRIBE: reply to the leaver, server-origin party.leaves to the rest.
        bob.send(&chat_emit(
            "UNSUBSCRIBE_CHANNEL",
            &json!({"channel": {"_id": "s1", "type": "topic"}}),
        ));
        let unsub = next_event(&mut bob, "CHANNEL_UNSUBSCRIBED");
        assert_eq!(unsub["channel"]["_id"], "s1", "{sio}");
        let leaves = next_event(&mut alice, "PRESENCE_EVENT_RESPONSE");
        assert_eq!(leaves["origin"], "server", "{sio}");
        assert_eq!(
            leaves["category"], "app.event.presence.party.leaves",
            "{sio}"
        );
        assert_eq!(leaves["sender"]["_id"], "bob", "{sio}");
        assert_eq!(
            leaves["content"]["sessionId"], bob_sub["sessionId"],
            "{sio}"
        );

        // Disconnect also sends party.leaves.
        let _ = subscribe(&mut bob, "s1");
        let _ = next_event(&mut alice, "PRESENCE_EVENT_RESPONSE"); // request.parties
        alice.close();
        let gone = next_event(&mut bob, "PRESENCE_EVENT_RESPONSE");
        assert_eq!(gone["category"], "app.event.presence.party.leaves", "{sio}");
        assert_eq!(gone["sender"]["_id"], "alice", "{sio}");

        let stats = server.wait_for_stats(|s| s["chatSockets"] == 1, Duration::from_secs(5));
        assert_eq!(stats["subscriptions"], 1, "{sio}: {stats}");
        assert_eq!(stats["messages"], 2, "{sio}: {stats}");
        assert_eq!(stats["presenceEvents"], 2, "{sio}: {stats}");
        bob.close();
    }
}

#[test]
fn failures_are_reported_to_the_sender() {
    for sio in SIO_VERSIONS {
        let server = spaces_server(sio, 25_000, 60_000);
        let (mut ws, _) = RawWs::chat_session(server.port(), "carol");

        // Not subscribed.
        ws.send(&chat_emit(
            "SEND_MESSAGE",
            &json!({"category": "chat", "topicId": "s9", "content": {"bodyText": "x"}}),
        ));
        let failed = next_event(&mut ws, "SEND_MESSAGE_FAILED");
        assert_eq!(
            failed["error"], "app.event.channel.subscription.required",
            "{sio}"
        );
        assert_eq!(failed["topicId"], "s9", "{sio}");
        assert_eq!(failed["content"]["bodyText"], "x", "{sio}");
        assert_eq!(failed["sender"]["_id"], "carol", "{sio}");

        // No topicId.
        ws.send(&chat_emit("SEND_MESSAGE", &json!({"category": "chat"})));
        let failed = next_event(&mut ws, "SEND_MESSAGE_FAILED");
        assert_eq!(failed["error"], "invalid.parameters", "{sio}");

        // Over 16 KB of JSON, even when subscribed.
        let _ = subscribe(&mut ws, "s9");
        let big = "a".repeat(16 * 1024);
        ws.send(&chat_emit(
            "SEND_MESSAGE",
            &json!({"category": "chat", "topicId": "s9", "content": {"bodyText": big}}),
        ));
        let failed = next_event(&mut ws, "SEND_MESSAGE_FAILED");
        assert_eq!(failed["error"], "payload.too.large", "{sio}");
        // Just under the limit is fine: {"category":"chat","topicId":"s9","content":{"bodyText":"…"}}.
        let overhead = json!({"category": "chat", "topicId": "s9", "content": {"bodyText": ""}})
            .to_string()
            .len();
        let fits = "b".repeat(16 * 1024 - overhead);
        ws.send(&chat_emit(
            "SEND_MESSAGE",
            &json!({"category": "chat", "topicId": "s9", "content": {"bodyText": fits}}),
        ));
        let sent = next_event(&mut ws, "MESSAGE_SENT");
        assert_eq!(
            sent["content"]["bodyText"].as_str().map(str::len),
            Some(fits.len())
        );

        // SUBSCRIBE_CHANNEL failures.
        ws.send(&chat_emit("SUBSCRIBE_CHANNEL", &json!({})));
        let failed = next_event(&mut ws, "SUBSCRIBE_CHANNEL_FAILED");
        assert_eq!(
            failed["error"],
            json!({"code": "invalid.parameters", "message": "channel data was not provided"}),
            "{sio}"
        );
        ws.send(&chat_emit(
            "SUBSCRIBE_CHANNEL",
            &json!({"channel": {"_id": "locked-1", "type": "topic"}}),
        ));
        let failed = next_event(&mut ws, "SUBSCRIBE_CHANNEL_FAILED");
        assert_eq!(failed["channel"]["_id"], "locked-1", "{sio}");
        assert_eq!(failed["error"]["code"], "invalid.password", "{sio}");
        ws.send(&chat_emit(
            "SUBSCRIBE_CHANNEL",
            &json!({"channel": {"_id": "forbidden-1", "type": "topic"}}),
        ));
        let failed = next_event(&mut ws, "SUBSCRIBE_CHANNEL_FAILED");
        assert_eq!(failed["error"]["code"], "not.authorized", "{sio}");
        ws.send(&chat_emit(
            "SUBSCRIBE_CHANNEL",
            &json!({"channel": {"_id": "locked-1", "type": "topic", "password": "1234"}}),
        ));
        let ok = next_event(&mut ws, "CHANNEL_SUBSCRIBED");
        assert_eq!(
            ok["channel"],
            json!({"_id": "locked-1", "type": "topic"}),
            "{sio}"
        );
        ws.close();
    }
}

#[test]
fn stdin_controls_disconnect_kick_and_drop() {
    for sio in SIO_VERSIONS {
        let mut server = spaces_server(sio, 25_000, 60_000);
        let expected_41 = if sio == "2.0.4" {
            "41/chat,"
        } else {
            "41/chat"
        };

        let (mut ws, _) = RawWs::chat_session(server.port(), "dave");
        assert_eq!(server.command("disconnect-chat"), "1", "{sio}");
        assert_eq!(
            ws.recv_text(),
            expected_41,
            "{sio}: server namespace disconnect"
        );
        // The engine connection survives a namespace disconnect.
        ws.send("2");
        assert_eq!(ws.recv_text(), "3", "{sio}");

        assert_eq!(server.command("kick"), "1", "{sio}");
        assert_eq!(
            ws.recv(FRAME_TIMEOUT),
            Received::Closed(Some(1000)),
            "{sio}: kick closes with 1000"
        );

        let (mut ws, _) = RawWs::chat_session(server.port(), "erin");
        assert_eq!(server.command("drop"), "1", "{sio}");
        assert_eq!(
            ws.recv(FRAME_TIMEOUT),
            Received::Closed(None),
            "{sio}: drop ends TCP without a close frame"
        );
        server.wait_for_stats(|s| s["connections"] == 0, Duration::from_secs(5));
    }
}
