//! Printing events: one JSON line each with `--json`, readable lines otherwise.
//!
//! Text from the network never reaches the terminal raw: control characters (C0, DEL, C1)
//! and bidirectional overrides are shown escaped (`\x1b`, `\u{9b}`), in JSON as `\u001b`.
//! Writing to a closed stdout returns the error instead of panicking, so the caller can end
//! quietly.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::{self, Write};

use serde_json::{Value, json};
use spaces_socket::spaces::{Incoming, MessageSent, SpacesEvent};

pub(crate) struct Printer {
    json: bool,
    /// The credentials were just refused and are being retried: the `Reconnecting` that
    /// follows is that retry, already announced, not a reconnect attempt.
    credentials_retry: bool,
}

impl Printer {
    pub(crate) fn new(json: bool) -> Self {
        Self {
            json,
            credentials_retry: false,
        }
    }

    /// Prints one event; an error means stdout is gone (e.g. a closed pipe).
    pub(crate) fn print(&mut self, event: &SpacesEvent) -> io::Result<()> {
        if self.json {
            if let Some((name, data)) = wire_event(event) {
                let line = json!({ "event": name, "data": data }).to_string();
                out(&escape_json_controls(&line))?;
            }
            return Ok(());
        }
        match event {
            SpacesEvent::Connected => note("connected"),
            SpacesEvent::Disconnected { reason } => {
                note(&format!("disconnected ({}); reconnecting", reason.as_str()))
            }
            SpacesEvent::Subscribed { space } => note(&format!("joined space {}", sanitize(space))),
            SpacesEvent::Unsubscribed { space } => note(&format!("left space {}", sanitize(space))),
            SpacesEvent::Confirmed { message, .. } => {
                out(&format!("{} (delivered)", describe(message)))?
            }
            SpacesEvent::Message(message) => out(&describe(message))?,
            // Our own user on another connection (another device): shown as before, marked.
            SpacesEvent::OwnMessage(message) => {
                out(&format!("{} (you, elsewhere)", describe(message)))?
            }
            SpacesEvent::Incoming(Incoming::PresenceEventResponse(p)) => {
                let who = p
                    .sender
                    .as_ref()
                    .and_then(|s| s.displayname.clone().or_else(|| s.id.clone()))
                    .unwrap_or_else(|| "someone".to_owned());
                note(&format!(
                    "{}: {}",
                    sanitize(&who),
                    sanitize(&p.category.to_string())
                ));
            }
            SpacesEvent::ConnectFailed { failure } => {
                note(&format!("connection attempt failed: {failure:?}"))
            }
            SpacesEvent::AuthRetrying { failure, retry } => {
                self.credentials_retry = true;
                note(&format!(
                    "credentials refused ({}), retrying with a fresh token (retry {retry})",
                    failure.message
                ));
            }
            SpacesEvent::Reconnecting { .. } if self.credentials_retry => {
                self.credentials_retry = false;
            }
            SpacesEvent::Reconnecting { attempt, delay } => note(&format!(
                "reconnect attempt {attempt} in {} ms",
                delay.as_millis()
            )),
            _ => {}
        }
        Ok(())
    }
}

/// One line on stdout.
fn out(line: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()
}

/// One `chat: …` line on stderr, escaped; a closed stderr is ignored.
pub(crate) fn note(line: &str) {
    let _ = writeln!(io::stderr().lock(), "chat: {}", sanitize(line));
}

/// Characters that must not reach a terminal raw: C0 and C1 controls, DEL, and the
/// bidirectional formatting characters that can make text display reordered.
fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character escaped: `\n`, `\r`, `\t`, `\x1b` below U+0080,
/// `\u{9b}` above. Borrowed when there is nothing to escape.
pub(crate) fn sanitize(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_unsafe(c) && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_unsafe(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// serde_json escapes C0 controls already; this escapes DEL, C1 controls and bidirectional
/// formatting characters too (`\u009b`), which is still the same JSON.
fn escape_json_controls(line: &str) -> Cow<'_, str> {
    if !line.chars().any(is_unsafe) {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 16);
    for c in line.chars() {
        if is_unsafe(c) {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
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
    format!(
        "[{}] {}: {}",
        sanitize(space),
        sanitize(&who),
        sanitize(&text)
    )
}

/// The server event behind a Spaces event, as `(name, payload)`.
fn wire_event(event: &SpacesEvent) -> Option<(String, Value)> {
    match event {
        SpacesEvent::Confirmed { message, .. }
        | SpacesEvent::Message(message)
        | SpacesEvent::OwnMessage(message) => {
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
