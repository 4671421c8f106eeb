//! The harness around the sans-IO [`Spaces`] session: the tests play the server by hand.

use spaces_socket::spaces::{Input, Spaces, SpacesConfig, SpacesEvent, Step, Token};

use super::{Harness, Polled, machine};

machine!(Spaces, SpacesEvent, Spaces::handle_input, poll_spaces);

/// `Spaces::poll_output`: the session's one poll order.
fn poll_spaces(s: &mut Spaces) -> Polled<SpacesEvent> {
    match s.poll_output() {
        Step::Transmit(t) => Polled::Transmit(t),
        Step::Token { attempt } => Polled::Token(attempt),
        Step::Event(e) => Polled::Event(e),
        _ => Polled::Nothing,
    }
}

/// The harness around a [`Spaces`] session.
pub type SpacesHarness = Harness<Spaces>;

pub const OPEN: &str =
    r#"0{"sid":"SID_SECRET_123456789","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#;

impl Harness<Spaces> {
    pub fn new(tweak: impl FnOnce(&mut SpacesConfig)) -> Self {
        let mut config = SpacesConfig::new("http://127.0.0.1:9/chat").expect("config");
        config.client.rng_seed = Some(11);
        tweak(&mut config);
        Self::with(Spaces::new(config).expect("spaces"))
    }

    /// A session connected with token `t` and subscribed to `s1`, with everything drained.
    pub fn subscribed(tweak: impl FnOnce(&mut SpacesConfig)) -> Self {
        let mut h = Self::new(tweak);
        h.client.subscribe(h.now, "s1", None);
        h.client.connect(h.now);
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

    /// Answers a `Step::Token` with `token`, opens the websocket, feeds the open packet and the
    /// `/chat` CONNECT answer.
    pub fn connect_with(&mut self, token: &str) {
        // As a driver does: the request comes out of the drain before it is answered.
        self.drain();
        self.put(Input::Token {
            token: &Token::jwt(token),
            refreshes: false,
        });
        self.put(Input::Opened);
        self.put(Input::Text(OPEN));
        self.feed("40/chat");
    }

    /// Feeds `42/chat,["NAME",payload]`.
    pub fn server_event(&mut self, name: &str, payload: &str) {
        self.feed(&format!(r#"42/chat,["{name}",{payload}]"#));
    }

    /// Drops the connection and runs timers until the next `Step::Token`.
    pub fn drop_connection(&mut self) {
        self.drain();
        self.events.clear();
        self.token_requests.clear();
        self.put(Input::Closed { error: None });
        self.drain();
        for _ in 0..100 {
            if self.token_requests.iter().any(|attempt| *attempt > 0) {
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
