//! The whole sans-IO state machine, `Client` or `Spaces`, driven by a fuzz-chosen sequence of
//! inputs on a virtual clock, drained after every input like a runtime does.
//!
//! `cargo +nightly fuzz run state_machine fuzz/seeds/state_machine`
//!
//! Invariants checked after every operation:
//! - nothing panics, and every drain ends within a bound;
//! - time settles: after every input, calling `handle_timeout(now)` while
//!   `poll_timeout() <= now` reaches a deadline later than `now` (or none) within 8 rounds, so a
//!   runtime that trusts `poll_timeout` never spins at a fixed instant;
//! - a closed machine opens no websocket until the user connects it again, and `close` closes
//!   (Spaces: closing a running session fails every message still without an outcome; on a
//!   closed one it does nothing, as documented);
//! - queues stay within their configured bounds (send buffer, pending acks);
//! - Spaces: every accepted message gets exactly one outcome (`Confirmed` or `SendFailed`), and
//!   `unconfirmed()` counts exactly the messages still without one.
//!
//! To port to a changed API, adjust `apply` (one arm per input) and `drain`.
#![no_main]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use spaces_socket::client::{AckId, Client, Config, Event, Query, Transmit};
use spaces_socket::spaces::{
    AuthError, Input, SendMessage, SendPresenceEvent, Spaces, SpacesConfig, SpacesEvent, Step,
    Token,
};

