//! Spaces event payloads against the examples of the API reference
//! (`docs/spaces-socket-api.md` §2 and §3, comments removed): client payloads
//! serialize to exactly the documented JSON, every documented server payload parses into its
//! type, and whatever the types do not know survives untouched.

use crate::support::spaces::SpacesHarness;
use serde_json::{Value, json};
use spaces_socket::spaces::events::{
    self, Category, ChannelSubscribed, Incoming, MessageSent, PresenceEventResponse, SendMessage,
    SendPresenceEvent,
};

fn to_json<E: serde::Serialize>(event: &E) -> String {
    serde_json::to_string(event).expect("serializes")
}

fn value(json: &str) -> Value {
    serde_json::from_str(json).expect("test JSON is valid")
}

/// Compacts a pretty-printed reference example without reordering its keys.
fn compact(json: &str) -> String {
    let mut out = String::new();
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

fn decode(name: &str, json: &str) -> Incoming {
    Incoming::decode(name, Some(json))
}

// ----- client → server -----------------------------------------------------------------------

/// The argument of the `name` event among the frames a session wrote.
fn written_arg(texts: &[String], name: &str) -> String {
    let prefix = format!(r#"42/chat,["{name}","#);
    let frame = texts
        .iter()
        .find(|t| t.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name} among {texts:?}"));
    frame[prefix.len()..frame.len() - 1].to_owned()
}

#[test]
fn subscribe_channel_matches_the_reference() {
    // §2.1
    let reference = r#"{ "channel": { "_id": "594140a11d108619100a7363", "type": "topic", "password": "1234" } }"#;
    let mut h = SpacesHarness::new(|_| {});
    h.client
        .subscribe(h.now, "594140a11d108619100a7363", Some("1234"));
    // No PIN: no `password` key at all (not null).
    h.client.subscribe(h.now, "plain", None);
    h.client.connect(h.now);
    h.connect_with("t");
    let texts = h.take_texts();
    let subscribes: Vec<&String> = texts
        .iter()
        .filter(|t| t.contains("SUBSCRIBE_CHANNEL"))
        .collect();
    assert_eq!(
        written_arg(&[subscribes[0].clone()], "SUBSCRIBE_CHANNEL"),
        compact(reference)
    );
    assert_eq!(
        written_arg(&[subscribes[1].clone()], "SUBSCRIBE_CHANNEL"),
        r#"{"channel":{"_id":"plain","type":"topic"}}"#
    );
}

#[test]
fn unsubscribe_channel_matches_the_reference() {
    // §2.2
    let reference = r#"{ "channel": { "_id": "594140a11d108619100a7363", "type": "topic" } }"#;
    let mut h = SpacesHarness::new(|_| {});
    h.client.subscribe(h.now, "594140a11d108619100a7363", None);
    h.client.connect(h.now);
    h.connect_with("t");
    h.confirm_subscription("594140a11d108619100a7363");
    h.take_texts();
    h.client.unsubscribe(h.now, "594140a11d108619100a7363");
    assert_eq!(
        written_arg(&h.take_texts(), "UNSUBSCRIBE_CHANNEL"),
        compact(reference)
    );
}

#[test]
fn minimal_chat_message_matches_the_reference() {
    // §2.3, "the form used by most samples"
    let reference = r#"{ "category": "chat", "content": { "bodyText": "hello" }, "topicId": "594140a11d108619100a7360" }"#;
    assert_eq!(events::SEND_MESSAGE, "SEND_MESSAGE");
    assert_eq!(
        to_json(&SendMessage::chat("594140a11d108619100a7360", "hello")),
        compact(reference)
    );
}

#[test]
fn full_send_message_has_every_documented_field_and_no_nulls() {
    // §2.3 full field set (comments removed, `data` left empty).
    let reference = r#"{
      "category": "chat",
      "topicId": "<spaceId>",
      "content": {
        "bodyText": "<p>hello</p>",
        "description": "",
        "data": [],
        "assignees": [ { "_id": "<userId>" } ],
        "dueDate": "2021-06-30T00:00:00.000Z",
        "status": "pending"
      },
      "parentMsg": { "_id": "<postOrTaskId>" },
      "chatMessages": {},
      "mentions": [],
      "created": "2017-06-26T18:09:55.839Z",
      "version": "1.1",
      "loopbackMetadata": "anything"
    }"#;
    let mut msg = SendMessage::chat("<spaceId>", "<p>hello</p>")
        .with_parent("<postOrTaskId>")
        .with_loopback_metadata("anything");
    msg.content.description = Some(String::new());
    msg.content.data = Some(vec![]);
    msg.content.assignees = Some(vec![events::Assignee::new("<userId>")]);
    msg.content.due_date = Some("2021-06-30T00:00:00.000Z".into());
    msg.content.status = Some("pending".into());
    msg.chat_messages = Some(json!({}));
    msg.mentions = Some(vec![]);
    msg.created = Some("2017-06-26T18:09:55.839Z".into());
    msg.version = Some("1.1".into());
    let out = to_json(&msg);
    assert_eq!(value(&out), value(reference));
    assert!(!out.contains("null"), "{out}");

    // And the client payload parses back to the same struct (the emulator's direction).
    let back: SendMessage = serde_json::from_str(reference).expect("parses");
    assert_eq!(back, msg);
}

#[test]
fn post_and_task_constructors_match_the_web_client_shape() {
    // §4.1: post = idea with description, status pending, assignees [], chatMessages {}, version 1.1
    let idea = SendMessage::idea("S", "Title", "Details");
    assert_eq!(
        to_json(&idea),
        r#"{"category":"idea","content":{"bodyText":"Title","description":"Details","assignees":[],"status":"pending"},"topicId":"S","chatMessages":{},"version":"1.1"}"#
    );
    let task = SendMessage::task(
        "S",
        "Do it",
        Some("2021-06-30T00:00:00.000Z".into()),
        ["u1", "u2"],
    );
    assert_eq!(
        to_json(&task),
        r#"{"category":"task","content":{"bodyText":"Do it","assignees":[{"_id":"u1"},{"_id":"u2"}],"dueDate":"2021-06-30T00:00:00.000Z","status":"pending"},"topicId":"S","chatMessages":{},"version":"1.1"}"#
    );
    let undated = SendMessage::task("S", "Later", None, Vec::<String>::new());
    assert!(!to_json(&undated).contains("dueDate"));
}

#[test]
fn presence_online_matches_the_reference() {
    // §2.4
    let reference = r#"{
      "category": "app.event.presence.party.online",
      "topicId": "594140a11d108619100a7369",
      "content": {
        "desktop": false, "idle": false, "offline": false,
        "role": "guest",
        "mediaSession": { "audio": false, "video": false, "connected": false,
                          "phone": false, "screenshare": false, "selfMuted": true }
      },
      "loopbackMetadata": "some metadata"
    }"#;
    let mut online = SendPresenceEvent::online("594140a11d108619100a7369")
        .with_loopback_metadata("some metadata");
    online.content.role = Some("guest".into());
    assert_eq!(events::SEND_PRESENCE_EVENT, "SEND_PRESENCE_EVENT");
    assert_eq!(to_json(&online), compact(reference));
}

