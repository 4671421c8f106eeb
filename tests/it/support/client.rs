//! A virtual-clock harness around the sans-IO client: it plays the server by hand.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use spaces_socket::client::{Client, Config, Event, Transmit};

pub struct Harness {
    pub client: Client,
    pub start: Instant,
    pub now: Instant,
    pub transmits: Vec<Transmit>,
    pub events: Vec<Event>,
}

pub const OPEN_PACKET: &str =
    r#"0{"sid":"AAAAAAAAAAAAAAAAAAAA","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#;

pub fn open_packet(interval_ms: u64, timeout_ms: u64) -> String {
    format!(
        r#"0{{"sid":"SID_SECRET_123456789","upgrades":[],"pingInterval":{interval_ms},"pingTimeout":{timeout_ms}}}"#
    )
}

impl Harness {
    pub fn new(url: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::new(url).expect("config");
        tweak(&mut config);
        let start = Instant::now();
        Self {
            client: Client::new(config).expect("client"),
            start,
            now: start,
            transmits: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Milliseconds since the harness started.
    pub fn at(&self) -> u64 {
        self.now.duration_since(self.start).as_millis() as u64
    }

    pub fn drain(&mut self) {
        while let Some(t) = self.client.poll_transmit() {
            self.transmits.push(t);
        }
        while let Some(e) = self.client.poll_event() {
            self.events.push(e);
        }
    }

    /// Takes the transmits and events gathered so far.
    pub fn take(&mut self) -> (Vec<Transmit>, Vec<Event>) {
        self.drain();
        (
            std::mem::take(&mut self.transmits),
            std::mem::take(&mut self.events),
        )
    }

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

    pub fn connect(&mut self) {
        self.client.connect(self.now);
        self.drain();
    }

    /// Completes the websocket and feeds the open packet.
    pub fn open(&mut self, interval_ms: u64, timeout_ms: u64) {
        self.client.handle_open(self.now);
        self.client
            .handle_text(self.now, &open_packet(interval_ms, timeout_ms));
        self.drain();
    }

    pub fn feed(&mut self, text: &str) {
        self.client.handle_text(self.now, text);
        self.drain();
    }

    pub fn feed_binary(&mut self, data: &[u8]) {
        self.client.handle_binary(self.now, data);
        self.drain();
    }

    /// Moves the clock to `ms` after start, firing every timer due on the way, in order.
    pub fn advance_to(&mut self, ms: u64) {
        let target = self.start + Duration::from_millis(ms);
        while let Some(deadline) = self.client.poll_timeout() {
            if deadline > target {
                break;
            }
            self.now = self.now.max(deadline);
            self.client.handle_timeout(self.now);
            self.drain();
        }
        self.now = self.now.max(target);
    }

    pub fn advance(&mut self, ms: u64) {
        let to = self.at() + ms;
        self.advance_to(to);
    }

    /// Runs timers until the next `Transmit::Open`, returning its time in ms.
    pub fn run_until_open(&mut self, limit_ms: u64) -> Option<u64> {
        loop {
            if let Some(pos) = self
                .transmits
                .iter()
                .position(|t| matches!(t, Transmit::Open(_)))
            {
                self.transmits.remove(pos);
                return Some(self.at());
            }
            let deadline = self.client.poll_timeout()?;
            let ms = deadline.duration_since(self.start).as_millis() as u64;
            if ms > limit_ms {
                return None;
            }
            self.now = self.now.max(deadline);
            self.client.handle_timeout(self.now);
            self.drain();
        }
    }

    pub fn events_matching(&self, f: impl Fn(&Event) -> bool) -> Vec<&Event> {
        self.events.iter().filter(|e| f(e)).collect()
    }
}

/// JSON argument text as [`Client::emit`] takes it: anything serializing to an array.
pub fn raw(json: &str) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(json.to_owned()).expect("valid JSON in the test")
}
