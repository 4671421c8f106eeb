//! The connect timer covers opening the websocket and waiting for the open packet.

use crate::support::client::ClientHarness;
use spaces_socket::client::{ConnectFailure, Event, Transmit};
use spaces_socket::spaces::Input;

#[test]
fn no_open_packet_within_the_timeout_fails_the_attempt_and_schedules_a_retry() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |c| {
        c.connect_timeout = Some(std::time::Duration::from_millis(500));
        c.rng_seed = Some(9);
    });
    h.connect();
    let (t, _) = h.take();
    assert!(matches!(t.as_slice(), [Transmit::Open(_)]));
    h.put(Input::Opened);
    h.advance_to(499);
    assert!(h.take().1.is_empty());
    h.advance_to(500);
    let (t, e) = h.take();
    assert_eq!(t, vec![Transmit::Close]);
    assert_eq!(
        e[0],
        Event::ConnectFailed {
            failure: ConnectFailure::Timeout
        }
    );
    assert!(matches!(e[1], Event::ReconnectScheduled { attempt: 1, .. }));
}

#[test]
fn a_refused_websocket_is_a_connect_failure_with_its_reason() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
    h.connect();
    h.take();
    h.put(Input::OpenFailed {
        reason: "connection refused",
    });
    let (_, e) = h.take();
    assert_eq!(
        e[0],
        Event::ConnectFailed {
            failure: ConnectFailure::Transport("connection refused".into())
        }
    );
}

#[test]
fn a_malformed_open_packet_fails_the_attempt() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |_| {});
    h.connect();
    h.take();
    h.feed(r#"0{"sid":5}"#);
    let (t, e) = h.take();
    assert!(t.contains(&Transmit::Close));
    assert!(matches!(
        e[0],
        Event::ConnectFailed {
            failure: ConnectFailure::BadHandshake(_)
        }
    ));
}

#[test]
fn disabled_timer_waits_without_a_deadline() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |c| c.connect_timeout = None);
    h.connect();
    assert_eq!(h.client.poll_timeout(), None);
}