#[test]
fn other_presence_constructors_send_the_documented_categories_with_content() {
    for (event, category) in [
        (
            SendPresenceEvent::leaves("S"),
            "app.event.presence.party.leaves",
        ),
        (
            SendPresenceEvent::request_parties("S"),
            "app.event.presence.request.parties",
        ),
        (SendPresenceEvent::typing("S"), "party.typing"),
    ] {
        assert_eq!(
            to_json(&event),
            format!(r#"{{"category":"{category}","topicId":"S","content":{{}}}}"#)
        );
    }
    assert_eq!(events::PRESENCE_ONLINE, "app.event.presence.party.online");
    // The k6 reply pattern: answer a newcomer with receivers = [its sender].
    let reply =
        SendPresenceEvent::online("S").with_receivers(vec![json!({"_id": "u9", "type": "user"})]);
    let v = value(&to_json(&reply));
    assert_eq!(v["receivers"], json!([{"_id": "u9", "type": "user"}]));
}

// ----- server → client: every reference example -------------------------------------------

const CHANNEL_SUBSCRIBED_EX: &str = r#"{ "channel": { "_id": "5f1051f0f3ed772f915e19ed", "type": "topic" },
  "dtsid": "1234", "sessionId": "8b59782f-07af-4a7f-e61b-69df5e803d2f" }"#;

