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

use std::collections::VecDeque;
use std::time::Instant;

use base64::Engine as _;
use serde_json::Value;
use spaces_socket::Transmit;
use spaces_socket::record::{
    self, Command, Entry, Frame, Line, PLACEHOLDER, TokenAnswer, event_json, from_millis,
};
use spaces_socket::spaces::{
    AuthError, Input, SendMessage, SendPresenceEvent, Spaces, SpacesEvent, Step, Token,
};

/// What [`replay`] made of a recording.
#[derive(Debug, Clone, PartialEq)]
pub struct Replay {
    /// The events the core produced, rendered as the recording renders them
    /// ([`event_json`]), in order: one per recorded `event` line that the core answered.
    pub events: Vec<Value>,
    /// The websocket actions the core asked for (the payload of an `out` line, a
    /// [`Frame`] as JSON), in order.
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
    // Version 1 wrote `spaces-socket:<id>`; the core now writes its tag after the prefix.
    let tags = (version == 1).then(|| LegacyTags {
        current: record::loopback_prefix(config.client.rng_seed.unwrap_or_default()),
    });
    let core = Spaces::new(config).map_err(|e| ReplayError::Header(e.to_string()))?;
    let mut player = Player {
        core,
        base: Instant::now(),
        tags,
        outs: VecDeque::new(),
        events: VecDeque::new(),
        replay: Replay {
            events: Vec::new(),
            frames: Vec::new(),
            mismatch: None,
        },
    };
    for (number, text) in lines.filter(|(_, l)| !l.trim().is_empty()) {
        // The recorder writes the same type: a line it could write, this reads.
        let line: Line = serde_json::from_str(text).map_err(|e| ReplayError::Line {
            line: number,
            reason: e.to_string(),
        })?;
        player.play(number, line).map_err(|reason| match reason {
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
    /// For a version 1 recording: how its loopback tags translate.
    tags: Option<LegacyTags>,
    /// What the core gave in its one poll order ([`Spaces::poll_output`]) ahead of the line
    /// that records it: a runtime may record its transmits and events in another interleaving
    /// (the async one wrote and handed out events on separate tasks), so each kind is matched
    /// in its own order.
    outs: VecDeque<Transmit>,
    events: VecDeque<SpacesEvent>,
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
    fn to_legacy(&self, frame: Frame) -> Frame {
        match frame {
            Frame::Text(text) => {
                Frame::Text(text.replace(&format!("\"{}", self.current), Self::LEGACY))
            }
            other => other,
        }
    }
}

impl Player {
    /// The core's next transmit; the events before it wait for their lines.
    fn next_transmit(&mut self) -> Option<Transmit> {
        if let Some(transmit) = self.outs.pop_front() {
            return Some(transmit);
        }
        loop {
            match self.core.poll_output() {
                Step::Transmit(transmit) => return Some(transmit),
                Step::Event(event) => self.events.push_back(event),
                // Token requests never come out: the `token` lines answer them.
                Step::Token { .. } => {}
                _ => return None,
            }
        }
    }

    /// The core's next event; the transmits before it wait for their lines.
    fn next_event(&mut self) -> Option<SpacesEvent> {
        if let Some(event) = self.events.pop_front() {
            return Some(event);
        }
        loop {
            match self.core.poll_output() {
                Step::Transmit(transmit) => self.outs.push_back(transmit),
                Step::Event(event) => return Some(event),
                Step::Token { .. } => {}
                _ => return None,
            }
        }
    }

    fn play(&mut self, number: usize, line: Line) -> Result<(), Problem> {
        if let Entry::Dropped { lines } = line.entry {
            return Err(Problem::Dropped(lines));
        }
        let offset = line.t.and_then(from_millis);
        let offset = offset.ok_or("no time t (milliseconds)")?;
        let now = self.base.checked_add(offset).ok_or("time out of range")?;
        // Every kind of line, from the type the recorder writes: one it adds cannot be missed.
        match line.entry {
            Entry::Connect => self.core.connect(now),
            Entry::Token(answer) => self.token(now, answer),
            Entry::Opened => self.core.handle_input(now, Input::Opened),
            Entry::OpenFailed { reason } => {
                self.core
                    .handle_input(now, Input::OpenFailed { reason: &reason });
            }
            Entry::UpgradeRefused { status } => {
                self.core
                    .handle_input(now, Input::UpgradeRefused { status });
            }
            Entry::Closed { error } => {
                let error = error.as_deref();
                self.core.handle_input(now, Input::Closed { error });
            }
            Entry::In(Frame::Binary(data)) => {
                let data = base64::engine::general_purpose::STANDARD.decode(data);
                let data = data.map_err(|e| format!("binary: {e}"))?;
                self.core.handle_input(now, Input::Binary(&data));
            }
            Entry::In(Frame::Text(text)) => match &self.tags {
                Some(tags) => {
                    let text = tags.to_current(&text);
                    self.core.handle_input(now, Input::Text(&text));
                }
                None => self.core.handle_input(now, Input::Text(&text)),
            },
            Entry::In(other) => return Err(format!("an incoming {other:?}").into()),
            Entry::Timeout => self.core.handle_input(now, Input::Timeout),
            Entry::Command(command) => self.command(number, now, command)?,
            Entry::Out(recorded) => {
                let produced = self.next_transmit().map(|t| Frame::of(&t));
                let produced = match &self.tags {
                    Some(tags) => produced.map(|p| tags.to_legacy(p)),
                    None => produced,
                };
                let produced = produced.map(|p| serde_json::to_value(p).unwrap_or_default());
                let recorded = serde_json::to_value(recorded).unwrap_or_default();
                self.compare(number, &recorded, produced.as_ref());
                self.replay.frames.extend(produced);
            }
            Entry::Event { event } => {
                let produced = self.next_event().as_ref().map(event_json);
                self.compare(number, &event, produced.as_ref());
                self.replay.events.extend(produced);
            }
            Entry::Dropped { .. } => {}
        }
        Ok(())
    }

    /// A token answer as recorded: the placeholder token of the recorded type, or the recorded
    /// failure.
    fn token(&mut self, now: Instant, answer: TokenAnswer) {
        match answer {
            TokenAnswer::Token {
                token_type,
                refreshes,
            } => {
                let token = match token_type.as_str() {
                    "oauth" => Token::oauth(PLACEHOLDER),
                    _ => Token::jwt(PLACEHOLDER),
                };
                self.core.handle_input(
                    now,
                    Input::Token {
                        token: &token,
                        refreshes,
                    },
                );
            }
            TokenAnswer::Failed { error } => {
                // The core reports the error's text; a provider's failure is the one that
                // keeps it.
                let text = error
                    .strip_prefix("token provider failed: ")
                    .unwrap_or(&error);
                let error = AuthError::Provider(text.to_owned());
                self.core.handle_input(now, Input::TokenFailed(&error));
            }
        }
    }

    fn command(&mut self, number: usize, now: Instant, command: Command) -> Result<(), Problem> {
        match command {
            Command::Subscribe { space, password } => {
                let password = password.map(|_| PLACEHOLDER);
                self.core.subscribe(now, &space, password);
            }
            Command::Unsubscribe { space } => self.core.unsubscribe(now, &space),
            Command::SendMessage { message, result } => {
                let message: SendMessage =
                    serde_json::from_value(message).map_err(|e| format!("message: {e}"))?;
                let produced = self.core.send_message(now, message);
                let produced = produced.map(|id| id.get()).map_err(|e| e.to_string());
                let produced = serde_json::to_value(produced).unwrap_or_default();
                let recorded = serde_json::to_value(result).unwrap_or_default();
                self.compare(number, &recorded, Some(&produced));
            }
            Command::SendPresence { presence, result } => {
                let presence: SendPresenceEvent =
                    serde_json::from_value(presence).map_err(|e| format!("presence: {e}"))?;
                let produced = self.core.send_presence(now, &presence);
                let produced = serde_json::to_value(produced.map_err(|e| e.to_string()));
                let recorded = serde_json::to_value(result).unwrap_or_default();
                self.compare(number, &recorded, produced.ok().as_ref());
            }
            Command::Close => self.core.close(now),
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
