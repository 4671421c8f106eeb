//! Helpers shared by the modules of this test binary: a loopback emulator and a raw blocking
//! websocket client for it, and the official socket.io-client 2.0.4 run under Node.
//!
//! Everything is bounded in time and panics with a clear message instead of hanging or
//! skipping: a missing Node.js or `node_modules` is a test failure, not a silent pass.

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::Value;
use spaces_socket::engine::Handshake;
use spaces_socket_emulator::listener::{EmulatorServer, ListenerLimits};
use spaces_socket_emulator::{DemoAuth, EmulatorConfig};
use tungstenite::{HandshakeError, Message, WebSocket};

/// Every blocking read of a raw client gives up after this long.
pub(crate) const READ_LIMIT: Duration = Duration::from_secs(5);

/// The engine.io websocket path with no token.
pub(crate) const WS_PATH: &str = "/socket.io/?EIO=3&transport=websocket";

/// An emulator on `127.0.0.1:0` with default limits and `tweak`ed defaults.
pub(crate) fn start(tweak: impl FnOnce(&mut EmulatorConfig)) -> EmulatorServer {
    start_with_limits(tweak, |_| {})
}

/// An emulator on `127.0.0.1:0` with `tweak`ed configuration and limits.
pub(crate) fn start_with_limits(
    tweak: impl FnOnce(&mut EmulatorConfig),
    tweak_limits: impl FnOnce(&mut ListenerLimits),
) -> EmulatorServer {
    let mut config = EmulatorConfig::default();
    tweak(&mut config);
    let mut limits = ListenerLimits::default();
    tweak_limits(&mut limits);
    EmulatorServer::start_with_limits("127.0.0.1:0", config, Box::new(DemoAuth), limits)
        .expect("the emulator must start on a loopback port")
}

/// A raw blocking websocket.
pub(crate) type Ws = WebSocket<TcpStream>;

/// Upgrades to a websocket at `path_and_query`; `Err` carries tungstenite's error (an HTTP
/// refusal is `tungstenite::Error::Http`).
pub(crate) fn open(
    server: &EmulatorServer,
    path_and_query: &str,
) -> Result<Ws, tungstenite::Error> {
    let stream = TcpStream::connect(server.local_addr()).expect("tcp connect");
    stream.set_read_timeout(Some(READ_LIMIT)).unwrap();
    let url = format!("ws://{}{path_and_query}", server.local_addr());
    match tungstenite::client(url.as_str(), stream) {
        Ok((ws, _)) => Ok(ws),
        Err(HandshakeError::Failure(e)) => Err(e),
        Err(HandshakeError::Interrupted(_)) => panic!("handshake timed out"),
    }
}