/// Real frames, so that short inputs reach the connected states.
const FRAMES: &[&str] = &[
    r#"0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":5000}"#,
    r#"0{"sid":"x","upgrades":[],"pingInterval":10,"pingTimeout":5}"#,
    r#"0{"sid":"x","upgrades":[],"pingInterval":0,"pingTimeout":0}"#,
    "40",
    "40/chat,",
    "40/chat",
    "40/other,",
    "41",
    "41/chat,",
    "41/other,",
    "2",
    "3",
    "1",
    "6",
    r#"44/chat,{"message":"jwt expired","code":"invalid_token","type":"UnauthorizedError"}"#,
    r#"44/chat,"Authentication error""#,
    r#"44/other,"Invalid namespace""#,
    r#"42/chat,["CHANNEL_SUBSCRIBED",{"channel":{"_id":"space1","type":"topic"}}]"#,
    r#"42/chat,["CHANNEL_SUBSCRIBED",{"channel":{"_id":"space2","type":"topic"}}]"#,
    r#"42/chat,["SUBSCRIBE_CHANNEL_FAILED",{"channel":{"_id":"space1","type":"topic"},"error":{"code":"denied"}}]"#,
    r#"42/chat,["CHANNEL_UNSUBSCRIBED",{"channel":{"_id":"space1","type":"topic"}}]"#,
    r#"42/chat,["MESSAGE_SENT",{"_id":"m0","category":"chat","topicId":"space1","content":{"bodyText":"hi"},"loopbackMetadata":"spaces-socket:0"}]"#,
    r#"42/chat,["MESSAGE_SENT",{"_id":"m1","category":"chat","topicId":"space1","content":{"bodyText":"hi"},"loopbackMetadata":"spaces-socket:1"}]"#,
    r#"42/chat,["MESSAGE_SENT",{"_id":"m2","category":"chat","topicId":"space2","content":{"bodyText":"yo"}}]"#,
    r#"42/chat,["SEND_MESSAGE_FAILED",{"topicId":"space1","error":{"code":"x"},"loopbackMetadata":"spaces-socket:0"}]"#,
    r#"42/chat,["SEND_MESSAGE_FAILED",{"topicId":"space1","error":{"code":"x"},"loopbackMetadata":"spaces-socket:1"}]"#,
    r#"42/chat,["PRESENCE_EVENT_RESPONSE",{"category":"party.typing","topicId":"space1"}]"#,
    r#"42/chat,["MESSAGE_SENT",1]"#,
    r#"42/chat,7["ev","x"]"#,
    r#"42/chat,["ev"]"#,
    r#"42["ev",{"a":1}]"#,
    r#"43/chat,0["thanks"]"#,
    r#"43/chat,1[]"#,
    r#"451-/chat,["x",{"_placeholder":true,"num":0}]"#,
    r#"452-/chat,3["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#,
    r#"461-/chat,0[{"_placeholder":true,"num":0}]"#,
    "b4AQID",
    "4",
];
const NSPS: &[&str] = &["/chat", "/", "/other", "bad"];
const SPACES: &[&str] = &["space1", "space2", ""];
const NAMES: &[&str] = &["ev", "connect", "MESSAGE_SENT"];
const ARGS: &[&str] = &["[]", "[1]", r#"[{"a":1}]"#, "nope", "{}"];

fn pick<T: Copy>(list: &[T], i: u8) -> T {
    list[usize::from(i) % list.len()]
}

/// One input. The byte encoding (see `Bytes::op`) is what `fuzz/seeds/generate.py` writes.
#[derive(Debug)]
enum Op {
    // Time.
    Advance(u16),
    /// `handle_timeout` at the current time (early or late is harmless).
    Timeout,
    /// Jump to the next deadline (if later) and handle it, as a runtime does.
    FireDeadline,
    // Websocket outcomes.
    Open,
    OpenFailed,
    Closed(bool),
    Known(u8),
    Text(String),
    Attachment(Vec<u8>),
    Binary(Vec<u8>),
    // Commands of both.
    Connect,
    Close,
    // Client commands.
    Join(u8),
    Leave(u8),
    Emit {
        nsp: u8,
        name: u8,
        args: u8,
        ack: bool,
    },
    EmitBinary {
        nsp: u8,
        attachments: u8,
        ack: bool,
    },
    Ack {
        nsp: u8,
        id: u8,
    },
    SetQuery,
    QueryFailed,
    // Spaces commands.
    Token,
    TokenError,
    Subscribe {
        space: u8,
        pin: bool,
    },
    Unsubscribe(u8),
    Send(u8),
    Presence(u8),
}

/// The fuzz input read front to back; past its end every byte reads as 0.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn u8(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().unwrap_or((&0, &[]));
        self.0 = rest;
        *first
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// A length byte, then that many bytes.
    fn blob(&mut self) -> Vec<u8> {
        let n = usize::from(self.u8()).min(self.0.len());
        let (blob, rest) = self.0.split_at(n);
        self.0 = rest;
        blob.to_vec()
    }

    /// An opcode byte, then its operands.
    fn op(&mut self) -> Option<Op> {
        if self.0.is_empty() {
            return None;
        }
        Some(match self.u8() % 25 {
            0 => Op::Advance(self.u16()),
            1 => Op::Timeout,
            2 => Op::FireDeadline,
            3 => Op::Open,
            4 => Op::OpenFailed,
            5 => Op::Closed(self.u8() & 1 == 1),
            6 => Op::Known(self.u8()),
            7 => Op::Text(String::from_utf8_lossy(&self.blob()).into_owned()),
            8 => Op::Attachment(self.blob()),
            9 => Op::Binary(self.blob()),
            10 => Op::Connect,
            11 => Op::Close,
            12 => Op::Join(self.u8()),
            13 => Op::Leave(self.u8()),
            14 => Op::Emit {
                nsp: self.u8(),
                name: self.u8(),
                args: self.u8(),
                ack: self.u8() & 1 == 1,
            },
            15 => Op::EmitBinary {
                nsp: self.u8(),
                attachments: self.u8(),
                ack: self.u8() & 1 == 1,
            },
            16 => Op::Ack {
                nsp: self.u8(),
                id: self.u8(),
            },
            17 => Op::SetQuery,
            18 => Op::QueryFailed,
            19 => Op::Token,
            20 => Op::TokenError,
            21 => Op::Subscribe {
                space: self.u8(),
                pin: self.u8() & 1 == 1,
            },
            22 => Op::Unsubscribe(self.u8()),
            23 => Op::Send(self.u8()),
            _ => Op::Presence(self.u8()),
        })
    }
}

