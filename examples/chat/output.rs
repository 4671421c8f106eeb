//! Printing events: one JSON line each with `--json`, readable lines otherwise.

use serde_json::{Value, json};
use spaces_socket::spaces::{Incoming, MessageSent, SpacesEvent};

pub(crate) struct Printer {
    json: bool,
}

impl Printer {
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    pub(crate) fn print(&self, event: &SpacesEvent) {
        if self.json {
            if let Some((name, data)) = wire_event(event) {
                println!("{}", json!({ "event": name, "data": data }));
            }
            return;
        }
        match event {
            SpacesEvent::Connected => eprintln!("chat: connected"),
            SpacesEvent::Disconnected { reason } => {
                eprintln!("chat: disconnected ({}); reconnecting", reason.as_str())
            }
            SpacesEvent::Subscribed { space } => eprintln!("chat: joined space {space}"),
            SpacesEvent::Unsubscribed { space } => eprintln!("chat: left space {space}"),
            SpacesEvent::Confirmed { message, .. } => println!("{} (delivered)", describe(message)),
            SpacesEvent::Message(message) => println!("{}", describe(message)),
            SpacesEvent::Incoming(Incoming::PresenceEventResponse(p)) => {
                let who = p
                    .sender
                    .as_ref()
                    .and_then(|s| s.displayname.clone().or_else(|| s.id.clone()))
                    .unwrap_or_else(|| "someone".to_owned());
                eprintln!("chat: {who}: {}", p.category);
            }
            SpacesEvent::ConnectFailed { failure } => {
                eprintln!("chat: connection attempt failed: {failure:?}")
            }
            SpacesEvent::Reconnecting { attempt, delay } => {
                eprintln!(
                    "chat: reconnect attempt {attempt} in {} ms",
                    delay.as_millis()
                )
            }
            _ => {}
        }
    }
}

fn describe(m: &MessageSent) -> String {
    let who = m
        .sender
        .as_ref()
        .and_then(|s| {
            s.displayname
                .clone()
                .or_else(|| s.username.clone())
                .or_else(|| s.id.clone())
        })
        .unwrap_or_else(|| "?".to_owned());
    let text = m
        .content
        .as_ref()
        .and_then(|c| c.body_text.clone())
        .unwrap_or_default();
    let space = m.topic_id.as_deref().unwrap_or("?");
    format!("[{space}] {who}: {text}")
}

/// The server event behind a Spaces event, as `(name, payload)`.
fn wire_event(event: &SpacesEvent) -> Option<(String, Value)> {
    match event {
        SpacesEvent::Confirmed { message, .. } | SpacesEvent::Message(message) => {
            Some(("MESSAGE_SENT".to_owned(), val(message.as_ref())))
        }
        SpacesEvent::Incoming(incoming) => {
            Some((incoming.name().to_owned(), incoming_value(incoming)))
        }
        SpacesEvent::Unrecognized { name, args, .. } => Some((
            name.clone(),
            args.get(0)
                .and_then(|a| serde_json::from_str(a).ok())
                .unwrap_or(Value::Null),
        )),
        SpacesEvent::Subscribed { space } => Some((
            "CHANNEL_SUBSCRIBED".to_owned(),
            json!({ "channel": { "_id": space, "type": "topic" } }),
        )),
        SpacesEvent::SubscribeFailed { space, error } => Some((
            "SUBSCRIBE_CHANNEL_FAILED".to_owned(),
            json!({ "channel": { "_id": space, "type": "topic" }, "error": serde_json::from_str::<Value>(error).unwrap_or(Value::Null) }),
        )),
        SpacesEvent::Unsubscribed { space } => Some((
            "CHANNEL_UNSUBSCRIBED".to_owned(),
            json!({ "channel": { "_id": space, "type": "topic" } }),
        )),
        _ => None,
    }
}

fn incoming_value(incoming: &Incoming) -> Value {
    match incoming {
        Incoming::ChannelSubscribed(e) => val(e),
        Incoming::SubscribeChannelFailed(e) => val(e),
        Incoming::ChannelUnsubscribed(e) => val(e),
        Incoming::MessageSent(e) => val(e.as_ref()),
        Incoming::SendMessageFailed(e) => val(e.as_ref()),
        Incoming::PresenceEventResponse(e) => val(e.as_ref()),
        Incoming::MediaSessionResponse(e) => val(e.as_ref()),
        Incoming::Other { args_json, .. } => {
            let args: Vec<Value> =
                serde_json::from_str(&format!("[{args_json}]")).unwrap_or_default();
            args.into_iter().next().unwrap_or(Value::Null)
        }
        _ => Value::Null,
    }
}

fn val<T: serde::Serialize>(payload: &T) -> Value {
    serde_json::to_value(payload).unwrap_or(Value::Null)
}