const SUBSCRIBE_CHANNEL_FAILED_EX: &str = r#"{ "channel": { "type": "topic", "_id": "594140a11d108619100a7363" },
  "error": { "code": "invalid.parameters", "message": "channel data was not provided" } }"#;

const CHANNEL_UNSUBSCRIBED_EX: &str =
    r#"{ "channel": { "_id": "594140a11d108619100a7363", "type": "topic" } }"#;

const MESSAGE_SENT_EX: &str = r#"{
  "_id": "5f2a0c…",
  "category": "chat",
  "topicId": "<spaceId>",
  "topicTitle": "My space",
  "topicType": "group",
  "sender": { "_id": "<userId>", "username": "a@b.com", "displayname": "A B",
              "picture_url": "https://…", "type": "user" },
  "content": {
    "cid": "<creatorUserId>",
    "bodyText": "<p>hello</p>",
    "description": "",
    "data": [ { "fileId": "…", "fileSize": 32553, "fileType": "image", "name": "a.jpg",
                "provider": "native", "providerFileType": "image/jpeg",
                "thumbnailFile": "…", "path": "https://…", "previewUrl": "https://…",
                "thumbnailUrl": "https://…" } ],
    "assignees": [ { "_id": "<userId>" } ], "status": "pending", "dueDate": "…",
    "startTime": "<iso>"
  },
  "mentions": [],
  "created": "<iso>",
  "version": "1.1",
  "loopbackMetadata": "…"
}"#;

const SEND_MESSAGE_FAILED_OLD_EX: &str = r#"{ "category": "chat", "content": { "bodyText": "this is the message.", "data": [] },
    "created": "2017-06-26T18:09:55.839Z",
    "sender": { "type": "user", "_id": "593989c06f0e166d93fab8ab" },
    "topicId": "594140a11d108619100a7360" }"#;

const SEND_MESSAGE_FAILED_EX: &str = r#"{ "content": { "bodyText": "<p>Message text</p>" }, "category": "chat",
    "topicId": "61013fa05f0104ae812e5123", "mentions": [],
    "sender": { "_id": "…", "username": "AnonymousUser", "displayname": "AnonymousUser",
                "picture_url": "https://accounts.zang.io/norevimages/noimage.jpg", "type": "anonymous" },
    "error": "not.authorized.by.topic.policy" }"#;

const PRESENCE_EVENT_RESPONSE_EX: &str = r#"{
  "category": "app.event.presence.party.online",
  "topicId": "<spaceId>",
  "sender": { "_id": "…", "username": "…", "displayname": "…", "picture_url": "…",
              "type": "user", "phone_numbers": [] },
  "content": { "desktop": false, "idle": false, "offline": false, "role": "member",
               "mediaSession": { "audio": false, "video": false, "connected": false,
                                 "screenshare": false, "selfMuted": true },
               "sessionId": "<socket session id>",
               "attendee": { "attendeeType": "userId", "attendee": "<id>" } },
  "receivers": [ { "_id": "…", "type": "user", "username": "…", "displayname": "…", "picture_url": "…" } ]
}"#;