/// The configuration: the first 16 bytes of the input.
/// The machine, and its seed (a session's `loopbackMetadata` tag derives from it).
fn setup(b: &mut Bytes<'_>) -> Option<(Machine, u64)> {
    let flags = b.u8();
    let attempts = b.u8();
    let ms = |v: u16| Duration::from_millis(u64::from(v));
    let (delay, delay_max) = (ms(b.u16()), ms(b.u16().max(1)));
    let (connect_timeout, ack_timeout, confirm_timeout) = (ms(b.u16()), ms(b.u16()), ms(b.u16()));
    let (max_buffered, max_acks, rate_limit, max_held) = (b.u8(), b.u8(), b.u8(), b.u8());
    let flag = |bit: u8| flags & (1 << bit) != 0;
    let mut c = Config::new("ws://127.0.0.1:9/chat").ok()?;
    c.reconnection = flag(1);
    c.reconnection_attempts = flag(4).then_some(u32::from(attempts));
    c.reconnection_delay = delay;
    c.reconnection_delay_max = delay_max;
    c.randomization_factor = if flag(2) { 0.5 } else { 0.0 };
    c.connect_timeout = flag(5).then_some(connect_timeout);
    c.ack_timeout = flag(6).then_some(ack_timeout);
    c.fresh_query_per_connection = flag(3);
    c.max_buffered = usize::from(max_buffered).max(1);
    c.max_pending_acks = usize::from(max_acks);
    let seed = u64::from(attempts);
    c.rng_seed = Some(seed);
    let machine = if flag(0) {
        let mut sc = SpacesConfig::new("ws://127.0.0.1:9/chat").ok()?;
        // What the session owns stays as `SpacesConfig::new` set it (`Spaces::new` refuses
        // anything else).
        c.namespace = sc.client.namespace.clone();
        c.fresh_query_per_connection = true;
        sc.client = c;
        sc.confirm_timeout = flag(7).then_some(confirm_timeout);
        sc.rate_limit = u32::from(rate_limit);
        sc.max_held = usize::from(max_held);
        Machine::Spaces(Spaces::new(sc).ok()?)
    } else {
        Machine::Client(Client::new(c).ok()?)
    };
    Some((machine, seed))
}

#[allow(clippy::large_enum_variant)] // one per run
enum Machine {
    Client(Client),
    Spaces(Spaces),
}

/// Calls the same method on whichever machine it is.
macro_rules! both {
    ($m:expr, $x:ident => $e:expr) => {
        match $m {
            Machine::Client($x) => $e,
            Machine::Spaces($x) => $e,
        }
    };
}

/// One network or timer input, to either machine (the client's `handle_*` of the same name).
fn feed(m: &mut Machine, now: Instant, input: Input<'_>) {
    match m {
        Machine::Spaces(s) => s.handle_input(now, input),
        Machine::Client(c) => match input {
            Input::Opened => c.handle_open(now),
            Input::OpenFailed { reason } => c.handle_open_failed(now, reason),
            Input::Text(text) => c.handle_text(now, text),
            Input::Binary(data) => c.handle_binary(now, data),
            Input::Closed { error } => c.handle_closed(now, error.map(str::to_owned)),
            Input::Timeout => c.handle_timeout(now),
            _ => {}
        },
    }
}

/// `emit` or `emit_with_ack` of `args` on `(namespace, event name)`; refusals are expected.
fn emit<A: serde::Serialize + ?Sized>(
    c: &mut Client,
    now: Instant,
    (nsp, name): (&str, &str),
    args: &A,
    ack: bool,
) {
    if ack {
        drop(c.emit_with_ack(now, nsp, name, args));
    } else {
        drop(c.emit(now, nsp, name, args));
    }
}

struct Harness {
    m: Machine,
    /// [`FRAMES`] with the session's own `loopbackMetadata` tag, so echoes can be ours.
    frames: Vec<String>,
    now: Instant,
    /// Spaces: ids accepted and still without an outcome.
    outstanding: BTreeSet<u64>,
    /// Client: the latest ack ids the server asked for.
    acks: Vec<AckId>,
}

const MAX_DRAIN: usize = 100_000;

impl Harness {
    fn is_closed(&self) -> bool {
        match &self.m {
            Machine::Client(c) => c.is_closed(),
            Machine::Spaces(s) => s.is_closed(),
        }
    }

