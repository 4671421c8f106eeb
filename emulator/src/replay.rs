//! Replaying a session recording (`docs/recording.md`, written by a runtime with
//! `Options::record`, e.g. `chat --record FILE`) against the sans-IO core, deterministically:
//! the same configuration and jitter seed, virtual time from the recorded offsets, every
//! recorded input (websocket opens, frames, closes, timer firings, token answers, commands) fed
//! back in the recorded order, and every recorded output (frames out, events) taken from the
//! core at the same point and compared with the recording. No IO, no real clock.
//!
//! # A user's recording as a regression test
//!
//! A user met a surprise on the live service and ran `chat --record session.jsonl`. Nothing in
//! the file is secret (tokens, PINs and session ids are redacted), so it can be checked in as
//! it is, under `tests/fixtures/`, and replayed by a test: the test fails as soon as a change
//! makes the core answer that session differently, and it pins what the fix is about.
//!
//! ```
//! use spaces_socket_emulator::replay;
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/chat-reconnect.jsonl");
//! let recording = std::fs::read_to_string(path).expect("the fixture");
//! let replayed = replay::replay(&recording).expect("a version 1 recording");
//! // The core still answers the recorded session frame for frame and event for event ...
//! assert_eq!(replayed.mismatch, None);
//! // ... and what the report was about still holds: the line went through after the cut.
//! let confirmed = replayed.events.iter().filter(|e| e["event"] == "Confirmed").count();
//! assert_eq!(confirmed, 2);
//! ```

use std::time::{Instant, SystemTime};

use base64::Engine as _;
use serde_json::Value;
use spaces_socket::record::{self, PLACEHOLDER, event_json, from_millis, transmit_json};
use spaces_socket::spaces::{
    AuthError, Input, SendMessage, SendPresenceEvent, Spaces, Token, TokenProvider,
};

/// What [`replay`] made of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// The events the core produced, rendered as the recording renders them
    /// ([`event_json`]), in order: one per recorded `event` line that the core answered.
    pub events: Vec<Value>,
    /// The websocket actions the core asked for (the payload of an `out` line:
    /// [`transmit_json`]), in order.
    pub frames: Vec<Value>,
    /// The first line the replay disagreed with; `None` when the core did exactly what was
    /// recorded.
    pub mismatch: Option<Mismatch>,
}

/// The first recorded line the replayed core disagreed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Its line number in the recording, from 1 (the header).
    pub line: usize,
    /// What the recording says, as JSON text (its time left out).
    pub recorded: String,
    /// What the core did instead, as JSON text; `null` when it had nothing to give.
    pub replayed: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            line,
            recorded,
            replayed,
        } = self;
        write!(f, "line {line}: recorded {recorded}, replayed {replayed}")
    }
}

/// Why a text cannot be replayed at all (a replay that merely differs is a [`Mismatch`]).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplayError {
    /// The first line is not a `spaces-socket-record` header, or its configuration is
    /// unusable. Check that the file is a recording.
    #[error("not a spaces-socket recording: {0}")]
    Header(String),
    /// The recording's format version is not one this crate reads (1 to
    /// [`record::VERSION`]).
    #[error("recording format version {0} is not supported (this crate reads versions 1 and 2)")]
    Version(u64),
    /// A line is not JSON, has an unknown `kind`, or lacks a field its kind needs.
    #[error("line {line}: {reason}")]
    Line {
        /// The line number, from 1.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
    /// The recorder dropped lines here (its buffer was full), so the session cannot be
    /// replayed faithfully; record again with a faster disk.
    #[error("line {line}: the recording lost {dropped} line(s) here")]
    Incomplete {
        /// The line number, from 1.
        line: usize,
        /// How many lines were lost.
        dropped: u64,
    },
}

