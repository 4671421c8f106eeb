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
// Client → server
// ---------------------------------------------------------------------------------------------

fn topic_type() -> String {
    CHANNEL_TYPE_TOPIC.to_owned()
}

/// The channel of SUBSCRIBE_CHANNEL / UNSUBSCRIBE_CHANNEL: `{"_id", "type": "topic", "password"?}`.
///
/// `password` is the space PIN for PIN-protected spaces; it is sent on the wire but never shown
/// by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Channel {
    /// The space id (`_id`).
    #[serde(rename = "_id")]
    pub(crate) id: String,
    /// `type`: always `"topic"` for spaces.
    #[serde(rename = "type", default = "topic_type")]
    pub(crate) channel_type: String,
    /// The space PIN, if the space has one.
    #[serde(default, with = "opt_secret", skip_serializing_if = "Option::is_none")]
    pub(crate) password: Option<Secret<String>>,
}

impl Channel {
    /// The channel of space `id`, without PIN.
    pub(crate) fn topic(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            channel_type: topic_type(),
            password: None,
        }
    }
}

/// SUBSCRIBE_CHANNEL payload `{"channel": …}`. The server answers `CHANNEL_SUBSCRIBED` or
/// `SUBSCRIBE_CHANNEL_FAILED`. Subscriptions are per socket: send it again after a reconnect.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SubscribeChannel {
    /// The space to join.
    pub(crate) channel: Channel,
}

/// UNSUBSCRIBE_CHANNEL payload `{"channel": …}`. The server answers `CHANNEL_UNSUBSCRIBED`.
/// Clients usually follow it with a `leaves` presence.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct UnsubscribeChannel {
    /// The space to leave.
    pub(crate) channel: Channel,
}

/// A reference to a parent post or task (`parentMsg`), for a reply in its thread.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentMsg {
    /// The post or task id.
    #[serde(rename = "_id")]
    pub id: String,
}

/// A task assignee `{"_id": <userId>}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignee {
    /// The user id.
    #[serde(rename = "_id")]
    pub id: String,
    /// Other fields (the server may send whole user objects).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Assignee {
    /// The assignee with user id `id`.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            extra: Map::new(),
        }
    }
}

/// The `content` of a message, post or task (sent and received).
#[derive(Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    /// `bodyText`: the text of a chat message, or the title of a post/task. Received as HTML
    /// (`<p>…</p>`, entities escaped); plain text is accepted when sending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// `description` of a post or task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `data`: attached files (upload over REST first, see docs/spaces-socket-api.md §4.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Vec<Value>>,
    /// `assignees` of a task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignees: Option<Vec<Assignee>>,
    /// `dueDate` of a task (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    /// `status` of a post/task: `"pending"` or `"complete"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Other fields (`cid`, meeting fields, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Content {
    /// Content with just `bodyText`.
    pub fn text(body_text: impl Into<String>) -> Self {
        Self {
            body_text: Some(body_text.into()),
            ..Self::default()
        }
    }
}

/// Status the Spaces web client gives new posts and tasks.
const STATUS_PENDING: &str = "pending";
/// `version` the Spaces web client sends with posts and tasks.
const CLIENT_VERSION: &str = "1.1";

