//! A hostile or broken client cannot exhaust the emulator: one test per bound of the listener
//! (`ListenerLimits`) and of the sans-IO server (spaces do not accumulate).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;
use spaces_socket_emulator::listener::EmulatorServer;
use spaces_socket_emulator::{DemoAuth, Emulator, EmulatorConfig, SpaceInfo, User};

use crate::support::{
    READ_LIMIT, WS_PATH, event, eventually, joined, member, next_close, next_text, open, send,
    start, start_with_limits,
};

/// How long a counter may take to reflect what a test just did.
const SETTLE: Duration = Duration::from_secs(5);

/// What a raw socket sees when the server ends the connection.
fn ended(result: std::io::Result<usize>) -> bool {
    match result {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

#[test]
fn a_trickling_handshake_is_dropped_at_the_handshake_deadline() {
    let deadline = Duration::from_millis(500);
    let server = start_with_limits(|_| {}, |l| l.handshake_timeout = deadline);
    let mut stream = TcpStream::connect(server.local_addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let request = format!(
        "GET {WS_PATH} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.local_addr()
    );
    // One byte every 50 ms: the whole request would take about 9 s.
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let mut dropped_after = None;
    for byte in request.as_bytes() {
        if stream.write_all(&[*byte]).is_err() || ended(stream.read(&mut buf)) {
            dropped_after = Some(started.elapsed());
            break;
        }
    }
    let after = dropped_after.expect("the server never dropped the trickling client");
    assert!(
        after >= deadline - Duration::from_millis(100) && after < deadline * 4,
        "dropped after {after:?}, deadline {deadline:?}"
    );
    let stats = server.listener_stats();
    assert_eq!(stats.handshake_timeouts, 1, "{stats:?}");
    assert!(eventually(SETTLE, || server.listener_stats().sockets == 0));
    assert_eq!(
        server.stats().connections,
        0,
        "the upgrade never reached it"
    );
}

#[test]
fn connections_beyond_the_limit_are_refused_and_stop_does_not_wait_for_them() {
    let server = start_with_limits(|_| {}, |l| l.max_connections = 3);
    // Three sockets that never send their upgrade request hold every slot.
    let mut idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(server.local_addr()).unwrap())
        .collect();
    assert!(
        eventually(SETTLE, || server.listener_stats().sockets == 3),
        "{:?}",
        server.listener_stats()
    );

    // A fourth is answered 503 and closed at once (well before any handshake timeout).
    let mut extra = TcpStream::connect(server.local_addr()).unwrap();
    extra.set_read_timeout(Some(READ_LIMIT)).unwrap();
    let asked = Instant::now();
    let mut answer = Vec::new();
    match extra.read_to_end(&mut answer) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected the refused socket to be closed, got {e}"),
    }
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "{:?}",
        asked.elapsed()
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 503") && answer.ends_with("Too many connections"),
        "{answer:?}"
    );
    let stats = server.listener_stats();
    assert_eq!((stats.refused, stats.accepted, stats.sockets), (1, 3, 3));

    // A slot freed is a slot usable again.
    drop(idle.pop());
    assert!(eventually(SETTLE, || server.listener_stats().sockets == 2));
    let mut ws = joined(&server, "u1");
    send(&mut ws, "2");
    assert_eq!(next_text(&mut ws), "3");

    // Upgrades that never complete do not hold up stop().
    let stopping = Instant::now();
    server.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "{:?}",
        stopping.elapsed()
    );
    drop(idle);
}

#[test]
fn a_silent_websocket_is_closed_at_the_idle_deadline() {
    let idle = Duration::from_millis(300);
    // The emulator's own silence timer (85 s by default) would come much later.
    let server = start_with_limits(|_| {}, |l| l.idle_timeout = idle);
    let mut ws = open(&server, WS_PATH).unwrap();
    let opened = Instant::now();
    next_text(&mut ws);
    assert_eq!(next_text(&mut ws), "40");
    assert_eq!(next_close(&mut ws), Some(1001), "going away");
    let after = opened.elapsed();
    assert!(
        after >= idle - Duration::from_millis(50) && after < idle * 10,
        "{after:?}"
    );
    assert_eq!(server.listener_stats().idle_closes, 1);
    assert!(eventually(SETTLE, || server.stats().connections == 0));
}

#[test]
fn frames_keep_a_websocket_past_the_idle_deadline() {
    let idle = Duration::from_millis(300);
    let server = start_with_limits(|_| {}, |l| l.idle_timeout = idle);
    let mut ws = joined(&server, "u1");
    for _ in 0..6 {
        std::thread::sleep(idle / 2);
        send(&mut ws, "2");
        assert_eq!(next_text(&mut ws), "3");
    }
    assert_eq!(server.listener_stats().idle_closes, 0);
    assert_eq!(server.stats().connections, 1);
}

#[test]
fn an_oversized_message_closes_the_connection_with_1009() {
    let server = start_with_limits(|_| {}, |l| l.max_message_size = 64 * 1024);
    let mut a = member(&server, "u1", "s1");
    let mut b = member(&server, "u2", "s1");
    let (name, _) = event(&next_text(&mut a));
    assert_eq!(name, "PRESENCE_EVENT_RESPONSE", "request.parties for u2");

    // Just under the limit is fine.
    let ok = format!("2{}", " ".repeat(60 * 1024));
    send(&mut b, &ok);
    assert_eq!(next_text(&mut b), "3");

    send(&mut b, &format!("2{}", " ".repeat(64 * 1024)));
    // The listener closes with 1009 (the unread payload may turn it into a reset).
    match b.read() {
        Ok(tungstenite::Message::Close(frame)) => {
            assert_eq!(frame.map(|f| u16::from(f.code)), Some(1009));
        }
        Ok(other) => panic!("expected a close, got {other:?}"),
        Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("expected a close, got {e}"),
    }
    assert!(eventually(SETTLE, || server
        .listener_stats()
        .oversized_messages
        == 1));
    // The emulator forgot it: its room hears party.leaves.
    let (name, leaves) = event(&next_text(&mut a));
    assert_eq!(name, "PRESENCE_EVENT_RESPONSE");
    assert_eq!(leaves["category"], "app.event.presence.party.leaves");
    assert_eq!(server.stats().connections, 1);
}

