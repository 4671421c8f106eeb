//! The codec and the core's hot path on a realistic Spaces `MESSAGE_SENT` frame (~580 bytes,
//! `benches/fixtures/message_sent.txt`, the bytes `benches/js-parser.js` decodes too):
//!
//! * `decode`: Engine.IO + Socket.IO decoding of the frame, next to the floor (one
//!   `serde_json` validation pass of the same JSON into a `&RawValue`) and a `serde_json::Value`
//!   tree for reference (`benches/codec-vs-js.sh` prints the ratio decode/RawValue).
//! * `encode`: a SEND_MESSAGE frame: a `SendMessage` serialized after the Socket.IO header
//!   (inside a session, `round_trip` measures it).
//! * `round_trip`: a whole [`Spaces`] session (connected, `/chat` joined, a space subscribed,
//!   all through the public API): a frame in → the event out, and `send_message` → the frame
//!   out.
//!
//! Run: `cargo bench -p spaces-socket --bench codec -- --warm-up-time 1 --measurement-time 3`
//! (`benches/codec-vs-js.sh` runs this and the JS stack and prints the ratios;
//! `benches/instructions.sh` counts instructions per iteration with callgrind).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use serde_json::value::RawValue;
use spaces_socket::client::Transmit;
use spaces_socket::engine;
use spaces_socket::socket::{self, Args, PacketKind};
use spaces_socket::spaces::{
    Incoming, Input, SendMessage, Spaces, SpacesConfig, SpacesEvent, Step, Token,
};

/// The fixture: a `/chat` MESSAGE_SENT Engine.IO frame, as the live service sends it.
const FRAME: &str = include_str!("fixtures/message_sent.txt");
/// The Socket.IO header in front of the JSON array in [`FRAME`].
const HEADER: &str = "42/chat,";
/// The space the fixture's message is in.
const SPACE: &str = "5e8f1b2c7a4d3e0016b9a8c7";
/// The fixture's `loopbackMetadata` member (with its comma), the sender's copy only.
const LOOPBACK: &str = r#","loopbackMetadata":"spaces-socket:1""#;

/// What a client does with a text frame first: Engine.IO, then Socket.IO decoding, and the
/// event's name.
fn decode_frame(frame: &str) -> (Option<usize>, usize) {
    let Ok(engine::Packet::Message(text)) = engine::decode_text(frame) else {
        unreachable!("the frame is a message")
    };
    let packet = socket::decode(text).expect("valid packet");
    (
        packet.event_name().map(|n| n.len()),
        packet.elements().len(),
    )
}

fn decode(c: &mut Criterion) {
    let array = FRAME
        .strip_prefix(HEADER)
        .expect("the fixture is a /chat event");
    let socket_text = FRAME.strip_prefix('4').expect("an Engine.IO message");
    println!(
        "MESSAGE_SENT frame: {} bytes (JSON array {} bytes)",
        FRAME.len(),
        array.len()
    );

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(FRAME.len() as u64));
    g.bench_function("engine+socket decode", |b| {
        b.iter(|| decode_frame(black_box(FRAME)))
    });
    g.bench_function("floor: serde_json &RawValue", |b| {
        b.iter(|| serde_json::from_str::<&RawValue>(black_box(array)).map(|r| r.get().len()))
    });
    g.bench_function("reference: serde_json Value", |b| {
        b.iter(|| serde_json::from_str::<serde_json::Value>(black_box(array)).map(|v| v.is_array()))
    });
    g.bench_function("socket::decode", |b| {
        b.iter(|| socket::decode(black_box(socket_text)).map(|p| p.elements().len()))
    });
    let decoded = socket::decode(socket_text).expect("valid packet");
    let elements = decoded.elements().get(1..).unwrap_or_default();
    g.bench_function("Args::from_elements alone", |b| {
        b.iter(|| Args::from_elements(black_box(elements)))
    });
    let payload = elements.first().map(|e| e.get()).expect("one argument");
    g.bench_function("typed MESSAGE_SENT (Incoming::decode)", |b| {
        b.iter(|| Incoming::decode(black_box("MESSAGE_SENT"), Some(black_box(payload))))
    });
    g.finish();
}