    /// One input. Inputs that do not apply to this kind of machine do nothing.
    fn apply(&mut self, op: Op) {
        let now = self.now;
        match (&mut self.m, op) {
            (_, Op::Advance(ms)) => self.now += Duration::from_millis(u64::from(ms)),
            (m, Op::Timeout) => feed(m, now, Input::Timeout),
            (m, Op::FireDeadline) => {
                if let Some(d) = both!(m, x => x.poll_timeout()) {
                    self.now = self.now.max(d);
                }
                feed(m, self.now, Input::Timeout);
            }
            (m, Op::Open) => feed(m, now, Input::Opened),
            (m, Op::OpenFailed) => feed(m, now, Input::OpenFailed { reason: "refused" }),
            (m, Op::Closed(err)) => {
                let error = err.then_some("reset");
                feed(m, now, Input::Closed { error })
            }
            (m, Op::Known(i)) => {
                let frame = &self.frames[usize::from(i) % self.frames.len()];
                feed(m, now, Input::Text(frame))
            }
            (m, Op::Text(t)) => feed(m, now, Input::Text(&t)),
            (m, Op::Attachment(mut data)) => {
                data.insert(0, 0x04);
                feed(m, now, Input::Binary(&data));
            }
            (m, Op::Binary(data)) => feed(m, now, Input::Binary(&data)),
            (m, Op::Connect) => both!(m, x => x.connect(now)),
            (m, Op::Close) => both!(m, x => x.close(now)),
            (Machine::Client(c), Op::Join(n)) => drop(c.join(now, pick(NSPS, n))),
            (Machine::Client(c), Op::Leave(n)) => drop(c.leave(now, pick(NSPS, n))),
            (
                Machine::Client(c),
                Op::Emit {
                    nsp,
                    name,
                    args,
                    ack,
                },
            ) => {
                let (nsp, name, args) = (pick(NSPS, nsp), pick(NAMES, name), pick(ARGS, args));
                // Arguments are JSON text when they parse; otherwise a plain string, which
                // serializes to a JSON string and must be refused as not an array.
                match RawValue::from_string(args.to_owned()) {
                    Ok(raw) => emit(c, now, (nsp, name), &*raw, ack),
                    Err(_) => emit(c, now, (nsp, name), args, ack),
                }
            }
            (
                Machine::Client(c),
                Op::EmitBinary {
                    nsp,
                    attachments,
                    ack,
                },
            ) => {
                let args = [serde_json::json!({"_placeholder": true, "num": 0})];
                let blobs = vec![vec![attachments]; usize::from(attachments % 3)];
                if ack {
                    drop(c.emit_binary_with_ack(now, pick(NSPS, nsp), "bin", &args, blobs));
                } else {
                    drop(c.emit_binary(now, pick(NSPS, nsp), "bin", &args, blobs));
                }
            }
            (Machine::Client(c), Op::Ack { nsp, id }) => {
                // Ack ids only come from the server's requests: answer one we were given.
                if let Some(ack) = self.acks.get(usize::from(id) % self.acks.len().max(1)) {
                    drop(c.ack(now, pick(NSPS, nsp), *ack, &[1]));
                }
            }
            (Machine::Client(c), Op::SetQuery) => c.set_query(now, Query::new().with("t", "1")),
            (Machine::Client(c), Op::QueryFailed) => c.query_failed(now, "no token"),
            (Machine::Spaces(s), Op::Token) => {
                let token = Token::jwt("jwt");
                s.handle_input(
                    now,
                    Input::Token {
                        token: &token,
                        refreshes: false,
                    },
                )
            }
            (Machine::Spaces(s), Op::TokenError) => {
                let error = AuthError::Provider("down".to_owned());
                s.handle_input(now, Input::TokenFailed(&error))
            }
            (Machine::Spaces(s), Op::Subscribe { space, pin }) => {
                s.subscribe(now, pick(SPACES, space), pin.then_some("1234"))
            }
            (Machine::Spaces(s), Op::Unsubscribe(i)) => s.unsubscribe(now, pick(SPACES, i)),
            (Machine::Spaces(s), Op::Send(i)) => {
                if let Ok(id) = s.send_message(now, SendMessage::chat(pick(SPACES, i), "hi")) {
                    assert!(self.outstanding.insert(id.get()), "id {id:?} given twice");
                }
            }
            (Machine::Spaces(s), Op::Presence(i)) => {
                drop(s.send_presence(now, &SendPresenceEvent::typing(pick(SPACES, i))))
            }
            (Machine::Client(_), _) | (Machine::Spaces(_), _) => {}
        }
    }

