//! Test support for the core: one virtual-clock harness that plays the server by hand around
//! either sans-IO machine, the [`Client`](spaces_socket::client::Client) ([`client`]) or the
//! [`Spaces`](spaces_socket::spaces::Spaces) session ([`spaces`]).
//!
//! Shared by the `it` binary (`mod support;`) and `tests/hostile_server.rs`
//! (`#[path = "it/support/mod.rs"] mod support;`).
#![allow(dead_code, unreachable_pub)]

pub mod client;
pub mod spaces;

use std::time::{Duration, Instant};

use spaces_socket::client::Transmit;
use spaces_socket::spaces::Input;

/// What the harness drives: the sans-IO surface `Client` and `Spaces` share.
pub trait Machine {
    type Event;
    fn connect(&mut self, now: Instant);
    /// One network or timer input (`Spaces::handle_input`, or the client's `handle_*`).
    fn input(&mut self, now: Instant, input: Input<'_>);
    /// The next output in the machine's poll order.
    fn poll(&mut self) -> Polled<Self::Event>;
    fn poll_timeout(&self) -> Option<Instant>;
}

/// Implements [`Machine`] for a type whose inherent methods have the trait's names, feeding
/// inputs with `$input` and polling with `$poll`.
macro_rules! machine {
    ($ty:ty, $event:ty, $input:expr, $poll:expr) => {
        impl $crate::support::Machine for $ty {
            type Event = $event;
            fn connect(&mut self, now: std::time::Instant) {
                <$ty>::connect(self, now)
            }
            fn input(&mut self, now: std::time::Instant, input: spaces_socket::spaces::Input<'_>) {
                $input(self, now, input)
            }
            fn poll(&mut self) -> $crate::support::Polled<$event> {
                $poll(self)
            }
            fn poll_timeout(&self) -> Option<std::time::Instant> {
                <$ty>::poll_timeout(self)
            }
        }
    };
}
use machine;

/// One output of a [`Machine`].
pub enum Polled<E> {
    Transmit(Transmit),
    /// `Spaces` asks for a token (`Step::Token`).
    Token(u32),
    Event(E),
    Nothing,
}

/// A machine on a virtual clock, with the transmits and events it produced and nobody took yet.
pub struct Harness<M: Machine> {
    /// The client under test: a `Client`, or a `Spaces` session (a client of the Spaces API).
    pub client: M,
    pub start: Instant,
    pub now: Instant,
    pub transmits: Vec<Transmit>,
    pub events: Vec<M::Event>,
    /// The attempts `Spaces` asked a token for (`Step::Token`), in order.
    pub token_requests: Vec<u32>,
}

impl<M: Machine> Harness<M> {
    fn with(client: M) -> Self {
        let start = Instant::now();
        Self {
            client,
            start,
            now: start,
            transmits: Vec::new(),
            events: Vec::new(),
            token_requests: Vec::new(),
        }
    }

    /// Milliseconds since the harness started.
    pub fn at(&self) -> u64 {
        self.now.duration_since(self.start).as_millis() as u64
    }

    /// Gathers transmits, token requests and events until nothing comes out, in the machine's
    /// poll order (reading an event may queue a transmit: `Spaces` translates its events
    /// lazily).
    pub fn drain(&mut self) {
        loop {
            match self.client.poll() {
                Polled::Transmit(t) => self.transmits.push(t),
                Polled::Token(attempt) => self.token_requests.push(attempt),
                Polled::Event(e) => self.events.push(e),
                Polled::Nothing => return,
            }
        }
    }

    /// Takes the transmits and events gathered so far.
    pub fn take(&mut self) -> (Vec<Transmit>, Vec<M::Event>) {
        self.drain();
        (
            std::mem::take(&mut self.transmits),
            std::mem::take(&mut self.events),
        )
    }

    pub fn take_events(&mut self) -> Vec<M::Event> {
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

    pub fn events_matching(&self, f: impl Fn(&M::Event) -> bool) -> Vec<&M::Event> {
        self.events.iter().filter(|e| f(e)).collect()
    }

    pub fn connect(&mut self) {
        self.client.connect(self.now);
        self.drain();
    }

    /// Feeds one input at the current time, without draining.
    pub fn put(&mut self, input: Input<'_>) {
        self.client.input(self.now, input);
    }

    pub fn feed(&mut self, text: &str) {
        self.put(Input::Text(text));
        self.drain();
    }

    pub fn feed_binary(&mut self, data: &[u8]) {
        self.put(Input::Binary(data));
        self.drain();
    }

    /// Fires the next timer if it is due by `limit`, moving the clock to it; false if none is.
    pub fn fire_next_timer(&mut self, limit: Instant) -> bool {
        match self.client.poll_timeout() {
            Some(deadline) if deadline <= limit => {
                self.now = self.now.max(deadline);
                self.put(Input::Timeout);
                self.drain();
                true
            }
            _ => false,
        }
    }

    /// Moves the clock to `ms` after start, firing every timer due on the way, in order.
    pub fn advance_to(&mut self, ms: u64) {
        let target = self.start + Duration::from_millis(ms);
        while self.fire_next_timer(target) {}
        self.now = self.now.max(target);
    }

    /// Moves the clock `ms` on, firing every timer due on the way, in order.
    pub fn advance(&mut self, ms: u64) {
        self.advance_to(self.at() + ms);
    }
}