/// The message every send benchmark sends.
fn message() -> SendMessage {
    SendMessage::chat(
        SPACE,
        "<p>Build 2.4.1 is &quot;green&quot; \u{2014} shipping at 16:00</p>",
    )
}

/// A SEND_MESSAGE frame for [`message`] in `frame` (cleared first); its length.
fn encode_send_message(frame: &mut String) -> usize {
    frame.clear();
    frame.push('4');
    socket::encode_into(frame, PacketKind::Event, "/chat", None, None, 0, None);
    frame.push_str("[\"SEND_MESSAGE\",");
    let message = black_box(message());
    let json = serde_json::to_string(&message).expect("a SendMessage always serializes");
    frame.push_str(&json);
    frame.push(']');
    frame.len()
}

fn encode(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode");
    let mut frame = String::with_capacity(1024);
    g.bench_function(
        "SEND_MESSAGE frame (serde_json + socket::encode_into)",
        |b| b.iter(|| encode_send_message(&mut frame)),
    );
    g.finish();
}

/// A session through the public API: token, websocket, handshake, `/chat` joined, [`SPACE`]
/// subscribed; every output drained. No rate window and no confirm timeout, so that millions
/// of sends at one instant neither wait nor expire.
fn subscribed_session(now: Instant) -> Spaces {
    let mut config = SpacesConfig::new("http://127.0.0.1:9/chat").expect("config");
    config.client.rng_seed = Some(1);
    config.rate_window = Duration::ZERO;
    config.confirm_timeout = None;
    let mut spaces = Spaces::new(config).expect("session");
    spaces.subscribe(now, SPACE, None);
    spaces.connect(now);
    let token = Token::jwt("bench-token");
    spaces.handle_input(
        now,
        Input::Token {
            token: &token,
            refreshes: false,
        },
    );
    spaces.handle_input(now, Input::Opened);
    spaces.handle_input(
        now,
        Input::Text(
            r#"0{"sid":"bench-sid","upgrades":[],"pingInterval":25000,"pingTimeout":60000}"#,
        ),
    );
    spaces.handle_input(now, Input::Text("40/chat"));
    spaces.handle_input(
        now,
        Input::Text(&format!(
            r#"42/chat,["CHANNEL_SUBSCRIBED",{{"channel":{{"_id":"{SPACE}","type":"topic"}}}}]"#
        )),
    );
    while !matches!(spaces.poll_output(), Step::Wait(_)) {}
    assert!(
        spaces.is_subscribed(SPACE),
        "the bench session is subscribed"
    );
    spaces
}

/// The session's next event (the one poll order; these sessions have no transmit waiting).
fn next_event(spaces: &mut Spaces) -> Option<SpacesEvent> {
    match spaces.poll_output() {
        Step::Event(event) => Some(event),
        _ => None,
    }
}

/// Sends [`message`] and returns its frame.
fn send(spaces: &mut Spaces, now: Instant) -> String {
    spaces.send_message(now, message()).expect("accepted");
    match spaces.poll_output() {
        Step::Transmit(Transmit::Text(frame)) => frame,
        other => panic!("expected the SEND_MESSAGE frame, got {other:?}"),
    }
}

/// The server's echo of a frame [`send`] returned: the fixture with its `loopbackMetadata`.
fn echo_of(frame: &str) -> String {
    const KEY: &str = r#""loopbackMetadata":""#;
    let start = frame.find(KEY).expect("a loopbackMetadata") + KEY.len();
    let len = frame[start..].find('"').expect("a closing quote");
    FRAME.replace("spaces-socket:1", &frame[start..start + len])
}

/// Feeds somebody else's MESSAGE_SENT frame and takes the event it becomes.
fn foreign_in(spaces: &mut Spaces, now: Instant, frame: &str) -> bool {
    spaces.handle_input(now, Input::Text(frame));
    match next_event(spaces) {
        Some(SpacesEvent::Message(m)) => m.content.is_some(),
        other => panic!("expected a Message, got {other:?}"),
    }
}

