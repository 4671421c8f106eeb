//! Recording a session ([`Options::record`](crate::Options::record)): [`RecordedSession`] is
//! the sans-IO session as every runtime drives it, and it writes each input and output to a
//! [`Recorder`], one JSON line each, with tokens, PINs and session ids redacted (`docs/recording.md`). The
//! emulator crate's `replay` plays such a file back against the core.

use core::fmt;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use spaces_socket::Transmit;
use spaces_socket::bot::SessionCommands;
use spaces_socket::record::{self, Command, Entry, Frame, Line, millis, redact_json};
use spaces_socket::spaces::{
    Input, SendError, SendId, SendMessage, SendPresenceEvent, Spaces, SpacesConfig, SpacesEvent,
    Step, TokenProvider,
};

/// Lines waiting for the writer thread; past this many, lines are dropped (and the recording
/// says how many) rather than slowing the session down.
const BUFFER_LINES: usize = 4096;
/// How long dropping the last handle waits for the writer to finish the file.
const FINISH_TIMEOUT: Duration = Duration::from_secs(2);

/// Where a recording goes: a file ([`Recorder::create`]) or any writer
/// ([`Recorder::to_writer`]), written on a thread of its own through a bounded buffer and
/// flushed whenever the buffer empties. Put it in [`Options::record`](crate::Options::record)
/// before `connect`; give every session its own.
///
/// Recording never stops or slows the session: a full buffer drops lines (the recording then
/// says how many, and a replay refuses it as incomplete), and a write error is logged as a
/// warning and ends the recording. Dropping the last clone (the session's and yours) finishes
/// the file, waiting at most two seconds.
#[derive(Clone)]
pub struct Recorder {
    sink: Arc<Sink>,
}

struct Sink {
    lines: Mutex<Option<SyncSender<String>>>,
    finished: Mutex<Receiver<()>>,
    dropped: AtomicU64,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dropped = self.sink.dropped.load(Ordering::Relaxed);
        f.debug_struct("Recorder")
            .field("dropped", &dropped)
            .finish()
    }
}

