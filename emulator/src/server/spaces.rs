//! The Spaces events on the emulator's namespace (docs/spaces-socket-api.md §2, §3, §7): subscriptions
//! (rooms), messages and presence.

use std::time::Instant;

use serde_json::{Map, Value, json};

use super::{ConnId, Emulator, EmulatorEvent, Member, SpaceInfo, User, codes};
use spaces_socket::socket::{self, PacketKind};

const PARTY_LEAVES: &str = "app.event.presence.party.leaves";
const REQUEST_PARTIES: &str = "app.event.presence.request.parties";

/// The `sender` object for `user`.
fn sender_json(user: &User) -> Value {
    json!({
        "_id": user.id,
        "type": user.kind,
        "username": user.username,
        "displayname": user.displayname,
    })
}

/// `channel` as the client sent it, minus its PIN (never echoed back).
fn echo_channel(channel: Option<&Value>) -> Value {
    match channel {
        Some(Value::Object(map)) => {
            let mut map = map.clone();
            map.remove("password");
            Value::Object(map)
        }
        Some(other) => other.clone(),
        None => Value::Null,
    }
}

/// The frame `42/chat,["NAME",payload]`, or `None` if serialization fails (it cannot for a
/// `Value`).
fn event_frame(nsp: &str, name: &str, payload: &Value) -> Option<String> {
    let data = serde_json::to_string(&(name, payload)).ok()?;
    let mut out = String::from("4");
    socket::encode_into(&mut out, PacketKind::Event, nsp, None, None, 0, Some(&data));
    Some(out)
}

impl Emulator {
    /// Dispatches a Spaces event from a connection that joined the namespace.
    pub(super) fn on_event(&mut self, now: Instant, conn: u64, packet: &socket::Packet<'_>) {
        // Events on a namespace the socket has not joined are ignored, as socket.io does.
        if self.member(conn).is_none() {
            return;
        }
        let Some(name) = packet.event_name() else {
            return;
        };
        let raw = packet.elements().get(1).map_or("", |r| r.get());
        // Bounded by serde_json's recursion limit; unparsable means "no payload".
        let body: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        match name.as_ref() {
            "SUBSCRIBE_CHANNEL" => self.subscribe(conn, &body),
            "UNSUBSCRIBE_CHANNEL" => self.unsubscribe(conn, &body),
            "SEND_MESSAGE" => self.send_message(now, conn, raw.len(), body),
            "SEND_PRESENCE_EVENT" if raw.len() <= self.config.max_payload => {
                self.presence(conn, body);
            }
            // Everything else (media sessions, legacy names, oversized presence): ignored.
            _ => {}
        }
    }

    fn member(&self, conn: u64) -> Option<&Member> {
        self.conns.get(&conn)?.member.as_ref()
    }

    /// Emits `name` to one connection.
    fn emit_to(&mut self, conn: u64, name: &str, payload: &Value) {
        let nsp = self.config.namespace.clone();
        if let Some(frame) = event_frame(&nsp, name, payload) {
            self.send_text(conn, frame);
        }
    }

    /// Emits `name` to every connection subscribed to `space` except `except`.
    fn broadcast(&mut self, space: &str, except: Option<u64>, name: &str, payload: &Value) {
        let Some(frame) = event_frame(&self.config.namespace, name, payload) else {
            return;
        };
        let Some(members) = self.rooms.get(space) else {
            return;
        };
        for &member in members {
            if Some(member) != except {
                self.stats.frames_out += 1;
                self.outputs.push_back(super::ServerOutput::Text {
                    conn: ConnId(member),
                    text: frame.clone(),
                });
            }
        }
    }

    fn subscribe(&mut self, conn: u64, body: &Value) {
        let channel = body.get("channel");
        let space = channel
            .and_then(|c| c.get("_id"))
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty());
        let Some(space) = space.map(str::to_owned) else {
            let failure = json!({
                "channel": echo_channel(channel),
                "error": { "code": codes::INVALID_PARAMETERS,
                           "message": "channel data was not provided" },
            });
            self.emit_to(conn, "SUBSCRIBE_CHANNEL_FAILED", &failure);
            return;
        };
        if self.config.unanswered_spaces.contains(&space)
            || (self.config.unanswered_subscribe_one_in > 0
                && self
                    .modes_rng
                    .chance(1, self.config.unanswered_subscribe_one_in))
        {
            // Live-service mode: the request vanishes.
            return;
        }
        let refused = match self.config.spaces.get(&space) {
            None if !self.config.open_spaces => {
                Some((codes::SPACE_NOT_FOUND, "space does not exist"))
            }
            // An open space exists while its room has members: nothing to store.
            None => None,
            Some(SpaceInfo {
                password: Some(pin),
                ..
            }) if channel
                .and_then(|c| c.get("password"))
                .and_then(Value::as_str)
                != Some(pin.as_str()) =>
            {
                Some((codes::WRONG_PASSWORD, "space password is missing or wrong"))
            }
            Some(_) => None,
        };
        if let Some((code, message)) = refused {
            let failure = json!({
                "channel": echo_channel(channel),
                "error": { "code": code, "message": message },
            });
            self.emit_to(conn, "SUBSCRIBE_CHANNEL_FAILED", &failure);
            return;
        }
        let dtsid = self.ids.dtsid();
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        let Some(member) = c.member.as_mut() else {
            return;
        };
        member.rooms.insert(space.clone());
        let (user, session_id) = (member.user.clone(), member.session_id.clone());
        self.rooms.entry(space.clone()).or_default().insert(conn);

