//! The harness around the sans-IO [`Client`]: the tests play the server by hand.

use std::time::Instant;

use spaces_socket::client::{Client, Config, Event, Transmit};
use spaces_socket::spaces::Input;

use super::{Harness, Polled, machine};

machine!(Client, Event, feed_client, poll_client);

/// The client's transmits first, then its events.
fn poll_client(c: &mut Client) -> Polled<Event> {
    if let Some(t) = c.poll_transmit() {
        return Polled::Transmit(t);
    }
    c.poll_event().map_or(Polled::Nothing, Polled::Event)
}

/// An input to the lower-layer client, through its `handle_*` of the same name.
fn feed_client(c: &mut Client, now: Instant, input: Input<'_>) {
    match input {
        Input::Opened => c.handle_open(now),
        Input::OpenFailed { reason } => c.handle_open_failed(now, reason),
        Input::Text(text) => c.handle_text(now, text),
        Input::Binary(data) => c.handle_binary(now, data),
        Input::Closed { error } => c.handle_closed(now, error.map(str::to_owned)),
        Input::Timeout => c.handle_timeout(now),
        other => panic!("the client takes no {other:?}"),
    }
}

/// The harness around a [`Client`].
pub type ClientHarness = Harness<Client>;

pub const OPEN_PACKET: &str =
    r#"0{"sid":"AAAAAAAAAAAAAAAAAAAA","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#;

pub fn open_packet(interval_ms: u64, timeout_ms: u64) -> String {
    format!(
        r#"0{{"sid":"SID_SECRET_123456789","upgrades":[],"pingInterval":{interval_ms},"pingTimeout":{timeout_ms}}}"#
    )
}

impl Harness<Client> {
    pub fn new(url: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::new(url).expect("config");
        tweak(&mut config);
        Self::with(Client::new(config).expect("client"))
    }

    /// A client with `/chat` connected (default heartbeat), everything taken.
    pub fn connected(tweak: impl FnOnce(&mut Config)) -> Self {
        let mut h = Self::new("http://127.0.0.1:1/chat", tweak);
        h.connect();
        h.open(25_000, 60_000);
        h.feed("40/chat,");
        h.take();
        h
    }

    /// Completes the websocket and feeds the open packet.
    pub fn open(&mut self, interval_ms: u64, timeout_ms: u64) {
        self.client.handle_open(self.now);
        self.feed(&open_packet(interval_ms, timeout_ms));
    }

    /// Runs timers until the next `Transmit::Open`, returning its time in ms.
    pub fn run_until_open(&mut self, limit_ms: u64) -> Option<u64> {
        let limit = self.start + std::time::Duration::from_millis(limit_ms);
        loop {
            if let Some(pos) = self
                .transmits
                .iter()
                .position(|t| matches!(t, Transmit::Open(_)))
            {
                self.transmits.remove(pos);
                return Some(self.at());
            }
            if !self.fire_next_timer(limit) {
                return None;
            }
        }
    }
}

/// JSON argument text as [`Client::emit`] takes it: anything serializing to an array.
pub fn raw(json: &str) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(json.to_owned()).expect("valid JSON in the test")
}
