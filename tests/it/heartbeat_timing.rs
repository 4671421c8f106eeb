//! The client pings exactly as engine.io-client 3.1 does (docs/socketio-2.0.4-protocol.md §1.5).

use std::time::Duration;

use crate::support::client::ClientHarness;
use spaces_socket::client::{DisconnectReason, Event, Transmit};

/// A client that takes the server's short test heartbeats as announced (the default bounds
/// do too; these tests keep explicit bounds so they do not depend on the defaults).
fn fast() -> ClientHarness {
    ClientHarness::new("http://127.0.0.1:1/chat", |c| {
        c.ping_interval_bounds = Duration::from_millis(1)..=Duration::from_secs(300);
        c.ping_timeout_bounds = Duration::from_millis(1)..=Duration::from_secs(120);
    })
}

fn pings_sent(h: &mut ClientHarness) -> usize {
    h.take_texts().iter().filter(|t| t.as_str() == "2").count()
}

#[test]
fn first_ping_goes_out_exactly_one_interval_after_the_open_packet() {
    let mut h = fast();
    h.connect();
    h.open(300, 200);
    h.take();
    h.advance_to(299);
    assert_eq!(pings_sent(&mut h), 0, "no ping before the interval");
    h.advance_to(300);
    assert_eq!(pings_sent(&mut h), 1, "ping at exactly +300 ms");
    assert!(h.events.iter().any(|e| matches!(e, Event::Ping)));
}

#[test]
fn next_ping_is_one_interval_after_the_pong_not_after_the_ping() {
    let mut h = fast();
    h.connect();
    h.open(300, 200);
    h.advance_to(300);
    assert_eq!(pings_sent(&mut h), 1);
    h.advance_to(321);
    h.feed("3");
    let pong = h.events.iter().find_map(|e| match e {
        Event::Pong { latency } => Some(*latency),
        _ => None,
    });
    assert_eq!(pong.map(|d| d.as_millis()), Some(21));
    h.advance_to(620);
    assert_eq!(pings_sent(&mut h), 0, "not yet: pong at 321 + 300 = 621");
    h.advance_to(621);
    assert_eq!(pings_sent(&mut h), 1);
}

#[test]
fn missing_pong_times_out_exactly_ping_timeout_after_the_ping() {
    let mut h = fast();
    h.connect();
    h.open(300, 200);
    h.feed("40/chat,");
    h.take();
    h.advance_to(300);
    h.advance_to(499);
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, Event::Disconnected { .. }))
    );
    h.advance_to(500);
    let (transmits, events) = h.take();
    assert!(transmits.contains(&Transmit::Close));
    assert!(events.contains(&Event::Disconnected {
        nsp: "/chat".into(),
        reason: DisconnectReason::PingTimeout
    }));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ReconnectScheduled { attempt: 1, .. }))
    );
}

#[test]
fn any_packet_after_a_ping_pushes_the_deadline_to_interval_plus_timeout() {
    let mut h = fast();
    h.connect();
    h.open(300, 200);
    h.advance_to(300); // ping; deadline 500
    h.advance_to(450);
    h.feed("42/chat,[\"x\"]"); // deadline 450 + 500 = 950, and no new ping without a pong
    h.take();
    h.advance_to(949);
    let (t, e) = h.take();
    assert!(
        !t.iter().any(|t| t == &Transmit::Text("2".into())),
        "no ping without a pong"
    );
    assert!(!e.iter().any(|e| matches!(e, Event::Disconnected { .. })));
    h.advance_to(950);
    let (t, _) = h.take();
    assert!(t.contains(&Transmit::Close), "timed out at 950");
}

#[test]
fn no_liveness_deadline_before_the_first_packet_after_the_handshake() {
    let mut h = fast();
    h.connect();
    h.open(1000, 50);
    h.take();
    // Only the ping timer runs until something arrives.
    assert_eq!(
        h.client.poll_timeout(),
        Some(h.start + Duration::from_millis(1000))
    );
}

#[test]
fn the_server_heartbeat_is_clamped_to_the_configured_bounds() {
    let opened = |interval, timeout| {
        let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
        h.connect();
        h.open(interval, timeout);
        let (_, events) = h.take();
        events.into_iter().find_map(|e| match e {
            Event::Opened {
                ping_interval,
                ping_timeout,
            } => Some((ping_interval.as_millis(), ping_timeout.as_millis())),
            _ => None,
        })
    };
    assert_eq!(opened(0, 0), Some((1, 1)));
    assert_eq!(
        opened(2_147_483_647, 2_147_483_647),
        Some((300_000, 120_000))
    );
    assert_eq!(opened(25_000, 60_000), Some((25_000, 60_000)));
}

/// Issue 16 (1): with the default bounds, a server asking for a 300 ms heartbeat gets a ping
/// every 300 ms (pinging less often than asked gets the connection dropped by the server;
/// more often is harmless), and a 300 ms pong deadline.
#[test]
fn the_default_bounds_follow_a_short_server_heartbeat() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
    h.connect();
    h.open(300, 300);
    h.feed("40/chat,");
    let (_, events) = h.take();
    assert!(events.contains(&Event::Opened {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(300),
    }));
    for round in 0..10u64 {
        let ping_at = 300 + round * 310;
        h.advance_to(ping_at - 1);
        assert_eq!(pings_sent(&mut h), 0, "round {round}: not before {ping_at}");
        h.advance_to(ping_at);
        assert_eq!(pings_sent(&mut h), 1, "round {round}: ping at {ping_at}");
        h.advance_to(ping_at + 10);
        h.feed("3");
    }
    let (_, events) = h.take();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Disconnected { .. })),
        "{events:?}"
    );
}

/// Issue 16 (1): the default floor is there only against an announced 0 (which would make
/// the client ping in a tight loop): 1 ms. The ceiling bounds dead-link detection.
#[test]
fn the_default_floor_only_stops_an_announced_zero() {
    let opened = |interval, timeout| {
        let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
        h.connect();
        h.open(interval, timeout);
        let (_, events) = h.take();
        events.into_iter().find_map(|e| match e {
            Event::Opened {
                ping_interval,
                ping_timeout,
            } => Some((ping_interval.as_millis(), ping_timeout.as_millis())),
            _ => None,
        })
    };
    assert_eq!(opened(0, 0), Some((1, 1)));
    assert_eq!(opened(1, 1), Some((1, 1)));
    assert_eq!(opened(50, 20), Some((50, 20)));
    assert_eq!(opened(999, 999), Some((999, 999)));
}
