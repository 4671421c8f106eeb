//! Typed Spaces socket events (namespace `/chat`) and their JSON payloads.
//!
//! - Client → server: [`SendMessage`] and [`SendPresenceEvent`] (the session writes the
//!   subscription payloads itself). `None` fields are left out, never sent as `null`.
//! - Server → client: feed the event name and the raw JSON of its first argument to
//!   [`Incoming::decode`].
//!
//! The Spaces payloads are only partly documented and change over time, so every struct keeps
//! the fields it does not know in `extra` (written back out on serialization), every
//! non-essential field is an `Option`, and unknown categories and events are kept as text.
//!
//! `Debug` of every type here prints its JSON with the values of credential-like keys (`token`,
//! `password`, `sessionId`, `dtsid`, … see [`is_sensitive_key`]) replaced by `<redacted>`, so an
//! event can be logged with `{:?}` without leaking a session id, a space PIN or a token that an
//! unknown event happens to carry.

use core::fmt;
use std::borrow::Cow;

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::redact::Secret;

/// Client event: join a space's event stream. Payload
/// `{"channel": {"_id", "type": "topic", "password"?}}`, written by
/// [`Spaces::subscribe`](super::Spaces::subscribe).
pub const SUBSCRIBE_CHANNEL: &str = "SUBSCRIBE_CHANNEL";
/// Client event: leave a space's event stream. Payload `{"channel": {"_id", "type": "topic"}}`,
/// written by [`Spaces::unsubscribe`](super::Spaces::unsubscribe).
pub const UNSUBSCRIBE_CHANNEL: &str = "UNSUBSCRIBE_CHANNEL";
/// Client event: post a chat message, post (idea) or task. Payload [`SendMessage`].
pub const SEND_MESSAGE: &str = "SEND_MESSAGE";
/// Client event: presence and typing. Payload [`SendPresenceEvent`].
pub const SEND_PRESENCE_EVENT: &str = "SEND_PRESENCE_EVENT";
/// Server event: a subscription succeeded. Payload [`ChannelSubscribed`].
pub const CHANNEL_SUBSCRIBED: &str = "CHANNEL_SUBSCRIBED";
/// Server event: a subscription failed. Payload [`SubscribeChannelFailed`].
pub const SUBSCRIBE_CHANNEL_FAILED: &str = "SUBSCRIBE_CHANNEL_FAILED";
/// Server event: an unsubscription succeeded. Payload [`ChannelUnsubscribed`].
pub const CHANNEL_UNSUBSCRIBED: &str = "CHANNEL_UNSUBSCRIBED";
/// Server event: a message was posted, or a post/task/space changed. Payload [`MessageSent`].
pub const MESSAGE_SENT: &str = "MESSAGE_SENT";
/// Server event: our SEND_MESSAGE was refused. Payload [`SendMessageFailed`].
pub const SEND_MESSAGE_FAILED: &str = "SEND_MESSAGE_FAILED";
/// Server event: someone's presence or typing. Payload [`PresenceEventResponse`].
pub const PRESENCE_EVENT_RESPONSE: &str = "PRESENCE_EVENT_RESPONSE";
/// Server event: meeting and call state. Payload [`MediaSessionResponse`].
pub const MEDIA_SESSION_RESPONSE: &str = "MEDIA_SESSION_RESPONSE";

/// The server events [`Incoming::decode`] types, in the order of [`Incoming`]'s variants.
pub const SERVER_EVENTS: [&str; 7] = [
    CHANNEL_SUBSCRIBED,
    SUBSCRIBE_CHANNEL_FAILED,
    CHANNEL_UNSUBSCRIBED,
    MESSAGE_SENT,
    SEND_MESSAGE_FAILED,
    PRESENCE_EVENT_RESPONSE,
    MEDIA_SESSION_RESPONSE,
];

/// Presence category: "I am here". Also the answer to [`PRESENCE_REQUEST_PARTIES`].
pub const PRESENCE_ONLINE: &str = "app.event.presence.party.online";
/// Presence category: "I left". The server also sends it for a socket that unsubscribed or
/// disconnected.
pub const PRESENCE_LEAVES: &str = "app.event.presence.party.leaves";
/// Presence category: "everyone, announce yourselves". Send after subscribing; the server also
/// sends it to the room when another socket subscribes.
pub const PRESENCE_REQUEST_PARTIES: &str = "app.event.presence.request.parties";
/// Presence category: typing indicator (no "stopped typing"; clients show it for ~2 s).
pub const PRESENCE_TYPING: &str = "party.typing";