/// Replays `recording` (the whole text of a recording) against a fresh [`Spaces`] core and
/// compares what it does with what was recorded. Read [`Replay::mismatch`] next.
///
/// # Errors
/// [`ReplayError`] when the text is not a replayable recording.
pub fn replay(recording: &str) -> Result<Replay, ReplayError> {
    let mut lines = recording.lines().enumerate().map(|(i, l)| (i + 1, l));
    let header = lines.next().map(|(_, l)| l).unwrap_or_default();
    let header: Value =
        serde_json::from_str(header).map_err(|e| ReplayError::Header(e.to_string()))?;
    if header["format"] != record::FORMAT {
        return Err(ReplayError::Header("no spaces-socket-record header".into()));
    }
    let version = match header["version"].as_u64() {
        Some(v @ 1..=record::VERSION) => v,
        other => return Err(ReplayError::Version(other.unwrap_or_default())),
    };
    let mut config = record::config_from_json(&header["config"]).map_err(ReplayError::Header)?;
    if let Some(seed) = header["seed"].as_u64() {
        config.client.rng_seed = Some(seed);
    }
    let wall = header["wall_ms"].as_f64().and_then(from_millis);
    let wall = SystemTime::UNIX_EPOCH + wall.unwrap_or_default();
    // Version 1 wrote `spaces-socket:<id>`; the core now writes its tag after the prefix.
    let tags = (version == 1).then(|| LegacyTags {
        current: record::loopback_prefix(config.client.rng_seed.unwrap_or_default()),
    });
    let core = Spaces::new(config).map_err(|e| ReplayError::Header(e.to_string()))?;
    let mut player = Player {
        core,
        base: Instant::now(),
        wall,
        tags,
        replay: Replay {
            events: Vec::new(),
            frames: Vec::new(),
            mismatch: None,
        },
    };
    for (number, text) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        let line: Value = serde_json::from_str(text).map_err(|e| ReplayError::Line {
            line: number,
            reason: e.to_string(),
        })?;
        player.play(number, &line).map_err(|reason| match reason {
            Problem::Bad(reason) => ReplayError::Line {
                line: number,
                reason,
            },
            Problem::Dropped(dropped) => ReplayError::Incomplete {
                line: number,
                dropped,
            },
        })?;
    }
    Ok(player.replay)
}

enum Problem {
    Bad(String),
    Dropped(u64),
}

impl From<String> for Problem {
    fn from(reason: String) -> Self {
        Self::Bad(reason)
    }
}

impl From<&str> for Problem {
    fn from(reason: &str) -> Self {
        Self::Bad(reason.to_owned())
    }
}

struct Player {
    core: Spaces,
    /// The virtual instant the recording's times count from.
    base: Instant,
    /// The wall-clock time at the start of the recording.
    wall: SystemTime,
    /// For a version 1 recording: how its loopback tags translate.
    tags: Option<LegacyTags>,
    replay: Replay,
}

/// The `loopbackMetadata` of a version 1 recording (`spaces-socket:<id>`) against the one the
/// core writes now (`spaces-socket:<tag>:<id>`).
struct LegacyTags {
    current: String,
}

impl LegacyTags {
    const LEGACY: &'static str = "\"spaces-socket:";

    /// A recorded frame as the core would receive it now.
    fn to_current(&self, text: &str) -> String {
        text.replace(Self::LEGACY, &format!("\"{}", self.current))
    }

    /// A frame the core wrote, as version 1 recorded it.
    fn to_legacy(&self, value: Value) -> Value {
        let text = value.to_string();
        let current = serde_json::to_string(&format!("\"{}", self.current)).unwrap_or_default();
        let legacy = serde_json::to_string(Self::LEGACY).unwrap_or_default();
        // The frame is a JSON string inside the line: its quotes are escaped there.
        let (current, legacy) = (current.trim_matches('"'), legacy.trim_matches('"'));
        serde_json::from_str(&text.replace(current, legacy)).unwrap_or(value)
    }
}

