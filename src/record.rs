//! The pure parts of a session recording (`docs/recording.md`), shared by the writer (the
//! runtimes' `Options::record`) and the reader (the emulator crate's `replay`), so that both
//! redact frames and render events the same way: a replayed session is compared with its
//! recording through these functions.
//!
//! No IO here: the runtimes write the lines, the emulator reads them.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::{Config, Transmit};
use crate::redact::{REDACTED, is_sensitive_key, redact_value};
use crate::spaces::{Delivery, Input, SpacesConfig, SpacesEvent};

/// The `format` of a recording's header line.
pub const FORMAT: &str = "spaces-socket-record";
/// The `version` of the recording format this crate writes. Version 2 added the session's tag
/// to the `loopbackMetadata` of every SEND_MESSAGE (see [`loopback_prefix`]); version 1
/// recordings still replay (their tags are translated).
pub const VERSION: u64 = 2;

/// The `loopbackMetadata` prefix of every message a session whose configuration has
/// `rng_seed = seed` sends: `spaces-socket:<tag>:`, then the message's
/// [`SendId`](crate::spaces::SendId). Version 1 recordings predate the tag (their prefix is
/// `spaces-socket:`), so a replayer translates between the two with it.
pub fn loopback_prefix(seed: u64) -> String {
    crate::spaces::loopback_prefix(seed)
}
/// What replaces a redacted value: a token, a PIN, a session id.
pub const PLACEHOLDER: &str = REDACTED;

/// `duration` in milliseconds, with nanosecond precision (a recording's times and durations).
pub fn millis(duration: Duration) -> f64 {
    duration.as_nanos() as f64 / 1e6
}

/// The [`Duration`] of `ms` milliseconds, as [`millis`] wrote it (to the nanosecond); `None`
/// when negative or not finite.
pub fn from_millis(ms: f64) -> Option<Duration> {
    let nanos = (ms * 1e6).round();
    (nanos.is_finite() && nanos >= 0.0 && nanos < u64::MAX as f64)
        .then(|| Duration::from_nanos(nanos as u64))
}

/// `url` with the value of every sensitive query parameter (`token`, see
/// [`is_sensitive_key`]) replaced by [`PLACEHOLDER`].
pub fn redact_url(url: &str) -> String {
    match url.split_once('?') {
        Some((head, query)) => format!("{head}?{}", redact_query(query)),
        None => url.to_owned(),
    }
}

fn redact_query(query: &str) -> String {
    let pairs = query.split('&').map(|pair| match pair.split_once('=') {
        Some((key, _)) if is_sensitive_key(key) => format!("{key}={PLACEHOLDER}"),
        _ => pair.to_owned(),
    });
    pairs.collect::<Vec<_>>().join("&")
}

/// A websocket text frame with its secrets replaced by [`PLACEHOLDER`], still parseable: the
/// query of a namespace CONNECT (`40/chat?token=…,`) and the scalars under sensitive JSON keys
/// (the handshake's `sid`, a SUBSCRIBE_CHANNEL `password`, any `*session*`, `*token*`, …).
/// A frame with nothing to hide is returned unchanged, byte for byte.
pub fn redact_frame(text: &str) -> String {
    let start = text.find(['[', '{', '"']).unwrap_or(text.len());
    let (head, json) = text.split_at(start);
    // The CONNECT query sits between the namespace and the first `,`.
    let head = match head.split_once('?') {
        Some((nsp, rest)) => {
            let (query, tail) = rest.split_at(rest.find(',').unwrap_or(rest.len()));
            format!("{nsp}?{}{tail}", redact_query(query))
        }
        None => head.to_owned(),
    };
    let json = match serde_json::from_str::<Value>(json) {
        // Re-serializing may reorder keys: keep the original text when nothing is hidden (and
        // re-serialize whenever something is, placeholder or not, so that a replay's frames
        // come out in the recording's order).
        Ok(value) if hides_something(&value, false) => {
            serde_json::to_string(&redact_value(&value, false)).unwrap_or_default()
        }
        Ok(_) => json.to_owned(),
        // Not JSON (or none): kept as received, so that a replay sees the same surprise.
        Err(_) => json.to_owned(),
    };
    format!("{head}{json}")
}

