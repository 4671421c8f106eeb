//! The measuring tools of issue 10 run and report what `benches/compare` reads: `bench` on
//! every runtime against its embedded emulator, and the bare floor and the JS client against
//! the real Node server with the same JSON keys. Behaviour only: no figure is asserted.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The keys of a fan-out line, in order.
const FAN_OUT_KEYS: [&str; 12] = [
    "client",
    "runtime",
    "clients",
    "messages",
    "window",
    "deliveries",
    "secs",
    "deliveries_per_s",
    "cpu_s",
    "p50_ms",
    "p99_ms",
    "rss_mb",
];
/// The keys of an idle line, in order.
const IDLE_KEYS: [&str; 7] = [
    "client",
    "runtime",
    "connections",
    "connect_secs",
    "cpu_s",
    "rss_mb",
    "kib_per_conn",
];

/// Runs `program args`, killing it after `limit`.
fn run(program: PathBuf, args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(&program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "{} {args:?} did not finish within {limit:?}\nstderr:\n{}",
                program.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// The one JSON line a successful run prints.
fn json_line(what: &str, out: &Output) -> Value {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what}: exit {:?}\n{stderr}",
        out.status
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{what}: one line expected: {stdout}");
    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{what}: not JSON {stdout:?}: {e}"))
}

/// The keys of a JSON object line, in order.
fn keys(line: &Value) -> Vec<String> {
    // serde_json sorts object keys unless `preserve_order` is on; compare as sets then.
    let mut keys: Vec<String> = line
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

fn sorted(expected: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = expected.iter().map(|k| (*k).to_owned()).collect();
    keys.sort();
    keys
}

fn bench() -> PathBuf {
    crate::support::example_binary("bench")
}

#[test]
fn every_runtime_delivers_every_message_to_every_client_on_the_embedded_emulator() {
    for runtime in ["blocking", "smol", "async-std"] {
        let args = [
            "--clients",
            "3",
            "--messages",
            "50",
            "--runtime",
            runtime,
            "--timeout",
            "60",
        ];
        let line = json_line(runtime, &run(bench(), &args, Duration::from_secs(90)));
        assert_eq!(keys(&line), sorted(&FAN_OUT_KEYS), "{runtime}: {line}");
        assert_eq!(line["deliveries"], 150, "{runtime}: {line}");
        assert_eq!(line["clients"], 3, "{runtime}: {line}");
        assert_eq!(line["client"], "spaces-socket", "{runtime}: {line}");
        assert_eq!(line["runtime"], runtime, "{runtime}: {line}");
        for key in ["secs", "cpu_s", "p50_ms", "p99_ms", "rss_mb"] {
            assert!(line[key].is_number(), "{runtime}: {key} in {line}");
        }
    }
}

#[test]
fn idle_opens_every_connection_and_reports_its_memory() {
    for runtime in ["blocking", "smol"] {
        let args = ["--idle", "20", "--runtime", runtime, "--timeout", "60"];
        let line = json_line(runtime, &run(bench(), &args, Duration::from_secs(90)));
        assert_eq!(keys(&line), sorted(&IDLE_KEYS), "{runtime}: {line}");
        assert_eq!(line["connections"], 20, "{runtime}: {line}");
        assert!(line["kib_per_conn"].is_number(), "{runtime}: {line}");
    }
}

#[test]
fn a_server_that_never_answers_fails_clearly_within_the_timeout() {
    // A port that was free a moment ago: every connection attempt is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}/chat");
    let args = [
        "--url",
        &url,
        "--clients",
        "2",
        "--messages",
        "5",
        "--timeout",
        "2",
    ];
    let out = run(bench(), &args, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "no JSON line on failure: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("timed out"), "{stderr}");
}

#[test]
fn the_floor_the_js_client_and_the_library_report_the_same_keys_against_node() {
    let peer = crate::support::spaces_server(crate::support::SIO_2_0_4, 25_000, 60_000);
    let url = peer.url("/chat");
    let node = || {
        crate::support::ensure_node_modules();
        PathBuf::from("node")
    };
    let script = crate::support::peer_dir().join("bench-client.js");
    let script = script.to_str().expect("a UTF-8 path");
    let common = [
        "--url",
        url.as_str(),
        "--token",
        "bench~0",
        "--timeout",
        "60",
    ];
    let fan_out = [&common[..], &["--clients", "2", "--messages", "20"]].concat();
    let idle = [&common[..], &["--idle", "5"]].concat();
    let limit = Duration::from_secs(90);
    let floor = crate::support::example_binary("bench_floor");

    for (args, expected, what) in [
        (&fan_out, &FAN_OUT_KEYS[..], "fan-out"),
        (&idle, &IDLE_KEYS[..], "idle"),
    ] {
        let js_args = [&[script][..], args].concat();
        let lines = [
            ("js", json_line("js", &run(node(), &js_args, limit))),
            (
                "floor",
                json_line("floor", &run(floor.clone(), args, limit)),
            ),
            (
                "spaces-socket",
                json_line("bench", &run(bench(), args, limit)),
            ),
        ];
        for (client, line) in &lines {
            assert_eq!(keys(line), sorted(expected), "{what} {client}: {line}");
            assert_eq!(line["client"], *client, "{what}: {line}");
            if what == "fan-out" {
                assert_eq!(line["deliveries"], 40, "{what} {client}: {line}");
            } else {
                assert_eq!(line["connections"], 5, "{what} {client}: {line}");
            }
        }
    }
}