impl Player {
    fn play(&mut self, number: usize, line: &Value) -> Result<(), Problem> {
        let kind = line["kind"].as_str().ok_or("no kind")?;
        if kind == "dropped" {
            return Err(Problem::Dropped(line["lines"].as_u64().unwrap_or(0)));
        }
        let offset = line["t"].as_f64().and_then(from_millis);
        let offset = offset.ok_or("no time t (milliseconds)")?;
        let now = self.base.checked_add(offset).ok_or("time out of range")?;
        let text = |key: &str| line[key].as_str().ok_or(format!("no {key}"));
        match kind {
            "connect" => self.core.connect(now),
            "token" => {
                let wall = self.wall.checked_add(offset).unwrap_or(self.wall);
                let mut tokens = Recorded(line);
                if self.core.wants_token() {
                    self.core.answer_token(now, wall, &mut tokens);
                } else {
                    // Handed over by hand, as version 1 recorded a token given outside a
                    // provider: the recorded `refreshes` says what its source was.
                    let refreshes = tokens.refreshes();
                    match tokens.token(wall) {
                        Ok(token) => self.core.handle_input(
                            now,
                            Input::Token {
                                token: &token,
                                refreshes,
                            },
                        ),
                        Err(error) => self.core.handle_input(now, Input::TokenFailed(&error)),
                    }
                }
            }
            "opened" => self.core.handle_input(now, Input::Opened),
            "open_failed" => {
                let reason = text("reason")?;
                self.core.handle_input(now, Input::OpenFailed { reason });
            }
            "upgrade_refused" => {
                let status = line["status"].as_u64().and_then(|s| u16::try_from(s).ok());
                let status = status.ok_or("no status")?;
                self.core
                    .handle_input(now, Input::UpgradeRefused { status });
            }
            "closed" => {
                let error = line["error"].as_str();
                self.core.handle_input(now, Input::Closed { error });
            }
            "in" => match line.get("binary").and_then(Value::as_str) {
                Some(data) => {
                    let data = base64::engine::general_purpose::STANDARD.decode(data);
                    let data = data.map_err(|e| format!("binary: {e}"))?;
                    self.core.handle_input(now, Input::Binary(&data));
                }
                None => match &self.tags {
                    Some(tags) => {
                        let text = tags.to_current(text("text")?);
                        self.core.handle_input(now, Input::Text(&text));
                    }
                    None => self.core.handle_input(now, Input::Text(text("text")?)),
                },
            },
            "timeout" => self.core.handle_input(now, Input::Timeout),
            "command" => self.command(number, now, line)?,
            "out" => {
                let produced = self.core.poll_transmit().map(|t| transmit_json(&t));
                let produced = match &self.tags {
                    Some(tags) => produced.map(|p| tags.to_legacy(p)),
                    None => produced,
                };
                let recorded = without(line, &["t", "kind"]);
                self.compare(number, &recorded, produced.as_ref());
                self.replay.frames.extend(produced);
            }
            "event" => {
                // Token requests are skipped: the `token` lines answer them.
                let produced = self.core.poll_event().as_ref().map(event_json);
                self.compare(number, &line["event"], produced.as_ref());
                self.replay.events.extend(produced);
            }
            other => return Err(format!("unknown kind {other:?}").into()),
        }
        Ok(())
    }

    fn command(&mut self, number: usize, now: Instant, line: &Value) -> Result<(), Problem> {
        let space = || line["space"].as_str().ok_or("no space");
        match line["command"].as_str().ok_or("no command")? {
            "subscribe" => {
                let password = line["password"].as_str().map(|_| PLACEHOLDER);
                self.core.subscribe(now, space()?, password);
            }
            "unsubscribe" => self.core.unsubscribe(now, space()?),
            "send_message" => {
                let message: SendMessage = serde_json::from_value(line["message"].clone())
                    .map_err(|e| format!("message: {e}"))?;
                let result = self.core.send_message(now, message);
                let result = result.map(|id| id.get()).map_err(|e| e.to_string());
                let result = serde_json::to_value(result).unwrap_or_default();
                self.compare(number, &line["result"], Some(&result));
            }
            "send_presence" => {
                let presence: SendPresenceEvent = serde_json::from_value(line["presence"].clone())
                    .map_err(|e| format!("presence: {e}"))?;
                let result = self.core.send_presence(now, &presence);
                let result = serde_json::to_value(result.map_err(|e| e.to_string()));
                self.compare(number, &line["result"], result.ok().as_ref());
            }
            "close" => self.core.close(now),
            other => return Err(format!("unknown command {other:?}").into()),
        }
        Ok(())
    }

    /// Keeps the first disagreement.
    fn compare(&mut self, line: usize, recorded: &Value, produced: Option<&Value>) {
        if self.replay.mismatch.is_none() && produced != Some(recorded) {
            self.replay.mismatch = Some(Mismatch {
                line,
                recorded: recorded.to_string(),
                replayed: produced.map_or_else(|| "null".to_owned(), Value::to_string),
            });
        }
    }
}

/// `line` without `keys`.
fn without(line: &Value, keys: &[&str]) -> Value {
    let mut line = line.clone();
    if let Value::Object(fields) = &mut line {
        fields.retain(|k, _| !keys.contains(&k.as_str()));
    }
    line
}

/// The token source as recorded: the placeholder token of the recorded type, or the recorded
/// failure.
struct Recorded<'a>(&'a Value);

impl TokenProvider for Recorded<'_> {
    fn token(&mut self, _wall: SystemTime) -> Result<Token, AuthError> {
        if let Some(error) = self.0["error"].as_str() {
            // The core reports the error's text; a provider's failure is the one that keeps it.
            let text = error
                .strip_prefix("token provider failed: ")
                .unwrap_or(error);
            return Err(AuthError::Provider(text.to_owned()));
        }
        Ok(match self.0["type"].as_str() {
            Some("oauth") => Token::oauth(PLACEHOLDER),
            _ => Token::jwt(PLACEHOLDER),
        })
    }

    fn refreshes(&self) -> bool {
        self.0["refreshes"].as_bool().unwrap_or(false)
    }
}
