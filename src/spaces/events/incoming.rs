//! What the server sends: subscription answers, messages and their failures, presence and
//! media sessions, and [`Incoming`] for any of them (never losing a payload it cannot type).

use super::*;

/// A channel as the server echoes it: `{"_id", "type"}` plus anything else it adds.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelRef {
    /// The space id (`_id`).
    #[serde(rename = "_id")]
    pub id: String,
    /// `type`, `"topic"` for spaces.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub channel_type: Option<String>,
    /// Other fields (a failure may echo back what we sent, PIN included; `Debug` redacts it).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The user behind an event (`sender`).
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sender {
    /// User id (`_id`). Compare with our own to drop echoes of our own messages.
    #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `username` (an e-mail for users, `"AnonymousUser"`-like for guests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `displayname`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub displayname: Option<String>,
    /// `picture_url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picture_url: Option<String>,
    /// `type`: `user`, `anonymous`, `phone`, `spaceserver`, …
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub sender_type: Option<String>,
    /// Other fields (`phone_numbers`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// CHANNEL_SUBSCRIBED: we are now in the space's room. Sent only to the subscribing socket.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelSubscribed {
    /// The space.
    pub channel: ChannelRef,
    /// `dtsid`, the "device topic session" id (reference only; older servers omit it).
    #[serde(
        default,
        with = "opt_secret_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub dtsid: Option<Secret<String>>,
    /// `sessionId`, this socket's session id (reference only; older servers omit it).
    #[serde(
        default,
        with = "opt_secret_id",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_id: Option<Secret<String>>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// SUBSCRIBE_CHANNEL_FAILED: the subscription was refused. Sent only to the requester.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscribeChannelFailed {
    /// The channel we asked for, echoed (absent when we sent none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<ChannelRef>,
    /// `error`: `{"code", "message"}` or a bare string; see [`Self::error_code`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SubscribeChannelFailed {
    /// The error code (`error.code`, or `error` itself when it is a string), e.g.
    /// `"invalid.parameters"`.
    pub fn error_code(&self) -> Option<&str> {
        error_code(self.error.as_ref())
    }

    /// The error message (`error.message`), when the error is an object.
    pub fn error_message(&self) -> Option<&str> {
        error_message(self.error.as_ref())
    }
}

/// CHANNEL_UNSUBSCRIBED: we left the space's room. Sent only to the requester.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelUnsubscribed {
    /// The space.
    pub channel: ChannelRef,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// MESSAGE_SENT: a message, post or task was created (or updated/deleted, or a space was
/// renamed/archived: category `topic.updated`). Sent to the room **and** to the sender, so
/// filter by [`Sender::id`] to ignore our own; only our own copy carries `loopback_metadata`.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageSent {
    /// `_id` of the message / post / task.
    #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `category`. Required: a MESSAGE_SENT without it decodes as [`Incoming::Other`].
    pub category: Category,
    /// `topicId`: the space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<String>,
    /// `topicTitle`: the space's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_title: Option<String>,
    /// `topicType`: `group`, `direct`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_type: Option<String>,
    /// `sender`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Sender>,
    /// `content`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// `mentions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mentions: Option<Vec<Value>>,
    /// `created` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// `version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `loopbackMetadata`, on the originating socket's copy only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loopback_metadata: Option<String>,
    /// Other fields (`parentMsg`, `chatMessages`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MessageSent {
    /// Decodes a MESSAGE_SENT payload. A field whose type is not the expected one (a number
    /// `version`, `assignees` as plain ids, `mentions` as an object, …) never fails the whole
    /// message: it is left out of its typed field and kept, as received, in `extra` (of the
    /// message, its `content` or its `sender`). `None` only when the payload is not an object
    /// or has no usable `category`.
    pub fn decode_lenient(json: &str) -> Option<Self> {
        // The common case, typed in one pass; the lenient path only runs for odd payloads.
        if let Ok(message) = serde_json::from_str(json) {
            return Some(message);
        }
        let map = serde_json::from_str::<Map<String, Value>>(json).ok()?;
        Self::from_map(map)
    }
}

/// Structs whose fields are taken one by one from a JSON object, each of a wrong type left in
/// `extra` rather than failing the whole value.
trait Lenient: DeserializeOwned {
    fn from_map(map: Map<String, Value>) -> Option<Self>;
}

/// `map[key]` as a `T`; a value of another type stays in `map` (so in `extra`).
fn lenient_field<T: DeserializeOwned>(map: &mut Map<String, Value>, key: &str) -> Option<T> {
    let value = map.remove(key)?;
    match T::deserialize(&value) {
        Ok(typed) => Some(typed),
        Err(_) => {
            map.insert(key.to_owned(), value);
            None
        }
    }
}

/// `map[key]` as a lenient struct: strictly typed if it fits, else field by field.
fn lenient_struct<T: Lenient>(map: &mut Map<String, Value>, key: &str) -> Option<T> {
    let value = map.remove(key)?;
    if let Ok(typed) = T::deserialize(&value) {
        return Some(typed);
    }
    match value {
        Value::Object(inner) => T::from_map(inner),
        other => {
            map.insert(key.to_owned(), other);
            None
        }
    }
}

