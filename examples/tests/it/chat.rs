//! The main job, `examples/chat`, end to end: against the real Node socket.io 2.0.4 server with
//! each runtime, against its embedded emulator with no arguments, and failing clearly.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The chat example with `args`, stdin and stderr piped and `SPACES_TOKEN` unset: set its
/// stdout, then spawn it.
pub(crate) fn chat_command(args: &[&str]) -> Command {
    let mut command = Command::new(crate::support::example_binary("chat"));
    command
        .args(args)
        .env_remove("SPACES_TOKEN")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs the chat example with `stdin`, killing it after `limit`.
pub(crate) fn run_chat(args: &[&str], stdin: &str, limit: Duration) -> Output {
    run_chat_with(args, stdin.as_bytes(), &[], limit)
}

/// [`run_chat`] with raw stdin bytes and extra environment variables.
fn run_chat_with(args: &[&str], stdin: &[u8], env: &[(&str, &str)], limit: Duration) -> Output {
    let mut child = chat_command(args)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the chat example");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "chat {args:?} did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line {l:?}: {e}")))
        .collect()
}

#[test]
fn each_runtime_sends_stdin_lines_and_exits_once_they_are_confirmed() {
    let peer = crate::support::spaces_server(crate::support::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    for runtime in ["blocking", "smol", "async-std"] {
        let args = [
            "--url",
            &url,
            "--token-type",
            "oauth",
            "--token",
            "T",
            "--space",
            "s1",
            "--json",
            "--runtime",
            runtime,
            "--timeout",
            "20",
        ];
        let out = run_chat(&args, "hello\nsecond line\n", Duration::from_secs(60));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "{runtime}: exit {:?}\n{stderr}",
            out.status
        );
        let lines = json_lines(&out);
        let sent: Vec<&str> = lines
            .iter()
            .filter(|l| l["event"] == "MESSAGE_SENT")
            .filter_map(|l| l["data"]["content"]["bodyText"].as_str())
            .collect();
        assert_eq!(sent, vec!["hello", "second line"], "{runtime}: {lines:#?}");
        assert!(
            lines.iter().any(|l| l["event"] == "CHANNEL_SUBSCRIBED"),
            "{runtime}"
        );
    }
}

#[test]
fn with_no_arguments_it_runs_a_live_exchange_on_the_embedded_emulator() {
    let out = run_chat(&["--json"], "", Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}\n{stderr}", out.status);
    let lines = json_lines(&out);
    let texts: Vec<(String, String)> = lines
        .iter()
        .filter(|l| l["event"] == "MESSAGE_SENT")
        .map(|l| {
            (
                l["data"]["sender"]["_id"].as_str().unwrap_or("").to_owned(),
                l["data"]["content"]["bodyText"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned(),
            )
        })
        .collect();
    assert!(
        texts.iter().any(|(who, _)| who == "you"),
        "our greeting: {texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|(who, text)| who == "demo-bot" && text.contains("You said")),
        "the answer: {texts:?}"
    );
}

/// Issue 16 (4): in the demo, a typed line gets its answer before the program exits (not only
/// the greeting), on the readable output a newcomer sees and in `--json`.
#[test]
fn the_demo_waits_for_the_answer_to_each_typed_line() {
    let out = run_chat(&[], "hello\n", Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "exit {:?}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("you: hello (delivered)"), "{stdout}");
    assert!(
        stdout.contains("You said: Hello from spaces-socket!"),
        "the greeting's answer:\n{stdout}"
    );
    assert!(
        stdout.lines().any(|l| l.ends_with("You said: hello")),
        "the answer to the typed line:\n{stdout}\n{stderr}"
    );

    let out = run_chat(
        &["--json"],
        "hello\nand a second line\n",
        Duration::from_secs(60),
    );
    assert!(out.status.success(), "exit {:?}", out.status);
    let answers = bodies_from(&json_lines(&out), "demo-bot");
    for line in ["Hello from spaces-socket!", "hello", "and a second line"] {
        assert!(
            answers
                .iter()
                .any(|a| a.ends_with(&format!("You said: {line}"))),
            "no answer to {line:?}: {answers:?}"
        );
    }
}

#[test]
fn an_expired_token_fails_with_a_one_line_reason() {
    let peer = crate::support::spaces_server(crate::support::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    let out = run_chat(
        &["--url", &url, "--token", "expired", "--space", "s1"],
        "hi\n",
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.contains("authentication failed: jwt expired"),
        "{stderr}"
    );
}

/// Issue 16 (2): a fixed token cannot change, so a refusal ends the session at once
/// (`AuthFailed`, exit 1) on every runtime: no retry, no "reconnect attempt".
#[test]
fn a_fixed_token_refused_exits_1_at_once_without_a_retry_on_each_runtime() {
    let peer = crate::support::spaces_server(crate::support::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    // Built (if stale) before the clock starts.
    crate::support::example_binary("chat");
    for runtime in ["blocking", "smol", "async-std"] {
        let args = [
            "--url",
            &url,
            "--token-type",
            "oauth",
            "--token",
            "bad-token",
            "--space",
            "s1",
            "--runtime",
            runtime,
        ];
        let started = Instant::now();
        let out = run_chat(&args, "hi\n", Duration::from_secs(30));
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{runtime}: {stderr}");
        assert!(
            !stderr.contains("reconnect attempt") && !stderr.contains("retrying"),
            "{runtime}: a fixed token is not retried:\n{stderr}"
        );
        let last = stderr.lines().last().unwrap_or("");
        assert!(
            last.contains("authentication failed: invalid signature"),
            "{runtime}: {stderr}"
        );
        assert!(
            took < Duration::from_secs(3),
            "{runtime}: took {took:?} to give up on a fixed token:\n{stderr}"
        );
    }
}

/// Issue 16 (2): a token source that refreshes (a service key mints a fresh JWT each time) is
/// retried after a refusal, and the output says so instead of "reconnect attempt".
#[test]
fn a_refreshing_token_refused_says_it_retries_with_a_fresh_token() {
    let peer = crate::support::spaces_server_with(
        crate::support::SIO_2_0_4,
        25_000,
        60_000,
        &["--refuse-tokens", "eyJ"],
    );
    let url = peer.url("/chat");
    let key = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/test-service-key.json"
    );
    let out = run_chat(
        &["--url", &url, "--service-key", key, "--space", "s1"],
        "hi\n",
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let retries = stderr
        .lines()
        .filter(|l| {
            l.contains("credentials refused (invalid signature), retrying with a fresh token")
        })
        .count();
    assert_eq!(
        retries, 3,
        "one line per retry (auth_retries = 3):\n{stderr}"
    );
    assert!(
        !stderr.contains("reconnect attempt"),
        "a credentials retry is not a reconnect attempt:\n{stderr}"
    );
    let last = stderr.lines().last().unwrap_or("");
    assert!(
        last.contains("authentication failed: invalid signature"),
        "{stderr}"
    );
}

#[test]
fn a_refused_subscription_fails_with_a_one_line_reason() {
    let peer = crate::support::spaces_server(crate::support::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    let out = run_chat(
        &[
            "--url",
            &url,
            "--token",
            "t",
            "--space",
            "locked1",
            "--password",
            "0000",
        ],
        "hi\n",
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .last()
            .unwrap_or("")
            .contains("subscription to space locked1 failed"),
        "{stderr}"
    );
}

/// The `bodyText`s of the MESSAGE_SENT lines sent by `sender`.
fn bodies_from(lines: &[serde_json::Value], sender: &str) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l["event"] == "MESSAGE_SENT" && l["data"]["sender"]["_id"] == sender)
        .filter_map(|l| l["data"]["content"]["bodyText"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn help_prints_the_usage_and_exit_codes_on_stdout_and_exits_0() {
    for flag in ["--help", "-h"] {
        let out = run_chat(&[flag], "", Duration::from_secs(30));
        assert_eq!(out.status.code(), Some(0), "{flag}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.starts_with("usage: chat"), "{stdout}");
        assert!(stdout.contains("exit status"), "{stdout}");
        assert!(stdout.contains("--record FILE"), "{stdout}");
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn usage_errors_exit_2_with_one_line_and_a_hint_to_help() {
    let long = "x".repeat(500);
    let cases: [&[&str]; 7] = [
        &["--bogus"],
        &["--record"],
        &["--timeout", "soon"],
        &["--runtime", "tokio"],
        &["--url"],
        &["--url", "http://127.0.0.1:9/chat"],
        &["--timeout", &long],
    ];
    for args in cases {
        let out = run_chat(args, "", Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains("--help"), "{args:?}: {stderr}");
        assert!(stderr.len() < 200, "{args:?} quoted too much: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// Escape sequences and other control characters in a message, as the server echoes it.
const NASTY: &str = "red \u{1b}[31mALERT\u{1b}[0m c1 \u{9b}2J bidi \u{202e}txt bell \u{7}";

#[test]
fn control_characters_from_the_network_are_shown_escaped() {
    let input = format!("{NASTY}\n");
    let out = run_chat(&[], &input, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).expect("UTF-8 output");
    for raw in ['\u{1b}', '\u{9b}', '\u{202e}', '\u{7}'] {
        assert!(!stdout.contains(raw), "raw {raw:?} in {stdout:?}");
    }
    assert!(stdout.contains(r"red \x1b[31mALERT\x1b[0m c1 \u{9b}2J bidi \u{202e}txt bell \x07"));

    let out = run_chat(&["--json"], &input, Duration::from_secs(60));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout.clone()).expect("UTF-8 output");
    for raw in ['\u{1b}', '\u{9b}', '\u{202e}', '\u{7}'] {
        assert!(!stdout.contains(raw), "raw {raw:?} in JSON {stdout:?}");
    }
    assert!(
        stdout.contains(r"\u001b[31m") && stdout.contains(r"\u009b"),
        "{stdout}"
    );
    // Still the same text once parsed.
    assert!(bodies_from(&json_lines(&out), "you").contains(&NASTY.to_owned()));
}

#[test]
fn in_the_demo_spaces_token_is_never_sent_nor_printed() {
    const SECRET: &str = "SECRET-token-do-not-leak-8c1f";
    let out = run_chat_with(
        &["--json"],
        b"hi\n",
        &[("SPACES_TOKEN", SECRET)],
        Duration::from_secs(60),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    // The demo user is the fixed demo token's, not one made from SPACES_TOKEN.
    assert_eq!(bodies_from(&json_lines(&out), "you").len(), 2, "{stdout}");
    assert!(stderr.contains("SPACES_TOKEN is ignored"), "{stderr}");
}

#[test]
fn a_stdin_line_that_is_not_utf8_is_sent_with_replacement_characters_and_a_warning() {
    let out = run_chat_with(
        &["--json"],
        b"caf\xe9 au lait\nnext line\n",
        &[],
        Duration::from_secs(60),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("line 1 is not valid UTF-8"), "{stderr}");
    let sent = bodies_from(&json_lines(&out), "you");
    assert!(sent.contains(&"caf\u{fffd} au lait".to_owned()), "{sent:?}");
    assert!(sent.contains(&"next line".to_owned()), "{sent:?}");
}

#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    use std::io::{BufRead, BufReader};
    let mut child = chat_command(&["--json"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the chat example");
    let mut stdin = child.stdin.take().expect("stdin");
    // Like `| head -1`: read one line, then close the pipe.
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("first line");
    assert!(first.starts_with('{'), "{first}");
    // More output is due (stdin stays open): writing it must not panic.
    stdin.write_all(b"one more\n").expect("write stdin");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        assert!(
            Instant::now() < deadline,
            "still running after stdout closed"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{stderr}"
    );
}

#[test]
fn an_oversized_line_error_quotes_only_a_short_prefix() {
    let line = format!("{}\n", "z".repeat(20_000));
    let out = run_chat(&[], &line, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or("");
    assert!(last.contains("cannot send") && last.contains("…"), "{last}");
    assert!(last.len() < 200, "{} bytes: {last}", last.len());
}

/// A chat process with piped stdin, and its stderr lines as they come.
pub(crate) fn spawn_chat(
    args: &[&str],
) -> (std::process::Child, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader};
    let mut child = chat_command(args)
        .stdout(Stdio::null())
        .spawn()
        .expect("start the chat example");
    let (lines, received) = std::sync::mpsc::channel();
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (child, received)
}

/// The next stderr line of a [`spawn_chat`] process that contains `what` (30 s at most).
pub(crate) fn wait_for(received: &std::sync::mpsc::Receiver<String>, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) if line.contains(what) => return line,
            Ok(_) => {}
            Err(e) => panic!("no {what:?} from chat: {e}"),
        }
    }
}

/// Two chat processes cut by the server at the same instant reconnect at different times:
/// each runtime seeds its reconnection jitter from the OS, so a fleet does not retry in
/// lockstep.
#[test]
fn two_chats_cut_at_the_same_instant_reconnect_at_different_times() {
    let mut peer = crate::support::spaces_server(crate::support::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    let mut chats = Vec::new();
    for user in ["ann", "bob"] {
        let args = ["--url", &url, "--token-type", "oauth", "--token", user];
        chats.push(spawn_chat(
            &[&args[..], &["--space", "s1", "--timeout", "5"]].concat(),
        ));
    }
    for (_, received) in &chats {
        wait_for(received, "joined space s1");
    }
    peer.command("kick");
    let delays: Vec<String> = chats
        .iter()
        .map(|(_, received)| {
            let line = wait_for(received, "reconnect attempt 1 in ");
            line.rsplit("in ").next().unwrap_or_default().to_owned()
        })
        .collect();
    for (mut child, _) in chats {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_ne!(delays[0], delays[1], "both chats wait {:?}", delays[0]);
}