/// §3.6 server-originated `party.leaves`.
const PRESENCE_LEAVES_EX: &str = r#"{"origin":"server","category":"app.event.presence.party.leaves","sender":{"_id":"u2","type":"user"},"topicId":"S","content":{"emitedby":"server","sessionId":"abc","data":[]}}"#;

/// §3.7 lists the fields; §2.5 gives the `tracksstatus` content.
const MEDIA_SESSION_RESPONSE_EX: &str = r#"{ "_id": "m1", "messageId": "mm1", "topicId": "<spaceId>",
  "sender": { "_id": "srv", "type": "spaceserver" }, "category": "tracksstatus",
  "content": { "mediaSession": { "audio": true, "video": false, "connected": true,
                                 "screenshare": false, "selfMuted": false } },
  "modified": "2021-06-30T00:00:00.000Z" }"#;

fn all_examples() -> [(&'static str, &'static str); 9] {
    [
        (events::CHANNEL_SUBSCRIBED, CHANNEL_SUBSCRIBED_EX),
        (
            events::SUBSCRIBE_CHANNEL_FAILED,
            SUBSCRIBE_CHANNEL_FAILED_EX,
        ),
        (events::CHANNEL_UNSUBSCRIBED, CHANNEL_UNSUBSCRIBED_EX),
        (events::MESSAGE_SENT, MESSAGE_SENT_EX),
        (events::SEND_MESSAGE_FAILED, SEND_MESSAGE_FAILED_OLD_EX),
        (events::SEND_MESSAGE_FAILED, SEND_MESSAGE_FAILED_EX),
        (events::PRESENCE_EVENT_RESPONSE, PRESENCE_EVENT_RESPONSE_EX),
        (events::PRESENCE_EVENT_RESPONSE, PRESENCE_LEAVES_EX),
        (events::MEDIA_SESSION_RESPONSE, MEDIA_SESSION_RESPONSE_EX),
    ]
}

#[test]
fn channel_subscribed_example_parses() {
    let Incoming::ChannelSubscribed(e) = decode("CHANNEL_SUBSCRIBED", CHANNEL_SUBSCRIBED_EX) else {
        panic!("not typed")
    };
    assert_eq!(e.channel.id, "5f1051f0f3ed772f915e19ed");
    assert_eq!(e.channel.channel_type.as_deref(), Some("topic"));
    assert_eq!(e.dtsid.as_ref().map(|s| s.expose().as_str()), Some("1234"));
    assert_eq!(
        e.session_id.as_ref().map(|s| s.expose().as_str()),
        Some("8b59782f-07af-4a7f-e61b-69df5e803d2f")
    );

    // The 2016 server sent only {channel}; a numeric dtsid is accepted as text.
    let Incoming::ChannelSubscribed(old) = decode(
        "CHANNEL_SUBSCRIBED",
        r#"{"channel":{"_id":"x"},"dtsid":42}"#,
    ) else {
        panic!("not typed")
    };
    assert!(old.session_id.is_none());
    assert_eq!(old.dtsid.as_ref().map(|s| s.expose().as_str()), Some("42"));
}

