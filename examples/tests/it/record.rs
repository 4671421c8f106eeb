//! `chat --record FILE`: a session through a connection cut is written as JSON lines without
//! its token, PIN or session ids, and replaying the file against the core gives the same events
//! and frames (the emulator crate's `replay`).

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use spaces_socket_emulator::replay;

use crate::chat::{run_chat, spawn_chat, wait_for};

/// The secret part of the token: the Node server takes the user id from before the `~`.
const TOKEN_SECRET: &str = "S3CRET-T0KEN-7f3a";
/// The PIN of the Node server's `locked…` spaces.
const PIN: &str = "1234";
/// What a recording's lines may be.
const KINDS: [&str; 11] = [
    "connect",
    "token",
    "opened",
    "open_failed",
    "upgrade_refused",
    "closed",
    "in",
    "timeout",
    "command",
    "out",
    "event",
];

/// Runs chat on `runtime` with `--record` against the Node server: one line, a server-side
/// cut, a line after the reconnection. Returns the recording and the session ids the server
/// gave out.
fn record_a_session_through_a_cut(runtime: &str) -> (String, Vec<String>) {
    let mut peer = crate::support::spaces_server_with(
        crate::support::SIO_2_0_4,
        25_000,
        60_000,
        &["--log-frames"],
    );
    let url = peer.url("/chat");
    // One directory per call: the tests run in parallel.
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    let name = format!("spaces-record-{}-{call}", std::process::id());
    let dir = std::env::temp_dir().join(name);
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let file = dir.join("session.jsonl");
    let token = format!("alice~{TOKEN_SECRET}");
    let path = file.to_string_lossy().into_owned();
    let (mut child, stderr) = spawn_chat(&[
        "--url",
        &url,
        "--token-type",
        "oauth",
        "--token",
        &token,
        "--space",
        "locked-1",
        "--password",
        PIN,
        "--runtime",
        runtime,
        "--timeout",
        "20",
        "--record",
        &path,
    ]);
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "before the cut").expect("write stdin");
    wait_for(&stderr, "joined space locked-1");
    peer.command("kick");
    wait_for(&stderr, "reconnect attempt 1 in ");
    wait_for(&stderr, "joined space locked-1");
    writeln!(stdin, "after the cut").expect("write stdin");
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{runtime}: chat did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{runtime}: exit {status:?}");
    let sids = peer.frames().into_iter().map(|f| f.sid).collect();
    let recording = std::fs::read_to_string(&file).expect("the recording");
    let _ = std::fs::remove_dir_all(&dir);
    (recording, sids)
}

fn lines(recording: &str) -> Vec<Value> {
    recording
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

fn of_kind<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["kind"] == kind).collect()
}

#[test]
fn a_recording_holds_every_line_of_the_session_and_no_token_pin_or_session_id() {
    for runtime in ["blocking", "smol"] {
        let (recording, sids) = record_a_session_through_a_cut(runtime);
        let lines = lines(&recording);
        assert_eq!(lines[0]["format"], "spaces-socket-record", "{runtime}");
        assert_eq!(
            lines[0]["version"],
            spaces_socket::record::VERSION,
            "{runtime}"
        );
        for line in &lines[1..] {
            let kind = line["kind"].as_str().unwrap_or_default();
            assert!(KINDS.contains(&kind), "{runtime}: unknown kind in {line}");
            assert!(
                line["t"].as_f64().is_some_and(|t| t >= 0.0),
                "{runtime}: {line}"
            );
        }
        // Both connections are in it: two opens, the cut, two subscriptions, two echoes.
        let events: Vec<&Value> = of_kind(&lines, "event")
            .iter()
            .map(|l| &l["event"])
            .collect();
        let count = |name: &str| events.iter().filter(|e| e["event"] == name).count();
        assert_eq!(count("Subscribed"), 2, "{runtime}: {events:#?}");
        // The cut, and the close at the end: the runtimes drain the core as it produces its
        // events, so the close's are recorded though chat reads no more after closing.
        assert_eq!(count("Disconnected"), 2, "{runtime}: {events:#?}");
        assert_eq!(count("Reconnecting"), 1, "{runtime}: {events:#?}");
        assert_eq!(
            events.last().map(|e| &e["event"]),
            Some(&Value::from("Closed"))
        );
        assert_eq!(count("Confirmed"), 2, "{runtime}: {events:#?}");
        let opens = of_kind(&lines, "out")
            .into_iter()
            .filter(|l| l.get("open").is_some());
        assert_eq!(opens.count(), 2, "{runtime}");
        assert!(of_kind(&lines, "in").len() >= 6, "{runtime}");
        // The secrets were on the wire, and are not in the file.
        assert!(
            !sids.is_empty(),
            "{runtime}: the server logged no session id"
        );
        for secret in sids.iter().map(String::as_str).chain([TOKEN_SECRET]) {
            assert!(
                !recording.contains(secret),
                "{runtime}: {secret:?} is in the recording"
            );
        }
        let subscribes = recording.matches("SUBSCRIBE_CHANNEL").count();
        assert!(subscribes >= 2, "{runtime}");
        assert!(
            !recording.contains(&format!(r#"\"password\":\"{PIN}\""#)),
            "{runtime}: the PIN is in the recording"
        );
    }
}

#[test]
fn a_recorded_session_replays_to_the_same_events_and_frames() {
    for runtime in ["blocking", "smol", "async-std"] {
        let (recording, _) = record_a_session_through_a_cut(runtime);
        let replayed = replay::replay(&recording).expect("a replayable recording");
        assert_eq!(replayed.mismatch, None, "{runtime}");
        let lines = lines(&recording);
        let events: Vec<Value> = of_kind(&lines, "event")
            .iter()
            .map(|l| l["event"].clone())
            .collect();
        assert_eq!(replayed.events, events, "{runtime}");
        let frames: Vec<Value> = of_kind(&lines, "out")
            .into_iter()
            .map(|l| {
                let mut l = l.clone();
                if let Some(fields) = l.as_object_mut() {
                    fields.retain(|k, _| k != "t" && k != "kind");
                }
                l
            })
            .collect();
        assert_eq!(replayed.frames, frames, "{runtime}");
        assert!(
            replayed.events.iter().any(|e| e["event"] == "Disconnected"),
            "{runtime}"
        );
    }
}

#[test]
fn a_record_file_that_cannot_be_written_fails_with_a_one_line_reason() {
    let path = std::env::temp_dir().join("spaces-record-no-such-dir/x/session.jsonl");
    let path = path.to_string_lossy().into_owned();
    let out = run_chat(&["--record", &path], "", Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains("cannot write --record"), "{stderr}");
}
