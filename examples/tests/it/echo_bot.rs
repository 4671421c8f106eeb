//! The echo bot (`spaces_socket_examples::echo::EchoBot`, the type `echo_bot` runs and the
//! simulation tests) run by each runtime's `Client::run` against the real Node socket.io 2.0.4
//! server: every line of a socket.io-client participant is answered exactly once, and a
//! message of the bot's own user from another connection never is.

use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use spaces_socket::spaces::{SendMessage, SpacesConfig, SpacesEvent, Token};
use spaces_socket_blocking::Options;
use spaces_socket_examples::echo::EchoBot;

use crate::support::{SIO_2_0_4, js_client_events, js_client_result, run_js_script};

const LINES: usize = 5;

#[derive(Debug, Clone, Copy)]
enum Runtime {
    Blocking,
    Smol,
    AsyncStd,
}

fn config(url: &str) -> SpacesConfig {
    let mut config = SpacesConfig::new(url).expect("the peer URL is valid");
    config.client.reconnection_delay = Duration::from_millis(500);
    config
}

/// The bot (user `echo`) running on `runtime` in a thread of its own, and what stops it.
fn start_bot(runtime: Runtime, url: &str) -> (Box<dyn Fn()>, JoinHandle<EchoBot>) {
    let (config, token, options) = (config(url), Token::jwt("echo"), Options::default());
    let bot = EchoBot::new("s1");
    match runtime {
        Runtime::Blocking => {
            let mut client = spaces_socket_blocking::connect(config, token, options).unwrap();
            let stop = client.shutdown_handle();
            let run = thread::spawn(move || client.run(bot));
            (Box::new(move || stop.shutdown()), run)
        }
        Runtime::Smol => {
            let client = spaces_socket_smol::connect(config, token, options).unwrap();
            let stop = client.shutdown_handle();
            let run = thread::spawn(move || smol::block_on(client.run(bot)));
            (Box::new(move || stop.shutdown()), run)
        }
        Runtime::AsyncStd => {
            let client = spaces_socket_async_std::connect(config, token, options).unwrap();
            let stop = client.shutdown_handle();
            let run = thread::spawn(move || async_std::task::block_on(client.run(bot)));
            (Box::new(move || stop.shutdown()), run)
        }
    }
}

/// Events of `client` until `until` returns true (at most 15 s), or for `for_at_least`.
fn events(
    client: &mut spaces_socket_blocking::Client,
    limit: Duration,
    mut until: impl FnMut(&SpacesEvent) -> bool,
) -> Vec<SpacesEvent> {
    let end = Instant::now() + limit;
    let mut seen = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        if let Some(event) = client.next_event(Some(left)) {
            let done = until(&event);
            seen.push(event);
            if done {
                break;
            }
        }
    }
    seen
}

fn text(event: &SpacesEvent) -> Option<&str> {
    let (SpacesEvent::Message(m) | SpacesEvent::OwnMessage(m)) = event else {
        return None;
    };
    m.content.as_ref()?.body_text.as_deref()
}

fn answers_every_line_once_and_never_itself(runtime: Runtime) {
    let mut peer = crate::support::spaces_server(SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    let (stop, bot) = start_bot(runtime, &url);
    peer.wait_for_stats(|s| s["subscriptions"] == 1, Duration::from_secs(15));

    let count = LINES.to_string();
    let args = [
        "--url", &url, "--token", "js", "--count", &count, "--grace", "800",
    ];
    let (_status, lines) = run_js_script("js-chatter.js", &args, Duration::from_secs(40));
    assert_eq!(
        js_client_result(&lines),
        Some("ok"),
        "{runtime:?}: {lines:#?}"
    );
    let answers: Vec<String> = js_client_events(&lines)
        .into_iter()
        .filter(|(_, m)| m["sender"]["_id"] == "echo")
        .map(|(_, m)| m["content"]["bodyText"].as_str().unwrap_or("").to_owned())
        .collect();
    for k in 1..=LINES {
        let answer = format!("echo: js says {k}");
        let times = answers.iter().filter(|a| **a == answer).count();
        assert_eq!(
            times, 1,
            "{runtime:?}: {answer:?} seen {times} times: {answers:#?}"
        );
    }
    assert_eq!(answers.len(), LINES, "{runtime:?}: {answers:#?}");

    // The bot's own user on a second connection: never answered.
    let token = Token::jwt("echo~phone");
    let mut phone =
        spaces_socket_blocking::connect(config(&url), token, Options::default()).unwrap();
    phone.subscribe("s1", None).unwrap();
    let step = Duration::from_secs(15);
    events(&mut phone, step, |e| {
        matches!(e, SpacesEvent::Subscribed { .. })
    });
    let said = SendMessage::chat("s1", "from my phone");
    let id = phone.send_message(said).unwrap();
    events(
        &mut phone,
        step,
        |e| matches!(e, SpacesEvent::Confirmed { id: c, .. } if *c == id),
    );
    let after = events(&mut phone, Duration::from_millis(1500), |_| false);
    let texts: Vec<_> = after.iter().filter_map(text).collect();
    assert!(
        !texts.contains(&"echo: from my phone"),
        "{runtime:?}: answered itself: {texts:?}"
    );
    phone.close();

    stop();
    let bot = bot.join().expect("the bot's thread");
    assert_eq!(bot.answered(), LINES, "{runtime:?}");
    let stats = peer.stats();
    assert_eq!(
        stats["messages"],
        2 * LINES + 1,
        "{runtime:?}: nothing sent twice: {stats}"
    );
}

#[test]
fn the_echo_bot_on_the_blocking_runtime_answers_every_line_once_and_never_itself() {
    answers_every_line_once_and_never_itself(Runtime::Blocking);
}

#[test]
fn the_echo_bot_on_smol_answers_every_line_once_and_never_itself() {
    answers_every_line_once_and_never_itself(Runtime::Smol);
}

#[test]
fn the_echo_bot_on_async_std_answers_every_line_once_and_never_itself() {
    answers_every_line_once_and_never_itself(Runtime::AsyncStd);
}

#[test]
fn the_example_runs_its_demo_on_each_runtime_and_exits_once_every_line_is_answered() {
    for runtime in ["blocking", "smol", "async-std"] {
        let out = std::process::Command::new(crate::support::example_binary("echo_bot"))
            .args(["--runtime", runtime, "--for", "20"])
            .env_remove("SPACES_TOKEN")
            .output()
            .expect("run the echo_bot example");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{runtime}: {stdout}\n{stderr}");
        for line in ["hello, bot", "can you hear me?", "bye"] {
            let answer = format!("bot: echo: {line}\n");
            assert_eq!(stdout.matches(&answer).count(), 1, "{runtime}: {stdout}");
        }
        assert!(
            stderr.contains("3 message(s) answered"),
            "{runtime}: {stderr}"
        );
    }
}