/// Whether [`redact_value`] replaces anything in `value`.
fn hides_something(value: &Value, sensitive: bool) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| hides_something(v, is_sensitive_key(k))),
        Value::Array(items) => items.iter().any(|v| hides_something(v, sensitive)),
        Value::Null => false,
        _ => sensitive,
    }
}

/// The payload of a recording's `out` line: `{"open": url}` (token redacted), `{"text": …}`
/// (redacted with [`redact_frame`]), `{"binary": base64}` or `{"close": true}`.
pub fn transmit_json(transmit: &Transmit) -> Value {
    serde_json::to_value(Frame::of(transmit)).unwrap_or_default()
}

/// One line of a recording after the header: `{"t":…,"kind":…,…}`. The recorder (the
/// runtimes' `RecordedSession`) writes these and the replayer (the emulator crate's `replay`)
/// reads them, so the two cannot disagree on a line's shape. Serialize it with `serde_json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// Milliseconds since the session started, to the nanosecond ([`millis`]); absent only on
    /// an [`Entry::Dropped`] line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t: Option<f64>,
    /// What happened.
    #[serde(flatten)]
    pub entry: Entry,
}

/// What a recording line holds: an input, a command or an output of the session, with its
/// secrets redacted. Its `kind` is the variant's name in snake case.
///
/// Not `#[non_exhaustive]`, on purpose: a replayer matches every kind, so a kind added here
/// without a way to replay it does not compile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    /// [`Spaces::connect`](crate::spaces::Spaces::connect).
    Connect,
    /// The answer to a token request ([`Input::Token`] or [`Input::TokenFailed`]); never the
    /// token itself.
    Token(TokenAnswer),
    /// [`Input::Opened`].
    Opened,
    /// [`Input::OpenFailed`].
    OpenFailed {
        /// Why.
        reason: String,
    },
    /// [`Input::UpgradeRefused`].
    UpgradeRefused {
        /// The HTTP status.
        status: u16,
    },
    /// [`Input::Text`] or [`Input::Binary`]: a websocket message arrived.
    In(Frame),
    /// [`Input::Closed`].
    Closed {
        /// Why, when the websocket failed.
        error: Option<String>,
    },
    /// [`Input::Timeout`].
    Timeout,
    /// A command of the user, with its result.
    Command(Command),
    /// A transmit the session asked for ([`Frame::of`]).
    Out(Frame),
    /// An event the session produced.
    Event {
        /// The event, rendered by [`event_json`].
        event: Value,
    },
    /// The recorder lost this many lines here (its buffer was full).
    Dropped {
        /// How many.
        lines: u64,
    },
}

impl Entry {
    /// The line of `input`, redacted: a text frame through [`redact_frame`], a token as its
    /// type only.
    pub fn of_input(input: &Input<'_>) -> Self {
        match *input {
            Input::Opened => Self::Opened,
            Input::OpenFailed { reason } => Self::OpenFailed {
                reason: reason.to_owned(),
            },
            Input::UpgradeRefused { status } => Self::UpgradeRefused { status },
            Input::Text(text) => Self::In(Frame::Text(redact_frame(text))),
            Input::Binary(data) => Self::In(Frame::Binary(base64(data))),
            Input::Closed { error } => Self::Closed {
                error: error.map(str::to_owned),
            },
            Input::Timeout => Self::Timeout,
            Input::Token { token, refreshes } => Self::Token(TokenAnswer::Token {
                token_type: token.token_type().as_str().to_owned(),
                refreshes,
            }),
            Input::TokenFailed(error) => Self::Token(TokenAnswer::Failed {
                error: error.to_string(),
            }),
        }
    }
}

/// A recorded token answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TokenAnswer {
    /// A token of this type (`jwt`, `oauth`) was handed over.
    Token {
        /// Its [`TokenType`](crate::spaces::TokenType) as text.
        #[serde(rename = "type")]
        token_type: String,
        /// Whether its source refreshes ([`Input::Token`]).
        #[serde(default)]
        refreshes: bool,
    },
    /// No token could be had.
    Failed {
        /// The error's text.
        error: String,
    },
}