/// Says 64 KB messages in `space` until `done` holds (checked every 16 messages), at most
/// 128 MB in all; returns whether it held.
fn flood(server: &EmulatorServer, space: &str, mut done: impl FnMut() -> bool) -> bool {
    let bot = User::named("bot", "Bot");
    let text = "x".repeat(64 * 1024);
    for _ in 0..128 {
        for _ in 0..16 {
            server.say(space, &bot, &text);
        }
        if done() {
            return true;
        }
    }
    eventually(SETTLE, done)
}

#[test]
fn a_client_that_does_not_read_is_dropped_when_its_queue_is_full() {
    let server = start_with_limits(
        |_| {},
        |l| {
            l.max_queued_bytes = 256 * 1024;
            // Long enough that only the queue bound can end it here.
            l.write_timeout = Duration::from_secs(60);
        },
    );
    let victim = member(&server, "victim", "s1");
    // The victim stops reading; the kernel's buffers fill, then its queue.
    assert!(
        flood(&server, "s1", || server.listener_stats().overflow_drops
            == 1),
        "{:?}",
        server.listener_stats()
    );
    assert!(eventually(SETTLE, || {
        let stats = server.stats();
        stats.connections == 0 && stats.rooms == 0
    }));
    assert!(eventually(SETTLE, || server.listener_stats().sockets == 0));
    drop(victim);
}

#[test]
fn a_write_stalled_past_the_write_timeout_drops_the_client() {
    let server = start_with_limits(
        |_| {},
        |l| {
            l.max_queued_bytes = usize::MAX;
            l.write_timeout = Duration::from_millis(300);
        },
    );
    let victim = member(&server, "victim", "s1");
    assert!(
        flood(&server, "s1", || server.listener_stats().write_timeouts
            == 1),
        "{:?}",
        server.listener_stats()
    );
    assert!(eventually(SETTLE, || server.stats().connections == 0));
    drop(victim);
}

#[test]
fn spaces_joined_and_left_do_not_accumulate_in_the_sans_io_server() {
    let mut config = EmulatorConfig::default();
    config
        .spaces
        .insert("lobby".to_owned(), SpaceInfo::new("Lobby"));
    let mut emu = Emulator::new(config, Box::new(DemoAuth));
    let now = Instant::now();
    let subscribe = |id: &str| {
        format!(r#"42/chat,["SUBSCRIBE_CHANNEL",{{"channel":{{"_id":"{id}","type":"topic"}}}}]"#)
    };
    let unsubscribe = |id: &str| {
        format!(r#"42/chat,["UNSUBSCRIBE_CHANNEL",{{"channel":{{"_id":"{id}","type":"topic"}}}}]"#)
    };
    let conn = emu
        .handle_connect(now, "/socket.io/?token=u1&EIO=3&transport=websocket")
        .unwrap();
    emu.handle_text(now, conn, "40/chat,");
    for i in 0..1000 {
        let id = format!("space-{i}");
        emu.handle_text(now, conn, &subscribe(&id));
        if i % 2 == 0 {
            emu.handle_text(now, conn, &unsubscribe(&id));
        }
        emu.say(
            now,
            &format!("nobody-{i}"),
            &User::named("bot", "Bot"),
            "hello?",
        );
        while emu.poll_output().is_some() {}
        while emu.poll_event().is_some() {}
    }
    let stats = emu.stats();
    assert_eq!((stats.rooms, stats.spaces), (500, 501), "{stats:?}");
    // Closing leaves every room: only the configured space remains.
    emu.handle_closed(now, conn);
    let stats = emu.stats();
    assert_eq!(
        (stats.rooms, stats.spaces, stats.subscriptions),
        (0, 1, 0),
        "{stats:?}"
    );
    assert_eq!(emu.config().spaces.len(), 1);
}

#[test]
fn spaces_joined_and_left_through_the_listener_are_forgotten() {
    let server = start(|_| {});
    let mut ws = joined(&server, "u1");
    for i in 0..200 {
        let id = format!("space-{i}");
        let subscribe = json!(["SUBSCRIBE_CHANNEL", {"channel": {"_id": id, "type": "topic"}}]);
        send(&mut ws, &format!("42/chat,{subscribe}"));
        assert_eq!(event(&next_text(&mut ws)).0, "CHANNEL_SUBSCRIBED");
        send(
            &mut ws,
            &format!(r#"42/chat,["UNSUBSCRIBE_CHANNEL",{{"channel":{{"_id":"{id}"}}}}]"#),
        );
        assert_eq!(event(&next_text(&mut ws)).0, "CHANNEL_UNSUBSCRIBED");
    }
    let stats = server.stats();
    assert_eq!(
        (
            stats.rooms,
            stats.spaces,
            stats.subscriptions,
            stats.members
        ),
        (0, 0, 0, 1),
        "{stats:?}"
    );
}