/// SEND_MESSAGE payload: a chat message, post (idea) or task in space `topic_id`.
///
/// The server answers with [`MessageSent`] (to us and to the room) or [`SendMessageFailed`].
/// `loopback_metadata` comes back unchanged in our own MESSAGE_SENT only: use it to match the
/// echo to this send. `sender` is not needed (the server takes it from the socket); put it in
/// `extra` if a server insists.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessage {
    /// `category`: chat, idea or task.
    pub category: Category,
    /// `content`.
    pub content: Content,
    /// `topicId`: the space (for a direct message, the direct space's id).
    pub topic_id: String,
    /// `parentMsg`: reply in the thread of this post or task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_msg: Option<ParentMsg>,
    /// `chatMessages`: web clients send `{}` with posts and tasks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_messages: Option<Value>,
    /// `mentions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mentions: Option<Vec<Value>>,
    /// `created`: optional client timestamp (ISO 8601).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// `version`: `"1.1"` from newer clients.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// `loopbackMetadata`: echoed back to this socket only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loopback_metadata: Option<String>,
    /// Any other top-level field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SendMessage {
    fn new(topic_id: impl Into<String>, category: Category, content: Content) -> Self {
        Self {
            category,
            content,
            topic_id: topic_id.into(),
            parent_msg: None,
            chat_messages: None,
            mentions: None,
            created: None,
            version: None,
            loopback_metadata: None,
            extra: Map::new(),
        }
    }

    /// A chat message: `{"category":"chat","content":{"bodyText":text},"topicId":…}`.
    pub fn chat(topic_id: impl Into<String>, text: impl Into<String>) -> Self {
        Self::new(topic_id, Category::Chat, Content::text(text))
    }

    /// A post ("idea"), shaped like the web client's: title in `bodyText`, `description`,
    /// `status: "pending"`, no assignees, `chatMessages: {}`, `version: "1.1"`.
    pub fn idea(
        topic_id: impl Into<String>,
        title: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        let content = Content {
            description: Some(description.into()),
            assignees: Some(Vec::new()),
            status: Some(STATUS_PENDING.to_owned()),
            ..Content::text(title)
        };
        Self::new(topic_id, Category::Idea, content).web_client_extras()
    }

    /// A task, shaped like the web client's: title in `bodyText`, `dueDate` (ISO 8601) if any,
    /// `status: "pending"`, `assignees` as `{"_id"}` from the user ids, `chatMessages: {}`,
    /// `version: "1.1"`.
    pub fn task<I, S>(
        topic_id: impl Into<String>,
        title: impl Into<String>,
        due_date: Option<String>,
        assignees: I,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let content = Content {
            due_date,
            assignees: Some(assignees.into_iter().map(Assignee::new).collect()),
            status: Some(STATUS_PENDING.to_owned()),
            ..Content::text(title)
        };
        Self::new(topic_id, Category::Task, content).web_client_extras()
    }

    fn web_client_extras(mut self) -> Self {
        self.chat_messages = Some(Value::Object(Map::new()));
        self.version = Some(CLIENT_VERSION.to_owned());
        self
    }

    /// Sets `loopbackMetadata`, which comes back in our own [`MessageSent`] only.
    pub fn with_loopback_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.loopback_metadata = Some(metadata.into());
        self
    }

    /// Makes this a reply in the thread of post or task `parent_id`.
    pub fn with_parent(mut self, parent_id: impl Into<String>) -> Self {
        self.parent_msg = Some(ParentMsg {
            id: parent_id.into(),
        });
        self
    }
}

/// `content.mediaSession` of a presence event.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaSession {
    /// Audio on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio: Option<bool>,
    /// Video on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<bool>,
    /// In the space's meeting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connected: Option<bool>,
    /// Joined by phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<bool>,
    /// Sharing the screen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screenshare: Option<bool>,
    /// `selfMuted`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub self_muted: Option<bool>,
    /// Other fields (`joinTime`, `mdsrvSessionId`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl MediaSession {
    /// Not in a call: everything off, self-muted (what the web client reports then).
    pub fn not_in_call() -> Self {
        Self {
            audio: Some(false),
            video: Some(false),
            connected: Some(false),
            phone: Some(false),
            screenshare: Some(false),
            self_muted: Some(true),
            extra: Map::new(),
        }
    }
}

/// The `content` of a SEND_PRESENCE_EVENT.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceContent {
    /// Using the desktop app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desktop: Option<bool>,
    /// Idle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle: Option<bool>,
    /// Offline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offline: Option<bool>,
    /// `role` in the space: `"admin"`, `"member"` or `"guest"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// `mediaSession`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_session: Option<MediaSession>,
    /// Other fields (`subscribeTime`, `sessionId`, `attendee`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// SEND_PRESENCE_EVENT payload: presence or typing in space `topic_id`. Others receive it as
