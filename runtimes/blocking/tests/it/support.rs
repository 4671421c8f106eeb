//! Helpers shared by the modules of this test binary: the Node peers, a client tuned for
//! tests, and one bounded wait on a [`Client`]'s events.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use spaces_socket::spaces::{MessageSent, SpacesConfig, SpacesEvent, TokenProvider};
use spaces_socket_blocking::{Client, Options, connect};

/// The Node socket.io peers (`tests/peer/`), and a raw websocket for probing them byte by byte.
pub use spaces_socket_peers::{self as peer, raw_ws};

/// The longest any test here waits for one decisive step.
pub const BOUND: Duration = Duration::from_secs(10);

/// A config for `url` (e.g. `peer.url("/chat")`) with a fixed seed and quick reconnects.
pub fn test_config(url: &str) -> SpacesConfig {
    let mut config = SpacesConfig::new(url).expect("valid test URL");
    config.client.rng_seed = Some(7);
    config.client.reconnection_delay = Duration::from_millis(100);
    config.client.reconnection_delay_max = Duration::from_millis(500);
    config
}

/// A client for `url` with [`test_config`].
pub fn client(url: &str, provider: impl TokenProvider + 'static) -> Client {
    connect(test_config(url), provider, Options::default()).expect("client builds")
}

/// The one bounded wait: reads events until one matches `pred` (returned first, with the
/// events read before it) or the session ends (`None`, with everything read). Panics naming
/// `who` and `what`, with everything seen, when `limit` passes first.
#[track_caller]
pub fn events_until(
    client: &mut Client,
    who: &str,
    what: &str,
    limit: Duration,
    mut pred: impl FnMut(&SpacesEvent) -> bool,
) -> (Option<SpacesEvent>, Vec<SpacesEvent>) {
    let deadline = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            panic!("{who}: no {what} within {limit:?}; saw {seen:#?}; client {client:?}");
        }
        match client.next_event(Some(left)) {
            Some(e) if pred(&e) => return (Some(e), seen),
            Some(e) => seen.push(e),
            None if client.is_closed() => return (None, seen),
            None => {}
        }
    }
}

/// The event matching `pred` and the events before it; panics if the session ends first.
#[track_caller]
pub fn wait_for(
    client: &mut Client,
    who: &str,
    what: &str,
    limit: Duration,
    pred: impl FnMut(&SpacesEvent) -> bool,
) -> (SpacesEvent, Vec<SpacesEvent>) {
    match events_until(client, who, what, limit, pred) {
        (Some(event), seen) => (event, seen),
        (None, seen) => panic!("{who}: closed before {what}; saw {seen:#?}"),
    }
}

/// Every remaining event until the session has ended, within `limit`.
#[track_caller]
pub fn drain_until_closed(client: &mut Client, who: &str, limit: Duration) -> Vec<SpacesEvent> {
    events_until(client, who, "the end of the session", limit, |_| false).1
}

/// Every event until `pred` matches (included, last) or the session ends, within [`BOUND`].
#[track_caller]
pub fn events_through(
    client: &mut Client,
    pred: impl FnMut(&SpacesEvent) -> bool,
) -> Vec<SpacesEvent> {
    let (found, mut seen) = events_until(client, "client", "decisive event", BOUND, pred);
    seen.extend(found);
    seen
}

/// The message's `content.bodyText`.
pub fn body(m: &MessageSent) -> Option<&str> {
    m.content.as_ref()?.body_text.as_deref()
}

/// The message's `sender._id`.
pub fn sender(m: &MessageSent) -> Option<&str> {
    m.sender.as_ref()?.id.as_deref()
}