impl Lenient for MessageSent {
    fn from_map(mut map: Map<String, Value>) -> Option<Self> {
        Some(Self {
            category: lenient_field(&mut map, "category")?,
            id: lenient_field(&mut map, "_id"),
            topic_id: lenient_field(&mut map, "topicId"),
            topic_title: lenient_field(&mut map, "topicTitle"),
            topic_type: lenient_field(&mut map, "topicType"),
            sender: lenient_struct(&mut map, "sender"),
            content: lenient_struct(&mut map, "content"),
            mentions: lenient_field(&mut map, "mentions"),
            created: lenient_field(&mut map, "created"),
            version: lenient_field(&mut map, "version"),
            loopback_metadata: lenient_field(&mut map, "loopbackMetadata"),
            extra: map,
        })
    }
}

impl Lenient for Content {
    fn from_map(mut map: Map<String, Value>) -> Option<Self> {
        Some(Self {
            body_text: lenient_field(&mut map, "bodyText"),
            description: lenient_field(&mut map, "description"),
            data: lenient_field(&mut map, "data"),
            assignees: lenient_field(&mut map, "assignees"),
            due_date: lenient_field(&mut map, "dueDate"),
            status: lenient_field(&mut map, "status"),
            extra: map,
        })
    }
}

impl Lenient for Sender {
    fn from_map(mut map: Map<String, Value>) -> Option<Self> {
        Some(Self {
            id: lenient_field(&mut map, "_id"),
            username: lenient_field(&mut map, "username"),
            displayname: lenient_field(&mut map, "displayname"),
            picture_url: lenient_field(&mut map, "picture_url"),
            sender_type: lenient_field(&mut map, "type"),
            extra: map,
        })
    }
}

/// SEND_MESSAGE_FAILED: our SEND_MESSAGE was refused (e.g. `not.authorized.by.topic.policy`).
/// Sent only to the sender; older servers echo the message without `error`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessageFailed {
    /// `topicId` of the refused message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<String>,
    /// `category` of the refused message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    /// `content` of the refused message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    /// `sender` as resolved by the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Sender>,
    /// `error`: a string or `{"code", "message"}`; see [`Self::error_code`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Value>,
    /// `loopbackMetadata` of the refused message, if echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loopback_metadata: Option<String>,
    /// Other fields (`mentions`, `created`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SendMessageFailed {
    /// The error code (`error` when it is a string, or `error.code`).
    pub fn error_code(&self) -> Option<&str> {
        error_code(self.error.as_ref())
    }

    /// The error message (`error.message`), when the error is an object.
    pub fn error_message(&self) -> Option<&str> {
        error_message(self.error.as_ref())
    }
}

/// PRESENCE_EVENT_RESPONSE: another party's presence or typing (a SEND_PRESENCE_EVENT relayed
/// by the server, or server-originated `request.parties` / `party.leaves`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceEventResponse {
    /// `category`, see the `PRESENCE_*` constants. Required: without it the event decodes as
    /// [`Incoming::Other`].
    pub category: String,
    /// `topicId`: the space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<String>,
    /// `sender`: whose presence this is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Sender>,
    /// `content`, as sent by the party plus the server's `sessionId`; its shape depends on the
    /// category and on the sending client, so it stays untyped. [`Self::presence_content`]
    /// reads it as a [`PresenceContent`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// `receivers`: empty or absent when meant for everyone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receivers: Option<Vec<Value>>,
    /// `loopbackMetadata`, on the originator's copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loopback_metadata: Option<String>,
    /// Other fields (`origin`, `version`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PresenceEventResponse {
    /// `content` read as a [`PresenceContent`]; `None` when absent or of another shape.
    pub fn presence_content(&self) -> Option<PresenceContent> {
        self.content
            .as_ref()
            .and_then(|c| PresenceContent::deserialize(c).ok())
    }
}

/// MEDIA_SESSION_RESPONSE: meeting and call state (`app.event.meeting.started`,
/// `space.call.offer`, `tracksstatus`, …). A chat client can ignore it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaSessionResponse {
    /// `category`. Required: without it the event decodes as [`Incoming::Other`].
    pub category: String,
    /// `topicId`: the space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<String>,
    /// `_id`.
    #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `messageId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// `sender` (type may be `"spaceserver"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Sender>,
    /// `content`: meeting fields, untyped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Value>,
    /// `modified` (ISO 8601).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn error_code(error: Option<&Value>) -> Option<&str> {
    match error? {
        Value::String(s) => Some(s),
        Value::Object(map) => map.get("code").and_then(Value::as_str),
        _ => None,
    }
}

fn error_message(error: Option<&Value>) -> Option<&str> {
    error?.get("message").and_then(Value::as_str)
}

