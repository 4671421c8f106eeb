//! A thread waiting in `next_event` is woken from another thread: a `Waker` ends the wait at
//! once (the session goes on), a `Shutdown` closes the session there and the last events
//! follow. Against the Node socket.io 2.0.4 server.

use std::time::{Duration, Instant};

use spaces_socket::spaces::{SpacesEvent, Token};

use crate::support::peer::{self, SIO_2_0_4};
use crate::support::{BOUND, body, client, drain_until_closed, wait_for};

#[test]
fn a_waker_ends_a_long_wait_at_once_and_the_session_goes_on() {
    let mut peer = peer::spaces_server(SIO_2_0_4, 25_000, 60_000);
    let mut alice = client(&peer.url("/chat"), Token::jwt("alice"));
    alice.subscribe("s1", None).unwrap();
    wait_for(&mut alice, "alice", "Subscribed", BOUND, |e| {
        matches!(e, SpacesEvent::Subscribed { .. })
    });
    let waker = alice.waker();
    let ringer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        waker.wake();
    });
    let start = Instant::now();
    let got = alice.next_event(Some(Duration::from_secs(30)));
    let took = start.elapsed();
    ringer.join().unwrap();
    assert!(got.is_none(), "{got:?}");
    assert!(
        took >= Duration::from_millis(150),
        "woke before the ring: {took:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "the ring did not end the wait: {took:?}"
    );
    assert!(!alice.is_closed());

    // A ring before the wait is not lost, and the session still receives afterwards.
    alice.waker().wake();
    assert!(alice.next_event(Some(Duration::from_secs(30))).is_none());
    peer.command("say s1 still here");
    let (event, _) = wait_for(&mut alice, "alice", "the message", BOUND, |e| {
        matches!(e, SpacesEvent::Message(_))
    });
    let SpacesEvent::Message(m) = event else {
        unreachable!()
    };
    assert_eq!(body(&m), Some("still here"));
}

#[test]
fn a_shutdown_from_another_thread_closes_the_session_gracefully() {
    let mut peer = peer::spaces_server_with(SIO_2_0_4, 25_000, 60_000, &["--log-frames"]);
    let mut alice = client(&peer.url("/chat"), Token::jwt("alice"));
    alice.subscribe("s1", None).unwrap();
    wait_for(&mut alice, "alice", "Subscribed", BOUND, |e| {
        matches!(e, SpacesEvent::Subscribed { .. })
    });
    let stop = alice.shutdown_handle();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        stop.shutdown();
    });
    let start = Instant::now();
    let rest = drain_until_closed(&mut alice, "alice", BOUND);
    stopper.join().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(
        matches!(rest.last(), Some(SpacesEvent::Closed)),
        "{rest:#?}"
    );
    assert!(alice.is_closed());
    assert!(
        peer.wait_for_frame("in", |d| d.starts_with("41/chat"), BOUND)
            .is_some(),
        "the client left /chat: {:#?}",
        peer.frames()
    );
}
