//! A virtual-clock harness around the sans-IO Spaces session; tests play the server by hand.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use spaces_socket::client::Transmit;
use spaces_socket::spaces::{Spaces, SpacesConfig, SpacesEvent, Token};

pub struct SpacesHarness {
    pub spaces: Spaces,
    pub start: Instant,
    pub now: Instant,
    pub transmits: Vec<Transmit>,
    pub events: Vec<SpacesEvent>,
}

pub const OPEN: &str =
    r#"0{"sid":"SID_SECRET_123456789","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#;

impl SpacesHarness {
    pub fn new(tweak: impl FnOnce(&mut SpacesConfig)) -> Self {
        let mut config = SpacesConfig::new("http://127.0.0.1:9/chat").expect("config");
        config.client.rng_seed = 11;
        tweak(&mut config);
        let start = Instant::now();
        Self {
            spaces: Spaces::new(config).expect("spaces"),
            start,
            now: start,
            transmits: Vec::new(),
            events: Vec::new(),
        }
    }

    /// A session connected with token `t` and subscribed to `s1`, with everything drained.
    pub fn subscribed(tweak: impl FnOnce(&mut SpacesConfig)) -> Self {
        let mut h = Self::new(tweak);
        h.spaces.subscribe(h.now, "s1", None);
        h.spaces.connect(h.now);
        h.connect_with("t");
        h.confirm_subscription("s1");
        h.take_texts();
        h.take_events();
        h
    }

    /// Feeds the server's CHANNEL_SUBSCRIBED for `space`.
    pub fn confirm_subscription(&mut self, space: &str) {
        self.server_event(
            "CHANNEL_SUBSCRIBED",
            &format!(r#"{{"channel":{{"_id":"{space}","type":"topic"}}}}"#),
        );
    }

    pub fn drain(&mut self) {
        while let Some(t) = self.spaces.poll_transmit() {
            self.transmits.push(t);
        }
        while let Some(e) = self.spaces.poll_event() {
            self.events.push(e);
        }
    }

    pub fn take_events(&mut self) -> Vec<SpacesEvent> {
        self.drain();
        std::mem::take(&mut self.events)
    }

    /// Text frames sent since the last call.
    pub fn take_texts(&mut self) -> Vec<String> {
        self.drain();
        let texts = self
            .transmits
            .iter()
            .filter_map(|t| match t {
                Transmit::Text(s) => Some(s.clone()),
                _ => None,
            })
            .collect();
        self.transmits.clear();
        texts
    }

    /// The URL of the last `Transmit::Open`, removing it.
    pub fn take_open_url(&mut self) -> Option<String> {
        self.drain();
        let pos = self
            .transmits
            .iter()
            .rposition(|t| matches!(t, Transmit::Open(_)))?;
        match self.transmits.remove(pos) {
            Transmit::Open(url) => Some(url.expose().to_owned()),
            _ => None,
        }
    }

    /// Answers a `TokenNeeded` with `token`, opens the websocket, feeds the open packet and the
    /// `/chat` CONNECT answer.
    pub fn connect_with(&mut self, token: &str) {
        self.spaces.handle_token(self.now, &Token::jwt(token));
        self.spaces.handle_open(self.now);
        self.spaces.handle_text(self.now, OPEN);
        self.spaces.handle_text(self.now, "40/chat");
        self.drain();
    }

    pub fn feed(&mut self, text: &str) {
        self.spaces.handle_text(self.now, text);
        self.drain();
    }

    /// Feeds `42/chat,["NAME",payload]`.
    pub fn server_event(&mut self, name: &str, payload: &str) {
        self.feed(&format!(r#"42/chat,["{name}",{payload}]"#));
    }

    pub fn advance(&mut self, ms: u64) {
        let target = self.now + Duration::from_millis(ms);
        while let Some(d) = self.spaces.poll_timeout() {
            if d > target {
                break;
            }
            self.now = self.now.max(d);
            self.spaces.handle_timeout(self.now);
            self.drain();
        }
        self.now = target;
    }

    /// Drops the connection and runs timers until the next `TokenNeeded`.
    pub fn drop_connection(&mut self) {
        self.drain();
        self.events.clear();
        self.spaces.handle_closed(self.now, None);
        self.drain();
        for _ in 0..100 {
            if self
                .events
                .iter()
                .any(|e| matches!(e, SpacesEvent::TokenNeeded { attempt } if *attempt > 0))
            {
                return;
            }
            self.advance(500);
        }
        panic!("no reconnection attempt");
    }
}

/// The `loopbackMetadata` value of a SEND_MESSAGE frame.
pub fn loopback_of(frame: &str) -> String {
    let json = frame.trim_start_matches("42/chat,");
    let v: serde_json::Value = serde_json::from_str(json).expect("frame json");
    v[1]["loopbackMetadata"]
        .as_str()
        .expect("loopback")
        .to_owned()
}

/// A MESSAGE_SENT echo for a SEND_MESSAGE frame.
pub fn echo_of(frame: &str, id: &str) -> String {
    let json = frame.trim_start_matches("42/chat,");
    let v: serde_json::Value = serde_json::from_str(json).expect("frame json");
    let mut msg = v[1].clone();
    msg["_id"] = serde_json::json!(id);
    msg["sender"] = serde_json::json!({"_id": "u1", "type": "user"});
    format!(r#"42/chat,["MESSAGE_SENT",{msg}]"#)
}