/// The next text frame (panics after [`READ_LIMIT`] or on close).
pub(crate) fn next_text(ws: &mut Ws) -> String {
    loop {
        match ws.read().expect("read a frame") {
            Message::Text(text) => return text.as_str().to_owned(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

/// Reads until a close frame and returns its code (panics on a read error, e.g. a timeout).
pub(crate) fn next_close(ws: &mut Ws) -> Option<u16> {
    loop {
        match ws.read() {
            Ok(Message::Close(frame)) => return frame.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(e) => panic!("expected a close frame, got {e}"),
        }
    }
}

/// Sends a text frame.
pub(crate) fn send(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).expect("send");
}

/// The name and payload of a `42/chat,[…]` frame.
pub(crate) fn event(frame: &str) -> (String, Value) {
    let json = frame.strip_prefix("42/chat,").expect("a /chat event");
    let value: Value = serde_json::from_str(json).expect("json");
    (
        value[0].as_str().expect("name").to_owned(),
        value[1].clone(),
    )
}

/// Handshakes and joins `/chat` as `user` (checking the open packet and root `40`).
pub(crate) fn joined(server: &EmulatorServer, user: &str) -> Ws {
    let mut ws = open(
        server,
        &format!("/socket.io/?token={user}&tokenType=jwt&EIO=3&transport=websocket"),
    )
    .expect("upgrade accepted");
    let open_packet = next_text(&mut ws);
    let handshake = Handshake::parse(open_packet.strip_prefix('0').expect("open")).unwrap();
    assert_eq!(handshake.upgrades, Vec::<String>::new());
    assert_eq!(handshake.ping_interval, Duration::from_millis(25_000));
    assert_eq!(next_text(&mut ws), "40");
    send(&mut ws, &format!("40/chat?tokenType=jwt&token={user},"));
    assert_eq!(next_text(&mut ws), "40/chat,");
    ws
}

/// Subscribes a joined socket to `space` and checks the CHANNEL_SUBSCRIBED answer.
pub(crate) fn subscribe(ws: &mut Ws, space: &str) {
    send(
        ws,
        &format!(
            r#"42/chat,["SUBSCRIBE_CHANNEL",{{"channel":{{"_id":"{space}","type":"topic"}}}}]"#
        ),
    );
    let (name, subscribed) = event(&next_text(ws));
    assert_eq!(name, "CHANNEL_SUBSCRIBED");
    assert_eq!(subscribed["channel"]["_id"], space);
}

/// Handshake, join `/chat` as `user`, subscribe to `space`.
pub(crate) fn member(server: &EmulatorServer, user: &str, space: &str) -> Ws {
    let mut ws = joined(server, user);
    subscribe(&mut ws, space);
    ws
}

/// Polls `check` every 10 ms until it holds or `limit` passes; returns whether it held.
pub(crate) fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + limit;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

// ----- the official socket.io-client under Node ------------------------------------------

/// Packages whose presence means `npm ci` was run in the peer directory.
const REQUIRED_PACKAGES: [&str; 2] = ["socket.io", "socket.io-client"];

/// `tests/peer` of the workspace: the Node package holding `js-client.js`.
pub(crate) fn peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("tests")
        .join("peer")
}

/// Panics with how to fix it unless `tests/peer/node_modules` is installed.
fn require_node_modules(dir: &Path) {
    let nm = dir.join("node_modules");
    let missing: Vec<&str> = REQUIRED_PACKAGES
        .iter()
        .copied()
        .filter(|p| !nm.join(p).join("package.json").is_file())
        .collect();
    assert!(
        missing.is_empty(),
        "{} lacks {missing:?}: the js-client tests need the Node peers installed. Run \
         `cd tests/peer && npm ci` (Node.js >= 18 with npm; CI runs it in .ci/run).",
        nm.display()
    );
}

fn collect_all<R: Read + Send + 'static>(pipe: Option<R>) -> JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let until = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `node tests/peer/js-client.js ARGS` to completion (at most `timeout`) and returns its
/// exit status and stdout lines. Panics if Node cannot start or the script hangs.
pub(crate) fn run_js_client(args: &[&str], timeout: Duration) -> (ExitStatus, Vec<String>) {
    let dir = peer_dir();
    require_node_modules(&dir);
    let mut child = Command::new("node")
        .arg(dir.join("js-client.js"))
        .args(args)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "could not start `node js-client.js` ({e}): the js-client tests need Node.js \
                 >= 18 on PATH"
            )
        });
    let out = collect_all(child.stdout.take());
    let err = collect_all(child.stderr.take());
    let status = wait_bounded(&mut child, timeout);
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    eprintln!("js-client stderr:\n{stderr}");
    let lines: Vec<String> = stdout.lines().map(str::to_owned).collect();
    match status {
        Some(status) => (status, lines),
        None => panic!(
            "js-client.js {args:?} did not exit within {timeout:?}\nstdout: {lines:#?}\nstderr:\n{stderr}"
        ),
    }
}

/// The `{"event","data"}` lines of a js-client run, parsed, in order.
pub(crate) fn js_client_events(lines: &[String]) -> Vec<(String, Value)> {
    lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let name = v.get("event")?.as_str()?.to_owned();
            Some((name, v.get("data").cloned().unwrap_or(Value::Null)))
        })
        .collect()
}

/// The final `RESULT …` line of a js-client run (without `RESULT `), if any.
pub(crate) fn js_client_result(lines: &[String]) -> Option<&str> {
    lines.last().and_then(|l| l.strip_prefix("RESULT "))
}