/// The `channel.type` of a space: Spaces calls spaces "topics".
pub const CHANNEL_TYPE_TOPIC: &str = "topic";

mod incoming;
mod one_pass;
mod outgoing;

pub use incoming::*;
pub use outgoing::*;

// ---------------------------------------------------------------------------------------------
// Category
// ---------------------------------------------------------------------------------------------

/// A message category (`category` of SEND_MESSAGE / MESSAGE_SENT).
///
/// Unknown categories (`topic.updated`, and the many older ones) are kept verbatim in
/// [`Category::Other`] and written back unchanged. Build one from text with
/// `Category::from("…")`, which maps the known names to their variants; equality compares the
/// wire names, so `Category::Other("chat".into()) == Category::Chat`.
#[derive(Clone, Default, Eq)]
pub enum Category {
    /// `"chat"`: a chat message (the default).
    #[default]
    Chat,
    /// `"idea"`: a post (shown as "Post" in the UI).
    Idea,
    /// `"task"`: a task.
    Task,
    /// Any other category, as received.
    Other(String),
}

impl Category {
    /// The wire name.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Chat => "chat",
            Self::Idea => "idea",
            Self::Task => "task",
            Self::Other(s) => s,
        }
    }
}

impl From<&str> for Category {
    fn from(s: &str) -> Self {
        match s {
            "chat" => Self::Chat,
            "idea" => Self::Idea,
            "task" => Self::Task,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl From<String> for Category {
    fn from(s: String) -> Self {
        match s.as_str() {
            "chat" | "idea" | "task" => Self::from(s.as_str()),
            _ => Self::Other(s),
        }
    }
}

impl PartialEq for Category {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl core::hash::Hash for Category {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(s) => f.debug_tuple("Other").field(s).finish(),
            known => f.write_str(match known {
                Self::Chat => "Chat",
                Self::Idea => "Idea",
                _ => "Task",
            }),
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Category {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Category {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::from)
    }
}

// ---------------------------------------------------------------------------------------------
// Redacting Debug
// ---------------------------------------------------------------------------------------------

pub use crate::redact::is_sensitive_key;
use crate::redact::redact_value as redact;

fn write_redacted(value: &Value, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let redacted = redact(value, false);
    let text = if f.alternate() {
        serde_json::to_string_pretty(&redacted)
    } else {
        serde_json::to_string(&redacted)
    };
    match text {
        Ok(text) => f.write_str(&text),
        Err(_) => f.write_str("<unprintable>"),
    }
}

/// `Debug` for raw event JSON: redacted like the typed events; text that is not JSON is not
/// shown at all (it could be anything), only its length.
struct RawJsonDebug<'a>(&'a str);

impl fmt::Debug for RawJsonDebug<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("<none>");
        }
        match serde_json::from_str::<Value>(self.0) {
            Ok(value) => write_redacted(&value, f),
            Err(_) => write!(f, "<{} bytes, not JSON>", self.0.len()),
        }
    }
}

/// `Debug` as `TypeName {redacted JSON}` for the payload types of this module.
macro_rules! redacted_json_debug {
    ($($ty:ident),* $(,)?) => {$(
        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($ty), " "))?;
                match serde_json::to_value(self) {
                    Ok(value) => write_redacted(&value, f),
                    Err(_) => f.write_str("<unprintable>"),
                }
            }
        }
    )*};
}

redacted_json_debug!(
    Channel,
    SubscribeChannel,
    UnsubscribeChannel,
    ParentMsg,
    Assignee,
    Content,
    SendMessage,
    MediaSession,
    PresenceContent,
    SendPresenceEvent,
    ChannelRef,
    Sender,
    ChannelSubscribed,
    SubscribeChannelFailed,
    ChannelUnsubscribed,
    MessageSent,
    SendMessageFailed,
    PresenceEventResponse,
    MediaSessionResponse,
);

// ---------------------------------------------------------------------------------------------
// serde helpers for secrets
// ---------------------------------------------------------------------------------------------

/// `Option<Secret<String>>` as an optional JSON string (the PIN).
mod opt_secret {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::redact::Secret;

    pub(super) fn serialize<S: Serializer>(
        value: &Option<Secret<String>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(secret) => serializer.serialize_some(secret.expose()),
            None => serializer.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Secret<String>>, D::Error> {
        Ok(Option::<String>::deserialize(deserializer)?.map(Secret::new))
    }
}

/// `Option<Secret<String>>` for server-assigned ids, accepting a JSON string or number (a
/// number is kept as its decimal text).
mod opt_secret_id {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer};
    use serde_json::Value;