fn round_trip(c: &mut Criterion) {
    let now = Instant::now();
    let mut g = c.benchmark_group("round_trip");
    g.throughput(Throughput::Bytes(FRAME.len() as u64));

    // Somebody else's message: no loopbackMetadata (only the sender's copy has it).
    let foreign = FRAME.replace(LOOPBACK, "");
    let mut spaces = subscribed_session(now);
    g.bench_function("MESSAGE_SENT frame in -> Message out", |b| {
        b.iter(|| foreign_in(&mut spaces, now, black_box(&foreign)))
    });

    // Our own message's echo, matched to its send (the echo frames are made untimed).
    let mut spaces = subscribed_session(now);
    g.bench_function("echo frame in -> Confirmed out", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let echo = echo_of(&send(&mut spaces, now));
                let start = Instant::now();
                spaces.handle_input(now, Input::Text(black_box(&echo)));
                let confirmed =
                    matches!(next_event(&mut spaces), Some(SpacesEvent::Confirmed { .. }));
                spent += start.elapsed();
                assert!(confirmed, "the echo confirms the send");
            }
            spent
        })
    });

    // The send alone; each send's echo is fed untimed so nothing piles up in flight.
    let mut spaces = subscribed_session(now);
    g.bench_function("send_message -> frame out", |b| {
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let frame = send(&mut spaces, black_box(now));
                spent += start.elapsed();
                spaces.handle_input(now, Input::Text(&echo_of(&frame)));
                assert!(matches!(
                    next_event(&mut spaces),
                    Some(SpacesEvent::Confirmed { .. })
                ));
            }
            spent
        })
    });
    g.finish();
}

criterion_group!(benches, decode, encode, round_trip);

/// `SPACES_BENCH_PROFILE=<case>:<iterations>` runs one case that many times without criterion,
/// for an instruction count that does not depend on this machine's noise:
/// `valgrind --tool=callgrind <bench binary>` at N and 2N iterations, the difference over N is
/// the cost of one iteration (setup cancels out). Cases: `decode`, `raw_value`, `value`,
/// `typed`, `encode`, `foreign_in`, `send_echo` (send_message, frame out, echo in, Confirmed).
fn profile(spec: &str) {
    let (case, n) = spec
        .split_once(':')
        .expect("SPACES_BENCH_PROFILE=<case>:<iterations>");
    let n: u64 = n.parse().expect("a number of iterations");
    let now = Instant::now();
    let array = FRAME
        .strip_prefix(HEADER)
        .expect("the fixture is a /chat event");
    let foreign = FRAME.replace(LOOPBACK, "");
    let mut spaces = subscribed_session(now);
    let mut frame = String::with_capacity(1024);
    let payload = {
        let packet = socket::decode(&FRAME[1..]).expect("valid packet");
        packet.elements()[1].get().to_owned()
    };
    for _ in 0..n {
        match case {
            "decode" => {
                black_box(decode_frame(black_box(FRAME)));
            }
            "raw_value" => {
                black_box(serde_json::from_str::<&RawValue>(black_box(array)).is_ok());
            }
            "value" => {
                black_box(serde_json::from_str::<serde_json::Value>(black_box(array)).is_ok());
            }
            "typed" => {
                black_box(Incoming::decode("MESSAGE_SENT", Some(black_box(&payload))));
            }
            "encode" => {
                black_box(encode_send_message(&mut frame));
            }
            "foreign_in" => {
                black_box(foreign_in(&mut spaces, now, &foreign));
            }
            "send_echo" => {
                let echo = echo_of(&send(&mut spaces, now));
                spaces.handle_input(now, Input::Text(&echo));
                assert!(matches!(
                    next_event(&mut spaces),
                    Some(SpacesEvent::Confirmed { .. })
                ));
            }
            other => panic!("unknown case {other}"),
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var("SPACES_BENCH_PROFILE") {
        profile(&spec);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
