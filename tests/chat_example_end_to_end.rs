//! The main job, `examples/chat`, end to end: against the real Node socket.io 2.0.4 server with
//! each runtime, against its embedded emulator with no arguments, and failing clearly.
mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the chat example with `stdin`, killing it after `limit`.
fn run_chat(args: &[&str], stdin: &str, limit: Duration) -> Output {
    let mut child = Command::new(support::example_binary("chat"))
        .args(args)
        .env_remove("SPACES_TOKEN")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the chat example");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
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
    let peer = support::spaces_server(support::SIO_2_0_4, 25_000, 60_000);
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

#[test]
fn an_expired_token_fails_with_a_one_line_reason() {
    let peer = support::spaces_server(support::SIO_2_0_4, 25_000, 60_000);
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

#[test]
fn a_refused_subscription_fails_with_a_one_line_reason() {
    let peer = support::spaces_server(support::SIO_2_0_4, 25_000, 60_000);
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
