//! Codec hot path on a realistic Spaces `MESSAGE_SENT` frame (~580 bytes), next to the floor:
//! one `serde_json` validation pass over the same JSON into a `&RawValue`.
//!
//! Run: `cargo bench --bench codec -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use serde_json::value::RawValue;
use spaces_socket::engine;
use spaces_socket::socket::{self, Args, PacketKind};

/// A MESSAGE_SENT payload with the fields the Spaces server sends (docs/spaces-socket-api.md §3.4).
fn message_sent() -> String {
    let payload = json!({
        "_id": "5f2a0c3e9b1d4a0017c6e2f1",
        "category": "chat",
        "topicId": "5e8f1b2c7a4d3e0016b9a8c7",
        "topicTitle": "Release plan",
        "topicType": "group",
        "sender": {
            "_id": "5d1e2f3a4b5c6d0017e8f9a0",
            "username": "alice@example.com",
            "displayname": "Alice Martin",
            "picture_url": "https://cdn.example.com/u/5d1e2f3a.jpg",
            "type": "user"
        },
        "content": {
            "cid": "5d1e2f3a4b5c6d0017e8f9a0",
            "bodyText": "<p>Build 2.4.1 is &quot;green&quot; on staging \u{2014} shipping at 16:00</p>",
            "description": "",
            "data": []
        },
        "mentions": [],
        "created": "2024-03-14T15:09:26.535Z",
        "version": "1.1",
        "loopbackMetadata": "m-7f3a"
    });
    serde_json::to_string(&json!(["MESSAGE_SENT", payload])).expect("serializable")
}

fn codec(c: &mut Criterion) {
    let array = message_sent();
    let socket_text = socket::encode(PacketKind::Event, "/chat", None, None, 0, Some(&array));
    let frame = engine::encode_text(engine::PacketKind::Message, &socket_text);
    println!(
        "MESSAGE_SENT frame: {} bytes (JSON array {} bytes)",
        frame.len(),
        array.len()
    );

    let mut decode = c.benchmark_group("decode");
    decode.throughput(Throughput::Bytes(frame.len() as u64));
    decode.bench_function("floor: serde_json &RawValue", |b| {
        b.iter(|| serde_json::from_str::<&RawValue>(black_box(&array)).map(|r| r.get().len()))
    });
    decode.bench_function("socket::decode", |b| {
        b.iter(|| socket::decode(black_box(&socket_text)).map(|p| p.elements().len()))
    });
    decode.bench_function("engine+socket decode + Args::from_elements", |b| {
        b.iter(|| {
            let Ok(engine::Packet::Message(text)) = engine::decode_text(black_box(&frame)) else {
                unreachable!("the frame is a message")
            };
            let packet = socket::decode(text).expect("valid packet");
            let name = packet.event_name().map(|n| n.len());
            let args = Args::from_elements(packet.elements().get(1..).unwrap_or_default());
            (name, args)
        })
    });
    let decoded = socket::decode(&socket_text).expect("valid packet");
    let elements = decoded.elements().get(1..).unwrap_or_default();
    decode.bench_function("Args::from_elements alone", |b| {
        b.iter(|| Args::from_elements(black_box(elements)))
    });
    decode.finish();

    let mut encode = c.benchmark_group("encode");
    encode.throughput(Throughput::Bytes(frame.len() as u64));
    encode.bench_function("socket::encode (new String)", |b| {
        b.iter(|| {
            socket::encode(
                PacketKind::Event,
                black_box("/chat"),
                None,
                None,
                0,
                Some(black_box(&array)),
            )
        })
    });
    let mut buf = String::with_capacity(1024);
    encode.bench_function("'4' + socket::encode_into (reused buffer)", |b| {
        b.iter(|| {
            buf.clear();
            buf.push('4');
            socket::encode_into(
                &mut buf,
                PacketKind::Event,
                black_box("/chat"),
                None,
                Some(black_box(7)),
                0,
                Some(black_box(&array)),
            );
            buf.len()
        })
    });
    encode.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