#[test]
fn subscribe_channel_failed_examples_parse() {
    let Incoming::SubscribeChannelFailed(e) =
        decode("SUBSCRIBE_CHANNEL_FAILED", SUBSCRIBE_CHANNEL_FAILED_EX)
    else {
        panic!("not typed")
    };
    assert_eq!(
        e.channel.as_ref().map(|c| c.id.as_str()),
        Some("594140a11d108619100a7363")
    );
    assert_eq!(e.error_code(), Some("invalid.parameters"));
    assert_eq!(e.error_message(), Some("channel data was not provided"));

    // Error as a bare string, and no channel at all.
    let Incoming::SubscribeChannelFailed(e) =
        decode("SUBSCRIBE_CHANNEL_FAILED", r#"{"error":"no.access"}"#)
    else {
        panic!("not typed")
    };
    assert!(e.channel.is_none());
    assert_eq!(e.error_code(), Some("no.access"));
    assert_eq!(e.error_message(), None);
}

#[test]
fn channel_unsubscribed_example_parses() {
    let Incoming::ChannelUnsubscribed(e) = decode("CHANNEL_UNSUBSCRIBED", CHANNEL_UNSUBSCRIBED_EX)
    else {
        panic!("not typed")
    };
    assert_eq!(e.channel.id, "594140a11d108619100a7363");
}

#[test]
fn message_sent_example_parses() {
    let Incoming::MessageSent(m) = decode("MESSAGE_SENT", MESSAGE_SENT_EX) else {
        panic!("not typed")
    };
    assert_eq!(m.id.as_deref(), Some("5f2a0c…"));
    assert_eq!(m.category, Category::Chat);
    assert_eq!(m.topic_id.as_deref(), Some("<spaceId>"));
    assert_eq!(m.topic_title.as_deref(), Some("My space"));
    assert_eq!(m.topic_type.as_deref(), Some("group"));
    let sender = m.sender.as_ref().expect("sender");
    assert_eq!(sender.id.as_deref(), Some("<userId>"));
    assert_eq!(sender.username.as_deref(), Some("a@b.com"));
    assert_eq!(sender.displayname.as_deref(), Some("A B"));
    assert_eq!(sender.picture_url.as_deref(), Some("https://…"));
    assert_eq!(sender.sender_type.as_deref(), Some("user"));
    let content = m.content.as_ref().expect("content");
    assert_eq!(content.body_text.as_deref(), Some("<p>hello</p>"));
    assert_eq!(content.description.as_deref(), Some(""));
    assert_eq!(content.data.as_ref().map(Vec::len), Some(1));
    assert_eq!(
        content
            .data
            .as_ref()
            .and_then(|d| d[0]["fileSize"].as_u64()),
        Some(32553)
    );
    assert_eq!(
        content.assignees.as_ref().map(|a| a[0].id.as_str()),
        Some("<userId>")
    );
    assert_eq!(content.status.as_deref(), Some("pending"));
    assert_eq!(content.due_date.as_deref(), Some("…"));
    assert_eq!(content.extra.get("cid"), Some(&json!("<creatorUserId>")));
    assert_eq!(content.extra.get("startTime"), Some(&json!("<iso>")));
    assert_eq!(m.mentions.as_deref(), Some(&[][..]));
    assert_eq!(m.created.as_deref(), Some("<iso>"));
    assert_eq!(m.version.as_deref(), Some("1.1"));
    assert_eq!(m.loopback_metadata.as_deref(), Some("…"));
    assert!(m.extra.is_empty(), "{:?}", m.extra);
}

#[test]
fn send_message_failed_examples_parse() {
    let Incoming::SendMessageFailed(old) =
        decode("SEND_MESSAGE_FAILED", SEND_MESSAGE_FAILED_OLD_EX)
    else {
        panic!("not typed")
    };
    assert_eq!(old.category, Some(Category::Chat));
    assert_eq!(old.topic_id.as_deref(), Some("594140a11d108619100a7360"));
    assert_eq!(
        old.content.as_ref().and_then(|c| c.body_text.as_deref()),
        Some("this is the message.")
    );
    assert_eq!(
        old.sender.as_ref().and_then(|s| s.id.as_deref()),
        Some("593989c06f0e166d93fab8ab")
    );
    assert_eq!(
        old.extra.get("created"),
        Some(&json!("2017-06-26T18:09:55.839Z"))
    );
    assert!(old.error.is_none());

    let Incoming::SendMessageFailed(new) = decode("SEND_MESSAGE_FAILED", SEND_MESSAGE_FAILED_EX)
    else {
        panic!("not typed")
    };
    assert_eq!(new.error_code(), Some("not.authorized.by.topic.policy"));
    assert_eq!(
        new.sender.as_ref().and_then(|s| s.sender_type.as_deref()),
        Some("anonymous")
    );
    assert_eq!(new.topic_id.as_deref(), Some("61013fa05f0104ae812e5123"));
    assert_eq!(new.extra.get("mentions"), Some(&json!([])));
}

#[test]
fn presence_event_response_examples_parse() {
    let Incoming::PresenceEventResponse(p) =
        decode("PRESENCE_EVENT_RESPONSE", PRESENCE_EVENT_RESPONSE_EX)
    else {
        panic!("not typed")
    };
    assert_eq!(p.category, events::PRESENCE_ONLINE);
    assert_eq!(p.topic_id.as_deref(), Some("<spaceId>"));
    assert_eq!(
        p.sender.as_ref().and_then(|s| s.extra.get("phone_numbers")),
        Some(&json!([]))
    );
    assert_eq!(p.receivers.as_ref().map(Vec::len), Some(1));
    let content = p.presence_content().expect("typed content");
    assert_eq!(content.role.as_deref(), Some("member"));
    assert_eq!(
        content.media_session.as_ref().and_then(|m| m.self_muted),
        Some(true)
    );
    assert_eq!(
        content.extra.get("sessionId"),
        Some(&json!("<socket session id>"))
    );

    let Incoming::PresenceEventResponse(leaves) =
        decode("PRESENCE_EVENT_RESPONSE", PRESENCE_LEAVES_EX)
    else {
        panic!("not typed")
    };
    assert_eq!(leaves.category, events::PRESENCE_LEAVES);
    assert_eq!(leaves.extra.get("origin"), Some(&json!("server")));
    assert_eq!(
        leaves.content.as_ref().map(|c| &c["emitedby"]),
        Some(&json!("server"))
    );
}

#[test]
fn media_session_response_example_parses() {
    let Incoming::MediaSessionResponse(m) =
        decode("MEDIA_SESSION_RESPONSE", MEDIA_SESSION_RESPONSE_EX)
    else {
        panic!("not typed")
    };
    assert_eq!(m.category, "tracksstatus");
    assert_eq!(m.id.as_deref(), Some("m1"));
    assert_eq!(m.message_id.as_deref(), Some("mm1"));
    assert_eq!(m.topic_id.as_deref(), Some("<spaceId>"));
    assert_eq!(
        m.sender.as_ref().and_then(|s| s.sender_type.as_deref()),
        Some("spaceserver")
    );
    assert_eq!(m.modified.as_deref(), Some("2021-06-30T00:00:00.000Z"));
    assert_eq!(
        m.content.as_ref().map(|c| &c["mediaSession"]["audio"]),
        Some(&json!(true))
    );
}

/// Serializes the payload inside a typed event back to JSON.
fn reserialize(event: &Incoming) -> Value {
    let v = match event {
        Incoming::ChannelSubscribed(e) => serde_json::to_value(e),
        Incoming::SubscribeChannelFailed(e) => serde_json::to_value(e),
        Incoming::ChannelUnsubscribed(e) => serde_json::to_value(e),
        Incoming::MessageSent(e) => serde_json::to_value(e),
        Incoming::SendMessageFailed(e) => serde_json::to_value(e),
        Incoming::PresenceEventResponse(e) => serde_json::to_value(e),
        Incoming::MediaSessionResponse(e) => serde_json::to_value(e),
        other => panic!("not typed: {other:?}"),
    };
    v.expect("serializes")
}

#[test]
fn every_example_is_typed_under_its_name_and_round_trips_unchanged() {
    for (name, json) in all_examples() {
        let event = decode(name, json);
        assert_eq!(event.name(), name);
        assert!(
            !matches!(event, Incoming::Other { .. }),
            "{name} fell back to Other"
        );
        assert_eq!(
            reserialize(&event),
            value(json),
            "{name} changed in a round trip"
        );
    }
}

#[test]
fn unknown_fields_at_every_level_survive_a_round_trip() {
    let json = r#"{"_id":"m","category":"chat","topicId":"S","futureTopLevel":{"nested":[1,2.5,"x"]},
      "sender":{"_id":"u","type":"user","phone_numbers":["+1"],"aType":"user"},
      "content":{"bodyText":"hi","cid":"u","meetingStatus":"ended","assignees":[{"_id":"a","displayname":"A"}]},
      "parentMsg":{"_id":"p"},"chatMessages":{"page":1}}"#;
    let parsed: MessageSent = serde_json::from_str(json).expect("parses");
    assert_eq!(
        parsed.extra.get("futureTopLevel"),
        Some(&json!({"nested": [1, 2.5, "x"]}))
    );
    assert_eq!(parsed.extra.get("parentMsg"), Some(&json!({"_id": "p"})));
    assert_eq!(
        serde_json::to_value(&parsed).expect("serializes"),
        value(json)
    );

    let presence = r#"{"category":"party.typing","topicId":"S","userId":"me","version":"1.1",
      "content":{"subscribeTime":"t","mediaSession":{}}}"#;
    let parsed: PresenceEventResponse = serde_json::from_str(presence).expect("parses");
    assert_eq!(parsed.extra.get("userId"), Some(&json!("me")));
    assert_eq!(
        serde_json::to_value(&parsed).expect("serializes"),
        value(presence)
    );

    // Client payloads keep extras too (the emulator parses them; users can add fields).
    let mut msg = SendMessage::chat("S", "x");
    msg.extra
        .insert("sender".into(), json!({"_id": "u", "type": "user"}));
    let out = value(&to_json(&msg));
    assert_eq!(out["sender"], json!({"_id": "u", "type": "user"}));
    let back: SendMessage = serde_json::from_value(out).expect("parses");
    assert_eq!(back, msg);
}

