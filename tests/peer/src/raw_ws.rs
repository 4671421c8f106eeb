//! A raw, blocking websocket to a peer, for asserting exact engine.io / socket.io frames
//! independently of our own client. Every read is bounded by a socket read timeout.

// Each test binary uses only part of it.
#![allow(dead_code, unreachable_pub)]

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use tungstenite::protocol::CloseFrame;
use tungstenite::{Message, WebSocket};

/// Default bound for one expected frame.
pub const FRAME_TIMEOUT: Duration = Duration::from_secs(5);

/// What [`RawWs::recv`] got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// The peer closed (close frame, possibly without one when the TCP stream ended).
    Closed(Option<u16>),
    /// Nothing arrived within the timeout.
    Nothing,
}

/// A websocket client over a plain TCP stream to 127.0.0.1.
pub struct RawWs {
    ws: WebSocket<TcpStream>,
}

impl RawWs {
    /// Opens `url` (`ws://127.0.0.1:PORT/...`) on `port`; panics if the upgrade fails.
    #[track_caller]
    pub fn connect(port: u16, url: &str) -> Self {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let stream = TcpStream::connect_timeout(&addr, FRAME_TIMEOUT)
            .unwrap_or_else(|e| panic!("tcp connect to {addr}: {e}"));
        stream
            .set_read_timeout(Some(FRAME_TIMEOUT))
            .expect("set read timeout");
        stream
            .set_write_timeout(Some(FRAME_TIMEOUT))
            .expect("set write timeout");
        let _ = stream.set_nodelay(true);
        let (ws, response) = tungstenite::client(url, stream)
            .unwrap_or_else(|e| panic!("websocket upgrade to {url} failed: {e}"));
        assert_eq!(response.status().as_u16(), 101, "upgrade status for {url}");
        Self { ws }
    }

    /// Sends one text frame.
    #[track_caller]
    pub fn send(&mut self, text: &str) {
        self.ws
            .send(Message::text(text))
            .unwrap_or_else(|e| panic!("sending {text:?}: {e}"));
    }

    /// Receives the next data frame or close, waiting at most `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> Received {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Received::Nothing;
            }
            let _ = self.ws.get_ref().set_read_timeout(Some(left));
            match self.ws.read() {
                Ok(Message::Text(t)) => return Received::Text(t.as_str().to_owned()),
                Ok(Message::Binary(b)) => return Received::Binary(b.to_vec()),
                Ok(Message::Close(frame)) => {
                    return Received::Closed(frame.map(|f: CloseFrame| f.code.into()));
                }
                Ok(_) => continue, // websocket-level ping/pong
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return Received::Nothing;
                }
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    return Received::Closed(None);
                }
                Err(tungstenite::Error::Io(_) | tungstenite::Error::Protocol(_)) => {
                    // Reset or closed without a close frame.
                    return Received::Closed(None);
                }
                Err(e) => panic!("websocket read failed: {e}"),
            }
        }
    }

    /// The next text frame; panics on anything else or after [`FRAME_TIMEOUT`].
    #[track_caller]
    pub fn recv_text(&mut self) -> String {
        match self.recv(FRAME_TIMEOUT) {
            Received::Text(t) => t,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    /// Skips text frames until one matches `pred` (at most `timeout`); returns it, or
    /// panics listing what was skipped.
    #[track_caller]
    pub fn recv_text_matching(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&str) -> bool,
        timeout: Duration,
    ) -> String {
        let deadline = Instant::now() + timeout;
        let mut skipped = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Received::Text(t) if pred(&t) => return t,
                Received::Text(t) => skipped.push(t),
                other => panic!("waiting for {what}: got {other:?}; skipped {skipped:#?}"),
            }
        }
    }

    /// Asserts that no text frame matching `pred` arrives within `window`; other frames
    /// are returned so the caller can inspect them.
    #[track_caller]
    pub fn assert_no_text_matching(
        &mut self,
        what: &str,
        mut pred: impl FnMut(&str) -> bool,
        window: Duration,
    ) -> Vec<String> {
        let deadline = Instant::now() + window;
        let mut others = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Received::Nothing => return others,
                Received::Text(t) if pred(&t) => panic!("unexpected {what}: {t}"),
                Received::Text(t) => others.push(t),
                other => panic!("while checking for no {what}: got {other:?}"),
            }
        }
    }

    /// Opens an engine.io session with `token` in the URL (as the Spaces clients do),
    /// checks the open packet and root `40`, connects `/chat` with the same query and
    /// waits for `40/chat` or `40/chat,`. Returns the socket and the engine.io sid.
    #[track_caller]
    pub fn chat_session(port: u16, token: &str) -> (Self, String) {
        let query = format!("token={token}&tokenType=jwt");
        let url = format!("ws://127.0.0.1:{port}/socket.io/?{query}&EIO=3&transport=websocket");
        let mut ws = Self::connect(port, &url);
        let open = ws.recv_text();
        let sid = open_packet_sid(&open).unwrap_or_else(|| panic!("bad open packet {open:?}"));
        assert_eq!(ws.recv_text(), "40", "root connect");
        ws.send(&format!("40/chat?{query},"));
        let ack = ws.recv_text();
        assert!(
            ack == "40/chat" || ack == "40/chat,",
            "chat connect ack: {ack:?}"
        );
        (ws, sid)
    }

    /// Closes the websocket politely (best effort).
    pub fn close(mut self) {
        let _ = self.ws.close(None);
        let _ = self.ws.flush();
    }
}

/// The sid of an engine.io open packet `0{"sid":"…",…}`, if `frame` is one.
pub fn open_packet_sid(frame: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_str(frame.strip_prefix('0')?).ok()?;
    json.get("sid")?.as_str().map(str::to_owned)
}

/// Splits a `42/chat,[name,payload]` frame into the event name and payload.
pub fn chat_event(frame: &str) -> Option<(String, serde_json::Value)> {
    let json: serde_json::Value = serde_json::from_str(frame.strip_prefix("42/chat,")?).ok()?;
    let array = json.as_array()?;
    let name = array.first()?.as_str()?.to_owned();
    Some((
        name,
        array.get(1).cloned().unwrap_or(serde_json::Value::Null),
    ))
}

/// Builds `42/chat,["NAME",payload]`.
pub fn chat_emit(name: &str, payload: &serde_json::Value) -> String {
    format!("42/chat,{}", serde_json::json!([name, payload]))
}
