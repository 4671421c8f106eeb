//! `chat`: the main job. Joins Spaces, sends each stdin line as a chat message, prints what
//! arrives, and exits 0 once every line was confirmed by its own `MESSAGE_SENT` echo.
//!
//! With no `--url` it starts the embedded Spaces emulator on 127.0.0.1 with a demo participant
//! that answers, so a newcomer sees a live exchange:
//!
//! ```sh
//! cargo run --example chat
//! printf 'hello\n' | cargo run --example chat -- --url http://127.0.0.1:PORT/chat \
//!     --token-type oauth --token T --space s1 --json
//! ```
//!
//! Options: `--url URL`, `--token TOKEN` (or env `SPACES_TOKEN`), `--token-type jwt|oauth`,
//! `--service-key FILE`, `--space ID` (repeatable; stdin goes to the first), `--password PIN`,
//! `--runtime blocking|smol|async-std`, `--json`, `--timeout SECS` (default 30).

mod demo;
mod options;
mod output;
mod runtimes;

use std::collections::BTreeSet;
use std::io::BufRead;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use spaces_socket::spaces::{SendError, SendId, SendMessage, SpacesConfig, SpacesEvent};

use options::Options;
use output::Printer;
use runtimes::SendProblem;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(reason) => {
            eprintln!("chat: {reason}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut opts = Options::parse(std::env::args().skip(1))?;
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
        if opts.token.is_none() && opts.service_key.is_none() {
            opts.token = Some("you".to_owned());
        }
    }
    let url = opts.url.clone().unwrap_or_default();
    let first_space = opts
        .spaces
        .first()
        .cloned()
        .ok_or("at least one --space is required with --url")?;
    let provider = opts.token_provider()?;
    let config = SpacesConfig::new(&url).map_err(|e| format!("bad --url: {e}"))?;
    let mut session = runtimes::open(opts.runtime, config, provider)?;
    let printer = Printer::new(opts.json);
    if !opts.json {
        eprintln!(
            "chat: connecting to {} ({} runtime){}",
            url,
            opts.runtime.name(),
            if demo.is_some() {
                " — embedded emulator with a demo participant"
            } else {
                ""
            }
        );
    }
    for space in &opts.spaces {
        session.subscribe(space, opts.password.as_deref());
    }

    let lines = spawn_stdin_reader(demo.is_some());
    let mut queue: Vec<String> = Vec::new();
    let mut pending: BTreeSet<SendId> = BTreeSet::new();
    let mut subscribed_once: BTreeSet<String> = BTreeSet::new();
    let mut eof_at: Option<Instant> = None;
    let mut retry_at: Option<Instant> = None;
    let mut replies_seen = 0usize;
    let started = Instant::now();

    loop {
        // Take whatever stdin produced.
        loop {
            match lines.try_recv() {
                Ok(Some(line)) => queue.push(line),
                Ok(None) => {
                    eof_at.get_or_insert_with(Instant::now);
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
                match session.send(SendMessage::chat(first_space.clone(), text.clone())) {
                    Ok(id) => {
                        pending.insert(id);
                    }
                    Err(SendProblem::Refused(SendError::RateLimited { retry_after })) => {
                        queue.insert(0, text);
                        retry_at = Some(Instant::now() + retry_after);
                        break;
                    }
                    Err(SendProblem::Refused(e)) => {
                        return Err(format!("cannot send {text:?}: {e}"));
                    }
                    Err(SendProblem::Closed) => {
                        return Err("the session ended before all lines were sent".to_owned());
                    }
                }
            }
        }

        if let Some(event) = session.next_event(Duration::from_millis(50)) {
            match &event {
                SpacesEvent::Confirmed { id, .. } => {
                    pending.remove(id);
                }
                SpacesEvent::Subscribed { space } => {
                    subscribed_once.insert(space.clone());
                }
                SpacesEvent::Message(_) => replies_seen += 1,
                SpacesEvent::AuthFailed(a) => {
                    let code = a
                        .code
                        .as_deref()
                        .map(|c| format!(" ({c})"))
                        .unwrap_or_default();
                    return Err(format!("authentication failed: {}{code}", a.message));
                }
                SpacesEvent::SubscribeFailed { space, error } => {
                    return Err(format!("subscription to space {space} failed: {error}"));
                }
                SpacesEvent::SendFailed { failure, space, .. } => {
                    return Err(format!(
                        "a message to space {space} was not delivered: {failure:?}"
                    ));
                }
                SpacesEvent::Closed => {
                    if pending.is_empty() && queue.is_empty() {
                        break;
                    }
                    return Err(format!(
                        "connection closed with {} line(s) unconfirmed",
                        pending.len() + queue.len()
                    ));
                }
                _ => {}
            }
            printer.print(&event);
        }

        let all_subscribed = opts.spaces.iter().all(|s| subscribed_once.contains(s));
        let settled = pending.is_empty() && queue.is_empty() && all_subscribed;
        // In the demo, also wait (briefly) for the participant's answer to show the exchange.
        let demo_done =
            demo.is_none() || replies_seen > 0 || started.elapsed() > Duration::from_secs(5);
        if let Some(eof) = eof_at {
            if settled && demo_done {
                break;
            }
            if eof.elapsed() > opts.timeout {
                if !all_subscribed {
                    return Err(format!("not subscribed after {}s", opts.timeout.as_secs()));
                }
                return Err(format!(
                    "{} line(s) unconfirmed after {}s",
                    pending.len() + queue.len(),
                    opts.timeout.as_secs()
                ));
            }
        }
    }
    session.close();
    if let Some(demo) = demo {
        demo.stop();
    }
    Ok(())
}

/// Reads stdin on a thread: `Some(line)` per line, `None` at the end. In the demo a greeting
/// goes first so the exchange starts by itself.
fn spawn_stdin_reader(demo: bool) -> mpsc::Receiver<Option<String>> {
    let (tx, rx) = mpsc::channel();
    if demo {
        let _ = tx.send(Some("Hello from spaces-socket!".to_owned()));
        eprintln!("chat: type a message and press Enter; Ctrl-D to finish");
    }
    std::thread::spawn(move || {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            match line {
                Ok(l) if l.trim().is_empty() => continue,
                Ok(l) => {
                    if tx.send(Some(l)).is_err() {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        let _ = tx.send(None);
    });
    rx
}