/// A websocket message or action in a recording: `{"text": …}` (redacted with
/// [`redact_frame`]), `{"binary": base64}`, and for transmits `{"open": url}` (token
/// redacted) or `{"close": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frame {
    /// [`Transmit::Open`], its URL redacted with [`redact_url`].
    Open(String),
    /// A text frame.
    Text(String),
    /// A binary frame, in standard base64.
    Binary(String),
    /// [`Transmit::Close`] (always `true`).
    Close(bool),
}

impl Frame {
    /// The line of `transmit`, redacted.
    pub fn of(transmit: &Transmit) -> Self {
        match transmit {
            Transmit::Open(url) => Self::Open(redact_url(url.expose())),
            Transmit::Text(text) => Self::Text(redact_frame(text)),
            Transmit::Binary(data) => Self::Binary(base64(data)),
            Transmit::Close => Self::Close(true),
        }
    }
}

/// A recorded command: `{"command": "subscribe", …}` and so on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// [`Spaces::subscribe`](crate::spaces::Spaces::subscribe).
    Subscribe {
        /// The space.
        space: String,
        /// [`PLACEHOLDER`] when a PIN was given (never the PIN).
        password: Option<String>,
    },
    /// [`Spaces::unsubscribe`](crate::spaces::Spaces::unsubscribe).
    Unsubscribe {
        /// The space.
        space: String,
    },
    /// [`Spaces::send_message`](crate::spaces::Spaces::send_message).
    SendMessage {
        /// The message as JSON, redacted with [`redact_json`].
        message: Value,
        /// The id, or the error's text.
        result: Result<u64, String>,
    },
    /// [`Spaces::send_presence`](crate::spaces::Spaces::send_presence).
    SendPresence {
        /// The presence event as JSON, redacted with [`redact_json`].
        presence: Value,
        /// The error's text on failure.
        result: Result<(), String>,
    },
    /// [`Spaces::close`](crate::spaces::Spaces::close).
    Close,
}

/// `data` in standard base64, as a recording holds binary frames.
pub fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// `value` (a command's argument, an event's rendering) with the scalars under sensitive keys
/// replaced by [`PLACEHOLDER`].
pub fn redact_json(value: &Value) -> Value {
    redact_value(value, false)
}

/// A stable JSON rendering of `event`, with secrets redacted: what a recording's `event` lines
/// hold and what a replay compares. Durations are in milliseconds; payloads are their JSON;
/// reasons and violations are their `Debug` text.
pub fn event_json(event: &SpacesEvent) -> Value {
    use SpacesEvent as E;
    let auth = |f: &crate::spaces::ErrorPacket| json!({"message": f.message, "code": f.code, "raw": parse_or_text(&f.raw)});
    let rendered = match event {
        E::Connected => json!({"event": "Connected"}),
        E::Disconnected { reason } => {
            json!({"event": "Disconnected", "reason": format!("{reason:?}")})
        }
        E::AuthFailed(failure) => json!({"event": "AuthFailed", "failure": auth(failure)}),
        E::AuthRetrying { failure, retry } => {
            json!({"event": "AuthRetrying", "failure": auth(failure), "retry": retry})
        }
        E::ServerError(failure) => json!({"event": "ServerError", "failure": auth(failure)}),
        E::Subscribed { space } => json!({"event": "Subscribed", "space": space}),
        E::SubscribeTimedOut { space } => json!({"event": "SubscribeTimedOut", "space": space}),
        E::SubscribeFailed { space, error } => {
            json!({"event": "SubscribeFailed", "space": space, "error": parse_or_text(error)})
        }
        E::Unsubscribed { space } => json!({"event": "Unsubscribed", "space": space}),
        E::Confirmed { id, message } => {
            json!({"event": "Confirmed", "id": id.get(), "message": to_json(message)})
        }
        E::SendFailed { id, space, failure } => json!({
            "event": "SendFailed", "id": id.get(), "space": space, "failure": format!("{failure:?}")
        }),
        E::Message(message) => json!({"event": "Message", "message": to_json(message)}),
        E::OwnMessage(message) => json!({"event": "OwnMessage", "message": to_json(message)}),
        E::Incoming(incoming) => {
            use crate::spaces::Incoming as I;
            let payload = match incoming {
                I::ChannelSubscribed(p) => to_json(p),
                I::SubscribeChannelFailed(p) => to_json(p),
                I::ChannelUnsubscribed(p) => to_json(p),
                I::MessageSent(p) => to_json(p),
                I::SendMessageFailed(p) => to_json(p),
                I::PresenceEventResponse(p) => to_json(p),
                I::MediaSessionResponse(p) => to_json(p),
                I::Other { args_json, .. } => parse_or_text(args_json),
            };
            json!({"event": "Incoming", "name": incoming.name(), "payload": payload})
        }
        E::Unrecognized {
            name,
            args,
            malformed,
        } => json!({
            "event": "Unrecognized", "name": name, "args": format!("{args:?}"), "malformed": malformed
        }),
        E::ConnectFailed { failure } => {
            json!({"event": "ConnectFailed", "failure": format!("{failure:?}")})
        }
        E::Reconnecting { attempt, delay } => {
            json!({"event": "Reconnecting", "attempt": attempt, "delay_ms": millis(*delay)})
        }
        E::Pong { latency } => json!({"event": "Pong", "latency_ms": millis(*latency)}),
        E::ProtocolViolation(violation) => {
            json!({"event": "ProtocolViolation", "violation": violation.to_string()})
        }
        E::ReconnectFailed => json!({"event": "ReconnectFailed"}),
        E::Closed => json!({"event": "Closed"}),
    };
    redact_value(&rendered, false)
}

