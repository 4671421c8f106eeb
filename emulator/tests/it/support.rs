//! Helpers shared by the modules of this test binary: a loopback emulator and a raw blocking
//! websocket client for it, and the official socket.io-client 2.0.4 run under Node.
//!
//! Everything is bounded in time and panics with a clear message instead of hanging or
//! skipping: a missing Node.js or `node_modules` is a test failure, not a silent pass.

use std::net::TcpStream;
use std::thread;
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

/// The Node peers' helper, shared with the other crates' tests: it installs `tests/peer`'s
/// packages when they are missing and runs `js-client.js` with a bound.
use spaces_socket_peers as peer;

pub(crate) use peer::{js_client_events, js_client_result, run_js_client};
