//! What the client sends: subscriptions, messages (chat, posts, tasks) and presence.

use super::*;

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