        let subscribed = json!({
            "channel": { "_id": space, "type": "topic" },
            "dtsid": dtsid,
            "sessionId": session_id,
        });
        self.emit_to(conn, "CHANNEL_SUBSCRIBED", &subscribed);
        let request = json!({
            "category": REQUEST_PARTIES,
            "sender": sender_json(&user),
            "topicId": space,
            "content": { "sessionId": session_id, "data": [] },
        });
        self.broadcast(&space, Some(conn), "PRESENCE_EVENT_RESPONSE", &request);
        self.push_event(EmulatorEvent::Subscribed {
            conn: ConnId(conn),
            space,
            user,
        });
    }

    fn unsubscribe(&mut self, conn: u64, body: &Value) {
        let Some(channel) = body.get("channel").filter(|c| c.is_object()) else {
            return;
        };
        let space = channel
            .get("_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let echoed = match &space {
            Some(id) => json!({ "_id": id, "type": "topic" }),
            None => echo_channel(Some(channel)),
        };
        self.emit_to(conn, "CHANNEL_UNSUBSCRIBED", &json!({ "channel": echoed }));
        let Some(space) = space else {
            return;
        };
        let Some(member) = self.conns.get_mut(&conn).and_then(|c| c.member.as_mut()) else {
            return;
        };
        if !member.rooms.remove(&space) {
            return;
        }
        let (user, session_id) = (member.user.clone(), member.session_id.clone());
        self.leave_room(conn, &space, &user, &session_id);
        self.push_event(EmulatorEvent::Unsubscribed {
            conn: ConnId(conn),
            space,
            user,
        });
    }

    /// Takes `conn` out of every room of `member`, telling the rest of each room.
    pub(super) fn leave_rooms(&mut self, conn: u64, member: &Member) {
        for space in &member.rooms {
            self.leave_room(conn, space, &member.user, &member.session_id);
        }
    }

    /// Takes `conn` out of `space` and sends the server-origin `party.leaves` to the rest.
    fn leave_room(&mut self, conn: u64, space: &str, user: &User, session_id: &str) {
        if let Some(members) = self.rooms.get_mut(space) {
            members.remove(&conn);
            if members.is_empty() {
                self.rooms.remove(space);
                return;
            }
        }
        let leaves = json!({
            "origin": "server",
            "category": PARTY_LEAVES,
            "sender": sender_json(user),
            "topicId": space,
            "content": { "emitedby": "server", "sessionId": session_id, "data": [] },
        });
        self.broadcast(space, Some(conn), "PRESENCE_EVENT_RESPONSE", &leaves);
    }

    fn send_message(&mut self, now: Instant, conn: u64, raw_len: usize, body: Value) {
        let Value::Object(mut message) = body else {
            return;
        };
        let Some(member) = self.member(conn) else {
            return;
        };
        let user = member.user.clone();
        let topic = message
            .get("topicId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let rate_limited = self.over_rate_limit(now, conn);
        let Some(member) = self.member(conn) else {
            return;
        };
        let error = if rate_limited {
            Some(codes::RATE_LIMITED)
        } else if raw_len > self.config.max_payload {
            Some(codes::PAYLOAD_TOO_LARGE)
        } else if !topic.as_ref().is_some_and(|t| member.rooms.contains(t)) {
            Some(codes::SUBSCRIPTION_REQUIRED)
        } else {
            None
        };
        let (Some(space), None) = (topic, error) else {
            // The documented failure: the payload that was sent, plus sender and error.
            message.insert("sender".to_owned(), sender_json(&user));
            message.insert(
                "error".to_owned(),
                Value::from(error.unwrap_or(codes::SUBSCRIPTION_REQUIRED)),
            );
            self.stats.messages_failed += 1;
            self.emit_to(conn, "SEND_MESSAGE_FAILED", &Value::Object(message));
            return;
        };
        let loopback = message.remove("loopbackMetadata");
        message
            .entry("category")
            .or_insert_with(|| Value::from("chat"));
        let message_id = self.complete_message(now, &mut message, &space, &user);
        let text = body_text(&message);

        if let Some(loopback) = loopback.filter(|_| !self.config.drop_loopback) {
            let mut own = message.clone();
            own.insert("loopbackMetadata".to_owned(), loopback);
            self.emit_to(conn, "MESSAGE_SENT", &Value::Object(own));
        } else {
            self.emit_to(conn, "MESSAGE_SENT", &Value::Object(message.clone()));
        }
        self.broadcast(&space, Some(conn), "MESSAGE_SENT", &Value::Object(message));
        self.stats.messages_sent += 1;
        self.push_event(EmulatorEvent::MessageSent {
            conn: Some(ConnId(conn)),
            space,
            sender: user,
            text,
            message_id,
        });
    }

    /// Adds the server-assigned fields of a MESSAGE_SENT; returns the new `_id`.
    fn complete_message(
        &mut self,
        now: Instant,
        message: &mut Map<String, Value>,
        space: &str,
        sender: &User,
    ) -> String {
        let id = self.ids.object_id();
        let created = crate::ids::iso8601(self.unix_ms(now));
        let title = self
            .config
            .spaces
            .get(space)
            .map_or_else(|| space.to_owned(), |s| s.title.clone());
        message.insert("_id".to_owned(), Value::from(id.clone()));
        message.insert("created".to_owned(), Value::from(created));
        message.insert("sender".to_owned(), sender_json(sender));
        message.insert("topicId".to_owned(), Value::from(space));
        message.insert("topicTitle".to_owned(), Value::from(title));
        message.insert("topicType".to_owned(), Value::from("group"));
        match message.get_mut("content") {
            Some(Value::Object(content)) => {
                content.insert("cid".to_owned(), Value::from(sender.id.as_str()));
            }
            None | Some(Value::Null) => {
                message.insert("content".to_owned(), json!({ "cid": sender.id }));
            }
            // A non-object content is kept as sent.
            Some(_) => {}
        }
        if self.config.odd_message_fields {
            message.insert("version".to_owned(), json!(2));
            message.insert("assignees".to_owned(), json!({ "odd": true }));
            message.insert("mentions".to_owned(), json!("everyone"));
        }
        id
    }

    /// Counts a SEND_MESSAGE from `conn` against
    /// [`message_rate_limit`](super::EmulatorConfig::message_rate_limit): `true` if it is over.
    fn over_rate_limit(&mut self, now: Instant, conn: u64) -> bool {
        let Some(limit) = self.config.message_rate_limit else {
            return false;
        };
        let Some(c) = self.conns.get_mut(&conn) else {
            return false;
        };
        let (start, count) = match c.rate_window {
            Some((start, count)) if now < start + limit.window => (start, count + 1),
            _ => (now, 1),
        };
        c.rate_window = Some((start, count));
        count > limit.max
    }

    fn presence(&mut self, conn: u64, body: Value) {
        let Value::Object(mut event) = body else {
            return;
        };
        let Some(space) = event
            .get("topicId")
            .and_then(Value::as_str)
            .map(str::to_owned)
        else {
            return;
        };
        let Some(member) = self.member(conn) else {
            return;
        };
        let (sender, session_id) = (sender_json(&member.user), member.session_id.clone());
        let loopback = event.remove("loopbackMetadata");
        event.insert("sender".to_owned(), sender);
        match event.get_mut("content") {
            Some(Value::Object(content)) => {
                content.insert("sessionId".to_owned(), Value::from(session_id));
            }
            _ => {
                event.insert("content".to_owned(), json!({ "sessionId": session_id }));
            }
        }
        if let Some(loopback) = loopback {
            let mut own = event.clone();
            own.insert("loopbackMetadata".to_owned(), loopback);
            self.emit_to(conn, "PRESENCE_EVENT_RESPONSE", &Value::Object(own));
        }
        self.broadcast(
            &space,
            Some(conn),
            "PRESENCE_EVENT_RESPONSE",
            &Value::Object(event),
        );
    }

    /// A server-side participant `user` says `text` in `space`: a chat MESSAGE_SENT goes to
    /// every connection subscribed to it (no loopback copy: there is no sending socket).
    /// A space that is not configured is titled with its id; with nobody subscribed, the
    /// message reaches nobody (and nothing is stored).
    pub fn say(&mut self, now: Instant, space: &str, user: &User, text: &str) {
        self.clock(now);
        let mut message = Map::new();
        message.insert("category".to_owned(), Value::from("chat"));
        message.insert("content".to_owned(), json!({ "bodyText": text }));
        message.insert("mentions".to_owned(), json!([]));
        message.insert("version".to_owned(), Value::from("1.1"));
        let message_id = self.complete_message(now, &mut message, space, user);
        self.broadcast(space, None, "MESSAGE_SENT", &Value::Object(message));
        self.stats.messages_sent += 1;
        self.push_event(EmulatorEvent::MessageSent {
            conn: None,
            space: space.to_owned(),
            sender: user.clone(),
            text: text.to_owned(),
            message_id,
        });
    }
}

fn body_text(message: &Map<String, Value>) -> String {
    message
        .get("content")
        .and_then(|c| c.get("bodyText"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}
