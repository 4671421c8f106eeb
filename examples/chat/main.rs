//! `chat`: the main job. Joins Spaces, sends each stdin line as a chat message, prints what
//! arrives, and exits 0 once every line was confirmed by its own `MESSAGE_SENT` echo.
//!
//! With no `--url` it starts the embedded Spaces emulator on 127.0.0.1 with a demo participant
//! that answers, so a newcomer sees a live exchange (it exits once every line is confirmed and
//! answered, or `--timeout` after stdin ended):
//!
//! ```sh
//! cargo run --example chat
//! printf 'hello\n' | cargo run --example chat -- --url http://127.0.0.1:PORT/chat \
//!     --token-type oauth --token T --space s1 --json
//! ```
//!
//! Options: `--url URL`, `--token TOKEN` (or env `SPACES_TOKEN`), `--token-type jwt|oauth`,
//! `--service-key FILE`, `--space ID` (repeatable; stdin goes to the first), `--password PIN`,
//! `--runtime blocking|smol|async-std`, `--json`, `--timeout SECS` (default 30),
//! `--record FILE` (the session as JSON lines, secrets redacted: `docs/recording.md`), `--help`.
//!
//! Exit status: 0 done (every line confirmed, stdout closed, or `--help`), 1 failure, 2 usage
//! error (one line on stderr with a hint to `--help`).

mod demo;
mod options;
mod output;

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use spaces_socket::spaces::{
    SendError, SendId, SendMessage, SpacesConfig, SpacesEvent, TokenProvider,
};
// The shared types are the same in every runtime; any runtime crate re-exports them.
use spaces_socket_blocking::{Error, Recorder, Session};

use options::{Command, Options, Runtime, UsageError, preview};
use output::{Printer, note};

/// Exit status 2: a command-line mistake.
const USAGE_ERROR: u8 = 2;
/// The token the demo always uses (its user name on the embedded emulator).
const DEMO_TOKEN: &str = "you";

/// Why the program ends early.
enum Failure {
    /// A command-line mistake (exit 2).
    Usage(String),
    /// Anything else (exit 1).
    Failed(String),
}

impl From<String> for Failure {
    fn from(reason: String) -> Self {
        Self::Failed(reason)
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Failed(error.to_string())
    }
}

impl From<&str> for Failure {
    fn from(reason: &str) -> Self {
        Self::Failed(reason.to_owned())
    }
}

fn main() -> ExitCode {
    let opts = match Options::parse(std::env::args().skip(1)) {
        Ok(Command::Run(opts)) => opts,
        Ok(Command::Help) => {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(options::HELP.as_bytes());
            let _ = stdout.flush();
            return ExitCode::SUCCESS;
        }
        Err(UsageError(reason)) => return usage_error(&reason),
    };
    match run(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(reason)) => usage_error(&reason),
        Err(Failure::Failed(reason)) => {
            note(&clip(&reason));
            ExitCode::FAILURE
        }
    }
}

fn usage_error(reason: &str) -> ExitCode {
    note(&format!("{} (see chat --help)", clip(reason)));
    ExitCode::from(USAGE_ERROR)
}

/// A last guard on what an error line may quote: at most 300 characters.
fn clip(reason: &str) -> String {
    const MAX: usize = 300;
    match reason.char_indices().nth(MAX) {
        None => reason.to_owned(),
        Some((cut, _)) => format!("{}…", &reason[..cut]),
    }
}

