//! Helpers for the blocking-runtime tests: bounded waits on a `SpacesClient`'s events.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use spaces_socket::spaces::{MessageSent, SpacesConfig, SpacesEvent, TokenProvider};
use spaces_socket_blocking::SpacesClient;

/// A client for `url` (e.g. `peer.url("/chat")`) with a fixed seed and quick reconnects.
pub fn client(url: &str, provider: impl TokenProvider + 'static) -> SpacesClient {
    let mut config = SpacesConfig::new(url).expect("valid test URL");
    config.client.rng_seed = 7;
    config.client.reconnection_delay = Duration::from_millis(100);
    config.client.reconnection_delay_max = Duration::from_millis(500);
    SpacesClient::new(config, provider).expect("client builds")
}

/// Reads events until one matches `pred`, for at most `timeout` overall; returns it and the
/// events read before it. Panics with `who`, `what` and everything seen otherwise.
#[track_caller]
pub fn wait_for(
    client: &mut SpacesClient,
    who: &str,
    what: &str,
    timeout: Duration,
    mut pred: impl FnMut(&SpacesEvent) -> bool,
) -> (SpacesEvent, Vec<SpacesEvent>) {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!("{who}: no {what} within {timeout:?}; saw {seen:#?}; client {client:?}");
        }
        match client.next_event(Some(left)) {
            Some(e) if pred(&e) => return (e, seen),
            Some(e) => seen.push(e),
            None if client.is_closed() => {
                panic!("{who}: closed before {what}; saw {seen:#?}")
            }
            None => {}
        }
    }
}

/// Reads every remaining event until the client reports closed, for at most `timeout`.
#[track_caller]
pub fn drain_until_closed(
    client: &mut SpacesClient,
    who: &str,
    timeout: Duration,
) -> Vec<SpacesEvent> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!("{who}: not closed within {timeout:?}; saw {seen:#?}");
        }
        match client.next_event(Some(left)) {
            Some(e) => seen.push(e),
            None if client.is_closed() => return seen,
            None => {}
        }
    }
}

/// The message's `content.bodyText`.
pub fn body(m: &MessageSent) -> Option<&str> {
    m.content.as_ref()?.body_text.as_deref()
}

/// The message's `sender._id`.
pub fn sender(m: &MessageSent) -> Option<&str> {
    m.sender.as_ref()?.id.as_deref()
}