#[test]
fn unknown_categories_round_trip() {
    let json = r#"{"_id":"t","category":"topic.updated","topicId":"S"}"#;
    let Incoming::MessageSent(m) = decode("MESSAGE_SENT", json) else {
        panic!("not typed")
    };
    assert_eq!(m.category, Category::Other("topic.updated".into()));
    assert_eq!(m.category.as_str(), "topic.updated");
    assert_eq!(serde_json::to_string(&*m).expect("serializes"), json);

    let mut like = SendMessage::chat("S", "x");
    like.category = Category::from("like");
    assert!(to_json(&like).starts_with(r#"{"category":"like","#));
    let back: SendMessage = serde_json::from_str(&to_json(&like)).expect("parses");
    assert_eq!(back.category, Category::Other("like".into()));
    // Known names always come back as their variants.
    let idea: Category = serde_json::from_str(r#""idea""#).expect("parses");
    assert!(matches!(idea, Category::Idea));
}

#[test]
fn unknown_events_are_kept_raw() {
    let raw = r#"{ "channel": {"_id":"S"}, "accessToken": {"token":"sat-secret-1","type":"sat"},  "odd": [1,2] }"#;
    let event = decode("APP_PAIRING_AUTHORIZED", raw);
    assert_eq!(
        event,
        Incoming::Other {
            name: "APP_PAIRING_AUTHORIZED".into(),
            args_json: raw.into()
        }
    );
    assert_eq!(event.name(), "APP_PAIRING_AUTHORIZED");
    assert!(!event.is_malformed());
    // Its Debug hides the token but keeps the rest readable.
    let printed = format!("{event:?}");
    assert!(!printed.contains("sat-secret-1"), "{printed}");
    assert!(
        printed.contains("APP_PAIRING_AUTHORIZED") && printed.contains("odd"),
        "{printed}"
    );
}

#[test]
fn a_message_with_a_field_of_another_type_keeps_it_raw_instead_of_failing() {
    let raw = r#"{"category":"chat","content":"not an object","version":7}"#;
    let Incoming::MessageSent(message) = decode("MESSAGE_SENT", raw) else {
        panic!("a lenient MESSAGE_SENT");
    };
    assert_eq!(message.content, None);
    assert_eq!(message.extra["content"], serde_json::json!("not an object"));
    assert_eq!(message.extra["version"], serde_json::json!(7));
}

#[test]
fn malformed_known_events_fall_back_to_other_with_the_raw_json() {
    let cases = [
        (
            "MESSAGE_SENT",
            r#"{"_id":"m","topicId":"S","content":{"bodyText":"no category"}}"#,
        ),
        (
            "CHANNEL_SUBSCRIBED",
            r#"{"channel":"5f1051f0f3ed772f915e19ed"}"#,
        ),
        ("CHANNEL_SUBSCRIBED", r#"{"channel":{"type":"topic"}}"#),
        ("PRESENCE_EVENT_RESPONSE", r#"["an", "array"]"#),
        ("SEND_MESSAGE_FAILED", r#"{"category":"chat", "#),
        ("CHANNEL_UNSUBSCRIBED", "null"),
        ("MEDIA_SESSION_RESPONSE", ""),
    ];
    for (name, raw) in cases {
        let event = decode(name, raw);
        assert_eq!(
            event,
            Incoming::Other {
                name: name.into(),
                args_json: raw.into()
            },
            "{name} {raw}"
        );
        assert!(event.is_malformed(), "{name} {raw}");
        assert_eq!(event.name(), name);
    }
    // Not JSON at all: Debug shows only its size.
    let printed = format!(
        "{:?}",
        decode("SEND_MESSAGE_FAILED", r#"{"category":"chat", "#)
    );
    assert!(
        printed.contains("not JSON") && !printed.contains("category"),
        "{printed}"
    );
}

#[test]
fn secrets_never_show_in_debug() {
    let mut h = SpacesHarness::new(|_| {});
    h.client
        .subscribe(h.now, "594140a11d108619100a7363", Some("98765"));
    h.client.connect(h.now);
    h.connect_with("t");
    h.drain();
    for printed in [
        format!("{:?}", h.client),
        format!("{:?}", h.transmits),
        format!("{:#?}", h.transmits),
    ] {
        assert!(!printed.contains("98765"), "PIN leaked: {printed}");
        assert!(printed.contains("594140a11d108619100a7363"), "{printed}");
    }
    // ...while the wire form carries it.
    assert!(
        h.take_texts()
            .iter()
            .any(|t| t.contains(r#""password":"98765""#))
    );

    let subscribed: ChannelSubscribed =
        serde_json::from_str(CHANNEL_SUBSCRIBED_EX).expect("parses");
    for printed in [
        format!("{subscribed:?}"),
        format!("{:?}", decode("CHANNEL_SUBSCRIBED", CHANNEL_SUBSCRIBED_EX)),
    ] {
        assert!(
            !printed.contains("8b59782f-07af-4a7f-e61b-69df5e803d2f"),
            "session id leaked: {printed}"
        );
        assert!(!printed.contains("1234"), "dtsid leaked: {printed}");
        assert!(printed.contains("5f1051f0f3ed772f915e19ed"), "{printed}");
    }

    // Other parties' session ids inside untyped presence content, and an echoed PIN.
    let presence = decode("PRESENCE_EVENT_RESPONSE", PRESENCE_EVENT_RESPONSE_EX);
    assert!(!format!("{presence:?}").contains("<socket session id>"));
    let echoed = decode(
        "SUBSCRIBE_CHANNEL_FAILED",
        r#"{"channel":{"_id":"S","type":"topic","password":"98765"},"error":"bad.pin"}"#,
    );
    assert!(matches!(echoed, Incoming::SubscribeChannelFailed(_)));
    assert!(!format!("{echoed:?}").contains("98765"));
}