fn to_json(value: &impl Serialize) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// JSON text as its value; anything else as a string.
fn parse_or_text(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// What a replay needs of `config` to behave as the recorded session did: the URL without its
/// query, the reconnection schedule and seed, every timer and limit. No secret is in it.
pub fn config_json(config: &SpacesConfig) -> Value {
    let c = &config.client;
    let scheme = if c.endpoint.secure { "https" } else { "http" };
    let bounds = |r: &std::ops::RangeInclusive<Duration>| [millis(*r.start()), millis(*r.end())];
    let delivery = match config.delivery {
        Delivery::AtLeastOnce { max_resends } => json!({"at_least_once": max_resends}),
        Delivery::AtMostOnce => json!("at_most_once"),
    };
    json!({
        "url": format!("{scheme}://{}{}", c.endpoint.authority(), c.namespace),
        "path": c.path,
        "reconnection": c.reconnection,
        "reconnection_attempts": c.reconnection_attempts,
        "reconnection_delay_ms": millis(c.reconnection_delay),
        "reconnection_delay_max_ms": millis(c.reconnection_delay_max),
        "randomization_factor": c.randomization_factor,
        "connect_timeout_ms": c.connect_timeout.map(millis),
        "ack_timeout_ms": c.ack_timeout.map(millis),
        "max_buffered": c.max_buffered,
        "max_pending_acks": c.max_pending_acks,
        "max_attachments": c.max_attachments,
        "max_binary_packet_bytes": c.max_binary_packet_bytes,
        "max_args": c.max_args,
        "max_receive_buffer_bytes": c.max_receive_buffer_bytes,
        "ping_interval_bounds_ms": bounds(&c.ping_interval_bounds),
        "ping_timeout_bounds_ms": bounds(&c.ping_timeout_bounds),
        "rng_seed": c.rng_seed,
        "rate_limit": config.rate_limit,
        "rate_window_ms": millis(config.rate_window),
        "max_payload": config.max_payload,
        "max_held": config.max_held,
        "confirm_timeout_ms": config.confirm_timeout.map(millis),
        "delivery": delivery,
        "join_timeout_ms": millis(config.join_timeout),
        "subscribe_timeout_ms": millis(config.subscribe_timeout),
        "auth_retries": config.auth_retries,
        "binary_events": config.binary_events,
        "user_id": config.user_id,
    })
}

/// The configuration [`config_json`] rendered; a field it lacks keeps its default. The error
/// names the first field that is present but unusable.
pub fn config_from_json(value: &Value) -> Result<SpacesConfig, String> {
    let url = value.get("url").and_then(Value::as_str).ok_or("no url")?;
    let mut config = SpacesConfig::new(url).map_err(|e| format!("url: {e}"))?;
    let get = |key: &str| value.get(key).filter(|v| !v.is_null());
    let bad = |key: &str| format!("{key} is unusable");
    let ms = |key: &str| -> Result<Option<Duration>, String> {
        get(key)
            .map(|v| v.as_f64().and_then(from_millis).ok_or_else(|| bad(key)))
            .transpose()
    };
    let int = |key: &str| -> Result<Option<u64>, String> {
        get(key)
            .map(|v| v.as_u64().ok_or_else(|| bad(key)))
            .transpose()
    };
    let size = |key: &str| int(key).map(|v| v.map(|n| usize::try_from(n).unwrap_or(usize::MAX)));
    let small = |key: &str| int(key).map(|v| v.map(|n| u32::try_from(n).unwrap_or(u32::MAX)));
    let flag = |key: &str| -> Result<Option<bool>, String> {
        get(key)
            .map(|v| v.as_bool().ok_or_else(|| bad(key)))
            .transpose()
    };
    let range = |key: &str| -> Result<Option<std::ops::RangeInclusive<Duration>>, String> {
        let Some(v) = get(key) else { return Ok(None) };
        let pair = v
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| bad(key))?;
        let at = |i: usize| {
            pair[i]
                .as_f64()
                .and_then(from_millis)
                .ok_or_else(|| bad(key))
        };
        Ok(Some(at(0)?..=at(1)?))
    };
    let c: &mut Config = &mut config.client;
    if let Some(path) = get("path").and_then(Value::as_str) {
        c.path = path.to_owned();
    }
    set(&mut c.reconnection, flag("reconnection")?);
    c.reconnection_attempts = small("reconnection_attempts")?;
    set(&mut c.reconnection_delay, ms("reconnection_delay_ms")?);
    set(
        &mut c.reconnection_delay_max,
        ms("reconnection_delay_max_ms")?,
    );
    let factor = get("randomization_factor").map(|v| v.as_f64().ok_or_else(|| bad("factor")));
    set(&mut c.randomization_factor, factor.transpose()?);
    c.connect_timeout = ms("connect_timeout_ms")?;
    c.ack_timeout = ms("ack_timeout_ms")?;
    set(&mut c.max_buffered, size("max_buffered")?);
    set(&mut c.max_pending_acks, size("max_pending_acks")?);
    set(&mut c.max_attachments, size("max_attachments")?);
    set(
        &mut c.max_binary_packet_bytes,
        size("max_binary_packet_bytes")?,
    );
    set(&mut c.max_args, size("max_args")?);
    set(
        &mut c.max_receive_buffer_bytes,
        size("max_receive_buffer_bytes")?,
    );
    set(
        &mut c.ping_interval_bounds,
        range("ping_interval_bounds_ms")?,
    );
    set(&mut c.ping_timeout_bounds, range("ping_timeout_bounds_ms")?);
    c.rng_seed = int("rng_seed")?;
    set(&mut config.rate_limit, small("rate_limit")?);
    set(&mut config.rate_window, ms("rate_window_ms")?);
    set(&mut config.max_payload, size("max_payload")?);
    set(&mut config.max_held, size("max_held")?);
    config.confirm_timeout = ms("confirm_timeout_ms")?;
    config.delivery = match get("delivery") {
        None => Delivery::default(),
        Some(v) if v == "at_most_once" => Delivery::AtMostOnce,
        Some(v) => match v.get("at_least_once").and_then(Value::as_u64) {
            Some(n) => Delivery::AtLeastOnce {
                max_resends: u32::try_from(n).unwrap_or(u32::MAX),
            },
            None => return Err(bad("delivery")),
        },
    };
    set(&mut config.join_timeout, ms("join_timeout_ms")?);
    set(&mut config.subscribe_timeout, ms("subscribe_timeout_ms")?);
    set(&mut config.auth_retries, small("auth_retries")?);
    set(&mut config.binary_events, flag("binary_events")?);
    if let Some(id) = get("user_id") {
        config.user_id = Some(id.as_str().ok_or_else(|| bad("user_id"))?.to_owned());
    }
    Ok(config)
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_connect_packets_lose_their_token_but_keep_their_shape() {
        let url = "wss://h/socket.io/?EIO=3&transport=websocket&tokenType=jwt&token=T0K3N";
        let shown = redact_url(url);
        assert!(
            !shown.contains("T0K3N") && shown.contains("transport=websocket"),
            "{shown}"
        );
        let frame = redact_frame("40/chat?tokenType=jwt&token=T0K3N,");
        assert_eq!(
            frame,
            format!("40/chat?tokenType={PLACEHOLDER}&token={PLACEHOLDER},")
        );
    }

    #[test]
    fn frames_hide_sids_and_pins_and_are_unchanged_otherwise() {
        let open = redact_frame(r#"0{"sid":"S1D","upgrades":[],"pingInterval":25000}"#);
        assert!(!open.contains("S1D") && open.starts_with("0{"), "{open}");
        let sub = r#"42/chat,["SUBSCRIBE_CHANNEL",{"channel":{"_id":"s","password":"1234"}}]"#;
        assert!(!redact_frame(sub).contains("1234"));
        let plain = r#"42/chat,["MESSAGE_SENT",{"z":1,"a":2}]"#;
        assert_eq!(redact_frame(plain), plain);
        assert_eq!(redact_frame("2probe"), "2probe");
    }

    #[test]
    fn a_configuration_survives_its_rendering() {
        let mut config = SpacesConfig::new("http://127.0.0.1:9/chat?token=x").unwrap();
        config.client.rng_seed = Some(42);
        config.client.reconnection_delay = Duration::from_nanos(1_234_567);
        config.delivery = Delivery::AtMostOnce;
        config.confirm_timeout = None;
        let json = config_json(&config);
        assert!(!json.to_string().contains("token"), "{json}");
        let back = config_from_json(&json).unwrap();
        assert_eq!(config_json(&back), json);
        assert_eq!(back.client.rng_seed, Some(42));
    }

    /// Lines as versions 1 and 2 wrote them (with `json!`, keys sorted) read as [`Line`]s, and
    /// a [`Line`] writes its time and kind first.
    #[test]
    fn lines_read_the_recorded_shapes_and_write_time_and_kind_first() {
        let recorded = [
            r#"{"t":0.0,"kind":"connect"}"#,
            r#"{"t":1.5,"kind":"token","refreshes":false,"type":"jwt"}"#,
            r#"{"t":1.5,"kind":"token","error":"token provider failed: down"}"#,
            r#"{"t":2,"kind":"out","open":"ws://h/socket.io/?token=<redacted>"}"#,
            r#"{"t":2,"kind":"in","text":"40/chat"}"#,
            r#"{"t":2,"kind":"in","binary":"BAEC"}"#,
            r#"{"t":3,"kind":"closed","error":null}"#,
            r#"{"t":3,"kind":"open_failed","reason":"refused"}"#,
            r#"{"t":3,"kind":"upgrade_refused","status":401}"#,
            r#"{"t":4,"kind":"command","command":"subscribe","password":null,"space":"s"}"#,
            r#"{"t":4,"kind":"command","command":"send_message","message":{"topicId":"s"},"result":{"Ok":0}}"#,
            r#"{"t":4,"kind":"command","command":"send_presence","presence":{},"result":{"Err":"no"}}"#,
            r#"{"t":4,"kind":"command","command":"close"}"#,
            r#"{"t":5,"kind":"event","event":{"event":"Connected"}}"#,
            r#"{"t":6,"kind":"out","close":true}"#,
            r#"{"t":6,"kind":"timeout"}"#,
            r#"{"kind":"dropped","lines":3}"#,
        ];
        for text in recorded {
            let line: Line = serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            let again: Line = serde_json::from_str(&serde_json::to_string(&line).unwrap()).unwrap();
            assert_eq!(again, line, "{text}");
        }
        let line = Line {
            t: Some(1.0),
            entry: Entry::Command(Command::Unsubscribe { space: "s".into() }),
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"t":1.0,"kind":"command","command":"unsubscribe","space":"s"}"#
        );
        let bad = serde_json::from_str::<Line>(r#"{"t":1,"kind":"teleported"}"#);
        assert!(bad.unwrap_err().to_string().contains("teleported"));
    }

    #[test]
    fn millis_round_trip_to_the_nanosecond() {
        for nanos in [0, 1, 999, 1_000_001, 3_600_000_000_123] {
            let d = Duration::from_nanos(nanos);
            assert_eq!(from_millis(millis(d)), Some(d));
        }
        assert_eq!(from_millis(-1.0), None);
    }
}