fn run(mut opts: Options) -> Result<(), Failure> {
    // No URL: run everything locally so the example works offline.
    let demo = match &opts.url {
        Some(_) => None,
        None => Some(demo::Demo::start()?),
    };
    if let Some(demo) = &demo {
        opts.url = Some(demo.url());
        if opts.spaces.is_empty() {
            opts.spaces.push(demo::DEMO_SPACE.to_owned());
        }
        // The demo never sends real credentials anywhere, not even to its own emulator.
        if opts.env_token.take().is_some() {
            note("SPACES_TOKEN is ignored without --url: the demo uses its own demo token");
        }
        if opts.token.is_some() || opts.service_key.is_some() {
            note(
                "--token and --service-key are ignored without --url: the demo uses its own demo token",
            );
        }
        opts.service_key = None;
        opts.token = Some(DEMO_TOKEN.to_owned());
    }
    let url = opts.url.clone().unwrap_or_default();
    let first_space = opts
        .spaces
        .first()
        .cloned()
        .ok_or_else(|| Failure::Usage("at least one --space is required with --url".into()))?;
    if opts.token.is_none() && opts.env_token.is_none() && opts.service_key.is_none() {
        return Err(Failure::Usage(
            "no credentials: pass --token, set SPACES_TOKEN, or pass --service-key".into(),
        ));
    }
    let config = SpacesConfig::new(&url)
        .map_err(|e| Failure::Usage(format!("bad --url {:?}: {e}", preview(&url))))?;
    let provider = opts.token_provider()?;
    let mut options = spaces_socket_blocking::Options::default();
    if let Some(path) = &opts.record {
        let recorder = Recorder::create(path)
            .map_err(|e| format!("cannot write --record {}: {e}", path.display()))?;
        options.record = Some(recorder);
    }
    let mut session = open(opts.runtime, config, provider, options)?;
    let mut printer = Printer::new(opts.json);
    if !opts.json {
        note(&format!(
            "connecting to {} ({} runtime){}",
            url,
            opts.runtime.name(),
            if demo.is_some() {
                " — embedded emulator with a demo participant"
            } else {
                ""
            }
        ));
    }
    for space in &opts.spaces {
        session
            .subscribe(space, opts.password.as_deref())
            .map_err(|e| format!("cannot subscribe to {space}: {e}"))?;
    }

    let lines = spawn_stdin_reader(demo.is_some());
    let mut queue: Vec<String> = Vec::new();
    let mut pending: BTreeSet<SendId> = BTreeSet::new();
    let mut subscribed_once: BTreeSet<String> = BTreeSet::new();
    let mut eof_at: Option<Instant> = None;
    let mut retry_at: Option<Instant> = None;
    // In the demo: the lines sent that the participant has not answered yet.
    let mut unanswered: Vec<String> = Vec::new();

    loop {
        // Take whatever stdin produced.
        loop {
            match lines.try_recv() {
                Ok(Input::Line(line)) => queue.push(line),
                Ok(Input::End) => {
                    eof_at.get_or_insert_with(Instant::now);
                }
                Ok(Input::Failed(reason)) => {
                    return Err(format!("cannot read stdin: {reason}").into());
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => {
                    eof_at.get_or_insert_with(Instant::now);
                    break;
                }
            }
        }
        // Send in order; a rate limit pauses the queue instead of dropping lines.
        if retry_at.is_none_or(|t| Instant::now() >= t) {
            retry_at = None;
            while !queue.is_empty() {
                let text = queue.remove(0);
                match session.send_message(SendMessage::chat(first_space.clone(), text.clone())) {
                    Ok(id) => {
                        pending.insert(id);
                        if demo.is_some() {
                            unanswered.push(text);
                        }
                    }
                    Err(Error::Refused(SendError::RateLimited { retry_after })) => {
                        queue.insert(0, text);
                        retry_at = Some(Instant::now() + retry_after);
                        break;
                    }
                    Err(Error::Closed) => {
                        return Err("the session ended before all lines were sent".into());
                    }
                    Err(e) => {
                        return Err(format!("cannot send {:?}: {e}", preview(&text)).into());
                    }
                }
            }
        }

        if let Some(event) = session.next_event(Some(Duration::from_millis(50))) {
            match &event {
                SpacesEvent::Confirmed { id, .. } => {
                    pending.remove(id);
                }
                SpacesEvent::Subscribed { space } => {
                    subscribed_once.insert(space.clone());
                }
                SpacesEvent::Message(m) if demo.is_some() => {
                    let answer = m
                        .sender
                        .as_ref()
                        .filter(|s| s.id.as_deref() == Some(demo::BOT_ID))
                        .and_then(|_| m.content.as_ref()?.body_text.as_deref())
                        .and_then(|body| body.split_once(demo::ANSWER_MARK))
                        .map(|(_, answered)| answered);
                    if let Some(pos) = answer.and_then(|a| unanswered.iter().position(|t| t == a)) {
                        unanswered.remove(pos);
                    }
                }
                SpacesEvent::AuthFailed(a) => {
                    let code = a
                        .code
                        .as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default();
                    return Err(format!("authentication failed: {}{code}", a.message).into());
                }
                SpacesEvent::SubscribeFailed { space, error } => {
                    return Err(format!("subscription to space {space} failed: {error}").into());
                }
                SpacesEvent::SendFailed { failure, space, .. } => {
                    return Err(format!(
                        "a message to space {space} was not delivered: {failure:?}"
                    )
                    .into());
                }
                SpacesEvent::Closed => {
                    if pending.is_empty() && queue.is_empty() {
                        break;
                    }
                    return Err(format!(
                        "connection closed with {} line(s) unconfirmed",
                        pending.len() + queue.len()
                    )
                    .into());
                }
                _ => {}
            }
            if printer.print(&event).is_err() {
                // Stdout is closed (`| head -1`): nobody reads any more; end quietly.
                break;
            }
        }

        let all_subscribed = opts.spaces.iter().all(|s| subscribed_once.contains(s));
        let settled = pending.is_empty() && queue.is_empty() && all_subscribed;
        if let Some(eof) = eof_at {
            // In the demo, also wait for the participant's answer to every line sent (the
            // greeting and what was typed), so the exchange shows whole; bounded by --timeout.
            if settled && unanswered.is_empty() {
                break;
            }
            if settled && eof.elapsed() > opts.timeout {
                note(&format!(
                    "{} line(s) not answered by the demo participant within {}s",
                    unanswered.len(),
                    opts.timeout.as_secs()
                ));
                break;
            }
            if eof.elapsed() > opts.timeout {
                if !all_subscribed {
                    return Err(format!("not subscribed after {}s", opts.timeout.as_secs()).into());
                }
                return Err(format!(
                    "{} line(s) unconfirmed after {}s",
                    pending.len() + queue.len(),
                    opts.timeout.as_secs()
                )
                .into());
            }
        }
    }
    session.close();
    if let Some(demo) = demo {
        demo.stop();
    }
    Ok(())
}

/// Opens the session on the runtime `--runtime` names: the same `connect` call in each, and
/// every runtime's `Client` is a [`Session`].
fn open(
    runtime: Runtime,
    config: SpacesConfig,
    provider: Box<dyn TokenProvider>,
    options: spaces_socket_blocking::Options,
) -> Result<Box<dyn Session>, Failure> {
    // The box is itself a provider, and it keeps the boxed one's `refreshes()`: a fixed
    // token stops at its first refusal, a service key is retried with a fresh JWT.
    let session: Box<dyn Session> = match runtime {
        Runtime::Blocking => Box::new(spaces_socket_blocking::connect(config, provider, options)?),
        Runtime::Smol => Box::new(spaces_socket_smol::connect(config, provider, options)?),
        Runtime::AsyncStd => Box::new(spaces_socket_async_std::connect(config, provider, options)?),
    };
    Ok(session)
}

/// What the stdin reader hands over.
enum Input {
    Line(String),
    End,
    /// Reading failed (not a decoding problem: those are replaced and warned about).
    Failed(String),
}

/// Reads stdin on a thread, one [`Input::Line`] per non-blank line, then [`Input::End`]. A line
/// that is not UTF-8 is sent with U+FFFD for its bad bytes, with a warning. In the demo a
/// greeting goes first so the exchange starts by itself.
fn spawn_stdin_reader(demo: bool) -> mpsc::Receiver<Input> {
    let (tx, rx) = mpsc::channel();
    if demo {
        let _ = tx.send(Input::Line("Hello from spaces-socket!".to_owned()));
        note("type a message and press Enter; Ctrl-D to finish");
    }
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        let mut stdin = stdin.lock();
        let mut bytes = Vec::new();
        for number in 1.. {
            bytes.clear();
            match stdin.read_until(b'\n', &mut bytes) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.send(Input::Failed(e.to_string()));
                    return;
                }
            }
            let raw = bytes
                .strip_suffix(b"\n")
                .map(|b| b.strip_suffix(b"\r").unwrap_or(b))
                .unwrap_or(&bytes);
            let line = match std::str::from_utf8(raw) {
                Ok(text) => text.to_owned(),
                Err(_) => {
                    note(&format!(
                        "stdin line {number} is not valid UTF-8; sending it with U+FFFD in place of the invalid bytes"
                    ));
                    String::from_utf8_lossy(raw).into_owned()
                }
            };
            if line.trim().is_empty() {
                continue;
            }
            if tx.send(Input::Line(line)).is_err() {
                return;
            }
        }
        let _ = tx.send(Input::End);
    });
    rx
}