/// A server → client event on `/chat`, typed when it is one of [`SERVER_EVENTS`] and its payload
/// has the expected shape.
#[non_exhaustive]
#[derive(Clone, PartialEq, Eq)]
pub enum Incoming {
    /// [`CHANNEL_SUBSCRIBED`].
    ChannelSubscribed(ChannelSubscribed),
    /// [`SUBSCRIBE_CHANNEL_FAILED`].
    SubscribeChannelFailed(SubscribeChannelFailed),
    /// [`CHANNEL_UNSUBSCRIBED`].
    ChannelUnsubscribed(ChannelUnsubscribed),
    /// [`MESSAGE_SENT`].
    MessageSent(Box<MessageSent>),
    /// [`SEND_MESSAGE_FAILED`].
    SendMessageFailed(Box<SendMessageFailed>),
    /// [`PRESENCE_EVENT_RESPONSE`].
    PresenceEventResponse(Box<PresenceEventResponse>),
    /// [`MEDIA_SESSION_RESPONSE`].
    MediaSessionResponse(Box<MediaSessionResponse>),
    /// Any other event, or a known event whose payload did not match its type
    /// (see [`Incoming::is_malformed`]).
    Other {
        /// The event name, as received.
        name: String,
        /// The raw JSON of the event's first argument, exactly as received; empty when the
        /// event had no argument.
        args_json: String,
    },
}

impl Incoming {
    /// Types a server event from its name and the raw JSON of its first argument.
    ///
    /// Never fails and never drops data: an unknown event, a known event without an argument,
    /// or a known event whose payload does not fit its type (not JSON, not an object, a
    /// required field missing, a field of an unexpected JSON type) comes back as
    /// [`Incoming::Other`] holding the name and the untouched JSON. The caller should log a
    /// malformed known event ([`Incoming::is_malformed`]) by name and pass it on as it is.
    pub fn decode(name: &str, first_arg_json: Option<&str>) -> Self {
        fn parse<T: DeserializeOwned>(json: &str) -> Option<T> {
            serde_json::from_str(json).ok()
        }
        let typed = first_arg_json.and_then(|json| match name {
            CHANNEL_SUBSCRIBED => parse(json).map(Self::ChannelSubscribed),
            SUBSCRIBE_CHANNEL_FAILED => parse(json).map(Self::SubscribeChannelFailed),
            CHANNEL_UNSUBSCRIBED => parse(json).map(Self::ChannelUnsubscribed),
            MESSAGE_SENT => {
                MessageSent::decode_lenient(json).map(|m| Self::MessageSent(Box::new(m)))
            }
            SEND_MESSAGE_FAILED => parse(json).map(|m| Self::SendMessageFailed(Box::new(m))),
            PRESENCE_EVENT_RESPONSE => {
                parse(json).map(|m| Self::PresenceEventResponse(Box::new(m)))
            }
            MEDIA_SESSION_RESPONSE => parse(json).map(|m| Self::MediaSessionResponse(Box::new(m))),
            _ => None,
        });
        typed.unwrap_or_else(|| Self::Other {
            name: name.to_owned(),
            args_json: first_arg_json.unwrap_or_default().to_owned(),
        })
    }

    /// The event name.
    pub fn name(&self) -> &str {
        match self {
            Self::ChannelSubscribed(_) => CHANNEL_SUBSCRIBED,
            Self::SubscribeChannelFailed(_) => SUBSCRIBE_CHANNEL_FAILED,
            Self::ChannelUnsubscribed(_) => CHANNEL_UNSUBSCRIBED,
            Self::MessageSent(_) => MESSAGE_SENT,
            Self::SendMessageFailed(_) => SEND_MESSAGE_FAILED,
            Self::PresenceEventResponse(_) => PRESENCE_EVENT_RESPONSE,
            Self::MediaSessionResponse(_) => MEDIA_SESSION_RESPONSE,
            Self::Other { name, .. } => name,
        }
    }

    /// `true` for an [`Incoming::Other`] whose name is one of [`SERVER_EVENTS`]: a known event
    /// whose payload did not fit its type. Worth a log line (name only: the payload may hold
    /// personal data).
    pub fn is_malformed(&self) -> bool {
        matches!(self, Self::Other { name, .. } if SERVER_EVENTS.contains(&name.as_str()))
    }
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ChannelSubscribed(e) => f.debug_tuple("ChannelSubscribed").field(e).finish(),
            Self::SubscribeChannelFailed(e) => {
                f.debug_tuple("SubscribeChannelFailed").field(e).finish()
            }
            Self::ChannelUnsubscribed(e) => f.debug_tuple("ChannelUnsubscribed").field(e).finish(),
            Self::MessageSent(e) => f.debug_tuple("MessageSent").field(e).finish(),
            Self::SendMessageFailed(e) => f.debug_tuple("SendMessageFailed").field(e).finish(),
            Self::PresenceEventResponse(e) => {
                f.debug_tuple("PresenceEventResponse").field(e).finish()
            }
            Self::MediaSessionResponse(e) => {
                f.debug_tuple("MediaSessionResponse").field(e).finish()
            }
            Self::Other { name, args_json } => f
                .debug_struct("Other")
                .field("name", name)
                .field("args", &RawJsonDebug(args_json))
                .finish(),
        }
    }
}