/// [`PresenceEventResponse`].
///
/// `content` is always sent, `{}` at least: the server adds `content.sessionId` to it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendPresenceEvent {
    /// `category`: one of the `PRESENCE_*` constants, or another as seen on the wire.
    pub category: String,
    /// `topicId`: the space (top level; the server ignores events without it).
    pub topic_id: String,
    /// `content`.
    #[serde(default)]
    pub content: PresenceContent,
    /// `receivers`: empty or absent means everyone; `[user]` targets one party (the k6 reply
    /// pattern answers a newcomer's `party.online` with `receivers: [its sender]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receivers: Option<Vec<Value>>,
    /// `loopbackMetadata`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loopback_metadata: Option<String>,
    /// Any other top-level field (`version`, `sender`, …).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SendPresenceEvent {
    /// A presence event of `category` with empty content.
    pub fn new(category: impl Into<String>, topic_id: impl Into<String>) -> Self {
        Self {
            category: category.into(),
            topic_id: topic_id.into(),
            content: PresenceContent::default(),
            receivers: None,
            loopback_metadata: None,
            extra: Map::new(),
        }
    }

    /// "I am here" ([`PRESENCE_ONLINE`]): not desktop, not idle, not offline,
    /// [`MediaSession::not_in_call`]. Send after subscribing and in answer to
    /// [`PRESENCE_REQUEST_PARTIES`].
    pub fn online(topic_id: impl Into<String>) -> Self {
        let mut event = Self::new(PRESENCE_ONLINE, topic_id);
        event.content = PresenceContent {
            desktop: Some(false),
            idle: Some(false),
            offline: Some(false),
            role: None,
            media_session: Some(MediaSession::not_in_call()),
            extra: Map::new(),
        };
        event
    }

    /// "I left" ([`PRESENCE_LEAVES`]), usually after UNSUBSCRIBE_CHANNEL.
    pub fn leaves(topic_id: impl Into<String>) -> Self {
        Self::new(PRESENCE_LEAVES, topic_id)
    }

    /// "Everyone, announce yourselves" ([`PRESENCE_REQUEST_PARTIES`]), after subscribing.
    pub fn request_parties(topic_id: impl Into<String>) -> Self {
        Self::new(PRESENCE_REQUEST_PARTIES, topic_id)
    }

    /// Typing indicator ([`PRESENCE_TYPING`]).
    pub fn typing(topic_id: impl Into<String>) -> Self {
        Self::new(PRESENCE_TYPING, topic_id)
    }

    /// Sets `receivers`.
    pub fn with_receivers(mut self, receivers: Vec<Value>) -> Self {
        self.receivers = Some(receivers);
        self
    }

    /// Sets `loopbackMetadata`.
    pub fn with_loopback_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.loopback_metadata = Some(metadata.into());
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Server → client
// ---------------------------------------------------------------------------------------------

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
// Deserializing the received types in one pass
// ---------------------------------------------------------------------------------------------

/// An object key, borrowed from the input when it has no escapes: the keys a struct names are
/// matched without allocating, only the others are copied (into `extra`).
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// `Deserialize` for a received struct whose fields are all optional (absent or `null`: `None`)
/// but `$required`, with every other member kept in `extra`: what `#[serde(flatten)]` did, in
/// one pass (serde buffers a flattened struct's whole input first, the costliest part of
/// typing a MESSAGE_SENT). A field of another type fails the whole struct, as the derive did,
/// so that the lenient path ([`MessageSent::decode_lenient`]) can take over.
macro_rules! deserialize_with_extra {
    ($ty:ident { $($key:literal => $field:ident),* $(,)? } $(required $rkey:literal => $req:ident)?) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct FieldsVisitor;
                impl<'de> Visitor<'de> for FieldsVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str(concat!("a ", stringify!($ty), " object"))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        $(let mut $field = None;)*
                        $(let mut $req = None;)?
                        let mut extra = Map::new();
                        while let Some(Key(key)) = map.next_key()? {
                            match &*key {
                                $($key => $field = map.next_value()?,)*
                                $($rkey => $req = Some(map.next_value()?),)?
                                _ => {
                                    extra.insert(key.into_owned(), map.next_value()?);
                                }
                            }
                        }
                        Ok($ty {
                            $($field,)*
                            $($req: $req.ok_or_else(|| de::Error::missing_field($rkey))?,)?
                            extra,
                        })
                    }
                }
                deserializer.deserialize_map(FieldsVisitor)
            }
        }
    };
}

deserialize_with_extra!(MessageSent {
    "_id" => id,
    "topicId" => topic_id,
    "topicTitle" => topic_title,
    "topicType" => topic_type,
    "sender" => sender,
    "content" => content,
    "mentions" => mentions,
    "created" => created,
    "version" => version,
    "loopbackMetadata" => loopback_metadata,
} required "category" => category);

deserialize_with_extra!(Content {
    "bodyText" => body_text,
    "description" => description,
    "data" => data,
    "assignees" => assignees,
    "dueDate" => due_date,
    "status" => status,
});

deserialize_with_extra!(Sender {
    "_id" => id,
    "username" => username,
    "displayname" => displayname,
    "picture_url" => picture_url,
    "type" => sender_type,
});

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