    /// Drains transmits then events, like a runtime (`Spaces` in its one poll order); returns
    /// how many `Open`s were asked for.
    fn drain(&mut self) -> usize {
        let mut opens = 0;
        let mut drained = 0;
        match &mut self.m {
            Machine::Client(c) => {
                while let Some(t) = c.poll_transmit() {
                    opens += usize::from(matches!(t, Transmit::Open(_)));
                    drained += 1;
                    assert!(drained < MAX_DRAIN, "transmit drain does not end");
                }
                while let Some(e) = c.poll_event() {
                    drained += 1;
                    assert!(drained < MAX_DRAIN, "event drain does not end");
                    let _ = format!("{e:?}");
                    if let Event::Message { ack: Some(ack), .. } = e {
                        self.acks.push(ack);
                        if self.acks.len() > 64 {
                            self.acks.remove(0);
                        }
                    }
                }
            }
            Machine::Spaces(s) => loop {
                // The one poll order: taking an event may queue transmits, given first.
                let e = match s.poll_output() {
                    Step::Transmit(t) => {
                        opens += usize::from(matches!(t, Transmit::Open(_)));
                        drained += 1;
                        assert!(drained < MAX_DRAIN, "transmit drain does not end");
                        continue;
                    }
                    // Answered by the `Token`/`TokenError` ops.
                    Step::Token { .. } => continue,
                    Step::Event(e) => e,
                    _ => {
                        assert_eq!(s.unconfirmed(), self.outstanding.len(), "unconfirmed count");
                        break;
                    }
                };
                drained += 1;
                assert!(drained < MAX_DRAIN, "event drain does not end");
                let _ = format!("{e:?}");
                if let SpacesEvent::Confirmed { id, .. } | SpacesEvent::SendFailed { id, .. } = &e {
                    assert!(
                        self.outstanding.remove(&id.get()),
                        "second outcome for {id:?}: {e:?}"
                    );
                }
            },
        }
        // The Spaces session keeps its client to itself; its queue bound is checked above.
        let Machine::Client(c) = &self.m else {
            return opens;
        };
        for nsp in NSPS {
            assert!(
                c.buffered(nsp) <= c.config().max_buffered,
                "send buffer over its bound"
            );
            assert!(
                c.pending_acks(nsp) <= c.config().max_pending_acks,
                "acks over their bound"
            );
        }
        opens
    }
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = Bytes(data);
    let Some((m, seed)) = setup(&mut bytes) else {
        return;
    };
    let prefix = format!("\"{}", spaces_socket::record::loopback_prefix(seed));
    let frames = FRAMES
        .iter()
        .map(|f| f.replace("\"spaces-socket:", &prefix))
        .collect();
    let mut h = Harness {
        m,
        frames,
        now: Instant::now(),
        outstanding: BTreeSet::new(),
        acks: Vec::new(),
    };
    while let Some(op) = bytes.op() {
        let closed_before = h.is_closed();
        let reopens = matches!(op, Op::Connect | Op::Join(_));
        let closes = matches!(op, Op::Close);
        h.apply(op);
        let mut opens = h.drain();
        // A runtime loops `while poll_timeout() <= now { handle_timeout(now) }` before it
        // waits; that loop must end at a fixed `now`. (A deadline can fall due at the very
        // `now` it was set, e.g. a zero reconnection delay, as with JS's setTimeout(0).)
        let now = h.now;
        for round in 0.. {
            let next = both!(&h.m, x => x.poll_timeout());
            if next.is_none_or(|d| d > now) {
                break;
            }
            assert!(
                round < 8,
                "handle_timeout(now) never settles: {next:?} <= {now:?}"
            );
            feed(&mut h.m, now, Input::Timeout);
            opens += h.drain();
        }
        if closed_before && !reopens {
            assert_eq!(opens, 0, "a closed machine opened a websocket");
        }
        if closes {
            assert!(h.is_closed(), "close left the machine running");
            assert_eq!(opens, 0, "close opened a websocket");
            if let (Machine::Spaces(s), false) = (&h.m, closed_before) {
                assert_eq!(s.unconfirmed(), 0, "close left messages without an outcome");
            }
        }
    }
});