impl Recorder {
    /// Records into a new file at `path` (truncating an existing one).
    ///
    /// # Errors
    /// The file cannot be created, or the writer thread cannot be started.
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        Self::to_writer(std::fs::File::create(path)?)
    }

    /// Records into `out` (a file, a pipe, a buffer shared with a test).
    ///
    /// # Errors
    /// The writer thread cannot be started.
    pub fn to_writer(out: impl Write + Send + 'static) -> io::Result<Self> {
        let (lines, queued) = std::sync::mpsc::sync_channel::<String>(BUFFER_LINES);
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("spaces-recorder".to_owned())
            .spawn(move || {
                let mut out = io::BufWriter::new(out);
                while let Ok(line) = queued.recv() {
                    let mut written = writeln!(out, "{line}");
                    while let (Ok(()), Ok(line)) = (&written, queued.try_recv()) {
                        written = writeln!(out, "{line}");
                    }
                    if let Err(e) = written.and_then(|()| out.flush()) {
                        log::warn!("spaces recorder: cannot write the recording ({e}); it stops");
                        break;
                    }
                }
                let _ = out.flush();
                let _ = done.send(());
            })?;
        let sink = Sink {
            lines: Mutex::new(Some(lines)),
            finished: Mutex::new(finished),
            dropped: AtomicU64::new(0),
        };
        Ok(Self {
            sink: Arc::new(sink),
        })
    }

    /// Queues one line, never waiting: a full buffer drops it (counted, and reported in the
    /// recording before the next line that fits).
    fn write(&self, line: String) {
        let guard = self
            .sink
            .lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(lines) = guard.as_ref() else { return };
        let dropped = self.sink.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            let gap = dropped_line(dropped);
            if lines.try_send(gap).is_err() {
                self.sink.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            self.sink.dropped.fetch_sub(dropped, Ordering::Relaxed);
        }
        if let Err(TrySendError::Full(_)) = lines.try_send(line) {
            self.sink.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The line that says how many lines were lost: `{"kind":"dropped","lines":…}`.
fn dropped_line(lines: u64) -> String {
    let entry = Entry::Dropped { lines };
    serde_json::to_string(&Line { t: None, entry }).unwrap_or_default()
}

impl Drop for Sink {
    fn drop(&mut self) {
        let lines = self.lines.get_mut().unwrap_or_else(PoisonError::into_inner);
        let dropped = *self.dropped.get_mut();
        if let (Some(sender), true) = (lines.as_ref(), dropped > 0) {
            // The last gap has no later line to carry it: wait (boundedly) for room for it.
            let mut gap = dropped_line(dropped);
            let deadline = Instant::now() + FINISH_TIMEOUT;
            while let Err(TrySendError::Full(back)) = sender.try_send(gap) {
                if Instant::now() >= deadline {
                    break;
                }
                gap = back;
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        drop(lines.take());
        let finished = self
            .finished
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Err(RecvTimeoutError::Timeout) = finished.recv_timeout(FINISH_TIMEOUT) {
            log::warn!("spaces recorder: the recording was not finished in {FINISH_TIMEOUT:?}");
        }
    }
}

/// A recorder and the start of its session, which every line's time `t` counts from.
struct Tape {
    recorder: Recorder,
    start: Instant,
}

impl Tape {
    /// Writes `entry` with its time: `{"t":…,"kind":…,…}`.
    fn write(&self, now: Instant, entry: Entry) {
        let t = Some(millis(now.saturating_duration_since(self.start)));
        match serde_json::to_string(&Line { t, entry }) {
            Ok(line) => self.recorder.write(line),
            Err(e) => log::warn!("spaces recorder: a line was not serialized: {e}"),
        }
    }
}

/// A [`Spaces`] session that records what goes in and comes out: the session as the runtimes
/// drive it, made by [`session`](crate::session). Every input
/// ([`handle_input`](Self::handle_input), commands, token answers) and output (`poll_*`) goes
/// through it, so that with [`Options::record`](crate::Options::record) set it records them
/// all. The read-only queries (`is_closed`, `poll_timeout`, …) are the
/// [`Spaces`] ones, through `Deref`; nothing mutates the session around the recording.
pub struct RecordedSession {
    spaces: Spaces,
    tape: Option<Tape>,
    /// Events [`poll_write`](Self::poll_write) met while looking for transmits, for
    /// [`poll_step`](Self::poll_step).
    set_aside: VecDeque<SpacesEvent>,
}

impl fmt::Debug for RecordedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordedSession")
            .field("spaces", &self.spaces)
            .field("recording", &self.tape.is_some())
            .finish()
    }
}

impl Deref for RecordedSession {
    type Target = Spaces;

    fn deref(&self) -> &Spaces {
        &self.spaces
    }
}

/// A bot's commands go through the recording like the user's ([`spaces_socket::bot::Ctx`]).
/// Each command is the [`Spaces`] one, recorded first (secrets redacted): the runtimes and a
/// bot's [`Ctx`](spaces_socket::bot::Ctx) command the session through this.
impl SessionCommands for RecordedSession {
    fn spaces(&self) -> &Spaces {
        &self.spaces
    }

    /// [`Spaces::connect`], recorded.
    fn connect(&mut self, now: Instant) {
        self.note(now, || Entry::Connect);
        self.spaces.connect(now);
    }

    /// [`Spaces::subscribe`], recorded with the PIN redacted.
    fn subscribe(&mut self, now: Instant, space: &str, password: Option<&str>) {
        self.note(now, || {
            let password = password.map(|_| record::PLACEHOLDER.to_owned());
            let space = space.to_owned();
            Entry::Command(Command::Subscribe { space, password })
        });
        self.spaces.subscribe(now, space, password);
    }

    /// [`Spaces::unsubscribe`], recorded.
    fn unsubscribe(&mut self, now: Instant, space: &str) {
        let space_owned = || space.to_owned();
        self.note(now, || {
            Entry::Command(Command::Unsubscribe {
                space: space_owned(),
            })
        });
        self.spaces.unsubscribe(now, space);
    }

    /// [`Spaces::send_message`], recorded with its result.
    fn send_message(&mut self, now: Instant, message: SendMessage) -> Result<SendId, SendError> {
        let json = self.tape.as_ref().map(|_| serde_json::to_value(&message));
        let result = self.spaces.send_message(now, message);
        self.note(now, || {
            let message = redact_json(&json.and_then(Result::ok).unwrap_or_default());
            let result = result
                .as_ref()
                .map(|id| id.get())
                .map_err(ToString::to_string);
            Entry::Command(Command::SendMessage { message, result })
        });
        result
    }

    /// [`Spaces::send_presence`], recorded with its result.
    fn send_presence(
        &mut self,
        now: Instant,
        presence: &SendPresenceEvent,
    ) -> Result<(), SendError> {
        let result = self.spaces.send_presence(now, presence);
        self.note(now, || {
            let presence = redact_json(&serde_json::to_value(presence).unwrap_or_default());
            let result = result.clone().map_err(|e| e.to_string());
            Entry::Command(Command::SendPresence { presence, result })
        });
        result
    }

    /// [`Spaces::close`], recorded.
    fn close(&mut self, now: Instant) {
        self.note(now, || Entry::Command(Command::Close));
        self.spaces.close(now);
    }
}

impl RecordedSession {
    /// `spaces`, recorded into `recorder` from `now` on (the header line goes out first).
    pub(crate) fn new(
        spaces: Spaces,
        recorder: Option<Recorder>,
        config: &SpacesConfig,
        start: Instant,
    ) -> Self {
        let tape = recorder.map(|recorder| Tape { recorder, start });
        if let Some(tape) = &tape {
            let wall = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH);
            // The format and version first, so that `head -1` tells what the file is.
            let (format, version) = (record::FORMAT, record::VERSION);
            let seed = json!(config.client.rng_seed);
            let wall = json!(wall.map(millis).unwrap_or_default());
            let config = record::config_json(config);
            tape.recorder.write(format!(
                r#"{{"format":"{format}","version":{version},"seed":{seed},"wall_ms":{wall},"config":{config}}}"#
            ));
        }
        Self {
            spaces,
            tape,
            set_aside: VecDeque::new(),
        }
    }

    fn note(&self, now: Instant, entry: impl FnOnce() -> Entry) {
        if let Some(tape) = &self.tape {
            tape.write(now, entry());
        }
    }

    /// [`Spaces::handle_input`], recorded with its secrets redacted ([`Entry::of_input`]: a
    /// token never is, only its type).
    pub fn handle_input(&mut self, now: Instant, input: Input<'_>) {
        self.note(now, || Entry::of_input(&input));
        self.spaces.handle_input(now, input);
    }

    fn note_event(&self, now: Instant, event: &SpacesEvent) {
        self.note(now, || Entry::Event {
            event: record::event_json(event),
        });
    }

    /// [`Spaces::poll_step`], recorded, token answers included (token requests are not: the
    /// `token` line that answers one stands for it). Events that
    /// [`poll_write`](Self::poll_write) set aside come out first, in order.
    pub fn poll_step(
        &mut self,
        now: Instant,
        wall: SystemTime,
        tokens: &mut dyn TokenProvider,
    ) -> Step {
        loop {
            let step = self.spaces.poll_output();
            match step {
                Step::Token { .. } => {
                    self.answer_token(now, wall, tokens);
                    continue;
                }
                Step::Transmit(ref transmit) => {
                    self.note(now, || Entry::Out(Frame::of(transmit)));
                }
                Step::Event(event) => {
                    self.note_event(now, &event);
                    let event = match self.set_aside.pop_front() {
                        Some(first) => {
                            self.set_aside.push_back(event);
                            first
                        }
                        None => event,
                    };
                    return Step::Event(event);
                }
                Step::Wait(_) => {
                    if let Some(first) = self.set_aside.pop_front() {
                        return Step::Event(first);
                    }
                }
                _ => {}
            }
            return step;
        }
    }

    /// The writer's half of [`poll_step`](Self::poll_step), for a runtime that carries out a
    /// command's transmits at once and hands events out later (the blocking runtime): drains
    /// the core in its one poll order, answering a token request from `tokens` (recorded:
    /// whether a token came, never the token), and gives the next transmit, recorded. The
    /// events met on the way are set aside for [`poll_step`](Self::poll_step). Call it until
    /// `None`.
    pub fn poll_write(
        &mut self,
        now: Instant,
        wall: SystemTime,
        tokens: &mut dyn TokenProvider,
    ) -> Option<Transmit> {
        loop {
            match self.spaces.poll_output() {
                Step::Token { .. } => self.answer_token(now, wall, tokens),
                Step::Transmit(transmit) => {
                    self.note(now, || Entry::Out(Frame::of(&transmit)));
                    return Some(transmit);
                }
                Step::Event(event) => {
                    self.note_event(now, &event);
                    self.set_aside.push_back(event);
                }
                _ => return None,
            }
        }
    }

    /// Answers the token request a [`Step::Token`] announced, from `tokens`, through
    /// [`handle_input`](Self::handle_input).
    fn answer_token(&mut self, now: Instant, wall: SystemTime, tokens: &mut dyn TokenProvider) {
        spaces_socket::spaces::ask_token(tokens, wall, |input| self.handle_input(now, input));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, session};
    use serde_json::Value;
    use spaces_socket::spaces::Token;

    /// A writer whose bytes a test reads; it waits for `gate` before its first write.
    #[derive(Clone)]
    struct Shared {
        bytes: Arc<Mutex<Vec<u8>>>,
        gate: Arc<Mutex<Option<Receiver<()>>>>,
    }

    impl Shared {
        fn new(gate: Option<Receiver<()>>) -> Self {
            let (bytes, gate) = (Arc::default(), Arc::new(Mutex::new(gate)));
            Self { bytes, gate }
        }

        fn text(&self) -> String {
            String::from_utf8_lossy(&self.bytes.lock().unwrap()).into_owned()
        }
    }

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if let Some(gate) = self.gate.lock().unwrap().take() {
                let _ = gate.recv();
            }
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn recorded(recorder: Recorder) -> RecordedSession {
        let config = SpacesConfig::new("http://127.0.0.1:9/chat").unwrap();
        let options = Options {
            record: Some(recorder),
            ..Options::default()
        };
        session(config, Instant::now(), &options).unwrap()
    }

    #[test]
    fn the_header_comes_first_then_every_input_in_order_without_the_pin() {
        let out = Shared::new(None);
        let mut core = recorded(Recorder::to_writer(out.clone()).unwrap());
        core.subscribe(Instant::now(), "s1", Some("PIN-SECRET"));
        let mut token = Token::jwt("TOKEN-SECRET");
        while (core.poll_write(Instant::now(), SystemTime::now(), &mut token)).is_some() {}
        drop(core);
        let text = out.text();
        let kinds: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .map(|l| l["kind"].as_str().unwrap_or("header").to_owned())
            .collect();
        assert_eq!(kinds, ["header", "connect", "command", "token", "out"]);
        let header = format!(
            r#"{{"format":"spaces-socket-record","version":{},"#,
            record::VERSION
        );
        assert!(text.starts_with(&header), "{text}");
        for secret in ["PIN-SECRET", "TOKEN-SECRET"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    #[test]
    fn a_bots_commands_are_recorded_like_the_users() {
        struct Greeter;
        impl spaces_socket::bot::Bot for Greeter {
            fn on_start(&mut self, ctx: &mut spaces_socket::bot::Ctx<'_>) {
                ctx.subscribe_with_pin("s1", "PIN-SECRET");
                let _ = ctx.send_text("s1", "hello");
                ctx.close();
            }
            fn on_event(&mut self, _: &mut spaces_socket::bot::Ctx<'_>, _: &SpacesEvent) {}
        }
        let out = Shared::new(None);
        let mut core = recorded(Recorder::to_writer(out.clone()).unwrap());
        let mut host = spaces_socket::bot::Host::new(Greeter, 1);
        host.start(&mut core, Instant::now());
        drop(core);
        let text = out.text();
        let commands: Vec<String> = text
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["kind"] == "command")
            .map(|l| l["command"].as_str().unwrap_or("?").to_owned())
            .collect();
        assert_eq!(commands, ["subscribe", "send_message", "close"], "{text}");
        assert!(!text.contains("PIN-SECRET"), "{text}");
    }

    #[test]
    fn a_failing_writer_never_stops_the_session() {
        struct Broken;
        impl Write for Broken {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Err(io::Error::other("disk full"))
            }
        }
        let mut core = recorded(Recorder::to_writer(Broken).unwrap());
        let started = Instant::now();
        for _ in 0..10_000 {
            core.handle_input(Instant::now(), Input::Timeout);
        }
        core.close(Instant::now());
        assert!(core.is_closed());
        drop(core);
        assert!(
            started.elapsed() < FINISH_TIMEOUT,
            "{:?}",
            started.elapsed()
        );
    }

    /// Twice the buffer's worth of lines into a writer that stalls until they are all queued.
    const STALLED_LINES: usize = BUFFER_LINES * 2;

    /// A session recording into a writer that stalls until [`STALLED_LINES`] timeouts are
    /// queued, then writes again; `before_close` runs with the output before the last line.
    fn stalled(close: bool, before_close: impl FnOnce(&Shared)) -> String {
        let (release, gate) = std::sync::mpsc::channel();
        let out = Shared::new(Some(gate));
        let mut core = recorded(Recorder::to_writer(out.clone()).unwrap());
        for _ in 0..STALLED_LINES {
            core.handle_input(Instant::now(), Input::Timeout);
        }
        release.send(()).unwrap();
        before_close(&out);
        if close {
            core.close(Instant::now());
        }
        drop(core);
        out.text()
    }

    /// The timeout lines kept, and the count the recording's `dropped` line gives.
    fn kept_and_dropped(text: &str) -> (u64, u64) {
        let gap = text.lines().find(|l| l.contains(r#""kind":"dropped""#));
        let gap: Value = serde_json::from_str(gap.expect("a dropped line")).unwrap();
        let kept = text
            .lines()
            .filter(|l| l.contains(r#""kind":"timeout""#))
            .count();
        (kept as u64, gap["lines"].as_u64().unwrap())
    }

    #[test]
    fn lines_dropped_at_the_very_end_are_still_counted_in_the_recording() {
        let text = stalled(false, |_| {});
        let (kept, dropped) = kept_and_dropped(&text);
        assert!(dropped > 0, "{dropped}");
        assert_eq!(kept + dropped, STALLED_LINES as u64);
    }

    #[test]
    fn a_stalled_writer_costs_lines_and_the_recording_says_how_many() {
        let text = stalled(true, |out| {
            // Let the writer drain what the buffer held, so the lines after the gap find room.
            let deadline = Instant::now() + Duration::from_secs(10);
            while out.text().lines().count() <= BUFFER_LINES && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        let (kept, dropped) = kept_and_dropped(&text);
        assert_eq!(
            kept + dropped,
            STALLED_LINES as u64,
            "every line is kept or counted"
        );
        assert!(
            text.contains(r#""command":"close""#),
            "lines after the gap are kept"
        );
    }
}
