//! Reconnection follows backo2's schedule (1000/5000/0.5 by default) with seeded jitter.

use std::time::Duration;

use crate::support::client::ClientHarness;
use spaces_socket::client::{Config, Event};
use spaces_socket::spaces::Input;

fn scheduled(events: &[Event]) -> Vec<(u32, Duration)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::ReconnectScheduled { attempt, delay } => Some((*attempt, *delay)),
            _ => None,
        })
        .collect()
}

/// A client whose first attempt is under way (its `Transmit::Open` taken).
fn connecting(tweak: impl FnOnce(&mut Config)) -> ClientHarness {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", tweak);
    h.connect();
    h.transmits.clear();
    h
}

/// Refuses the websocket and runs timers until the retry opens (within `limit_ms` of the
/// start), returning its time.
fn refuse_and_wait_for_retry(h: &mut ClientHarness, limit_ms: u64) -> Option<u64> {
    h.put(Input::OpenFailed { reason: "refused" });
    h.drain();
    h.run_until_open(limit_ms)
}

/// Fails every attempt with a refused websocket, `n` times, returning the delays.
fn refuse_n(seed: u64, n: usize) -> Vec<(u32, Duration)> {
    let mut h = connecting(|c| c.rng_seed = Some(seed));
    for _ in 0..n {
        refuse_and_wait_for_retry(&mut h, 10_000_000).expect("retry scheduled");
    }
    scheduled(&h.events)
}

#[test]
fn delays_grow_within_backo2_bounds_and_saturate_at_the_maximum() {
    let bounds = [
        (500, 1500),
        (1000, 3000),
        (2000, 5000),
        (4000, 5000),
        (5000, 5000),
        (5000, 5000),
    ];
    for seed in 0..200 {
        let delays = refuse_n(seed, bounds.len());
        assert_eq!(delays.len(), bounds.len());
        for (i, ((attempt, d), (lo, hi))) in delays.iter().zip(bounds).enumerate() {
            assert_eq!(*attempt as usize, i + 1);
            let ms = d.as_millis() as u64;
            assert!(
                ms >= lo && ms <= hi,
                "seed {seed} attempt {attempt}: {ms} not in {lo}..={hi}"
            );
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_delays_and_another_seed_differs() {
    assert_eq!(refuse_n(42, 4), refuse_n(42, 4));
    let differs = (0..20).any(|s| refuse_n(s, 3) != refuse_n(s + 100, 3));
    assert!(differs);
}

#[test]
fn the_retry_opens_exactly_when_the_delay_ends() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |c| c.rng_seed = Some(5));
    h.connect();
    h.take();
    h.put(Input::OpenFailed { reason: "refused" });
    h.drain();
    let (_, delay) = scheduled(&h.events)[0];
    let at = h.run_until_open(100_000).unwrap();
    assert_eq!(at, delay.as_millis() as u64);
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::ReconnectAttempt { attempt: 1 }))
    );
}

#[test]
fn success_resets_the_schedule_and_reports_the_attempt() {
    let mut h = connecting(|c| c.rng_seed = Some(1));
    refuse_and_wait_for_retry(&mut h, 100_000).unwrap();
    refuse_and_wait_for_retry(&mut h, 100_000).unwrap();
    h.open(25_000, 60_000);
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::Reconnected { attempt: 2 }))
    );
    // Useful: the namespace connects and the first ping is answered.
    h.feed("40/chat,");
    h.advance(25_000);
    h.feed("3");
    h.events.clear();
    // The connection drops: the first retry is again about one second away.
    h.put(Input::Closed { error: None });
    h.drain();
    let d = scheduled(&h.events);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].0, 1);
    assert!(d[0].1 >= Duration::from_millis(500) && d[0].1 <= Duration::from_millis(1500));
}

#[test]
fn a_connection_that_dies_before_being_useful_keeps_counting_attempts() {
    let mut h = connecting(|c| c.rng_seed = Some(1));
    refuse_and_wait_for_retry(&mut h, 100_000).unwrap();
    // Open packet, then closed at once: no reset.
    h.open(25_000, 60_000);
    h.put(Input::Closed { error: None });
    h.drain();
    h.run_until_open(100_000).unwrap();
    // Namespace connected, but the first ping is never answered: still no reset.
    h.open(25_000, 60_000);
    h.feed("40/chat,");
    h.advance(25_000 + 60_000);
    let attempts: Vec<u32> = scheduled(&h.events).iter().map(|(a, _)| *a).collect();
    assert_eq!(attempts, vec![1, 2, 3]);
}

#[test]
fn exhausted_attempts_end_in_reconnect_failed_and_closed() {
    let mut h = connecting(|c| c.reconnection_attempts = Some(2));
    for _ in 0..3 {
        let _ = refuse_and_wait_for_retry(&mut h, 100_000);
    }
    assert_eq!(
        scheduled(&h.events).len(),
        2,
        "initial + 2 attempts = 3 connections"
    );
    let tail: Vec<&Event> = h.events.iter().rev().take(2).collect();
    assert_eq!(tail, vec![&Event::Closed, &Event::ReconnectFailed]);
    assert!(h.client.is_closed());
    assert_eq!(h.client.poll_timeout(), None);
}

#[test]
fn reconnection_disabled_closes_after_the_first_failure() {
    let mut h = ClientHarness::new("http://127.0.0.1:1/chat", |c| c.reconnection = false);
    h.connect();
    h.put(Input::OpenFailed { reason: "refused" });
    h.drain();
    assert!(scheduled(&h.events).is_empty());
    assert_eq!(h.events.last(), Some(&Event::Closed));
}