    use crate::redact::Secret;

    pub(super) use super::opt_secret::serialize;

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Secret<String>>, D::Error> {
        match Value::deserialize(deserializer)? {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(Secret::new(s))),
            Value::Number(n) => Ok(Some(Secret::new(n.to_string()))),
            _ => Err(D::Error::custom("expected a string or number id")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::REDACTED;

    #[test]
    fn sensitive_keys() {
        for key in [
            "token",
            "accessToken",
            "sessionId",
            "dtsid",
            "password",
            "PIN",
            "mdsrvSessionId",
            "sid",
        ] {
            assert!(is_sensitive_key(key), "{key}");
        }
        for key in [
            "_id",
            "typing",
            "category",
            "inside",
            "pinned",
            "bodyText",
            "loopbackMetadata",
        ] {
            assert!(!is_sensitive_key(key), "{key}");
        }
    }

    #[test]
    fn redaction_hides_scalars_and_keeps_structure() {
        let v = serde_json::json!({
            "sessionId": "s1", "joinedSessionIds": ["a", "b"],
            "mediaSession": {"audio": true, "mdsrvSessionId": 7},
            "accessToken": {"token": "t", "type": "sat"}, "password": null, "name": "x"
        });
        let r = redact(&v, false);
        assert_eq!(
            r,
            serde_json::json!({
                "sessionId": REDACTED, "joinedSessionIds": [REDACTED, REDACTED],
                "mediaSession": {"audio": true, "mdsrvSessionId": REDACTED},
                "accessToken": {"token": REDACTED, "type": "sat"}, "password": null, "name": "x"
            })
        );
    }

    #[test]
    fn category_from_text_and_equality_by_wire_name() {
        assert_eq!(Category::from("idea"), Category::Idea);
        assert_eq!(
            Category::from("topic.updated".to_owned()),
            Category::Other("topic.updated".into())
        );
        assert_eq!(Category::Other("task".into()), Category::Task);
        assert_eq!(Category::Task.to_string(), "task");
    }

    #[test]
    fn a_message_is_typed_in_one_pass_with_every_other_member_kept_in_extra() {
        let json = r#"{"_id":"m1","category":"chat","topicId":"s1","created":null,
            "content":{"bodyText":"hi","ts":"42","data":[]},
            "sender":{"_id":"u1","type":"user","phone_numbers":[]},
            "parentMsg":{"_id":"p1"},"topic\u0054ype":"group"}"#;
        let m = MessageSent::decode_lenient(json).expect("a message");
        assert_eq!(m.id.as_deref(), Some("m1"));
        assert_eq!(m.category.as_str(), "chat");
        assert_eq!(m.topic_id.as_deref(), Some("s1"));
        assert_eq!(m.created, None, "null is absent");
        // A key written with an escape is still the field it names.
        assert_eq!(m.topic_type.as_deref(), Some("group"));
        assert_eq!(m.extra.keys().collect::<Vec<_>>(), ["parentMsg"]);
        let content = m.content.expect("content");
        assert_eq!(content.body_text.as_deref(), Some("hi"));
        assert_eq!(content.data, Some(Vec::new()));
        assert_eq!(content.extra.get("ts"), Some(&Value::from("42")));
        let sender = m.sender.expect("sender");
        assert_eq!(sender.id.as_deref(), Some("u1"));
        assert_eq!(sender.sender_type.as_deref(), Some("user"));
        assert_eq!(sender.extra.keys().collect::<Vec<_>>(), ["phone_numbers"]);
        // Without its category it is no message; a field of another type fails the strict pass
        // (the lenient one then keeps it in `extra`).
        assert!(serde_json::from_str::<MessageSent>(r#"{"_id":"m1"}"#).is_err());
        assert!(serde_json::from_str::<MessageSent>(r#"{"category":"chat","version":2}"#).is_err());
    }

    #[test]
    fn decode_without_argument_is_other() {
        let e = Incoming::decode(MESSAGE_SENT, None);
        assert_eq!(
            e,
            Incoming::Other {
                name: MESSAGE_SENT.into(),
                args_json: String::new()
            }
        );
        assert!(e.is_malformed());
        assert_eq!(e.name(), MESSAGE_SENT);
    }
}
